"""Jacobian rows split into runs where the cotangent is read through slices (``nbgrad.row_runs``)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import nbgrad
import nbgrad.tensor as T
from nbgrad.gradient import Lop, grad
from nbgrad.graph.traversal import io_toposort
from nbgrad.row_runs import clone_with_zeros, row_runs

D, H, N = 3, 4, 5
P = D * H + 2 * H + 1


def _mlp_loss(th, x, y):
    w1 = th[: D * H].reshape((D, H))
    b1 = th[D * H : D * H + H]
    w2 = th[D * H + H : D * H + 2 * H]
    out = T.dot(T.tanh(T.dot(x, w1) + b1), w2) + th[P - 1]
    return T.mean((out - y) ** 2)


def _inputs(static):
    if static:
        return (
            T.TensorType("float64", (P,))("theta"),
            T.TensorType("float64", (N, D))("X"),
            T.TensorType("float64", (N,))("y"),
        )
    return T.dvector("theta"), T.dmatrix("X"), T.dvector("y")


def _values(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(P) * 0.5, rng.standard_normal((N, D)), rng.standard_normal(N)


def _finite_difference_hessian(g, theta, eps=1e-6):
    cols = []
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = eps
        cols.append((g(theta + e) - g(theta - e)) / (2 * eps))
    return np.array(cols)


def _vjp_of_gradient(static):
    th, x, y = _inputs(static)
    g = grad(_mlp_loss(th, x, y), th)
    cot = T.TensorType("float64", g.type.shape)("cot")
    return th, g, cot, Lop(g, [th], cot)


@pytest.mark.parametrize("static", [True, False])
def test_the_gradient_of_a_flat_parameter_vector_splits_into_its_pieces(static):
    _, _, cot, vjps = _vjp_of_gradient(static)
    runs, reads = row_runs(vjps, cot, P if static else None)
    expected = [(0, D * H), (D * H, D * H + H), (D * H + H, P - 1), (P - 1, P)]
    assert sorted(reads.values()) == expected
    assert runs == (expected if static else expected + [(P, None)])


def test_a_negative_index_needs_a_static_length():
    cot = T.dvector("cot")
    out = [cot[:2] * 2.0, cot[-1] * 3.0]
    assert row_runs(out, cot, None) is None
    cot = T.TensorType("float64", (4,))("cot")
    runs, _ = row_runs([cot[:2] * 2.0, cot[-1] * 3.0], cot, 4)
    assert runs == [(0, 2), (2, 3), (3, 4)]


def test_unknown_length_with_nonnegative_bounds_adds_an_open_last_run():
    x = T.dvector("x")
    cot = T.dvector("cot")
    out = cot[:2] * T.exp(x[:2]) + cot[2:4]
    runs, reads = row_runs([out], cot, None)
    assert runs == [(0, 2), (2, 4), (4, None)]
    assert sorted(reads.values()) == [(0, 2), (2, 4)]


@pytest.mark.parametrize(
    "build",
    [
        lambda c: c * 2.0,  # read whole
        lambda c: c[::2] + c[1::2],  # steps
        lambda c: c[:3] * c.sum(),  # not only through slices
        lambda c: c[:] * 3.0,  # one run
    ],
)
def test_row_runs_leave_alone_other_uses(build):
    cot = T.TensorType("float64", (6,))("cot")
    assert row_runs([build(cot)], cot, 6) is None


def test_row_runs_leave_alone_a_symbolic_index():
    cot = T.dvector("cot")
    i = T.lscalar("i")
    assert row_runs([cot[i:] * 2.0], cot, None) is None


def test_clone_with_zeros_drops_the_terms_of_zero_slices():
    cot = T.TensorType("float64", (5,))("cot")
    a = T.TensorType("float64", (2,))("a")
    first, rest = cot[:2], cot[2:]
    out = first * T.exp(a) + T.dot(T.ones((2, 3)), rest) * 3.0
    (new,) = clone_with_zeros([out], cot, [rest], cot)
    reads = {n.op.__class__.__name__ for n in io_toposort([cot], [new])}
    assert "Dot" not in reads
    cv, av = np.arange(5.0), np.array([0.3, -0.2])
    np.testing.assert_allclose(new.eval({cot: cv, a: av}), cv[:2] * np.exp(av))


def test_clone_with_zeros_writes_an_unbatched_zero_where_an_output_is_zero():
    cot = T.dvector("cot")
    x = T.dvector("x")
    out = cot[1:3] * T.exp(x[:2])
    (new,) = clone_with_zeros([out], cot, [out.owner.inputs[0]], x)  # x: the length of cot
    assert cot not in [v for n in io_toposort([cot], [new]) for v in n.inputs]
    np.testing.assert_array_equal(new.eval({x: np.ones(3)}), np.zeros(2))


def test_clone_with_zeros_keeps_sizes_read_off_a_zero():
    cot = T.TensorType("float64", (4,))("cot")
    piece = cot[:2]
    out = T.alloc(1.0, piece.shape[0]) * cot[2:]
    (new,) = clone_with_zeros([out], cot, [piece], cot)
    np.testing.assert_array_equal(new.eval({cot: np.arange(4.0)}), [2.0, 3.0])


@pytest.mark.parametrize("static", [True, False])
def test_the_hessian_of_a_flat_parameter_vector_matches_finite_differences(static):
    th, x, y = _inputs(static)
    loss = _mlp_loss(th, x, y)
    f = nbgrad.function([th, x, y], T.hessian(loss, th))
    g = nbgrad.function([th, x, y], grad(loss, th))
    theta, xv, yv = _values()
    hess = f(theta, xv, yv)
    np.testing.assert_allclose(hess, hess.T, rtol=1e-12, atol=1e-12)
    ref = _finite_difference_hessian(lambda t: g(t, xv, yv), theta)
    np.testing.assert_allclose(hess, ref, rtol=1e-6, atol=1e-7)


def test_the_static_hessian_has_no_product_over_every_row():
    """The W1 rows do not carry the other pieces' tangents: no batch of all P rows before the join."""
    th, x, y = _inputs(True)
    f = nbgrad.function([th, x, y], T.hessian(_mlp_loss(th, x, y), th))
    big = [v for v in f.maker.fgraph.variables if v.ndim == 3 and v.type.shape[0] == P]
    assert not big
    assert sum(type(n.op).__name__ == "Join" for n in f.maker.fgraph.toposort()) == 1


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(1, 8), min_size=1, max_size=4, unique=True), seed=st.integers(0, 1000))
def test_hessians_of_pieces_match_forward_mode(cuts, seed):
    """Any partition of a vector into pieces used nonlinearly: reverse (split) equals forward mode."""
    n = 9
    bounds = [0, *sorted(cuts), n]
    x = T.TensorType("float64", (n,))("x")
    pieces = [x[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    cost = sum(T.tanh(p * (k + 1.0)).sum() * T.exp(p).sum() for k, p in enumerate(pieces))
    cost = cost + (pieces[0].sum() * pieces[-1].sum())
    reverse = nbgrad.function([x], T.hessian(cost, x))
    forward = nbgrad.function([x], T.jacobian(grad(cost, x), x, mode="forward"))
    xv = np.random.default_rng(seed).standard_normal(n) * 0.5
    np.testing.assert_allclose(reverse(xv), forward(xv), rtol=1e-10, atol=1e-12)


def _op_names(f):
    return [type(n.op).__name__ for n in f.maker.fgraph.toposort()]


def test_the_dynamic_hessian_gets_the_one_hot_batches_and_the_static_values():
    """``T.dvector`` parameters: the slices' constant bounds give the runs static sizes."""
    th, x, y = _inputs(False)
    f = nbgrad.function([th, x, y], T.hessian(_mlp_loss(th, x, y), th))
    names = _op_names(f)
    assert "OneHot" in names and "SliceLength" in names and "Eye" not in names
    sth, sx, sy = _inputs(True)
    static = nbgrad.function([sth, sx, sy], T.hessian(_mlp_loss(sth, sx, sy), sth))
    theta, xv, yv = _values(4)
    np.testing.assert_allclose(f(theta, xv, yv), static(theta, xv, yv), rtol=1e-12, atol=1e-14)


def test_a_longer_dynamic_vector_has_zero_rows_after_the_slices():
    th, x, y = _inputs(False)
    loss = _mlp_loss(th, x, y)
    f = nbgrad.function([th, x, y], T.hessian(loss, th))
    g = nbgrad.function([th, x, y], grad(loss, th))
    theta, xv, yv = _values(5)
    theta = np.concatenate([theta, [0.3, -0.2]])
    hess = f(theta, xv, yv)
    assert hess.shape == (P + 2, P + 2) and not hess[P:].any() and not hess[:, P:].any()
    np.testing.assert_allclose(
        hess, _finite_difference_hessian(lambda t: g(t, xv, yv), theta), rtol=1e-6, atol=1e-7
    )


def test_a_dynamic_vector_shorter_than_a_slice_raises_naming_the_sizes():
    x = T.dvector("x")
    cost = (x[:3] ** 2).sum() * T.exp(x[3:5]).sum()
    f = nbgrad.function([x], T.hessian(cost, x))
    forward = nbgrad.function([x], T.jacobian(grad(cost, x), x, mode="forward"))
    xv = np.linspace(0.1, 0.9, 5)
    np.testing.assert_allclose(f(xv), forward(xv), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match=r"x\[3:5\] has 1 entries, not 2"):
        f(np.ones(4))


def test_a_dynamic_expression_shorter_than_its_slices_raises_naming_the_sizes():
    """The rows after the slices are counted from the length, checked to reach the slices' end."""
    x, z = T.dvector("x"), T.dvector("z")
    e = T.set_subtensor(T.zeros_like(z)[:3], T.sum(x**2))
    e.name = "e"
    f = nbgrad.function([x, z], T.jacobian(e, x))
    assert "LengthAtLeast" in _op_names(f)
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(f(xv, np.zeros(4)), [[2.0, 4.0]] * 3 + [[0.0, 0.0]])
    with pytest.raises(
        ValueError,
        match="'e' has length 2, but its derivative reads its entries through slices that end at 3",
    ):
        f(xv, np.zeros(2))
