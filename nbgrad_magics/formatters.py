"""Display formatters for nbgrad objects, registered on an IPython shell.

The bundles come from :mod:`nbgrad_magics.display`; this module only plugs them
into IPython's formatters and takes them out again.
"""

from nbgrad_magics import display as _display

__all__ = ["register", "unregister"]


def _entries():
    from nbgrad.compile.function import Function
    from nbgrad.compile.sharedvalue import SharedVariable
    from nbgrad.tensor import TensorVariable

    def part(bundle_of, mime):
        return lambda obj, *rest: bundle_of(obj).get(mime)

    def plain(bundle_of):
        # text/plain printers get (obj, pretty printer, cycle)
        return lambda obj, p, cycle: p.text(bundle_of(obj)["text/plain"])

    entries = [
        (TensorVariable, "text/latex", part(_display.variable_bundle, "text/latex")),
        (TensorVariable, "text/plain", plain(_display.variable_bundle)),
        (SharedVariable, "text/html", part(_display.shared_bundle, "text/html")),
        (SharedVariable, "text/plain", plain(_display.shared_bundle)),
        (Function, "text/html", part(_display.function_bundle, "text/html")),
        (Function, "text/plain", plain(_display.function_bundle)),
    ]
    try:
        from nbgrad.random import RandomStreams
    except ImportError:
        pass
    else:
        entries += [
            (RandomStreams, "text/html", part(_display.streams_bundle, "text/html")),
            (RandomStreams, "text/plain", plain(_display.streams_bundle)),
        ]
    return entries


def register(ipython):
    """Add the formatters to ``ipython``; returns what ``unregister`` needs to undo it."""
    formatters = ipython.display_formatter.formatters
    saved = []
    for cls, mime, fn in _entries():
        previous = formatters[mime].for_type(cls, fn)
        saved.append((cls, mime, previous))
    return saved


def unregister(ipython, saved):
    """Put back the formatters that ``register`` replaced."""
    formatters = ipython.display_formatter.formatters
    for cls, mime, previous in reversed(saved):
        formatters[mime].pop(cls, None)
        if previous is not None:
            formatters[mime].for_type(cls, previous)
