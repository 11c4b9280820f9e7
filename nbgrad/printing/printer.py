"""The printer driver shared by every output format.

A ``Printer`` walks a graph once, remembers what it printed for each variable
(shared subexpressions are printed once and reused), and dispatches on the op
class: ``_print_Sum`` handles ``Sum`` nodes, ``_print_CAReduce`` every other
reduction, ``_print_Op`` everything else. Each result is a ``Printed``: the
string, its precedence (from the one table in ``nbgrad.scalar.basic``) and a
short ``kind`` tag; ``parenthesize`` is the only place that adds parentheses.

Fused ``Composite`` scalar ops are printed inline: the inner graph is printed
with its inputs bound to what was printed for the outer inputs.

The walk is iterative (inputs are printed before the variables that use them,
from an explicit stack), so graphs of any depth print. The text of a long
operand is kept once, in a table, and stands in its parent's text as a short
placeholder that starts with the operand's first characters; the whole text is
assembled once, at the end. Each format's rules look only at an operand's
first characters (``-x``, ``\\frac``, a digit) or at whether it holds a sub- or
superscript, and the placeholder answers both as the full text would, so
printing a chain of n operations takes time and memory linear in n instead of
copying ever longer strings at every level.
"""

import re
from typing import NamedTuple

import numpy as np

from nbgrad.banded import Diagonals
from nbgrad.scalar.basic import (
    PREC_ADD, PREC_AND, PREC_ATOM, PREC_CMP, PREC_MUL, PREC_NEG, PREC_OR, PREC_POW, Mul, ScalarOp,
)
from nbgrad.tensor.elemwise import SumToShape
from nbgrad.rewriting.patterns import dim_key, shape_entry_key
from nbgrad.tensor.shape import Alloc

__all__ = [
    "Printed", "Printer", "parenthesize", "scalar_op_of", "inner_graph", "index_parts", "index_letters",
    "number_str", "MAX_ELEMENTS",
    "PREC_OR", "PREC_AND", "PREC_CMP", "PREC_ADD", "PREC_MUL", "PREC_NEG", "PREC_POW", "PREC_ATOM",
]


# Constants with more elements than this print as a summary (dtype and shape).
MAX_ELEMENTS = 16

# A placeholder is _OPEN, a table index, the marks "_"/"^" of what it stands for, _CLOSE:
# Unicode private-use characters, which the printers never write (a variable named
# with them would be misread).
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACEHOLDER = re.compile("\ue000([0-9]+)[_^]*\ue001")
# How many characters of a long operand stay in its parent's text: enough for
# every rule that looks at how an operand starts.
_FOLD_HEAD = 32


class Printed(NamedTuple):
    """What was printed for one variable: text, precedence and a kind tag."""

    s: str
    prec: int = PREC_ATOM
    kind: str = ""


def parenthesize(p, parent_prec, strict=False, left="(", right=")"):
    """``p.s`` wrapped in ``left``/``right`` when it binds looser than ``parent_prec``.

    With ``strict`` an operand of equal precedence is wrapped too (the right
    operand of ``-``, the base of ``**``).

    >>> parenthesize(Printed("x + 1", PREC_ADD), PREC_MUL)
    '(x + 1)'
    >>> parenthesize(Printed("x * 2", PREC_MUL), PREC_MUL)
    'x * 2'
    """
    if p.prec < parent_prec or (strict and p.prec == parent_prec):
        return f"{left}{p.s}{right}"
    return p.s


def scalar_op_of(node):
    """The scalar op an Apply node applies elementwise, or None."""
    op = node.op
    if isinstance(op, ScalarOp):
        return op
    return getattr(op, "scalar_op", None)


def inner_graph(sop):
    """``(inputs, outputs)`` of a fused scalar op's inner graph, or None."""
    fg = getattr(sop, "fgraph", None)
    inputs = getattr(sop, "inputs", None)
    outputs = getattr(sop, "outputs", None)
    if (inputs is None or outputs is None) and fg is not None:
        inputs, outputs = fg.inputs, fg.outputs
    if isinstance(inputs, (list, tuple)) and isinstance(outputs, (list, tuple)) and outputs:
        return list(inputs), list(outputs)
    return None


def number_str(v):
    """The shortest text of a NumPy scalar that reads back to the same value (``2.0`` → ``2``)."""
    v = np.asarray(v)
    if v.dtype == bool:
        return str(bool(v))
    if v.dtype.kind in "iu":
        return str(int(v))
    if v.dtype.kind == "c":
        return str(complex(v))
    s = str(v[()])
    if s.endswith(".0"):
        s = s[:-2]
    return s


