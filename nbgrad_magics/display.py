"""MIME bundles for what nbgrad shows in a notebook (plain dicts; no IPython here).

Each function returns ``{mime type: data}``, ready for ``IPython.display.display(...,
raw=True)``; the formatters registered by the extension use the same functions.
The HTML of shared variables, compiled functions and random streams comes from
``nbgrad.printing.html``.
"""

from nbgrad.graph import Variable, ancestors
from nbgrad.printing import debugprint, html, latex, pp
from nbgrad.tensor import DimShuffle

from nbgrad_magics.formula import (
    TEXT_WIDTH, FormulaPrinter, FormulaTextPrinter, code_tex, layout, name_tex, text_layout,
)
from nbgrad_magics.grouped import leaves
from nbgrad_magics.readable import readable_graph, repeated

__all__ = [
    "derivative_label", "formula_bundle", "function_bundle", "graph_bundle", "index_label",
    "labelled_bundle", "matrix_bundle", "result_bundles", "shared_bundle", "source_bundle",
    "streams_bundle", "variable_bundle",
]


def variable_bundle(var):
    """A symbolic variable as LaTeX (``$\\displaystyle ...$``) and stable text.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> variable_bundle(x ** 2)["text/plain"]
    'x ** 2'
    """
    return {"text/plain": pp(var), "text/latex": "$\\displaystyle " + latex(var) + "$"}


def formula_bundle(name, var, names=None):
    """``name = formula`` as LaTeX and text; a long formula is laid out on several lines.

    ``names`` (``{variable: name}``) are subexpressions to print as a name; a long
    formula names what it writes out more than once (see ``labelled_bundle``).

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> b = formula_bundle("new_y", x * 3)
    >>> b["text/plain"], b["text/latex"]
    ('new_y = 3 * x', '$\\\\displaystyle \\\\mathrm{new\\\\_y} = 3 x$')
    """
    return labelled_bundle((name, name_tex(name)), var, names)


def _formula(var, names=None):
    """The LaTeX of ``var``'s formula, never ``name = formula`` (as ``latex`` gives for a gradient)."""
    return FormulaPrinter(names).doprint(var)


def _text(var, names=None):
    """The text of ``var``'s formula as the notebook reads it (a scan result as ``scan(...)[i]``)."""
    return FormulaTextPrinter(names).doprint(var)


def labelled_bundle(label, var, names=None):
    """``label = formula``, with ``label`` a pair (text, LaTeX) that stands for ``var``.

    ``names`` (``{variable: name}``) are subexpressions to print as a name (the
    results the cell named). A formula whose text is longer than ``TEXT_WIDTH``
    and writes a subexpression out more than once names it: ``u`` (or the next
    free short name) stands in the formula, and a ``where u = ...`` line, or
    ``\\text{where } u = ...`` row, defines it. A short formula, or one without
    repeats, stays self-contained. Both forms are laid out on several lines when
    long (``layout``, ``text_layout``).

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> labelled_bundle(derivative_label("z", ["x"]), 2 * x)["text/plain"]
    '∂z/∂x = 2 * x'
    >>> e = T.exp(T.dscalar("long_argument_name") * x ** 2 + 1)
    >>> print(labelled_bundle(("y", "y"), e * e + e)["text/plain"])
    y = u * u + u
      where u = exp(long_argument_name * x ** 2 + 1)
    """
    text_label, tex_label = label
    names = dict(names or {})
    defined = _where_names(text_label, var, names)
    names.update(defined)
    return {
        "text/plain": text_layout(text_label, _text(var, names),
                                  where=[(n, _text(v, names)) for v, n in defined.items()]),
        "text/latex": layout(tex_label, _formula(var, names),
                             where=[(name_tex(n), _formula(v, names)) for v, n in defined.items()]),
    }


# the names a where clause gives, in order; then u1, u2, ...
_SHORT_NAMES = ("u", "v", "s", "r", "q", "z")
# a subexpression whose text is shorter than this is not worth a name
_WORTH_A_NAME = 12


