"""Theano's ``scan_module`` import path: ``nbgrad.scan_module.scan`` and ``until``.

>>> from nbgrad.scan_module import until
>>> import nbgrad
>>> until is nbgrad.scan.until
True
"""

from nbgrad.scan import scan, until

__all__ = ["scan", "until"]
