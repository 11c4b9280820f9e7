"""HTML and stable plain-text views of shared variables, compiled functions and random streams.

Everything shown is escaped; nothing depends on object addresses, so the text
forms can be compared in tests and notebooks.

Notebook front ends typeset TeX in HTML outputs (MathJax looks for ``$...$``
and ``\\(...\\)``), so text that comes from the user (names of variables,
functions and streams, values, error messages) must never become math: it is
written with :func:`escape`, which also turns ``$`` and ``\\`` into character
references, and names sit inside ``<code>`` (which MathJax does not typeset).
The only math in the HTML is the formulas, built by ``latex``, whose names are
escaped for TeX.
"""

import html as _html

import numpy as np

from nbgrad.printing.debug import debugprint
from nbgrad.printing.tex import latex, latex_name
from nbgrad.printing.text import pp

__all__ = [
    "code", "escape", "function_html", "function_text", "random_streams_html", "random_streams_text",
    "shared_html", "shared_text",
]

_NOT_TEX = str.maketrans({"$": "&#36;", "\\": "&#92;"})


def escape(text):
    r"""``text`` as HTML that shows it literally: markup and TeX delimiters as character references.

    >>> escape("<b> & $x$ \\alpha")
    '&lt;b&gt; &amp; &#36;x&#36; &#92;alpha'
    """
    return _html.escape(str(text)).translate(_NOT_TEX)


def code(text):
    r"""A user-given name as HTML: escaped (see :func:`escape`) inside ``<code>``.

    >>> code("$\\href{javascript:alert(1)}{x}$")
    '<code>&#36;&#92;href{javascript:alert(1)}{x}&#36;</code>'
    """
    return f"<code>{escape(text)}</code>"

#: Arrays with at most this many elements are shown in full.
FULL_SIZE = 100
_PREVIEW = 6


def _value(var):
    get = getattr(var, "get_value", None)
    v = get(borrow=True) if get is not None else getattr(var, "data", None)
    getter = getattr(v, "get", None)
    if getter is not None and not isinstance(v, np.ndarray):
        v = getter()
    return np.asarray(v)


