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


def _const_text(value):
    v = np.asarray(value).reshape(-1)[0]
    return f"{v:g}" if isinstance(v, np.floating) else str(v)


#: Longer formulas are named by their size only (the name is for people; the key is exact).
MAX_NAME_LENGTH = 2000


def _steps_of(inputs, output, nodes):
    """``(constants, steps, output reference)`` of an inner graph whose nodes are ``nodes``,
    in order: the form ``Composite.from_steps`` takes, with the inner constants themselves
    (in the order they are read) in ``constants``."""
    nin = len(inputs)
    ref = {v: k for k, v in enumerate(inputs)}
    constants = []

    def operand(v):
        r = ref.get(v)
        if r is None:
            r = ref[v] = nin + len(constants)
            constants.append(v)
        return r

    steps = []
    for n, node in enumerate(nodes):
        steps.append((node.op.scalar_op, node.outputs[0].dtype, tuple([operand(i) for i in node.inputs])))
        ref[node.outputs[0]] = -1 - n
    return constants, steps, operand(output)


def _expr(nin, constants, steps, out):
    """Infix text of the inner graph with inner input ``k`` named ``i<k>``, or None if too long."""
    if _surely_too_long(nin, steps):
        return None
    text = [f"i{k}" for k in range(nin)] + [None] * len(constants)
    done = []

    def arg(r):
        if r < 0:
            return done[-1 - r]
        t = text[r]
        if t is None:
            t = text[r] = _const_text(constants[r - nin][0])
        return t

    for sop, _, operands in steps:
        args = [arg(r) for r in operands]
        if sop.symbol and len(args) == 2:
            s = f"({args[0]} {sop.symbol} {args[1]})"
        elif sop.symbol and len(args) == 1:
            s = f"({sop.symbol}{args[0]})"
        else:
            s = f"{sop.name}({', '.join(args)})"
        if len(s) > MAX_NAME_LENGTH:
            return None
        done.append(s)
    return arg(out)


def _surely_too_long(nin, steps):
    """Whether the text of some node (so of the whole formula, which contains it) is longer
    than ``MAX_NAME_LENGTH`` even with every constant written in one character: then
    ``_expr`` gives None, found without formatting a constant or joining a string.

    The formula's text holds each step's own characters (its symbol or name, parentheses
    and separators) at least once: when these alone are too many, it is too long, found
    without adding up the operands' texts step by step.
    """
    own = {}  # (scalar op, operand count) -> the characters a step adds to its operands'
    total = 0
    for sop, _, operands in steps:
        key = (id(sop), len(operands))
        n = own.get(key)
        if n is None:
            n = own[key] = _own_length(sop, len(operands))
        total += n
    if total > MAX_NAME_LENGTH:
        return True
    length = [len(f"i{k}") for k in range(nin)]
    done = []
    for sop, _, operands in steps:
        n = own[id(sop), len(operands)]
        for r in operands:
            n += done[-1 - r] if r < 0 else length[r] if r < nin else 1
        if n > MAX_NAME_LENGTH:
            return True
        done.append(n)
    return False


def _own_length(sop, n_operands):
    """The characters that the text of ``sop`` applied to ``n_operands`` adds to theirs."""
    if sop.symbol and n_operands == 2:
        return 4 + len(str(sop.symbol))
    if sop.symbol and n_operands == 1:
        return 2 + len(str(sop.symbol))
    return len(str(sop.name)) + 2 + 2 * max(n_operands - 1, 0)


def _structure(nin, constants, steps, out):
    """``(structure, numbered)``: an exact, linear-size key of the inner graph, as one flat tuple.

    For each step in order: its scalar op, its number of operands and a reference per operand
    (``k`` for inner input ``k``, ``-1 - n`` for the result of step ``n``, ``"c<m>"`` for
    constant number ``m``); last, the reference of the output. Constants are numbered by
    dtype and bytes in the order they are read: ``numbered`` maps each ``(dtype, bytes)`` to
    ``(its reference, the index in ``constants`` of the first constant of that value)``, in
    that order.
    """
    numbered = {}
    named = [None] * len(constants)  # constant -> its reference, once read
    flat = []
    append = flat.append

    def constant_ref(r):
        name = named[r - nin]
        if name is None:
            value, dtype = constants[r - nin]
            key = (dtype, np.asarray(value).tobytes())
            found = numbered.get(key)
            if found is None:
                found = numbered[key] = (f"c{len(numbered)}", r - nin)
            name = named[r - nin] = found[0]
        return name

    for sop, _, operands in steps:
        append(sop)
        append(len(operands))
        for r in operands:
            append(r if r < nin else constant_ref(r))
    append(out if out < nin else constant_ref(out))
    return tuple(flat), numbered


