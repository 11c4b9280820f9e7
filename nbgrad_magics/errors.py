"""Errors of a ``%%symgraph`` cell, shown to the user as a short message.

IPython calls ``_render_traceback_`` instead of printing the full traceback, so
a failing cell shows what went wrong and the user's line, not the internals of
the graph builder; notebook tools still see a real error and the kernel keeps
working.
"""

__all__ = ["OptionError", "SymgraphError"]


class OptionError(ValueError):
    """An option of ``%%symgraph`` (or of ``interact``) is malformed or names nothing."""


class SymgraphError(Exception):
    """A ``%%symgraph`` cell failed; nothing was bound and no shared variable changed.

    Attributes
    ----------
    original : BaseException or None
        The exception raised by the cell or by compilation.
    lineno : int or None
        The line of the cell (1-based) where it was raised, when known.
    line : str or None
        The text of that line.

    Examples
    --------
    >>> err = SymgraphError("while running the cell", original=TypeError("bad type"),
    ...                     lineno=2, line="y = x + m")
    >>> print("\\n".join(err._render_traceback_()))
    SymgraphError: TypeError while running the cell: bad type
      cell line 2: y = x + m
    """

    def __init__(self, stage, original=None, lineno=None, line=None):
        self.stage = stage
        self.original = original
        self.lineno = lineno
        self.line = line
        super().__init__(self._message())

    def _message(self):
        if self.original is None:
            return self.stage
        return f"{type(self.original).__name__} {self.stage}: {self.original}"

    def _render_traceback_(self):
        lines = [f"{type(self).__name__}: {self._message()}"]
        if self.lineno is not None:
            lines.append(f"  cell line {self.lineno}: {(self.line or '').strip()}")
        return lines