def _where_names(label, var, names):
    """``{subexpression: name}`` for what a long formula writes out more than once.

    Outermost first: naming a subexpression can make what it contains appear only
    once more (in its definition), so the repeats are counted again after each name.
    """
    if len(f"{label} = {_text(var, names)}") <= TEXT_WIDTH:
        return {}
    taken = {label, *names.values()} | {v.name for v in ancestors([var]) if v.name}
    free = (n for n in _SHORT_NAMES + tuple(f"u{k}" for k in range(1, 100)) if n not in taken)
    picked = {}

    def heavy(v):  # a [:, None] is named with what it broadcasts; short text is clear as it is
        return not isinstance(v.owner.op, DimShuffle) and len(_text(v, {**names, **picked})) >= _WORTH_A_NAME

    while True:
        repeats = repeated([var, *picked], set(names) | set(picked), lambda v: True)
        outermost = next((v for v in repeats if heavy(v)), None)  # printing each would cost more
        if outermost is None:
            return picked
        picked[outermost] = next(free)


def matrix_bundle(name, rows):
    """``name = [[...], ...]``: a matrix of formulas (a list of rows of variables).

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x, y = T.dscalars("x", "y")
    >>> b = matrix_bundle("H", [[2 * y, 2 * x], [2 * x, x]])
    >>> print(b["text/plain"])
    H = [[2 * y, 2 * x],
         [2 * x, x]]
    >>> b["text/latex"]
    '$\\\\displaystyle H = \\\\begin{bmatrix}2 y & 2 x \\\\\\\\ 2 x & x\\\\end{bmatrix}$'
    """
    lead = f"{name} = ["
    text = (",\n" + " " * len(lead)).join("[" + ", ".join(_text(v) for v in row) + "]" for row in rows)
    body = r" \\ ".join(" & ".join(_formula(v) for v in row) for row in rows)
    return {
        "text/plain": f"{lead}{text}]",
        "text/latex": f"$\\displaystyle {name_tex(name)} = \\begin{{bmatrix}}{body}\\end{{bmatrix}}$",
    }


def derivative_label(f, wrt, expression=False):
    """The label (text, LaTeX) of the derivative of ``f`` with respect to ``wrt`` (one name per order).

    ``f`` is the name the cell differentiated, or with ``expression`` the source of
    the expression it differentiated.

    >>> derivative_label("z", ["x"])
    ('∂z/∂x', '\\\\frac{\\\\partial z}{\\\\partial x}')
    >>> derivative_label("z", ["x", "x"])[0], derivative_label("z", ["x", "y"])[0]
    ('∂²z/∂x²', '∂²z/∂x∂y')
    >>> derivative_label("new_mean", ["x"])[1]
    '\\\\frac{\\\\partial \\\\mathrm{new\\\\_mean}}{\\\\partial x}'
    >>> derivative_label("y.sum()", ["A"], expression=True)
    ('∂(y.sum())/∂A', '\\\\frac{\\\\partial}{\\\\partial A}\\\\,\\\\texttt{y.sum()}')
    """
    order = len(wrt)
    shown = f"({f})" if expression else f
    if order == 1:
        text = f"∂{shown}/∂{wrt[0]}"
    elif len(set(wrt)) == 1:
        text = f"∂{_superscript(order)}{shown}/∂{wrt[0]}{_superscript(order)}"
    else:
        text = f"∂{_superscript(order)}{shown}/" + "".join(f"∂{w}" for w in wrt)
    num = "\\partial" if order == 1 else f"\\partial^{{{order}}}"
    if order > 1 and len(set(wrt)) == 1:
        den = f"\\partial {name_tex(wrt[0])}^{{{order}}}"
    else:
        den = " ".join(f"\\partial {name_tex(w)}" for w in wrt)
    if expression:
        return text, f"\\frac{{{num}}}{{{den}}}\\,{code_tex(f)}"
    return text, f"\\frac{{{num} {name_tex(f)}}}{{{den}}}"


def _superscript(n):
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def index_label(name, path):
    """The label (text, LaTeX) of the entry at ``path`` of the list or tuple ``name``.

    >>> index_label("gz", (0,)), index_label("g_x", (1, 0))
    (('gz[0]', '\\\\mathrm{gz}_{0}'), ('g_x[1][0]', '{g_{x}}_{1,0}'))
    """
    text = name + "".join(f"[{k}]" for k in path)
    base = name_tex(name)
    if "_" in base or "^" in base:
        base = f"{{{base}}}"
    return text, f"{base}_{{{','.join(str(k) for k in path)}}}"


