"""Every printing test runs twice: as printed normally, and with every operand text
longer than a few characters held apart and assembled at the end (``Printer.fold_above``).
The text must not change: the formatting rules see the same operands either way."""

import pytest

from nbgrad.printing.printer import Printer


@pytest.fixture(autouse=True, params=["default", "fold-all"])
def fold_above(request, monkeypatch):
    if request.param == "fold-all":
        monkeypatch.setattr(Printer, "fold_above", 0)
    return Printer.fold_above


@pytest.fixture
def shallow_stack():
    """A context in which Python's stack may grow only 150 frames deeper than here:
    a printer that recursed once per level of the graph would fail."""
    import contextlib
    import inspect
    import sys

    @contextlib.contextmanager
    def limit():
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(len(inspect.stack(0)) + 150)
        try:
            yield
        finally:
            sys.setrecursionlimit(old)

    return limit
