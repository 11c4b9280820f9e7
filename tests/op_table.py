"""One table, a row per op: the data that drives the generic op tests (``test_ops.py``).

A row names a function built from nbgrad's public API, its NumPy/SciPy reference, the
input shapes to try (broadcasting included), each input's domain, the dtypes to check
values in, whether it is differentiable (L_op and R_op are then checked against finite
differences) and twice differentiable. Adding an op is one class plus one row here;
``test_every_op_has_a_row`` fails for an op without one.
"""

from dataclasses import dataclass

import numpy as np
import scipy.special

import nbgrad.tensor as T
import nbgrad
import nbgrad.eager as ne
import nbgrad.gradient as G
from nbgrad.banded import Diagonals, DiagonalsOf
from nbgrad.tensor.onehot import OneHot, OneHotOf, _Placement
from nbgrad.ifelse import ifelse
from nbgrad.printing.runtime import Print
from nbgrad.random.op import RandomVariable
from nbgrad.rewriting.inplace import InplaceElemwise
from nbgrad.row_runs import LengthAtLeast, SliceLength
from nbgrad.rewriting.algebraic import unit_of as _unit
from nbgrad.rewriting.stabilize import LogOfSoftmax, LogOfSumExp, log_sigmoid as _log_sigmoid
from nbgrad.scalar import basic as _ps
from nbgrad.scalar.composite import Composite
from nbgrad.tensor import extra_ops, fft
from nbgrad.tensor.conv import Conv2dGradInputs, Conv2dGradWeights, _ConvOp
from nbgrad.tensor.elemwise import SumToShape
from nbgrad.tensor.math import CAReduce, Dot, _ArgReduce, _MaxMin
from nbgrad.tensor.shape import CheckSizes
from nbgrad.tensor.sort import _SortBase
from nbgrad.typed_list import basic as _tl
from nbgrad.tensor.signal.pool import AveragePoolGrad, MaxPoolGrad, MaxPoolGradGrad, _PoolOp, pool_2d
from nbgrad.vectorize import Blockwise
from tests.tensor import conv_reference as _cref

__all__ = ["Domain", "OpRow", "ROWS", "EXEMPT", "EAGER", "SAME", "REAL", "POS", "UNIT", "GT1", "NONZERO"]


@dataclass(frozen=True)
class Domain:
    """Where an input's random values are drawn from.

    Floats are uniform in ``[lo, hi]`` (with ``avoid_zero``: ``|x|`` in ``[lo, hi]`` with a
    random sign, to keep off a kink at zero); integer dtypes draw integers in the same
    range. ``dtype`` fixes the input's dtype (indices, sizes, masks) whatever dtype the row
    is being checked in; such inputs are held constant when differentiating.
    """

    lo: float
    hi: float
    avoid_zero: bool = False
    dtype: str = None

    def sample(self, rng, shape, dtype):
        dtype = np.dtype(self.dtype or dtype)
        if dtype.kind == "b":
            return rng.integers(0, 2, size=shape).astype(bool)
        if dtype.kind in "iu":
            lo, hi = int(np.ceil(self.lo)), int(np.floor(self.hi))
            vals = rng.integers(lo, hi + 1, size=shape)
            if self.avoid_zero:
                vals = np.where(vals == 0, hi, vals) * rng.choice([-1, 1], size=shape)
            return np.asarray(vals, dtype=dtype)
        vals = rng.uniform(self.lo, self.hi, size=shape)
        if self.avoid_zero:
            vals = vals * rng.choice([-1.0, 1.0], size=shape)
        return np.asarray(vals, dtype=dtype)


REAL = Domain(-2.0, 2.0)
POS = Domain(0.5, 2.0)
UNIT = Domain(-0.9, 0.9)
GT1 = Domain(1.2, 3.0)
NONZERO = Domain(0.3, 2.0, avoid_zero=True)
MASK = Domain(0, 1, dtype="bool")


def index(lo, hi):
    """An int64 index (or size) input drawn from ``[lo, hi]``."""
    return Domain(lo, hi, dtype="int64")


FLOATS = ("float64", "float32")
NUMBERS = ("float64", "float32", "int64", "int32")
INTS = ("int64", "int32", "int8")


@dataclass(frozen=True)
class OpRow:
    """One op (or public function) and everything the generic tests need to check it.

    ``shapes`` is a list of cases, each a tuple with one shape per input. ``dtypes``
    entries are a dtype for every input, or a tuple with one dtype per input (mixed
    dtypes). ``grad`` marks a differentiable op (its L_op and R_op must exist and agree
    with finite differences); ``second`` a twice-differentiable one.

    An op whose gradient is deliberately not the derivative of its value (the
    stop-gradient and gradient-scaling ops) gives the rules it must follow instead:
    ``vjp(g, *inputs)`` the input gradients for the output gradient ``g`` and
    ``jvp(tangents, *inputs)`` the output tangent, both in NumPy.
    """

    name: str
    fn: object
    ref: object
    shapes: tuple
    domain: tuple
    dtypes: tuple = FLOATS
    grad: bool = True
    second: bool = True
    rtol: float = None
    prints_inputs: bool = True  # False: the printed form rightly leaves the inputs out
    vjp: object = None
    jvp: object = None
    no_infer_shape: str = None  # a known defect: the op has no infer_shape (why, and what it needs)
    ragged: str = None  # why a batch of inputs would give results of different shapes ...
    batch: tuple = ()  # ... and which inputs may still carry a batch axis then
    no_save: str = None  # a known defect: a function of the op cannot be saved (why)

    @property
    def nin(self):
        return len(self.domain)

    def fixed(self, i):
        """Whether input ``i`` has a fixed (non-differentiable) dtype."""
        return self.domain[i].dtype is not None

    def input_dtypes(self, dtype):
        per = dtype if isinstance(dtype, tuple) else (dtype,) * self.nin
        return tuple(self.domain[i].dtype or per[i] for i in range(self.nin))


def _argsort_descending(x, axis=-1):
    """NumPy's stable argsort from the largest value down (equal values keep their order)."""
    idx = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return (x.shape[axis] - 1) - np.flip(idx, axis)


def _topk(x, k, axis=-1):
    return np.take_along_axis(x, np.take(_argsort_descending(x, axis), np.arange(k), axis=axis), axis)


def _rfft_ref(x, norm=None):
    c = np.fft.rfftn(x, axes=tuple(range(1, x.ndim)), norm=norm)
    return np.stack([c.real, c.imag], axis=-1)


