"""Eager functions, generated from the functions of ``nbgrad.tensor``.

``eager_function(fn)`` turns a symbolic function (``T.exp``, ``T.sum``,
``T.nnet.softmax``, ...) into one that runs on tensors: the first call with a
given signature (the dtype of each tensor argument, which of its dimensions
have size 1, and the values of the other arguments) builds ``fn`` on symbolic
stand-ins and compiles it into a ``Primitive``; later calls only look the
primitive up and run it. Python numbers given to an elementwise function are
operands (with NumPy's weak-scalar dtype rule); given to other functions they
are parameters (``axis=1``) and part of the signature.

Devices: all tensor arguments of one call must be on one device, and the
primitive runs there (compiled for that backend). Values that are not tensors
(Python numbers, NumPy arrays) and 0-d CPU tensors that need no gradient are
copied to the device of the other arguments, as ``nbgrad.function`` on the
GPU backend copies NumPy inputs; tensors on different devices raise
``MixedDeviceError`` naming both devices.
"""

import builtins
import importlib
import sys
import types

import numpy as np

import nbgrad.tensor as T
from nbgrad.backends import get_backend
from nbgrad.eager import tape as _tape
from nbgrad.eager.dtypes import (
    _DEPENDENT_CACHES, category, get_default_dtype, number_dtype, promote_types, resolve_dtype)
from nbgrad.eager.device import canonical_device, device_of, is_device_array, mixed_devices
from nbgrad.eager.primitive import Primitive, standin_type
from nbgrad.eager import tensor as _tensor_module
from nbgrad.eager.tensor import (
    Parameter, Tensor, _check_requires_grad, _device_for, _result, _wrap, array_code, signature_code, _seed)
from nbgrad.tensor.elemwise import Elemwise

__all__ = [
    "eager_function", "apply_primitive", "tensor", "arange", "zeros", "ones", "full", "randn",
    "rand", "zeros_like", "ones_like", "randn_like", "eye", "manual_seed", "grad", "FUNCTIONS",
]

_PH = object()  # where a tensor argument sits in a signature
_AS_IS = object()  # a NumPy array argument, in a plan of ``_fast_entry``
_TRACE = [None]  # the active tracer (nbgrad.eager.trace), if any


class _HostValue(Tensor):
    """A NumPy array or number given to an eager function (copied to the op's device)."""

    __slots__ = ()


_ndarray = np.ndarray
# The tensor classes a fast-path call accepts as tensor arguments (module parameters too).
_TENSORS = frozenset({Tensor, Parameter})
_asarray = np.asarray
_make = Tensor._make
_new = object.__new__
_grad_mode = _tape._GradMode
_record = _tape._record

# Python numbers given to an elementwise function, as operands. Under PyTorch's rule
# (``dtypes.number_dtype``) the dtype a number takes depends only on its type and the
# other operands' dtypes, never on its value, so it can be part of a cached signature.
_OPERAND_TYPES = frozenset({bool, int, float, complex})
# Parameters (``axis=1``, ``keepdims=False``) of other functions, keyed by type and value.
_PARAM_TYPES = frozenset({bool, int, float, str, type(None)})


def apply_primitive(prim, tensors):
    """Run ``prim`` on ``tensors`` and return the output tensors (recorded on the tape)."""
    device = None if prim.crosses_devices else "cpu"
    if device is not None:
        for t in tensors:
            if type(t._data) is not np.ndarray:
                device, tensors = _one_device(tensors, prim.label)
                break
    outs = prim.run([t._data for t in tensors], device)
    if device == "cpu":
        outs = [a if type(a) is np.ndarray else np.asarray(a) for a in outs]
    elif device is not None:
        asarray = get_backend(device).xp.asarray
        outs = [asarray(a) for a in outs]
    res = _tape.record(prim, tensors, None, outs, Tensor._make)
    tracer = _TRACE[0]
    if tracer is not None:
        tracer.follow(prim, tensors, res)
    return res


