"""MIME bundles for what nbgrad shows in a notebook (plain dicts; no IPython here).

Each function returns ``{mime type: data}``, ready for ``IPython.display.display(...,
raw=True)``; the formatters registered by the extension use the same functions.
The HTML of shared variables, compiled functions and random streams comes from
``nbgrad.printing.html``.
"""

from nbgrad.printing import debugprint, latex, pp

__all__ = [
    "formula_bundle", "function_bundle", "graph_bundle", "result_bundles", "shared_bundle",
    "source_bundle", "streams_bundle", "variable_bundle",
]

def _latex_name(name):
    from nbgrad.printing import latex_name

    return latex_name(name)


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
        "text/latex": f"$\\displaystyle {_latex_name(name)} = {latex(var)}$",
    }


def _html_module():
    try:
        from nbgrad.printing import html
    except ImportError:
        return None
    return html


def _text_of(kind, obj):
    html = _html_module()
    fn = getattr(html, f"{kind}_text", None) if html is not None else None
    return fn(obj) if fn is not None else repr(obj)


def _with_html(kind, obj):
    bundle = {"text/plain": _text_of(kind, obj)}
    html = _html_module()
    fn = getattr(html, f"{kind}_html", None) if html is not None else None
    if fn is not None:
        bundle["text/html"] = fn(obj)
    return bundle


def shared_bundle(var):
    """A shared variable's state: HTML (name, dtype, shape, value, updaters) and text."""
    return _with_html("shared", var)


def function_bundle(fn):
    """A compiled function: HTML (inputs, outputs as formulas, node counts, backend) and text."""
    return _with_html("function", fn)


def streams_bundle(streams):
    """A RandomStreams: its seed and streams, as HTML and text."""
    return _with_html("random_streams", streams)


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