def _irfft_ref(y, norm=None, odd=False):
    sizes = list(y.shape[1:-1])
    sizes[-1] = 2 * (sizes[-1] - 1) + int(odd)
    return np.fft.irfftn(y[..., 0] + 1j * y[..., 1], s=sizes, axes=tuple(range(1, y.ndim - 1)), norm=norm)


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _inc_at(x, idx, y):
    out = x.copy()
    np.add.at(out, idx, y)
    return out


def _set_at(x, idx, y):
    out = x.copy()
    out[idx] = y
    return out


def _recurrence(x, h0):
    h, out = h0, []
    for x_t in x:
        h = np.tanh(h * x_t + x_t)
        out.append(h)
    return np.stack(out)


def _diagonals(n, m, offsets, *diags):
    out = np.zeros((n, m), dtype=np.result_type(*diags))
    for k, d in zip(offsets, diags):
        for j in range(m):
            if 0 <= j + k < n:
                out[j + k, j] += d[j]
    return out


_ONE_HOT = ((2, 3), (1,), ((2, 0, 1),))  # three 2 x 3 entries, nonzero in columns 2, 0 and 1


def _one_hot(values):
    out = np.zeros((3, 2, 3), dtype=values.dtype)
    out[np.arange(3), :, [2, 0, 1]] = values
    return out


def _diagonals_of(z, offsets):
    n, m = z.shape
    return [np.array([z[j + k, j] if 0 <= j + k < n else 0 for j in range(m)], dtype=z.dtype) for k in offsets]


_SIZES = "the inputs are sizes: their values set the result's shape"

M = (((3, 4),),)
BIN = (((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3)))
UNARY = (((3, 4),), ((),), ((2, 1, 3),))


def _binary(name, fn, ref, dom=(REAL, REAL), dtypes=NUMBERS + (("float32", "int64"), ("int8", "float64")), **kw):
    return OpRow(name, fn, ref, BIN, dom, dtypes, **kw)


def _unary(name, fn, ref, dom=REAL, dtypes=NUMBERS, **kw):
    return OpRow(name, fn, ref, UNARY, (dom,), dtypes, **kw)


_special = scipy.special

