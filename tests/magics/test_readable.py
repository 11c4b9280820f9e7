"""The graph a notebook reads (nbgrad_magics.readable) and the text layout of long formulas."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.printing import pp

from nbgrad_magics.formula import text_layout
from nbgrad_magics.readable import readable_graph, repeated

X, t = T.dmatrix("X"), T.dmatrix("t")
x, y = T.dvector("x"), T.dvector("y")
b, c = T.dscalar("b"), T.dscalar("c")
n = T.cast(x.shape[0], "float64")

# (formula, what it reads after the simplifications); each holds for every input
CASES = [
    (-(-x - b), "x + b"),
    (T.exp(-x - b), "exp(-(x + b))"),
    (x - (-y), "x + y"),
    (-x + y, "y - x"),
    (T.sum(-x), "-sum(x)"),
    (x * -y, "-(x * y)"),
    (x * (1 / n), "x / float64(x.shape[0])"),
    (0.01 * (2 * x), "0.02 * x"),
    (t * T.alloc(-(1 / T.cast(t.shape[0], "float64")), t.shape[0]).dimshuffle(0, "x"),
     "-(t / float64(t.shape[0]))"),
]


def _compiled(outputs):
    """The optimized graph of ``outputs`` (fused, in place), as the notebook gets it."""
    f = nbgrad.function([X, t, x, y, b, c], outputs, on_unused_input="ignore")
    return f, f.maker.fgraph.outputs[: f.maker.n_outputs]


@pytest.mark.parametrize("expr, reads", CASES, ids=[r for _, r in CASES])
def test_each_simplification_reads_simpler_and_keeps_the_value(expr, reads):
    f, compiled = _compiled([expr])
    (readable,) = readable_graph(compiled)
    assert pp(readable) == reads
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=4),
            rng.normal(), rng.normal()]
    shown = nbgrad.function([X, t, x, y, b, c], readable, on_unused_input="ignore")
    np.testing.assert_allclose(shown(*args), f(*args)[0], rtol=1e-12)


def test_without_simplify_the_graph_is_only_unfused_and_merged():
    f, compiled = _compiled([-(-x - b)])
    (readable,) = readable_graph(compiled, simplify=False)
    assert pp(readable) == "-(-x - b)"


def test_fused_copies_of_one_subexpression_become_one_variable():
    p = T.sigmoid(T.dot(X, y) + b)
    loss = T.log(p) * 2 + T.exp(T.dot(X, y) + b)  # log(sigmoid) is fused and stabilized apart from p
    _, compiled = _compiled([p, loss])
    shown_p, shown_loss = readable_graph(compiled)
    log_p = shown_loss.owner.inputs[0].owner.inputs  # (log(p) * 2) + exp(...): the operands of the product
    assert any(v.owner is not None and v.owner.inputs[0] is shown_p for v in log_p)


def test_a_shown_result_keeps_its_form_inside_the_others():
    # sum(-v) would read -sum(v); with v a result of its own, sum(v) stays (v prints as its name)
    v = -(x * y)
    _, compiled = _compiled([v, T.sum(v)])
    shown_v, shown_sum = readable_graph(compiled)
    assert shown_sum.owner.inputs[0] is shown_v


def test_repeated_finds_the_outermost_repeats_and_stops_at_names():
    xy = x * y
    e = T.exp(xy)
    f = e * e + T.log(e)
    assert repeated([f], set(), lambda v: True) == [e, xy]  # e is written 3 times, and xy in each
    assert repeated([f], {e}, lambda v: True) == []  # a name is not written out
    assert repeated([f], set(), lambda v: v is not e) == [xy]  # what is not worth a name is not named
    # a name's definition is written once: xy, in e's definition only, is not repeated
    assert repeated([f, e], {e}, lambda v: True) == []


def test_text_layout_cuts_arguments_and_groups_with_aligned_continuations():
    body = "inc_subtensor(zeros_like(log_probabilities)[rows, y], full_like(log_probabilities[rows, y], c))"
    assert text_layout("g", body, width=60) == (
        "g = inc_subtensor(zeros_like(log_probabilities)[rows, y],\n"
        "                  full_like(log_probabilities[rows, y], c))")
    assert text_layout("g", "a + b", where=[("u", "exp(x)"), ("v", "log(u)")]) == (
        "g = a + b\n"
        "  where u = exp(x)\n"
        "        v = log(u)")
