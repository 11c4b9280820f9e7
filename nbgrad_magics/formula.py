"""How formulas read in a notebook: names, scan results and long lines.

``nbgrad.printing`` gives one faithful LaTeX and text form of a graph; a
notebook shows it to people, often on a projector, so this module adjusts the
reading, never the graph:

* a multi-letter name with underscores (``new_mean``) is one upright word,
  ``\\mathrm{new\\_mean}``, not ``new`` with the subscript ``mean``
  (``W_hidden`` and ``sigma_out`` keep their subscripts);
* a scan result reads as the user wrote it, ``scan(k, 1, A)[-1]``: the rows
  of initial state that ``nbgrad.scan`` drops are not shown as a slice, and
  indexing a scan result uses brackets, so that ``[1:][-1]`` cannot read as
  the slice ``1:-1``; the loop that computes a gradient through a scan reads
  ``backward scan``, not as its internal name;
* the printers take ``names`` (``{variable: name}``): subexpressions printed as a
  name, the results a cell named or the names of a ``where`` clause;
* a long formula is laid out on several lines, broken at its top-level
  ``+`` and ``-``, in LaTeX (``layout``) and in text (``text_layout``), with the
  definitions of a ``where`` clause on lines of their own.
"""

import re

import numpy as np

from nbgrad.printing import LatexPrinter, TextPrinter, latex_name
from nbgrad.printing.printer import PREC_ATOM, Printed
from nbgrad.scan import Scan
from nbgrad.tensor import Alloc, ShapeI, Subtensor

__all__ = ["FormulaPrinter", "FormulaTextPrinter", "layout", "name_tex", "text_layout"]

#: A formula whose visible width (``visible_width``) exceeds this is laid out on several lines.
LINE_WIDTH = 70

_TEX_SPECIAL = {c: "\\" + c for c in "#$%&_{}"}


def name_tex(name):
    """A Python name as LaTeX, as a notebook label or a name inside a formula.

    Multi-letter names with underscores are one upright word; the others follow
    ``nbgrad.printing.latex_name`` (subscripts, Greek letters).

    >>> name_tex("new_mean"), name_tex("W_hidden"), name_tex("sigma_out"), name_tex("ds")
    ('\\\\mathrm{new\\\\_mean}', 'W_{hidden}', '\\\\sigma_{out}', '\\\\mathrm{ds}')
    """
    head = name.split("_", 1)[0]
    if "_" in name.strip("_") and len(head) > 1 and latex_name(head).startswith("\\mathrm{"):
        return "\\mathrm{" + "".join(_TEX_SPECIAL.get(c, c) for c in name) + "}"
    return latex_name(name)


def code_tex(source):
    """Python source (an expression the cell wrote) as typewriter text inside math.

    >>> code_tex("T.sum(y_1)")
    '\\\\texttt{T.sum(y\\\\_1)}'
    """
    special = dict(_TEX_SPECIAL, **{"\\": r"\textbackslash{}", "~": r"\textasciitilde{}",
                                    "^": r"\textasciicircum{}"})
    return "\\texttt{" + "".join(special.get(c, c) for c in source) + "}"


# ------------------------------------------------------------------------ scan results
def _scan_node(var):
    """The Scan node that computes ``var``, or None."""
    node = var.owner
    return node if node is not None and isinstance(node.op, Scan) else None


def _is_user_result(node):
    """True if Subtensor ``node`` only drops the initial rows of a scan state (what scan returns)."""
    scan = _scan_node(node.inputs[0])
    if scan is None or len(node.op.idx) != 1:
        return False
    index = node.inputs[0].index
    info = scan.op.info
    if index >= info.n_states:
        return False
    return node.op.idx[0] == ("slice", info.lags()[index], None, None)


def _scan_like(var):
    """True for a scan's output or a user's scan result (which brackets index)."""
    return _scan_node(var) is not None or (
        var.owner is not None and isinstance(var.owner.op, Subtensor) and _is_user_result(var.owner))