ROWS = [
    # ------------------------------------------------------------ arithmetic operators
    _binary("add", lambda x, y: x + y, np.add),
    _binary("sub", lambda x, y: x - y, np.subtract),
    _binary("mul", lambda x, y: x * y, np.multiply),
    _binary("true_div", lambda x, y: x / y, np.true_divide, (REAL, NONZERO)),
    _binary("int_div", lambda x, y: x // y, np.floor_divide, (REAL, NONZERO), second=False),
    _binary("mod", lambda x, y: x % y, np.mod, (REAL, POS), second=False),
    _binary("pow", lambda x, y: x ** y, np.power, (POS, REAL),
            dtypes=("float64", "float32", ("float32", "int64"))),
    _binary("pow_int", lambda x, y: x ** y, np.power, (POS, POS), dtypes=INTS, grad=False),
    _binary("maximum", T.maximum, np.maximum, second=False),
    _binary("minimum", T.minimum, np.minimum, second=False),
    _binary("arctan2", T.arctan2, np.arctan2, (NONZERO, NONZERO), dtypes=FLOATS),
    _binary("logaddexp", T.logaddexp, np.logaddexp, dtypes=FLOATS),
    _unary("neg", lambda x: -x, np.negative),
    _unary("identity", lambda x: x.copy(), np.copy),
    # -------------------------------------------------------------------- comparisons
    _binary("lt", lambda x, y: x < y, np.less, grad=False),
    _binary("gt", lambda x, y: x > y, np.greater, grad=False),
    _binary("le", lambda x, y: x <= y, np.less_equal, grad=False),
    _binary("ge", lambda x, y: x >= y, np.greater_equal, grad=False),
    _binary("eq", T.eq, np.equal, grad=False),
    _binary("neq", T.neq, np.not_equal, grad=False),
    _binary("and", lambda x, y: x & y, np.bitwise_and, dtypes=("bool",) + INTS, grad=False),
    _binary("or", lambda x, y: x | y, np.bitwise_or, dtypes=("bool",) + INTS, grad=False),
    _binary("xor", lambda x, y: x ^ y, np.bitwise_xor, dtypes=("bool",) + INTS, grad=False),
    _unary("invert", lambda x: ~x, np.invert, dtypes=("bool",) + INTS, grad=False),
    _unary("isnan", T.isnan, np.isnan, grad=False),
    _unary("isinf", T.isinf, np.isinf, grad=False),
    # ------------------------------------------------------------ elementwise functions
    _unary("abs", abs, np.abs, NONZERO, second=False),
    _unary("sqr", T.sqr, np.square),
    _unary("sqrt", T.sqrt, np.sqrt, POS),
    _unary("reciprocal", T.reciprocal, np.reciprocal, NONZERO, dtypes=FLOATS),
    _unary("exp", T.exp, np.exp),
    _unary("exp2", T.exp2, np.exp2),
    _unary("log", T.log, np.log, POS),
    _unary("log2", T.log2, np.log2, POS),
    _unary("log10", T.log10, np.log10, POS),
    _unary("log1p", T.log1p, np.log1p, Domain(-0.5, 2.0)),
    _unary("expm1", T.expm1, np.expm1),
    _unary("sin", T.sin, np.sin),
    _unary("cos", T.cos, np.cos),
    _unary("tan", T.tan, np.tan, Domain(-1.2, 1.2)),
    _unary("arcsin", T.arcsin, np.arcsin, UNIT, dtypes=FLOATS),
    _unary("arccos", T.arccos, np.arccos, UNIT, dtypes=FLOATS),
    _unary("arctan", T.arctan, np.arctan),
    _unary("sinh", T.sinh, np.sinh),
    _unary("cosh", T.cosh, np.cosh),
    _unary("tanh", T.tanh, np.tanh),
    _unary("arcsinh", T.arcsinh, np.arcsinh),
    _unary("arccosh", T.arccosh, np.arccosh, GT1),
    _unary("arctanh", T.arctanh, np.arctanh, UNIT, dtypes=FLOATS),
    _unary("sigmoid", T.nnet.sigmoid, _special.expit),
    _unary("softplus", T.nnet.softplus, lambda x: np.logaddexp(0, x)),
    _unary("log_sigmoid", _log_sigmoid, lambda x: -np.logaddexp(0, -x)),
    _unary("erf", T.erf, _special.erf),
    _unary("erfc", T.erfc, _special.erfc),
    _unary("relu", T.nnet.relu, lambda x: np.maximum(x, np.zeros((), x.dtype)), NONZERO, second=False),
    _unary("unit", _unit, lambda x: np.where(np.isnan(x), x, np.ones((), x.dtype)), dtypes=FLOATS, second=False,
           prints_inputs=False),
    _unary("floor", T.floor, np.floor, dtypes=FLOATS, second=False),
    _unary("ceil", T.ceil, np.ceil, dtypes=FLOATS, second=False),
    _unary("round", T.round, np.round, dtypes=NUMBERS, second=False),
    _unary("sign", T.sign, np.sign, NONZERO, second=False),
    _unary("cast_float32", lambda x: x.astype("float32"), lambda x: x.astype("float32")),
    _unary("cast_int32", lambda x: T.cast(x, "int32"), lambda x: x.astype("int32"), grad=False),
    OpRow("switch", T.switch, np.where,
          (((3, 4), (3, 4), (3, 4)), ((3, 1), (4,), ()), ((), (2,), (2,))),
          (MASK, REAL, REAL), NUMBERS),
    OpRow("where_int_cond", lambda c, x, y: T.where(c > 0, x, y), lambda c, x, y: np.where(c > 0, x, y),
          (((3, 4), (3, 4), (4,)),), (index(-2, 2), REAL, REAL), FLOATS),
    OpRow("clip", T.clip, np.clip, (((3, 4), (3, 4), (3, 4)), ((3, 4), (), (4,))),
          (REAL, Domain(-1.5, -0.5), Domain(0.5, 1.5)), NUMBERS, second=False),
    OpRow("clip_const", lambda x: T.clip(x, -0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5),
          UNARY, (REAL,), FLOATS, second=False),
    # --------------------------------------------------------------------- reductions
    OpRow("sum", T.sum, np.sum, (((3, 4, 2),), ((),)), (REAL,), NUMBERS + ("bool",)),
    OpRow("sum_axis", lambda x: x.sum(axis=1), lambda x: x.sum(axis=1), (((3, 4, 2),),), (REAL,), NUMBERS),
    OpRow("sum_axes_keepdims", lambda x: T.sum(x, axis=(0, 2), keepdims=True),
          lambda x: np.sum(x, axis=(0, 2), keepdims=True), (((3, 4, 2),),), (REAL,), NUMBERS),
    OpRow("prod", lambda x: T.prod(x, axis=0), lambda x: np.prod(x, axis=0), (((3, 4),),), (NONZERO,), NUMBERS),
    OpRow("prod_all", T.prod, np.prod, (((2, 3),),), (NONZERO,), FLOATS),
    OpRow("max", lambda x: T.max(x, axis=1), lambda x: np.max(x, axis=1), (((3, 4, 2),),), (REAL,), NUMBERS,
          second=False),
    OpRow("max_all_keepdims", lambda x: T.max(x, keepdims=True), lambda x: np.max(x, keepdims=True),
          (((3, 4),),), (REAL,), NUMBERS, second=False),
    OpRow("min", lambda x: x.min(axis=(0, 1)), lambda x: x.min(axis=(0, 1)), (((3, 4, 2),),), (REAL,),
          NUMBERS, second=False),
    OpRow("argmax", lambda x: T.argmax(x, axis=1), lambda x: np.argmax(x, axis=1), (((3, 4),),), (REAL,),
          NUMBERS, grad=False),
    OpRow("argmax_all", T.argmax, np.argmax, (((3, 4),),), (REAL,), NUMBERS, grad=False),
    OpRow("argmin", lambda x: x.argmin(axis=0, keepdims=True), lambda x: x.argmin(axis=0, keepdims=True),
          (((3, 4),),), (REAL,), NUMBERS, grad=False),
    OpRow("any", lambda x: T.any(x, axis=0), lambda x: np.any(x, axis=0), (((3, 4),),), (MASK,), ("bool",),
          grad=False),
    OpRow("all", lambda x: T.all(x > 0), lambda x: np.all(x > 0), (((3, 4),),), (REAL,), NUMBERS, grad=False),
    OpRow("mean", lambda x: T.mean(x, axis=0), lambda x: np.mean(x, axis=0), (((3, 4),),), (REAL,), NUMBERS),
    OpRow("mean_all", lambda x: x.mean(), lambda x: x.mean(), (((3, 4),), ((),)), (REAL,), NUMBERS),
    OpRow("var", lambda x: T.var(x, axis=1, keepdims=True), lambda x: np.var(x, axis=1, keepdims=True),
          (((3, 4),),), (REAL,), FLOATS),
    OpRow("std_ddof", lambda x: T.std(x, ddof=1), lambda x: np.std(x, ddof=1), (((3, 4),),), (REAL,), FLOATS),
    # ----------------------------------------------------------------------- products
    OpRow("dot", T.dot, np.dot, (((3, 4), (4, 2)), ((3, 4), (4,)), ((4,), (4, 2)), ((4,), (4,)), ((), (3,))),
          (REAL, REAL), NUMBERS + (("float32", "float64"),)),
    OpRow("matmul", lambda a, b: a @ b, np.matmul,
          (((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((1, 3, 4), (2, 4, 5)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,))),
          (REAL, REAL), NUMBERS),
    OpRow("outer", T.outer, np.outer, (((3,), (4,)),), (REAL, REAL), NUMBERS),
    OpRow("tensordot", lambda a, b: T.tensordot(a, b, [[0, 2], [1, 0]]),
          lambda a, b: np.tensordot(a, b, [[0, 2], [1, 0]]), (((2, 3, 4), (4, 2, 5)),), (REAL, REAL), FLOATS),
    OpRow("tensordot_int", lambda a, b: T.tensordot(a, b, 1), lambda a, b: np.tensordot(a, b, 1),
          (((2, 3), (3, 4, 2)),), (REAL, REAL), FLOATS),
    OpRow("batched_dot", T.batched_dot, lambda a, b: np.einsum("bij,bjk->bik", a, b),
          (((2, 3, 4), (2, 4, 5)),), (REAL, REAL), FLOATS),
    OpRow("batched_dot_vectors", T.batched_dot, lambda a, b: np.einsum("bi,bi->b", a, b),
          (((3, 4), (3, 4)),), (REAL, REAL), FLOATS),
    # ------------------------------------------------------------------ shape and layout
    OpRow("shape", lambda x: x.shape, lambda x: np.asarray(x.shape, dtype="int64"), (((3, 4),), ((),)), (REAL,), NUMBERS,
          grad=False),
    OpRow("shape_i", lambda x: x.shape[1], lambda x: np.asarray(x.shape[1]), (((3, 4),),), (REAL,), FLOATS,
          grad=False),
    OpRow("transpose", lambda x: x.T, np.transpose, (((3, 4),), ((2, 3, 4),)), (REAL,), NUMBERS),
    OpRow("transpose_axes", lambda x: x.transpose(1, 2, 0), lambda x: x.transpose(1, 2, 0),
          (((2, 3, 4),),), (REAL,), FLOATS),
    OpRow("dimshuffle", lambda x: x.dimshuffle(1, "x", 0), lambda x: x.T[:, None, :], M, (REAL,), NUMBERS),
    OpRow("swapaxes", lambda x: T.swapaxes(x, 0, 2), lambda x: np.swapaxes(x, 0, 2), (((2, 3, 4),),), (REAL,)),
    OpRow("reshape", lambda x: x.reshape((2, 6)), lambda x: x.reshape((2, 6)), M, (REAL,), NUMBERS),
    OpRow("reshape_symbolic", lambda x, n: T.reshape(x, (n, -1)), lambda x, n: x.reshape((int(n), -1)),
          (((3, 4), ()),), (REAL, index(2, 2)), FLOATS),
    OpRow("flatten", lambda x: x.flatten(), lambda x: x.flatten(), (((2, 3, 4),),), (REAL,), NUMBERS),
    OpRow("flatten_ndim2", lambda x: T.flatten(x, 2), lambda x: x.reshape(x.shape[0], -1),
          (((2, 3, 4),),), (REAL,), FLOATS),
    OpRow("concatenate", lambda x, y: T.concatenate([x, y, x], axis=1),
          lambda x, y: np.concatenate([x, y, x], axis=1), (((3, 4), (3, 2)),), (REAL, REAL),
          NUMBERS + (("float32", "int64"),)),
    OpRow("stack", lambda x, y: T.stack([x, y], axis=1), lambda x, y: np.stack([x, y], axis=1),
          (((3, 4), (3, 4)), ((4,), (4,))), (REAL, REAL), NUMBERS),
    OpRow("stack_scalars", lambda x, y: T.stack([x, y, x]), lambda x, y: np.stack([x, y, x]),
          (((), ()),), (REAL, REAL), NUMBERS),
    OpRow("arange", lambda n: T.arange(n), np.arange, (((),),), (index(0, 6),), ("int64",), grad=False,
          ragged=_SIZES),
    OpRow("arange_float", lambda a, b: T.arange(a, b, 0.5), lambda a, b: np.arange(a, b, 0.5),
          (((), ()),), (index(-2, 1), index(2, 4)), ("int64",), grad=False, ragged=_SIZES),
    OpRow("eye", lambda n, k: T.eye(n, n + 1, k), lambda n, k: np.eye(n, n + 1, k), (((), ()),),
          (index(1, 4), index(-1, 1)), ("int64",), grad=False, ragged=_SIZES),
    # Filled arrays print as their fill value: their inputs only give the shape.
    OpRow("zeros", lambda n: T.zeros((n, 2)), lambda n: np.zeros((n, 2)), (((),),), (index(0, 3),), ("int64",),
          grad=False, prints_inputs=False, ragged=_SIZES),
    OpRow("ones", lambda n: T.ones(n, dtype="int32"), lambda n: np.ones(n, dtype="int32"), (((),),),
          (index(0, 3),), ("int64",), grad=False, prints_inputs=False, ragged=_SIZES),
    OpRow("zeros_like", T.zeros_like, np.zeros_like, M, (REAL,), NUMBERS, grad=False, prints_inputs=False),
    OpRow("ones_like", T.ones_like, np.ones_like, M, (REAL,), NUMBERS, grad=False, prints_inputs=False),
    OpRow("alloc", lambda x: T.alloc(x, 2, 3, 4), lambda x: np.broadcast_to(x, (2, 3, 4)),
          (((4,),), ((3, 1),), ((),)), (REAL,), NUMBERS),
    OpRow("sum_to_shape", lambda x: SumToShape()(x, T.as_tensor([3, 1])),
          lambda x: x.sum(axis=1, keepdims=True), M, (REAL,), FLOATS),
    OpRow("check_sizes", lambda x: CheckSizes([0, 1])(x, T.shape(x)[0], T.shape(x)[1]),
          lambda x: x, M, (REAL,), FLOATS),
    OpRow("specify_shape", lambda x: T.specify_shape(x, (x.shape[0], None)), lambda x: x, M, (REAL,), FLOATS),
    # ----------------------------------------------------------------------- indexing
    OpRow("slice", lambda x: x[1:, ::2], lambda x: x[1:, ::2], M, (REAL,), NUMBERS),
    OpRow("slice_negative", lambda x: x[-1, -3:-1], lambda x: x[-1, -3:-1], M, (REAL,), FLOATS),
    OpRow("int_index", lambda x: x[1], lambda x: x[1], (((3, 4),), ((3,),)), (REAL,), NUMBERS),
    OpRow("symbolic_index", lambda x, i: x[i, 1:i + 2], lambda x, i: x[i, 1:i + 2], (((3, 4), ()),),
          (REAL, index(0, 2)), FLOATS, ragged="the index sets the slice's length", batch=(0,)),
    OpRow("newaxis_ellipsis", lambda x: x[None, ..., 0], lambda x: x[None, ..., 0], (((2, 3, 4),),), (REAL,)),
    OpRow("int_array_index", lambda x: x[[0, 2, 2, 1]], lambda x: x[[0, 2, 2, 1]], M, (REAL,), NUMBERS),
    OpRow("int_array_symbolic", lambda x, i: x[:, i], lambda x, i: x[:, i], (((3, 4), (5,)),),
          (REAL, index(0, 3)), FLOATS),
    OpRow("int_arrays_pair", lambda x: x[[0, 1, 1], [3, 0, 3]], lambda x: x[[0, 1, 1], [3, 0, 3]], M, (REAL,)),
    OpRow("bool_mask", lambda x, m: x[m], lambda x, m: x[m], (((3, 4), (3, 4)), ((3, 4), (3,))),
          (REAL, MASK), NUMBERS, ragged="the mask's count of true entries sets the result's length",
          batch=(0,)),
    OpRow("bool_mask_of_x", lambda x: x[x > 0], lambda x: x[x > 0], M, (REAL,), NUMBERS,
          ragged="the count of positive entries sets the result's length"),
    OpRow("set_subtensor", lambda x, y: T.set_subtensor(x[1:], y), lambda x, y: _set_at(x, np.s_[1:], y),
          (((3, 4), (2, 4)), ((3, 4), (4,)), ((3, 4), ())), (REAL, REAL), NUMBERS),
    OpRow("inc_subtensor", lambda x, y: T.inc_subtensor(x[:, 1], y), lambda x, y: _inc_at(x, np.s_[:, 1], y),
          (((3, 4), (3,)), ((3, 4), ())), (REAL, REAL), NUMBERS),
    OpRow("inc_subtensor_repeated", lambda x, y: T.inc_subtensor(x[[0, 2, 0]], y),
          lambda x, y: _inc_at(x, [0, 2, 0], y), (((3, 4), (3, 4)), ((3, 4), (4,))), (REAL, REAL), NUMBERS),
    OpRow("set_subtensor_mask", lambda x, m, y: T.set_subtensor(x[m], y), lambda x, m, y: _set_at(x, m, y),
          (((3, 4), (3, 4), ()),), (REAL, MASK, REAL), NUMBERS),
    OpRow("set_subtensor_symbolic", lambda x, i, y: T.set_subtensor(x[i:, i], y),
          lambda x, i, y: _set_at(x, np.s_[int(i):, int(i)], y), (((3, 4), (), ()),), (REAL, index(0, 2), REAL)),
    # -------------------------------------------------------------------------- nnet
    OpRow("softmax", lambda x: T.nnet.softmax(x, axis=-1), _softmax, (((3, 4),), ((5,),)), (REAL,), FLOATS),
    OpRow("softmax_axis0", lambda x: T.nnet.softmax(x, axis=0), lambda x: _softmax(x, 0), M, (REAL,), FLOATS),
    OpRow("log_softmax", T.nnet.log_softmax, lambda x: np.log(_softmax(x)), (((3, 4),), ((2, 3, 4),)),
          (REAL,), FLOATS),
    OpRow("logsumexp", lambda x: T.nnet.logsumexp(x, axis=1), lambda x: _special.logsumexp(x, axis=1),
          M, (REAL,), FLOATS),
    OpRow("categorical_crossentropy", T.nnet.categorical_crossentropy,
          lambda p, t: -np.sum(t * np.log(p), axis=1), (((3, 4), (3, 4)),), (POS, POS), FLOATS),
    OpRow("softmax_cross_entropy", T.nnet.softmax_cross_entropy,
          lambda z, y: _special.logsumexp(z, axis=1) - z[np.arange(len(z)), y],
          (((3, 4), (3,)),), (REAL, index(0, 3)), FLOATS, second=False),
    OpRow("softmax_cross_entropy_grad", lambda g, z, y: T.nnet.SoftmaxCrossEntropyGrad()(g, z, y),
          lambda g, z, y: g[:, None] * (_softmax(z) - np.eye(z.shape[1], dtype=z.dtype)[y]),
          (((3,), (3, 4), (3,)),), (REAL, REAL, index(0, 3)), FLOATS, second=False),
    OpRow("binary_crossentropy", T.nnet.binary_crossentropy,
          lambda o, t: -(t * np.log(o) + (1 - t) * np.log1p(-o)), (((3, 4), (3, 4)),),
          (Domain(0.1, 0.9), Domain(0.0, 1.0)), FLOATS),
    # ------------------------------------------------------------ convolution, pooling
    OpRow("conv2d", T.nnet.conv2d, _cref.conv2d, (((2, 2, 5, 5), (3, 2, 3, 2)),), (REAL, REAL)),
    OpRow("conv2d_full_strided_correlation",
          lambda x, w: T.nnet.conv2d(x, w, border_mode="full", subsample=(2, 1), filter_flip=False),
          lambda x, w: _cref.conv2d(x, w, "full", (2, 1), False), (((2, 2, 4, 5), (3, 2, 2, 3)),),
          (REAL, REAL), second=False),
    OpRow("conv2d_half_dilated",
          lambda x, w: T.nnet.conv2d(x, w, border_mode="half", filter_dilation=(2, 1)),
          lambda x, w: _cref.conv2d(x, w, "half", filter_dilation=(2, 1)), (((1, 2, 6, 5), (2, 2, 3, 3)),),
          (REAL, REAL), second=False),
    OpRow("conv2d_padded_strided",
          lambda x, w: T.nnet.conv2d(x, w, border_mode=(1, 2), subsample=(2, 2)),
          lambda x, w: _cref.conv2d(x, w, (1, 2), (2, 2)), (((2, 1, 5, 4), (2, 1, 3, 3)),),
          (REAL, REAL), second=False),
    OpRow("conv2d_grad_inputs", lambda w, g: Conv2dGradInputs(subsample=(2, 1))(w, g, [7, 6]),
          lambda w, g: _cref.conv2d_grad_inputs(w, g, (7, 6), subsample=(2, 1)),
          (((3, 2, 3, 2), (2, 3, 3, 5)),), (REAL, REAL), second=False),
    OpRow("conv2d_grad_weights",
          lambda x, g: Conv2dGradWeights(border_mode=1, subsample=(1, 2), filter_flip=False)(x, g, [3, 2]),
          lambda x, g: _cref.conv2d_grad_weights(x, g, (3, 2), 1, (1, 2), False),
          (((2, 2, 5, 6), (2, 3, 5, 4)),), (REAL, REAL), second=False),
    OpRow("pool_2d_max", lambda x: pool_2d(x, (2, 2), ignore_border=True),
          lambda x: _cref.pool_2d(x, (2, 2), True), (((2, 3, 5, 4),), ((4, 4),)), (REAL,)),
    OpRow("pool_2d_max_partial_windows", lambda x: pool_2d(x, (3, 2), ignore_border=False, stride=(2, 1)),
          lambda x: _cref.pool_2d(x, (3, 2), False, (2, 1)), (((2, 2, 6, 5),),), (REAL,), second=False),
    OpRow("pool_2d_sum", lambda x: pool_2d(x, (2, 3), ignore_border=False, mode="sum"),
          lambda x: _cref.pool_2d(x, (2, 3), False, mode="sum"), (((2, 2, 5, 4),),), (REAL,)),
    OpRow("pool_2d_average_inc_pad",
          lambda x: pool_2d(x, (3, 3), ignore_border=True, stride=(2, 2), pad=(1, 1), mode="average_inc_pad"),
          lambda x: _cref.pool_2d(x, (3, 3), True, (2, 2), (1, 1), "average_inc_pad"), (((2, 2, 5, 6),),),
          (REAL,)),
    OpRow("pool_2d_average_exc_pad",
          lambda x: pool_2d(x, (3, 3), ignore_border=True, stride=(2, 2), pad=(1, 1), mode="average_exc_pad"),
          lambda x: _cref.pool_2d(x, (3, 3), True, (2, 2), (1, 1), "average_exc_pad"), (((2, 2, 5, 6),),),
          (REAL,)),
    OpRow("max_pool_grad",
          lambda x, g: MaxPoolGrad((2, 2), False)(x, pool_2d(x, (2, 2), ignore_border=False), g),
          lambda x, g: _cref.max_pool_grad(x, g, (2, 2), False), (((2, 3, 5, 4), (2, 3, 3, 2)),),
          (REAL, REAL), second=False),
    OpRow("max_pool_grad_grad",
          lambda x, h: MaxPoolGradGrad((2, 2), True)(x, pool_2d(x, (2, 2), ignore_border=True), h),
          lambda x, h: _cref.max_pool_grad_grad(x, h, (2, 2), True), (((2, 3, 5, 4), (2, 3, 5, 4)),),
          (REAL, REAL), second=False),
    OpRow("average_pool_grad",
          lambda g: AveragePoolGrad((2, 3), False, (2, 2), mode="average_exc_pad")(T.zeros((2, 3, 5, 6)), g),
          lambda g: _cref.average_pool_grad((2, 3, 5, 6), g, (2, 3), False, (2, 2), mode="average_exc_pad"),
          (((2, 3, 3, 3),),), (REAL,)),
    # ------------------------------------------------------- gradient-only (identity) ops
    OpRow("zero_grad", G.zero_grad, np.copy, UNARY, (REAL,), FLOATS, second=False,
          vjp=lambda g, x: [np.zeros_like(x)], jvp=lambda t, x: np.zeros_like(t[0])),
    OpRow("consider_constant", G.consider_constant, np.copy, M, (REAL,), FLOATS, second=False,
          vjp=lambda g, x: [np.zeros_like(x)], jvp=lambda t, x: np.zeros_like(t[0])),
    OpRow("grad_clip", lambda x: G.grad_clip(x, -0.7, 0.8), np.copy, M, (REAL,), FLOATS, second=False,
          vjp=lambda g, x: [np.clip(g, -0.7, 0.8)], jvp=lambda t, x: t[0]),
    OpRow("grad_scale", lambda x: G.grad_scale(x, -2.5), np.copy, M, (REAL,), FLOATS, second=False,
          vjp=lambda g, x: [-2.5 * g], jvp=lambda t, x: t[0]),
    OpRow("disconnected_grad", G.disconnected_grad, np.copy, M, (REAL,), FLOATS, grad=False),
    # ------------------------------------------------------------- control, debugging
    OpRow("ifelse", ifelse, lambda c, x, y: (x if c else y).copy(), (((), (3, 4), (3, 4)),),
          (MASK, REAL, REAL), FLOATS),
    OpRow("print", lambda x: Print("value of x:", attrs=("shape",))(x), np.copy, M, (REAL,), FLOATS),
    OpRow("scan_recurrence",
          lambda x, h0: nbgrad.scan(lambda x_t, h: T.tanh(h * x_t + x_t), sequences=x, outputs_info=h0)[0],
          lambda x, h0: _recurrence(x, h0), (((4, 3), (3,)),), (REAL, REAL)),
    # ------------------------------------------------------ forms made by rewrites, banded
    OpRow("log_of_softmax", lambda x: LogOfSoftmax(-1)(x), lambda x: np.log(_softmax(x)), M, (REAL,), FLOATS),
    OpRow("log_of_sum_exp", lambda x: LogOfSumExp((1,))(x), lambda x: _special.logsumexp(x, axis=1), M,
          (REAL,), FLOATS),
    OpRow("diagonals", lambda a, b: Diagonals((0, -1))(3, 4, a, b), lambda a, b: _diagonals(3, 4, (0, -1), a, b),
          (((4,), (4,)),), (REAL, REAL)),
    OpRow("diagonals_of", lambda z: T.stack(DiagonalsOf((0, 1, -2))(z)),
          lambda z: np.stack(_diagonals_of(z, (0, 1, -2))), (((4, 3),),), (REAL,)),
    OpRow("one_hot", lambda v: OneHot(*_ONE_HOT)(v), _one_hot, (((3, 2),),), (REAL,)),
    OpRow("one_hot_of", lambda z: OneHotOf(*_ONE_HOT)(z), lambda z: z[np.arange(3), :, [2, 0, 1]],
          (((3, 2, 3),),), (REAL,)),
    OpRow("slice_length", lambda x: SliceLength((0,), "x[0:4]")(x, 4), lambda x: x, (((4,),), ((4, 2),)),
          (REAL,), FLOATS),
    OpRow("length_at_least", lambda n: LengthAtLeast(2, "n")(n), lambda n: n, (((),), ((3,),)),
          (Domain(2, 9),), INTS, grad=False),
    OpRow("blockwise", lambda a, b: Blockwise(Dot(), (True, False))(a, b), np.matmul,
          (((2, 3, 4), (4,)),), (REAL, REAL)),
    # ------------------------------------------------------------ cumulative sums and products
    OpRow("cumsum", lambda x: extra_ops.cumsum(x, axis=1), lambda x: np.cumsum(x, axis=1, dtype=x.dtype),
          (((3, 4),),), (REAL,), NUMBERS),
    OpRow("cumprod", lambda x: extra_ops.cumprod(x), lambda x: np.cumprod(x, dtype=x.dtype), (((2, 3),),),
          (NONZERO,), FLOATS),
    # ------------------------------------------------------------------------ sorting
    OpRow("sort", T.sort, np.sort, (((3, 4),), ((2, 3, 4),)), (REAL,), NUMBERS, second=False),
    OpRow("sort_descending_axis0", lambda x: T.sort(x, 0, descending=True),
          lambda x: np.flip(np.sort(x, 0), 0), (((4, 3),),), (REAL,), NUMBERS, second=False),
    OpRow("sort_flat", lambda x: T.sort(x, None), lambda x: np.sort(x, None), (((3, 4),),), (REAL,),
          FLOATS, second=False),
    OpRow("argsort", T.argsort, lambda x: np.argsort(x, kind="stable"), (((3, 4),), ((5,),)), (REAL,),
          NUMBERS, grad=False),
    OpRow("argsort_descending", lambda x: T.argsort(x, 0, descending=True),
          lambda x: _argsort_descending(x, 0), (((4, 3),),), (REAL,), NUMBERS, grad=False),
    OpRow("topk", lambda x: T.topk(x, 2), lambda x: _topk(x, 2), (((3, 4),),), (REAL,), NUMBERS,
          second=False),
    # ------------------------------------------------------------ Fourier transforms
    OpRow("rfft", lambda x: fft.rfft(x), _rfft_ref, (((2, 6),), ((2, 3, 5),)), (REAL,)),
    OpRow("rfft_ortho", lambda x: fft.rfft(x, norm="ortho"), lambda x: _rfft_ref(x, "ortho"),
          (((3, 7),),), (REAL,)),
    OpRow("irfft", lambda y: fft.irfft(y), _irfft_ref, (((2, 4, 2),), ((2, 3, 3, 2),)), (REAL,)),
    OpRow("irfft_odd_ortho", lambda y: fft.irfft(y, norm="ortho", is_odd=True),
          lambda y: _irfft_ref(y, "ortho", odd=True), (((2, 4, 2),),), (REAL,)),
]

ROWS_BY_NAME = {row.name: row for row in ROWS}
assert len(ROWS_BY_NAME) == len(ROWS), "duplicate row names in the op table"

#: Op classes of nbgrad that have no row, and why. ``test_every_op_has_a_row`` fails for any
#: other op class without a row, and for an entry here that a row covers after all.
EXEMPT = {
    _Placement: "abstract base of OneHot and OneHotOf",
    CAReduce: "abstract base of the reductions (no array function of its own)",
    _ArgReduce: "abstract base of Argmax and Argmin",
    _MaxMin: "abstract base of Max and Min",
    _ConvOp: "abstract base of the convolution ops",
    _PoolOp: "abstract base of the pooling ops",
    _SortBase: "abstract base of SortOp and ArgSortOp",
    G._GradientOp: "abstract base of the gradient-only identity ops",
    _ps.Unary: "abstract base of the unary scalar ops",
    _ps.Binary: "abstract base of the binary scalar ops",
    _ps._Logical: "abstract base of the logical scalar ops",
    _ps.Comparison: "abstract base of the comparison scalar ops",
    _ps._Piecewise: "abstract base of the piecewise scalar ops",
    RandomVariable: "its value is a random draw with no NumPy value to compare to; tests/random checks "
                    "its distributions and seeding",
    InplaceElemwise: "made only by the inplace rewrite from an Elemwise at compile time, which every "
                     "elementwise row's compiled value runs",
    Composite: "made only by the fusion rewrite from chains of Elemwise at compile time, which the "
               "compiled values of the rows run",
    _tl._ListOp: "abstract base of the typed-list ops",
    _tl._CountOfList: "abstract base of the typed-list ops with an int64 scalar result",
    **{op: "takes or makes a Python list of arrays, which the rows' array inputs cannot be, and has "
           "no gradient (as in Theano); tests/test_typed_list.py checks it against Python's list"
       for op in (_tl.GetItem, _tl.Append, _tl.Extend, _tl.Insert, _tl.Remove, _tl.Reverse, _tl.Index,
                  _tl.Count, _tl.Length, _tl.MakeList)},
}


# ---------------------------------------------------------------- eager spellings
#: The row's own function, written with operators and methods that eager tensors share.
SAME = "same"
_F = ne.nn.functional
_GRAD_OP = "a gradient op: eager code reaches it only through backward()"
_NO_CONV = "nbgrad.eager has no convolution or pooling function"
_NO_SET = ("eager item assignment is not recorded for gradients (PyTorch's out-of-place "
           "index_put has no eager spelling)")
_INTERNAL = "an op of the engine's own transforms, not of user code"
_NO_FFT = "nbgrad.eager has no Fourier transform"


def _eager_recurrence(x, h0):
    h, out = h0, []
    for k in range(x.shape[0]):
        h = ne.tanh(h * x[k] + x[k])
        out.append(h)
    return ne.stack(out)


#: By row name: the row's function through ``nbgrad.eager`` (PyTorch's spelling), ``SAME``,
#: or a string saying why it has none. Integer inputs arrive as eager tensors. PyTorch's
#: signatures take one ``dim``; a reduction over several axes uses the engine's signature
#: (``ne.FUNCTIONS``).
EAGER = {
    "add": SAME, "sub": SAME, "mul": SAME, "true_div": SAME, "int_div": SAME, "mod": SAME, "pow": SAME,
    "pow_int": SAME, "maximum": ne.maximum, "minimum": ne.minimum, "arctan2": ne.arctan2,
    "logaddexp": ne.logaddexp, "neg": SAME, "identity": lambda x: x.clone(),
    "lt": SAME, "gt": SAME, "le": SAME, "ge": SAME, "eq": ne.eq, "neq": ne.neq, "and": SAME, "or": SAME,
    "xor": SAME, "invert": SAME, "isnan": ne.isnan, "isinf": ne.isinf, "abs": SAME, "sqr": ne.square,
    "sqrt": ne.sqrt, "reciprocal": ne.reciprocal, "exp": ne.exp, "exp2": ne.exp2, "log": ne.log,
    "log2": ne.log2, "log10": ne.log10, "log1p": ne.log1p, "expm1": ne.expm1, "sin": ne.sin, "cos": ne.cos,
    "tan": ne.tan, "arcsin": ne.arcsin, "arccos": ne.arccos, "arctan": ne.arctan, "sinh": ne.sinh,
    "cosh": ne.cosh, "tanh": ne.tanh, "arcsinh": ne.arcsinh, "arccosh": ne.arccosh, "arctanh": ne.arctanh,
    "sigmoid": ne.sigmoid, "softplus": ne.softplus, "log_sigmoid": lambda x: ne.log(ne.sigmoid(x)),
    "erf": ne.erf, "erfc": ne.erfc, "relu": ne.relu, "unit": _INTERNAL, "floor": ne.floor, "ceil": ne.ceil, "round": ne.round,
    "sign": ne.sign, "cast_float32": lambda x: x.float(), "cast_int32": lambda x: x.int(),
    "switch": ne.where, "where_int_cond": lambda c, x, y: ne.where(c > 0, x, y), "clip": ne.clamp,
    "clip_const": lambda x: ne.clamp(x, -0.5, 0.5),
    "sum": ne.sum, "sum_axis": lambda x: x.sum(dim=1),
    "sum_axes_keepdims": lambda x: ne.sum(x, dim=(0, 2), keepdim=True), "prod": lambda x: ne.prod(x, dim=0),
    "prod_all": ne.prod, "max": lambda x: ne.max(x, dim=1)[0],
    "max_all_keepdims": lambda x: ne.FUNCTIONS["max"](x, keepdims=True),
    "min": lambda x: ne.FUNCTIONS["min"](x, axis=(0, 1)),
    "argmax": lambda x: ne.argmax(x, dim=1), "argmax_all": ne.argmax,
    "argmin": lambda x: ne.argmin(x, dim=0, keepdim=True), "any": lambda x: ne.any(x, dim=0),
    "all": lambda x: ne.all(x > 0), "mean": lambda x: ne.mean(x, dim=0), "mean_all": SAME,
    "var": lambda x: ne.var(x, dim=1, unbiased=False, keepdim=True), "std_ddof": ne.std,
    "dot": ne.dot, "matmul": SAME, "outer": ne.outer,
    "tensordot": lambda a, b: ne.tensordot(a, b, [[0, 2], [1, 0]]), "tensordot_int": lambda a, b: ne.tensordot(a, b, 1),
    "batched_dot": ne.bmm, "batched_dot_vectors": ne.batched_dot,
    "shape": "an eager tensor's shape is a Python tuple, not a computed value",
    "shape_i": "an eager tensor's shape is a Python tuple, not a computed value",
    "transpose": SAME, "transpose_axes": lambda x: x.permute(1, 2, 0),
    "dimshuffle": lambda x: ne.dimshuffle(x, (1, "x", 0)), "swapaxes": lambda x: ne.swapaxes(x, 0, 2),
    "reshape": SAME, "reshape_symbolic": lambda x, n: x.reshape(int(n), -1), "flatten": SAME,
    "flatten_ndim2": lambda x: ne.flatten(x, 1), "concatenate": lambda x, y: ne.cat([x, y, x], dim=1),
    "stack": lambda x, y: ne.stack([x, y], dim=1), "stack_scalars": lambda x, y: ne.stack([x, y, x]),
    "arange": lambda n: ne.arange(int(n)), "arange_float": lambda a, b: ne.arange(int(a), int(b), 0.5, dtype=ne.float64),
    "eye": "PyTorch's eye has no diagonal offset k",
    "zeros": lambda n: ne.zeros(int(n), 2, dtype=ne.float64), "ones": lambda n: ne.ones(int(n), dtype=ne.int32),
    "zeros_like": ne.zeros_like, "ones_like": ne.ones_like, "alloc": lambda x: ne.broadcast_to(x, (2, 3, 4)),
    "sum_to_shape": _INTERNAL, "check_sizes": _INTERNAL,
    "specify_shape": lambda x: ne.specify_shape(x, (x.shape[0], None)),
    "slice": SAME, "slice_negative": SAME, "int_index": SAME,
    "symbolic_index": lambda x, i: x[int(i), 1:int(i) + 2], "newaxis_ellipsis": SAME,
    "int_array_index": SAME, "int_array_symbolic": SAME, "int_arrays_pair": SAME, "bool_mask": SAME,
    "bool_mask_of_x": SAME, "set_subtensor": _NO_SET, "inc_subtensor": _NO_SET,
    "inc_subtensor_repeated": _NO_SET, "set_subtensor_mask": _NO_SET, "set_subtensor_symbolic": _NO_SET,
    "softmax": lambda x: ne.softmax(x, dim=-1), "softmax_axis0": lambda x: ne.softmax(x, dim=0),
    "log_softmax": lambda x: ne.log_softmax(x, dim=-1), "logsumexp": lambda x: ne.logsumexp(x, dim=1),
    "categorical_crossentropy": ne.categorical_crossentropy,
    "softmax_cross_entropy": lambda z, y: _F.cross_entropy(z, y, reduction="none"),
    "softmax_cross_entropy_grad": _GRAD_OP, "binary_crossentropy": ne.binary_crossentropy,
    "conv2d": _NO_CONV, "conv2d_full_strided_correlation": _NO_CONV, "conv2d_half_dilated": _NO_CONV,
    "conv2d_padded_strided": _NO_CONV, "conv2d_grad_inputs": _GRAD_OP, "conv2d_grad_weights": _GRAD_OP,
    "pool_2d_max": _NO_CONV, "pool_2d_max_partial_windows": _NO_CONV, "pool_2d_sum": _NO_CONV,
    "pool_2d_average_inc_pad": _NO_CONV, "pool_2d_average_exc_pad": _NO_CONV, "max_pool_grad": _GRAD_OP,
    "max_pool_grad_grad": _GRAD_OP, "average_pool_grad": _GRAD_OP,
    "zero_grad": "eager stops gradients only with detach(), which disconnects instead of giving zeros",
    "consider_constant": "eager stops gradients only with detach(), which disconnects instead of giving zeros",
    "grad_clip": "eager has no gradient-clipping identity (an autograd.Function would be user code)",
    "grad_scale": "eager has no gradient-scaling identity (an autograd.Function would be user code)",
    "disconnected_grad": lambda x: x.detach(),
    "ifelse": "eager control flow is Python's if on a value; IfElse is its symbolic form",
    "print": "a debugging op of compiled graphs; eager values are printed as they are",
    "scan_recurrence": _eager_recurrence,
    "log_of_softmax": lambda x: ne.log_softmax(x, dim=-1), "log_of_sum_exp": lambda x: ne.logsumexp(x, dim=1),
    "diagonals": _INTERNAL, "diagonals_of": _INTERNAL, "one_hot": _INTERNAL, "one_hot_of": _INTERNAL, "blockwise": _INTERNAL,
    "slice_length": _INTERNAL, "length_at_least": _INTERNAL,
    "cumsum": "nbgrad.eager has no cumulative sum", "cumprod": "nbgrad.eager has no cumulative product",
    "sort": lambda x: ne.sort(x).values, "sort_descending_axis0": lambda x: x.sort(0, descending=True)[0],
    "sort_flat": lambda x: ne.sort(x.flatten()).values, "argsort": ne.argsort,
    "argsort_descending": lambda x: x.argsort(dim=0, descending=True), "topk": lambda x: ne.topk(x, 2).values,
    "rfft": _NO_FFT, "rfft_ortho": _NO_FFT, "irfft": _NO_FFT, "irfft_odd_ortho": _NO_FFT,
}
