"""Symbolic arrays: ``import nbgrad.tensor as T``.

Typed constructors (``T.dscalar``, ``T.fmatrix``, ``T.vectors('x', 'y')``),
NumPy-like math and reductions, shape and indexing operations, ``T.nnet``, and
the differentiation functions ``T.grad``, ``T.jacobian``, ``T.hessian``,
``T.Rop`` and ``T.Lop``.
"""

import importlib

from nbgrad.tensor.basic import *  # noqa: F403
from nbgrad.tensor.basic import __all__ as _basic_all
from nbgrad.tensor.elemwise import DimShuffle, Elemwise
from nbgrad.tensor.grid import mgrid, ogrid
from nbgrad.tensor.math import *  # noqa: F403
from nbgrad.tensor.math import __all__ as _math_all
from nbgrad.tensor.shape import *  # noqa: F403
from nbgrad.tensor.shape import __all__ as _shape_all
from nbgrad.tensor.subtensor import (
    IncSubtensor, Subtensor, getitem, inc_subtensor, set_subtensor, take,
)
from nbgrad.tensor.sort import argsort, argtopk, sort, take_along_axis, topk, topk_and_argtopk
from nbgrad.tensor.type import TensorType
from nbgrad.tensor.variable import TensorConstant, TensorVariable
from nbgrad.tensor import nnet  # noqa: E402
from nbgrad.tensor.nnet import log_softmax, logsumexp, softmax
from nbgrad.tensor import signal  # noqa: E402  (Theano's import path)

from nbgrad.gradient import (  # noqa: E402
    Lop, Rop, consider_constant, disconnected_grad, grad, grad_clip, hessian, jacobian,
    zero_grad,
)

__all__ = [
    *_basic_all, *_math_all, *_shape_all,
    "DimShuffle", "Elemwise", "mgrid", "ogrid", "TensorConstant", "TensorVariable",
    "IncSubtensor", "Subtensor", "getitem", "inc_subtensor", "set_subtensor", "take",
    "argsort", "argtopk", "sort", "take_along_axis", "topk", "topk_and_argtopk",
    "nnet", "signal", "log_softmax", "logsumexp", "softmax",
    "Lop", "Rop", "consider_constant", "disconnected_grad", "grad", "grad_clip", "hessian",
    "jacobian", "zero_grad",
]


def __getattr__(name):
    # Theano's paths to RandomStreams, the FFTs and the extra ops (``T.extra_ops.cumsum``),
    # imported on first use: nbgrad.random builds on nbgrad.compile, which builds on this package.
    if name in ("shared_randomstreams", "fft", "extra_ops", "utils"):
        return importlib.import_module(f"nbgrad.tensor.{name}")
    raise AttributeError(f"module 'nbgrad.tensor' has no attribute {name!r}")