def _length_of(stop, x):
    """True if ``stop`` is, as a graph, the length of ``x``'s first axis."""
    def source(v):  # the variable whose first-axis length v is
        node = v.owner
        if node is not None and isinstance(node.op, ShapeI) and node.op.i == 0:
            return node.inputs[0]
        return None

    length = source(stop)
    if length is None:
        return False
    if length is x:
        return True
    node = x.owner  # zeros_like(v): Alloc(0, shape(v)_0, ...)
    return node is not None and isinstance(node.op, Alloc) and len(node.inputs) > 1 and (
        node.inputs[1] is stop or source(node.inputs[1]) is length)


def _whole_first_axis(node, x):
    """The inputs of a one-entry index ``[0:len(x)]`` (or ``[:len(x)]``, ``[:]``) on ``x``, else None.

    Such an index takes all of ``x``: the gradient of a scan over a sequence ``v`` is
    written ``inc_subtensor(zeros_like(v)[0:len(v)], g)``, which is ``g``.
    """
    idx = node.op.idx
    if len(idx) != 1 or idx[0][0] != "slice" or idx[0][3] is not None:
        return False
    _, start, stop, _ = idx[0]
    symbolic = [v for v in (start, stop) if v == "v"]
    index_inputs = node.inputs[-len(symbolic):] if symbolic else []
    values = iter(index_inputs)
    start_v = next(values) if start == "v" else start
    stop_v = next(values) if stop == "v" else stop
    if start_v not in (None, 0):
        return False
    if stop is None:
        return True
    return stop == "v" and _length_of(stop_v, x)


def _zeros(x):
    """True if ``x`` is an array of zeros (``zeros_like``, ``alloc(0, ...)``)."""
    node = x.owner
    if node is None or not isinstance(node.op, Alloc):
        return False
    value = node.inputs[0]
    data = getattr(value, "data", None)
    return data is not None and value.owner is None and np.size(data) == 1 and float(np.asarray(data)) == 0


def _loop_name(node):
    name = node.op.info.name or ""
    if name.startswith("grad_of_"):
        return "backward scan"
    if name.startswith("rop_of_"):
        return "tangent scan"
    return "scan"


def _internal_loop(var):
    """True for an output of a loop that ``grad``/``Rop`` built (named after it, e.g. grad_of_scan)."""
    node = _scan_node(var)
    return node is not None and var.name is not None and _loop_name(node) != "scan"


class _ReadableScans:
    """Scan results as ``scan(...)[i]`` (see the module docstring); mixed into both printers."""

    def _print_Scan(self, node, var):
        args = ", ".join(a.s for a in self.args(node))
        s = self._call(_loop_name(node), args)
        if len(node.outputs) > 1:
            s = self._output(s, var.index)
        return Printed(s, PREC_ATOM, "scan")

    def _print_Subtensor(self, node, var):
        if _is_user_result(node) or _whole_first_axis(node, node.inputs[0]):
            return self.print_var(node.inputs[0])
        if _scan_like(node.inputs[0]):
            x, *idx = self.args(node)
            return Printed(f"{x.s}[{self._index(node, idx)}]", PREC_ATOM, "index")
        return super()._print_Subtensor(node, var)

    def _print_IncSubtensor(self, node, var):
        x, y = node.inputs[:2]
        if _zeros(x) and _whole_first_axis(node, x) and y.ndim == x.ndim:
            return self.print_var(y)  # all of zeros, incremented by y: y
        return super()._print_IncSubtensor(node, var)

    def print_name(self, var):
        if _internal_loop(var):
            return self.print_output(var)
        return super().print_name(var)


