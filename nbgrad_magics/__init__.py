"""IPython extension for nbgrad: ``%load_ext nbgrad`` (or ``nbgrad_magics``).

Loading registers the ``%%symgraph`` cell magic, its option completer and
display formatters for symbolic variables, shared variables, compiled
functions and random streams; ``%unload_ext`` removes all of them. Installed
kernels register ``%%symgraph`` lazily through an IPython startup file, so the
magic works without ``%load_ext`` and nothing is imported before its first use.

``interact(f, x=(-3, 3))`` gives sliders for any compiled function.

Importing this package is cheap: its modules are imported on first use.
"""

__all__ = ["interact", "load_ipython_extension", "unload_ipython_extension"]

# what each loaded shell got, so that unloading removes exactly that
_LOADED = {}


def load_ipython_extension(ipython):
    """Register the ``%%symgraph`` magic, its completer and nbgrad's display formatters.

    Called by ``%load_ext nbgrad`` (or ``%load_ext nbgrad_magics``). Loading again,
    also through the other module name, changes nothing.

    Examples
    --------
    >>> from IPython.core.interactiveshell import InteractiveShell
    >>> ip = InteractiveShell.instance()
    >>> ip.run_line_magic("load_ext", "nbgrad")
    >>> ip.run_cell_magic("symgraph", "f --show none", "x = dscalar('x')\\ny = 2 * x")
    >>> float(ip.user_ns["f"](x=3.0))
    6.0
    >>> ip.run_line_magic("unload_ext", "nbgrad")
    >>> "symgraph" in ip.magics_manager.magics["cell"]
    False
    """
    from nbgrad_magics import formatters

    entry = _LOADED.get(id(ipython))
    if entry is not None:
        registered = ipython.magics_manager.magics["cell"].get("symgraph")
        if getattr(registered, "__self__", None) is entry[0]:
            return
        # a stale record (the magic was removed behind our back): start again cleanly
        _LOADED.pop(id(ipython))
        formatters.unregister(ipython, entry[1])
    from nbgrad_magics.magic import SymgraphMagics, complete_symgraph

    magics = SymgraphMagics(ipython)
    ipython.register_magics(magics)
    ipython.set_hook("complete_command", complete_symgraph, str_key="%%symgraph")
    saved = formatters.register(ipython)
    _LOADED[id(ipython)] = (magics, saved)


def unload_ipython_extension(ipython):
    """Remove what :func:`load_ipython_extension` registered."""
    entry = _LOADED.pop(id(ipython), None)
    if entry is None:
        return
    from nbgrad_magics import formatters

    magics, saved = entry
    manager = ipython.magics_manager
    for kind, table in magics.magics.items():
        for name in table:
            manager.magics[kind].pop(name, None)
    manager.registry.pop(type(magics).__name__, None)
    # the startup file's lazy registration would otherwise bring the magic back on next use
    if getattr(manager, "lazy_magics", {}).get("symgraph") == "nbgrad_magics":
        del manager.lazy_magics["symgraph"]
    for table in manager.magics.values():  # IPython 9 keeps lazy placeholders per kind
        if type(table.get("symgraph")).__name__ == "LazyMagic":
            del table["symgraph"]
    # IPython 9 remembers which lazy specs it loaded; forget ours so that a new lazy
    # registration (the startup file run again) loads the extension again
    loaded_lazy = getattr(manager, "_loaded_lazy", None)
    if isinstance(loaded_lazy, set):
        loaded_lazy.discard("nbgrad_magics")
    dispatcher = ipython.strdispatchers.get("complete_command")
    if dispatcher is not None:
        dispatcher.strs.pop("%%symgraph", None)
    formatters.unregister(ipython, saved)


def __getattr__(name):
    if name == "interact":
        from nbgrad_magics.widgets import interact

        return interact
    raise AttributeError(f"module 'nbgrad_magics' has no attribute {name!r}")
