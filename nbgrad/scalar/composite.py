"""``Composite``: a chain of elementwise operations fused into one scalar op.

The fusion rewrite replaces a connected group of ``Elemwise`` nodes by one
``Elemwise(Composite(...))`` node. A Composite holds its *inner graph*: the
public attributes ``inputs`` (0-d symbolic variables standing for the outer
inputs, in order) and ``outputs`` (a list with one 0-d variable computed from
``inputs`` by ``Elemwise`` nodes), so printers can show the fused formula by
substituting the outer inputs for ``inputs``.

Its value is computed by the backends: on the CPU by the blocked, threaded
evaluator of ``nbgrad.backends.cpu_kernels``, on the GPU by one CuPy
``ElementwiseKernel`` built by ``nbgrad.backends.cuda_codegen`` from each scalar
op's CUDA template.
"""

import numpy as np

from nbgrad.graph.nograd import DisconnectedType
from nbgrad.graph.replace import clone_replace
from nbgrad.graph.traversal import io_toposort
from nbgrad.scalar.basic import DISCONNECTED, PREC_ATOM, ScalarOp

__all__ = ["Composite"]


def _const_text(c, exact):
    v = np.asarray(c.data).reshape(-1)[0]
    if exact:
        return f"{c.dtype}:{v!r}"
    return f"{v:g}" if isinstance(v, np.floating) else str(v)


#: Longer formulas are named by their size only (the name is for people; the key is exact).
MAX_NAME_LENGTH = 2000


def _expr(var, names, nodes):
    """Infix text of the inner graph with inner inputs named by ``names``, or None if too long."""
    if _surely_too_long(names, nodes):
        return None
    text = dict(names)

    def arg(v):
        if v in text:
            return text[v]
        return _const_text(v, exact=False)

    for node in nodes:
        sop = node.op.scalar_op
        args = [arg(i) for i in node.inputs]
        if sop.symbol and len(args) == 2:
            s = f"({args[0]} {sop.symbol} {args[1]})"
        elif sop.symbol and len(args) == 1:
            s = f"({sop.symbol}{args[0]})"
        else:
            s = f"{sop.name}({', '.join(args)})"
        if len(s) > MAX_NAME_LENGTH:
            return None
        text[node.outputs[0]] = s
    return arg(var)


def _surely_too_long(names, nodes):
    """Whether the text of some node (so of the whole formula, which contains it) is longer
    than ``MAX_NAME_LENGTH`` even with every constant written in one character: then
    ``_expr`` gives None, found without formatting a constant or joining a string."""
    length = {v: len(t) for v, t in names.items()}
    for node in nodes:
        sop = node.op.scalar_op
        operands = node.inputs
        n = sum([length.get(i, 1) for i in operands])
        if sop.symbol and len(operands) == 2:
            n += 4 + len(str(sop.symbol))
        elif sop.symbol and len(operands) == 1:
            n += 2 + len(str(sop.symbol))
        else:
            n += len(str(sop.name)) + 2 + 2 * max(len(operands) - 1, 0)
        if n > MAX_NAME_LENGTH:
            return True
        length[node.outputs[0]] = n
    return False


def _structure(inputs, outputs, nodes):
    """``(structure, numbered)``: an exact, linear-size key of the inner graph, as one flat tuple.

    For each node in order: its scalar op, its number of operands and a reference per operand
    (``k`` for inner input ``k``, ``-1 - n`` for the result of node ``n``, ``"c<m>"`` for
    constant number ``m``); last, the reference of the output. Constants are numbered by
    dtype and bytes in the order they are read: ``numbered`` maps each ``(dtype, bytes)`` to
    ``(its reference, the first constant of that value)``, in that order.
    """
    ref = {v: k for k, v in enumerate(inputs)}
    numbered = {}
    flat = []
    for n, node in enumerate(nodes):
        operands = node.inputs
        flat.append(node.op.scalar_op)
        flat.append(len(operands))
        for i in operands:
            r = ref.get(i)
            if r is None:
                r = ref[i] = _constant_ref(i, numbered)
            flat.append(r)
        ref[node.outputs[0]] = -1 - n
    out = outputs[0]
    r = ref.get(out)
    flat.append(r if r is not None else _constant_ref(out, numbered))
    return tuple(flat), numbered


