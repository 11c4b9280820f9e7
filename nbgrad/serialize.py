"""Saving and loading shared variables and compiled functions, without pickle.

A saved file is one ``.npz`` archive written with ``allow_pickle=False``. It
holds the numeric arrays (shared values, constants, defaults) and, under the
key ``__nbgrad__``, a JSON document (UTF-8 bytes in a uint8 array) that
describes everything else:

- ``shared``: one entry per shared variable (name, type, value, default update);
- ``graph``: the variables and Apply nodes of every expression involved, in
  topological order. An op is written as the import path of its class plus its
  ``__props__``, encoded recursively (numbers, strings, tuples, dtypes, nested
  ops such as the scalar op of an ``Elemwise``, the inner graph of a
  ``Composite``);
- ``object``: what was saved (a shared variable, a dict or list of them, or a
  function's inputs, outputs, updates, givens, mode and backend).

Loading reads the archive with ``allow_pickle=False`` and the document with
``json``; an op class is imported only from a module under ``nbgrad.`` and must
subclass ``Op`` or ``ScalarOp``, so a file can name no other code to run. A
function is rebuilt from its graph and compiled again.
"""

import contextlib
import importlib
import json
import io
import math
import os
import re
import struct
import zipfile
import zlib

import numpy as np

from nbgrad.compile.io import In, Out
from nbgrad.compile.sharedvalue import SharedVariable, shared
from nbgrad.graph.basic import Constant, Variable
from nbgrad.graph.op import Op
from nbgrad.scalar.basic import ScalarOp
from nbgrad.tensor.type import TensorType, complex_dtypes, discrete_dtypes, float_dtypes

__all__ = ["save", "load", "load_into", "SerializationError"]

_DOC_KEY = "__nbgrad__"
_FORMAT = "nbgrad"
_VERSION = 1
#: The default of ``max_bytes``: how many bytes of arrays and description one load may read.
MAX_BYTES = 1 << 30
_VALUE_TAGS = ("__tuple__", "__float__", "__scalar__", "__dtype__", "__dict__", "__array__", "__op__")


class SerializationError(ValueError):
    """A file that is not a valid nbgrad save file, or that names code nbgrad will not load."""


# ====================================================================== public API
def save(path, obj):
    """Write ``obj`` to ``path`` as an ``.npz`` archive that loads without pickle.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (NumPy adds ``.npz`` when the name lacks it).
    obj : SharedVariable, dict or list of SharedVariables, or Function
        A shared variable, a collection of them (e.g. a model's parameters),
        or a compiled function with its graph, inputs, updates, givens and the
        shared variables it uses.

    Raises
    ------
    TypeError
        When ``obj`` is none of the above, or when the graph holds an op or a
        value that cannot be written without pickle (the message names it).

    Examples
    --------
    >>> import os, tempfile, nbgrad, nbgrad.tensor as T
    >>> d = tempfile.mkdtemp()
    >>> w = nbgrad.shared([1.0, 2.0], name="w")
    >>> x = T.dvector("x")
    >>> f = nbgrad.function([x], (x * w).sum(), updates=[(w, w + 1)])
    >>> nbgrad.save(os.path.join(d, "f.npz"), f)
    >>> g = nbgrad.load(os.path.join(d, "f.npz"))
    >>> float(g([1.0, 1.0])), float(f([1.0, 1.0]))
    (3.0, 3.0)
    >>> g.maker.user_updates[0][0].get_value()
    array([2., 3.])
    """
    writer = _Writer()
    doc = {"format": _FORMAT, "version": _VERSION}
    from nbgrad.compile.function import Function

    if isinstance(obj, SharedVariable):
        doc["kind"] = "shared"
        doc["object"] = {"var": writer.var(obj)}
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"save: dict keys must be strings, got {k!r}")
            _expect_shared(v, f"the dict entry {k!r}")
        doc["kind"] = "dict"
        doc["object"] = {"items": [[k, writer.var(v)] for k, v in obj.items()]}
    elif isinstance(obj, (list, tuple)):
        for k, v in enumerate(obj):
            _expect_shared(v, f"item {k}")
        doc["kind"] = "list"
        doc["object"] = {"items": [writer.var(v) for v in obj]}
    elif isinstance(obj, Function):
        doc["kind"] = "function"
        doc["object"] = _write_function(writer, obj)
    else:
        raise TypeError(
            f"save: cannot save {type(obj).__name__}; expected a shared variable, a dict or list "
            "of shared variables, or a compiled function"
        )
    writer.finish()
    doc["shared"] = writer.shared
    doc["graph"] = writer.graph()
    text = json.dumps(doc, allow_nan=True).encode("utf-8")
    arrays = dict(writer.arrays)
    arrays[_DOC_KEY] = np.frombuffer(text, dtype=np.uint8)
    np.savez(os.fspath(path), allow_pickle=False, **arrays)


def load(path, max_bytes=MAX_BYTES):
    """Read what :func:`save` wrote; never runs pickled code.

    Shared variables come back as new shared variables holding the saved
    values; a function is rebuilt from its graph, compiled with its saved mode
    and backend, and updates its own (new) shared variables.

    Only the arrays that the file's description refers to are read, and each
    is checked (its size in the archive, its dtype and shape against the
    description) before its data is, so a damaged or hostile file is refused
    before it costs memory.

    Parameters
    ----------
    path : str or os.PathLike
    max_bytes : int
        The most bytes of arrays and description that loading may read
        (default ``2**30``, 1 GiB); the description alone may take a
        sixteenth of it (or 1 MiB if that is more), since its parsed form
        takes several times its size. A type whose static shape needs more
        than ``max_bytes`` is refused too. Raise it to load larger files you
        trust.

    Returns
    -------
    SharedVariable, dict, list or Function
        The same kind of object that was saved.

    Raises
    ------
    SerializationError
        When the file is not an nbgrad save file, is damaged or truncated,
        holds pickled objects, names an op class outside nbgrad, or needs more
        than ``max_bytes``; the message names the member, field or node.
    FileNotFoundError
        When there is no file at ``path``.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nbgrad
    >>> path = os.path.join(tempfile.mkdtemp(), "params.npz")
    >>> nbgrad.save(path, {"W": nbgrad.shared(np.eye(2), name="W")})
    >>> params = nbgrad.load(path)
    >>> params["W"].get_value()
    array([[1., 0.],
           [0., 1.]])
    >>> nbgrad.load(path, max_bytes=100)
    Traceback (most recent call last):
    ...
    nbgrad.serialize.SerializationError: load: '...params.npz': the member '__nbgrad__.npy' (the description) is ... bytes, more than the 100 bytes left of max_bytes=100 for the description; pass a larger max_bytes to load it if you trust the file
    """
    with _reading(path, "load", max_bytes) as (doc, reader):
        return _read_object(reader, doc)


