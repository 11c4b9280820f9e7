"""Composite: its name (the fused formula, or its size when too long) and its key."""

import numpy as np
import pytest

import nbgrad.tensor as T
from nbgrad.scalar import composite
from nbgrad.scalar.composite import Composite


def _random_terms(rng, inputs, n_terms, constants):
    """``n_terms`` random terms over ``inputs``, with ``constants`` and a subformula they share."""
    shared = T.sin(inputs[0])
    terms = []
    for _ in range(n_terms):
        a = inputs[rng.integers(len(inputs))]
        kind = rng.integers(4)
        if kind == 0:
            terms.append(T.sin(a) * float(rng.choice(constants)))
        elif kind == 1:
            terms.append(-a)
        elif kind == 2:
            terms.append(T.maximum(a, shared))
        else:
            terms.append(a * float(constants[0]))
    return terms


def _full_text(inputs, out, monkeypatch):
    with monkeypatch.context() as mp:
        mp.setattr(composite, "MAX_NAME_LENGTH", 10**9)
        return Composite(inputs, [out]).name[len("Composite{"):-1]


@pytest.mark.parametrize("constants", [[2.0], [1.2345678e-4, -3.5]])
@pytest.mark.parametrize("seed", range(4))
def test_a_formula_is_named_in_full_exactly_when_its_text_fits(seed, constants, monkeypatch):
    # the sums of the first k terms, for k on both sides of the longest one that fits, with
    # constants of short and long text (``2``, ``0.000123457``)
    rng = np.random.default_rng(seed)
    x, y = T.dscalar("x"), T.dscalar("y")
    sums = [None]
    for t in _random_terms(rng, [x, y], 250, constants):
        sums.append(t if sums[-1] is None else sums[-1] + t)
    fits = max(k for k in range(1, len(sums))
               if len(_full_text([x, y], sums[k], monkeypatch)) <= composite.MAX_NAME_LENGTH)
    assert 50 < fits < 240
    for k in (fits - 1, fits, fits + 1):
        comp = Composite([x, y], [sums[k]])
        full = _full_text([x, y], sums[k], monkeypatch)
        expected = full if len(full) <= composite.MAX_NAME_LENGTH else f"{len(comp.nodes)} ops"
        assert comp.name == f"Composite{{{expected}}}", k


def test_composites_are_equal_when_their_graphs_and_constant_values_are():
    x, y = T.dscalar("x"), T.dscalar("y")
    assert Composite([x], [x * 2.0 + 1.0]) == Composite([y], [y * 2.0 + 1.0])
    assert hash(Composite([x], [x * 2.0 + 1.0])) == hash(Composite([y], [y * 2.0 + 1.0]))
    assert Composite([x], [x * 2.0 + 1.0]) != Composite([x], [x * 3.0 + 1.0])
    assert Composite([x], [x * 0.0]) != Composite([x], [x * -0.0])  # the bits count
    assert Composite([x], [x * 2.0 + 2.0]) != Composite([x], [x * 2.0 + 3.0])
    assert Composite([x], [x * 2.0 + 2.0]).structure == Composite([x], [x * 5.0 + 5.0]).structure
    assert Composite([x], [x * 2.0 + 2.0]).structure != Composite([x], [x * 2.0 + 3.0]).structure
    assert Composite([x, y], [x + y]) != Composite([x, y], [y + x])
    xf = T.scalar("xf", dtype="float32")
    assert Composite([x], [T.sin(x)]) != Composite([xf], [T.sin(xf)])
