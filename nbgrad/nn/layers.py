"""Layers: callables from a symbolic batch to a symbolic batch, owning shared parameters."""

import numpy as np

import nbgrad.tensor as T
from nbgrad.compile.sharedvalue import shared
from nbgrad.config import config

__all__ = ["Layer", "Linear", "ReLU", "Sigmoid", "Tanh", "Softmax", "Sequential"]


class Layer:
    """Base class: ``layer(X)`` builds the symbolic output for the symbolic input ``X``.

    A layer keeps its parameters (shared variables) in ``parameters``; the
    base layer passes its input through unchanged.

    >>> import nbgrad.tensor as T
    >>> from nbgrad.nn import Layer
    >>> X = T.dmatrix("X")
    >>> Layer()(X) is X
    True
    """

    def __init__(self):
        self.parameters = []

    def forward(self, X):
        """Override me: the symbolic output for the symbolic input ``X``."""
        return X

    def __call__(self, X):
        return self.forward(T.as_tensor_variable(X))

    def build_param(self, value, name=None):
        """A shared variable holding ``value``, registered as a parameter.

        Its type carries the value's shape: a layer's parameters keep their shape, and
        shapes known when compiling spare the training step the run-time checks of
        broadcasting in its gradients.
        """
        value = np.asarray(value)
        p = shared(value, name=name, shape=value.shape)
        self.parameters.append(p)
        return p

    def get_weights(self):
        """The current parameter values (copies), in ``parameters`` order."""
        return [p.get_value() for p in self.parameters]

    def set_weights(self, values):
        for p, v in zip(self.parameters, values):
            p.set_value(v)

    def __repr__(self):
        return f"{type(self).__name__}()"


class Linear(Layer):
    """An affine layer ``X @ W + b`` with ``W`` of shape (inputs, outputs).

    ``W`` starts as normal samples scaled by ``sqrt(1 / inputs)`` and ``b`` at
    zero.

    Parameters
    ----------
    inputs, outputs : int
    bias : bool
    seed : int or numpy Generator, optional
        Makes the initial weights reproducible.
    dtype : str, optional
        Parameter dtype (default ``config.floatX``).

    Examples
    --------
    >>> import nbgrad, nbgrad.tensor as T
    >>> from nbgrad.nn import Linear
    >>> layer = Linear(3, 2, seed=0)
    >>> X = T.dmatrix("X")
    >>> f = nbgrad.function([X], layer(X))
    >>> f([[0.0, 0.0, 0.0]]).shape
    (1, 2)
    """

    def __init__(self, inputs, outputs, bias=True, seed=None, dtype=None):
        super().__init__()
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        dtype = dtype or config.floatX
        self.inputs, self.outputs = int(inputs), int(outputs)
        w = rng.standard_normal((self.inputs, self.outputs)) * np.sqrt(1.0 / self.inputs)
        self.weights = self.build_param(w.astype(dtype), name="W")
        self.bias = self.build_param(np.zeros(self.outputs, dtype=dtype), name="b") if bias else None

    def forward(self, X):
        out = T.dot(X, self.weights)
        return out + self.bias if self.bias is not None else out

    def __repr__(self):
        return f"Linear({self.inputs}, {self.outputs})"


class _Activation(Layer):
    fn = None

    def forward(self, X):
        return type(self).fn(X)


class ReLU(_Activation):
    """max(x, 0), elementwise."""

    fn = staticmethod(T.relu)


class Sigmoid(_Activation):
    """1 / (1 + exp(-x)), elementwise."""

    fn = staticmethod(T.sigmoid)


class Tanh(_Activation):
    """tanh(x), elementwise."""

    fn = staticmethod(T.tanh)


class Softmax(Layer):
    """Softmax along the last axis (probabilities per row)."""

    def forward(self, X):
        return T.nnet.softmax(X)


class Sequential(Layer):
    """Layers applied one after another; parameters are those of all layers.

    >>> from nbgrad.nn import Sequential, Linear, ReLU
    >>> model = Sequential(Linear(2, 8, seed=0), ReLU(), Linear(8, 1, seed=1))
    >>> len(model.parameters)
    4
    """

    def __init__(self, *layers):
        super().__init__()
        for k, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: argument {k} ({layer!r}) is not a Layer")
        self.layers = list(layers)
        for layer in self.layers:
            self.parameters.extend(layer.parameters)

    def forward(self, X):
        for layer in self.layers:
            X = layer(X)
        return X

    def __getitem__(self, k):
        return self.layers[k]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = ", ".join(map(repr, self.layers))
        return f"Sequential({inner})"
