"""Elementwise math functions, reductions and products.

Every elementwise function is one ``Elemwise`` instance over a scalar op from
``nbgrad.scalar``; reductions and products are Op classes that own their
value, shape and derivative rules.
"""

import builtins
import copy

import numpy as np

from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.graph.nograd import disconnected_type, grad_not_implemented
from nbgrad.scalar import basic as ps
from nbgrad.tensor.basic import as_tensor_variable, constant
from nbgrad.tensor.batching import is_batched, pad_after_batch
from nbgrad.tensor.elemwise import DimShuffle, Elemwise, broadcast_shapes, cast, sum_to
from nbgrad.tensor.shape import alloc, reshape, shape_i
from nbgrad.tensor.type import TensorType, discrete_dtypes


# NumPy 2 ufuncs take ``out=...``: return an array, a 0-d one for a full reduction.
_REDUCE_OUT_ELLIPSIS = np.lib.NumpyVersion(np.__version__) >= "2.0.0"
__all__ = [
    # elementwise
    "add", "sub", "mul", "true_div", "int_div", "mod", "pow", "neg", "abs", "sqr", "sqrt",
    "reciprocal", "exp", "exp2", "log", "log2", "log10", "log1p", "expm1", "sin", "cos",
    "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh",
    "arctanh", "sigmoid", "softplus", "erf", "erfc", "relu", "floor", "ceil", "round",
    "sign", "maximum", "minimum", "arctan2", "logaddexp", "lt", "gt", "le", "ge", "eq",
    "neq", "and_", "or_", "xor", "invert", "isnan", "isinf", "switch", "clip",
    "tensor_copy", "true_divide", "floor_divide", "power", "negative", "where",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "abs_", "sgn", "inv",
    "iround", "square", "cast", "zeros_like", "ones_like", "full_like", "second",
    # reductions
    "CAReduce", "Sum", "Prod", "Max", "Min", "Argmax", "Argmin", "Any", "All", "sum",
    "prod", "max", "min", "argmax", "argmin", "max_and_argmax", "any", "all", "mean",
    "var", "std", "norm",
    # products
    "Dot", "Matmul", "dot", "matmul", "swapaxes", "outer", "tensordot", "batched_dot",
]
# --------------------------------------------------------------- elementwise
_ELEMWISE = {}


def _lift(name):
    op = Elemwise(ps.scalar_ops[name]())
    _ELEMWISE[name] = op
    return op


add, sub, mul, true_div, int_div, mod, pow = (
    _lift(n) for n in ("add", "sub", "mul", "true_div", "int_div", "mod", "pow")
)
neg, abs, sqr, sqrt, reciprocal = (_lift(n) for n in ("neg", "abs", "sqr", "sqrt", "reciprocal"))
exp, exp2, log, log2, log10, log1p, expm1 = (
    _lift(n) for n in ("exp", "exp2", "log", "log2", "log10", "log1p", "expm1")
)
sin, cos, tan, arcsin, arccos, arctan = (
    _lift(n) for n in ("sin", "cos", "tan", "arcsin", "arccos", "arctan")
)
sinh, cosh, tanh, arcsinh, arccosh, arctanh = (
    _lift(n) for n in ("sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh")
)
sigmoid, softplus, erf, erfc, relu = (_lift(n) for n in ("sigmoid", "softplus", "erf", "erfc", "relu"))
floor, ceil, round, sign = (_lift(n) for n in ("floor", "ceil", "round", "sign"))
maximum, minimum, arctan2, logaddexp = (_lift(n) for n in ("maximum", "minimum", "arctan2", "logaddexp"))
lt, gt, le, ge, eq, neq = (_lift(n) for n in ("lt", "gt", "le", "ge", "eq", "neq"))
and_, or_, xor, invert = (_lift(n) for n in ("and_", "or_", "xor", "invert"))
isnan, isinf = _lift("isnan"), _lift("isinf")
switch, clip = _lift("switch"), _lift("clip")
tensor_copy = _lift("identity")

