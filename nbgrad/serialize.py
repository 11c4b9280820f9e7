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

import importlib
import json
import os

import numpy as np

from nbgrad.compile.io import In, Out
from nbgrad.compile.sharedvalue import SharedVariable, shared
from nbgrad.graph.basic import Constant, Variable
from nbgrad.graph.op import Op
from nbgrad.scalar.basic import ScalarOp
from nbgrad.tensor.type import TensorType

__all__ = ["save", "load", "load_into", "SerializationError"]

_DOC_KEY = "__nbgrad__"
_FORMAT = "nbgrad"
_VERSION = 1
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


def load(path):
    """Read what :func:`save` wrote; never runs pickled code.

    Shared variables come back as new shared variables holding the saved
    values; a function is rebuilt from its graph, compiled with its saved mode
    and backend, and updates its own (new) shared variables.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    SharedVariable, dict, list or Function
        The same kind of object that was saved.

    Raises
    ------
    SerializationError
        When the file is not an nbgrad save file, holds pickled objects, or
        names an op class outside nbgrad.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nbgrad
    >>> path = os.path.join(tempfile.mkdtemp(), "params.npz")
    >>> nbgrad.save(path, {"W": nbgrad.shared(np.eye(2), name="W")})
    >>> params = nbgrad.load(path)
    >>> params["W"].get_value()
    array([[1., 0.],
           [0., 1.]])
    """
    doc, arrays = _read_file(path)
    reader = _Reader(doc, arrays)
    kind, obj = doc.get("kind"), doc.get("object")
    try:
        if kind == "shared":
            return reader.var(obj["var"])
        if kind == "dict":
            return {str(k): reader.var(i) for k, i in obj["items"]}
        if kind == "list":
            return [reader.var(i) for i in obj["items"]]
        if kind == "function":
            return _read_function(reader, obj)
    except (KeyError, IndexError) as exc:
        raise SerializationError(f"load: {os.fspath(path)!r} is malformed ({exc!r})") from None
    raise SerializationError(f"load: {os.fspath(path)!r} holds an unknown kind of object {kind!r}")


def load_into(path, shared_vars, strict=True):
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
    doc, arrays = _read_file(path)
    reader = _Reader(doc, arrays)
    found = {}
    try:
        if doc.get("kind") == "dict":
            for k, i in doc["object"]["items"]:
                found[str(k)] = reader.shared_value(doc["graph"]["variables"][i])
        else:
            for entry in doc["shared"]:
                if entry.get("name") is not None:
                    found.setdefault(entry["name"], reader.shared_entry_value(entry))
    except (KeyError, IndexError) as exc:
        raise SerializationError(f"load_into: {os.fspath(path)!r} is malformed ({exc!r})") from None
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
                back = _Reader({"graph": {}, "shared": []}, self.arrays).op(enc)
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
class _Malformed(SerializationError):
    """A document whose structure is not what ``save`` writes."""


