"""Sliders for compiled functions: ``interact(f, x=(-3, 3))``.

A slider per scalar input and a seed slider per random stream; every change
re-evaluates the function and shows its outputs (and, on request, a plot of
the scalar outputs across one input's range). Sliders only report when the
drag ends (``continuous_update=False``), so slow functions are not called on
every pixel.
"""

import io
import math

import ipywidgets as W
import numpy as np
from nbgrad.printing.html import code, escape, random_streams_html

from nbgrad_magics.errors import OptionError

__all__ = ["Explorer", "interact"]

DEFAULT_RANGE = (-3.0, 3.0)
PLOT_POINTS = 101


def interact(f, streams=None, plot=None, names=None, continuous_update=False, **ranges):
    """Sliders that drive a compiled function and show its outputs live.

    Parameters
    ----------
    f : nbgrad Function
        Its scalar inputs get sliders; other inputs need a fixed value in ``ranges``.
    streams : RandomStreams or list of them or of (name, RandomStreams), optional
        A seed slider is added for each; the streams are reseeded before every evaluation,
        so the outputs depend only on the slider positions.
    plot : str, optional
        Name of a scalar input: plot the scalar outputs across that slider's range,
        with the current position marked.
    names : list of str, optional
        Labels of the outputs (default: the output variables' names).
    continuous_update : bool
        Evaluate during a drag (default False: when the slider is released).
    **ranges
        ``name=(low, high)`` or ``(low, high, step)`` for a slider, or a value that
        keeps the input fixed.

    Returns
    -------
    Explorer
        An ``ipywidgets.VBox``; its ``sliders``, ``seeds``, ``result`` and ``values``
        attributes let code drive it as a user would.

    Examples
    --------
    >>> import nbgrad, nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> f = nbgrad.function([x], [x ** 2, T.grad(x ** 2, x)])
    >>> w = interact(f, x=(-3, 3), names=["y", "dy/dx"])
    >>> w.sliders["x"].value = 1.5
    >>> [float(v) for v in w.values]
    [2.25, 3.0]
    """
    return Explorer(f, ranges, streams=streams, plot=plot, names=names,
                    continuous_update=continuous_update)


