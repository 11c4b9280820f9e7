"""The eager ``Tensor``: an array (NumPy on the CPU, CuPy on the GPU) that remembers
how it was computed."""

import itertools
import weakref

import numpy as np

from nbgrad.backends import get_backend
from nbgrad.eager.dtypes import get_default_dtype, resolve_dtype
from nbgrad.eager import tape as _tape
from nbgrad.eager.device import (
    canonical_device, device_of, is_device_array, mixed_devices, move, xp_of)
from nbgrad.eager.primitive import transfer
from nbgrad.tensor.type import float_dtypes

__all__ = ["Tensor", "Parameter", "as_tensor"]

# nbgrad.eager.functions (which imports this module); it binds itself here when imported,
# which importing the package ``nbgrad.eager`` always does first.
_F = None
# nbgrad.eager.torchlike: PyTorch's signatures (dim=, keepdim=), bound the same way.
_TL = None
# The one-operand entry point of the eager ``sum`` (``FUNCTIONS['sum'].unary``), bound the same way.
_sum_all = None
_new = object.__new__
_CODES = {}
_next_code = itertools.count().__next__


def signature_code(t):
    """A small integer naming what a compiled call depends on in ``t``'s array.

    That is the array type (so the device), the dtype and which dimensions
    have size 1; equal codes mean the same compiled primitive applies. The
    code is cached on ``t`` until its ``data`` is assigned again.
    """
    code = t._sig = array_code(t._data)
    return code


def array_code(arr):
    """The code of ``signature_code`` for an array (not cached)."""
    key = (type(arr), arr.dtype, tuple([s == 1 for s in arr.shape]))
    code = _CODES.get(key)
    if code is None:
        code = _CODES.setdefault(key, _next_code())
    return code


def _device_for(data, device):
    """``device`` by name, or by default the device of ``data`` (else ``config.backend``)."""
    if device is None:
        if isinstance(data, Tensor):
            return data.device
        if is_device_array(data):
            return "gpu"
    return canonical_device(device)


def _to_array(data, dtype=None, device=None):
    device = _device_for(data, device)
    if isinstance(data, Tensor):
        arr = data._data
        arr = arr if dtype is None else arr.astype(resolve_dtype(dtype))
        return move(arr, device)
    if is_device_array(data):
        return move(get_backend("gpu").xp.array(data, dtype=dtype), device)  # a copy, as on the host
    if dtype is None and _is_python_float(data):
        dtype = get_default_dtype()
    elif dtype is not None:
        dtype = resolve_dtype(dtype)
    arr = np.array(data, dtype=dtype)
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise TypeError(f"cannot make a numeric tensor from {type(data).__name__} {data!r}")
    return arr if device == "cpu" else get_backend(device).to_device(arr)


def _is_python_float(data):
    if isinstance(data, float):
        return True
    if isinstance(data, (list, tuple)) and data:
        return any(_is_python_float(d) for d in data) and not any(isinstance(d, np.ndarray) for d in data)
    return False


def _check_requires_grad(arr, flag):
    if flag and arr.dtype.name not in float_dtypes:
        raise RuntimeError(
            f"only tensors of a floating dtype can require gradients, got dtype {arr.dtype}; "
            "create it with floats (e.g. ne.tensor([1.0, 2.0])) or convert it with .float()"
        )


