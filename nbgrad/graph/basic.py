"""Variables, constants and Apply nodes: the vertices of an nbgrad graph.

A graph is bipartite: a ``Variable`` is produced by at most one ``Apply`` node
(its ``owner``), and an ``Apply`` node applies one ``Op`` to input variables
and produces output variables. Graphs are immutable once built; rewrites work
on a ``FunctionGraph`` copy.
"""

import contextlib
import itertools
import os
import sys
import threading

__all__ = ["Variable", "Constant", "Apply", "Type", "user_trace", "traces_set_by_caller"]

_ids = itertools.count()
_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_trace():
    """The (filename, lineno, line) of the first frame outside nbgrad, or None.

    Stored on each Apply node so that a run-time error can show the line of
    user code that built the failing node.
    """
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PKG_DIR):
            return (filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


_trace_state = threading.local()


@contextlib.contextmanager
def traces_set_by_caller():
    """Nodes built in this block (in this thread) get no trace of their own.

    For code that sets every node's trace itself: the rewriter gives each node it
    puts into a graph the trace of the node it replaces, so walking the stack for
    each of the many nodes a rewrite builds would be wasted work.
    """
    before = getattr(_trace_state, "skip", False)
    _trace_state.skip = True
    try:
        yield
    finally:
        _trace_state.skip = before


class Type:
    """The kind of value a Variable stands for.

    Subclasses define ``filter`` (convert or reject a run-time value),
    ``__eq__``/``__hash__`` and ``make_variable``.
    """

    def make_variable(self, name=None):
        return Variable(self, name=name)

    def __call__(self, name=None):
        return self.make_variable(name)

    def filter(self, value, strict=False, allow_downcast=None):
        raise NotImplementedError

    def is_super(self, other):
        """True if every value of ``other`` is a valid value of ``self``."""
        return self == other


class Variable:
    """A symbolic value of a given ``type``.

    ``owner`` is the Apply node that computes it (None for graph inputs and
    constants) and ``index`` its position among the owner's outputs.
    """

    __array_priority__ = 1000

    def __init__(self, type, owner=None, index=None, name=None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.auto_name = f"_{next(_ids)}"
        # ``tag`` is made on first use (``__getattr__``): most variables never get a note,
        # and a graph of n nodes then holds n objects fewer for the collector to walk

    def __getattr__(self, name):
        # only called for an attribute not found: ``tag`` before its first use
        if name == "tag":
            tag = self.tag = _Tag()
            return tag
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def clone(self):
        """A new, ownerless variable of the same type and name."""
        return self.copy_owned_by(None, None)

    def copy_owned_by(self, owner, index):
        """A new variable of the same type, name and notes: output ``index`` of ``owner``."""
        cp = type(self)(self.type, owner, index, self.name)
        tag = self.__dict__.get("tag")
        if tag is not None and tag.__dict__:  # else the copy's own tag is made when first used
            cp.tag = tag.copy()
        return cp

    def get_parents(self):
        return [self.owner] if self.owner is not None else []

    def __str__(self):
        if self.name is not None:
            return self.name
        if self.owner is not None:
            op = str(self.owner.op)
            if len(self.owner.outputs) == 1:
                return f"{op}.out"
            return f"{op}.{self.index}"
        return f"<{self.type}>"

    def __repr__(self):
        return str(self)

    def eval(self, inputs_to_values=None):
        """Compile a function of the graph inputs and evaluate it.

        Compiled functions are cached on the variable by input set, so that
        calling ``eval`` in a loop does not recompile.
        """
        # lazy: Variable.eval is a facade over nbgrad.compile, which builds on the graph
        from nbgrad.compile.function import function

        inputs_to_values = dict(inputs_to_values or {})
        inputs = list(inputs_to_values)
        key = tuple(id(v) for v in inputs)
        cache = self.tag.__dict__.setdefault("_eval_cache", {})
        if key not in cache:
            cache[key] = function(inputs, self)
        return cache[key](*[inputs_to_values[v] for v in inputs])


class Constant(Variable):
    """A Variable with a fixed value ``data``; it has no owner."""

    def __init__(self, type, data, name=None):
        super().__init__(type, None, None, name)
        self.data = type.filter(data, strict=False, allow_downcast=True)

    def signature(self):
        return (self.type, _value_key(self.data))

    def clone(self):
        cp = type(self)(self.type, self.data, self.name)
        cp.tag = self.tag.copy()
        return cp

    def __str__(self):
        if self.name is not None:
            return self.name
        return str(self.data)


def _value_key(data):
    try:
        return (data.dtype.str, data.shape, data.tobytes())
    except AttributeError:
        return data


class _Tag:
    """A free-form annotation bag (trace, test values, display hints)."""

    def copy(self):
        new = _Tag()
        notes = self.__dict__
        if notes:  # most variables' tags are empty: their copies stay without a dict
            new.__dict__.update({k: v for k, v in notes.items() if not k.startswith("_")})
        return new


class Apply:
    """One application of ``op`` to ``inputs``, producing ``outputs``."""

    def __init__(self, op, inputs, outputs):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        for i, out in enumerate(self.outputs):
            out.owner = self
            out.index = i
        self.tag = _Tag()
        self.tag.trace = None if getattr(_trace_state, "skip", False) else user_trace()

    @property
    def out(self):
        if len(self.outputs) != 1:
            raise AttributeError(f"{self.op} has {len(self.outputs)} outputs; use .outputs")
        return self.outputs[0]

    @property
    def nin(self):
        return len(self.inputs)

    @property
    def nout(self):
        return len(self.outputs)

    def structural_copy(self, inputs):
        """A copy of this node reading ``inputs`` (a list it keeps, of this node's input
        types), with copies of its outputs (same types, names and notes) and its trace:
        what a copy of a whole graph makes of each node, without ``make_node``."""
        new = Apply.__new__(Apply)  # not ``__init__``: the trace is this node's
        new.op = self.op
        new.inputs = inputs
        new.outputs = [o.copy_owned_by(new, k) for k, o in enumerate(self.outputs)]
        tag = new.tag = _Tag()
        tag.trace = self.tag.trace
        return new

    def clone_with_new_inputs(self, inputs, strict=True):
        """Apply the same op to new inputs (through ``make_node``)."""
        node = self.op.make_node(*inputs)
        node.tag.trace = self.tag.trace
        return node

    def __str__(self):
        return f"{self.op}({', '.join(map(str, self.inputs))})"

    __repr__ = __str__