def _array_text(a):
    if a.size <= FULL_SIZE:
        return np.array2string(a, separator=", ", threshold=FULL_SIZE + 1)
    return np.array2string(a, separator=", ", threshold=0, edgeitems=_PREVIEW // 2)


def _stats(a):
    if a.size == 0 or a.dtype.kind not in "biuf":
        return None
    x = a.astype(np.float64)
    return {"min": float(np.min(x)), "max": float(np.max(x)), "mean": float(np.mean(x))}


def _name(var):
    return var.name if getattr(var, "name", None) is not None else "(unnamed)"


def _row(key, value_html):
    return f"<tr><th style='text-align:left'>{escape(key)}</th><td>{value_html}</td></tr>"


def _table(rows, cls):
    return f"<table class='{cls}'>" + "".join(rows) + "</table>"


# --------------------------------------------------------------- shared variables
def shared_text(var):
    """A stable one-paragraph description of a shared variable.

    >>> import numpy as np, nbgrad
    >>> print(shared_text(nbgrad.shared(np.arange(3.0), name="w")))
    shared w: float64, shape (3,)
    value: [0., 1., 2.]
    """
    a = _value(var)
    lines = [f"shared {_name(var)}: {a.dtype}, shape {tuple(a.shape)}"]
    stats = _stats(a)
    if a.size > FULL_SIZE and stats is not None:
        lines.append("min {min:.6g}, max {max:.6g}, mean {mean:.6g}".format(**stats))
    lines.append(f"value: {_array_text(a)}")
    updaters = list(getattr(var, "updated_by", []) or [])
    if updaters:
        lines.append("updated by: " + ", ".join(dict.fromkeys(updaters)))
    return "\n".join(lines)


def shared_html(var):
    """HTML of a shared variable: name, dtype, shape, value and the functions updating it.

    Arrays of at most ``FULL_SIZE`` elements are shown in full; larger ones as
    min/max/mean and a truncated preview.

    >>> import numpy as np, nbgrad
    >>> html = shared_html(nbgrad.shared(np.zeros(1000), name="<b>"))
    >>> "&lt;b&gt;" in html and "mean" in html and "..." in html
    True
    """
    a = _value(var)
    rows = [
        _row("name", code(_name(var))),
        _row("dtype", escape(str(a.dtype))),
        _row("shape", escape(str(tuple(a.shape)))),
    ]
    stats = _stats(a)
    if a.size > FULL_SIZE and stats is not None:
        rows.append(_row("min / max / mean", escape("{min:.6g} / {max:.6g} / {mean:.6g}".format(**stats))))
        rows.append(_row("preview", f"<pre>{escape(_array_text(a))}</pre>"))
    else:
        rows.append(_row("value", f"<pre>{escape(_array_text(a))}</pre>"))
    updaters = list(dict.fromkeys(getattr(var, "updated_by", []) or []))
    rows.append(_row("updated by", ", ".join(code(u) for u in updaters) if updaters
                     else "<i>no compiled function</i>"))
    return _table(rows, "nbgrad-shared")


# --------------------------------------------------------------- compiled functions
def _inputs(fn):
    out = []
    for i in fn.maker.inputs:
        name = i.name if i.name is not None else str(i.variable)
        default = "" if getattr(i, "value", None) is None else f" = {np.asarray(i.value).tolist()!r}"
        out.append((name, str(i.variable.type), default))
    return out


def _outputs(fn):
    m = fn.maker
    n = getattr(m, "n_outputs", len(m.outputs))
    return list(m.fgraph.outputs[:n])


def _updates(fn):
    return [(_name(v), u) for v, u in getattr(fn.maker, "updates", [])]


def function_text(fn):
    """A stable text description of a compiled function (no addresses).

    >>> import nbgrad, nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> print(function_text(nbgrad.function([x], x ** 2, name="square")))
    function square(x: TensorType(float64, scalar))
      out[0] = x ** 2
    nodes: 1 before rewrites, 1 after; backend cpu
    """
    m = fn.maker
    name = getattr(fn, "name", None)
    ins = ", ".join(f"{n}: {t}{d}" for n, t, d in _inputs(fn))
    lines = [f"function{' ' + name if name else ''}({ins})"]
    for k, o in enumerate(_outputs(fn)):
        lines.append(f"  out[{k}] = {pp(o)}")
    for name_, u in _updates(fn):
        lines.append(f"  {name_} <- {pp(u)}")
    lines.append(f"nodes: {m.n_nodes_before} before rewrites, {m.n_nodes_after} after; backend {m.backend}")
    return "\n".join(lines)


def function_html(fn, show=()):
    """HTML of a compiled function: inputs, outputs as LaTeX, node counts, backend.

    Parameters
    ----------
    fn : Function
    show : iterable of {'graph', 'source'}
        Also show the optimized graph (``debugprint``) and the generated source.

    Examples
    --------
    >>> import nbgrad, nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> html = function_html(nbgrad.function([x], x ** 2), show=("graph", "source"))
    >>> "$x^{2}$" in html and "<pre" in html
    True
    """
    if isinstance(show, str):
        show = (show,)
    unknown = set(show) - {"graph", "source"}
    if unknown:
        raise ValueError(f"function_html: show takes 'graph' and/or 'source', got {sorted(unknown)}")
    m = fn.maker
    name = getattr(fn, "name", None)
    ins = "".join(
        f"<li>{code(n)}: {escape(t)}{escape(d)}</li>" for n, t, d in _inputs(fn)
    )
    # the formulas are the only math: TeX from ``latex``, where names are escaped for TeX
    outs = "".join(f"<li>${_html.escape(latex(o))}$</li>" for o in _outputs(fn))
    upd = "".join(
        f"<li>${_html.escape(latex_name(n))} \\leftarrow {_html.escape(latex(u))}$</li>"
        for n, u in _updates(fn)
    )
    rows = [
        _row("function", code(name) if name else "<i>unnamed</i>"),
        _row("inputs", f"<ul>{ins}</ul>" if ins else "<i>none</i>"),
        _row("outputs", f"<ul>{outs}</ul>" if outs else "<i>none</i>"),
    ]
    if upd:
        rows.append(_row("updates", f"<ul>{upd}</ul>"))
    rows.append(_row("nodes", escape(f"{m.n_nodes_before} before rewrites, {m.n_nodes_after} after")))
    rows.append(_row("backend", escape(str(m.backend))))
    if "graph" in show:
        rows.append(_row("graph", f"<pre class='nbgrad-graph'>{escape(debugprint(fn, print_type=True, file='str'))}</pre>"))
    if "source" in show:
        rows.append(_row("source", f"<pre class='nbgrad-source'>{escape(str(fn.source))}</pre>"))
    return _table(rows, "nbgrad-function")


# --------------------------------------------------------------- random streams
def _streams(srng):
    """``[(name, shared state variable)]`` of a RandomStreams, read defensively."""
    out = []
    for pair in getattr(srng, "state_updates", None) or []:
        try:
            state, _ = pair
        except (TypeError, ValueError):
            continue
        out.append((_name(state), state))
    return out


def _seed(srng):
    for attr in ("last_seed", "default_instance_seed", "seed", "default_seed", "initial_seed", "_seed"):
        v = getattr(srng, attr, None)
        if v is not None and not callable(v):
            return v
    return None


def _state_text(state):
    try:
        v = state.get_value(borrow=True)
    except Exception:  # noqa: BLE001 - a display must not fail on an unusual state
        return "?"
    if isinstance(v, np.random.Generator):
        return type(v.bit_generator).__name__
    if isinstance(v, np.ndarray):
        return f"array {v.dtype} {tuple(v.shape)}"
    return type(v).__name__


def random_streams_text(srng):
    """A stable text description of a RandomStreams: its seed and streams."""
    seed = _seed(srng)
    streams = _streams(srng)
    lines = [f"{type(srng).__name__}(seed={seed!r}): {len(streams)} stream(s)"]
    lines += [f"  {n}: {_state_text(s)}" for n, s in streams]
    return "\n".join(lines)


def random_streams_html(srng):
    """HTML of a RandomStreams: its seed and one row per stream (its shared state)."""
    seed = _seed(srng)
    streams = "".join(
        f"<li>{code(n)}: {escape(_state_text(s))}</li>" for n, s in _streams(srng)
    )
    rows = [
        _row("random streams", escape(type(srng).__name__)),
        _row("seed", escape(repr(seed))),
        _row("streams", f"<ul>{streams}</ul>" if streams else "<i>none yet</i>"),
    ]
    return _table(rows, "nbgrad-random-streams")