class Tensor:
    """An array computed immediately, with the history needed for ``backward``.

    Create tensors with ``ne.tensor``, ``ne.arange``, ``ne.zeros``, ``ne.ones``
    or ``ne.randn``. Every operation on tensors that require a gradient is
    recorded; ``y.backward()`` then fills the ``.grad`` of the leaf tensors.

    A tensor lives on one device, ``'cpu'`` (a NumPy array) or ``'gpu'`` (a
    CuPy array): constructors take ``device=``, ``x.to('gpu')`` and
    ``x.cpu()`` copy (recorded, so gradients flow back across), ``x.numpy()``
    gives a host array. Operations run on their arguments' device and
    gradients arrive on the device of the tensor they belong to.

    Examples
    --------
    >>> import nbgrad.eager as ne
    >>> x = ne.arange(4.0, requires_grad=True)
    >>> y = 2 * ne.dot(x, x)
    >>> y.backward()
    >>> x.grad
    tensor([ 0.,  4.,  8., 12.])
    """

    # ``_data`` holds the array (read and assigned through ``data``); ``_sig`` caches
    # the code of its signature (``signature_code``) until ``data`` is assigned again.
    __slots__ = ("_data", "_sig", "requires_grad", "grad", "_node", "_index", "_version",
                 "_retains_grad", "_sym", "_hooks", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        arr = _to_array(data, dtype, device)
        _check_requires_grad(arr, requires_grad)
        self._data = arr
        self._sig = None
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None
        self._index = 0
        self._version = [0]
        self._retains_grad = False
        self._sym = None
        self._hooks = None

    @classmethod
    def _make(cls, array, requires_grad, node, index):
        t = _new(cls)
        t._data = array
        t._sig = None
        t.requires_grad = requires_grad
        t.grad = None
        t._node = node
        t._index = index
        t._version = [0]
        t._retains_grad = False
        t._sym = None
        t._hooks = None
        return t

    # (``_result`` below, and ``unary`` and ``binary`` in nbgrad.eager.functions, make the
    # tensors of unrecorded results without calling this: keep them in step.)

    # --- attributes ----------------------------------------------------------
    @property
    def data(self):
        """This tensor's values as a tensor cut from the graph, sharing memory, as in PyTorch.

        Changes through it (``w.data.mul_(0.5)``, ``w.grad.data.zero_()``) change
        this tensor without being recorded or counted as versions. Assigning a
        tensor or an array replaces the values (``w.data = new``). The array
        itself is ``x.numpy()`` on the CPU (``x.detach().numpy()`` when it
        requires a gradient).

        >>> import nbgrad.eager as ne
        >>> w = ne.tensor([3.0, 4.0], requires_grad=True)
        >>> w.data.norm().item()
        5.0
        """
        return Tensor._make(self._data, False, None, 0)

    @data.setter
    def data(self, value):
        self._set_data(value._data if isinstance(value, Tensor) else value)

    def _set_data(self, array):
        """Make ``array`` this tensor's values (resetting the cached signature code)."""
        self._data = array
        self._sig = None

    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def device(self):
        """``'cpu'`` or ``'gpu'``: where the values are held."""
        return device_of(self._data)

    def _xp(self):
        """The array module of this tensor's device (NumPy or CuPy)."""
        return xp_of(self._data)

    def size(self, dim=None):
        """The shape as a ``Size`` (or the size of dimension ``dim``), as in PyTorch."""
        return _TL.Size(self._data.shape) if dim is None else self._data.shape[dim]

    def numel(self):
        return self._data.size

    def dim(self):
        return self._data.ndim

    @property
    def is_leaf(self):
        """True for tensors not computed by a recorded operation."""
        return self._node is None

    @property
    def grad_fn(self):
        """The recorded operation that computed this tensor (None for leaves)."""
        return self._node

    @property
    def version(self):
        """How many times this tensor was changed in place."""
        return self._version[0]

    # --- gradients ------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        """Start (or stop) recording operations on this leaf tensor; returns it."""
        if self._node is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_(False) only applies to leaf tensors; use .detach() to cut a "
                "computed tensor from the graph"
            )
        _check_requires_grad(self._data, requires_grad)
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep the gradient of this non-leaf tensor in ``.grad`` after ``backward``."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require a gradient")
        self._retains_grad = True
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient each time it is computed.

        A hook that returns a tensor replaces the gradient (for the tensors
        before this one and for ``.grad``); hooks run in the order registered,
        before the gradient of a leaf is accumulated and before a retained
        gradient is stored. Returns a handle whose ``remove()`` unregisters it.

        >>> import nbgrad.eager as ne
        >>> x = ne.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([20., 40.])
        """
        if not self.requires_grad:
            raise RuntimeError(
                "cannot register a hook on a tensor that doesn't require gradient; set "
                "requires_grad=True on it (or on an input of its computation) first")
        if self._hooks is None:
            self._hooks = {}
        key = object()
        self._hooks[key] = hook
        return _HookHandle(self._hooks, key)

    def detach(self):
        """A tensor with the same values (and memory) cut from the graph."""
        t = Tensor._make(self._data, False, None, 0)
        t._version = self._version
        return t

    def detach_(self):
        """Cut this tensor from the graph, in place."""
        self._node = None
        self.requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate the gradient of this tensor into the ``.grad`` of the leaves.

        Parameters
        ----------
        gradient : array-like or Tensor, optional
            The gradient of some scalar with respect to this tensor (the vector
            of a vector-Jacobian product). Required unless this is a scalar.
        retain_graph : bool, optional
            Keep the recorded values so that ``backward`` can run again
            (default: ``create_graph``).
        create_graph : bool
            Record the backward pass itself, so that the gradients can be
            differentiated again (higher derivatives).

        Examples
        --------
        >>> import nbgrad.eager as ne
        >>> x = ne.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).backward(ne.ones(2))
        >>> x.grad
        tensor([2., 4.])
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require a gradient: no input of its "
                "computation has requires_grad=True (create inputs with requires_grad=True, and "
                "compute outside ne.no_grad())"
            )
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient only works for scalar outputs, but this "
                    f"tensor has shape {self.shape}; reduce it first (y.sum().backward()) or pass "
                    "the vector of a vector-Jacobian product (y.backward(ne.ones_like(y)))"
                )
            seed = self._xp().ones(self.shape, dtype=self.dtype)
        else:
            seed = _seed(gradient, self)
        if retain_graph is None:
            retain_graph = create_graph
        if create_graph:
            seed = Tensor._make(seed, False, None, 0) if not isinstance(gradient, Tensor) else gradient
            with _tape.enable_grad():
                _tape.run_backward([self], [seed], retain_graph, True, wrap=_wrap)
        else:
            _tape.run_backward([self], [seed], retain_graph, False, wrap=_wrap)

    # --- conversion -------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        return self._read("item()", self._scalar("item()"))

    def _scalar(self, what):
        if self._data.size != 1:
            raise ValueError(f"{what} needs a tensor with one element, this one has shape {self.shape}")
        return self._data.item()

    def _read(self, what, value):
        """``value`` read out of this tensor by ``what``; noted when it is being traced."""
        if self._sym is not None:
            # lazy: upward hook: eager.trace builds on Tensor
            from nbgrad.eager.trace import note_read

            note_read(self, what, value)
        return value

    def numpy(self):
        """The values as a NumPy array: the tensor's own memory on the CPU, a copy from the GPU.

        As in PyTorch, a tensor that requires a gradient must be detached first
        (``x.detach().numpy()``), so that changes made through the array cannot
        go unnoticed by ``backward``.
        """
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._read("numpy()", self._host())

    def _host(self):
        """The values as a NumPy array, without the checks of ``numpy()``."""
        if type(self._data) is np.ndarray:
            return self._data
        return get_backend(self.device).to_host(self._data)

    def to(self, *args, device=None, dtype=None, **kwargs):
        """This tensor on another device and/or with another dtype, as PyTorch's ``to``.

        ``x.to('gpu')``, ``x.to(ne.float64)``, ``x.to('cpu', ne.float32)``,
        ``x.to(other)`` (the device and dtype of tensor ``other``). The result
        is this tensor itself when nothing changes, else a copy, recorded like
        any operation so that a gradient flows back to this tensor.

        >>> import nbgrad.eager as ne
        >>> x = ne.tensor([1.0, 2.0])
        >>> x.to("cpu") is x, x.to(ne.float64).dtype
        (True, dtype('float64'))
        """
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif _is_device_name(a):
                device = a
            else:
                dtype = a
        unknown = set(kwargs) - {"non_blocking", "copy"}
        if unknown:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(unknown)}")
        out = self
        if dtype is not None and resolve_dtype(dtype) != self.dtype:
            out = _F.cast(out, resolve_dtype(dtype).name)
        if device is not None:
            device = canonical_device(device)
            if device != out.device:
                out = _F.apply_primitive(transfer(out._data, device), [out])[0]
        return out

    def cpu(self):
        """This tensor in host memory (itself when it is already there)."""
        return self.to("cpu")

    def cuda(self):
        """This tensor on the GPU (``self.to('gpu')``)."""
        return self.to("gpu")

    def tolist(self):
        """The values as (nested lists of) Python numbers."""
        return self._read("tolist()", self._host().tolist())

    def __array__(self, dtype=None, copy=None):
        if type(self._data) is not np.ndarray and not isinstance(self._data, np.generic):
            raise TypeError(
                f"a tensor on the {self.device!r} device is not converted to NumPy implicitly; "
                "copy it to the host with x.numpy() (or x.cpu())"
            )
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        value = bool(self._data)
        if self._sym is not None:
            # lazy: upward hook: eager.trace builds on Tensor
            from nbgrad.eager.trace import note_branch

            note_branch(self, value)
        return value

    def __float__(self):
        return self._read("float()", float(self._scalar("float()")))

    def __int__(self):
        return self._read("int()", int(self._scalar("int()")))

    def __index__(self):
        if self._data.dtype.kind not in "iu":
            raise TypeError("only integer tensors can be used as an index")
        return self._read("index", int(self._scalar("index")))

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __repr__(self):
        body = np.array2string(self._host(), separator=", ", prefix="tensor(")
        extra = ""
        if self._data.dtype not in (get_default_dtype(), np.int64, np.bool_):
            extra += f", dtype={self._data.dtype.name}"
        if self._node is not None and self.requires_grad:
            extra += f", grad_fn=<{self._node.prim.label}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        if type(self._data) is not np.ndarray and self.device != "cpu":
            extra += f", device={self.device!r}"
        return f"tensor({body}{extra})"

    __str__ = __repr__

    # --- in-place changes --------------------------------------------------------
    def _inplace(self, fn, other):
        """``self = fn(self, other)`` in place, recorded when a gradient flows."""
        recording = _tape.is_grad_enabled() and (
            self.requires_grad or (isinstance(other, Tensor) and other.requires_grad))
        if recording:
            if self._node is None and self.requires_grad:
                raise RuntimeError(
                    "a leaf Variable that requires grad is being used in an in-place operation; "
                    "wrap parameter updates in `with ne.no_grad():`"
                )
            old = Tensor._make(self._data, self.requires_grad, self._node, self._index)
            # ``old`` takes over the unchanged value: the node that computed it now
            # refers to it (with its version), while ``self`` gets the new value.
            old._version = [self._version[0]]
            if self._node is not None:
                n = self._node
                self._node.out_refs[self._index] = weakref.ref(old)
                k = len(n.inputs) + self._index
                n.versions[k] = (old._version, n.versions[k][1])
            old._retains_grad = self._retains_grad
            res = fn(old, other)
            res_node = res._node
            if res_node is not None:
                res_node.out_refs[res._index] = weakref.ref(self)
            self._set_data(res._data)
            self._node, self._index = res_node, res._index
            self.requires_grad = res.requires_grad
            self._version[0] += 1
            res_node_versions = res_node.versions if res_node is not None else []
            for k, (cell, _v) in enumerate(res_node_versions):
                if cell is res._version:
                    res_node_versions[k] = (self._version, self._version[0])
            return self
        with _tape.no_grad():
            res = fn(self.detach(), other)
        if res._data.shape != self._data.shape:
            raise RuntimeError(
                f"an in-place operation cannot change the shape {self.shape} of a tensor "
                f"(the result has shape {res.shape})"
            )
        if res.device != self.device:
            raise mixed_devices("in-place operation", (self.device, res.device))
        self._xp().copyto(self._data, res._data, casting="same_kind")
        self._version[0] += 1
        return self

    def add_(self, other):
        return self._inplace(_F.add, other)

    def sub_(self, other):
        return self._inplace(_F.sub, other)

    def mul_(self, other):
        return self._inplace(_F.mul, other)

    def div_(self, other):
        return self._inplace(_F.true_div, other)

    def copy_(self, other):
        return self._inplace(lambda a, b: _F.second(a, b), other)

    def zero_(self):
        """Set every element to zero, in place (e.g. ``x.grad.zero_()``)."""
        self._leaf_check("zero_")
        with _tape.no_grad():
            self._data[...] = 0
        self._version[0] += 1
        return self

    def fill_(self, value):
        self._leaf_check("fill_")
        self._data[...] = value.item() if isinstance(value, Tensor) else value
        self._version[0] += 1
        return self

    def _leaf_check(self, what):
        if _tape.is_grad_enabled() and self.requires_grad and self._node is None:
            raise RuntimeError(
                f"a leaf Variable that requires grad is being used in an in-place operation "
                f"({what}); wrap it in `with ne.no_grad():` (or use torch.nn.init, which does)")

    def _fill_from(self, array, what):
        """Overwrite the values with host ``array`` (same shape), as one in-place change."""
        self._leaf_check(what)
        if type(self._data) is not np.ndarray:
            array = get_backend(self.device).to_device(array)
        self._xp().copyto(self._data, array, casting="unsafe")
        self._version[0] += 1
        return self

    def normal_(self, mean=0.0, std=1.0):
        """Fill with samples of N(``mean``, ``std``^2), in place (seeded by ``manual_seed``)."""
        return self._fill_from(_F._rng[0].normal(mean, std, self.shape), "normal_")

    def uniform_(self, a=0.0, b=1.0):
        """Fill with samples of U(``a``, ``b``), in place (seeded by ``manual_seed``)."""
        return self._fill_from(_F._rng[0].uniform(a, b, self.shape), "uniform_")

    def __iadd__(self, other): return self._inplace(_F.add, other)
    def __isub__(self, other): return self._inplace(_F.sub, other)
    def __imul__(self, other): return self._inplace(_F.mul, other)
    def __itruediv__(self, other): return self._inplace(_F.true_div, other)

    def __setitem__(self, idx, value):
        if _tape.is_grad_enabled() and self.requires_grad:
            raise RuntimeError(
                "item assignment into a tensor that requires a gradient is not recorded; build "
                "the new tensor out of place (ne.where(mask, value, x)), or assign inside "
                "ne.no_grad()"
            )
        device = self.device
        if isinstance(idx, Tensor):
            if idx.device != device:
                raise mixed_devices("index", (device, idx.device))
            idx = idx._data
        if isinstance(value, Tensor):
            if value.device != device:
                raise mixed_devices("item assignment", (device, value.device))
            value = value._data
        elif device != "cpu" and isinstance(value, (np.ndarray, list, tuple)):
            value = get_backend(device).to_device(np.asarray(value, dtype=self.dtype))
        self._data[idx] = value
        self._version[0] += 1

    # --- operators -----------------------------------------------------------------
    # ``+``, ``-``, ``*``, ``/`` and ``@`` are the eager functions' two-operand entry points
    # themselves, installed by nbgrad.eager.functions (``OPERATORS`` below).
    def __radd__(self, o): return _F.add(o, self)
    def __rsub__(self, o): return _F.sub(o, self)
    def __rmul__(self, o): return _F.mul(o, self)
    def __rtruediv__(self, o): return _F.true_div(o, self)
    def __floordiv__(self, o): return _F.int_div(self, o)
    def __rfloordiv__(self, o): return _F.int_div(o, self)
    def __mod__(self, o): return _F.mod(self, o)
    def __rmod__(self, o): return _F.mod(o, self)
    def __pow__(self, o): return _F.pow(self, o)
    def __rpow__(self, o): return _F.pow(o, self)
    def __rmatmul__(self, o): return _F.matmul(o, self)
    def __neg__(self): return _F.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _F.abs(self)
    def __invert__(self): return _F.invert(self)
    def __and__(self, o): return _F.and_(self, o)
    def __or__(self, o): return _F.or_(self, o)
    def __xor__(self, o): return _F.xor(self, o)
    def __lt__(self, o): return _F.lt(self, o)
    def __le__(self, o): return _F.le(self, o)
    def __gt__(self, o): return _F.gt(self, o)
    def __ge__(self, o): return _F.ge(self, o)
    def __eq__(self, o): return _F.eq(self, o)
    def __ne__(self, o): return _F.neq(self, o)
    __hash__ = object.__hash__

    def __getitem__(self, idx):
        return _F.getitem(self, _dynamic_index(idx))

    # --- methods ---------------------------------------------------------------------
    # Reductions and shape methods take PyTorch's arguments (``nbgrad.eager.torchlike``).
    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
        if dim is None and axis is None and dtype is None and not (keepdim or keepdims):
            return _sum_all(self)  # the common ``loss.sum()``, without the argument handling
        return _TL.sum(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
        return _TL.mean(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def prod(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=False):
        return _TL.prod(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        """See ``nbgrad.eager.max``: a 0-d tensor, or ``(values, indices)`` over ``dim``."""
        return _TL.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        return _TL.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        return _TL.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=False):
        return _TL.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def sort(self, dim=-1, descending=False, *, stable=False):
        """See ``nbgrad.eager.sort``: the named tuple ``(values, indices)`` along ``dim``."""
        return _TL.sort(self, dim, descending, stable=stable)

    def argsort(self, dim=-1, descending=False, *, stable=False):
        return _TL.argsort(self, dim, descending, stable=stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """See ``nbgrad.eager.topk``: the ``k`` largest elements along ``dim`` and their indices."""
        return _TL.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim=False):
        return _TL.kthvalue(self, k, dim, keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, **kwargs):
        """Unbiased by default (n - 1), as PyTorch; see ``nbgrad.eager.var``."""
        return _TL.var(self, dim, unbiased, keepdim, **kwargs)

    def std(self, dim=None, unbiased=True, keepdim=False, **kwargs):
        """Unbiased by default (n - 1), as PyTorch; see ``nbgrad.eager.std``."""
        return _TL.std(self, dim, unbiased, keepdim, **kwargs)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None, **kwargs):
        """The ``p``-norm (2 by default) of all elements, or over ``dim``."""
        return _TL.norm(self, p, dim, keepdim, dtype, **kwargs)

    def logsumexp(self, dim=None, keepdim=False, **kwargs):
        return _TL.logsumexp(self, dim, keepdim, **kwargs)

    def any(self, dim=None, keepdim=False, **kwargs):
        return _TL.any(self, dim, keepdim, **kwargs)

    def all(self, dim=None, keepdim=False, **kwargs):
        return _TL.all(self, dim, keepdim, **kwargs)

    def dot(self, other):
        return _F.dot(self, other)

    def matmul(self, other):
        return _F.matmul(self, other)

    def mm(self, other):
        return _TL.mm(self, other)

    def mv(self, other):
        return _TL.mv(self, other)

    def bmm(self, other):
        return _TL.bmm(self, other)

    def pow(self, exponent):
        return _F.pow(self, exponent)

    def exp(self): return _F.exp(self)
    def log(self): return _F.log(self)
    def sqrt(self): return _F.sqrt(self)
    def abs(self): return _F.abs(self)
    def tanh(self): return _F.tanh(self)
    def sigmoid(self): return _F.sigmoid(self)
    def relu(self): return _F.relu(self)
    def sin(self): return _F.sin(self)
    def cos(self): return _F.cos(self)

    def softmax(self, dim=None, dtype=None):
        return _TL.softmax(self, dim, dtype)

    def log_softmax(self, dim=None, dtype=None):
        return _TL.log_softmax(self, dim, dtype)

    def clamp(self, min=None, max=None):
        return _TL.clamp(self, min, max)

    clip = clamp

    def reshape(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return _F.reshape(self, tuple(int(s) for s in shape))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        """Dimensions ``start_dim`` to ``end_dim`` merged into one (all by default)."""
        return _TL.flatten(self, start_dim, end_dim)

    def transpose(self, dim0, dim1):
        """This tensor with dimensions ``dim0`` and ``dim1`` swapped (PyTorch's meaning).

        A whole permutation of the dimensions is ``permute``.
        """
        return _TL.transpose(self, dim0, dim1)

    swapaxes = transpose

    def permute(self, *dims):
        """The dimensions reordered: ``x.permute(2, 0, 1)`` or ``x.permute((2, 0, 1))``."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _TL.permute(self, dims)

    def t(self):
        """The transpose of a matrix (of at most 2 dimensions)."""
        return _TL.t(self)

    @property
    def T(self):
        """All dimensions reversed."""
        return _F.transpose(self) if self.ndim > 1 else self

    @property
    def mT(self):
        """The last two dimensions swapped (a batch of matrices transposed)."""
        if self.ndim < 2:
            raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                               f"Got {self.ndim}-D tensor.")
        return _TL.transpose(self, -2, -1)

    def squeeze(self, dim=None):
        return _TL.squeeze(self, dim)

    def unsqueeze(self, dim):
        return _TL.unsqueeze(self, dim)

    def astype(self, dtype):
        return self.to(dtype)

    def type(self, dtype=None):
        """The dtype's name without ``dtype``; else this tensor converted to ``dtype``."""
        if dtype is None:
            return self.dtype.name
        return self.to(dtype)

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    def half(self):
        return self.to("float16")

    def long(self):
        return self.to("int64")

    def int(self):
        return self.to("int32")

    def bool(self):
        return self.to("bool")

    def clone(self):
        """A recorded copy (gradients flow through it)."""
        return _F.tensor_copy(self)


