"""Compiling graphs: ``function``, ``shared``, ``In``/``Out`` and the linker."""

from nbgrad.compile.function import Function, FunctionMaker, function
from nbgrad.compile.io import In, Out, Param
from nbgrad.compile.modes import DebugMode, MonitorMode, NanGuardMode
from nbgrad.compile.sharedvalue import SharedVariable, TensorSharedVariable, shared

__all__ = ["DebugMode", "Function", "FunctionMaker", "In", "MonitorMode", "NanGuardMode", "Out", "Param", "SharedVariable",
           "TensorSharedVariable", "function", "shared"]