def load_into(path, shared_vars, strict=True, max_bytes=MAX_BYTES):
    """Set the values of existing shared variables from a saved file, by name.

    Every value is checked (presence, dtype, shape) before any is set: on an
    error no shared variable changes.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save` (shared variables, a dict or list of
        them, or a function: its shared variables are used).
    shared_vars : dict, list or SharedVariable
        The targets. A dict is matched by its keys, anything else by the
        variables' names.
    strict : bool
        Require that every target has a value in the file and every value in
        the file has a target (default True).
    max_bytes : int
        The most bytes of arrays and description to read, as in :func:`load`;
        only the values of the targets are read.

    Returns
    -------
    list of str
        The names that were set.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nbgrad
    >>> path = os.path.join(tempfile.mkdtemp(), "params.npz")
    >>> W = nbgrad.shared(np.ones(2), name="W")
    >>> nbgrad.save(path, [W])
    >>> W2 = nbgrad.shared(np.zeros(2), name="W")
    >>> nbgrad.load_into(path, [W2])
    ['W']
    >>> W2.get_value()
    array([1., 1.])
    """
    targets = _targets(shared_vars)
    with _reading(path, "load_into", max_bytes) as (doc, reader):
        if doc["kind"] == "dict":
            items = _field(doc["object"], "items", "the saved dict", list)
            for k, item in enumerate(items):
                if type(item) is not list or len(item) != 2 or type(item[0]) is not str:
                    raise _Malformed(f"item {k} of the saved dict should be a pair [name, variable], got {_show(item)}")
            where = {key: i for key, i in items}
            value_of = reader.shared_value_of
        else:
            where = {}
            for k, entry in enumerate(doc["shared"]):
                name = _field(entry, "name", f"shared variable {k}", str, _NULL)
                if name is not None:
                    where.setdefault(name, k)
            def value_of(k, what):
                return reader.shared_value(k, what)[2]
        # Only the values that will be set are read.
        found = {name: (value_of(i, f"the saved value of {name!r}") if name in targets else None)
                 for name, i in where.items()}
    missing = [k for k in targets if k not in found]
    extra = [k for k in found if k not in targets]
    if strict and (missing or extra):
        parts = []
        if missing:
            parts.append(f"no saved value for {missing}")
        if extra:
            parts.append(f"no target for the saved {extra}")
        raise KeyError(
            f"load_into: {'; '.join(parts)} (the file has {sorted(found)}); "
            "pass strict=False to set only the names present in both"
        )
    new = {}
    for name, var in targets.items():
        if name not in found:
            continue
        value = found[name]
        if isinstance(var.type, TensorType):
            current = var.get_value(borrow=True)
            if (not isinstance(value, np.ndarray) or value.dtype.name != var.type.dtype
                    or value.shape != tuple(current.shape)):
                got = (f"dtype {value.dtype.name}, shape {value.shape}" if isinstance(value, np.ndarray)
                       else type(value).__name__)
                raise ValueError(
                    f"load_into: the saved value of {name!r} has {got}, but the shared variable "
                    f"has dtype {var.type.dtype}, shape {tuple(current.shape)}; nothing was set"
                )
        else:
            try:
                var.type.filter(value, what=f"the saved value of {name!r}")
            except TypeError as exc:
                raise ValueError(f"load_into: {exc}; nothing was set") from None
        new[name] = value
    for name, value in new.items():
        targets[name].set_value(value)
    return list(new)