def _result(array):
    """``Tensor._make(array, False, None, 0)`` for an output array of an eager call that
    records nothing (a NumPy scalar becomes a 0-d array), in one call."""
    t = _new(Tensor)
    t._data = array if type(array) is _ndarray else np.asarray(array)
    t._sig = None
    t.requires_grad = False
    t.grad = None
    t._node = None
    t._index = 0
    t._version = [0]
    t._retains_grad = False
    t._sym = None
    t._hooks = None
    return t


_ndarray = np.ndarray

#: Tensor operators that are the two-operand entry point (``binary``) of an eager function,
#: by the function's name: ``a + b`` calls ``add.binary(a, b)`` with no call in between.
OPERATORS = {"__add__": "add", "__sub__": "sub", "__mul__": "mul", "__truediv__": "true_div",
             "__matmul__": "matmul"}


class Parameter(Tensor):
    """A tensor that is a parameter of a module (``nn.Parameter``); requires a gradient.

    Assigned as an attribute of an ``nn.Module`` it is registered and
    returned by ``parameters()``. As in PyTorch it shares memory with
    ``data`` when that is a tensor.

    >>> import nbgrad.eager as ne
    >>> w = ne.nn.Parameter(ne.zeros(2))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=get_default_dtype())
        arr = data._data if isinstance(data, Tensor) else _to_array(data)
        _check_requires_grad(arr, requires_grad)
        self._data = arr
        self._sig = None
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None
        self._index = 0
        self._version = data._version if isinstance(data, Tensor) else [0]
        self._retains_grad = False
        self._sym = None
        self._hooks = None

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__


class _HookHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook off again."""

    def __init__(self, hooks, key):
        self._hooks, self._key = hooks, key

    def remove(self):
        self._hooks.pop(self._key, None)


