"""``pp``: graphs as infix text, parenthesized by precedence only where needed."""

import numpy as np

from nbgrad.printing.printer import (
    MAX_ELEMENTS, PREC_ATOM, PREC_CMP, PREC_MUL, PREC_NEG, PREC_POW, Printed, Printer, diagonal_form,
    identity_multiple, index_parts, number_str, parenthesize,
)
from nbgrad.scalar.basic import Cast, Identity, Sqr
from nbgrad.tensor.shape import ShapeI

__all__ = ["TextPrinter", "pp"]


class TextPrinter(Printer):
    """Python-like text: ``x ** 2 + 3 * x``, ``sum(x, axis=1)``, ``W.T @ h``, ``x[1:, 0]``."""

    # --- leaves ------------------------------------------------------------------
    def print_name(self, var):
        if var.name is not None:
            return Printed(var.name)
        return Printed(f"<{var.type}>")

    def print_constant(self, var):
        data = np.asarray(var.data)
        if data.size == 1:  # a broadcast scalar ([2] against a vector) reads as the number
            s = number_str(data.reshape(()))
            return Printed(s, PREC_NEG if s.startswith("-") else PREC_ATOM, "const")
        c = identity_multiple(data)
        if c is not None and c != 0:  # a Hessian with static shapes: 2 * I, not its entries
            return _eye_text(c)
        if data.size <= MAX_ELEMENTS:
            return Printed(_nested(data))
        return Printed(f"Constant{{{data.dtype}, shape={data.shape}}}")

    # --- elementwise ---------------------------------------------------------------
    def print_scalar(self, sop, args, node):
        name = sop.name
        symbol = getattr(sop, "symbol", None)
        prec = getattr(sop, "precedence", PREC_ATOM)
        if isinstance(sop, Identity):
            return args[0]
        if getattr(sop, "text", None):  # an op standing for an expression prints as it (log_sigmoid)
            return Printed(sop.text.format(*(a.s for a in args)))
        if isinstance(sop, Sqr):
            return Printed(f"{parenthesize(args[0], PREC_POW, strict=True)} ** 2", PREC_POW, "pow")
        if isinstance(sop, Cast):
            return Printed(f"{sop.dtype}({args[0].s})")
        if symbol and len(args) == 1:
            a = args[0]
            inner = f"({a.s})" if a.prec < prec or a.s.startswith(("-", "~")) else a.s
            return Printed(f"{symbol}{inner}", prec, name)
        if symbol and len(args) == 2:
            return _infix(args[0], args[1], symbol, prec, name, getattr(sop, "associative", False))
        return Printed(f"{name}({', '.join(a.s for a in args)})")

    # --- structure -----------------------------------------------------------------
    def _print_DimShuffle(self, node, var):
        op = node.op
        (x,) = self.args(node)
        if op.is_transpose:
            if op.input_ndim == 2 and op.new_order == (1, 0):
                return Printed(f"{parenthesize(x, PREC_ATOM)}.T")
            if op.new_order == tuple(range(op.input_ndim)):
                return x
            return Printed(f"{parenthesize(x, PREC_ATOM)}.transpose{op.new_order}")
        kept = [d for d in op.new_order if d != "x"]
        if not op.drop and kept == sorted(kept):
            lead = len(op.new_order) - op.input_ndim
            if all(d == "x" for d in op.new_order[:lead]) and kept == list(op.new_order[lead:]):
                return x  # left padding: NumPy broadcasting does this implicitly
            idx = ", ".join("None" if d == "x" else ":" for d in op.new_order)
            return Printed(f"{parenthesize(x, PREC_ATOM)}[{idx}]")
        pattern = ", ".join(repr(d) for d in op.new_order)
        return Printed(f"{parenthesize(x, PREC_ATOM)}.dimshuffle({pattern})")

    def _print_CAReduce(self, node, var):
        op = node.op
        (x,) = self.args(node)
        name = type(op).__name__.lower()
        ndim = node.inputs[0].ndim
        if len(op.axis) == ndim or not op.axis:
            return Printed(f"{name}({x.s})")
        axis = op.axis[0] if len(op.axis) == 1 else op.axis
        return Printed(f"{name}({x.s}, axis={axis})")

    def _print_Dot(self, node, var):
        a, b = self.args(node)
        return _infix(a, b, "@", PREC_MUL, "dot", False)

    _print_Matmul = _print_Dot

    def _print_Subtensor(self, node, var):
        x, *idx = self.args(node)
        return Printed(f"{parenthesize(x, PREC_ATOM)}[{_index(node.op.idx, idx)}]")

    def _print_IncSubtensor(self, node, var):
        x, y, *idx = self.args(node)
        fn = "set_subtensor" if node.op.set_instead_of_inc else "inc_subtensor"
        return Printed(f"{fn}({parenthesize(x, PREC_ATOM)}[{_index(node.op.idx, idx)}], {y.s})")

    def _print_Shape(self, node, var):
        return Printed(f"{parenthesize(self.print_var(node.inputs[0]), PREC_ATOM)}.shape")

    def _print_ShapeI(self, node, var):
        return Printed(f"{parenthesize(self.print_var(node.inputs[0]), PREC_ATOM)}.shape[{node.op.i}]")

    def _print_Diagonals(self, node, var):
        form = diagonal_form(node)
        if form is None:
            return None
        kind, v = form
        if kind == "diag":
            return Printed(f"diag({self.print_var(v).s})")
        return _eye_text(v)

    def _print_MakeVector(self, node, var):
        return Printed("[" + ", ".join(a.s for a in self.args(node)) + "]")

    def _print_Reshape(self, node, var):
        x, shp = self.args(node)
        return Printed(f"reshape({x.s}, {shp.s})")

    def _print_Alloc(self, node, var):
        value, *dims = self.args(node)
        if not dims:
            return value
        like = _shape_source(node.inputs[1:])
        if like is not None and node.inputs[0].type.shape == (1,) * node.inputs[0].ndim:
            x = self.print_var(like).s
            fill = {"1": "ones_like", "0": "zeros_like"}.get(value.s)
            return Printed(f"{fill}({x})" if fill else f"full_like({x}, {value.s})")
        return Printed(f"alloc({value.s}, {', '.join(d.s for d in dims)})")

    def _print_RandomVariable(self, node, var):
        if var.index != 1:
            return None
        _rng, size, *params = self.args(node)
        args = [p.s for p in params]
        if node.op.has_size:
            data = getattr(node.inputs[1], "data", None)
            shown = size.s if data is None else repr(tuple(int(s) for s in np.asarray(data).ravel()))
            args.append(f"size={shown}")
        return Printed(f"{node.op.dist}({', '.join(args)})")

    def _print_Join(self, node, var):
        args = self.args(node)
        return Printed(f"concatenate([{', '.join(a.s for a in args)}], axis={node.op.axis})")

    def _print_Softmax(self, node, var):
        return self._softmax("softmax", node)

    def _print_LogSoftmax(self, node, var):
        return self._softmax("log_softmax", node)

    def _softmax(self, name, node):
        (x,) = self.args(node)
        axis = getattr(node.op, "axis", -1)
        last = axis in (-1, None, node.inputs[0].ndim - 1)
        return Printed(f"{name}({x.s})" if last else f"{name}({x.s}, axis={axis})")

    def _print_SoftmaxCrossEntropy(self, node, var):
        # the fused op reads as the loss it is built from
        z, y = self.args(node)
        return Printed(f"categorical_crossentropy(softmax({z.s}), {y.s})")

    def _print_WrittenForm(self, node, var):
        # a stabilized node reads as the formula it computes, the one it was rewritten from
        return self.print_var(node.op.written_form(*node.inputs))

    def _print_Op(self, node, var):
        s = f"{node.op}({', '.join(a.s for a in self.args(node))})"
        if len(node.outputs) > 1:
            s += f"[{var.index}]"
        return Printed(s)