def shared_bundle(var):
    """A shared variable's state: HTML (name, dtype, shape, value, updaters) and text."""
    return {"text/plain": html.shared_text(var), "text/html": html.shared_html(var)}


def function_bundle(fn):
    """A compiled function: HTML (inputs, outputs as formulas, node counts, backend) and text."""
    return {"text/plain": html.function_text(fn), "text/html": html.function_html(fn)}


def streams_bundle(streams):
    """A RandomStreams: its seed and streams, as HTML and text."""
    return {"text/plain": html.random_streams_text(streams), "text/html": html.random_streams_html(streams)}


def graph_bundle(fn):
    """The optimized graph of a compiled function, one node per line."""
    return {"text/plain": debugprint(fn, print_type=True, file="str")}


def source_bundle(fn):
    """The generated source of a compiled function."""
    src = fn.source
    fence = "`" * max(3, 1 + _longest_run(src, "`"))  # the code cannot close the fence
    return {"text/plain": src, "text/markdown": f"{fence}python\n{src}\n{fence}"}


def _longest_run(text, char):
    longest = run = 0
    for c in text:
        run = run + 1 if c == char else 0
        longest = max(longest, run)
    return longest


def result_bundles(result, streams=True):
    """What to show after a ``%%symgraph`` cell, in order, for ``result.options.show``.

    The formulas are printed from one graph of all the cell's results
    (``nbgrad_magics.readable.readable_graph``: unfused, simplified for reading, equal
    subexpressions merged), so that a subexpression equal to a result the cell named
    (``p``, ``h``) prints as that name in the other formulas; each result's own line
    keeps its formula. ``streams=False`` leaves out the random streams (the sliders
    show them, kept current).
    """
    show = result.options.show
    fn = result.function
    bundles = []
    if "formula" in show:
        if fn is not None:
            optimized = result.options.optimize
            shown = readable_graph(fn.maker.fgraph.outputs[: fn.maker.n_outputs] if optimized
                                   else [u for _, v in result.outputs for u in leaves(v)],
                                   simplify=optimized)
            names = _result_names(result.outputs, shown)
            shown = iter(shown)
            for name, value in result.outputs:
                vs = [next(shown) for _ in leaves(value)]
                rows = _rows(value)
                if rows is not None:
                    it = iter(vs)
                    bundles.append(matrix_bundle(name, [[next(it) for _ in row] for row in rows]))
                elif name in result.labels and isinstance(value, Variable):
                    # a derivative the cell named: its name, then what it is the derivative of
                    ((text, tex),) = result.labels[name]
                    label = (f"{name} = {text}", f"{name_tex(name)} = {tex}")
                    bundles.append(labelled_bundle(label, vs[0], names))
                elif name in result.labels:
                    bundles += [labelled_bundle(lb, v, names) for lb, v in zip(result.labels[name], vs)]
                else:
                    bundles.append(formula_bundle(name, vs[0], names))
        for _, var in result.shared:
            bundles.append(shared_bundle(var))
        for _, stream in result.streams if streams else ():
            bundles.append(streams_bundle(stream))
    if fn is not None and "graph" in show:
        bundles.append(graph_bundle(fn))
    if fn is not None and "source" in show:
        bundles.append(source_bundle(fn))
    return bundles


def _result_names(outputs, shown):
    """``{variable: name}`` for each result the cell bound to a name of its own (not the
    entries of a list), to print that name where another formula uses the result.

    ``shown`` holds the variable displayed for each leaf of ``outputs``, in order, from
    one merged graph: a subexpression equal to a named result is that variable. The
    first name wins where two results are equal.
    """
    names = {}
    shown = iter(shown)
    for name, value in outputs:
        vs = [next(shown) for _ in leaves(value)]
        if isinstance(value, Variable) and vs[0].owner is not None:
            names.setdefault(vs[0], name)
    return names


def _rows(value):
    """The rows of a list or tuple of equally long lists or tuples of variables, else None."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(r, (list, tuple)) for r in value):
        return None
    if len({len(r) for r in value}) != 1 or not all(isinstance(v, Variable) for r in value for v in r):
        return None
    return value