class _Names:
    """Variables printed as a name given to the printer (``names``: ``{variable: name}``).

    The formula being printed is written out even when it has a name itself.
    """

    def __init__(self, names=None):
        super().__init__()
        self._names = dict(names or {})

    def _named(self, var):
        return Printed(self.name_of(self._names[var]), PREC_ATOM, "name")

    def print_var(self, var, top=False):
        if not top and var in self._names:
            return self._named(var)
        return super().print_var(var, top)

    def _expands(self, var, top):
        return (top or var not in self._names) and super()._expands(var, top)


class FormulaPrinter(_Names, _ReadableScans, LatexPrinter):
    """``LatexPrinter`` with the notebook's reading of names and scans.

    >>> import nbgrad.tensor as T
    >>> FormulaPrinter().doprint(T.dscalar("new_mean") * 2)
    '2 \\\\mathrm{new\\\\_mean}'
    """

    @staticmethod
    def name_of(name):
        return name_tex(name)

    def print_name(self, var):
        if var.name is not None and not _internal_loop(var) and not var.name.startswith("("):
            return Printed(name_tex(var.name), PREC_ATOM, "name")
        return super().print_name(var)

    def _call(self, fn, args):
        return f"\\operatorname{{{fn.replace(' ', '~')}}}\\left({args}\\right)"

    def _output(self, s, k):
        return f"{s}_{{{k}}}"

    def _index(self, node, idx):
        from nbgrad.printing.printer import index_parts

        return ",".join(index_parts(node.op.idx, idx, "\\text{new}", "{:}"))


class FormulaTextPrinter(_Names, _ReadableScans, TextPrinter):
    """``TextPrinter`` with the notebook's reading of scans (``scan(k, ones_like(A), A)[-1]``)."""

    @staticmethod
    def name_of(name):
        return name

    def _call(self, fn, args):
        return f"{fn.replace(' ', '_')}({args})"

    def _output(self, s, k):
        return f"{s}[{k}]"

    def _index(self, node, idx):
        from nbgrad.printing.printer import index_parts

        return ", ".join(index_parts(node.op.idx, idx, "None", ":"))


# ------------------------------------------------------------------------ long lines
_TOKEN = re.compile(r"\\left\b.?|\\right\b.?|\\begin\b|\\end\b|\\[A-Za-z]+|\\.|[{}]|[^\\{}]")
_OPEN = ("{", "\\left", "\\begin")
_CLOSE = ("}", "\\right", "\\end")


def _tokens(tex):
    """``(token, depth before it)`` for each token of ``tex``; depth counts braces,
    ``\\left``/``\\right`` and ``\\begin``/``\\end``."""
    depth = 0
    for m in _TOKEN.finditer(tex):
        tok = m.group()
        if tok.startswith(_CLOSE):
            depth -= 1
        yield m.start(), tok, depth
        if tok.startswith(_OPEN):
            depth += 1


# commands that print nothing themselves (their argument prints)
_SILENT = ("\\mathrm", "\\operatorname", "\\text", "\\texttt", "\\displaystyle", "\\,", "\\;", "\\!",
           "\\quad", "\\qquad")
# how large a sub- or superscript renders, against the text around it (MathJax: 70%)
_SCRIPT = 0.7


def visible_width(tex):
    r"""About how many characters wide ``tex`` renders in display style.

    A command counts as one character (``\alpha``, ``\sum``), a script as 70% of its
    width, a fraction as its wider part, ``\left(`` and ``\right)`` as one each;
    ``\mathrm``, ``\operatorname`` and spacing count as nothing.

    >>> visible_width(r"\frac{\partial z}{\partial x}")
    3
    >>> visible_width("x^{2} + 1")
    6
    >>> visible_width(r"\operatorname{shape}\left(y\right)_{0}")
    9
    """
    tokens = [tok for _, tok, _ in _tokens(tex)]
    return round(_width(tokens, 0, len(tokens)))