def _graph_of(in_dtypes, constants, steps, out):
    """``(inputs, outputs, nodes, constants)``: the inner graph of ``steps`` (``from_steps``),
    one 0-d type per dtype and one ``Elemwise`` per scalar op."""
    # lazy: upward: the inner graph is made of tensor variables and Elemwise nodes
    from nbgrad.graph.basic import Apply, traces_set_by_caller
    from nbgrad.tensor.elemwise import Elemwise
    from nbgrad.tensor.type import TensorType
    from nbgrad.tensor.variable import TensorConstant

    types, lifted = {}, {}

    def type_of(dtype):
        t = types.get(dtype)
        if t is None:
            t = types[dtype] = TensorType(dtype, ())
        return t

    inputs = [type_of(d)() for d in in_dtypes]
    inner_constants = [TensorConstant(type_of(d), np.asarray(v).reshape(())) for v, d in constants]
    values = inputs + inner_constants
    nodes, results = [], []
    with traces_set_by_caller():  # inner nodes have no trace: the Composite keeps its nodes'
        for sop, dtype, operands in steps:
            op = lifted.get(id(sop))
            if op is None:
                op = lifted[id(sop)] = Elemwise(sop)
            node = Apply(op, [results[-1 - r] if r < 0 else values[r] for r in operands], [type_of(dtype)()])
            nodes.append(node)
            results.append(node.outputs[0])
    output = results[-1 - out] if out < 0 else values[out]
    return inputs, [output], nodes, inner_constants


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
        inputs, outputs = list(inputs), list(outputs)
        nodes = io_toposort(inputs, outputs)
        constants, steps, out = _steps_of(inputs, outputs[0], nodes)
        self._define([v.dtype for v in inputs], [(c.data, c.dtype) for c in constants], steps, out, traces)
        self._graph = (inputs, outputs, nodes, constants)

    @classmethod
    def from_steps(cls, in_dtypes, constants, steps, traces=()):
        """The Composite computing ``steps`` in order, the last giving its result.

        ``in_dtypes`` are the dtypes of its inputs; ``constants`` the ``(value, dtype)`` of
        its one-element constants; ``steps`` a list of ``(scalar op, result dtype, operand
        references)``, where reference ``k`` is input ``k`` (``k < len(in_dtypes)``) or
        constant ``k - len(in_dtypes)``, and ``-1 - n`` is the result of step ``n``. The op
        is the one ``Composite(inputs, outputs)`` gives for the inner graph of these steps,
        whose nodes ``io_toposort`` gives in the order of ``steps``; that graph (``inputs``,
        ``outputs``, ``nodes``) is made when first read: fusion makes many Composites that
        only their kernels read, and these read the steps. Each step but the last is read
        by a later one.

        Examples
        --------
        >>> import numpy as np
        >>> from nbgrad.scalar.basic import Exp, Mul
        >>> comp = Composite.from_steps(["float64"], [(np.float64(2.0), "float64")],
        ...                             [(Exp(), "float64", (0,)), (Mul(), "float64", (-1, 1))])
        >>> comp.name
        'Composite{(exp(i0) * 2)}'
        """
        self = cls.__new__(cls)
        self._define(list(in_dtypes), list(constants), list(steps), -len(steps), traces)
        self._graph = None
        return self

    def _define(self, in_dtypes, constants, steps, out, traces):
        """Everything but the inner graph, from the steps (see ``from_steps``)."""
        nin = self.nin = len(in_dtypes)
        self.in_dtypes = tuple(in_dtypes)
        self.steps = steps  # (scalar op, result dtype, operand references), see from_steps
        # (value, dtype) of the constant that reference nin + k reads
        self.step_constants = constants
        self._out = out
        out_dtype = self._out_dtype = (steps[-1 - out][1] if out < 0 else in_dtypes[out] if out < nin
                                       else constants[out - nin][1])
        self.expr = _expr(nin, constants, steps, out)
        self.structure, numbered = _structure(nin, constants, steps, out)
        self._first_constants = [k for _, k in numbered.values()]
        self.key = (self.structure, tuple(numbered), self.in_dtypes, out_dtype)
        self.name = (f"Composite{{{self.expr}}}" if self.expr is not None
                     else f"Composite{{{len(steps)} ops}}")
        self.traces = tuple(t for t in traces if t)
        self._impls = {}

    # ---------------------------------------------------------------- the inner graph
    @property
    def inputs(self):
        """The inner inputs: 0-d variables standing for the outer inputs, in order."""
        return self._inner_graph()[0]

    @property
    def outputs(self):
        """A list with the inner result, computed from ``inputs`` by ``Elemwise`` nodes."""
        return self._inner_graph()[1]

    @property
    def nodes(self):
        """The inner nodes, in order (the order of ``steps``)."""
        return self._inner_graph()[2]

    @property
    def constants(self):
        """One inner constant per value (by dtype and bytes), in the order of ``structure``."""
        constants = self._inner_graph()[3]
        return [constants[k] for k in self._first_constants]

    @property
    def constant_values(self):
        """``(value, dtype)`` of each of ``constants``, read without making the inner graph."""
        return [self.step_constants[k] for k in self._first_constants]

    def _inner_graph(self):
        graph = self._graph
        if graph is None:
            # threads reading a new kernel at once may each make a graph: ``setdefault`` (one
            # step under the interpreter lock) keeps the first made, and every reader gets
            # that one, so that ``inputs`` and ``outputs`` always come from one graph
            made = _graph_of(self.in_dtypes, self.step_constants, self.steps, self._out)
            graph = self._graph = self.__dict__.setdefault("_graph_made", made)
        return graph

    def output_dtype(self, *dtypes):
        return self._out_dtype

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