true_divide, floor_divide, power, negative = true_div, int_div, pow, neg
where = switch
bitwise_and, bitwise_or, bitwise_xor, bitwise_not = and_, or_, xor, invert
abs_, sgn, inv = abs, sign, reciprocal  # Theano's names


def iround(x):
    """``x`` rounded half to even and cast to int64 (Theano's ``iround``).

    >>> import nbgrad.tensor as T
    >>> x = T.dvector("x")
    >>> T.iround(x).eval({x: [0.5, 1.5, -2.7]})
    array([ 0,  2, -3])
    """
    return cast(round(x), "int64")


def square(x):
    return sqr(x)


def zeros_like(x, dtype=None):
    x = as_tensor_variable(x)
    return alloc(constant(np.zeros((), dtype=dtype or x.dtype)), *_shape_list(x))


def symbolic_zero(x):
    """``zeros_like(x)`` marked as an exact zero gradient (see ``nbgrad.graph.nograd.is_symbolic_zero``)."""
    z = zeros_like(x)
    z.tag.symbolic_zero = True
    return z


def ones_like(x, dtype=None):
    x = as_tensor_variable(x)
    return alloc(constant(np.ones((), dtype=dtype or x.dtype)), *_shape_list(x))


def full_like(x, fill_value, dtype=None):
    x = as_tensor_variable(x)
    return alloc(cast(fill_value, dtype or x.dtype), *_shape_list(x))


def _shape_list(x):
    return [shape_i(x, i) for i in range(x.ndim)]


def second(x, y):
    """``y`` broadcast to the shape of ``x``."""
    return alloc(y, *_shape_list(x))


# ----------------------------------------------------------------- reductions
def _normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    out = []
    for a in axis:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of bounds for a tensor of {ndim} dimension(s)")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def expand_reduced(g, ndim, axis):
    """``g``, reduced over ``axis`` of an ``ndim``-dimensional array, with those axes put back
    as broadcastable dimensions (what a reduction's gradient broadcasts from)."""
    order, j = [], 0
    for i in range(ndim):
        if i in axis:
            order.append("x")
        else:
            order.append(j)
            j += 1
    return DimShuffle(g.ndim, order)(g)


class CAReduce(Op):
    """Reduce over ``axis`` (a sorted tuple) with the array function ``nfunc``."""

    __props__ = ("axis",)
    nfunc = None
    #: The NumPy ufunc whose ``reduce`` computes ``nfunc`` (the CPU kernel calls it
    #: directly, skipping ``np.sum``'s argument handling); None where there is none.
    ufunc = None
    symbol = None

    def __init__(self, axis):
        self.axis = tuple(axis)

    def __str__(self):
        return f"{type(self).__name__}{{axis={list(self.axis)}}}"

    def output_dtype(self, dtype):
        return np.asarray(getattr(np, self.nfunc)(np.ones((1,), dtype=dtype))).dtype.name

    def make_node(self, x):
        x = as_tensor_variable(x)
        for a in self.axis:
            if a >= x.ndim:
                raise ValueError(f"{self}: axis {a} out of range for {x} with {x.ndim} dimension(s)")
        shape = tuple(s for i, s in enumerate(x.type.shape) if i not in self.axis)
        return Apply(self, [x], [TensorType(self.output_dtype(x.dtype), shape)()])

    def perform(self, node, inputs, xp):
        return xp.asarray(getattr(xp, self.nfunc)(inputs[0], axis=self.axis))

    def make_thunk(self, node, xp):
        fn = getattr(xp, self.nfunc)
        axis = self.axis
        if self.ufunc is not None and xp is np:
            fn = self.ufunc.reduce
            if len(axis) == node.inputs[0].ndim:
                axis = None  # every axis: the same reduction, without the tuple to read
            if _REDUCE_OUT_ELLIPSIS:  # an array even for a full reduction, without asarray
                return lambda x: fn(x, axis=axis, out=...)
        asarray = xp.asarray
        return lambda x: asarray(fn(x, axis=axis))

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(s for i, s in enumerate(input_shapes[0]) if i not in self.axis)]

    def L_op(self, inputs, outputs, output_grads):
        """x̄ from ``_input_grad``; integer inputs are disconnected."""

        (x,) = inputs
        if x.dtype in discrete_dtypes:
            return [disconnected_type()]
        if self._input_grad is None:
            return [grad_not_implemented(self, 0, x)]
        return [self._input_grad(x, outputs[0], output_grads[0])]

    #: ``_input_grad(x, z, gz) -> x̄``, defined by each differentiable reduction.
    _input_grad = None

    def vectorize_node(self, node, inputs):
        """The same reduction over the core axes, each moved up by one."""
        new_op = copy.copy(self)
        new_op.__dict__.pop("_props_hash", None)  # its identity changes with the axes
        new_op.axis = tuple(a + 1 for a in self.axis)
        return new_op.make_node(inputs[0]).outputs

    def _expand(self, g, x):
        return expand_reduced(g, x.ndim, self.axis)


