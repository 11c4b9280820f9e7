"""Compile work grows linearly with graph size.

Counted, not timed: rewrite attempts, nodes built and whole-graph topological sorts while
compiling a graph of n and of 2n links. Linear work doubles with n; a pass that rescans
the graph after each change, or a rewrite that reads a whole chain from each of its links,
quadruples it.
"""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.graph import basic
from nbgrad.graph.fg import FunctionGraph
from nbgrad.rewriting import cache
from nbgrad.rewriting.db import db


def _chain(x, n):
    y = x
    for _ in range(n):
        y = T.tanh(y)
    return y


def _tree(x, n):
    terms = [T.sin(x * (1.0 + k / n)) for k in range(n)]
    while len(terms) > 1:
        pairs = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)]
        terms = pairs + (terms[-1:] if len(terms) % 2 else [])
    return terms[0]


def _long_sum(x, n):
    y = T.sin(x)
    for k in range(1, n):
        y = y + T.sin(x * (1.0 + k / n))
    return y


def _chain_grad(x, n):
    return T.grad(T.sum(_chain(x, n)), x)


FAMILIES = {"chain": _chain, "tree": _tree, "sum": _long_sum, "grad": _chain_grad}


def _compile_work(monkeypatch, family, n):
    """(rewrite attempts, nodes built, whole-graph sorts, nodes sorted) compiling size n."""
    x = T.dvector("x")
    out = FAMILIES[family](x, n)
    counts = {"attempts": 0, "nodes": 0, "sorts": 0, "sorted": 0}

    def counting_rewrite(fn):
        def run(*args):
            counts["attempts"] += 1
            return fn(*args)
        return run

    for r in db.by_name.values():
        monkeypatch.setattr(r, "fn", counting_rewrite(r.fn))
    apply_init = basic.Apply.__init__

    def counting_init(self, *args):
        counts["nodes"] += 1
        apply_init(self, *args)

    toposort = FunctionGraph.toposort

    def counting_toposort(self):
        order = toposort(self)
        counts["sorts"] += 1
        counts["sorted"] += len(order)
        return order

    monkeypatch.setattr(basic.Apply, "__init__", counting_init)
    monkeypatch.setattr(FunctionGraph, "toposort", counting_toposort)
    monkeypatch.setattr(cache, "enabled", False)
    try:
        f = nbgrad.function([x], out)
    finally:
        monkeypatch.undo()
    assert np.all(np.isfinite(f(np.array([0.1, -0.2]))))
    return counts


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_compile_work_doubles_when_the_graph_doubles(monkeypatch, family):
    n = 400
    small = _compile_work(monkeypatch, family, n)
    large = _compile_work(monkeypatch, family, 2 * n)
    for what in ("attempts", "nodes", "sorted"):
        assert large[what] <= 2.2 * small[what], (family, what, small, large)
    # the phases sort the whole graph a fixed number of times, whatever its size
    assert large["sorts"] == small["sorts"], (family, small, large)