def _group_end(tokens, i):
    """The index after the group that opens at ``tokens[i]`` (or after the token itself)."""
    if not tokens[i].startswith(_OPEN):
        return i + 1
    depth = 0
    for k in range(i, len(tokens)):
        if tokens[k].startswith(_OPEN):
            depth += 1
        elif tokens[k].startswith(_CLOSE):
            depth -= 1
            if depth == 0:
                return k + 1
    return len(tokens)


def _item_width(tokens, i, j):
    """The width of one item ``tokens[i:j]``: a token, or a group with its delimiters."""
    tok = tokens[i]
    if j - i == 1 or not tok.startswith(_OPEN):
        return 0.0 if tok in _SILENT else 1.0
    inner = _width(tokens, i + 1, j - 1)
    if tok.startswith("\\left"):
        return inner + 2.0
    return inner


def _width(tokens, i, end):
    width = 0.0
    while i < end:
        tok = tokens[i]
        if tok in ("^", "_"):
            j = _group_end(tokens, i + 1) if i + 1 < end else i + 1
            width += _SCRIPT * _item_width(tokens, i + 1, j) if i + 1 < end else 0.0
            i = j
            continue
        if tok == "\\frac" and i + 1 < end:
            a = _group_end(tokens, i + 1)
            b = _group_end(tokens, a) if a < end else a
            width += max(_item_width(tokens, i + 1, a), _item_width(tokens, a, b) if a < b else 0.0)
            i = b
            continue
        if tok == "\\begin" or tok == "\\end":
            i = _group_end(tokens, i + 1) if i + 1 < end else i + 1  # the environment's name
            continue
        j = _group_end(tokens, i)
        width += _item_width(tokens, i, j)
        i = j
    return width


def _top_level_terms(tex):
    """``tex`` cut before each top-level binary ``+`` or ``-``: ``['a', '+ b', '- c']``."""
    cuts = [0]
    for pos, tok, depth in _tokens(tex):
        if depth == 0 and tok in "+-" and pos > 0 and tex[pos - 1] == " " and tex[pos + 1:pos + 2] == " ":
            cuts.append(pos)
    return _cut(tex, cuts)


def _cut(tex, cuts):
    cuts = cuts + [len(tex)]
    return [tex[a:b].strip() for a, b in zip(cuts, cuts[1:]) if tex[a:b].strip()]


# operators that take what follows them (with their scripts): no line break before their operand
_PREFIX = ("\\sum", "\\prod", "\\log", "\\max", "\\min", "\\lim", "\\exp", "\\nabla", "\\partial")
# explicit product signs: a line may start with one
_TIMES = ("\\odot", "\\cdot", "\\times")
_SPACES = (" ", "\\,", "\\;", "\\!", "\\quad", "\\qquad")


def _top_level_factors(tex):
    """``tex`` cut between the factors of its top-level product.

    A cut falls before ``\\odot``, ``\\cdot`` or ``\\times``, or at the space between two
    juxtaposed factors (``X^{\\top} \\left(...\\right)``); never between an operator
    (``\\sum_{i}``, ``\\log``, ``-``) and its operand, and never next to ``+``, ``-`` or ``=``.
    """
    cuts = [0]
    pending = None  # position of a top-level space that may end a factor
    waiting = True  # the text since the last cut is an operator (or nothing) awaiting its operand
    script = False  # the previous top-level token was ^ or _: this one is its script
    for pos, tok, depth in _tokens(tex):
        if depth > 0 or tok.startswith(_CLOSE):
            continue  # inside a group (its closing token belongs to it)
        if script:  # a script (\sum_{i}, x^{2}) continues the item before it
            script = False
            continue
        if tok in _SPACES:
            if not waiting and pending is None:
                pending = pos
            continue
        if tok in ("^", "_"):
            pending, script = None, True
            continue
        if tok in _TIMES:
            if pending is not None or not waiting:
                cuts.append(pos)
            pending, waiting = None, True
            continue
        if tok in ("+", "-", "=", "<", ">", ","):
            pending, waiting = None, True
            continue
        if pending is not None:
            cuts.append(pending)
        pending = None
        waiting = tok in _PREFIX
    return _cut(tex, cuts)


