"""Writing a save file: the variable table, node list, shared table and arrays of an object."""

import importlib

import numpy as np

from nbgrad.compile.sharedvalue import SharedVariable
from nbgrad.graph.basic import Constant, Variable
from nbgrad.graph.op import Op
from nbgrad.random.type import RandomGeneratorType, GeneratorState
from nbgrad.scalar.basic import ScalarOp
from nbgrad.serialize.format import _allowed_module
from nbgrad.serialize.read import _MemoryArrays, _Reader
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.type import TensorType



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
        cls = type(op)
        label = f"save: the op {op} ({cls.__module__}.{cls.__qualname__})"
        if not _allowed_module(cls.__module__) or "<" in cls.__qualname__:
            raise TypeError(
                f"{label} is not defined in an nbgrad module; only nbgrad's own ops can be saved"
            )
        enc = {"class": _class_path(cls)}
        form = getattr(op, "inner_graph_form", None)
        if form is not None:
            ins, outs, settings = form()
            enc["inner"] = self.inner_graph(ins, outs, label)
            enc["settings"] = {k: self.value(v, f"{label}: its setting {k!r}") for k, v in settings.items()}
        else:
            enc["props"] = {p: self.value(getattr(op, p), f"{label}: its property {p!r}")
                            for p in op.__props__}
        if op not in self._checked_ops:
            # The op must come back equal from what was written, or its props do not define it.
            try:
                back = _Reader({"graph": {}, "shared": []}, _MemoryArrays(self.arrays)).op(enc, "the op", 0)
            except Exception as exc:  # noqa: BLE001 - any failure means it cannot be saved
                raise TypeError(f"{label} cannot be rebuilt from its properties ({exc})") from None
            if back != op and not (form is not None and _same_form(back, op)):
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


def _same_form(a, b):
    """Ops with inner graphs rebuilt alike: one class, the same settings, inner graphs of one layout.

    (A Scan's identity is its inner graph object, so the op read back is a new one.)
    """
    ins_a, outs_a, set_a = a.inner_graph_form()
    ins_b, outs_b, set_b = b.inner_graph_form()
    return (type(a) is type(b) and set_a == set_b
            and [v.type for v in ins_a + outs_a] == [v.type for v in ins_b + outs_b])


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
    mode = getattr(m.mode, "rewrite_mode", m.mode)  # a debugging mode saves its rewrites only
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
    return as_tensor_variable(x)


def _host(x):
    get = getattr(x, "get", None)
    return get() if get is not None and not isinstance(x, np.ndarray) else x