# ====================================================================== writing
class _Writer:
    """Builds the variable table, node list, shared table and array store of one file."""

    def __init__(self, arrays=None, inner=False):
        self.arrays = {} if arrays is None else arrays
        self.inner = inner
        self.variables = []
        self.nodes = []
        self.shared = []
        self._ids = {}
        self._pending = []  # shared variables whose default update is still to write
        self._checked_ops = {}

    # ------------------------------------------------------------ values
    def array(self, value):
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError("save: cannot write an array of Python objects without pickle")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        return key

    def value(self, x, where):
        """A JSON form of a property or state value (see ``_Reader.value``)."""
        if x is None or isinstance(x, (bool, str)):
            return x
        if isinstance(x, int):
            return int(x)
        if isinstance(x, float):
            return x if np.isfinite(x) else {"__float__": repr(x)}
        if isinstance(x, np.dtype):
            return {"__dtype__": x.name}
        if isinstance(x, np.generic) and x.dtype != object:
            return {"__scalar__": [x.dtype.name, self.value(x.item(), where)]}
        if isinstance(x, np.ndarray):
            return {"__array__": self.array(x)}
        if isinstance(x, tuple):
            return {"__tuple__": [self.value(e, where) for e in x]}
        if isinstance(x, list):
            return [self.value(e, where) for e in x]
        if isinstance(x, dict) and all(isinstance(k, str) for k in x):
            return {"__dict__": {k: self.value(v, where) for k, v in x.items()}}
        if isinstance(x, (Op, ScalarOp)):
            return {"__op__": self.op(x)}
        raise TypeError(f"{where} holds a {type(x).__name__} ({x!r}), which cannot be saved without pickle")

    # ------------------------------------------------------------ ops
    def op(self, op):
        from nbgrad.scalar.composite import Composite

        cls = type(op)
        label = f"save: the op {op} ({cls.__module__}.{cls.__qualname__})"
        if not _allowed_module(cls.__module__) or "<" in cls.__qualname__:
            raise TypeError(
                f"{label} is not defined in an nbgrad module; only nbgrad's own ops can be saved"
            )
        enc = {"class": _class_path(cls)}
        if isinstance(op, Composite):
            enc["composite"] = self.inner_graph(op.inputs, op.outputs, label)
        else:
            enc["props"] = {p: self.value(getattr(op, p), f"{label}: its property {p!r}")
                            for p in op.__props__}
        if op not in self._checked_ops:
            # The op must come back equal from what was written, or its props do not define it.
            try:
                back = _Reader({"graph": {}, "shared": []}, _MemoryArrays(self.arrays)).op(enc, "the op", 0)
            except Exception as exc:  # noqa: BLE001 - any failure means it cannot be saved
                raise TypeError(f"{label} cannot be rebuilt from its properties ({exc})") from None
            if back != op:
                raise TypeError(f"{label} cannot be rebuilt from its properties {op.__props__}")
            self._checked_ops[op] = True
        return enc

    def inner_graph(self, inputs, outputs, label):
        inner = _Writer(self.arrays, inner=True)
        ins = [inner.var(v) for v in inputs]
        outs = [inner.var(v) for v in outputs]
        if inner.shared:
            raise TypeError(f"{label} uses shared variables in its inner graph, which cannot be saved")
        g = inner.graph()
        g["inputs"], g["outputs"] = ins, outs
        return g

    # ------------------------------------------------------------ variables
    def type(self, t, v):
        from nbgrad.random.type import RandomGeneratorType

        if type(t) is TensorType:
            return {"tensor": t.dtype, "shape": list(t.shape)}
        if type(t) is RandomGeneratorType:
            return {"rng": True}
        raise TypeError(f"save: the variable {v} has type {t}, which cannot be saved")

    def var(self, v):
        """The id of ``v`` in the variable table, writing its whole graph first."""
        stack = [v]
        while stack:
            top = stack[-1]
            if id(top) in self._ids:
                stack.pop()
                continue
            node = top.owner
            if node is None:
                self._leaf(top)
                stack.pop()
                continue
            missing = [i for i in node.inputs if id(i) not in self._ids]
            if missing:
                stack.extend(reversed(missing))
                continue
            self._node(node)
            stack.pop()
        return self._ids[id(v)]

    def _new(self, v, entry):
        self._ids[id(v)] = len(self.variables)
        self.variables.append(entry)
        return self._ids[id(v)]

    def _leaf(self, v):
        entry = {"type": self.type(v.type, v), "name": v.name}
        if isinstance(v, SharedVariable):
            if self.inner:
                self.shared.append(v)
                entry["kind"] = "shared"
                return self._new(v, entry)
            entry["kind"] = "shared"
            entry["shared"] = len(self.shared)
            self.shared.append(self._shared_entry(v))
            self._pending.append((v, entry["shared"]))
        elif isinstance(v, Constant):
            cls = type(v)
            if not _allowed_module(cls.__module__):
                raise TypeError(f"save: the constant {v} is a {cls.__qualname__}, not an nbgrad constant")
            entry["kind"] = "constant"
            entry["class"] = _class_path(cls)
            entry["data"] = self.array(v.data)
        else:
            entry["kind"] = "input"
        return self._new(v, entry)

    def _shared_entry(self, v):
        from nbgrad.random.type import GeneratorState

        value = v.get_value(borrow=True)
        entry = {"name": v.name, "type": self.type(v.type, v), "strict": bool(v.strict),
                 "allow_downcast": v.allow_downcast, "backend": getattr(v.tag, "backend", None)}
        if isinstance(value, GeneratorState):
            entry["state"] = self.value(value.get_state(), f"save: the state of {v}")
        else:
            entry["value"] = self.array(v.get_value())
        return entry

    def _node(self, node):
        op = self.op(node.op)
        ins = [self._ids[id(i)] for i in node.inputs]
        outs = [self._new(o, {"kind": "output", "type": self.type(o.type, o), "name": o.name})
                for o in node.outputs]
        self.nodes.append({"op": op, "inputs": ins, "outputs": outs})

    def finish(self):
        """Write the default updates of every shared variable met (random streams)."""
        while self._pending:
            v, k = self._pending.pop()
            upd = v.default_update
            self.shared[k]["default_update"] = None if upd is None else self.var(upd)

    def graph(self):
        return {"variables": self.variables, "nodes": self.nodes}


def _class_path(cls):
    """``module:name`` under which ``cls`` can be found again.

    Classes made by a factory (e.g. the comparison scalar ops) may be bound
    to a module name other than their ``__qualname__``; look for that name.
    """
    module = importlib.import_module(cls.__module__)
    obj = module
    for part in cls.__qualname__.split("."):
        obj = getattr(obj, part, None)
    if obj is cls:
        return f"{cls.__module__}:{cls.__qualname__}"
    for name, value in vars(module).items():
        if value is cls:
            return f"{cls.__module__}:{name}"
    raise TypeError(f"save: the class {cls.__qualname__} cannot be found in {cls.__module__} by name")


def _expect_shared(v, where):
    if not isinstance(v, SharedVariable):
        raise TypeError(f"save: {where} is a {type(v).__name__}, not a shared variable")


def _write_function(writer, f):
    m = f.maker
    inputs = []
    for k, i in enumerate(m.inputs):
        default = f._defaults[k]
        inputs.append({
            "var": writer.var(i.variable), "name": i.name,
            "value": None if default is None else writer.array(_host(default[0])),
            "update": None if i.update is None else writer.var(i.update),
            "mutable": bool(i.mutable), "strict": bool(i.strict),
            "allow_downcast": i.allow_downcast, "borrow": bool(i.borrow),
        })
    ndu = m.no_default_updates
    if not isinstance(ndu, bool):
        ndu = [writer.var(v) for v in ndu]
    mode = m.mode
    if not isinstance(mode, str):
        mode = {"rewrites": mode.rewrites, "including": list(mode.including),
                "excluding": list(mode.excluding)}
    return {
        "inputs": inputs,
        "outputs": [{"var": writer.var(o.variable), "borrow": bool(o.borrow)} for o in m.outputs],
        "single_output": bool(m.single_output),
        "updates": [[writer.var(v), writer.var(u)] for v, u in m.user_updates],
        "givens": [[writer.var(a), writer.var(b if isinstance(b, Variable) else _as_tensor(b))]
                   for a, b in m.givens],
        "no_default_updates": ndu,
        "mode": mode, "backend": m.backend, "name": m.name,
        "allow_input_downcast": m.allow_input_downcast, "on_unused_input": m.on_unused_input,
    }


def _as_tensor(x):
    from nbgrad.tensor.basic import as_tensor_variable

    return as_tensor_variable(x)


def _host(x):
    get = getattr(x, "get", None)
    return get() if get is not None and not isinstance(x, np.ndarray) else x


