"""``Learner``: compiles one training step (forward, gradients, updates) and fits a model."""

import sys
import time

import numpy as np

from nbgrad.compile.function import function
from nbgrad.gradient import grad
from nbgrad.tensor.type import TensorType

__all__ = ["Learner", "plot_losses"]


class Learner:
    """Fits ``model`` to data by minimizing ``loss`` with ``optimizer``.

    Parameters
    ----------
    model : Layer
    loss : callable
        ``loss(prediction, target)`` returning a symbolic scalar (e.g. ``mse_loss``).
    optimizer : Optimizer

    Examples
    --------
    >>> import numpy as np
    >>> from nbgrad.nn import Learner, Linear, SGD, mse_loss
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((100, 10)); w = rng.standard_normal((10, 1))
    >>> learner = Learner(Linear(10, 1, seed=0), mse_loss, SGD(lr=0.05))
    >>> losses = learner.fit(X, X @ w + 0.5, epochs=10, bs=10, seed=0)
    >>> bool(losses[-1] < 1e-3 * losses[0])
    True
    >>> bool(np.allclose(learner.model.weights.get_value(), w, atol=1e-2))
    True
    """

    def __init__(self, model, loss, optimizer):
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.losses = []
        self._train = {}
        self._predict = {}

    # -------------------------------------------------------------- compiling
    def _dtype(self):
        ps = self.model.parameters
        return ps[0].dtype if ps else None

    def _convert(self, A):
        A = np.asarray(A)
        dt = self._dtype()
        if dt is not None and A.dtype.kind == "f" and A.dtype != dt:
            A = A.astype(dt)
        return A

    def train_function(self, X, Y):
        """The compiled step ``f(X_batch, Y_batch) -> loss`` (updates the parameters)."""
        key = (X.dtype, X.ndim, Y.dtype, Y.ndim)
        f = self._train.get(key)
        if f is None:
            if not self.model.parameters:
                raise ValueError("Learner: the model has no parameters to train")
            Xs = TensorType(X.dtype, (None,) * X.ndim)("X")
            Ys = TensorType(Y.dtype, (None,) * Y.ndim)("Y")
            cost = self.loss(self.model(Xs), Ys)
            if cost.ndim != 0:
                raise TypeError(f"Learner: the loss must be a scalar, got {cost.type}")
            params = list(self.model.parameters)
            grads = grad(cost, params)
            f = function([Xs, Ys], cost, updates=self.optimizer.updates(params, grads),
                         name="train_step")
            self._train[key] = f
        return f

    def fit_batch(self, X, Y):
        """One optimization step on one batch; returns its loss."""
        X, Y = self._convert(X), self._convert(Y)
        return float(self.train_function(X, Y)(X, Y))

    def fit(self, X, Y, epochs=1, bs=32, shuffle=True, seed=None, progress=None):
        """Train for ``epochs`` passes over (X, Y) in mini-batches of ``bs`` rows.

        Parameters
        ----------
        X, Y : arrays with the same number of rows
        epochs, bs : int
        shuffle : bool
            Visit the rows in a new random order each epoch.
        seed : int, optional
            Seed for the shuffling.
        progress : bool, optional
            Show a progress bar with the running loss (default: when writing
            to a terminal or a notebook).

        Returns
        -------
        list of float
            The mean loss over each epoch's batches (weighted by batch size).
        """
        X, Y = self._convert(X), self._convert(Y)
        if len(X) != len(Y):
            raise ValueError(f"Learner.fit: X has {len(X)} rows but Y has {len(Y)}")
        if bs < 1 or epochs < 0:
            raise ValueError("Learner.fit: bs must be >= 1 and epochs >= 0")
        step = self.train_function(X, Y)
        rng = np.random.default_rng(seed)
        n = len(X)
        bar = _Progress(epochs * ((n + bs - 1) // bs), progress)
        losses = []
        for epoch in range(epochs):
            if shuffle:
                p = rng.permutation(n)
                Xe, Ye = X[p], Y[p]
            else:
                Xe, Ye = X, Y
            total = 0.0
            for i in range(0, n, bs):
                xb, yb = Xe[i:i + bs], Ye[i:i + bs]
                total += float(step(xb, yb)) * len(xb)
                bar.update(epoch, epochs, total / min(i + bs, n))
            losses.append(total / n)
        bar.close()
        self.losses.extend(losses)
        return losses

    def predict(self, X):
        """The model's output for ``X`` (compiled once per input type)."""
        X = self._convert(X)
        key = (X.dtype, X.ndim)
        f = self._predict.get(key)
        if f is None:
            Xs = TensorType(X.dtype, (None,) * X.ndim)("X")
            f = self._predict[key] = function([Xs], self.model(Xs), name="predict")
        return f(X)

    def plot(self, ax=None):
        """Plot the loss per epoch of every ``fit`` so far (needs matplotlib)."""
        return plot_losses(self.losses, ax=ax)


def plot_losses(losses, ax=None, label="loss"):
    """A matplotlib plot of ``losses`` per epoch (log scale when they span decades)."""
    try:
        # lazy: optional dependency, for plotting only
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plot_losses needs matplotlib: pip install matplotlib") from exc
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    ax.plot(np.arange(1, len(losses) + 1), losses, marker=".", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(label)
    pos = [v for v in losses if v > 0]
    if pos and max(pos) / min(pos) > 100:
        ax.set_yscale("log")
    return ax


class _Progress:
    """A dependency-free progress bar with the running loss, on stderr.

    Shown by default in a terminal and in a notebook (whose stderr stream
    renders carriage returns); redrawn at most ten times a second.
    """

    def __init__(self, total, enabled=None):
        if enabled is None:
            enabled = "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.enabled = enabled and total > 0
        self.total, self.done, self.last = total, 0, 0.0
        self.start = time.perf_counter()

    def update(self, epoch, epochs, loss):
        self.done += 1
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last < 0.1 and self.done < self.total:
            return
        self.last = now
        width = 24
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(
            f"\repoch {epoch + 1}/{epochs} [{bar}] {100 * self.done // self.total:3d}% "
            f"loss {loss:.4g}  {now - self.start:.1f}s"
        )
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