def _shape_source(dims):
    """``x`` if ``dims`` are ``x.shape[0], x.shape[1], ...`` in order, else None."""
    owners = [d.owner for d in dims]
    if not owners or any(o is None or not isinstance(o.op, ShapeI) for o in owners):
        return None
    x = owners[0].inputs[0]
    if x.ndim != len(dims) or any(o.inputs[0] is not x or o.op.i != i for i, o in enumerate(owners)):
        return None
    return x


def _infix(a, b, symbol, prec, kind, associative):
    if symbol == "**":
        left = parenthesize(a, prec, strict=True)
        right = parenthesize(b, prec, strict=True)
    else:
        if prec < PREC_CMP:  # & | ^ bind tighter than comparisons in Python: always group
            left, right = (parenthesize(p, PREC_ATOM) for p in (a, b))
            return Printed(f"{left} {symbol} {right}", prec, kind)
        left = parenthesize(a, prec, strict=prec == PREC_CMP)
        same = associative and b.kind == kind
        right = parenthesize(b, prec, strict=not same)
        if right.startswith("-"):
            right = f"({right})"
    return Printed(f"{left} {symbol} {right}", prec, kind)


def _index(desc, inputs):
    """An index description (``Subtensor.idx``) as NumPy index text, e.g. ``1:, 0``."""
    return ", ".join(index_parts(desc, inputs, "None", ":")) or "()"


def _nested(data):
    if data.ndim == 0:
        return number_str(data)
    return "[" + ", ".join(_nested(row) for row in data) + "]"


def pp(var):
    """Infix text of a graph, parenthesized by precedence.

    Named intermediate variables print as their names (the top-level variable
    is always expanded); constants print compactly; broadcasting that NumPy
    does implicitly is not shown. Fused elementwise (Composite) nodes print as
    their inner expression with the inputs substituted.

    Parameters
    ----------
    var : Variable or list of Variable
        A list (or tuple) prints one expression per line.

    Returns
    -------
    str

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> pp(x ** 2 + 3 * x)
    'x ** 2 + 3 * x'
    >>> pp((x + 1) * -x)
    '(x + 1) * (-x)'
    >>> A, v = T.dmatrix("A"), T.dvector("v")
    >>> pp(T.sum(A.T @ v, axis=0) + v[1:].sum())
    'sum(A.T @ v) + sum(v[1:])'
    """
    if isinstance(var, (list, tuple)):
        printer = TextPrinter()
        return "\n".join(printer.doprint(v) for v in var)
    return TextPrinter().doprint(var)


def _eye_text(c):
    if c == 1:
        return Printed("I")
    c = number_str(np.asarray(c))
    return Printed(f"{c} * I", PREC_MUL if not c.startswith("-") else PREC_NEG, "mul")