# ====================================================================== reading
#: The description may take this fraction of ``max_bytes`` (parsed, JSON takes ~10x its size),
#: or the floor if that is more: a small ``max_bytes`` is meant for the arrays.
_DESCRIPTION_SHARE = 16
_DESCRIPTION_FLOOR = 1 << 20
#: Values and ops nest this deep at most (an Elemwise of a Composite of scalar ops is 4).
_MAX_DEPTH = 48
#: Integers in a description have at most this many digits (a PCG64 state word has 39).
_MAX_INT_DIGITS = 40
_NUMERIC_DTYPES = frozenset(discrete_dtypes + float_dtypes + complex_dtypes)
# Each numeric dtype in both byte orders, to its name (``dtype.name`` is slow).
_DTYPE_NAMES = {np.dtype(n).newbyteorder(o): n for n in _NUMERIC_DTYPES for o in "<>="}
# The header ``numpy.save`` writes for a plain array, e.g. {'descr': '<f8', 'fortran_order': False,
# 'shape': (2, 3), } padded with spaces to a newline.
_NPY_PLAIN_HEADER = re.compile(rb"\{'descr': '([<>|][bifuc][0-9]{1,2})', 'fortran_order': (False|True), "
                               rb"'shape': \(((?:[0-9]{1,19}, )*[0-9]{1,19},?|)\), \} *\n")
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
# Stored and deflated members only: zipfile inflates those in bounded steps, bzip2 and lzma not.
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
# What zipfile, zlib and the .npy header parser raise on damaged bytes.
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, struct.error,
           OverflowError)
_READ_CHUNK = 1 << 24
_MODULE_NAME = re.compile(r"nbgrad(\.[A-Za-z_][A-Za-z0-9_]*)*")
_NULL = type(None)
_JSON_KINDS = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
               bool: "true or false", _NULL: "null"}


# Op properties whose integers count dimensions (at most NumPy's 64) or outputs (at most the
# variables of the graph): ops loop over them when they are built, so they are checked first.
_COUNTING_PROPS = {"ndim": 64, "input_ndim": 64, "i": 64, "axis": 64, "axes": 64, "new_order": 64,
                   "n_outs": None}


def _ints(value):
    """The integers in a property value (nested in tuples and lists)."""
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from _ints(v)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        yield int(value)


class _Malformed(SerializationError):
    """Content that is not what ``save`` writes; the message says what and where."""


def _show(x):
    text = repr(x)
    return text if len(text) <= 60 else text[:56] + " ..."


def _field(entry, key, where, *kinds):
    """``entry[key]``, where ``entry`` must be a JSON object and the value one of the JSON ``kinds``.

    Types are compared exactly: JSON gives exactly these, and ``true`` is no integer here.
    """
    if type(entry) is not dict:
        raise _Malformed(f"{where} should be a JSON object, got {_show(entry)}")
    if key not in entry:
        raise _Malformed(f"{where} has no field {key!r}")
    value = entry[key]
    if kinds and type(value) not in kinds:
        expected = " or ".join(_JSON_KINDS[k] for k in kinds)
        raise _Malformed(f"{where}: the field {key!r} should be {expected}, got {_show(value)}")
    return value


def _choice(entry, key, choices):
    """A field of the saved function that takes one of a few values."""
    value = _field(entry, key, "the saved function")
    if type(value) not in (str, _NULL) or value not in choices:
        raise _Malformed(f"the saved function's {key} is {_show(value)}; expected one of {choices}")
    return value


def _pairs(items, where):
    """A list of ``[variable, variable]`` index pairs (updates, givens)."""
    for k, p in enumerate(items):
        if type(p) is not list or len(p) != 2:
            raise _Malformed(f"{where}[{k}] should be a pair [variable, variable], got {_show(p)}")
    return items


def _parse_int(text):
    if len(text) - text.startswith("-") > _MAX_INT_DIGITS:
        raise _Malformed(
            f"the description holds an integer of {len(text)} digits; a save file holds integers of "
            f"at most {_MAX_INT_DIGITS} digits"
        )
    return int(text)


def _check_size(dtype, shape, where, max_bytes):
    """Refuse a static shape whose array would be larger than ``max_bytes``."""
    if max_bytes is None:
        return
    nbytes = math.prod(s for s in shape if s is not None) * np.dtype(dtype).itemsize
    if nbytes > max_bytes:
        raise SerializationError(
            f"{where} has the static shape {shape} of {dtype}, {nbytes} bytes, more than "
            f"max_bytes={max_bytes}; pass a larger max_bytes to load it if you trust the file"
        )


class _Archive:
    """The members of one ``.npz`` file, each read only when the description refers to it.

    Before any data of a member is read, its size in the zip directory is checked
    against what is left of ``max_bytes``, and its ``.npy`` header (dtype, shape)
    against that size and against the type the description gives it.
    """

    def __init__(self, fh, max_bytes):
        self.max_bytes = max_bytes
        self.left = max_bytes
        self._cache = {}
        try:
            self._zip = zipfile.ZipFile(fh)
            self._members = {info.filename: info for info in self._zip.infolist()}
        except _DAMAGE as exc:
            raise SerializationError(
                f"not a readable .npz (zip) archive, so not an nbgrad save file; it may be truncated "
                f"or damaged ({exc})"
            ) from None

    def has(self, key):
        return key + ".npy" in self._members

    def array(self, key, what, expect=None, limit=None):
        """The array stored under ``key`` (``what`` says what it is, for messages).

        ``expect`` is the TensorType the description gives it; ``limit`` a bound
        below ``max_bytes`` for this member.
        """
        if type(key) is not str:
            raise _Malformed(f"{what} should name an array of the archive, got {_show(key)}")
        arr = self._cache.get(key)
        if arr is None:
            arr = self._cache[key] = self._read(key, what, expect, limit)
        elif expect is not None:
            _match(arr.dtype, arr.shape, expect, f"the member {key + '.npy'!r} ({what})")
        return arr

    def _read(self, key, what, expect, limit):
        name = key + ".npy"
        info = self._members.get(name)
        label = f"the member {name!r} ({what})"
        if info is None:
            raise _Malformed(f"{what} is the array {key!r}, but the archive has no member {name!r}")
        if info.compress_type not in _ZIP_METHODS:
            raise _Malformed(
                f"{label} uses zip compression method {info.compress_type}; save files use "
                "none or deflate"
            )
        left = self.left if limit is None else min(self.left, limit)
        if info.file_size > left:
            raise SerializationError(
                f"{label} is {info.file_size} bytes, more than the {left} bytes left of "
                f"max_bytes={self.max_bytes}{' for the description' if limit is not None else ''}; "
                "pass a larger max_bytes to load it if you trust the file"
            )
        self.left -= info.file_size
        try:
            with self._zip.open(info) as fh:
                shape, fortran, dtype = _npy_header(fh, label)
                name = _DTYPE_NAMES.get(dtype)
                if name is None:
                    if dtype.hasobject:
                        raise SerializationError(
                            f"{label} holds pickled Python objects (dtype {dtype}); nbgrad files hold only "
                            "numeric arrays, and pickled data is never loaded"
                        )
                    raise _Malformed(f"{label} has the dtype {dtype}; save files hold numeric arrays only")
                if any(s < 0 for s in shape):
                    raise _Malformed(f"{label} declares the shape {shape}")
                nbytes = math.prod(shape) * dtype.itemsize
                if fh.tell() + nbytes != info.file_size:
                    raise _Malformed(
                        f"{label} declares {name} of shape {shape}, {nbytes} bytes, but holds "
                        f"{info.file_size - fh.tell()} bytes of data"
                    )
                if expect is not None:
                    _match(dtype, shape, expect, label)
                if nbytes <= _READ_CHUNK:
                    buf = bytearray(fh.read(nbytes))
                else:
                    buf = bytearray(nbytes)
                    view = memoryview(buf)
                    pos = 0
                    while pos < nbytes and (chunk := fh.read(min(nbytes - pos, _READ_CHUNK))):
                        view[pos:pos + len(chunk)] = chunk
                        pos += len(chunk)
                    del view
                    buf = buf[:pos]
                if len(buf) != nbytes:
                    raise _Malformed(f"{label} ends after {len(buf)} of its {nbytes} bytes of data")
                if fh.read(1):  # also makes zipfile check the CRC of the whole member
                    raise _Malformed(f"{label} holds more data than its header declares")
        except SerializationError:
            raise
        except _DAMAGE as exc:
            raise _Malformed(f"{label} cannot be read ({type(exc).__name__}: {exc})") from None
        arr = np.frombuffer(buf, dtype=dtype)
        arr = arr.reshape(shape[::-1]).transpose() if fortran else arr.reshape(shape)
        return arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))


