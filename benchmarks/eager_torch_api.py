"""Per-call overhead of PyTorch-style code on nbgrad.eager, next to PyTorch itself.

    python benchmarks/eager_torch_api.py

The same code runs with ``lib = nbgrad.eager`` and ``lib = torch`` (one thread)
on tiny arrays, so that the time is the framework's per-call cost, not
arithmetic: a ``Linear`` forward, a forward-and-backward of a cross-entropy,
and a whole training step (MLP forward, loss, backward, ``SGD.step``,
``zero_grad``). Prints microseconds per call (best of 5) and the ratio
nbgrad / torch.
"""

import timeit

import numpy as np


def cases(lib):
    nn = lib.nn
    lib.manual_seed(0)
    x = lib.tensor(np.ones((2, 4), np.float32))
    y = lib.tensor(np.array([0, 2]))
    lin = nn.Linear(4, 3)
    z = lib.tensor(np.zeros((8, 3), np.float32), requires_grad=True)
    labels = lib.tensor(np.arange(8) % 3)
    mlp = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    loss = nn.CrossEntropyLoss()
    opt = lib.optim.SGD(mlp.parameters(), lr=0.1)

    def linear_forward():
        with lib.no_grad():
            lin(x)

    def cross_entropy_backward():
        nn.functional.cross_entropy(z, labels).backward()

    def training_step():
        opt.zero_grad()
        loss(mlp(x), y).backward()
        opt.step()

    return {"Linear forward (no_grad)": linear_forward,
            "cross_entropy forward+backward": cross_entropy_backward,
            "MLP training step (2 Linear, SGD)": training_step}


def best_us(fn, number=2000):
    fn()
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main():
    import torch

    import nbgrad.eager

    torch.set_num_threads(1)
    ours, theirs = cases(nbgrad.eager), cases(torch)
    print(f"{'case':36s} {'nbgrad us':>10s} {'torch us':>10s} {'ratio':>6s}")
    for name in ours:
        a, b = best_us(ours[name]), best_us(theirs[name])
        print(f"{name:36s} {a:10.1f} {b:10.1f} {a / b:6.2f}")


if __name__ == "__main__":
    main()
