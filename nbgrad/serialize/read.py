"""Reading a save file: the description is checked field by field as objects are rebuilt.

Every error says which member, field, variable or node is wrong; the archive
layer (:mod:`nbgrad.serialize.archive`) reads only the arrays named here.
"""

import contextlib
import importlib
import json
import math
import os
import re

import numpy as np

from nbgrad.backends import BackendUnavailable
from nbgrad.compile.function import function
from nbgrad.compile.io import In, Out
from nbgrad.compile.sharedvalue import SharedVariable, shared
from nbgrad.graph.basic import Constant
from nbgrad.graph.op import Op
from nbgrad.random.type import RandomGeneratorType, shared_rng, GeneratorState
from nbgrad.rewriting import Mode
from nbgrad.scalar.basic import ScalarOp
from nbgrad.serialize.archive import _Archive
from nbgrad.serialize.format import (
    _DOC_KEY, _FORMAT, _NUMERIC_DTYPES, _VALUE_TAGS, _VERSION, SerializationError, _allowed_module, _Malformed,
    _show,
)
from nbgrad.tensor.type import TensorType

#: The description may take this fraction of ``max_bytes`` (parsed, JSON takes ~10x its size),
#: or the floor if that is more: a small ``max_bytes`` is meant for the arrays.
_DESCRIPTION_SHARE = 16
_DESCRIPTION_FLOOR = 1 << 20
#: Values and ops nest this deep at most (an Elemwise of a Composite of scalar ops is 4).
_MAX_DEPTH = 48
#: Integers in a description have at most this many digits (a PCG64 state word has 39).
_MAX_INT_DIGITS = 40
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


class _MemoryArrays:
    """The arrays of a file being written, for checking that its ops read back."""

    def __init__(self, arrays):
        self.arrays = arrays

    def array(self, key, what, expect=None, limit=None):
        return self.arrays[key]


def _read_description(archive):
    if not archive.has(_DOC_KEY):
        raise SerializationError(f"not an nbgrad save file (no {_DOC_KEY!r} entry)")
    raw = archive.array(_DOC_KEY, "the description", TensorType("uint8", shape=(None,)),
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


def _resolve_class(path, bases, what, where):
    """The class named ``module:qualname``, only if it lives in nbgrad and subclasses ``bases``."""
    cls = _CLASSES.get((path, bases))
    if cls is None:
        cls = _CLASSES[path, bases] = _find_class(path, bases, what, where)
    return cls


_CLASSES = {}  # (path, bases) -> class, for the classes found by _find_class


def _find_class(path, bases, what, where):
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
        self._types = {}  # the description's text of a type -> the TensorType, built once

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
            key = (repr(enc["tensor"]), repr(enc.get("shape")))
            t = self._types.get(key)
            if t is None:
                t = self._types[key] = self._tensor_type(enc, where)
            return t
        if enc == {"rng": True}:
            return RandomGeneratorType()
        raise _Malformed(f"{where} has the type {_show(enc)}; expected a tensor or random generator type")

    def _tensor_type(self, enc, where):
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
        return TensorType(dtype, shape=tuple(shape))

    # ------------------------------------------------------------ ops
    def op(self, enc, where, depth):
        if depth > _MAX_DEPTH:
            raise _Malformed(f"{where} nests values or ops more than {_MAX_DEPTH} levels deep")
        if type(enc) is not dict or "class" not in enc:
            raise _Malformed(f"{where} should be an op {{'class': ..., 'props': ...}}, got {_show(enc)}")
        path = _field(enc, "class", where, str)
        cls = _resolve_class(path, (Op, ScalarOp), "op", where)
        if "inner" in enc or "composite" in enc:  # ("composite": how files before Scan could be saved said it)
            return self._inner_graph_op(cls, enc, path, where, depth)
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

    def _inner_graph_op(self, cls, enc, path, where, depth):
        """An op with an inner graph (``inner_graph_form``/``from_inner_graph``: Composite, Scan)."""
        if not hasattr(cls, "from_inner_graph"):
            raise _Malformed(f"{where}: {path} has an inner graph, but is not an op with one")
        key = "inner" if "inner" in enc else "composite"
        g = _field(enc, key, where, dict)
        inner_where = f"{where}, the inner graph of its {cls.__name__}"
        inner = _Reader({"graph": g, "shared": []}, self.source, self.max_bytes, depth + 1, inner_where + ": ")
        ins = [inner.var(i, f"{inner_where}: input {k}")
               for k, i in enumerate(_field(g, "inputs", inner_where, list))]
        outs = [inner.var(i, f"{inner_where}: output {k}")
                for k, i in enumerate(_field(g, "outputs", inner_where, list))]
        settings = _field(enc, "settings", where, dict) if key == "inner" else {}
        settings = {k: self.value(v, f"{where}: its setting {k!r}", depth + 1) for k, v in settings.items()}
        try:
            return cls.from_inner_graph(ins, outs, **settings)
        except Exception as exc:  # noqa: BLE001 - any constructor error means a bad inner graph
            raise _Malformed(
                f"{where}: the {cls.__name__} cannot be rebuilt ({type(exc).__name__}: {exc})"
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
    if type(state) is dict and "has_gauss" in state:  # a legacy RandomState (RandomStreams)
        try:
            rs = np.random.RandomState()
            rs.set_state(state)
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise _Malformed(f"the state of {where} is no valid RandomState state "
                             f"({type(exc).__name__}: {exc})") from None
        return GeneratorState(rs)
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
