"""W18: notebook cell latency: build, compile and first call of a course cell, fresh process.

What a notebook user waits for when a cell runs for the first time: from the first line
that builds the expression to the first result, including ``nbgrad.function`` (or
``jax.jit``'s trace and compile; PyTorch eager just runs). Each sample runs in a new
Python process, so nothing is cached from an earlier sample; the interpreter's start and
``import <library>`` are not part of the latency and are reported on their own. Modules are
imported from cached bytecode, as from an installed package (the cache is kept in the temporary
directory, and one unreported sample per library fills it).

Cells (float64, data fixed by seed, the same arithmetic in every library):

- ``mlp``: an MLP's loss and its gradient: 64x20 inputs, one tanh hidden layer of 32 units,
  a softmax over 10 classes, mean cross-entropy; returns the loss and the four gradients;
- ``logreg_scan``: logistic regression trained by a 10-step ``scan`` of gradient steps
  (200x20, step 0.1); returns the trained weights and bias.

Targets (issue 20): mlp <= 50 ms, logreg_scan <= 100 ms for nbgrad.
``NBGRAD_LATENCY_SAMPLES=N`` sets the number of processes per cell (default 5).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

TITLE = "cell latency: build + compile + first call of a course cell, one fresh process per sample"
IMPLS = ["nbgrad", "torch", "jax"]
CELLS = ("mlp", "logreg_scan")
SAMPLES = int(os.environ.get("NBGRAD_LATENCY_SAMPLES", "5"))
TARGETS = {"mlp": 0.050, "logreg_scan": 0.100}
N, FEATS, HIDDEN, CLASSES = 64, 20, 32, 10
LR_N, LR_STEPS, LR_RATE = 200, 10, 0.1


def _mlp_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, FEATS))
    y = rng.integers(0, CLASSES, N)
    W1 = rng.standard_normal((FEATS, HIDDEN)) * 0.2
    b1 = np.zeros(HIDDEN)
    W2 = rng.standard_normal((HIDDEN, CLASSES)) * 0.2
    b2 = np.zeros(CLASSES)
    return X, y, W1, b1, W2, b2


def _lr_data():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((LR_N, FEATS))
    y = (rng.random(LR_N) < 0.5).astype(np.float64)
    return X, y, np.zeros(FEATS), 0.0


_DATA = {"mlp": _mlp_data, "logreg_scan": _lr_data}


# --- one cell per library, given its data: each returns a list of arrays -----------------
def nbgrad_mlp(data):
    import nbgrad
    import nbgrad.tensor as T

    X, y, W1, b1, W2, b2 = data
    x, t = T.dmatrix("x"), T.lvector("t")
    w1, c1, w2, c2 = T.dmatrix("W1"), T.dvector("b1"), T.dmatrix("W2"), T.dvector("b2")
    h = T.tanh(T.dot(x, w1) + c1)
    p = T.nnet.softmax(T.dot(h, w2) + c2)
    loss = -T.mean(T.log(p)[T.arange(t.shape[0]), t])
    f = nbgrad.function([x, t, w1, c1, w2, c2], [loss] + T.grad(loss, [w1, c1, w2, c2]))
    return f(X, y, W1, b1, W2, b2)


def nbgrad_logreg_scan(data):
    import nbgrad
    import nbgrad.tensor as T

    X, y, w0, b0 = data
    x, t = T.dmatrix("x"), T.dvector("t")
    w, b = T.dvector("w"), T.dscalar("b")

    def step(w, b, x, t):
        p = T.nnet.sigmoid(T.dot(x, w) + b)
        cost = T.mean(T.nnet.binary_crossentropy(p, t))
        gw, gb = T.grad(cost, [w, b])
        return w - LR_RATE * gw, b - LR_RATE * gb

    (ws, bs), _ = nbgrad.scan(step, outputs_info=[w, b], non_sequences=[x, t], n_steps=LR_STEPS)
    f = nbgrad.function([w, b, x, t], [ws[-1], bs[-1]])
    return f(w0, b0, X, y)


def torch_mlp(data):
    import torch

    X, y, *params = data
    W1, b1, W2, b2 = (torch.tensor(a, requires_grad=True) for a in params)
    h = torch.tanh(torch.tensor(X) @ W1 + b1)
    loss = torch.nn.functional.cross_entropy(h @ W2 + b2, torch.tensor(y))
    loss.backward()
    return [loss.detach().numpy()] + [a.grad.numpy() for a in (W1, b1, W2, b2)]


def torch_logreg_scan(data):
    import torch

    X, y, w0, b0 = data
    X, y = torch.tensor(X), torch.tensor(y)
    w, b = torch.tensor(w0), torch.tensor(b0)
    for _ in range(LR_STEPS):
        w.requires_grad_(True)
        b.requires_grad_(True)
        p = torch.sigmoid(X @ w + b)
        cost = torch.nn.functional.binary_cross_entropy(p, y)
        gw, gb = torch.autograd.grad(cost, [w, b])
        w, b = (w - LR_RATE * gw).detach(), (b - LR_RATE * gb).detach()
    return [w.numpy(), b.numpy()]


def jax_mlp(data):
    import jax
    import jax.numpy as jnp

    X, y, *params = data

    def loss(params, x, t):
        W1, b1, W2, b2 = params
        h = jnp.tanh(x @ W1 + b1)
        logp = jax.nn.log_softmax(h @ W2 + b2)
        return -jnp.mean(logp[jnp.arange(t.shape[0]), t])

    value, grads = jax.jit(jax.value_and_grad(loss))(params, X, y)
    return [np.asarray(value)] + [np.asarray(g) for g in grads]


def jax_logreg_scan(data):
    import jax
    import jax.numpy as jnp

    X, y, w0, b0 = data

    def cost(wb, x, t):
        w, b = wb
        p = jax.nn.sigmoid(x @ w + b)
        return jnp.mean(-(t * jnp.log(p) + (1 - t) * jnp.log(1 - p)))

    def train(w, b, x, t):
        def step(wb, _):
            gw, gb = jax.grad(cost)(wb, x, t)
            return (wb[0] - LR_RATE * gw, wb[1] - LR_RATE * gb), None

        (w, b), _ = jax.lax.scan(step, (w, b), None, length=LR_STEPS)
        return w, b

    w, b = jax.jit(train)(w0, jnp.float64(b0), X, y)
    return [np.asarray(w), np.asarray(b)]


_IMPORTS = {"nbgrad": "import nbgrad, nbgrad.tensor", "torch": "import torch",
            "jax": "import jax; jax.config.update('jax_enable_x64', True); import jax.numpy"}


def sample(impl, cell):
    """In this (fresh) process: seconds to import ``impl``, seconds for the cell (wall clock
    and CPU time of the process), the cell's result."""
    import importlib.util
    import time

    if impl != "nbgrad" and importlib.util.find_spec(impl) is None:
        return None
    t0 = time.perf_counter()
    exec(_IMPORTS[impl], {})
    t1 = time.perf_counter()
    data = _DATA[cell]()  # not timed: the data is there before the cell runs
    t2, c2 = time.perf_counter(), time.process_time()
    result = globals()[f"{impl}_{cell}"](data)
    t3, c3 = time.perf_counter(), time.process_time()
    return t1 - t0, t3 - t2, c3 - c2, [np.asarray(r, dtype=np.float64).tolist() for r in result]


