"""MIME bundles for what nbgrad shows in a notebook (plain dicts; no IPython here).

Each function returns ``{mime type: data}``, ready for ``IPython.display.display(...,
raw=True)``; the formatters registered by the extension use the same functions.
The HTML of shared variables, compiled functions and random streams comes from
``nbgrad.printing.html``.
"""

from nbgrad.printing import debugprint, html, latex, latex_name, pp

__all__ = [
    "formula_bundle", "function_bundle", "graph_bundle", "result_bundles", "shared_bundle",
    "source_bundle", "streams_bundle", "variable_bundle",
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
    """``name = formula`` as LaTeX and text.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> b = formula_bundle("y", x * 3)
    >>> b["text/plain"], b["text/latex"]
    ('y = 3 * x', '$\\\\displaystyle y = 3 x$')
    """
    return {
        "text/plain": f"{name} = {pp(var)}",
        "text/latex": f"$\\displaystyle {latex_name(name)} = {latex(var)}$",
    }


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
    return {"text/plain": debugprint(fn, file="str")}


def source_bundle(fn):
    """The generated source of a compiled function."""
    src = fn.source
    return {"text/plain": src, "text/markdown": f"```python\n{src}\n```"}


def result_bundles(result):
    """What to show after a ``%%symgraph`` cell, in order, for ``result.options.show``."""
    show = result.options.show
    fn = result.function
    bundles = []
    if "formula" in show:
        if fn is not None:
            shown = (fn.maker.fgraph.outputs[: fn.maker.n_outputs] if result.options.optimize
                     else [v for _, v in result.outputs])
            for (name, _), var in zip(result.outputs, shown):
                bundles.append(formula_bundle(name, var))
        for _, var in result.shared:
            bundles.append(shared_bundle(var))
        for _, streams in result.streams:
            bundles.append(streams_bundle(streams))
    if fn is not None and "graph" in show:
        bundles.append(graph_bundle(fn))
    if fn is not None and "source" in show:
        bundles.append(source_bundle(fn))
    return bundles