def _one_device(tensors, label):
    """The one device of ``tensors``, and ``tensors`` with host constants copied there."""
    devices = [device_of(t._data) for t in tensors]
    fixed = {d for d, t in zip(devices, tensors)
             if not (d == "cpu" and not t.requires_grad
                     and (type(t) is _HostValue or t._data.ndim == 0))}
    if len(fixed) > 1:
        raise mixed_devices(label, fixed)
    if not fixed or fixed == {"cpu"}:
        return "cpu", [t if type(t._data) is np.ndarray else _wrap(np.asarray(t._data))
                       for t in tensors]
    device = fixed.pop()
    to_device = get_backend(device).to_device
    return device, [t if d == device else _wrap(to_device(np.asarray(t._data)))
                    for t, d in zip(tensors, devices)]


def _signature(obj, tensors):
    """A hashable description of ``obj`` in which tensors are replaced by a marker."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return _PH
    if type(obj) in _PARAM_TYPES:
        return (type(obj), obj)
    if isinstance(obj, np.ndarray):
        tensors.append(_HostValue._make(obj, False, None, 0))
        return _PH
    if is_device_array(obj):
        tensors.append(_wrap(obj))
        return _PH
    if isinstance(obj, (list, tuple)):
        return (type(obj), tuple(_signature(o, tensors) for o in obj))
    if isinstance(obj, slice):
        return (slice, _signature(obj.start, tensors), _signature(obj.stop, tensors),
                _signature(obj.step, tensors))
    if isinstance(obj, dict):
        return (dict, tuple((k, _signature(v, tensors)) for k, v in sorted(obj.items())))
    try:
        hash(obj)
    except TypeError:
        raise TypeError(f"cannot pass {type(obj).__name__} {obj!r} to an eager function") from None
    return (type(obj), obj)


def _rebuild(obj, standins):
    if isinstance(obj, (Tensor, np.ndarray)) or is_device_array(obj):
        return next(standins)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_rebuild(o, standins) for o in obj)
    if isinstance(obj, slice):
        return slice(_rebuild(obj.start, standins), _rebuild(obj.stop, standins),
                     _rebuild(obj.step, standins))
    if isinstance(obj, dict):
        return {k: _rebuild(v, standins) for k, v in obj.items()}
    return obj


def _weak_operands(args):
    """Elementwise operands: Python numbers become 0-d arrays of PyTorch's result dtype."""
    dtypes = [a._data.dtype if isinstance(a, Tensor) else a.dtype for a in args
              if isinstance(a, (Tensor, np.ndarray)) or is_device_array(a)]
    out = []
    for a in args:
        if isinstance(a, (Tensor, np.ndarray)) or is_device_array(a):
            out.append(a)
        elif isinstance(a, (bool, int, float, complex, np.generic)):
            out.append(np.asarray(a, dtype=number_dtype(a, dtypes)))
        elif isinstance(a, (list, tuple)):
            out.append(np.asarray(a, dtype=get_default_dtype() if _has_float(a) else None))
        else:
            out.append(a)
    return out


