"""Theano's import path for ``NanGuardMode`` (``nbgrad.compile.nanguardmode``)."""

from nbgrad.compile.modes import NanGuardError, NanGuardMode

__all__ = ["NanGuardError", "NanGuardMode"]
