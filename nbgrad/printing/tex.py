"""``latex``: graphs as publication-quality LaTeX.

Elementwise ops print through their scalar op's ``latex`` template; an operand
slot inside braces or ``\\left...\\right`` is already grouped, a bare slot is
parenthesized by precedence. The precedence of a template's result is the
op's own (for operators) or read off the template (``e^{x}`` binds like a
power, ``\\frac`` like a product, ``e^{x} - 1`` like a sum).
"""

import functools
import re
import string

import numpy as np

from nbgrad.printing.printer import (
    MAX_ELEMENTS, PREC_ADD, PREC_ATOM, PREC_CMP, PREC_MUL, PREC_NEG, PREC_POW, Printed, Printer,
    diagonal_form, identity_multiple, index_letters, index_parts, number_str, parenthesize,
)
from nbgrad.scalar.basic import Add, Cast, Log, LogSigmoid, Mul, Pow, Sigmoid

__all__ = ["LatexPrinter", "latex", "latex_name"]

_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi",
    "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma",
    "Upsilon", "Phi", "Psi", "Omega",
}
_ALIASES = {"lamda": r"\lambda", "Lamda": r"\Lambda"}
_DERIVATIVE = re.compile(r"\(d(.+)/d(.+)\)")
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_SPECIAL = {c: "\\" + c for c in "#$%&_{}"}
_SPECIAL.update({"\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"})


def _escape(text):
    return "".join(_SPECIAL.get(c, c) for c in text)


def _symbol(word):
    if word in _GREEK:
        return "\\" + word
    if word in _ALIASES:
        return _ALIASES[word]
    return word


def latex_name(name):
    """A variable name as a LaTeX symbol.

    Underscores start subscripts, trailing digits become a subscript, Greek
    letter names become letters, longer names are upright, and gradient names
    ``(dy/dx)`` become partial derivatives.

    >>> latex_name("x_1"), latex_name("W_hidden"), latex_name("alpha")
    ('x_{1}', 'W_{hidden}', '\\\\alpha')
    >>> latex_name("x2"), latex_name("loss"), latex_name("sigma_out")
    ('x_{2}', '\\\\mathrm{loss}', '\\\\sigma_{out}')
    >>> latex_name("(dy/dx)")
    '\\\\frac{\\\\partial y}{\\\\partial x}'
    """
    d = _derivative(name)
    if d is not None:
        f, wrt = d
        order = len(wrt)
        num = f"\\partial {latex_name(f)}" if order == 1 else f"\\partial^{{{order}}} {latex_name(f)}"
        if order > 1 and len(set(wrt)) == 1:
            den = f"\\partial {latex_name(wrt[0])}^{{{order}}}"
        else:
            den = " ".join(f"\\partial {latex_name(w)}" for w in wrt)
        return f"\\frac{{{num}}}{{{den}}}"
    if not _IDENT.fullmatch(name):
        return f"\\text{{{_escape(name)}}}"
    parts = [p for p in name.split("_") if p]
    base, subs = parts[0], parts[1:]
    m = re.fullmatch(r"([A-Za-z]+?)(\d+)", base)
    if m:
        base, subs = m.group(1), [m.group(2)] + subs
    if base in _GREEK or base in _ALIASES or len(base) == 1:
        base = _symbol(base)
    else:
        base = f"\\mathrm{{{base}}}"
    if subs:
        return f"{base}_{{{','.join(_symbol(s) for s in subs)}}}"
    return base


def _derivative(name):
    """``(f, [wrt, ...])`` for a gradient name ``(df/dx)`` (nested ones give higher orders)."""
    m = _DERIVATIVE.fullmatch(name)
    if m is None:
        return None
    f, wrt = m.group(1), m.group(2)
    inner = _derivative(f)
    if inner is not None:
        return inner[0], inner[1] + [wrt]
    return f, [wrt]


