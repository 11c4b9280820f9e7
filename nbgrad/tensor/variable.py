"""TensorVariable and TensorConstant: symbolic arrays with NumPy-like operators."""

import numpy as np

from nbgrad.config import config
import nbgrad.tensor as _t
from nbgrad.graph.basic import Constant, Variable
from nbgrad.scalar.basic import Comparison

__all__ = ["TensorVariable", "TensorConstant", "_TensorMethods"]


class _TensorMethods:
    """Operators and methods shared by every symbolic array (variables, constants, shared)."""

    # --- attributes -------------------------------------------------------
    @property
    def ndim(self):
        return self.type.ndim

    @property
    def dtype(self):
        return self.type.dtype

    @property
    def broadcastable(self):
        return self.type.broadcastable

    @property
    def shape(self):
        return _t.shape(self)

    @property
    def size(self):
        return _t.prod(_t.shape(self))

    @property
    def T(self):
        return _t.transpose(self)

    # --- Python protocol traps ------------------------------------------
    def __bool__(self):
        """True, as in Theano (``if not W:`` tests an optional variable), except for a comparison.

        The result of ``<``, ``<=``, ``>``, ``>=``, ``eq`` or ``neq`` has no truth value
        while the graph is being built: Python would read ``a < b < c`` as
        ``(a < b) and (b < c)`` and keep only ``b < c``, and ``if x > 0:`` would take the
        same branch for every value of ``x``.
        """
        sop = getattr(getattr(self.owner, "op", None), "scalar_op", None)
        if isinstance(sop, Comparison):  # a symbolic truth value
            # lazy: display hook: nbgrad.printing reads tensor graphs
            from nbgrad.printing import pp

            raise TypeError(
                f"the symbolic comparison {pp(self)} has no truth value: it is only known when the "
                "compiled function runs. A chained comparison a < b < c is Python's "
                "(a < b) and (b < c), which would silently keep only b < c; write "
                "T.and_(a < b, b < c) or (a < b) & (b < c). Python's max(a, b) and min(a, b) "
                "compare like this: use T.maximum(a, b) and T.minimum(a, b). To choose between "
                "values use T.switch(cond, a, b) (elementwise) or nbgrad.ifelse.ifelse(cond, a, b) "
                "(lazy)"
            )
        return True

    def __len__(self):
        raise TypeError(
            f"len() of a symbolic variable ({self}) is unknown while the graph is being "
            "built; use x.shape[0]"
        )

    def __iter__(self):
        raise TypeError(
            f"a symbolic variable ({self}) cannot be iterated; index it (x[i]) or use nbgrad.scan. "
            "Python's sum(x), max(x), min(x), any(x) and all(x) iterate: use T.sum(x) (or x.sum()), "
            "T.max(x) (or x.max()), T.min(x), T.any(x) and T.all(x)"
        )

    def __setitem__(self, key, value):
        raise TypeError(
            "symbolic variables are immutable; use "
            "nbgrad.tensor.set_subtensor(x[idx], value) or inc_subtensor(x[idx], value)"
        )

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"a symbolic variable ({self}) has no value yet; compile it with nbgrad.function "
            "or call .eval({...}) with values for its inputs"
        )

    # --- arithmetic -------------------------------------------------------
    def __add__(self, other): return _t.add(self, other)
    def __radd__(self, other): return _t.add(other, self)
    def __sub__(self, other): return _t.sub(self, other)
    def __rsub__(self, other): return _t.sub(other, self)
    def __mul__(self, other): return _t.mul(self, other)
    def __rmul__(self, other): return _t.mul(other, self)
    def __truediv__(self, other): return _t.true_div(self, other)
    def __rtruediv__(self, other): return _t.true_div(other, self)
    def __floordiv__(self, other): return _t.int_div(self, other)
    def __rfloordiv__(self, other): return _t.int_div(other, self)
    def __mod__(self, other): return _t.mod(self, other)
    def __rmod__(self, other): return _t.mod(other, self)
    def __pow__(self, other): return _t.pow(self, other)
    def __rpow__(self, other): return _t.pow(other, self)
    def __neg__(self): return _t.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _t.abs(self)
    def __invert__(self): return _t.invert(self)
    def __and__(self, other): return _t.and_(self, other)
    def __rand__(self, other): return _t.and_(other, self)
    def __or__(self, other): return _t.or_(self, other)
    def __ror__(self, other): return _t.or_(other, self)
    def __xor__(self, other): return _t.xor(self, other)
    def __rxor__(self, other): return _t.xor(other, self)
    def __lt__(self, other): return _t.lt(self, other)
    def __le__(self, other): return _t.le(self, other)
    def __gt__(self, other): return _t.gt(self, other)
    def __ge__(self, other): return _t.ge(self, other)
    def __matmul__(self, other): return _t.matmul(self, other)
    def __rmatmul__(self, other): return _t.matmul(other, self)
    def __getitem__(self, idx): return _t.getitem(self, idx)

    # Variables are dict keys by identity: == is not overloaded (use T.eq).
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # --- methods ------------------------------------------------------------
    def sum(self, axis=None, dtype=None, keepdims=False):
        return _t.sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, keepdims=False):
        return _t.mean(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False):
        return _t.prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _t.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _t.min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _t.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _t.argmin(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return _t.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return _t.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return _t.any(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return _t.all(self, axis=axis, keepdims=keepdims)

    def norm(self, L=2, axis=None):
        return _t.norm(self, L, axis=axis)

    def dot(self, other):
        return _t.dot(self, other)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        return _t.transpose(self, axes or None)

    def dimshuffle(self, *pattern):
        if len(pattern) == 1 and isinstance(pattern[0], (tuple, list)):
            pattern = pattern[0]
        return _t.dimshuffle(self, pattern)

    def reshape(self, *shape, ndim=None):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        return _t.reshape(self, shape, ndim=ndim)

    def flatten(self, ndim=1):
        return _t.flatten(self, ndim)

    def astype(self, dtype):
        return _t.cast(self, dtype)

    def clip(self, a_min, a_max):
        return _t.clip(self, a_min, a_max)

    def round(self):
        return _t.round(self)

    def copy(self, name=None):
        out = _t.tensor_copy(self)
        out.name = name
        return out

    def squeeze(self, axis=None):
        return _t.squeeze(self, axis)

    def nonzero_values(self):
        return self[_t.neq(self, 0)]

    # --- display -------------------------------------------------------------
    def _repr_latex_(self):
        # lazy: display hook: nbgrad.printing reads tensor graphs
        from nbgrad.printing import latex

        return "$\\displaystyle " + latex(self) + "$"


class TensorVariable(_TensorMethods, Variable):
    """A symbolic array (the result of an operation, or a graph input)."""

    def __repr__(self):
        text = str(self)
        if config.print_test_value:
            value = getattr(self.tag, "test_value", None)
            if value is not None:
                # shown as the input would receive it: converted to the variable's type
                try:
                    value = self.type.filter(value)
                except (TypeError, ValueError) as exc:
                    return f"{text}\n<test value that does not fit {self.type}: {exc}>"
                text += "\n" + repr(value)
        return text


class TensorConstant(_TensorMethods, Constant):
    """A symbolic array with a fixed value ``data``."""

    def __str__(self):
        if self.name is not None:
            return self.name
        d = self.data
        if d.ndim == 0:
            v = d.item()
            return f"{v:g}" if isinstance(v, float) else str(v)
        if d.size <= 6:
            return np.array2string(d, separator=", ")
        return f"Constant{{{d.dtype}, shape={d.shape}}}"

    def __repr__(self):
        return str(self)
