"""Graph vectorization and the vectorized Jacobian (checked against NumPy loops)."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.graph.op import Op
from nbgrad.graph.basic import Apply
from nbgrad.graph.traversal import ancestors
from nbgrad.vectorize import Blockwise, batched_rop, vectorize_graph

rng = np.random.default_rng(0)


def _loop(fn_core, xs):
    return np.stack([fn_core(x) for x in xs])


def _check(build, core_value, batch_value, others=()):
    """vectorize_graph(build(x), {x: xs}) equals build(x) evaluated per row of xs."""
    x = T.TensorType("float64", (None,) * (batch_value.ndim - 1))("x")
    xs = T.TensorType("float64", (None,) * batch_value.ndim)("xs")
    out = build(x)
    vout = vectorize_graph(out, {x: xs})
    f_core = nbgrad.function([x], out)
    f_vec = nbgrad.function([xs], vout)
    expected = np.stack([f_core(row) for row in batch_value])
    np.testing.assert_allclose(f_vec(batch_value), expected, rtol=1e-12, atol=1e-12)
    return vout


@pytest.mark.parametrize(
    "build",
    [
        lambda x: T.exp(x) * 2.0 + x,
        lambda x: x.dimshuffle(1, "x", 0),
        lambda x: x.sum(axis=0),
        lambda x: x.max(axis=1),
        lambda x: T.prod(x),
        lambda x: T.argmax(x, axis=1),
        lambda x: T.argmax(x),
        lambda x: x.reshape((6,)),
        lambda x: x.reshape((x.shape[1], x.shape[0])),
        lambda x: T.alloc(x[0], 4, 3),
        lambda x: x[1:, ::-1],
        lambda x: x[:, 1],
        lambda x: x[[0, 1, 1]],
        lambda x: T.set_subtensor(x[1:, 0], 5.0),
        lambda x: T.inc_subtensor(x[[0, 0, 1]], x[1]),
        lambda x: T.concatenate([x, T.ones((2, 3))], axis=1),
        lambda x: T.stack([x[0], x[1]]),
        lambda x: T.softmax(x),
        lambda x: T.log_softmax(x, axis=0),
        lambda x: T.dot(x, T.constant(np.arange(3.0))),
        lambda x: T.dot(T.constant(np.arange(6.0).reshape(3, 2)), x),
        lambda x: T.dot(x, x.T),
        lambda x: T.dot(x[0], x[1]),
        lambda x: T.matmul(T.constant(np.ones((4, 2, 2))), x),
        lambda x: x.shape[0] * x,
        lambda x: T.zero_grad(x) + T.grad_clip(x, -1, 1),
    ],
)
def test_vectorize_matches_loop(build):
    _check(build, None, rng.normal(size=(5, 2, 3)))


def test_vectorize_dot_matrix_vector_is_one_matrix_product():
    """A batch of matrix-vector products becomes one dot, with no loop and no matmul."""
    W = T.dmatrix("W")
    x = T.dvector("x")
    xs = T.dmatrix("xs")
    out = vectorize_graph(T.dot(W, x), {x: xs})
    ops = {type(v.owner.op).__name__ for v in ancestors([out]) if v.owner is not None}
    assert "Blockwise" not in ops and "Matmul" not in ops
    w, xv = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    np.testing.assert_allclose(out.eval({W: w, xs: xv}), xv @ w.T)


def test_unbatched_parts_are_not_rebuilt():
    x, y = T.dvectors("x", "y")
    shared_part = T.exp(y).sum()
    out = vectorize_graph(x * shared_part, {x: T.dmatrix("xs")})
    assert shared_part in ancestors([out])


def test_vectorize_rejects_wrong_rank():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="one more dimension"):
        vectorize_graph(x * 2, {x: T.dvector("xs")})


class _Cube(Op):
    """A test op with no vectorize rule: x ** 3 computed with NumPy."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        return inputs[0] ** 3

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] * 3 * inputs[0] ** 2]

    def R_op(self, inputs, eval_points):
        return [eval_points[0] * 3 * inputs[0] ** 2]


def test_fallback_blockwise_loops_and_differentiates():
    x = T.dvector("x")
    xs = T.dmatrix("xs")
    out = vectorize_graph(_Cube()(x) + x, {x: xs})
    assert any(isinstance(v.owner.op, Blockwise) for v in ancestors([out]) if v.owner)
    xv = rng.normal(size=(4, 3))
    np.testing.assert_allclose(out.eval({xs: xv}), xv ** 3 + xv)
    g = T.grad(out.sum(), xs)
    np.testing.assert_allclose(g.eval({xs: xv}), 3 * xv ** 2 + 1)
    J = T.jacobian(_Cube()(x), x)
    np.testing.assert_allclose(J.eval({x: xv[0]}), np.diag(3 * xv[0] ** 2))


def test_jacobian_no_loop_and_shapes():
    x = T.dmatrix("x")
    y = T.tanh(x).sum(axis=1) * x[:, 0]
    J = T.jacobian(y, x)
    ops = {type(v.owner.op).__name__ for v in ancestors([J]) if v.owner is not None}
    assert "Blockwise" not in ops and "Scan" not in ops
    xv = rng.normal(size=(3, 2))
    eps = 1e-6
    num = np.zeros((3, 3, 2))
    fy = nbgrad.function([x], y)
    for i in range(3):
        for j in range(2):
            d = np.zeros_like(xv)
            d[i, j] = eps
            num[:, i, j] = (fy(xv + d) - fy(xv - d)) / (2 * eps)
    np.testing.assert_allclose(J.eval({x: xv}), num, rtol=1e-6, atol=1e-8)


def test_forward_and_reverse_jacobians_agree_with_numpy():
    W = T.dmatrix("W")
    x = T.dvector("x")
    y = T.tanh(T.dot(W, x))
    w, xv = rng.normal(size=(5, 3)), rng.normal(size=3)
    expected = (1 - np.tanh(w @ xv) ** 2)[:, None] * w
    np.testing.assert_allclose(T.jacobian(y, x).eval({W: w, x: xv}), expected)
    np.testing.assert_allclose(T.jacobian(y, x, mode="forward").eval({W: w, x: xv}), expected)
    np.testing.assert_allclose(batched_rop(y, [x])[0].eval({W: w, x: xv}), expected)


def test_jacobian_matrix_input_and_static_shapes():
    x = T.TensorType("float64", (2, 2))("x")
    y = T.dot(x, x)
    xv = rng.normal(size=(2, 2))
    J = nbgrad.function([x], T.jacobian(y, x))(xv)
    Jf = nbgrad.function([x], T.jacobian(y, x, mode="forward"))(xv)
    # d(XX)_{ij}/dX_{kl} = δ_ik X_lj + X_ik δ_jl
    eye = np.eye(2)
    expected = np.einsum("ik,lj->ijkl", eye, xv) + np.einsum("ik,jl->ijkl", xv, eye)
    np.testing.assert_allclose(J, expected)
    np.testing.assert_allclose(Jf, expected)


def test_jacobian_of_matrix_vector_map_scales_rows_instead_of_a_matrix_product():
    W = T.dmatrix("W")
    x = T.dvector("x")
    J = T.jacobian(T.tanh(T.dot(W, x)), x)
    dots = [v for v in ancestors([J]) if v.owner is not None and type(v.owner.op).__name__ in ("Dot", "Matmul")]
    assert len(dots) == 1  # only the forward W·x
    w, xv = rng.normal(size=(4, 3)), rng.normal(size=3)
    np.testing.assert_allclose(J.eval({W: w, x: xv}), (1 - np.tanh(w @ xv) ** 2)[:, None] * w)