@functools.lru_cache(maxsize=1024)
def _slots(template):
    """For each ``{k}`` slot of a template: (k, grouped, followed by ``^``/``_``), and the depth-0 text.

    Cached: a graph applies the same few templates over and over.
    """
    depth = 0
    slots, top_text = [], []
    parsed = list(string.Formatter().parse(template))
    for n, (literal, field, _, _) in enumerate(parsed):
        tokens = re.findall(r"\\left|\\right|\\begin|\\end|[{}]|[^{}\\]+|\\[A-Za-z]+|\\.", literal)
        for tok in tokens:
            if tok in ("{", r"\left", r"\begin"):
                depth += 1
            elif tok in ("}", r"\right", r"\end"):
                depth -= 1
            elif depth == 0:
                top_text.append(tok)
        if field is not None:
            nxt = parsed[n + 1][0] if n + 1 < len(parsed) else ""
            slots.append((int(field), depth > 0, nxt[:1] in ("^", "_")))
    return tuple(slots), "".join(top_text)


def _template_prec(template, sop):
    symbol = getattr(sop, "symbol", None)
    prec = getattr(sop, "precedence", PREC_ATOM)
    if symbol or prec != PREC_ATOM:
        return prec
    _, top = _slots(template)
    if "^" in top or "_" in top:
        return PREC_POW
    if " + " in top or " - " in top:
        return PREC_ADD
    if template.startswith("\\frac"):
        return PREC_MUL
    if template.startswith("-"):
        return PREC_NEG
    return PREC_ATOM


# A function applied to its one argument: ``\sigma\left({0}\right)``,
# ``\operatorname{{softplus}}\left({0}\right)``, ``\tanh{{\left({0}\right)}}``.
_FUNCTION = re.compile(r"(\\[A-Za-z]+|\\operatorname\{\{[A-Za-z]+\}\})(\{\{)?\\left\(\{0\}\\right\)(\}\})?")


def _function_kind(template, args):
    """``"apply"`` for a one-argument function's template, else None."""
    return "apply" if len(args) == 1 and _FUNCTION.fullmatch(template) else None


# a symbol, possibly negated: x, -x, W_{hidden}, \alpha, \mathrm{loss}
_SYMBOL = re.compile(r"-?(\\?[A-Za-z]+|\\mathrm\{[^{}]*\})(_\{[^{}]*\})?")


def _fill(template, args, prec):
    """The template with its slots filled, each operand parenthesized as its slot needs.

    A function of one symbol takes plain parentheses (``\\sigma(x)``, ``\\log(-x)``); sized
    ones stay around anything that can be tall.
    """
    if len(args) == 1 and _SYMBOL.fullmatch(args[0].s):
        plain = template.replace(r"{{\left({0}\right)}}", "({0})").replace(r"\left({0}\right)", "({0})")
        if plain != template:
            return plain.format(args[0].s)
    slots, _ = _slots(template)
    out = [a.s for a in args]
    for k, grouped, base in slots:
        if not grouped:
            out[k] = parenthesize(args[k], prec, strict=base, left=r"\left(", right=r"\right)")
    return template.format(*out)


