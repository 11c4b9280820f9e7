"""A cell's derived formulas as one graph that reads like a textbook.

The compiled function's graph is made to run fast: elementwise chains are
fused into ``Composite`` nodes, results are written in place, and a subexpression
that two results share may be computed inside two different fused nodes. For
reading, ``readable_graph`` turns the displayed results into one graph again:

* every fused node is written out as the chain of elementwise operations it
  computes, ``log_sigmoid(x)`` as ``log(sigmoid(x))`` and ``log_softmax(x)`` as
  ``log(softmax(x))`` (how they print anyway);
* a few forms read more simply (``_RULES``): ``-a - b`` → ``-(a + b)``, ``--a`` → ``a``,
  ``a - -b`` → ``a + b``, ``-a + b`` → ``b - a``, ``sum(-x)`` → ``-sum(x)``,
  ``t * alloc(c, n)[:, None]`` → ``t * c``, ``x * -y`` → ``-(x * y)``,
  ``x * (1 / n)`` → ``x / n``, ``0.01 * (2 * w)`` → ``0.02 * w``;
* the results are merged in one ``FunctionGraph``, so that equal subexpressions
  (of one result or of several) are one variable.

The simplifications are identities of the math, so the formula shown is the one
computed, but several of them round differently (``x * (1 / n)`` and ``x / n``), and
none makes the compiled code faster (a fused node computes ``-(-a - b)`` in one pass):
they belong to the reading, not to the rewrites, which must keep every result. They
never look inside a displayed result (``_Look``), so that a result stays one variable
that the other formulas can print by its name.

On that graph ``repeated`` finds the subexpressions that a formula writes out
more than once, which the notebook names in a ``where`` clause.

Nothing here changes the compiled function: the graph is a copy.
"""

import numpy as np

import nbgrad.tensor as T
from nbgrad.graph import Constant, FunctionGraph, graph_inputs
from nbgrad.printing.printer import constant_value
from nbgrad.rewriting.merge import merge
from nbgrad.scalar import scalar_ops
from nbgrad.tensor import Alloc, DimShuffle, Elemwise, Sum
from nbgrad.tensor.nnet import LogSoftmax, Softmax

__all__ = ["readable_graph", "repeated"]

_NEG, _SUB, _ADD, _MUL, _TRUE_DIV, _LOG_SIGMOID = (
    scalar_ops[name] for name in ("neg", "sub", "add", "mul", "true_div", "log_sigmoid"))

# the simplifications run until nothing changes, at most this many times over the graph
_MAX_PASSES = 8


def readable_graph(outputs, simplify=True):
    """``outputs`` as one merged graph that reads like the math (see the module docstring).

    Returns the new variable of each output, in order; with ``simplify=False`` only
    the fused nodes are written out and equal subexpressions merged.

    >>> import nbgrad.tensor as T
    >>> x, b = T.dvector("x"), T.dscalar("b")
    >>> y, z = readable_graph([-(-x - b), T.exp(-(-x - b))])
    >>> z.owner.inputs[0] is y
    True
    """
    inputs = [v for v in graph_inputs(outputs) if not isinstance(v, Constant)]
    fgraph = FunctionGraph(inputs, list(outputs))
    _until_done(fgraph, lambda node: _unfused(node))
    merge(fgraph)  # a result and its copies are one variable before the simplifications
    if simplify:
        _until_done(fgraph, lambda node: _simpler(node, set(fgraph.outputs)))
        merge(fgraph)
    return list(fgraph.outputs)


def _until_done(fgraph, rule):
    """Apply ``rule`` (node → replacement of its output, or None) to every node, again
    until nothing changes (at most ``_MAX_PASSES`` times)."""
    for _ in range(_MAX_PASSES):
        changed = False
        for node in fgraph.toposort():
            if node not in fgraph.apply_nodes or len(node.outputs) != 1:
                continue
            old, new = node.outputs[0], rule(node)
            if new is None or new is old:
                continue
            if new.type != old.type and old.type.convert_variable(new) is None:
                continue  # a form of another static shape cannot stand for it (left as it is)
            fgraph.replace(old, new, reason="readable")
            changed = True
        if not changed:
            return


