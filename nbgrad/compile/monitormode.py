"""Theano's import path for ``MonitorMode`` (``nbgrad.compile.monitormode``), with ``detect_nan``,
a ready-made ``post_func`` that reports the first node whose output holds a NaN."""

import numpy as np

from nbgrad.compile.modes import MonitorMode
from nbgrad.printing.debug import debugprint

__all__ = ["MonitorMode", "detect_nan"]


def detect_nan(i, node, fn):
    """``post_func`` for ``MonitorMode``: print the node, its inputs and outputs if an output has a NaN.

    >>> import nbgrad, nbgrad.tensor as T
    >>> from nbgrad.compile.monitormode import MonitorMode, detect_nan
    >>> x = T.dscalar("x")
    >>> f = nbgrad.function([x], 2 * x, mode=MonitorMode(post_func=detect_nan))
    >>> f(float("nan"))  # doctest: +ELLIPSIS
    *** NaN detected ***
    ...
    array(nan)
    """
    outputs = [cell[0] for cell in fn.outputs]
    if not any(_has_nan(v) for v in outputs):
        return
    print("*** NaN detected ***")
    debugprint(node)
    print(f"Inputs : {[cell[0] for cell in fn.inputs]}")
    print(f"Outputs: {outputs}")


def _has_nan(value):
    value = np.asarray(value) if not hasattr(value, "dtype") else value
    return value.dtype.kind in "fc" and bool(np.isnan(value).any())
