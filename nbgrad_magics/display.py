"""MIME bundles for what nbgrad shows in a notebook (plain dicts; no IPython here).

Each function returns ``{mime type: data}``, ready for ``IPython.display.display(...,
raw=True)``; the formatters registered by the extension use the same functions.
The HTML of shared variables, compiled functions and random streams comes from
``nbgrad.printing.html``.
"""

from nbgrad.graph import Variable
from nbgrad.printing import debugprint, html, latex, pp

from nbgrad_magics.formula import FormulaPrinter, FormulaTextPrinter, code_tex, layout, name_tex
from nbgrad_magics.grouped import leaves

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


def formula_bundle(name, var):
    """``name = formula`` as LaTeX and text; a long formula is laid out on several lines.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> b = formula_bundle("new_y", x * 3)
    >>> b["text/plain"], b["text/latex"]
    ('new_y = 3 * x', '$\\\\displaystyle \\\\mathrm{new\\\\_y} = 3 x$')
    """
    return {
        "text/plain": f"{name} = {_text(var)}",
        "text/latex": layout(name_tex(name), _formula(var)),
    }


def _formula(var):
    """The LaTeX of ``var``'s formula, never ``name = formula`` (as ``latex`` gives for a gradient)."""
    return FormulaPrinter().doprint(var)


def _text(var):
    """The text of ``var``'s formula as the notebook reads it (a scan result as ``scan(...)[i]``)."""
    return FormulaTextPrinter().doprint(var)


def labelled_bundle(label, var):
    """``label = formula``, with ``label`` a pair (text, LaTeX) that stands for ``var``.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> labelled_bundle(derivative_label("z", ["x"]), 2 * x)["text/plain"]
    '∂z/∂x = 2 * x'
    """
    text, tex = label
    return {
        "text/plain": f"{text} = {_text(var)}",
        "text/latex": layout(tex, _formula(var)),
    }


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

    ``streams=False`` leaves out the random streams (the sliders show them, kept current).
    """
    show = result.options.show
    fn = result.function
    bundles = []
    if "formula" in show:
        if fn is not None:
            shown = iter(fn.maker.fgraph.outputs[: fn.maker.n_outputs] if result.options.optimize
                         else [u for _, v in result.outputs for u in leaves(v)])
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
                    bundles.append(labelled_bundle(label, vs[0]))
                elif name in result.labels:
                    bundles += [labelled_bundle(lb, v) for lb, v in zip(result.labels[name], vs)]
                else:
                    bundles.append(formula_bundle(name, vs[0]))
        for _, var in result.shared:
            bundles.append(shared_bundle(var))
        for _, stream in result.streams if streams else ():
            bundles.append(streams_bundle(stream))
    if fn is not None and "graph" in show:
        bundles.append(graph_bundle(fn))
    if fn is not None and "source" in show:
        bundles.append(source_bundle(fn))
    return bundles


def _rows(value):
    """The rows of a list or tuple of equally long lists or tuples of variables, else None."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(r, (list, tuple)) for r in value):
        return None
    if len({len(r) for r in value}) != 1 or not all(isinstance(v, Variable) for r in value for v in r):
        return None
    return value