def _npy_header(fh, label):
    """``(shape, fortran_order, dtype)`` from the ``.npy`` header at the start of ``fh``.

    The header NumPy writes for a plain array is matched directly; anything else
    goes to NumPy's own (slower) header parser.
    """
    start = fh.read(10)
    if start[:8] == b"\x93NUMPY\x01\x00" and len(start) == 10:
        header = fh.read(int.from_bytes(start[8:], "little"))
        m = _NPY_PLAIN_HEADER.fullmatch(header)
        if m is not None:
            shape = tuple(int(n) for n in m[3].split(b",") if n)
            try:
                return shape, m[2] == b"True", np.dtype(m[1].decode())
            except TypeError:
                raise _Malformed(f"{label} has the unknown dtype {m[1].decode()!r}") from None
        fh = io.BytesIO(start[8:] + header)
        version = (1, 0)
    else:
        version = np.lib.format.read_magic(io.BytesIO(start[:8]))
        fh.seek(8)
    if version not in _NPY_HEADERS:
        raise _Malformed(f"{label} has the .npy format version {version}; save writes 1.0 or 2.0")
    return _NPY_HEADERS[version](fh)


def _match(dtype, shape, expect, label):
    """Check an array's dtype and shape against the TensorType the description gives it."""
    if (_DTYPE_NAMES.get(dtype) != expect.dtype or len(shape) != expect.ndim
            or any(s is not None and s != n for s, n in zip(expect.shape, shape))):
        raise _Malformed(
            f"{label} holds {np.dtype(dtype).name} of shape {tuple(shape)}, but the description "
            f"gives it the type {expect} (static shape {expect.shape})"
        )


class _MemoryArrays:
    """The arrays of a file being written, for checking that its ops read back."""

    def __init__(self, arrays):
        self.arrays = arrays

    def array(self, key, what, expect=None, limit=None):
        return self.arrays[key]