class LatexPrinter(Printer):
    """LaTeX: ``\\frac``, powers, ``\\sqrt``, ``\\sigma``, ``\\sum``, ``A^{\\top} x``, ``x_{i}``."""

    # --- leaves ------------------------------------------------------------------
    def print_name(self, var):
        if var.name is not None:
            s = latex_name(var.name)
            return Printed(s, PREC_MUL if s.startswith("\\frac") else PREC_ATOM, "name")
        return Printed(f"\\left\\langle\\text{{{_escape(str(var.type))}}}\\right\\rangle")

    def print_constant(self, var):
        data = np.asarray(var.data)
        if data.size == 1:  # a broadcast scalar reads as the number
            return _number(data.reshape(()))._replace(kind="const")
        c = identity_multiple(data)
        if c is not None and c != 0:  # a Hessian with static shapes: 2 I, not its entries
            return _eye_tex(c)
        if data.size <= MAX_ELEMENTS and data.ndim <= 2:
            rows = data.reshape(1, -1) if data.ndim == 1 else data
            body = r" \\ ".join(" & ".join(_number(v).s for v in row) for row in rows)
            return Printed(f"\\begin{{bmatrix}}{body}\\end{{bmatrix}}")
        dims = " \\times ".join(str(s) for s in data.shape)
        return Printed(f"\\left[\\cdots\\right]_{{{dims}}}")

    # --- elementwise ---------------------------------------------------------------
    def print_scalar(self, sop, args, node):
        template = getattr(sop, "latex", None)
        name = sop.name
        if isinstance(sop, Cast) or template == "{0}":
            return args[0]
        if not template:
            return Printed(f"\\operatorname{{{_escape(name)}}}\\left({', '.join(a.s for a in args)}\\right)")
        prec = _template_prec(template, sop)
        symbol = getattr(sop, "symbol", None)
        if symbol and len(args) == 2 and not template.startswith("\\"):
            return self._binary(sop, template, args, prec, node)
        if symbol and len(args) == 1 and args[0].s.startswith("-"):
            return Printed(template.format(f"\\left({args[0].s}\\right)"), prec, name)
        if isinstance(sop, LogSigmoid):  # log σ(x), as the textbook writes it (what it computes)
            return _log_of(self.print_scalar(_SIGMOID, args, node))
        if isinstance(sop, Log) and args[0].kind in ("apply", "bigop"):
            return _log_of(args[0])
        kind = _function_kind(template, args) or name
        return Printed(_fill(template, args, prec), prec, kind)

    def _binary(self, sop, template, args, prec, node):
        a, b = args
        name = sop.name
        if isinstance(sop, Pow):
            return Printed(_fill(template, args, prec), prec, name)
        left = parenthesize(a, prec, strict=prec == PREC_CMP, left=r"\left(", right=r"\right)")
        associative = getattr(sop, "associative", False)
        loose = b.prec < prec or (b.prec == prec and not associative) or b.kind == "mod"
        if isinstance(sop, Mul) and b.kind in ("bigop", "mul", "true_div", "dot"):
            loose = b.prec < PREC_ADD
        right = f"\\left({b.s}\\right)" if loose else b.s
        if isinstance(sop, Add) and right.startswith("-"):
            return Printed(f"{left} - {right[1:].lstrip()}", prec, name)
        if right.startswith("-"):
            right = f"\\left({right}\\right)"
        if isinstance(sop, Mul):
            ins = node.inputs if node is not None else ()
            arrays = len(ins) == 2 and all(_is_array(i) for i in ins)
            if arrays and not (left[:1].isdigit() or right[:1].isdigit()):
                return Printed(f"{left} \\odot {right}", prec, name)
            if right[:1].isdigit():
                return Printed(f"{left} \\cdot {right}", prec, name)
            return Printed(f"{left} {right}", prec, name)
        return Printed(template.format(left, right), prec, name)

    # --- structure -----------------------------------------------------------------
    def _print_DimShuffle(self, node, var):
        op = node.op
        (x,) = self.args(node)
        if op.is_transpose and op.input_ndim == 2 and op.new_order == (1, 0):
            return Printed(f"{_base(x, '^')}^{{\\top}}", PREC_POW, "transpose")
        kept = [d for d in op.new_order if d != "x"]
        lead = len(op.new_order) - len(kept)
        if kept == sorted(kept) and all(d == "x" for d in op.new_order[:lead]):
            return x  # leading broadcastable axes (or dropped ones): implicit in the math
        if kept == sorted(kept) and not op.drop:
            idx = ",".join("\\mathrm{new}" if d == "x" else "{:}" for d in op.new_order)
            return Printed(f"{_base(x)}_{{{idx}}}", PREC_ATOM, "index")
        order = ", ".join(str(d) for d in op.new_order)
        return Printed(f"\\operatorname{{transpose}}_{{({order})}}\\left({x.s}\\right)")

    def _print_CAReduce(self, node, var):
        op = node.op
        (x,) = self.args(node)
        src = node.inputs[0]
        if not op.axis:
            return x
        cls = type(op).__name__
        full = len(op.axis) == src.ndim
        big = {"Sum": "\\sum", "Prod": "\\prod"}.get(cls)
        if big is not None:
            if (src.owner is None and x.kind == "name" and "_" not in x.s and "\\frac" not in x.s
                    and src.ndim > 0):
                letters = index_letters(src.ndim)
                under = ",".join(letters[a] for a in op.axis)
                return Printed(f"{big}_{{{under}}} {x.s}_{{{','.join(letters)}}}", PREC_ADD, "bigop")
            arg = parenthesize(x, PREC_MUL, left=r"\left(", right=r"\right)")
            if full:
                return Printed(f"{big} {arg}", PREC_ADD, "bigop")
            return Printed(f"{big}_{{{_axis_label(op.axis)}}} {arg}", PREC_ADD, "bigop")
        fn = {"Max": "\\max", "Min": "\\min"}.get(cls, f"\\operatorname{{{cls.lower()}}}")
        sub = "" if full else f"_{{{_axis_label(op.axis)}}}"
        return Printed(f"{fn}{sub}\\left({x.s}\\right)")

    def _print_Dot(self, node, var):
        a, b = self.args(node)
        left = parenthesize(a, PREC_MUL, left=r"\left(", right=r"\right)")
        loose = b.prec < PREC_MUL or (b.prec == PREC_MUL and b.kind not in ("dot", "true_div"))
        right = f"\\left({b.s}\\right)" if loose or b.s.startswith("-") else b.s
        vectors = all(i.ndim == 1 for i in node.inputs)
        sep = " \\cdot " if vectors or right[:1].isdigit() else " "
        return Printed(f"{left}{sep}{right}", PREC_MUL, "dot")

    _print_Matmul = _print_Dot

    def _print_Subtensor(self, node, var):
        x, *idx = self.args(node)
        return Printed(f"{_base(x)}_{{{_index(node.op.idx, idx)}}}", PREC_ATOM, "index")

    def _print_IncSubtensor(self, node, var):
        x, y, *idx = self.args(node)
        fn = "set" if node.op.set_instead_of_inc else "inc"
        target = f"{_base(x)}_{{{_index(node.op.idx, idx)}}}"
        return Printed(f"\\operatorname{{{fn}}}\\left({target}, {y.s}\\right)")

    def _print_Alloc(self, node, var):
        return self.print_var(node.inputs[0])  # broadcasting a value is implicit in the math

    def _print_RandomVariable(self, node, var):
        if var.index != 1:
            return None
        params = ", ".join(p.s for p in self.args(node)[2:])
        return Printed(f"\\operatorname{{{_escape(node.op.dist)}}}\\left({params}\\right)")

    def _print_Shape(self, node, var):
        return Printed(f"\\operatorname{{shape}}\\left({self.print_var(node.inputs[0]).s}\\right)")

    def _print_ShapeI(self, node, var):
        x = self.print_var(node.inputs[0]).s
        return Printed(f"\\operatorname{{shape}}\\left({x}\\right)_{{{node.op.i}}}")

    def _print_MakeVector(self, node, var):
        return Printed("\\left(" + ", ".join(a.s for a in self.args(node)) + "\\right)")

    def _print_Diagonals(self, node, var):
        form = diagonal_form(node)
        if form is None:
            return None
        kind, v = form
        if kind == "diag":
            return Printed(f"\\operatorname{{diag}}\\left({self.print_var(v).s}\\right)")
        return _eye_tex(v)

    def _print_WrittenForm(self, node, var):
        # a stabilized node reads as the formula it computes, the one it was rewritten from
        return self.print_var(node.op.written_form(*node.inputs))

    def _print_Op(self, node, var):
        args = self.args(node)
        template = getattr(node.op, "latex", None)
        if isinstance(template, str):
            try:
                prec = _template_prec(template, node.op)
                s = _fill(template, args, prec)
            except (IndexError, ValueError):
                s = None
            if s is not None:
                if len(node.outputs) > 1:
                    return Printed(s + f"_{{{var.index}}}", prec)
                return Printed(s, prec, _function_kind(template, args) or "")
        name = _escape(type(node.op).__name__)
        s = f"\\operatorname{{{name}}}\\left({', '.join(a.s for a in args)}\\right)"
        if len(node.outputs) > 1:
            s += f"_{{{var.index}}}"
        return Printed(s)