def _read_file(path):
    path = os.fspath(path)
    if not os.path.exists(path) and os.path.exists(path + ".npz"):
        path += ".npz"  # numpy.savez adds the suffix when the name lacks it
    try:
        with np.load(os.fspath(path), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as exc:
        raise SerializationError(
            f"load: {os.fspath(path)!r} holds pickled objects ({exc}); nbgrad files hold only "
            "numeric arrays, and pickled data is never loaded"
        ) from None
    raw = arrays.pop(_DOC_KEY, None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise SerializationError(f"load: {os.fspath(path)!r} is not an nbgrad save file (no {_DOC_KEY!r} entry)")
    try:
        doc = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SerializationError(f"load: the description in {os.fspath(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise SerializationError(f"load: {os.fspath(path)!r} is not an nbgrad save file")
    if doc.get("version") != _VERSION:
        raise SerializationError(
            f"load: {os.fspath(path)!r} has format version {doc.get('version')!r}; this nbgrad reads "
            f"version {_VERSION}"
        )
    return doc, arrays


def _allowed_module(name):
    return isinstance(name, str) and (name == "nbgrad" or name.startswith("nbgrad."))


def _resolve_class(path, bases, what):
    """The class named ``module:qualname``, only if it lives in nbgrad and subclasses ``bases``."""
    if not isinstance(path, str) or path.count(":") != 1:
        raise SerializationError(f"load: malformed class path {path!r}")
    module, qualname = path.split(":")
    if not _allowed_module(module):
        raise SerializationError(
            f"load: the file names the {what} class {path!r} outside nbgrad; only classes "
            "defined in nbgrad modules are loaded"
        )
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            if part.startswith("__"):
                raise AttributeError(part)
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise SerializationError(f"load: the file names {path!r}, which this nbgrad does not have") from None
    if not (isinstance(obj, type) and issubclass(obj, bases)):
        raise SerializationError(
            f"load: {path!r} is not an nbgrad {what} class (a subclass of "
            f"{' or '.join(b.__name__ for b in bases)}); refusing to load it"
        )
    return obj


class _Reader:
    """Rebuilds shared variables, graphs and ops from a document and its arrays."""

    def __init__(self, doc, arrays):
        self.doc = doc
        self.arrays = arrays
        self.graph_doc = doc.get("graph") or {}
        self._shared = {}
        self._vars = None

    # ------------------------------------------------------------ values
    def array(self, key):
        if key not in self.arrays:
            raise _Malformed(f"missing array {key!r}")
        arr = self.arrays[key]
        if arr.dtype == object:
            raise SerializationError("load: the file holds an array of Python objects; refusing it")
        return arr

    def value(self, x):
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, list):
            return [self.value(e) for e in x]
        if not isinstance(x, dict) or len(x) != 1 or next(iter(x)) not in _VALUE_TAGS:
            raise _Malformed(f"unknown value encoding {x!r}")
        (tag, body), = x.items()
        if tag == "__tuple__":
            return tuple(self.value(e) for e in body)
        if tag == "__float__":
            return float(body)
        if tag == "__scalar__":
            return np.dtype(body[0]).type(self.value(body[1]))
        if tag == "__dtype__":
            return np.dtype(body)
        if tag == "__dict__":
            return {str(k): self.value(v) for k, v in body.items()}
        if tag == "__array__":
            return self.array(body)
        return self.op(body)

    def type(self, enc):
        if "tensor" in enc:
            return TensorType(enc["tensor"], tuple(None if s is None else int(s) for s in enc["shape"]))
        if enc.get("rng") is True:
            from nbgrad.random.type import RandomGeneratorType

            return RandomGeneratorType()
        raise _Malformed(f"unknown type {enc!r}")

    # ------------------------------------------------------------ ops
    def op(self, enc):
        from nbgrad.scalar.composite import Composite

        cls = _resolve_class(enc["class"], (Op, ScalarOp), "op")
        if "composite" in enc:
            if not issubclass(cls, Composite):
                raise _Malformed(f"{enc['class']} is not a Composite")
            inner = _Reader({"graph": enc["composite"], "shared": []}, self.arrays)
            g = enc["composite"]
            return cls([inner.var(i) for i in g["inputs"]], [inner.var(i) for i in g["outputs"]])
        props = {str(k): self.value(v) for k, v in enc["props"].items()}
        if set(props) != set(cls.__props__):
            raise _Malformed(f"{enc['class']} has properties {cls.__props__}, the file gives {sorted(props)}")
        return cls(**props)

    # ------------------------------------------------------------ shared variables
    def shared_entry_value(self, entry):
        if "state" in entry:
            return _generator(self.value(entry["state"]))
        return self.array(entry["value"])

    def shared_value(self, var_entry):
        if var_entry.get("kind") != "shared":
            raise _Malformed("expected a shared variable entry")
        return self.shared_entry_value(self.doc["shared"][var_entry["shared"]])

    def _make_shared(self, k):
        from nbgrad.random.type import shared_rng

        entry = self.doc["shared"][k]
        t = self.type(entry["type"])
        value = self.shared_entry_value(entry)
        if isinstance(t, TensorType):
            if value.dtype.name != t.dtype or value.ndim != t.ndim:
                raise _Malformed(f"the value of shared variable {entry['name']!r} does not match its type {t}")
            return shared(value, name=entry["name"], strict=bool(entry["strict"]),
                          allow_downcast=entry["allow_downcast"], shape=t.shape,
                          target="gpu" if entry.get("backend") == "gpu" else None)
        return shared_rng(value, name=entry["name"])

    # ------------------------------------------------------------ graph
    def var(self, i):
        if self._vars is None:
            self._build()
        if not isinstance(i, int) or not 0 <= i < len(self._vars) or self._vars[i] is None:
            raise _Malformed(f"unknown variable {i!r}")
        return self._vars[i]

    def _build(self):
        entries = self.graph_doc.get("variables", [])
        out = [None] * len(entries)
        for k, e in enumerate(entries):
            kind = e["kind"]
            if kind == "shared":
                s = e["shared"]
                if s not in self._shared:
                    self._shared[s] = self._make_shared(s)
                out[k] = self._shared[s]
            elif kind == "constant":
                cls = _resolve_class(e["class"], (Constant,), "constant")
                out[k] = cls(self.type(e["type"]), self.array(e["data"]), name=e["name"])
            elif kind == "input":
                out[k] = self.type(e["type"]).make_variable(e["name"])
            elif kind != "output":
                raise _Malformed(f"unknown variable kind {kind!r}")
        for n in self.graph_doc.get("nodes", []):
            op = self.op(n["op"])
            ins = [out[i] for i in n["inputs"]]
            if any(v is None for v in ins):
                raise _Malformed("a node uses a variable defined after it")
            node = op.make_node(*ins)
            if len(node.outputs) != len(n["outputs"]):
                raise _Malformed(f"{op} gives {len(node.outputs)} outputs, the file has {len(n['outputs'])}")
            for v, i in zip(node.outputs, n["outputs"]):
                t = self.type(entries[i]["type"])
                if getattr(v.type, "dtype", None) != getattr(t, "dtype", None) or \
                        getattr(v.type, "ndim", None) != getattr(t, "ndim", None):
                    raise SerializationError(
                        f"load: rebuilding {op} gave an output of type {v.type}, the file has {t}; "
                        "the file was written by an incompatible nbgrad"
                    )
                v.name = entries[i]["name"]
                out[i] = v
        self._vars = out
        for s, var in self._shared.items():
            upd = self.doc["shared"][s].get("default_update")
            if upd is not None:
                var.default_update = out[upd]


def _generator(state):
    from nbgrad.random.type import GeneratorState

    name = state.get("bit_generator") if isinstance(state, dict) else None
    bg_cls = getattr(np.random, name, None) if isinstance(name, str) and name.isidentifier() else None
    if not (isinstance(bg_cls, type) and issubclass(bg_cls, np.random.BitGenerator)):
        raise SerializationError(f"load: unknown random bit generator {name!r}")
    bg = bg_cls()
    bg.state = state
    return GeneratorState(np.random.Generator(bg))


def _read_function(reader, obj):
    from nbgrad.compile.function import function

    inputs = []
    for e in obj["inputs"]:
        inputs.append(In(
            reader.var(e["var"]), name=e["name"],
            value=None if e["value"] is None else reader.array(e["value"]),
            update=None if e["update"] is None else reader.var(e["update"]),
            mutable=e["mutable"], strict=e["strict"], allow_downcast=e["allow_downcast"],
            borrow=e["borrow"], autoname=False,
        ))
    outs = [Out(reader.var(o["var"]), borrow=o["borrow"]) for o in obj["outputs"]]
    ndu = obj["no_default_updates"]
    if not isinstance(ndu, bool):
        ndu = [reader.var(i) for i in ndu]
    mode = obj["mode"]
    if isinstance(mode, dict):
        from nbgrad.rewriting import Mode

        mode = Mode(mode["rewrites"], including=mode["including"], excluding=mode["excluding"])
    return function(
        inputs, outs[0] if obj["single_output"] else outs, mode=mode,
        updates=[(reader.var(v), reader.var(u)) for v, u in obj["updates"]],
        givens=[(reader.var(a), reader.var(b)) for a, b in obj["givens"]],
        no_default_updates=ndu, name=obj["name"],
        allow_input_downcast=obj["allow_input_downcast"],
        on_unused_input=obj["on_unused_input"], backend=obj["backend"],
    )


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