class Sum(CAReduce):
    """Sum over axes; x̄ = broadcast(z̄) back to x's shape."""

    nfunc = "sum"
    ufunc = np.add

    def _input_grad(self, x, z, gz):
        return cast(second(x, self._expand(gz, x)), x.dtype)

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else type(self)(self.axis)(eval_points[0])]


class Prod(CAReduce):
    """Product over axes; x̄ = z̄·∂z/∂x and ż = Σ ∂z/∂x·ẋ, with ∂z/∂xᵢ the product of the others.

    That product is z/xᵢ when no entry of the group is zero. With exactly one zero it is
    the product of the nonzero entries for the zero one and 0 for the rest; with two
    zeros or more it is 0 everywhere (Theano's and JAX's answers), never z/0. The
    partials are written so that their own derivatives (the Hessian) are right at zeros
    too: the zeros enter them as factors, not only as the choice of a branch.
    """

    nfunc = "prod"
    ufunc = np.multiply

    def _partials(self, x):
        """∂z/∂x by the count of zeros in each reduced group (see the class docstring)."""
        zero = eq(x, 0)
        one, none = ones_like(x), zeros_like(x)
        safe = switch(zero, one, x)  # zeros replaced by 1: no division by zero anywhere
        nonzero_prod = self._expand(Prod(self.axis)(safe), x)
        zero_prod = self._expand(Prod(self.axis)(switch(zero, x, one)), x)  # 1, or 0 with zeros
        zero_sum = self._expand(Sum(self.axis)(switch(zero, x, none)), x)
        zeros = self._expand(Sum(self.axis)(cast(zero, "int64")), x)
        # at a zero: the nonzero product times the other zeros (x_k when there are two)
        other_zeros = switch(eq(zeros, 1), one, switch(eq(zeros, 2), zero_sum - x, none))
        return switch(zero, nonzero_prod * other_zeros, zero_prod * nonzero_prod / safe)

    def _input_grad(self, x, z, gz):
        return cast(self._expand(gz, x) * self._partials(x), x.dtype)

    def R_op(self, inputs, eval_points):
        (x,), (ev,) = inputs, eval_points
        if ev is None:
            return [None]
        return [Sum(self.axis)(self._partials(x) * ev)]


class _MaxMin(CAReduce):
    """The gradient goes to the extremal entries, shared equally between ties."""

    def output_dtype(self, dtype):
        return dtype

    def _mask(self, x, z):
        m = cast(eq(x, self._expand(z, x)), x.dtype)
        return m / self._expand(Sum(self.axis)(m), x)

    def _input_grad(self, x, z, gz):
        return self._mask(x, z) * self._expand(gz, x)

    def R_op(self, inputs, eval_points):
        (x,), (ev,) = inputs, eval_points
        if ev is None:
            return [None]
        return [Sum(self.axis)(self._mask(x, self(x)) * ev)]


class Max(_MaxMin):
    nfunc = "max"
    ufunc = np.maximum


