"""Shared helpers of the rewrite tests: rewrite a graph, compare graphs and values."""

import numpy as np

import nbgrad
from nbgrad.graph.fg import FunctionGraph
from nbgrad.rewriting import Mode, rewrite_graph
from nbgrad.rewriting.cache import structure_key

READABLE = Mode(excluding=["fusion", "inplace"])
NORMALIZE = Mode("NONE", including=["constant_folding", "commutative_order"])


def rewritten(inputs, out, mode=READABLE):
    fg = FunctionGraph(list(inputs), [out])
    applied = rewrite_graph(fg, mode)
    return fg, applied


def same_graph(fg, inputs, expected):
    """The rewritten graph equals ``expected`` (constants folded the same way)."""
    exp_fg = FunctionGraph(list(inputs), [expected])
    rewrite_graph(exp_fg, NORMALIZE)
    return structure_key(fg) == structure_key(exp_fg)


def values_agree(inputs, out, values, mode=READABLE):
    on = nbgrad.function(list(inputs), out, mode=mode)(*values)
    off = nbgrad.function(list(inputs), out, mode=Mode("NONE"))(*values)
    return same_values(on, off)


def same_values(a, b, rtol=1e-7):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    if not (np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(np.isposinf(a), np.isposinf(b))
            and np.array_equal(np.isneginf(a), np.isneginf(b))):
        return False
    fin = np.isfinite(a)
    return np.allclose(a[fin], b[fin], rtol=rtol, atol=1e-12)
