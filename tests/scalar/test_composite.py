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


@pytest.mark.parametrize("seed", range(6))
def test_a_composite_from_its_steps_is_the_one_from_its_inner_graph(seed):
    # ``from_steps`` (what fusion makes) gives the op, name and key that the inner graph of
    # those steps gives, and that graph when read: nodes in the order of the steps, one
    # inner constant per constant, no trace
    rng = np.random.default_rng(seed)
    x, y = T.dscalar("x"), T.dscalar("y")
    terms = _random_terms(rng, [x, y], int(rng.integers(2, 60)), [2.0, -0.0, 0.0, 1.5])
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    comp = Composite([x, y], [out])
    constants, steps, ref = composite._steps_of(comp.inputs, comp.outputs[0], comp.nodes)
    assert ref == -len(steps)
    made = Composite.from_steps(["float64", "float64"], [(c.data, c.dtype) for c in constants], steps)
    assert made == comp and hash(made) == hash(comp)
    assert made.name == comp.name and made.structure == comp.structure
    assert [d for _, d in made.constant_values] == [c.dtype for c in comp.constants]
    assert [v.tobytes() for v, _ in made.constant_values] == [c.data.tobytes() for c in comp.constants]
    assert [n.op for n in made.nodes] == [n.op for n in comp.nodes]
    assert all(n.tag.trace is None for n in made.nodes)
    assert Composite(made.inputs, made.outputs) == comp
    assert [c.data.tobytes() for c in made.constants] == [c.data.tobytes() for c in comp.constants]
    args = rng.normal(size=(2, 5))
    np.testing.assert_array_equal(made.impl(np)(*args), comp.impl(np)(*args))


def test_from_steps_makes_no_inner_graph():
    from nbgrad.scalar.basic import Exp, Mul

    comp = Composite.from_steps(["float64"], [(np.float64(2.0), "float64")],
                                [(Exp(), "float64", (0,)), (Mul(), "float64", (-1, 1))])
    assert comp._graph is None and comp.output_dtype("float64") == "float64"
    np.testing.assert_allclose(comp.impl(np)(np.zeros(3)), [2.0, 2.0, 2.0])
    assert comp._graph is None  # the kernel reads the steps
    assert comp.name == "Composite{(exp(i0) * 2)}" and len(comp.nodes) == 2


def test_a_formula_too_long_by_its_steps_alone_is_found_without_reading_operands():
    # 600 sums: their own characters, "( + )" each, are over MAX_NAME_LENGTH, so the name
    # is the size, found without adding up the text of the operands step by step
    from nbgrad.scalar.basic import Add

    read = []

    class Operands(tuple):
        def __iter__(self):
            read.append(self)
            return super().__iter__()

    add = Add()
    steps = [(add, "float64", Operands((0, 0)))]
    steps += [(add, "float64", Operands((-k, 0))) for k in range(1, 600)]
    assert composite._surely_too_long(1, steps)
    assert read == []
    assert not composite._surely_too_long(1, steps[:5]) and len(read) == 5
    comp = Composite.from_steps(["float64"], [], steps)
    assert comp.name == "Composite{600 ops}"


def test_readers_of_a_new_kernel_get_one_inner_graph(monkeypatch):
    # a second reader (another thread) makes and keeps the inner graph while the first is
    # still making its own: the first then takes the kept one, so that every reader's
    # ``inputs`` and ``outputs`` come from the same graph
    from nbgrad.scalar.basic import Exp, Mul

    comp = Composite.from_steps(["float64"], [(np.float64(2.0), "float64")],
                                [(Exp(), "float64", (0,)), (Mul(), "float64", (-1, 1))])
    made = composite._graph_of
    other = []

    def made_while_another_reads(*args):
        if not other:
            other.append(None)
            other[0] = comp.inputs  # the other reader comes first and finishes first
        return made(*args)

    monkeypatch.setattr(composite, "_graph_of", made_while_another_reads)
    first = comp.inputs
    assert first is other[0]
    assert comp.outputs[0].owner.inputs[0].owner.inputs[0] is first[0]