def _is_device_name(a):
    if not isinstance(a, str):
        return False
    return a.partition(":")[0] in ("cpu", "gpu", "cuda", "cupy")


def _dynamic_index(idx):
    """Integers of an index as 0-d operands, so that ``x[i]`` compiles once for every ``i``."""
    if isinstance(idx, tuple):
        return tuple(_dynamic_index(i) for i in idx)
    if isinstance(idx, slice):
        return slice(*(_dynamic_index(c) for c in (idx.start, idx.stop, idx.step)))
    if isinstance(idx, (int, np.integer)) and not isinstance(idx, (bool, np.bool_)):
        return np.asarray(idx, dtype=np.int64)
    return idx


def _axis(axis, dim):
    return dim if axis is None else axis


def _wrap(array):
    return Tensor._make(array, False, None, 0)


def _seed(gradient, like):
    device = like.device
    if isinstance(gradient, Tensor):
        if gradient.device != device:
            raise mixed_devices("backward(gradient)", (device, gradient.device))
        arr = gradient._data
    elif is_device_array(gradient):
        if device != "gpu":
            raise mixed_devices("backward(gradient)", (device, "gpu"))
        arr = gradient
    else:
        arr = np.asarray(gradient, dtype=like.dtype)
        if device != "cpu":
            arr = get_backend(device).to_device(arr)
    if arr.shape != like.shape:
        raise RuntimeError(
            f"backward(gradient): the gradient has shape {arr.shape} but the tensor has shape "
            f"{like.shape}; they must match"
        )
    if arr.dtype != like.dtype:
        arr = arr.astype(like.dtype)
    return arr.copy()


def as_tensor(data, dtype=None, device=None):
    """``data`` as a Tensor (returned as is when it already is one, with a matching dtype
    and device)."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)) and (
            device is None or data.device == canonical_device(device)):
        return data
    return Tensor(data, dtype=dtype, device=device)