def _top_level_commas(tex):
    """``tex`` cut after each top-level ``,`` (the arguments of a function)."""
    cuts = [0]
    for pos, tok, depth in _tokens(tex):
        if depth == 0 and tok == ",":
            cuts.append(pos + 1)
    return _cut(tex, cuts)


def _outer_group(tex):
    """``(prefix, open, inner, close, suffix)`` for the first top-level ``\\left...\\right`` pair."""
    start = None
    for pos, tok, depth in _tokens(tex):
        if start is None and depth == 0 and tok.startswith("\\left"):
            start, opened = pos, tok
        elif start is not None and depth == 0 and tok.startswith("\\right"):
            inner = tex[start + len(opened):pos]
            return tex[:start], opened, inner, tok, tex[pos + len(tok):]
    return None


def _split_group(tex, width):
    """A wide ``prefix \\left( inner \\right) suffix`` on several lines, the inner cut as a
    formula of its own; each line keeps its delimiters balanced (``\\right.``, ``\\left.``)."""
    parts = _outer_group(tex)
    if parts is None:
        return None
    prefix, opened, inner, closed, suffix = parts
    around = visible_width(prefix + suffix) + 2  # what the first and last lines add to the inner's
    if around > width // 2:
        return None
    lines = _lines(inner.strip(), width - around)
    if len(lines) < 2:
        return None
    first = f"{prefix}{opened}{lines[0]} \\right."
    middle = [f"\\left. {line} \\right." for line in lines[1:-1]]
    last = f"\\left. {lines[-1]} {closed}{suffix}"
    return [first] + middle + [last]


def _split_fraction(tex, width):
    """A fraction with a wide numerator, ``\\frac{N}{D}``, as ``\\frac{1}{D} \\left(N\\right)``
    on several lines (a fraction cannot be cut; a product can)."""
    if not tex.startswith("\\frac{"):
        return None
    tokens = list(_tokens(tex))
    ends = [pos for pos, tok, depth in tokens if depth == 0 and tok == "}"]
    if len(ends) != 2 or ends[1] != len(tex) - 1:
        return None
    numerator, denominator = tex[len("\\frac{"):ends[0]], tex[ends[0] + 2:ends[1]]
    if not tex[ends[0] + 1:ends[0] + 2] == "{" or visible_width(numerator) <= width:
        return None
    lines = _lines(f"\\frac{{1}}{{{denominator}}} \\left({numerator}\\right)", width)
    return lines if len(lines) > 1 else None


def _pieces(tex):
    """The pieces a wide formula may be cut into: terms, else factors, else arguments."""
    for cut in (_top_level_terms, _top_level_factors, _top_level_commas):
        pieces = cut(tex)
        if len(pieces) > 1:
            return pieces
    return [tex]


def _lines(tex, width):
    """``tex`` as lines of about ``width`` visible characters (one line if it cannot be cut)."""
    if visible_width(tex) <= width:
        return [tex]
    pieces = _pieces(tex)
    if len(pieces) == 1:
        return _split_group(tex, width) or _split_fraction(tex, width) or [tex]
    lines, current = [], ""
    for piece in pieces:
        parts = _lines(piece, width) if visible_width(piece) > width else [piece]
        for k, part in enumerate(parts):
            joined = f"{current} {part}".strip()
            if current and (k > 0 or visible_width(joined) > width):
                lines.append(current)
                joined = part
            current = joined
            if k < len(parts) - 1:
                lines.append(current)
                current = ""
    if current:
        lines.append(current)
    return lines