class Min(_MaxMin):
    nfunc = "min"
    ufunc = np.minimum


class _ArgReduce(CAReduce):
    """Index of the extremum along one axis (or of the flattened array); not differentiable."""

    def output_dtype(self, dtype):
        return "int64"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if len(self.axis) not in (1, x.ndim):
            raise ValueError(f"{type(self).__name__} reduces one axis or all axes, got {self.axis}")
        return super().make_node(x)

    def perform(self, node, inputs, xp):
        (x,) = inputs
        if len(self.axis) == 1 and x.ndim > 1:
            return xp.asarray(getattr(xp, self.nfunc)(x, axis=self.axis[0]))
        return xp.asarray(getattr(xp, self.nfunc)(x.reshape(-1) if x.ndim else x))

    def make_thunk(self, node, xp):
        return lambda x: self.perform(node, (x,), xp)

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type()]

    def R_op(self, inputs, eval_points):
        return [None]

    def vectorize_node(self, node, inputs):
        """Along the next axis; over all core axes of a matrix or more, along the flattened entries."""
        (x,) = inputs
        core_ndim = node.inputs[0].ndim
        if core_ndim > 1 and len(self.axis) == core_ndim:
            x = reshape(x, (shape_i(x, 0), -1))
            return [type(self)((1,))(x)]
        return [type(self)(tuple(a + 1 for a in self.axis))(x)]


class Argmax(_ArgReduce):
    nfunc = "argmax"


class Argmin(_ArgReduce):
    nfunc = "argmin"


class Any(CAReduce):
    nfunc = "any"

    def L_op(self, inputs, outputs, output_grads):
        return [disconnected_type()]

    def R_op(self, inputs, eval_points):
        return [None]


class All(Any):
    nfunc = "all"


def _reduce(cls, x, axis, keepdims, dtype=None):
    x = as_tensor_variable(x)
    if dtype is not None:
        x = cast(x, dtype)
    axes = _normalize_axis(axis, x.ndim)
    if not axes and cls is not Sum and cls is not Prod:
        out = x
    else:
        out = cls(axes)(x)
    if keepdims:
        order, j = [], 0
        for i in range(x.ndim):
            if i in axes:
                order.append("x")
            else:
                order.append(j)
                j += 1
        out = DimShuffle(out.ndim, order)(out)
    return out