class Printer:
    """Base class: graph walk, memo, names, constants, Composite inlining.

    Subclasses define the format: ``print_name``, ``print_constant``,
    ``print_scalar`` (one elementwise application) and ``_print_<OpClass>``
    methods, with ``_print_Op`` as the fallback.
    """

    #: Operand text longer than this is held in the table and replaced by a placeholder.
    fold_above = 200

    def __init__(self):
        self._memo = {}
        self._bound = {}
        self._in_composite = 0
        self._folded = []

    # --- entry -----------------------------------------------------------------
    def doprint(self, var):
        """The text of ``var``; the top-level variable is always expanded, never named."""
        return self.unfold(self.print_var(var, top=True).s)

    def print_var(self, var, top=False):
        if var in self._bound:
            return self._bound[var]
        if not top and var in self._memo:
            return self._memo[var]
        self._print_inputs_first(var, top)
        return self._print_one(var, top)

    def _expands(self, var, top):
        """True if printing ``var`` prints its owner's inputs (it is not a leaf, a name or done)."""
        if var in self._bound or (not top and var in self._memo) or var.owner is None:
            return False
        return var.name is None or top or self._in_composite > 0

    def _print_inputs_first(self, root, top):
        """Print, bottom-up from an explicit stack, every variable below ``root`` not printed yet.

        Afterwards printing ``root`` (and each variable it uses) finds its
        operands in the memo, so no call goes deeper than one node.
        """
        if not self._expands(root, top):
            return
        stack = [(i, False) for i in reversed(root.owner.inputs)]
        while stack:
            var, ready = stack.pop()
            if ready:
                if var not in self._memo:
                    self._print_one(var, False)
                continue
            if not self._expands(var, False):
                continue
            stack.append((var, True))
            stack.extend((i, False) for i in reversed(var.owner.inputs) if self._expands(i, False))

    def _print_one(self, var, top):
        if var.owner is None:
            if hasattr(var, "data") and var.name is None:
                p = self.print_constant(var)
            else:
                p = self.print_name(var)
        elif var.name is not None and not top and not self._in_composite:
            p = self.print_name(var)
        else:
            p = self.print_output(var)
        if len(p.s) > max(self.fold_above, _FOLD_HEAD):
            p = p._replace(s=self._fold(p.s))
        if not top:
            self._memo[var] = p
        return p

    # --- long operands ------------------------------------------------------------
    def _fold(self, s):
        """``s`` as its first characters and a placeholder for the rest (see ``unfold``).

        The placeholder carries ``_`` and ``^`` when the rest holds them, so
        ``"_" in text`` reads the same as on the full text.
        """
        cut = _FOLD_HEAD
        start = s.rfind(_OPEN, 0, cut)
        if start >= 0 and s.find(_CLOSE, start, cut) < 0:
            cut = start  # never split a placeholder already in the text
        head, rest = s[:cut], s[cut:]
        self._folded.append(rest)
        marks = "".join(c for c in "_^" if c in rest)
        return f"{head}{_OPEN}{len(self._folded) - 1}{marks}{_CLOSE}"

    def unfold(self, s):
        """The full text of ``s``: every placeholder replaced by the text it stands for."""
        if _OPEN not in s:
            return s
        out = []
        stack = [(s, 0)]
        while stack:
            text, pos = stack.pop()
            m = _PLACEHOLDER.search(text, pos)
            if m is None:
                out.append(text[pos:])
                continue
            out.append(text[pos:m.start()])
            stack.append((text, m.end()))
            stack.append((self._folded[int(m.group(1))], 0))
        return "".join(out)

    def print_output(self, var):
        node = var.owner
        sop = scalar_op_of(node)
        if sop is not None:
            graph = inner_graph(sop)
            if graph is not None:
                return self.print_composite(node, var, graph)
            args = [self.print_operand(i, node) for i in node.inputs]
            if isinstance(sop, Mul) and len(args) == 2:
                for one, other in (args, args[::-1]):
                    if one.kind == "const" and one.s in ("1", "1.0"):
                        return other  # a broadcast 1 (the seed of grad) is not worth a factor
            if isinstance(sop, Mul) and len(args) == 2 and args[1].kind == "const" != args[0].kind:
                args = args[::-1]  # a constant factor reads first: 2 * x, whatever the graph's order
            return self.print_scalar(sop, args, node)
        for cls in type(node.op).__mro__:
            method = getattr(self, f"_print_{cls.__name__}", None)
            if method is not None:
                p = method(node, var)
                if p is not None:
                    return p
        return self._print_Op(node, var)

    def print_composite(self, node, var, graph):
        inner_in, inner_out = graph
        saved, saved_memo = self._bound, self._memo
        self._bound = dict(saved)
        for inner, outer in zip(inner_in, node.inputs):
            self._bound[inner] = self.print_operand(outer, node)
        # what an inner variable prints as depends on this node's operands:
        # another node applying the same Composite must not reuse it
        self._memo = {}
        self._in_composite += 1
        try:
            return self.print_var(inner_out[var.index or 0], top=True)
        finally:
            self._in_composite -= 1
            self._bound, self._memo = saved, saved_memo

    def args(self, node):
        return [self.print_var(i) for i in node.inputs]

    def print_operand(self, var, node):
        """An elementwise operand; a scalar broadcast by ``alloc`` prints as the scalar.

        Broadcasting is implicit in the formula when another operand carries the shape.
        """
        while var.owner is not None and isinstance(var.owner.op, SumToShape):
            var = var.owner.inputs[0]
        if (_is_alloc(var)
                and all(var.owner.inputs[0].type.broadcastable)
                and any(i is not var and i.ndim == var.ndim and not _is_alloc(i) for i in node.inputs)):
            return self.print_var(var.owner.inputs[0])
        return self.print_var(var)

    def _print_CheckSizes(self, node, var):
        # a run-time size check of the value: bookkeeping, not math
        return self.print_var(node.inputs[0])

    def _print_SumToShape(self, node, var):
        # Sums only over axes that NumPy broadcast at run time: in the formula,
        # as in the math it stands for, that bookkeeping is implicit.
        return self.print_var(node.inputs[0])

    # --- to be defined by each format ---------------------------------------------
    def print_name(self, var):
        raise NotImplementedError

    def print_constant(self, var):
        raise NotImplementedError

    def print_scalar(self, sop, args, node):
        raise NotImplementedError

    def _print_Op(self, node, var):
        raise NotImplementedError


