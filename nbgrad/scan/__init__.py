"""Loops as graph nodes: ``nbgrad.scan(fn, sequences, outputs_info, non_sequences)``.

The module itself is callable, so ``nbgrad.scan(...)`` and
``nbgrad.scan.until(...)`` both work, as in Theano course code.
"""

import sys
import types

from nbgrad.scan.basic import scan, until
from nbgrad.scan.op import Scan, ScanInfo

__all__ = ["scan", "until", "Scan", "ScanInfo"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return scan(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

from nbgrad.scan import rewriting as _rewriting  # noqa: E402,F401  (registers the Scan rewrites)