def layout(label, body, width=LINE_WIDTH, where=()):
    r"""``label = body`` as display LaTeX, on several lines when ``body`` is long.

    A long body is cut into lines of about ``width`` characters, aligned on the
    ``=``: at its top-level ``+`` and ``-``, then between the factors of a long
    product (before ``\odot``/``\cdot`` or between juxtaposed factors), then
    inside a long parenthesized factor, whose lines keep their delimiters
    balanced (``\left( ... \right.`` / ``\left. ... \right)``). A body that
    cannot be cut stays on one line. ``where`` is a list of ``(name, body)``
    definitions of names the body uses, each shown on a line of its own,
    ``\text{where } name = body``, aligned with the first.

    >>> layout("y", "a + b")
    '$\\displaystyle y = a + b$'
    >>> print(layout("y", " + ".join(f"x_{{{k}}}^{{2}}" for k in range(9)), width=20))
    $\displaystyle \begin{aligned} y &= x_{0}^{2} + x_{1}^{2} + x_{2}^{2} + x_{3}^{2} \\
    &\quad + x_{4}^{2} + x_{5}^{2} + x_{6}^{2} \\
    &\quad + x_{7}^{2} + x_{8}^{2} \end{aligned}$
    >>> print(layout("g", r"X^{\top} \left(" + " + ".join(f"a_{{{k}}} b_{{{k}}}" for k in range(8)) + r"\right)",
    ...              width=26))
    $\displaystyle \begin{aligned} g &= X^{\top} \left(a_{0} b_{0} + a_{1} b_{1} + a_{2} b_{2} \right. \\
    &\quad \left. + a_{3} b_{3} + a_{4} b_{4} + a_{5} b_{5} \right. \\
    &\quad \left. + a_{6} b_{6} + a_{7} b_{7} \right) \end{aligned}$
    >>> print(layout("g", r"u - y", where=[("u", r"\sigma\left(x\right)")]))
    $\displaystyle \begin{aligned} g &= u - y \\
    \text{where } u &= \sigma\left(x\right) \end{aligned}$
    """
    lines = _lines(body, width)
    if len(lines) < 2 and not where:
        return f"$\\displaystyle {label} = {body}$"
    rows = _aligned_rows(label, lines)
    for k, (name, definition) in enumerate(where):
        rows += _aligned_rows(f"\\text{{where }} {name}" if k == 0 else name, _lines(definition, width))
    return "$\\displaystyle \\begin{aligned} " + " \\\\\n".join(rows) + " \\end{aligned}$"


def _aligned_rows(label, lines):
    return [f"{label} &= {lines[0]}"] + [f"&\\quad {line}" for line in lines[1:]]


# ------------------------------------------------------------------------ long text lines
#: A text formula longer than this many characters is laid out on several lines.
TEXT_WIDTH = 80

_TEXT_OPEN, _TEXT_CLOSE = "([{", ")]}"


def _text_depths(s):
    """``(position, character, depth before it)`` for each character of ``s``."""
    depth = 0
    for pos, c in enumerate(s):
        if c in _TEXT_CLOSE:
            depth -= 1
        yield pos, c, depth
        if c in _TEXT_OPEN:
            depth += 1


def _text_cut(s, chars, spaced):
    """``s`` cut at each top-level character of ``chars``: before it when ``spaced`` (a binary
    operator written with a space either side), else after it (a separator)."""
    cuts = [0]
    for pos, c, depth in _text_depths(s):
        if depth or c not in chars:
            continue
        if not spaced:
            cuts.append(pos + 1)
        elif s[pos - 1:pos] == " " and s[pos + 1:pos + 2] == " " and pos > 1:
            cuts.append(pos)
    return _cut(s, cuts)


def _text_terms(s):
    """``s`` cut before each top-level binary `` + `` or `` - ``: ``['a', '+ b', '- c']``."""
    return _text_cut(s, "+-", spaced=True)


def _text_factors(s):
    """``s`` cut before each top-level `` * ``, `` / `` or `` @ ``: ``['a', '* b', '@ c']``."""
    return _text_cut(s, "*/@", spaced=True)