_SIGMOID = Sigmoid()


def _log_of(arg):
    """``\\log`` of a function application or a big operator, without parentheses of its
    own: ``\\log \\sigma(x)``, ``\\log \\sum e^{x}``. It binds like a product (a power
    of it is parenthesized); a big operator inside keeps a sum's precedence."""
    if arg.kind == "bigop":
        return Printed(f"\\log {arg.s}", PREC_ADD, "bigop")
    return Printed(f"\\log {arg.s}", PREC_MUL, "log")


def _is_array(var):
    """True unless ``var`` is a scalar, possibly broadcast (every static size is 1)."""
    shape = getattr(var.type, "shape", ())
    return any(size != 1 for size in shape)


def _base(x, script="_"):
    """``x`` ready to take a subscript (``script='_'``) or a superscript (``'^'``)."""
    if x.prec <= PREC_POW or x.s.startswith("\\frac"):
        return f"\\left({x.s}\\right)"
    if script in x.s:
        return f"{{{x.s}}}"
    return x.s


def _axis_label(axis):
    if len(axis) == 1:
        return f"\\text{{axis}}={axis[0]}"
    return "\\text{axes}=" + ",".join(str(a) for a in axis)


def _index(desc, inputs):
    """An index description (``Subtensor.idx``) as a subscript, e.g. ``1{:},0``."""
    return ",".join(index_parts(desc, inputs, "\\text{new}", "{:}"))