def _read_description(archive):
    if not archive.has(_DOC_KEY):
        raise SerializationError(f"not an nbgrad save file (no {_DOC_KEY!r} entry)")
    raw = archive.array(_DOC_KEY, "the description", TensorType("uint8", (None,)),
                        limit=max(archive.max_bytes // _DESCRIPTION_SHARE, _DESCRIPTION_FLOOR))
    try:
        doc = json.loads(raw.tobytes().decode("utf-8"), parse_int=_parse_int)
    except _Malformed:
        raise
    except ValueError as exc:  # bad UTF-8, bad JSON, a number Python will not parse
        raise _Malformed(f"the description is not valid JSON ({exc})") from None
    except RecursionError:
        raise _Malformed("the description nests lists or objects too deeply to be one save writes") from None
    if type(doc) is not dict or doc.get("format") != _FORMAT:
        raise SerializationError("not an nbgrad save file (its description has no 'format': 'nbgrad')")
    if doc.get("version") != _VERSION:
        raise SerializationError(
            f"the file has format version {_show(doc.get('version'))}; this nbgrad reads version {_VERSION}"
        )
    _field(doc, "kind", "the description", str)
    _field(doc, "object", "the description", dict)
    _field(doc, "shared", "the description", list)
    _field(doc, "graph", "the description", dict)
    return doc


@contextlib.contextmanager
def _reading(path, fn, max_bytes):
    """Open the file at ``path`` for ``fn`` ('load', 'load_into'); yield its description and a reader.

    Whatever is wrong with the file leaves the block as a SerializationError that
    names the file; unexpected errors are chained to it.
    """
    from nbgrad.backends import BackendUnavailable

    if not isinstance(max_bytes, (int, np.integer)) or isinstance(max_bytes, bool) or max_bytes <= 0:
        raise ValueError(f"{fn}: max_bytes must be a positive number of bytes, got {max_bytes!r}")
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"  # numpy.savez adds the suffix when the name lacks it
    label = f"{fn}: {path!r}"
    with open(path, "rb") as fh:
        try:
            archive = _Archive(fh, int(max_bytes))
            doc = _read_description(archive)
            yield doc, _Reader(doc, archive, int(max_bytes))
        except _Malformed as exc:
            raise SerializationError(f"{label} is damaged or was not written by nbgrad.save: {exc}") \
                from exc.__cause__
        except SerializationError as exc:
            raise SerializationError(f"{label}: {exc}") from exc.__cause__
        except BackendUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - a safety net: the cause stays chained
            raise SerializationError(f"{label} could not be loaded ({type(exc).__name__}: {exc})") from exc


def _allowed_module(name):
    return isinstance(name, str) and (name == "nbgrad" or name.startswith("nbgrad."))


def _resolve_class(path, bases, what, where):
    """The class named ``module:qualname``, only if it lives in nbgrad and subclasses ``bases``."""
    if path.count(":") != 1:
        raise _Malformed(f"{where} names the class {_show(path)}; expected 'module:name'")
    module, qualname = path.split(":")
    if not _allowed_module(module):
        raise SerializationError(
            f"{where} names the {what} class {path!r} outside nbgrad; only classes "
            "defined in nbgrad modules are loaded"
        )
    try:
        if not _MODULE_NAME.fullmatch(module) or "__" in module:
            raise ImportError(module)
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            if part.startswith("__"):
                raise AttributeError(part)
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise SerializationError(f"{where} names {path!r}, which this nbgrad does not have") from None
    if not (isinstance(obj, type) and issubclass(obj, bases)):
        raise SerializationError(
            f"{where} names {path!r}, which is not an nbgrad {what} class (a subclass of "
            f"{' or '.join(b.__name__ for b in bases)}); refusing to load it"
        )
    return obj


class _Reader:
    """Rebuilds shared variables, graphs and ops from a description and the arrays it names.

    Every field is checked as it is read; an error says which field of which
    variable, node or shared variable is wrong.
    """

    def __init__(self, doc, source, max_bytes=None, depth=0, prefix=""):
        self.doc = doc
        self.source = source
        self.max_bytes = max_bytes
        self.depth = depth
        self.prefix = prefix  # where an inner graph sits, for messages
        self.graph_doc = doc["graph"]
        # No op of a file gives more outputs than the file has variables.
        variables = self.graph_doc.get("variables")
        self.max_outputs = len(variables) if max_bytes is not None and type(variables) is list else None
        self._shared = {}
        self._vars = None

    # ------------------------------------------------------------ values
    def value(self, x, where, depth):
        if depth > _MAX_DEPTH:
            raise _Malformed(f"{where} nests values or ops more than {_MAX_DEPTH} levels deep")
        if type(x) in (_NULL, bool, int, float, str):
            return x
        if type(x) is list:
            return [self.value(e, where, depth + 1) for e in x]
        if type(x) is not dict or len(x) != 1 or next(iter(x)) not in _VALUE_TAGS:
            raise _Malformed(f"{where} holds {_show(x)}, which is no value encoding that save writes")
        (tag, body), = x.items()
        if tag == "__tuple__" and type(body) is list:
            return tuple(self.value(e, where, depth + 1) for e in body)
        if tag == "__float__" and body in ("nan", "inf", "-inf"):
            return float(body)
        if (tag == "__scalar__" and type(body) is list and len(body) == 2 and type(body[0]) is str
                and body[0] in _NUMERIC_DTYPES):
            number = self.value(body[1], where, depth + 1)
            if type(number) in (bool, int, float):
                try:
                    return np.dtype(body[0]).type(number)
                except (OverflowError, ValueError) as exc:
                    raise _Malformed(f"{where} holds the {body[0]} scalar {_show(number)} ({exc})") from None
        if tag == "__dtype__" and type(body) is str and body in _NUMERIC_DTYPES:
            return np.dtype(body)
        if tag == "__dict__" and type(body) is dict:
            return {k: self.value(v, where, depth + 1) for k, v in body.items()}
        if tag == "__array__":
            return self.source.array(body, where)
        if tag == "__op__":
            return self.op(body, where, depth + 1)
        raise _Malformed(f"{where} holds the {tag} value {_show(body)}, which is not what save writes")

    def type(self, enc, where):
        if type(enc) is dict and "tensor" in enc:
            dtype = _field(enc, "tensor", where, str)
            if dtype not in _NUMERIC_DTYPES:
                raise _Malformed(
                    f"{where} has the dtype {_show(dtype)}; nbgrad loads tensors of the numeric dtypes "
                    f"{', '.join(sorted(_NUMERIC_DTYPES))}"
                )
            shape = _field(enc, "shape", where, list)
            if len(shape) > 64 or any(s is not None and (type(s) is not int or s < 0) for s in shape):
                raise _Malformed(
                    f"{where} has the static shape {_show(shape)}; expected at most 64 entries, each a "
                    "non-negative integer or null (unknown size)"
                )
            _check_size(dtype, shape, where, self.max_bytes)
            return TensorType(dtype, tuple(shape))
        if enc == {"rng": True}:
            from nbgrad.random.type import RandomGeneratorType

            return RandomGeneratorType()
        raise _Malformed(f"{where} has the type {_show(enc)}; expected a tensor or random generator type")

    # ------------------------------------------------------------ ops
    def op(self, enc, where, depth):
        from nbgrad.scalar.composite import Composite

        if depth > _MAX_DEPTH:
            raise _Malformed(f"{where} nests values or ops more than {_MAX_DEPTH} levels deep")
        if type(enc) is not dict or "class" not in enc:
            raise _Malformed(f"{where} should be an op {{'class': ..., 'props': ...}}, got {_show(enc)}")
        path = _field(enc, "class", where, str)
        cls = _resolve_class(path, (Op, ScalarOp), "op", where)
        if "composite" in enc:
            if not issubclass(cls, Composite):
                raise _Malformed(f"{where}: {path} has an inner graph, but is not a Composite")
            g = _field(enc, "composite", where, dict)
            inner_where = f"{where}, the inner graph of its Composite"
            inner = _Reader({"graph": g, "shared": []}, self.source, self.max_bytes, depth + 1, inner_where + ": ")
            ins = [inner.var(i, f"{inner_where}: input {k}")
                   for k, i in enumerate(_field(g, "inputs", inner_where, list))]
            outs = [inner.var(i, f"{inner_where}: output {k}")
                    for k, i in enumerate(_field(g, "outputs", inner_where, list))]
            try:
                return cls(ins, outs)
            except Exception as exc:  # noqa: BLE001 - any constructor error means a bad inner graph
                raise _Malformed(f"{where}: the Composite cannot be rebuilt ({type(exc).__name__}: {exc})") from exc
        props = _field(enc, "props", where, dict)
        if set(props) != set(cls.__props__):
            raise _Malformed(f"{where}: {path} has the properties {cls.__props__}, the file gives {sorted(props)}")
        values = {k: self.value(v, f"{where}: its property {k!r}", depth + 1) for k, v in props.items()}
        for k in values.keys() & _COUNTING_PROPS.keys():
            bound = _COUNTING_PROPS[k] or self.max_outputs
            if bound is not None and any(abs(n) > bound for n in _ints(values[k])):
                raise _Malformed(
                    f"{where}: its property {k!r} is {_show(values[k])}; a {k} beyond {bound} is not "
                    "one that save writes"
                )
        try:
            return cls(**values)
        except Exception as exc:  # noqa: BLE001 - the properties come from the file
            raise _Malformed(
                f"{where}: {path} cannot be built from the properties in the file ({type(exc).__name__}: {exc})"
            ) from exc

    # ------------------------------------------------------------ shared variables
    def shared_value(self, k, where):
        """The value (array or generator state) of shared entry ``k``, without making a variable."""
        entries = self.doc["shared"]
        if type(k) is not int or not 0 <= k < len(entries):
            raise _Malformed(
                f"{where} is the shared variable {_show(k)}; expected the index of one of the file's "
                f"{len(entries)} shared variables"
            )
        entry = entries[k]
        where = f"shared variable {k}"
        name = _field(entry, "name", where, str, _NULL)
        if name is not None:
            where += f" ({name!r})"
        t = self.type(_field(entry, "type", where, dict), where)
        if isinstance(t, TensorType):
            if "state" in entry:
                raise _Malformed(f"{where} is a tensor, but the file gives it a random generator state")
            return name, t, self.source.array(_field(entry, "value", where, str), f"the value of {where}", t)
        if "state" not in entry:
            raise _Malformed(f"{where} is a random generator, but the file gives it no state")
        return name, t, _generator(self.value(entry["state"], f"the state of {where}", 0), where)

    def shared_value_of(self, i, where):
        """The value of the shared variable that graph variable ``i`` is (a dict's item)."""
        entries = _field(self.graph_doc, "variables", "the graph", list)
        if type(i) is not int or not 0 <= i < len(entries):
            raise _Malformed(f"{where} is the variable {_show(i)}; the graph has {len(entries)}")
        if type(entries[i]) is not dict or entries[i].get("kind") != "shared":
            raise _Malformed(f"{where} is the variable {i}, which is not a shared variable")
        return self.shared_value(_field(entries[i], "shared", f"graph variable {i}", int), where)[2]

    def _make_shared(self, k, where):
        from nbgrad.random.type import shared_rng

        name, t, value = self.shared_value(k, where)
        if not isinstance(t, TensorType):
            return shared_rng(value, name=name)
        entry = self.doc["shared"][k]
        where = f"shared variable {k}"
        backend = _field(entry, "backend", where, str, _NULL)
        return shared(value, name=name, strict=_field(entry, "strict", where, bool),
                      allow_downcast=_field(entry, "allow_downcast", where, bool, _NULL), shape=t.shape,
                      target="gpu" if backend == "gpu" else None)

    # ------------------------------------------------------------ graph
    def var(self, i, where):
        if self._vars is None:
            self._build()
        if type(i) is not int or not 0 <= i < len(self._vars) or self._vars[i] is None:
            raise _Malformed(
                f"{where} is the variable {_show(i)}; expected the index of a variable of the graph "
                f"(0 to {len(self._vars) - 1}) that is defined by then"
            )
        return self._vars[i]

    def _build(self):
        entries = _field(self.graph_doc, "variables", self.prefix + "the graph", list)
        nodes = _field(self.graph_doc, "nodes", self.prefix + "the graph", list)
        self._vars = out = [None] * len(entries)
        for k, e in enumerate(entries):
            where = f"{self.prefix}graph variable {k}"
            kind = _field(e, "kind", where, str)
            name = _field(e, "name", where, str, _NULL)
            if kind == "shared":
                s = _field(e, "shared", where, int)
                if s not in self._shared:
                    self._shared[s] = self._make_shared(s, where)
                out[k] = self._shared[s]
            elif kind == "constant":
                cls = _resolve_class(_field(e, "class", where, str), (Constant,), "constant", where)
                t = self.type(_field(e, "type", where, dict), where)
                if not isinstance(t, TensorType):
                    raise _Malformed(f"{where} is a constant of type {t}; constants are tensors")
                data = self.source.array(_field(e, "data", where, str), f"the data of {where}", t)
                try:
                    out[k] = cls(t, data, name=name)
                except Exception as exc:  # noqa: BLE001 - the class and data come from the file
                    raise _Malformed(f"{where}: the constant cannot be built ({type(exc).__name__}: {exc})") from exc
            elif kind == "input":
                out[k] = self.type(_field(e, "type", where, dict), where).make_variable(name)
            elif kind == "output":
                _field(e, "type", where, dict)  # checked when its node is rebuilt
            else:
                raise _Malformed(f"{where} has the kind {_show(kind)}; expected input, shared, constant or output")
        for n, node_doc in enumerate(nodes):
            self._node(n, node_doc, entries, out)
        for s, var in self._shared.items():
            upd = _field(self.doc["shared"][s], "default_update", f"shared variable {s}", int, _NULL)
            if upd is not None:
                var.default_update = self.var(upd, f"the default update of shared variable {s}")

    def _node(self, n, node_doc, entries, out):
        where = f"{self.prefix}node {n}"
        op = self.op(_field(node_doc, "op", where, dict), f"the op of {where}", self.depth)
        where = f"{where} ({type(op).__name__})"  # str(op) may fail for an op built from bad properties
        ins = [self.var(i, f"input {k} of {where}") for k, i in enumerate(_field(node_doc, "inputs", where, list))]
        outs = _field(node_doc, "outputs", where, list)
        try:
            node = op.make_node(*ins)
        except Exception as exc:  # noqa: BLE001 - the op and its inputs come from the file
            raise _Malformed(
                f"{where} does not take inputs of types ({', '.join(str(v.type) for v in ins)}) "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        if len(node.outputs) != len(outs):
            raise _Malformed(f"{where} gives {len(node.outputs)} outputs, the file has {len(outs)}")
        for k, (v, i) in enumerate(zip(node.outputs, outs)):
            if type(i) is not int or not 0 <= i < len(entries) or entries[i]["kind"] != "output" or out[i] is not None:
                raise _Malformed(
                    f"output {k} of {where} is the variable {_show(i)}; expected the index of an output "
                    "variable that no other node gives"
                )
            t = self.type(entries[i]["type"], f"{self.prefix}graph variable {i}")
            if getattr(v.type, "dtype", None) != getattr(t, "dtype", None) or \
                    getattr(v.type, "ndim", None) != getattr(t, "ndim", None):
                raise SerializationError(
                    f"rebuilding {where} gave an output of type {v.type}, the file has {t}; "
                    "the file was written by an incompatible nbgrad"
                )
            if isinstance(v.type, TensorType):
                _check_size(v.type.dtype, v.type.shape, f"output {k} of {where}", self.max_bytes)
            v.name = entries[i]["name"]
            out[i] = v


def _generator(state, where):
    from nbgrad.random.type import GeneratorState

    name = state.get("bit_generator") if type(state) is dict else None
    bg_cls = getattr(np.random, name, None) if type(name) is str and name.isidentifier() else None
    if not (isinstance(bg_cls, type) and issubclass(bg_cls, np.random.BitGenerator)
            and bg_cls is not np.random.BitGenerator):
        raise _Malformed(f"the state of {where} names the unknown random bit generator {_show(name)}")
    try:
        bg = bg_cls()
        bg.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise _Malformed(f"the state of {where} is no valid {name} state ({type(exc).__name__}: {exc})") from None
    return GeneratorState(np.random.Generator(bg))


def _read_object(reader, doc):
    """What ``load`` returns: the object the description's ``kind`` and ``object`` give."""
    kind, obj = doc["kind"], doc["object"]
    if kind == "shared":
        return _shared_var(reader, _field(obj, "var", "the saved object", int), "the saved shared variable")
    if kind == "dict":
        items = _field(obj, "items", "the saved dict", list)
        for k, item in enumerate(items):
            if type(item) is not list or len(item) != 2 or type(item[0]) is not str:
                raise _Malformed(f"item {k} of the saved dict should be a pair [name, variable], got {_show(item)}")
        return {key: _shared_var(reader, i, f"the saved dict's item {key!r}") for key, i in items}
    if kind == "list":
        items = _field(obj, "items", "the saved list", list)
        return [_shared_var(reader, i, f"item {k} of the saved list") for k, i in enumerate(items)]
    if kind == "function":
        return _read_function(reader, obj)
    raise _Malformed(f"the description's kind is {_show(kind)}; expected shared, dict, list or function")


def _shared_var(reader, i, where):
    var = reader.var(i, where)
    if not isinstance(var, SharedVariable):
        raise _Malformed(f"{where} is the variable {i}, which is not a shared variable")
    return var


def _read_function(reader, obj):
    from nbgrad.backends import BackendUnavailable
    from nbgrad.compile.function import function

    inputs = []
    for k, e in enumerate(_field(obj, "inputs", "the saved function", list)):
        where = f"input {k} of the saved function"
        var = reader.var(_field(e, "var", where, int), where)
        value = _field(e, "value", where, str, _NULL)
        if value is not None:
            value = reader.source.array(value, f"the default value of {where}",
                                        var.type if isinstance(var.type, TensorType) else None)
        update = _field(e, "update", where, int, _NULL)
        inputs.append(In(
            var, name=_field(e, "name", where, str, _NULL), value=value,
            update=None if update is None else reader.var(update, f"the update of {where}"),
            mutable=_field(e, "mutable", where, bool), strict=_field(e, "strict", where, bool),
            allow_downcast=_field(e, "allow_downcast", where, bool, _NULL),
            borrow=_field(e, "borrow", where, bool), autoname=False,
        ))
    outs = []
    for k, o in enumerate(_field(obj, "outputs", "the saved function", list)):
        where = f"output {k} of the saved function"
        outs.append(Out(reader.var(_field(o, "var", where, int), where), borrow=_field(o, "borrow", where, bool)))
    single = _field(obj, "single_output", "the saved function", bool)
    if single and len(outs) != 1:
        raise _Malformed(f"the saved function has one output (single_output), but the file lists {len(outs)}")
    ndu = _field(obj, "no_default_updates", "the saved function", bool, list)
    if type(ndu) is list:
        ndu = [reader.var(i, f"no_default_updates[{k}] of the saved function") for k, i in enumerate(ndu)]
    mode = _field(obj, "mode", "the saved function", str, dict)
    if type(mode) is dict:
        from nbgrad.rewriting import Mode

        names = [_field(mode, key, "the mode of the saved function", list) for key in ("including", "excluding")]
        if any(type(n) is not str for n in names[0] + names[1]):
            raise _Malformed(f"the mode of the saved function should list tag names, got {_show(mode)}")
        try:
            mode = Mode(_field(mode, "rewrites", "the mode of the saved function", str),
                        including=names[0], excluding=names[1])
        except ValueError as exc:
            raise _Malformed(f"the mode of the saved function is not valid ({exc})") from None
    updates = [(reader.var(v, f"updates[{k}] of the saved function"), reader.var(u, f"updates[{k}] of the saved function"))
               for k, (v, u) in enumerate(_pairs(_field(obj, "updates", "the saved function", list), "updates"))]
    givens = [(reader.var(a, f"givens[{k}] of the saved function"), reader.var(b, f"givens[{k}] of the saved function"))
              for k, (a, b) in enumerate(_pairs(_field(obj, "givens", "the saved function", list), "givens"))]
    try:
        return function(
            inputs, outs[0] if single else outs, mode=mode, updates=updates, givens=givens,
            no_default_updates=ndu, name=_field(obj, "name", "the saved function", str, _NULL),
            allow_input_downcast=_field(obj, "allow_input_downcast", "the saved function", bool, _NULL),
            on_unused_input=_choice(obj, "on_unused_input", (None, "raise", "warn", "ignore")),
            backend=_choice(obj, "backend", (None, "cpu", "gpu")),
        )
    except (SerializationError, BackendUnavailable):
        raise
    except Exception as exc:  # noqa: BLE001 - a graph from the file that does not compile
        raise _Malformed(f"the saved function does not compile ({type(exc).__name__}: {exc})") from exc


def _targets(shared_vars):
    if isinstance(shared_vars, SharedVariable):
        shared_vars = [shared_vars]
    if isinstance(shared_vars, dict):
        items = list(shared_vars.items())
    else:
        items = []
        for v in shared_vars:
            if isinstance(v, SharedVariable) and v.name is None:
                raise ValueError(
                    "load_into: a target shared variable has no name; name it "
                    "(shared(..., name=...)) or pass a dict {name: shared variable}"
                )
            items.append((getattr(v, "name", None), v))
    out = {}
    for name, v in items:
        if not isinstance(v, SharedVariable):
            raise TypeError(f"load_into: the target {name!r} is a {type(v).__name__}, not a shared variable")
        if name in out:
            raise ValueError(f"load_into: two targets are named {name!r}")
        out[name] = v
    return out