# ------------------------------------------------------------------------ fused nodes
def _scalar_op(node):
    return node.op.scalar_op if isinstance(node.op, Elemwise) else None


def _unfused(node):
    """A fused node as the elementwise chain it computes; an in-place one as the plain op;
    ``log_sigmoid(x)`` as ``log(sigmoid(x))`` and ``log_softmax(x)`` as ``log(softmax(x))``."""
    if isinstance(node.op, LogSoftmax):
        return T.log(Softmax(node.op.axis)(node.inputs[0]))
    sop = _scalar_op(node)
    if sop is None:
        return None
    if getattr(sop, "nodes", None) is not None and hasattr(sop, "outputs"):  # Composite
        return _inline(sop, node.inputs)
    if isinstance(sop, _LOG_SIGMOID):
        return T.log(T.sigmoid(node.inputs[0]))
    if type(node.op) is not Elemwise:
        return Elemwise(sop)(*node.inputs)
    return None


def _inline(composite, inputs):
    """The inner graph of ``composite`` applied to the tensors ``inputs``."""
    bound = dict(zip(composite.inputs, inputs))
    for inner in composite.nodes:
        args = [bound.get(i, i) for i in inner.inputs]
        sop = _scalar_op(inner)
        if sop is not None and getattr(sop, "nodes", None) is not None:
            out = _inline(sop, args)
        else:
            out = inner.op(*args)
        bound[inner.outputs[0]] = out
    return bound.get(composite.outputs[0], composite.outputs[0])


# ------------------------------------------------------------------------ simpler forms
class _Look:
    """What a rule may see of an operand: not the inside of a result the cell shows (its
    formula must stay one variable, so that other formulas can print it by its name)."""

    def __init__(self, opaque):
        self.opaque = opaque

    def op(self, var, cls):
        """The inputs of ``var`` if an Elemwise of scalar op class ``cls`` computes it, else None."""
        if var.owner is None or var in self.opaque or not isinstance(_scalar_op(var.owner), cls):
            return None
        return var.owner.inputs

    def scalar(self, var):
        """The scalar that ``var`` broadcasts (``c`` for ``c[None, None]``), else ``var``."""
        node = var.owner
        if var in self.opaque or node is None or not isinstance(node.op, DimShuffle):
            return var
        return node.inputs[0] if node.inputs[0].ndim == 0 else var

    def fill(self, var):
        """The scalar of ``alloc(c, ...)`` or ``alloc(c, ...)[:, None]``, else None."""
        while var.owner is not None and isinstance(var.owner.op, DimShuffle) and not var.owner.op.drop:
            var = var.owner.inputs[0]
        node = var.owner
        if node is None or var in self.opaque or not isinstance(node.op, Alloc):
            return None
        value = self.scalar(node.inputs[0])
        return value if value.ndim == 0 else None


def _negation_out(node, look):
    """``sum(-x)`` → ``-sum(x)``, ``(-x)[:, None]`` → ``-x[:, None]``."""
    x = node.inputs[0]
    inner = look.op(x, _NEG)
    if isinstance(node.op, (Sum, DimShuffle)) and inner is not None and x.ndim > 0:
        return -node.op(inner[0])
    return None


def _double_negation(node, look):
    """``--a`` → ``a``."""
    if isinstance(_scalar_op(node), _NEG):
        inner = look.op(node.inputs[0], _NEG)
        return inner[0] if inner is not None else None
    return None


def _signs(node, look):
    """``a - -b`` → ``a + b``, ``-a - b`` → ``-(a + b)``, ``-a + b`` → ``b - a``."""
    sop = _scalar_op(node)
    if isinstance(sop, _SUB):
        a, b = node.inputs
        if look.op(b, _NEG) is not None:
            return a + look.op(b, _NEG)[0]
        if look.op(a, _NEG) is not None:
            return -(look.op(a, _NEG)[0] + b)
    if isinstance(sop, _ADD) and len(node.inputs) == 2:
        for x, y in (node.inputs, node.inputs[::-1]):
            if look.op(x, _NEG) is not None:
                return y - look.op(x, _NEG)[0]
    return None


