"""Rewrites are exact on their domain: same values, inf, nan and sign of zero as without them."""

import numpy as np

import nbgrad
import nbgrad.tensor as T
from nbgrad.rewriting import Mode
from tests.rewriting.helpers import rewritten

SPECIAL = np.array([-3.0, -0.5, -0.0, 0.0, 0.5, 2.0, np.inf, -np.inf, np.nan])


def _run(inputs, out, values, mode=None):
    with np.errstate(all="ignore"):
        return nbgrad.function(inputs, out, mode=mode)(*values)


def _same_bits(a, b):
    """Equal values, nan where nan, and zeros of the same sign."""
    a, b = np.asarray(a), np.asarray(b)
    return (a.shape == b.shape and np.array_equal(np.isnan(a), np.isnan(b))
            and np.allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=1e-12, atol=0)
            and np.array_equal(np.signbit(a[a == 0]), np.signbit(b[b == 0])))


def test_fractional_powers_of_a_possibly_negative_base_stay_apart():
    x = T.dvector("x")
    for out, ref in ((x ** 0.5 * x ** 0.5, lambda v: v ** 0.5 * v ** 0.5),
                     (x ** 1.5 * x ** 1.5, lambda v: v ** 1.5 * v ** 1.5)):
        _, applied = rewritten([x], out)
        assert "mul_powers" not in applied
        with np.errstate(all="ignore"):
            expected = ref(SPECIAL)
        assert _same_bits(_run([x], out, [SPECIAL]), expected)


def test_powers_combine_for_integer_exponents_or_a_nonnegative_base():
    x = T.dvector("x")
    out = x ** 2 * x ** 3
    _, applied = rewritten([x], out)
    assert "mul_powers" in applied
    with np.errstate(all="ignore"):
        assert _same_bits(_run([x], out, [SPECIAL]), SPECIAL ** 2 * SPECIAL ** 3)
    e = T.exp(x)
    out = e ** 0.5 * e ** 1.5
    _, applied = rewritten([x], out)
    assert "mul_powers" in applied
    with np.errstate(all="ignore"):
        ref = np.exp(SPECIAL) ** 0.5 * np.exp(SPECIAL) ** 1.5
    assert _same_bits(_run([x], out, [SPECIAL]), ref)


def test_negated_difference_keeps_the_sign_of_zero():
    w = T.dscalar("w")
    out = 1 / -(w - w)
    _, applied = rewritten([w], out)
    assert "neg_sub" not in applied
    assert _run([w], out, [2.0]) == -np.inf
    assert _run([w], out, [2.0]) == _run([w], out, [2.0], Mode("NONE"))


def test_negated_difference_is_rewritten_where_the_sign_of_zero_is_not_seen():
    x, y = T.dvector("x"), T.dvector("y")
    for out in (abs(-(x - y)), T.exp(-(x - y)), (-(x - y)) ** 2, 1.5 + -(x - y)):
        _, applied = rewritten([x, y], out)
        assert "neg_sub" in applied, out
        v = np.array([1.0, 2.0, -0.0, np.inf])
        assert _same_bits(_run([x, y], out, [v, v]), _run([x, y], out, [v, v], Mode("NONE")))


def test_product_with_zero_keeps_the_sign_of_zero():
    i = T.vector("i", dtype="int64")
    t = T.tanh(T.cast(i, "float64"))  # finite, but negative for negative i: t * 0 is -0.0
    _, applied = rewritten([i], t * 0)
    assert "mul_by_zero" not in applied
    iv = np.array([-2, 0, 3])
    assert _same_bits(_run([i], t * 0, [iv]), np.tanh(iv.astype(float)) * 0)
    s = T.sigmoid(T.cast(i, "float64"))  # finite and positive: s * -0.0 is -0.0
    _, applied = rewritten([i], s * -0.0)
    assert "mul_by_zero" in applied
    assert _same_bits(_run([i], s * -0.0, [iv]), np.full(3, -0.0))


def test_maximum_of_zeros_of_opposite_sign_keeps_its_operand_order():
    x = T.dvector("x")
    y = T.dvector("y")
    for op, ref in ((T.maximum, np.maximum), (T.minimum, np.minimum)):
        out = op(y, x)  # y was made after x: the canonical order would swap them
        v, w = np.array([-0.0, 0.0]), np.array([0.0, -0.0])
        assert _same_bits(_run([x, y], out, [v, w]), ref(w, v))


def test_sum_of_a_fill_that_may_be_empty_is_positive_zero():
    s, x = T.dscalar("s"), T.dvector("x")
    out = T.sum(T.alloc(T.tanh(s), x.shape[0]))
    res = _run([s, x], out, [-1.0, np.zeros(0)])
    assert res == 0 and not np.signbit(res)
    np.testing.assert_allclose(_run([s, x], out, [-1.0, np.zeros(3)]), 3 * np.tanh(-1.0))


def test_deep_graphs_rewrite_without_recursion():
    # a chain, a product chain (a gradient) and a sum far deeper than Python's recursion limit
    x = T.dvector("x")
    y = x
    for _ in range(2000):
        y = T.tanh(y)
    g = T.grad(T.sum(y), x)
    terms = x
    for k in range(2000):
        terms = terms + T.sin(x * (k + 2.0))
    f = nbgrad.function([x], [y, g, terms], mode=Mode(excluding=["fusion"]))
    v = np.array([0.3, -0.2])
    yv = v.copy()
    for _ in range(2000):
        yv = np.tanh(yv)
    out = f(v)
    np.testing.assert_allclose(out[0], yv)
    assert np.isfinite(out[1]).all()
    np.testing.assert_allclose(out[2], v + sum(np.sin(v * (k + 2.0)) for k in range(2000)), rtol=1e-9)


def test_product_chain_rewrites_read_each_chain_once(monkeypatch):
    # the gradient of an n-deep tanh chain is one product of n factors: a rewrite that reads
    # the whole product from each of its n links does O(n²) work; from its root, O(n)
    from nbgrad.rewriting import algebraic

    read = []
    original = algebraic.chain_leaves

    def counting(*args):
        leaves = original(*args)
        read.append(len(leaves))
        return leaves

    monkeypatch.setattr(algebraic, "chain_leaves", counting)
    x = T.dvector("x")
    y = x
    n = 300
    for _ in range(n):
        y = T.tanh(y)
    rewritten([x], T.grad(T.sum(y), x))
    assert sum(read) <= 20 * n, sum(read)
