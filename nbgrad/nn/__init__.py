"""Neural networks on the symbolic engine: layers, losses, optimizers and ``Learner``.

Parameters are shared variables; layers build symbolic graphs, and
``Learner.fit`` compiles one training function (forward pass, gradients from
``nbgrad.grad``, optimizer updates) that it calls once per mini-batch.

>>> import numpy as np
>>> from nbgrad.nn import Learner, Linear, ReLU, Sequential, Adam, mse_loss
>>> model = Sequential(Linear(1, 16, seed=0), ReLU(), Linear(16, 1, seed=1))
>>> X = np.linspace(-1, 1, 64).reshape(-1, 1); Y = X ** 2
>>> losses = Learner(model, mse_loss, Adam(lr=0.01)).fit(X, Y, epochs=30, bs=16, seed=0)
>>> bool(losses[-1] < losses[0])
True
"""

from nbgrad.nn.layers import Layer, Linear, ReLU, Sequential, Sigmoid, Softmax, Tanh
from nbgrad.nn.learner import Learner, plot_losses
from nbgrad.nn.losses import cross_entropy, mse_loss
from nbgrad.nn.optim import SGD, Adam, Optimizer

__all__ = [
    "Layer", "Linear", "ReLU", "Sigmoid", "Tanh", "Softmax", "Sequential", "mse_loss",
    "cross_entropy", "Optimizer", "SGD", "Adam", "Learner", "plot_losses",
]