def _text_arguments(s):
    """``s`` cut after each top-level ``,`` (the arguments of a function)."""
    return _text_cut(s, ",", spaced=False)


def _widest_group(s):
    """``(start, end)`` of the widest top-level parenthesized group of ``s`` (``s[start]`` is
    ``(``, ``s[end]`` its ``)``), or None."""
    best, start = None, None
    for pos, c, depth in _text_depths(s):
        if depth == 0 and c == "(":
            start = pos
        elif depth == 0 and c == ")" and start is not None:
            if best is None or pos - start > best[1] - best[0]:
                best = (start, pos)
            start = None
    return best


def _text_lines(s, width):
    """``s`` as ``(indent, text)`` lines of about ``width`` characters, indents relative to
    the start of ``s``: cut at top-level ``+``/``-`` (continuation lines at ``s``'s column),
    else between the factors of a top-level product, else after the commas between
    arguments, else inside its widest parenthesized group (continuation lines just
    inside the ``(``)."""
    if len(s) <= width:
        return [(0, s)]
    for cut in (_text_terms, _text_factors, _text_arguments):
        terms = cut(s)
        if len(terms) > 1:
            break
    if len(terms) > 1:
        lines, joinable = [], False
        for term in terms:
            (_, first), *rest = _text_lines(term, width)
            if joinable and len(lines[-1][1]) + 1 + len(first) <= width:
                column = len(lines[-1][1]) + 1  # where the term starts on the line it joins
                lines[-1] = (0, f"{lines[-1][1]} {first}")
            else:
                column = 0
                lines.append((0, first))
            lines += [(column + k, t) for k, t in rest]
            joinable = not rest
        return lines
    group = _widest_group(s)
    if group is None:
        return [(0, s)]
    start, end = group
    prefix, inner, suffix = s[:start + 1], s[start + 1:end], s[end:]
    inner_lines = _text_lines(inner, max(width - len(prefix), width // 2))
    if len(inner_lines) < 2:
        return [(0, s)]
    lines = [(0, prefix + inner_lines[0][1])] + [(len(prefix) + k, t) for k, t in inner_lines[1:]]
    k, last = lines[-1]
    lines[-1] = (k, last + suffix)
    return lines


def text_layout(label, body, width=TEXT_WIDTH, where=()):
    """``label = body`` as text, on several lines when it is longer than ``width``.

    Lines are cut as in ``layout``: at the top-level `` + `` and `` - `` of the body,
    each continuation line starting with its operator under the body's first
    character; a body without top-level terms is cut before the `` * ``, `` / `` and
    `` @ `` of its top-level product, and a factor too long for a line inside its
    widest parentheses, its continuation lines starting just inside the ``(``. ``where`` is a list of
    ``(name, body)`` definitions of names the body uses, each on a line of its own,
    the first ``  where name = body``, the others' names under the first's.

    >>> text_layout("y", "a + b")
    'y = a + b'
    >>> print(text_layout("gw", "X.T @ (p - y) + 0.02 * w", width=16))
    gw = X.T @ (p - y)
         + 0.02 * w
    >>> print(text_layout("g", "X.T @ ((p - y) / n * (1 - h ** 2))", width=24))
    g = X.T @ ((p - y) / n
           * (1 - h ** 2))
    >>> print(text_layout("g", "u - y", where=[("u", "sigmoid(x)")]))
    g = u - y
      where u = sigmoid(x)
    """
    rows = _text_rows(f"{label} = ", body, width)
    for k, (name, definition) in enumerate(where):
        rows += _text_rows(f"  {'where' if k == 0 else '     '} {name} = ", definition, width)
    return "\n".join(rows)


def _text_rows(lead, body, width):
    lines = _text_lines(body, max(width - len(lead), width // 2))
    return [lead + lines[0][1]] + [" " * (len(lead) + k) + t for k, t in lines[1:]]