def _installed_like_env():
    """The environment of a sample: Python's bytecode cache on, kept outside the source tree.

    An installed package imports from cached bytecode; with ``PYTHONDONTWRITEBYTECODE`` set,
    every fresh process would compile nbgrad's (and its peers') modules again.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "nbgrad-w18-pycache")
    return env


def sample_fresh(impl, cell):
    """``sample`` in a new Python process; None where ``impl`` is not installed."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    code = ("import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; "
            "import w18_cell_latency as w; print(json.dumps(w.sample(sys.argv[3], sys.argv[4])))")
    out = subprocess.run([sys.executable, "-c", code, here, root, impl, cell], capture_output=True,
                         text=True, env=_installed_like_env())
    if out.returncode != 0:
        raise RuntimeError(f"{impl} {cell} failed:\n{out.stderr[-2000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    return None if res is None else (res[0], res[1], res[2], [np.asarray(r) for r in res[3]])


def _agree(a, b):
    return len(a) == len(b) and all(np.allclose(x, y, rtol=1e-6, atol=1e-9) for x, y in zip(a, b))


def report(samples=SAMPLES):
    """Print the median and best latency of each cell and library, and import times."""
    print(f"  {'cell':<13}{'library':<9}{'median':>10}{'best':>10}{'cpu':>10}{'import':>10}  check")
    for cell in CELLS:
        ref = None
        for impl in IMPLS:
            runs = []
            if sample_fresh(impl, cell) is None:  # also fills the bytecode cache; not counted
                print(f"  {cell:<13}{impl:<9}{'-':>10}{'-':>10}{'-':>10}{'-':>10}  not installed")
                continue
            for _ in range(samples):
                res = sample_fresh(impl, cell)
                if res is None:
                    break
                runs.append(res)
            lat = sorted(r[1] for r in runs)
            imp = sorted(r[0] for r in runs)
            cpu = sorted(r[2] for r in runs)
            result = runs[0][3]
            if ref is None:
                ref, note = result, "reference"
            else:
                note = "agrees with nbgrad" if _agree(result, ref) else "DISAGREES with nbgrad"
            target = f" (target {TARGETS[cell] * 1e3:.0f} ms)" if impl == "nbgrad" else ""
            print(f"  {cell:<13}{impl:<9}{np.median(lat) * 1e3:8.1f}ms{lat[0] * 1e3:8.1f}ms"
                  f"{np.median(cpu) * 1e3:8.1f}ms{np.median(imp) * 1e3:8.0f}ms  {note}{target}")
    print(f"  (wall-clock milliseconds over {samples} fresh processes, median and best; cpu: the\n"
          "  median CPU time of the cell's process, which other jobs on the machine do not inflate;\n"
          "  import: the library's import, not part of the latency)")


def setup(impl):
    return None  # this workload prints its own table (``report``)
