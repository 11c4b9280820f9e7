"""Theano's import path for ``DebugMode`` and its errors (``nbgrad.compile.debugmode``)."""

from nbgrad.compile.modes import (BadDestroyMap, BadOptimization, BadThunkOutput, DebugMode, DebugModeError,
                                  InvalidValueError)

__all__ = ["BadDestroyMap", "BadOptimization", "BadThunkOutput", "DebugMode", "DebugModeError",
           "InvalidValueError"]
