"""Optimizers: turn parameters and their symbolic gradients into shared-variable updates."""

import numpy as np

import nbgrad.tensor as T
from nbgrad.compile.sharedvalue import shared

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """Base class: ``updates(params, grads)`` returns ``[(param, new_value), ...]``.

    Optimizer state (momentum buffers, moment estimates) lives in shared
    variables created on the first call, so one compiled training function
    carries it from step to step.
    """

    def updates(self, params, grads):
        raise NotImplementedError

    @staticmethod
    def _state_like(p, name):
        v = p.get_value(borrow=True)
        return shared(np.zeros_like(v), name=f"{p.name or 'p'}_{name}")


def _cast(expr, p):
    return T.cast(expr, p.dtype)


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (heavy-ball) momentum.

    v ← momentum·v + g ;  p ← p − lr·v   (v = g when momentum is 0).

    >>> import nbgrad, nbgrad.tensor as T
    >>> from nbgrad.nn import SGD
    >>> w = nbgrad.shared(1.0, name="w")
    >>> step = nbgrad.function([], w, updates=SGD(lr=0.25).updates([w], [T.grad(w ** 2, w)]))
    >>> _ = step(); float(w.get_value())
    0.5
    """

    def __init__(self, lr=0.01, momentum=0.0):
        if lr <= 0:
            raise ValueError(f"SGD: lr must be positive, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        self.lr, self.momentum = float(lr), float(momentum)

    def updates(self, params, grads):
        out = []
        for p, g in zip(params, grads):
            if self.momentum:
                v = self._state_like(p, "velocity")
                v_new = _cast(self.momentum * v + g, p)
                out.append((v, v_new))
                g = v_new
            out.append((p, _cast(p - self.lr * g, p)))
        return out

    def __repr__(self):
        return f"SGD(lr={self.lr}, momentum={self.momentum})"


class Adam(Optimizer):
    """Adam: bias-corrected moving averages of the gradient and its square.

    m ← β₁m + (1−β₁)g ; v ← β₂v + (1−β₂)g² ;
    p ← p − lr·m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ).
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        if lr <= 0:
            raise ValueError(f"Adam: lr must be positive, got {lr}")
        self.lr, self.beta1, self.beta2, self.eps = float(lr), float(beta1), float(beta2), float(eps)

    def updates(self, params, grads):
        t = shared(np.float64(0.0), name="adam_t")
        t_new = t + 1.0
        out = [(t, t_new)]
        c1 = 1.0 - self.beta1 ** t_new
        c2 = 1.0 - self.beta2 ** t_new
        for p, g in zip(params, grads):
            m = self._state_like(p, "m")
            v = self._state_like(p, "v")
            m_new = _cast(self.beta1 * m + (1.0 - self.beta1) * g, p)
            v_new = _cast(self.beta2 * v + (1.0 - self.beta2) * T.sqr(g), p)
            step = _cast(self.lr * (m_new / _cast(c1, p)) / (T.sqrt(v_new / _cast(c2, p)) + self.eps), p)
            out += [(m, m_new), (v, v_new), (p, _cast(p - step, p))]
        return out

    def __repr__(self):
        return f"Adam(lr={self.lr}, beta1={self.beta1}, beta2={self.beta2})"