def sum(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Sum of elements over ``axis`` (all axes when None)."""
    return _reduce(Sum, x, axis, keepdims, dtype)


def prod(x, axis=None, dtype=None, keepdims=False, acc_dtype=None, no_zeros_in_input=False):
    """Product of elements over ``axis`` (all axes when None).

    The gradient of each entry is the product of the others, also where entries are
    zero (see ``Prod``).

    >>> import nbgrad.tensor as T
    >>> x = T.dmatrix("x")
    >>> T.prod(x, axis=1).eval({x: [[1.0, 2.0], [3.0, 4.0]]})
    array([ 2., 12.])
    """
    return _reduce(Prod, x, axis, keepdims, dtype)


def max(x, axis=None, keepdims=False):
    """Largest element over ``axis``; ties share the gradient equally.

    >>> import nbgrad.tensor as T
    >>> x = T.dmatrix("x")
    >>> T.max(x, axis=0).eval({x: [[1.0, 5.0], [3.0, 4.0]]})
    array([3., 5.])
    """
    return _reduce(Max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    """Smallest element over ``axis``; ties share the gradient equally.

    >>> import nbgrad.tensor as T
    >>> x = T.dmatrix("x")
    >>> T.min(x, axis=1, keepdims=True).eval({x: [[1.0, 5.0], [3.0, 4.0]]})
    array([[1.],
           [3.]])
    """
    return _reduce(Min, x, axis, keepdims)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest element (of the flattened array when ``axis`` is None).

    Not differentiable: gradients through it are disconnected.

    >>> import nbgrad.tensor as T
    >>> x = T.dmatrix("x")
    >>> T.argmax(x, axis=1).eval({x: [[1.0, 5.0], [3.0, 2.0]]})
    array([1, 0])
    """
    x = as_tensor_variable(x)
    out = _ArgHelper(Argmax, x, axis)
    return _keep(out, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest element (of the flattened array when ``axis`` is None).

    >>> import nbgrad.tensor as T
    >>> x = T.dmatrix("x")
    >>> T.argmin(x).eval({x: [[1.0, 5.0], [0.0, 2.0]]})
    array(2)
    """
    x = as_tensor_variable(x)
    out = _ArgHelper(Argmin, x, axis)
    return _keep(out, x, axis, keepdims)


def _ArgHelper(cls, x, axis):
    if axis is None:
        return cls(tuple(range(x.ndim)))(x)
    return cls(_normalize_axis(axis, x.ndim))(x)


def _keep(out, x, axis, keepdims):
    if not keepdims:
        return out
    axes = _normalize_axis(axis, x.ndim)
    order, j = [], 0
    for i in range(x.ndim):
        if i in axes:
            order.append("x")
        else:
            order.append(j)
            j += 1
    return DimShuffle(out.ndim, order)(out)


def max_and_argmax(x, axis=None):
    return max(x, axis), argmax(x, axis)


def any(x, axis=None, keepdims=False):
    return _reduce(Any, x, axis, keepdims)


def all(x, axis=None, keepdims=False):
    return _reduce(All, x, axis, keepdims)


def _count(x, axes):
    n = None
    for a in axes:
        s = shape_i(x, a)
        n = s if n is None else n * s
    return n if n is not None else constant(np.int64(1))


def mean(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Arithmetic mean over ``axis``; integer inputs give float64 (as NumPy)."""
    x = as_tensor_variable(x)
    s = sum(x, axis=axis, dtype=dtype, keepdims=keepdims)
    if s.dtype in discrete_dtypes:
        s = cast(s, "float64")
    n = _count(x, _normalize_axis(axis, x.ndim))
    return s / cast(n, s.dtype)


def var(x, axis=None, ddof=0, keepdims=False, corrected=False):
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (as ``numpy.var``).

    >>> import nbgrad.tensor as T
    >>> x = T.dmatrix("x")
    >>> T.var(x, axis=1).eval({x: [[1.0, 3.0], [2.0, 2.0]]})
    array([1., 0.])
    """
    x = as_tensor_variable(x)
    if corrected:
        ddof = 1
    centered = x - mean(x, axis=axis, keepdims=True)
    ss = sum(sqr(centered), axis=axis, keepdims=keepdims)
    n = _count(x, _normalize_axis(axis, x.ndim))
    if ddof:
        n = n - ddof
    return ss / cast(n, ss.dtype)


def std(x, axis=None, ddof=0, keepdims=False, corrected=False):
    """Standard deviation over ``axis`` (as ``numpy.std``).

    >>> import nbgrad.tensor as T
    >>> x = T.dmatrix("x")
    >>> T.std(x, ddof=1).eval({x: [[1.0, 3.0]]})
    array(1.41421356)
    """
    return sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected))


def norm(x, L=2, axis=None):
    """The L-norm of ``x`` (1, 2 or inf) over ``axis`` (all axes when None)."""
    if L == 2:
        return sqrt(sum(sqr(x), axis=axis))
    if L == 1:
        return sum(abs(x), axis=axis)
    if L in (np.inf, "inf"):
        return max(abs(x), axis=axis)
    return sum(abs(x) ** L, axis=axis) ** (1.0 / L)


# ------------------------------------------------------------------- products
class Dot(Op):
    """``numpy.dot`` for operands of 1 or 2 dimensions.

    Rules (z = a·b): ā = z̄·bᵀ, b̄ = aᵀ·z̄ (outer products for vectors);
    ż = ȧ·b + a·ḃ.
    """

    symbol = "@"

    def make_node(self, a, b):
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim not in (1, 2) or b.ndim not in (1, 2):
            raise TypeError(
                f"dot takes operands of 1 or 2 dimensions, got {a.ndim} and {b.ndim}; "
                "use tensordot or matmul for higher ranks"
            )
        ka = a.type.shape[-1]
        kb = b.type.shape[0]
        if ka is not None and kb is not None and ka != kb:
            raise ValueError(f"dot: shapes {a.type.shape} and {b.type.shape} are not aligned ({ka} != {kb})")
        shape = a.type.shape[:-1] + b.type.shape[1:]
        shape = tuple(None if s == 1 else s for s in shape)
        dtype = ps.upcast(a.dtype, b.dtype)
        return Apply(self, [a, b], [TensorType(dtype, shape)()])

    def perform(self, node, inputs, xp):
        return xp.asarray(xp.dot(*inputs))

    def make_thunk(self, node, xp):
        if node.outputs[0].ndim == 0:
            dot, asarray = xp.dot, xp.asarray
            return lambda a, b: asarray(dot(a, b))
        return xp.dot

    def infer_shape(self, fgraph, node, input_shapes):
        sa, sb = input_shapes
        return [tuple(sa[:-1]) + tuple(sb[1:])]

    def dim_rule(self, node, out, d):
        a, b = node.inputs
        return ("via", a, d) if d < a.ndim - 1 else ("via", b, d - (a.ndim - 1) + 1)

    def allocates(self, out):
        return out.ndim > 0  # a 0-d result may be a NumPy scalar, not a buffer

    def L_op(self, inputs, outputs, output_grads):
        a, b = inputs
        (gz,) = output_grads
        if a.ndim == 1 and b.ndim == 1:
            ga, gb = gz * b, gz * a
        elif a.ndim == 1:  # (k,) · (k, n) -> (n,)
            ga, gb = dot(b, gz), outer(a, gz)
        elif b.ndim == 1:  # (m, k) · (k,) -> (m,)
            ga, gb = outer(gz, b), dot(a.T, gz)
        else:
            ga, gb = dot(gz, b.T), dot(a.T, gz)
        return [_grad_cast(ga, a), _grad_cast(gb, b)]

    def R_op(self, inputs, eval_points):
        return _bilinear_R_op(dot, inputs, eval_points)

    def vectorize_node(self, node, inputs):
        """A matrix product when only a vector operand is batched; else ``matmul`` over the batch."""
        a, b = inputs
        a0, b0 = node.inputs
        ba, bb = is_batched(a, a0), is_batched(b, b0)
        if ba and not bb and a0.ndim == 1:
            return [dot(a, b)]  # (B, k)·(k[, m]) is one matrix product
        if bb and not ba and b0.ndim == 1:
            return [dot(b, a.T if a0.ndim == 2 else a)]  # rows of b times aᵀ
        left = pad_after_batch(a, 2) if ba and a0.ndim == 1 else a
        if not ba and a0.ndim == 1:
            left = a.dimshuffle("x", 0)
        right = b.dimshuffle(0, 1, "x") if bb and b0.ndim == 1 else b
        if not bb and b0.ndim == 1:
            right = b.dimshuffle(0, "x")
        out = matmul(left, right)
        if b0.ndim == 1:
            out = out[..., 0]
        if a0.ndim == 1:
            out = out[..., 0, :] if b0.ndim == 2 else out[..., 0]
        return [out]

    def vectorize_banded_node(self, node, inputs, bands):
        """A diagonal batch times a matrix scales its rows: diag(d)·b is d[:, None] * b."""
        banded = bands.banded_indices(inputs)
        if banded == [0] and node.inputs[0].ndim == 1:
            band, other = bands[inputs[0]], inputs[1]
            if set(band.diags) == {0} and other.ndim == 2:
                return [band.diags[0].dimshuffle(0, "x") * other]
        elif banded == [1] and node.inputs[1].ndim == 1:
            band, other = bands[inputs[1]], inputs[0]
            if set(band.diags) == {0} and other.ndim == 2:  # rows of diag(d) · aᵀ
                return [band.diags[0].dimshuffle(0, "x") * other.T]
        return None


def _bilinear_R_op(product, inputs, eval_points):
    """Forward rule of a bilinear product: (a·b)˙ = ȧ·b + a·ḃ."""
    (a, b), (ea, eb) = inputs, eval_points
    terms = []
    if ea is not None:
        terms.append(product(ea, b))
    if eb is not None:
        terms.append(product(a, eb))
    if not terms:
        return [None]
    return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


def _grad_cast(g, x):
    if x.dtype in discrete_dtypes:
        return disconnected_type()
    return cast(g, x.dtype)


_dot = Dot()


def dot(a, b):
    """Dot product with ``numpy.dot`` semantics (scalars multiply)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim > 2 or b.ndim > 2:
        return tensordot(a, b, [[a.ndim - 1], [builtins.max(b.ndim - 2, 0)]])
    return _dot(a, b)


class Matmul(Op):
    """``numpy.matmul`` for operands of at least 2 dimensions (batched over leading axes)."""

    symbol = "@"

    def make_node(self, a, b):
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim < 2 or b.ndim < 2:
            raise TypeError("Matmul takes operands of at least 2 dimensions; use matmul()")
        batch = broadcast_shapes(a.type.shape[:-2], b.type.shape[:-2])
        shape = batch + (a.type.shape[-2], b.type.shape[-1])
        return Apply(self, [a, b], [TensorType(ps.upcast(a.dtype, b.dtype), shape)()])

    def perform(self, node, inputs, xp):
        return xp.matmul(*inputs)

    def make_thunk(self, node, xp):
        return xp.matmul

    def allocates(self, out):
        return out.ndim > 0  # a 0-d result may be a NumPy scalar, not a buffer

    def infer_shape(self, fgraph, node, input_shapes):
        sa, sb = input_shapes
        ta, tb = (x.type.shape[:-2] for x in node.inputs)
        n = builtins.max(len(ta), len(tb))
        batch = []
        for k in range(n):
            cands = [
                s[k - n + len(s)]
                for s, t in ((sa[:-2], ta), (sb[:-2], tb))
                if k - n + len(s) >= 0 and t[k - n + len(t)] != 1
            ]
            size = cands[0] if cands else 1
            for c in cands[1:]:
                size = maximum(size, c)
            batch.append(size)
        return [tuple(batch) + (sa[-2], sb[-1])]

    def L_op(self, inputs, outputs, output_grads):
        a, b = inputs
        (gz,) = output_grads
        ga = matmul(gz, swapaxes(b, -1, -2))
        gb = matmul(swapaxes(a, -1, -2), gz)
        return [_grad_cast(_sum_batch(ga, a), a), _grad_cast(_sum_batch(gb, b), b)]

    def R_op(self, inputs, eval_points):
        return _bilinear_R_op(matmul, inputs, eval_points)

    def vectorize_node(self, node, inputs):
        """The batch axis is one more leading axis, after padding the operands to a common rank."""
        a, b = inputs
        a0, b0 = node.inputs
        core = builtins.max(a0.ndim, b0.ndim)
        a = pad_after_batch(a, core) if is_batched(a, a0) else a
        b = pad_after_batch(b, core) if is_batched(b, b0) else b
        return [self.make_node(a, b).outputs[0]]


def _sum_batch(g, x):
    """Sum the leading batch axes that ``x`` lacks or broadcasts."""
    extra = g.ndim - x.ndim
    if extra:
        g = sum(g, axis=tuple(range(extra)))
    return sum_to(g, x, runtime=True)


_matmul = Matmul()


def swapaxes(x, a1, a2):
    x = as_tensor_variable(x)
    order = list(range(x.ndim))
    a1, a2 = a1 % x.ndim, a2 % x.ndim
    order[a1], order[a2] = order[a2], order[a1]
    return DimShuffle(x.ndim, order)(x)


def matmul(a, b):
    """Matrix product with ``numpy.matmul`` semantics (the ``@`` operator).

    Leading axes are batch axes and broadcast; a vector operand is promoted and
    the added axis removed again.

    >>> import nbgrad.tensor as T
    >>> m, v = T.dmatrix("m"), T.dvector("v")
    >>> (m @ v).eval({m: [[1.0, 2.0], [3.0, 4.0]], v: [1.0, 1.0]})
    array([3., 7.])
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: operands must not be scalars (use * to scale)")
    if a.ndim <= 2 and b.ndim <= 2:
        return _dot(a, b)
    if a.ndim == 1:
        return matmul(a.dimshuffle("x", 0), b)[..., 0, :]
    if b.ndim == 1:
        return matmul(a, b.dimshuffle(0, "x"))[..., 0]
    return _matmul(a, b)


def outer(x, y):
    """Outer product of two vectors (other shapes are flattened first, as ``numpy.outer``).

    >>> import nbgrad.tensor as T
    >>> v = T.dvector("v")
    >>> T.outer(v, v).eval({v: [1.0, 2.0]})
    array([[1., 2.],
           [2., 4.]])
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim != 1 or y.ndim != 1:
        x, y = x.flatten(), y.flatten()
    return x.dimshuffle(0, "x") * y.dimshuffle("x", 0)


def tensordot(a, b, axes=2):
    """``numpy.tensordot``: contract ``axes`` of ``a`` with those of ``b``.

    ``axes`` is an int (the last ``axes`` axes of ``a`` with the first of ``b``) or a
    pair of axis lists.

    >>> import nbgrad.tensor as T
    >>> a, b = T.dmatrices("a", "b")
    >>> T.tensordot(a, b, [[0], [0]]).eval({a: [[1.0, 2.0]], b: [[3.0, 4.0]]})
    array([[3., 4.],
           [6., 8.]])
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if isinstance(axes, (int, np.integer)):
        axes_a = list(range(a.ndim - axes, a.ndim))
        axes_b = list(range(axes))
    else:
        axes_a, axes_b = axes
        axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
    axes_a = [x % a.ndim for x in axes_a]
    axes_b = [x % b.ndim for x in axes_b]
    if len(axes_a) != len(axes_b):
        raise ValueError(f"tensordot: axes {axes_a} and {axes_b} differ in length")
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [i for i in range(b.ndim) if i not in axes_b]
    at = a.dimshuffle(free_a + axes_a) if free_a + axes_a != list(range(a.ndim)) else a
    bt = b.dimshuffle(axes_b + free_b) if axes_b + free_b != list(range(b.ndim)) else b
    k = _prod_shapes([shape_i(a, i) for i in axes_a])
    a2 = reshape(at, (-1, k)) if free_a else reshape(at, (1, k))
    b2 = reshape(bt, (k, -1)) if free_b else reshape(bt, (k, 1))
    out_shape = [shape_i(a, i) for i in free_a] + [shape_i(b, i) for i in free_b]
    res = _dot(a2, b2)
    return reshape(res, out_shape) if out_shape else reshape(res, ())


def _prod_shapes(shapes):
    if not shapes:
        return constant(np.int64(1))
    out = shapes[0]
    for s in shapes[1:]:
        out = out * s
    return out


def batched_dot(a, b):
    """Per-example products: (B, n, m)·(B, m, p) -> (B, n, p); (B, n)·(B, n) -> (B,).

    >>> import nbgrad.tensor as T
    >>> a, b = T.dmatrices("a", "b")
    >>> T.batched_dot(a, b).eval({a: [[1.0, 2.0], [3.0, 4.0]], b: [[1.0, 1.0], [2.0, 0.0]]})
    array([3., 6.])
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 2 and b.ndim == 2:
        return sum(a * b, axis=1)
    if a.ndim == 2:
        a = a.dimshuffle(0, "x", 1)
        return matmul(a, b)[:, 0]
    if b.ndim == 2:
        return matmul(a, b.dimshuffle(0, 1, "x"))[:, :, 0]
    return matmul(a, b)