def _filled_scalar(node, look):
    """``t * alloc(c, n)[:, None]`` → ``t * c``: a scalar broadcast by ``alloc``, next to an
    operand of full shape, is the scalar (the shapes agree, or the graph would fail)."""
    sop = _scalar_op(node)
    if not isinstance(sop, (_MUL, _TRUE_DIV, _ADD, _SUB)) or len(node.inputs) != 2:
        return None
    out = node.outputs[0]
    full = [i for i in node.inputs if i.ndim == out.ndim and not any(i.type.broadcastable)]
    for k, i in enumerate(node.inputs):
        fill = look.fill(i)
        if fill is not None and any(f is not i for f in full):
            args = list(node.inputs)
            args[k] = fill
            return node.op(*args)
    return None


def _products(node, look):
    """``x * -y`` → ``-(x * y)``, ``x * (1 / n)`` → ``x / n``, ``c1 * (c2 * x)`` → ``(c1 c2) * x``
    (when the product of the constants reads short: ``0.02``, not ``0.30000000000000004``)."""
    if not isinstance(_scalar_op(node), _MUL) or len(node.inputs) != 2:
        return None
    for x, y in (node.inputs, node.inputs[::-1]):
        y = look.scalar(y)
        if look.op(y, _NEG) is not None:
            return -(x * look.op(y, _NEG)[0])
        ratio = look.op(y, _TRUE_DIV)
        if ratio is not None and constant_value(ratio[0]) == 1:
            return x / ratio[1]
    for c1, y in (node.inputs, node.inputs[::-1]):
        a, inner = constant_value(c1), look.op(y, _MUL)
        if a is None or inner is None:
            continue
        for c2, x in (inner, inner[::-1]):
            b = constant_value(c2)
            if b is not None and _short(a * b):
                return T.constant(np.asarray(a * b, dtype=node.outputs[0].dtype)) * x
    return None


# the rules of ``_simpler``, tried in order
_RULES = (_negation_out, _double_negation, _signs, _filled_scalar, _products)


def _simpler(node, opaque):
    """The first simpler form of ``node``'s output that a rule of ``_RULES`` gives, else None."""
    look = _Look(opaque)
    out = node.outputs[0]
    for rule in _RULES:
        new = rule(node, look)
        if new is not None and new.dtype == out.dtype and new.ndim == out.ndim:
            return new
    return None


def _short(value):
    """True if ``value`` prints in a few characters (``0.02``, not ``0.30000000000000004``)."""
    return value is not None and len(repr(float(value))) <= 8


# ------------------------------------------------------------------------ repeats
def repeated(tops, stop, heavy):
    """The subexpressions that the formulas of ``tops`` write out more than once, together.

    ``stop`` is a set of variables printed as a name (their formulas are not
    written out, except where one is itself in ``tops``); ``heavy(var)`` says if a
    subexpression is worth a name. Returns the repeated heavy subexpressions,
    outermost first (each before what it contains).

    >>> import nbgrad.tensor as T
    >>> x = T.dvector("x")
    >>> e = T.exp(x)
    >>> [str(v) for v in repeated([e * e + 1], set(), lambda v: True)]
    ['exp.out']
    """
    tops = list(tops)
    roots = set(tops)
    order = []  # the variables written out, each after every variable that uses it
    seen = set()
    stack = [(t, False) for t in reversed(tops)]
    while stack:
        var, done = stack.pop()
        if done:
            order.append(var)
            continue
        if var in seen:
            continue
        seen.add(var)
        stack.append((var, True))
        if var.owner is not None and (var in roots or var not in stop):
            stack.extend((i, False) for i in var.owner.inputs if i not in seen)
    order.reverse()
    count = dict.fromkeys(tops, 1)
    for var in order:
        if var.owner is None or (var not in roots and var in stop):
            continue
        for i in var.owner.inputs:
            if i not in roots:  # a name's definition is written once, however often it is used
                count[i] = count.get(i, 0) + count[var]
    return [v for v in order
            if v not in roots and v not in stop and count.get(v, 0) > 1 and v.owner is not None and heavy(v)]