def _eye_tex(c):
    if c == 1:
        return Printed("I")
    c = _number(c)
    return Printed(f"{c.s} I", PREC_MUL if not c.s.startswith("-") else PREC_NEG, "mul")


def _number(v):
    v = np.asarray(v)
    if v.dtype == bool:
        return Printed(f"\\text{{{bool(v)}}}")
    if v.dtype.kind == "f":
        f = float(v)
        if np.isnan(f):
            return Printed("\\text{NaN}")
        if np.isinf(f):
            return Printed("\\infty" if f > 0 else "-\\infty", PREC_ATOM if f > 0 else PREC_NEG)
    s = number_str(v)
    if "e" in s and v.dtype.kind == "f":
        mant, exp = s.split("e")
        power = f"10^{{{int(exp)}}}"
        if mant in ("1", "-1"):
            s = power if mant == "1" else "-" + power
            return Printed(s, PREC_NEG if s.startswith("-") else PREC_POW)
        return Printed(f"{mant} \\cdot {power}", PREC_MUL)
    return Printed(s, PREC_NEG if s.startswith("-") else PREC_ATOM)


def latex(expr):
    """LaTeX of a graph (or a list of graphs), parenthesized by precedence.

    Names print with subscripts and Greek letters (``W_hidden`` → ``W_{hidden}``,
    ``alpha`` → ``\\alpha``); named intermediate variables print as their
    names, and the gradients ``grad`` names ``(dy/dx)`` as ``∂y/∂x``. When the
    expression itself is such a gradient, the result reads
    ``\\frac{\\partial y}{\\partial x} = <formula>``. A compiled function or a
    FunctionGraph prints its (optimized) outputs.

    Parameters
    ----------
    expr : Variable, list of Variable, Function or FunctionGraph
        Lists give one formula per element, joined by ``,\\quad``.

    Returns
    -------
    str

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x, y = T.dscalars("x", "y")
    >>> latex((x + 1) / T.sqrt(y) + x ** 2)
    '\\\\frac{x + 1}{\\\\sqrt{y}} + x^{2}'
    >>> W, v = T.dmatrix("W_hidden"), T.dvector("v")
    >>> latex(T.sum(T.sigmoid(W.T @ v)))
    '\\\\sum \\\\sigma\\\\left(W_{hidden}^{\\\\top} v\\\\right)'
    """
    outputs = _outputs_of(expr)
    if outputs is not None:
        expr = outputs
    if isinstance(expr, (list, tuple)):
        printer = LatexPrinter()
        return r",\quad ".join(_one(printer, v) for v in expr)
    return _one(LatexPrinter(), expr)


def _one(printer, var):
    body = printer.doprint(var)
    if var.name is not None and var.owner is not None and _derivative(var.name) is not None:
        return f"{latex_name(var.name)} = {body}"
    return body


def _outputs_of(obj):
    maker = getattr(obj, "maker", None)
    if maker is not None and hasattr(maker, "fgraph"):
        n = getattr(maker, "n_outputs", len(maker.fgraph.outputs))
        return list(maker.fgraph.outputs[:n])
    if hasattr(obj, "outputs") and hasattr(obj, "clients"):
        return list(obj.outputs)
    return None