class Explorer(W.VBox):
    """Sliders, outputs and an optional plot for one compiled function (see ``interact``)."""

    def __init__(self, f, ranges, streams=None, plot=None, names=None, continuous_update=False):
        super().__init__()
        self.function = f
        self.sliders, self.seeds, self.fixed = {}, {}, {}
        self.values = None
        self.error = None
        ins = f.maker.inputs
        known = {i.name for i in ins}
        unknown = sorted(set(ranges) - known)
        if unknown:
            raise OptionError(
                f"interact: {unknown[0]!r} is not an input of the function; its inputs are "
                f"{[i.name for i in ins]}"
            )
        self._order = []
        for k, i in enumerate(ins):
            name = i.name or f"input{k}"
            self._order.append(name)
            spec = ranges.get(i.name)
            ttype = i.variable.type
            if ttype.ndim == 0 and (spec is None or _is_range(spec)):
                self.sliders[name] = _slider(W, name, ttype.dtype, spec, continuous_update)
            elif spec is None or _is_range(spec):
                raise OptionError(
                    f"interact: input {name!r} is a {ttype.ndim}-d array; sliders are for "
                    f"scalars, so give it a fixed value, e.g. {name}=np.zeros(3)"
                )
            else:
                self.fixed[name] = spec
        for label, stream in _as_streams(streams):
            self.seeds[label] = W.IntSlider(
                value=_initial_seed(stream), min=0, max=9999, step=1,
                continuous_update=continuous_update, style={"description_width": "initial"},
                **_description(label, "seed "),
            )
            self.seeds[label].stream = stream
        if plot is not None and plot not in self.sliders:
            raise OptionError(
                f"interact: plot={plot!r} must name a scalar input with a slider; "
                f"these are {sorted(self.sliders)}"
            )
        self.plot_input = plot
        n_out = len(f.maker.outputs)
        self.names = list(names) if names else [
            o.variable.name or f"out{k}" for k, o in enumerate(f.maker.outputs)
        ]
        if len(self.names) != n_out:
            raise OptionError(f"interact: {len(self.names)} names for {n_out} outputs")
        self.result = W.HTML()
        # the streams' state (their seed) as the sliders set it, kept current by refresh
        self.streams_table = W.HTML() if self.seeds else None
        self.image = W.Image(format="png") if plot is not None else None
        for s in list(self.sliders.values()) + list(self.seeds.values()):
            s.observe(self.refresh, names="value")
        self.children = ([*self.sliders.values(), *self.seeds.values(), self.result]
                         + ([self.streams_table] if self.streams_table is not None else [])
                         + ([self.image] if self.image is not None else []))
        self.refresh()

    def _call(self, overrides=None):
        args = []
        for name in self._order:
            if overrides and name in overrides:
                args.append(overrides[name])
            elif name in self.sliders:
                args.append(self.sliders[name].value)
            else:
                args.append(self.fixed[name])
        for s in self.seeds.values():
            s.stream.seed(s.value)
        out = self.function(*args)
        return [out] if self.function.maker.single_output else list(out)

    def refresh(self, change=None):
        """Evaluate at the current slider positions and show the outputs."""
        try:
            self.values = self._call()
            self.error = None
            rows = "".join(
                f"<tr><td style='padding-right:1em'><b>{code(n)}</b></td>"
                f"<td>{code(_fmt(v))}</td></tr>"
                for n, v in zip(self.names, self.values)
            )
            self.result.value = f"<table class='nbgrad-values'>{rows}</table>"
            if self.image is not None:
                self.image.value = self._plot_png()
        except Exception as exc:  # noqa: BLE001 - shown in the widget; a callback cannot raise
            self.values = None
            self.error = exc
            self.result.value = (f"<pre style='color:#b00'>{type(exc).__name__}: "
                                 f"{escape(str(exc))}</pre>")
        if self.streams_table is not None:
            self.streams_table.value = "".join(random_streams_html(s.stream) for s in self.seeds.values())

    def curves(self):
        """``(grid, {output name: values})`` of the scalar outputs across the plot input."""
        s = self.sliders[self.plot_input]
        grid = np.linspace(s.min, s.max, PLOT_POINTS)
        ys = {n: [] for n, v in zip(self.names, self.values) if np.ndim(v) == 0}
        for t in grid:
            vals = self._call({self.plot_input: t})
            for n, v in zip(self.names, vals):
                if n in ys:
                    ys[n].append(float(v))
        return grid, {n: np.asarray(v) for n, v in ys.items()}

    def _plot_png(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        grid, ys = self.curves()
        fig = Figure(figsize=(5, 3), dpi=80)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for n, y in ys.items():
            ax.plot(grid, y, label=_plain(n))
        ax.axvline(self.sliders[self.plot_input].value, color="0.5", lw=1, ls="--")
        ax.set_xlabel(_plain(self.plot_input))
        ax.legend(loc="best")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()


def _is_range(spec):
    return (isinstance(spec, tuple) and len(spec) in (2, 3)
            and all(isinstance(v, (int, float)) for v in spec))


def _slider(W, name, dtype, spec, continuous_update):
    lo, hi = spec[:2] if spec is not None else DEFAULT_RANGE
    if not lo < hi:
        raise OptionError(f"interact: the range of {name!r} needs low < high, got {spec}")
    if str(dtype).startswith(("int", "uint")):
        step = int(spec[2]) if spec is not None and len(spec) == 3 else 1
        value = int(min(max(0, lo), hi))
        return W.IntSlider(value=value, min=int(lo), max=int(hi), step=step,
                           continuous_update=continuous_update, **_description(name))
    step = spec[2] if spec is not None and len(spec) == 3 else (hi - lo) / 100
    value = min(max(0.0, lo), hi)
    return W.FloatSlider(value=value, min=lo, max=hi, step=step,
                         continuous_update=continuous_update, readout_format=".3g", **_description(name))


def _description(name, prefix=""):
    """A slider's label, ``prefix`` then ``name``: front ends typeset TeX in labels, so a
    name holding a TeX delimiter (``$``, ``\\``) is shown as HTML code, which is never typeset."""
    if "$" in name or "\\" in name:
        return {"description": escape(prefix) + code(name), "description_allow_html": True}
    return {"description": prefix + name}


def _plain(text):
    """``text`` for a Matplotlib label, where ``$...$`` would be read as math."""
    return text.replace("$", "\\$")


def _as_streams(streams):
    if streams is None:
        return []
    if not isinstance(streams, (list, tuple)):
        streams = [streams]
    out = []
    for k, s in enumerate(streams):
        if isinstance(s, tuple):
            out.append(s)
        else:
            out.append((f"stream{k}" if len(streams) > 1 else "", s))
    return [(label or "", s) for label, s in out]


def _initial_seed(stream):
    seed = getattr(stream, "default_instance_seed", None)
    if isinstance(seed, (int, np.integer)) and 0 <= seed <= 9999:
        return int(seed)
    return 0


def _fmt(v):
    a = np.asarray(v)
    if a.ndim == 0:
        x = a.item()
        return f"{x:.6g}" if isinstance(x, float) and math.isfinite(x) else str(x)
    return np.array2string(a, precision=4, threshold=20, separator=", ")