def _promoted(fn):
    """``fn`` with its operands cast to PyTorch's result dtype first.

    NumPy's rules (used by the ops) differ from PyTorch's where categories mix
    (int64 with float32 gives float64 in NumPy, float32 in PyTorch) and where
    0-d tensors meet tensors with dimensions; casting the operands to the
    PyTorch dtype first makes the ops agree. An integer operation that gives a
    float (``/``, ``exp``) is computed in the default dtype, as PyTorch does.
    Bool operands are left alone (NumPy promotes them like PyTorch), so that
    conditions stay conditions.
    """
    def build(*xs, **kwargs):
        ops = [x for x in xs if hasattr(x, "dtype")]
        if not ops:
            return fn(*xs, **kwargs)
        target = promote_types(ops)
        out = fn(*_cast_all(xs, target, False), **kwargs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        if category(target) < 2 and builtins.any(
                np.dtype(o.dtype).kind == "f" for o in outs):
            out = fn(*_cast_all(xs, get_default_dtype(), True), **kwargs)
        return out

    return build


def _cast_all(xs, dtype, bools):
    dtype = np.dtype(dtype).name
    return [T.cast(x, dtype) if hasattr(x, "dtype") and x.dtype != dtype
            and (bools or x.dtype != "bool") else x for x in xs]


def _has_float(seq):
    return any(_has_float(e) if isinstance(e, (list, tuple)) else isinstance(e, float) for e in seq)


def eager_function(fn, name=None, elemwise=None):
    """The eager version of the symbolic function ``fn`` of ``nbgrad.tensor``.

    Parameters
    ----------
    fn : callable
        Builds symbolic outputs from symbolic inputs (and plain parameters).
    name : str, optional
    elemwise : bool, optional
        Treat every positional argument as an operand (default: true for
        ``Elemwise`` ops).

    Examples
    --------
    >>> import nbgrad.tensor as T, nbgrad.eager as ne
    >>> softplus = ne.eager_function(lambda x: T.log1p(T.exp(x)), "softplus")
    >>> x = ne.tensor([0.0], requires_grad=True)
    >>> softplus(x).sum().backward()
    >>> x.grad
    tensor([0.5])
    """
    name = name or getattr(fn, "__name__", None) or str(fn)
    if elemwise is None:
        elemwise = isinstance(fn, Elemwise)
    cache = {}  # signature -> (Primitive, single output)
    fast = {}  # cheap key of a common call -> _fast_entry(...)
    # The signature code of one CPU tensor, or the pair of codes of two, -> the kernel of
    # the primitive for them (``Primitive.runner``), when it has one result: a call that
    # records nothing is then the kernel and one tensor made.
    quick = {}
    # Numbers' dtypes and integer division follow the default dtype.
    _DEPENDENT_CACHES.extend((cache, fast, quick))
    accepted = _OPERAND_TYPES if elemwise else _PARAM_TYPES

    # ``unary`` and ``binary`` take a tensor as their first argument (the operators and
    # methods of Tensor pass ``self``; ``eager`` checks it); a CPU call with one result and
    # nothing to record then runs the primitive's kernel alone.
    def unary(a):
        if not (a.requires_grad and _grad_mode.enabled) and _TRACE[0] is None:
            kernel = quick.get(a._sig)
            if kernel is None and a._sig is None:
                kernel = quick.get(signature_code(a))
            if kernel is not None:
                try:
                    out = kernel(a._data)
                except Exception:  # noqa: BLE001 - explained by the general path
                    return _general(fn, name, cache, elemwise, (a,), {})
                # ``_result(out)`` in line: a call costs as much as the rest of this path
                t = _new(Tensor)
                t._data = out if type(out) is _ndarray else _asarray(out)
                t._sig = t.grad = t._node = t._sym = t._hooks = None
                t.requires_grad = t._retains_grad = False
                t._index = 0
                t._version = [0]
                return t
        return call((a,), {})

    def binary(a, b):
        if type(b) in _TENSORS and not ((a.requires_grad or b.requires_grad) and _grad_mode.enabled) \
                and _TRACE[0] is None:
            kernel = quick.get((a._sig, b._sig))
            if kernel is None and (a._sig is None or b._sig is None):
                kernel = quick.get((signature_code(a), signature_code(b)))
            if kernel is not None:
                try:
                    out = kernel(a._data, b._data)
                except Exception:  # noqa: BLE001 - explained by the general path
                    return _general(fn, name, cache, elemwise, (a, b), {})
                t = _new(Tensor)  # ``_result(out)`` in line, as in ``unary``
                t._data = out if type(out) is _ndarray else _asarray(out)
                t._sig = t.grad = t._node = t._sym = t._hooks = None
                t.requires_grad = t._retains_grad = False
                t._index = 0
                t._version = [0]
                return t
        return call((a, b), {})

    def eager(*args, **kwargs):
        if not kwargs and args and isinstance(args[0], Tensor):
            n = len(args)
            if n == 2:
                return binary(*args)
            if n == 1:
                return unary(*args)
        return call(args, kwargs)

    def call(args, kwargs):
        # The common calls (CPU tensors, Python numbers as operands or parameters) are
        # keyed by the tensors' cached signature codes, and run the linked program
        # directly; everything else takes the general path below.
        if not (kwargs and elemwise):
            key = []
            for a in args:
                ta = type(a)
                if ta is Tensor or ta is Parameter:
                    code = a._sig
                    key.append(signature_code(a) if code is None else code)
                elif ta in accepted:
                    key.append(ta if elemwise else (ta, a))
                elif ta is _ndarray:
                    key.append(~array_code(a))  # negative: not the code of a tensor
                else:
                    break
            else:
                for k, v in kwargs.items():
                    tv = type(v)
                    if tv not in _PARAM_TYPES:
                        break
                    key.append((k, tv, v))
                else:
                    key = tuple(key)
                    entry = fast.get(key)
                    if entry is None:
                        entry = fast[key] = _fast_entry(fn, name, cache, elemwise, args, kwargs)
                        if entry and entry[1] and entry[4] is None and not kwargs and len(args) <= 2 \
                                and entry[3].kernel is not None:
                            quick[key[0] if len(key) == 1 else key] = entry[3].kernel
                    if entry:
                        if entry[4] is None and entry[1] and _TRACE[0] is None and not (
                                _grad_mode.enabled and builtins.any([a.requires_grad for a in args])):
                            # tensors in, one result, nothing to record: the linked program alone
                            try:
                                out = entry[2](*[a._data for a in args])[0]
                            except Exception:  # noqa: BLE001 - explained by the general path
                                return _run_fast(entry, args)
                            return _result(out)
                        return _run_fast(entry, args)
        return _general(fn, name, cache, elemwise, args, kwargs)

    eager.__name__ = name
    eager.__qualname__ = name
    eager.__doc__ = (
        f"Eager version of ``nbgrad.tensor.{name}`` (the same op and gradient).\n\n"
        + (getattr(fn, "__doc__", None) or "")
    )
    eager.symbolic = fn
    eager.cache = cache
    eager.fast_cache = fast
    # Entry points for a tensor alone and a tensor and one more argument (Tensor's operators).
    eager.unary = unary
    eager.binary = binary
    return eager


def _lookup(fn, name, cache, elemwise, args, kwargs):
    """The cached ``(Primitive, single)`` for a call, and its tensor arguments."""
    if elemwise:
        args = _weak_operands(args)
    tensors = []
    sig = _signature(args, tensors)
    if kwargs:
        sig = (sig, _signature(kwargs, tensors))
    key = (sig, tuple([(t._data.dtype, tuple([s == 1 for s in t._data.shape])) for t in tensors]))
    entry = cache.get(key)
    if entry is None:
        entry = cache[key] = _build(fn, name, args, kwargs, tensors, elemwise)
    return entry, args, tensors


def _general(fn, name, cache, elemwise, args, kwargs):
    (prim, single), _, tensors = _lookup(fn, name, cache, elemwise, args, kwargs)
    res = apply_primitive(prim, tensors)
    return res[0] if single else res


def _fast_entry(fn, name, cache, elemwise, args, kwargs):
    """What ``_run_fast`` needs for calls like this one, or False for the general path.

    ``(prim, single, raw, runner, operands)``: ``operands`` is None when every
    argument is a tensor operand, else one entry per argument: the index of the
    argument when it is a tensor, ``_AS_IS`` for a NumPy array, the dtype a
    number operand takes, or None for a parameter.
    """
    (prim, single), conv, tensors = _lookup(fn, name, cache, elemwise, args, kwargs)
    # (``any`` and ``all`` of this module are the eager reductions)
    if prim.crosses_devices or builtins.any(type(t._data) is not _ndarray for t in tensors):
        return False
    if elemwise:
        if not builtins.any(type(a) in _TENSORS for a in args):
            return False  # numbers only: no tensor code in the key
        if builtins.all(type(a) in _TENSORS for a in args):
            operands = None
        else:
            operands = tuple(k if type(a) in _TENSORS else _AS_IS if type(a) is _ndarray else c.dtype
                             for k, (a, c) in enumerate(zip(args, conv)))
    elif builtins.all(type(a) in _TENSORS for a in args):
        operands = None
    else:
        operands = tuple(k if type(a) in _TENSORS else _AS_IS if type(a) is _ndarray else None
                         for k, a in enumerate(args))
    runner = prim.runner("cpu")
    return prim, single, runner.raw, runner, operands


def _run_fast(entry, args):
    """``apply_primitive`` for a call described by ``entry`` (all on the CPU)."""
    prim, single, raw, runner, operands = entry
    if operands is None:
        tensors = args
        arrays = [a._data for a in args]
    else:
        tensors = None
        arrays = []
        for a, op in zip(args, operands):
            if op is None:
                continue
            arrays.append(a._data if type(op) is int else a if op is _AS_IS else _asarray(a, dtype=op))
    try:
        outs = raw(*arrays)
    except Exception:  # noqa: BLE001 - the checked entry point explains the failure
        outs = runner(*arrays)
    recording = False
    if _grad_mode.enabled:
        for a in args:
            if type(a) in _TENSORS and a.requires_grad:
                recording = True
                break
    tracer = _TRACE[0]
    if single and not recording and tracer is None:
        out = outs[0]
        return _result(out)
    outs = [o if type(o) is _ndarray else _asarray(o) for o in outs]
    if tensors is None:
        tensors = []
        arrays = iter(arrays)
        for a, op in zip(args, operands):
            if op is not None:
                x = next(arrays)
                tensors.append(a if type(op) is int else _HostValue._make(x, False, None, 0))
    else:
        tensors = list(tensors)
    res = _record(prim, tensors, outs, _make) if recording else \
        [_make(o, False, None, 0) for o in outs]
    if tracer is not None:
        tracer.follow(prim, tensors, res)
    return res[0] if single else res


def _build(fn, name, args, kwargs, tensors, elemwise=False):
    standins = [standin_type(t._data)(f"x{k}") for k, t in enumerate(tensors)]
    if elemwise:
        fn = _promoted(fn)
    it = iter(standins)
    sargs = _rebuild(args, it)
    skwargs = _rebuild(kwargs, it) if kwargs else {}
    out = fn(*sargs, **skwargs)
    single = not isinstance(out, (list, tuple))
    outs = [out] if single else list(out)
    outs = [T.as_tensor_variable(o) for o in outs]
    return Primitive(standins, outs, name), single


# ---------------------------------------------------------------- the function set
def _engine_functions():
    """Name -> symbolic function: every elementwise op and every public function of
    the math, shape, indexing, nnet and sort modules of ``nbgrad.tensor`` (listed in its
    ``__all__``, or defined in it when it has none)."""
    found = {}
    for modname in ("math", "shape", "nnet", "subtensor", "sort"):
        mod = importlib.import_module(f"nbgrad.tensor.{modname}")
        exported = set(getattr(mod, "__all__", ()))
        names = getattr(mod, "__all__", None) or [n for n in vars(mod) if not n.startswith("_")]
        names = list(names) + [n for n, v in vars(mod).items()
                               if not n.startswith("_") and isinstance(v, Elemwise)]
        for n in names:
            v = getattr(mod, n, None)
            if isinstance(v, Elemwise) or (isinstance(v, types.FunctionType) and (
                    n in exported or v.__module__ == mod.__name__)):
                found.setdefault(n, v)
    return found


# Built here from NumPy values instead (they take ``requires_grad``) or not array functions.
_CONSTRUCTORS = {"arange", "zeros", "ones", "full", "eye", "zeros_like", "ones_like", "tensor",
                 "identity_like", "constant", "alloc", "make_vector", "as_tensor_variable",
                 "shape", "shape_i", "set_subtensor", "inc_subtensor"}

FUNCTIONS = {n: eager_function(f, n) for n, f in sorted(_engine_functions().items())
             if n not in _CONSTRUCTORS}
globals().update(FUNCTIONS)
__all__ += sorted(FUNCTIONS)
for _operator, _name in _tensor_module.OPERATORS.items():
    setattr(Tensor, _operator, FUNCTIONS[_name].binary)
_tensor_module._sum_all = FUNCTIONS["sum"].unary


# ------------------------------------------------------------------- constructors
_rng = [np.random.default_rng()]


def manual_seed(seed):
    """Seed the generator behind ``randn`` and ``rand``."""
    _rng[0] = np.random.default_rng(seed)


def _size(size, shape_args):
    if size is not None:
        return tuple(size) if isinstance(size, (tuple, list)) else (int(size),)
    if len(shape_args) == 1 and isinstance(shape_args[0], (tuple, list)):
        return tuple(shape_args[0])
    return tuple(int(s) for s in shape_args)


def _leaf(arr, requires_grad, device=None):
    """A leaf tensor of the host array ``arr``, copied to ``device`` (default ``config.backend``)."""
    _check_requires_grad(arr, requires_grad)
    device = canonical_device(device)
    if device != "cpu":
        arr = get_backend(device).to_device(arr)
    return Tensor._make(arr, bool(requires_grad), None, 0)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A tensor holding a copy of ``data``; Python floats give the default dtype (float32).

    Integers give int64, and NumPy arrays keep their dtype.

    ``device`` is ``'cpu'`` or ``'gpu'``; by default the device of ``data``
    when it is a tensor or a CuPy array, else ``config.backend``.

    >>> import nbgrad.eager as ne
    >>> ne.tensor([[1, 2], [3, 4]]).shape
    (2, 2)
    >>> ne.tensor([1.0]).device
    'cpu'
    """
    return Tensor(data._data if isinstance(data, Tensor) else data, requires_grad=requires_grad,
                  dtype=dtype, device=device)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, device=None):
    """Evenly spaced values in [start, stop), like ``numpy.arange``.

    >>> import nbgrad.eager as ne
    >>> ne.arange(4.0)
    tensor([0., 1., 2., 3.])
    """
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    if dtype is not None:
        arr = arr.astype(resolve_dtype(dtype))
    elif arr.dtype.kind == "f":
        arr = arr.astype(get_default_dtype())
    return _leaf(arr, requires_grad, device)


def _filled(fill, shape_args, size, dtype, requires_grad, device):
    device = canonical_device(device)
    shape = _size(size, shape_args)
    dtype = resolve_dtype(dtype) if dtype is not None else get_default_dtype()
    if device == "cpu":
        return _leaf(np.full(shape, fill, dtype=dtype), requires_grad, device)
    _check_requires_grad(np.empty(0, dtype), requires_grad)
    arr = get_backend(device).xp.full(shape, fill, dtype=dtype)
    return Tensor._make(arr, bool(requires_grad), None, 0)


def zeros(*shape, size=None, dtype=None, requires_grad=False, device=None):
    """A tensor of zeros: ``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``."""
    return _filled(0, shape, size, dtype, requires_grad, device)


def ones(*shape, size=None, dtype=None, requires_grad=False, device=None):
    """A tensor of ones: ``ones(2, 3)``, ``ones((2, 3))`` or ``ones(size=(2, 3))``."""
    return _filled(1, shape, size, dtype, requires_grad, device)


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    """A tensor filled with ``fill_value``; its dtype follows the value (int64 for an int)."""
    if dtype is None:
        fill = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
        dtype = number_dtype(fill, ()) if isinstance(fill, (bool, int, float, complex)) else None
    return _filled(fill_value, (shape,), None, dtype, requires_grad, device)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    return _leaf(np.eye(n, m, dtype=_dtype_or_default(dtype)), requires_grad, device)


def _dtype_or_default(dtype):
    return resolve_dtype(dtype) if dtype is not None else get_default_dtype()


def randn(*shape, size=None, dtype=None, requires_grad=False, device=None):
    """Standard normal samples; ``size=()`` gives a scalar.

    The samples are drawn on the host and copied to ``device``, so a seed
    (``manual_seed``) gives the same numbers on every device.

    >>> import nbgrad.eager as ne
    >>> ne.randn(size=(2, 3)).shape
    (2, 3)
    """
    arr = np.asarray(_rng[0].standard_normal(_size(size, shape)), dtype=_dtype_or_default(dtype))
    return _leaf(arr, requires_grad, device)


def rand(*shape, size=None, dtype=None, requires_grad=False, device=None):
    """Uniform samples in [0, 1) (drawn on the host, as ``randn``)."""
    arr = np.asarray(_rng[0].random(_size(size, shape)), dtype=_dtype_or_default(dtype))
    return _leaf(arr, requires_grad, device)


def zeros_like(x, dtype=None, requires_grad=False, device=None):
    """Zeros shaped like ``x``, on ``x``'s device unless ``device`` is given."""
    return _filled(0, (), _shape(x), dtype or _dt(x), requires_grad, _device_for(x, device))


def ones_like(x, dtype=None, requires_grad=False, device=None):
    """Ones shaped like ``x``, on ``x``'s device unless ``device`` is given."""
    return _filled(1, (), _shape(x), dtype or _dt(x), requires_grad, _device_for(x, device))


def randn_like(x, requires_grad=False, device=None):
    return randn(size=_shape(x), dtype=_dt(x), requires_grad=requires_grad,
                 device=_device_for(x, device))


def _shape(x):
    return tuple((x._data if isinstance(x, Tensor) else x).shape) if hasattr(x, "shape") \
        else np.shape(x)


def _dt(x):
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


# ------------------------------------------------------------------- functional grad
def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not stored in ``.grad``).

    Parameters
    ----------
    outputs : Tensor or list of Tensors
    inputs : Tensor or list of Tensors
    grad_outputs : list, optional
        One gradient per output (required for non-scalar outputs).
    retain_graph, create_graph : bool
        As in ``Tensor.backward``; with ``create_graph`` the results can be
        differentiated again.
    allow_unused : bool
        Return None for an input the outputs do not depend on, instead of raising.

    Returns
    -------
    tuple of Tensors

    Examples
    --------
    >>> import nbgrad.eager as ne
    >>> x = ne.tensor(3.0, requires_grad=True)
    >>> (dx,) = ne.grad(x ** 3, x, create_graph=True)
    >>> (d2x,) = ne.grad(dx, x)
    >>> dx.item(), d2x.item()
    (27.0, 18.0)
    """
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if grad_outputs is None:
        grad_outputs = [None] * len(outs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    seeds = []
    for o, g in zip(outs, grad_outputs):
        if not o.requires_grad:
            raise RuntimeError("grad(): an output does not require a gradient (no input of it "
                               "has requires_grad=True)")
        if g is None:
            if o._data.size != 1:
                raise RuntimeError(
                    f"grad(): an output of shape {o.shape} is not a scalar; pass grad_outputs")
            g = o._xp().ones(o.shape, dtype=o.dtype)
        seeds.append(g)
    if retain_graph is None:
        retain_graph = create_graph
    if create_graph:
        seeds = [g if isinstance(g, Tensor) else _wrap(_seed(g, o)) for g, o in zip(seeds, outs)]
        with _tape.enable_grad():
            res = _tape.run_backward(outs, seeds, retain_graph, True, capture=ins, wrap=_wrap)
    else:
        seeds = [_seed(g, o) for g, o in zip(seeds, outs)]
        res = _tape.run_backward(outs, seeds, retain_graph, False, capture=ins, wrap=_wrap)
    out = []
    for g in res:
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    "grad(): one of the inputs is not used to compute the outputs; pass "
                    "allow_unused=True to get None for it")
            out.append(None)
        else:
            out.append(g if isinstance(g, Tensor) else _wrap(g))
    return tuple(out)


_tensor_module._F = sys.modules[__name__]
