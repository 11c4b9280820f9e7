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

import importlib
import sys

from nbgrad.config import config
from nbgrad import tensor  # noqa: F401  (makes nbgrad.tensor importable as an attribute)
from nbgrad.compile import In, Out, Param, function, shared
from nbgrad.gradient import Lop, Rop, grad
from nbgrad.printing import debugprint, pp
from nbgrad.rewriting import Mode  # noqa: F401  (Theano's theano.Mode(linker=..., optimizer=...))
from nbgrad.serialize import load, load_into, save

__version__ = "0.1.0"

__all__ = [
    "In", "Lop", "Out", "Param", "Rop", "config", "debugprint", "function", "grad",
    "load", "load_into", "pp", "save", "scan", "shared", "load_ipython_extension", "unload_ipython_extension",
]


#: Theano subpackages nbgrad does not have, and what to use instead.
_UNSUPPORTED = {
    "sparse": ("sparse matrices (theano.sparse)",
               "use dense arrays (T.matrix, T.dot); nbgrad has no sparse types"),
    "gpuarray": ("the gpuarray back end (theano.gpuarray)",
                 "nbgrad runs on the GPU through CuPy: set nbgrad.config.device = 'cuda' or pass "
                 "backend='gpu' to nbgrad.function"),
    "sandbox.cuda": ("the old CUDA back end (theano.sandbox.cuda)",
                     "nbgrad runs on the GPU through CuPy: set nbgrad.config.device = 'cuda' or pass "
                     "backend='gpu' to nbgrad.function"),
    "d3viz": ("interactive graph figures (theano.d3viz)",
              "use nbgrad.debugprint(f) or nbgrad.pp(expr) for text, nbgrad.printing.latex(expr) "
              "for a formula, or the %%symgraph cell magic in a notebook"),
    "gof": ("Theano's graph internals and C-op API (theano.gof)",
            "the graph classes are in nbgrad.graph (Variable, Apply, Op, FunctionGraph); a new op "
            "is a Python subclass of nbgrad.graph.op.Op whose perform() uses NumPy, no C code"),
    "misc": ("Theano's pickling helpers (theano.misc.pkl_utils)",
             "save and restore functions and shared values with nbgrad.save(path, obj) and "
             "nbgrad.load(path), which never run code from the file"),
}


def _unsupported(name):
    what, instead = _UNSUPPORTED[name]
    return ImportError(f"nbgrad.{name}: nbgrad does not provide {what}; {instead}")


class _UnsupportedFinder:
    """Makes ``import nbgrad.sparse`` (and the other paths above) fail with what to use instead."""

    @staticmethod
    def find_spec(fullname, path=None, target=None):
        if fullname.startswith("nbgrad.") and fullname[len("nbgrad."):] in _UNSUPPORTED:
            raise _unsupported(fullname[len("nbgrad."):])
        return None


if not any(isinstance(f, _UnsupportedFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _UnsupportedFinder())


def __getattr__(name):
    if name == "scan":
        # lazy: nbgrad.scan loads the scan package (and registers its rewrites) on first use only
        from nbgrad.scan import scan

        return scan
    if name == "dot":
        return tensor.dot
    if name == "ifelse":
        return importlib.import_module("nbgrad.ifelse")
    if name == "scan_module":
        return importlib.import_module("nbgrad.scan_module")
    if name in ("gradient", "printing", "random", "eager", "nn", "compile", "graph", "sandbox", "typed_list"):
        return importlib.import_module(f"nbgrad.{name}")
    if name in _UNSUPPORTED:
        raise _unsupported(name)
    raise AttributeError(f"module 'nbgrad' has no attribute {name!r}")


def load_ipython_extension(ipython):
    """Called by ``%load_ext nbgrad``: registers the notebook magics."""
    # lazy: upward: the notebook layer sits above the engine and needs IPython
    from nbgrad_magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):
    # lazy: upward: the notebook layer sits above the engine and needs IPython
    from nbgrad_magics import unload_ipython_extension as _unload

    _unload(ipython)