def diagonal_form(node):
    """How a ``Diagonals`` node reads in the math: ``("diag", v)``, ``("eye", c)`` or None.

    A square matrix with one vector on its main diagonal is ``diag(v)``; with the
    same number all along it, ``c·I``. Sizes that come from the vector itself (the
    rows of a Jacobian of ``x``) are bookkeeping; other layouts print as the op.
    """
    if not isinstance(node.op, Diagonals) or node.op.offsets != (0,):
        return None
    n, m, v = node.inputs
    if shape_entry_key(n) != shape_entry_key(m):
        return None
    c = constant_value(v)
    if c is not None:
        return ("eye", c)
    if dim_key(v, 0) == shape_entry_key(m):
        return ("diag", v)
    return None


def identity_multiple(data):
    """c if ``data`` is c times the identity matrix (2 × 2 or larger), else None."""
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[0] != data.shape[1] or data.shape[0] < 2:
        return None
    c = data[0, 0]
    if data.dtype.kind not in "fiu" or not np.array_equal(data, c * np.eye(len(data), dtype=data.dtype)):
        return None
    return c


def constant_value(v):
    """The number of a constant that is the same everywhere (possibly broadcast), else None."""
    while v.owner is not None and v.owner.op.entries_of_first_input:
        v = v.owner.inputs[0]
    data = getattr(v, "data", None)
    if data is None or getattr(v, "owner", None) is not None:
        return None
    data = np.asarray(data)
    if data.size == 0 or not (data == data.flat[0]).all():
        return None
    return data.flat[0]


def _is_alloc(var):
    return var.owner is not None and isinstance(var.owner.op, Alloc)


def index_letters(ndim):
    """Index names for the axes of an array: ``i, j, k, l, m, n``, then ``i_6``, ..."""
    base = "ijklmn"
    return [base[a] if a < len(base) else f"i_{{{a}}}" for a in range(ndim)]


def index_parts(desc, inputs, new_axis, colon):
    """The text of each entry of an index description (``Subtensor.idx``).

    ``inputs`` are what was printed for the index's symbolic inputs, in order;
    ``new_axis`` is the text of a ``None`` entry and ``colon`` the separator
    of a slice's start, stop and step.

    >>> index_parts([("slice", 1, None, None), ("int", "v")], [Printed("i")], "None", ":")
    ['1:', 'i']
    """
    it = iter(inputs)
    parts = []
    for d in desc:
        kind = d[0]
        if kind == "none":
            parts.append(new_axis)
        elif kind == "int":
            parts.append(next(it).s if d[1] == "v" else str(d[1]))
        elif kind == "slice":
            s = ["" if c is None else (next(it).s if c == "v" else str(c)) for c in d[1:]]
            parts.append(colon.join(s[:2]) + (colon + s[2] if d[3] is not None else ""))
        else:
            parts.append(next(it).s)
    return parts
