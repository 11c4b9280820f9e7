"""Symbolic arrays: ``import nbgrad.tensor as T``.

Typed constructors (``T.dscalar``, ``T.fmatrix``, ``T.vectors('x', 'y')``),
NumPy-like math and reductions, shape and indexing operations, ``T.nnet``, and
the differentiation functions ``T.grad``, ``T.jacobian``, ``T.hessian``,
``T.Rop`` and ``T.Lop``.
"""

from nbgrad.tensor import basic as _basic
from nbgrad.tensor.basic import *  # noqa: F403
from nbgrad.tensor.basic import as_tensor, as_tensor_variable, constant, tensor
from nbgrad.tensor.elemwise import DimShuffle, Elemwise
from nbgrad.tensor.math import *  # noqa: F403
from nbgrad.tensor.math import (
    All, Any, Argmax, Argmin, CAReduce, Dot, Matmul, Max, Min, Prod, Sum,
    abs, all, any, argmax, argmin, batched_dot, cast, dot, full_like, matmul, max,
    max_and_argmax, mean, min, norm, ones_like, outer, prod, round, second, square,
    std, sum, swapaxes, tensordot, var, zeros_like,
)
from nbgrad.tensor.shape import *  # noqa: F403
from nbgrad.tensor.subtensor import (
    IncSubtensor, Subtensor, getitem, inc_subtensor, set_subtensor, take,
)
from nbgrad.tensor.type import TensorType
from nbgrad.tensor.variable import TensorConstant, TensorVariable
from nbgrad.tensor import nnet  # noqa: E402
from nbgrad.tensor.nnet import log_softmax, logsumexp, softmax

from nbgrad.gradient import (  # noqa: E402
    Lop, Rop, consider_constant, disconnected_grad, grad, grad_clip, hessian, jacobian,
    zero_grad,
)

_ = _basic