def _constant_ref(c, numbered):
    value = (c.dtype, np.asarray(c.data).tobytes())
    found = numbered.get(value)
    if found is None:
        found = numbered[value] = (f"c{len(numbered)}", c)
    return found[0]


class Composite(ScalarOp):
    """One scalar op computing a whole elementwise expression.

    Parameters
    ----------
    inputs : list of 0-d TensorVariables without owner
        The inner inputs, one per input of the fused node.
    outputs : list of one 0-d TensorVariable
        The inner result, computed from ``inputs`` (and constants) by Elemwise nodes.
    traces : tuple
        The user-code traces ``(file, line, function)`` of the fused nodes, so
        that a run-time error can show every line the fused formula came from.

    Besides ``inputs``, ``outputs`` and ``nodes`` (the inner nodes in order), a Composite
    has ``structure``, its inner graph with the constants numbered by value (see
    ``_structure``), and ``constants``, one inner constant per number: Composites that
    differ only in the values of their constants have one ``structure``.

    Examples
    --------
    >>> import numpy as np, nbgrad.tensor as T
    >>> a, b = T.dscalar(), T.dscalar()
    >>> comp = Composite([a, b], [T.exp(a) * b + 1])
    >>> comp.name
    'Composite{((exp(i0) * i1) + 1)}'
    >>> comp.impl(np)(np.zeros(3), np.full(3, 2.0))
    array([3., 3., 3.])
    """

    __props__ = ("key",)
    precedence = PREC_ATOM

    def __init__(self, inputs, outputs, traces=()):
        if len(outputs) != 1:
            raise ValueError(f"Composite computes one output, got {len(outputs)}")
        for v in list(inputs) + list(outputs):
            if v.ndim != 0:
                raise TypeError(f"Composite: inner variables must be 0-d, {v} has type {v.type}")
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.nin = len(self.inputs)
        self.nodes = io_toposort(self.inputs, self.outputs)
        names = {v: f"i{k}" for k, v in enumerate(self.inputs)}
        self.expr = _expr(self.outputs[0], names, self.nodes)
        self.structure, numbered = _structure(self.inputs, self.outputs, self.nodes)
        self.constants = [c for _, c in numbered.values()]
        self.key = (self.structure, tuple(numbered), tuple(v.dtype for v in self.inputs),
                    self.outputs[0].dtype)
        self.name = (f"Composite{{{self.expr}}}" if self.expr is not None
                     else f"Composite{{{len(self.nodes)} ops}}")
        self.traces = tuple(t for t in traces if t)
        self._impls = {}

    def output_dtype(self, *dtypes):
        return self.outputs[0].dtype

    # ---------------------------------------------------------------- saving
    def inner_graph_form(self):
        """``(inner inputs, inner outputs, settings)``: what ``nbgrad.save`` writes of this op."""
        return self.inputs, self.outputs, {}

    @classmethod
    def from_inner_graph(cls, inputs, outputs):
        """The op again from what ``inner_graph_form`` gave (``nbgrad.load``)."""
        return cls(inputs, outputs)

    def impl(self, xp):
        """The evaluator of the whole inner graph on ``xp``, built once per array module."""
        fn = self._impls.get(xp.__name__)
        if fn is None:
            if xp is np:
                # lazy: upward: the evaluators are backend code, which builds on the scalar ops
                from nbgrad.backends.cpu_kernels import composite_evaluator

                fn = composite_evaluator(self)
            else:
                # lazy: upward: the evaluators are backend code, which builds on the scalar ops
                from nbgrad.backends.cuda_codegen import composite_evaluator

                fn = composite_evaluator(self, xp)
            self._impls[xp.__name__] = fn
        return fn

    def partials(self, m, inputs, output):
        """∂z/∂xᵢ from the inner graph's own derivative rules, written over ``inputs``."""
        # lazy: upward: the differentiation driver builds on the ops, a Composite among them
        from nbgrad.gradient import grad

        gs = grad(self.outputs[0], self.inputs, disconnected_inputs="ignore",
                  return_disconnected="Disconnected")
        out = []
        for g in gs:
            if isinstance(g.type, DisconnectedType):
                out.append(DISCONNECTED)
            else:
                out.append(clone_replace(g, dict(zip(self.inputs, inputs))))
        return out
