"""nbgrad: symbolic automatic differentiation for notebooks.

Build graphs with ``nbgrad.tensor``, differentiate them with ``grad``,
``jacobian``, ``hessian``, ``Rop`` and ``Lop``, and compile them with
``function`` into optimized code on NumPy (CPU) or CuPy (GPU).

>>> import nbgrad
>>> import nbgrad.tensor as T
>>> x = T.dscalar("x")
>>> f = nbgrad.function([x], T.grad(x ** 3, x))
>>> float(f(2.0))
12.0
"""

from nbgrad.config import config
from nbgrad import tensor  # noqa: F401  (makes nbgrad.tensor importable as an attribute)
from nbgrad.compile import In, Out, Param, function, shared
from nbgrad.gradient import Lop, Rop, grad
from nbgrad.printing import debugprint, pp
from nbgrad.serialize import load, load_into, save

__version__ = "0.1.0"

__all__ = [
    "In", "Lop", "Out", "Param", "Rop", "config", "debugprint", "function", "grad",
    "load", "load_into", "pp", "save", "scan", "shared", "load_ipython_extension", "unload_ipython_extension",
]


def __getattr__(name):
    if name == "scan":
        from nbgrad.scan import scan

        return scan
    if name in ("gradient", "printing", "random", "eager", "nn", "compile", "graph", "sandbox"):
        import importlib

        return importlib.import_module(f"nbgrad.{name}")
    raise AttributeError(f"module 'nbgrad' has no attribute {name!r}")


def load_ipython_extension(ipython):
    """Called by ``%load_ext nbgrad``: registers the notebook magics."""
    from nbgrad_magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):
    from nbgrad_magics import unload_ipython_extension as _unload

    _unload(ipython)
