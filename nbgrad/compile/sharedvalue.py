"""Shared variables: symbolic variables with a value that persists between calls."""

import copy
import itertools
import threading

import numpy as np

from nbgrad.backends import get_backend
from nbgrad.compile.io import refuse_masked
from nbgrad.config import config
from nbgrad.graph.basic import Variable
from nbgrad.printing.html import shared_html
from nbgrad.tensor.type import TensorType
from nbgrad.tensor.variable import _TensorMethods, TensorVariable

__all__ = ["SharedVariable", "TensorSharedVariable", "shared"]


class SharedVariable(Variable):
    """A graph input whose value lives in the variable (``get_value``/``set_value``).

    Compiled functions read the current value at each call and write their
    ``updates`` back after the call has fully succeeded. Each shared variable has a
    lock, held by a function with updates for the whole of a call and by ``set_value``,
    so that concurrent calls from several threads do not lose updates.
    """

    def __init__(self, type, value, name=None, strict=False, allow_downcast=None):
        super().__init__(type, None, None, name)
        self.strict = strict
        self.allow_downcast = allow_downcast
        refuse_masked(value, self._what())
        self._init_state([type.filter(value, strict=strict, allow_downcast=allow_downcast,
                                      what=self._what())])

    def _init_state(self, container):
        # One mutable cell: compiled functions hold the cell, not the value.
        self.container = container
        # Locks are taken in the order of lock_rank (creation order), never another, so
        # that functions locking several shared variables cannot deadlock each other.
        # Reentrant: a thread that holds it (e.g. an op calling a compiled function)
        # takes it again instead of waiting for itself.
        self.lock_rank, self.lock = new_lock()
        self.default_update = None
        self.updated_by = []  # names of compiled functions that update it (weak info for display)

    def _what(self):
        return f"shared variable {self.name!r}" if self.name else "shared variable"

    def get_value(self, borrow=False, return_internal_type=False):
        """The current value: a copy unless ``borrow=True``.

        With ``borrow=True`` the internal array itself is returned; changing it
        changes the shared variable's value.

        >>> import nbgrad
        >>> s = nbgrad.shared([1.0, 2.0])
        >>> v = s.get_value()
        >>> v[0] = 5.0
        >>> s.get_value()
        array([1., 2.])
        """
        v = self.container[0]
        if borrow:
            return v
        return _to_host(v).copy() if not return_internal_type else copy.deepcopy(v)

    def set_value(self, new_value, borrow=False):
        """Replace the value (copied unless ``borrow=True``); checked against the type.

        >>> import nbgrad
        >>> s = nbgrad.shared([[1.0, 2.0], [3.0, 4.0]])
        >>> s.set_value([[3.0, 4.0], [2.0, 1.0]])
        >>> s.get_value()
        array([[3., 4.],
               [2., 1.]])
        """
        refuse_masked(new_value, self._what())
        if _gpu_array(self.container[0]) or _gpu_array(new_value):
            # a device-resident value stays on the device: NumPy values are copied there
            v = get_backend("gpu").filter(self.type, new_value, self.strict, self.allow_downcast,
                                          self._what())
            if v is new_value and not borrow:
                v = v.copy()
        else:
            v = self.type.filter(new_value, strict=self.strict, allow_downcast=self.allow_downcast,
                                 what=self._what())
            if not borrow and isinstance(new_value, np.ndarray) and np.may_share_memory(v, new_value):
                v = v.copy()
        with self.lock:  # not in the middle of a call that updates this variable
            self.container[0] = v

    @property
    def value(self):
        return self.get_value()

    def clone(self):
        cp = type(self).__new__(type(self))
        Variable.__init__(cp, self.type, None, None, self.name)
        cp.strict, cp.allow_downcast = self.strict, self.allow_downcast
        cp.container = self.container
        cp.lock, cp.lock_rank = self.lock, self.lock_rank  # one storage, one lock
        cp.default_update = self.default_update
        cp.updated_by = self.updated_by
        cp.tag = self.tag.copy()
        return cp

    def __str__(self):
        return self.name if self.name is not None else f"<{self.type}>"

    def _repr_html_(self):
        return shared_html(self)


_lock_ranks = itertools.count()


def new_lock():
    """``(rank, lock)``: a reentrant lock and its place in the one order all locks are taken in."""
    return next(_lock_ranks), threading.RLock()


def _to_host(v):
    if _gpu_array(v):  # a device array (CuPy): copied back to a NumPy array
        return v.get()
    return v


class TensorSharedVariable(_TensorMethods, SharedVariable):
    """A shared array; supports all symbolic array operators."""

    def __repr__(self):
        v = self.container[0]
        return f"SharedVariable(name={self.name!r}, dtype={v.dtype}, shape={tuple(v.shape)})"


def shared(value, name=None, strict=False, allow_downcast=None, borrow=False,
           shape=None, broadcastable=None, target=None):
    """A shared variable holding ``value`` (copied unless ``borrow=True``).

    Python ints become int64, Python floats float64, arrays keep their dtype.

    With ``target='gpu'``, a CuPy ``value``, or ``config.backend == 'gpu'``, the
    value lives on the CUDA device; ``get_value()`` copies it back to a NumPy
    array and ``set_value`` accepts NumPy or CuPy arrays. A host shared variable
    used by a GPU function is moved to the device by that function.

    >>> import nbgrad
    >>> w = nbgrad.shared([1.0, 2.0], name="w")
    >>> w.get_value()
    array([1., 2.])
    """
    if isinstance(value, Variable):
        raise TypeError(
            f"shared() takes a value (number or array), got the symbolic variable {value}; "
            "use its value, e.g. shared(np.zeros(3))"
        )
    refuse_masked(value, f"shared({name!r})" if name else "shared()")
    if target is None:
        target = "gpu" if _gpu_array(value) or config.backend == "gpu" else "cpu"
    if target == "gpu":
        backend = get_backend("gpu")
        arr = backend.asarray(value)
        ttype = TensorType(str(arr.dtype), _shared_shape(arr, shape, broadcastable))
        var = TensorSharedVariable.__new__(TensorSharedVariable)
        Variable.__init__(var, ttype, None, None, name)
        var.strict, var.allow_downcast = strict, allow_downcast
        var._init_state([arr if borrow or arr is not value else arr.copy()])
        var.tag.backend = "gpu"
        return var
    if isinstance(value, np.ndarray):
        arr = value if borrow else value.copy()
    else:
        try:
            arr = np.array(value)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"shared(): cannot make an array from {value!r}: {exc}") from exc
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise TypeError(f"shared(): {value!r} is not numeric")
    ttype = TensorType(arr.dtype, _shared_shape(arr, shape, broadcastable))
    _ = TensorVariable
    return TensorSharedVariable(ttype, arr, name=name, strict=strict, allow_downcast=allow_downcast)


def _shared_shape(arr, shape, broadcastable):
    if shape is not None:
        return tuple(shape)
    if broadcastable is not None:
        return tuple(1 if b else None for b in broadcastable)
    return (None,) * arr.ndim


def _gpu_array(value):
    return hasattr(value, "__cuda_array_interface__")
