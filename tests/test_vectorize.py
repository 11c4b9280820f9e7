"""Graph vectorization and the vectorized Jacobian (checked against NumPy loops)."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.graph.op import Op
from nbgrad.graph.basic import Apply
from nbgrad.graph.traversal import ancestors
from nbgrad.tensor.conv import Conv2dGradInputs
from nbgrad.tensor.shape import CheckSizes
from nbgrad.tensor.signal.pool import MaxPoolGrad, pool_2d
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


_BATCHED_BY_RULE = [
    # (name, core function, core shapes, positions batched, integer inputs and their bound)
    ("conv2d, images batched", lambda x, w: T.nnet.conv2d(x, w, border_mode="half", subsample=(2, 1)),
     [(2, 3, 5, 4), (4, 3, 3, 2)], [0], {}),
    ("conv2d_grad_inputs, gradients batched",
     lambda w, g: Conv2dGradInputs(subsample=(2, 1))(w, g, [7, 6]),
     [(3, 2, 3, 2), (2, 3, 3, 5)], [1], {}),
    ("pool, gradient batched, input shared",
     lambda x, g: MaxPoolGrad((2, 2), False)(x, pool_2d(x, (2, 2), ignore_border=False), g),
     [(2, 3, 5, 4), (2, 3, 3, 2)], [1], {}),
    ("softmax cross-entropy, logits batched", T.nnet.softmax_cross_entropy, [(3, 4), (3,)], [0], {1: 4}),
    ("softmax cross-entropy, labels batched", T.nnet.softmax_cross_entropy, [(3, 4), (3,)], [1], {1: 4}),
    ("softmax cross-entropy gradient, scalar gradient batched",
     lambda g, z, y: T.nnet.SoftmaxCrossEntropyGrad()(g, z, y), [(), (3, 4), (3,)], [0], {2: 4}),
    ("softmax cross-entropy gradient, logits batched",
     lambda g, z, y: T.nnet.SoftmaxCrossEntropyGrad()(g, z, y), [(3,), (3, 4), (3,)], [1, 2], {2: 4}),
    ("logsumexp", lambda x: T.nnet.logsumexp(x, axis=1), [(3, 4)], [0], {}),
    ("stack of scalars, one batched", lambda a, b: T.stack([a, b, a]), [(), ()], [1], {}),
    ("size check", lambda x, y: CheckSizes((0,))(x, y.shape[0]), [(3, 2), (3,)], [0], {}),
    # NumPy puts the axes of array indices first where they do not sit together
    ("array and integer index apart", lambda x: x[[1, 2], :, 0], [(3, 4, 6)], [0], {}),
    ("array indices apart", lambda x: x[[[1], [2]], :, [0, 3]], [(3, 4, 6)], [0], {}),
    ("array indices together", lambda x: x[:, [1, 0], [2, 2]], [(3, 4, 6)], [0], {}),
    ("increment at array indices together", lambda x, y: T.inc_subtensor(x[[0, 1, 1], [3, 0, 3]], y),
     [(3, 4, 6), (6,)], [0, 1], {}),
    # a gather with batched integer arrays takes the batch as one more array index
    ("gather, index arrays batched", lambda x, i, j: x[j, i], [(3, 4), (2,), (2, 1)], [1, 2], {1: 4, 2: 3}),
    ("gather, values and one index batched", lambda x, i, j: x[j, i], [(3, 4), (2,), (2, 1)], [0, 2],
     {1: 4, 2: 3}),
    ("topk", lambda x: T.topk(x, 2), [(3, 4)], [0], {}),
]


@pytest.mark.parametrize("build, shapes, batched, ints", [c[1:] for c in _BATCHED_BY_RULE],
                         ids=[c[0] for c in _BATCHED_BY_RULE])
def test_ops_batch_by_their_own_rule_without_a_loop(build, shapes, batched, ints):
    xs = [T.tensor("int64" if k in ints else "float64", shape=(None,) * len(s), name=f"x{k}")
          for k, s in enumerate(shapes)]
    bxs = {k: T.tensor(xs[k].dtype, shape=(None,) * (len(shapes[k]) + 1), name=f"b{k}") for k in batched}
    out = vectorize_graph(build(*xs), {xs[k]: bxs[k] for k in batched})
    assert not any(isinstance(v.owner.op, Blockwise) for v in ancestors([out]) if v.owner is not None)

    def sample(k, lead=()):
        if k in ints:
            return rng.integers(0, ints[k], size=lead + shapes[k])
        return rng.normal(size=lead + shapes[k])

    vals = [sample(k, (3,) if k in bxs else ()) for k in range(len(xs))]
    args = [bxs.get(k, x) for k, x in enumerate(xs)]
    got = nbgrad.function(args, out)(*vals)
    f = nbgrad.function(xs, build(*xs), on_unused_input="ignore")
    want = np.stack([f(*[v[b] if k in bxs else v for k, v in enumerate(vals)]) for b in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


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


def test_jacobian_with_static_shapes_scales_rows_without_a_product_by_ones():
    """diag(1)·(1 − y²) is (1 − y²) itself: no vector of ones in the compiled graph."""
    W = T.TensorType("float64", (5, 4))("W")
    x = T.TensorType("float64", (4,))("x")
    f = nbgrad.function([W, x], T.jacobian(T.tanh(T.dot(W, x)), x))
    nodes = f.maker.fgraph.toposort()
    assert not any(isinstance(i, nbgrad.graph.basic.Constant) and np.size(i.data) > 1
                   for n in nodes for i in n.inputs)
    w, xv = rng.normal(size=(5, 4)), rng.normal(size=4)
    np.testing.assert_allclose(f(w, xv), (1 - np.tanh(w @ xv) ** 2)[:, None] * w)


def test_jacobian_keeps_a_product_by_a_broadcast_scale():
    """A scale that is not a vector of the diagonal's shape is still multiplied in."""
    x = T.TensorType("float64", (3,))("x")
    c = T.dscalar("c")
    f = nbgrad.function([x, c], T.jacobian(T.tanh(x) * c, x))
    xv = rng.normal(size=3)
    np.testing.assert_allclose(f(xv, 2.5), np.diag((1 - np.tanh(xv) ** 2) * 2.5))


# ------------------------------------------------ banded (diagonal) batches
def _numeric_jacobian(f, xv, eps=1e-6):
    cols = []
    for j in range(xv.size):
        d = np.zeros_like(xv)
        d[j] = eps
        cols.append((f(xv + d) - f(xv - d)) / (2 * eps))
    return np.stack(cols, axis=-1)


def _two_d_values(f):
    return [v for v in f.maker.fgraph.variables if v.ndim == 2 and v.owner is not None]


@pytest.mark.parametrize("static", [True, False])
@pytest.mark.parametrize(
    "build",
    [
        lambda x: x[1:] - x[:-1],
        lambda x: x[2:] * x[:-2] + T.sin(x[1:-1]),
        lambda x: -x[:-1] / (1.0 + x[1:] ** 2),
        lambda x: x[-3:] * 2.0 + x[:3],
        lambda x: T.set_subtensor(T.zeros_like(x)[1:], x[:-1] ** 2),
        lambda x: T.set_subtensor(x[2:], x[:-2] * x[1:-1]),
        lambda x: T.inc_subtensor(x[1:], x[:-1] * x[1:]),
        lambda x: T.dot(T.constant(np.arange(12.0).reshape(4, 3)), x[3:]) + x[:4],
        lambda x: x[::2] * x[1::2],
        lambda x: T.concatenate([x[1:], x[:1]]) * x,
    ],
)
def test_jacobian_of_shifted_slices_matches_finite_differences(build, static):
    x = T.TensorType("float64", (6,) if static else (None,))("x")
    y = build(x)
    f = nbgrad.function([x], y)
    J = nbgrad.function([x], T.jacobian(y, x))
    xv = rng.normal(size=6)
    np.testing.assert_allclose(J(xv), _numeric_jacobian(f, xv), rtol=1e-6, atol=1e-7)


def _w5_cost(x):
    return (x[:-1] ** 2 * x[1:]).sum() + T.sin(x).sum()


def _w5_hessian(xv):
    n = xv.size
    h = np.diag(-np.sin(xv))
    h[np.arange(n - 1), np.arange(n - 1)] += 2 * xv[1:]
    h[np.arange(n - 1), np.arange(1, n)] += 2 * xv[:-1]
    h[np.arange(1, n), np.arange(n - 1)] += 2 * xv[:-1]
    return h


@pytest.mark.parametrize("static", [True, False])
def test_hessian_of_neighbour_products_is_written_from_its_diagonals(static):
    n = 7
    x = T.TensorType("float64", (n,) if static else (None,))("x")
    f = nbgrad.function([x], T.hessian(_w5_cost(x), x))
    xv = rng.normal(size=n)
    np.testing.assert_allclose(f(xv), _w5_hessian(xv), rtol=1e-12, atol=1e-12)
    # no n × n intermediate: the only matrix is the result, built from three diagonals
    (only,) = _two_d_values(f)
    assert str(only.owner.op) == "Diagonals{-1,0,1}"


def test_hessian_with_a_dense_part_stays_correct():
    x = T.TensorType("float64", (5,))("x")
    w = rng.normal(size=(5, 5))
    cost = _w5_cost(x) + T.dot(x, T.dot(T.constant(w), x))
    xv = rng.normal(size=5)
    H = nbgrad.function([x], T.hessian(cost, x))(xv)
    np.testing.assert_allclose(H, _w5_hessian(xv) + w + w.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(5, 5), (4, 6), (6, 3)])
def test_diagonals_writes_and_reads_shifted_diagonals(shape):
    from nbgrad.vectorize import Diagonals, DiagonalsOf

    n, m = shape
    offsets = (-7, -2, 0, 1, 3, 9)
    ds = [rng.normal(size=m) for _ in offsets]
    expected = np.zeros(shape)
    for k, d in zip(offsets, ds):
        for j in range(m):
            if 0 <= j + k < n:
                expected[j + k, j] += d[j]
    out = Diagonals(offsets)(n, m, *[T.constant(d) for d in ds]).eval()
    np.testing.assert_array_equal(out, expected)
    z = rng.normal(size=shape)
    parts = DiagonalsOf(offsets)(T.constant(z))
    for k, p in zip(offsets, parts):
        want = np.array([z[j + k, j] if 0 <= j + k < n else 0.0 for j in range(m)])
        np.testing.assert_array_equal(p.eval(), want)


def test_diagonals_derivatives_match_finite_differences():
    from nbgrad.gradient import verify_grad
    from nbgrad.vectorize import Diagonals, DiagonalsOf

    verify_grad(lambda a, b: Diagonals((-1, 2))(4, 5, a, b), [rng.normal(size=5), rng.normal(size=5)])
    verify_grad(lambda z: DiagonalsOf((0, -2))(z)[1] * DiagonalsOf((0, -2))(z)[0], [rng.normal(size=(4, 3))])
    a, b, u, v = (T.dvector(s) for s in "abuv")
    y = Diagonals((0, 1))(3, 3, a * a, b)
    jv = T.Rop(y, [a, b], [u, v])
    av, bv, uv, vv = (rng.normal(size=3) for _ in range(4))
    np.testing.assert_allclose(
        jv.eval({a: av, b: bv, u: uv, v: vv}),
        Diagonals((0, 1))(3, 3, 2 * av * uv, vv).eval(),
    )


class _Hump(Op):
    """A test op y = 3x - x², whose L_op subtracts two scaled cotangents."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        return 3 * inputs[0] - inputs[0] ** 2

    def L_op(self, inputs, outputs, output_grads):
        (g,) = output_grads
        return [g * 3.0 - g * (2.0 * inputs[0])]


def test_difference_of_diagonal_batches_stays_diagonal():
    x = T.TensorType("float64", (5,))("x")
    f = nbgrad.function([x], T.jacobian(_Hump()(x[1:]), x))
    xv = rng.normal(size=5)
    expected = np.zeros((4, 5))
    expected[np.arange(4), np.arange(1, 5)] = 3 - 2 * xv[1:]
    np.testing.assert_allclose(f(xv), expected)
    (only,) = _two_d_values(f)
    assert str(only.owner.op) == "Diagonals{-1}"


def test_only_known_zeros_count_as_zeros():
    from nbgrad.banded import _is_zeros

    x = T.dvector("x")
    assert _is_zeros(T.zeros_like(x)) and _is_zeros(T.constant(np.zeros(3)))
    assert not _is_zeros(T.constant(np.array([0.0, 1.0])))
    assert not _is_zeros(T.ones_like(x)) and not _is_zeros(x) and not _is_zeros(x * 0.0)


def test_ones_and_zeros_are_seen_through_slices_and_size_checks():
    from nbgrad.banded import _is_ones, _is_zeros
    from nbgrad.tensor.shape import CheckSizes

    x = T.dvector("x")
    assert _is_ones(T.ones_like(x)[:-1]) and _is_zeros(T.zeros_like(x)[1:])
    assert _is_ones(CheckSizes((0,))(T.ones_like(x), x.shape[0]))
    assert not _is_ones(x[:-1]) and not _is_ones(T.zeros_like(x)[1:])


@pytest.mark.parametrize(
    "a, b, same",
    [
        (lambda x, y: x[1:], lambda x, y: x[:-1], True),
        (lambda x, y: x[2:], lambda x, y: x[:-1], False),
        (lambda x, y: x[-2:], lambda x, y: x[:2], True),
        (lambda x, y: x[1:], lambda x, y: T.zeros_like(x)[:-1], True),
        (lambda x, y: T.sin(x[1:]) * 2.0, lambda x, y: x[:-1], True),
        (lambda x, y: x * y, lambda x, y: y, True),
        (lambda x, y: x, lambda x, y: y, False),
        (lambda x, y: x[1:], lambda x, y: y[:-1], False),
    ],
)
def test_run_time_lengths_shown_equal_only_when_they_are(a, b, same):
    from nbgrad.banded import _same_length

    x, y = T.dvector("x"), T.dvector("y")
    assert _same_length(a(x, y), b(x, y), {}) is same
    if same:  # and they are: on every length where the graph runs
        for n in range(6):
            xv = np.arange(float(n))
            try:
                la, lb = a(x, y).eval({x: xv, y: xv}).shape, b(x, y).eval({x: xv, y: xv}).shape
            except ValueError:
                continue
            assert la == lb


class _Halve(Op):
    """An op defined outside nbgrad: ``x / 2``, with the facts the drivers ask of an op."""

    entries_of_first_input = False  # halves every entry (ones do not stay ones)

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        return inputs[0] / 2

    def length_rules(self, node):
        from nbgrad.graph.op import LengthRule

        return [LengthRule("length", node.inputs[0])]

    def dim_rule(self, node, out, d):
        return ("via", node.inputs[0], d)


class _Copy(_Halve):
    entries_of_first_input = True


def test_the_banded_and_shape_drivers_read_the_op_s_own_rules():
    from nbgrad.banded import _is_ones, _same_length
    from nbgrad.rewriting.patterns import same_shape

    x, y = T.dvector("x"), T.dvector("y")
    assert _same_length(_Halve()(x)[1:], x[:-1], {}) and not _same_length(_Halve()(x), y, {})
    assert same_shape(_Halve()(x), x) and not same_shape(_Halve()(x), y)
    assert _is_ones(_Copy()(T.ones_like(x))) and not _is_ones(_Halve()(T.ones_like(x)))


def test_vectorize_banded_keeps_the_rows_of_a_band_as_diagonals():
    from nbgrad.vectorize import vectorize_banded

    x, v = T.dvector("x"), T.dvector("v")
    basis = T.constant(np.eye(4))
    vjp = (v * T.exp(x))[1:] - v[:-1]  # over the identity's rows: two diagonals, offsets 0 and 1
    replace = {v: basis}
    rows = vectorize_banded(vjp, replace, {basis: {0: T.ones_like(x)}}, equal_lengths={v: x})
    assert rows.owner is not None and str(rows.owner.op) == "Diagonals{0,1}"
    xv = rng.normal(size=4)
    dense = vectorize_graph(vjp, replace)
    assert not any(str(a.owner.op).startswith("Diagonals") for a in ancestors([dense]) if a.owner)
    np.testing.assert_allclose(rows.eval({x: xv}), dense.eval({x: xv}), rtol=0, atol=0)


def test_vectorize_banded_names_a_band_that_is_not_a_batched_matrix():
    from nbgrad.vectorize import vectorize_banded

    x, v = T.dvector("x"), T.dvector("v")
    basis, other = T.constant(np.eye(3)), T.dmatrix("other")
    with pytest.raises(ValueError, match="vectorize_banded: each key of bands .* got other"):
        vectorize_banded(v * x, {v: basis}, {other: {0: T.ones_like(x)}})


# ------------------------------------------------- every op decides how it batches
def _looping_ops():
    """Op classes that batch by the ``Blockwise`` loop, each with the reason."""
    from nbgrad.banded import Diagonals, DiagonalsOf
    from nbgrad.ifelse import IfElse
    from nbgrad.printing.runtime import Print
    from nbgrad.random.op import RandomVariable
    from nbgrad.scan.op import Scan
    from nbgrad.tensor import conv
    from nbgrad.tensor import onehot
    from nbgrad.tensor.shape import ARange, Eye

    return {
        Blockwise: "is the loop itself",
        IfElse: "the condition may differ between batch entries; the loop keeps both branches lazy",
        Print: "prints each batch entry, as the loop over the unbatched graph would",
        Scan: "its inner graph would have to be vectorized; the loop runs the scan per entry",
        RandomVariable: "draws per batch entry in a loop, each from the generator it is given",
        Diagonals: "writes the dense form of one banded batch at the end of a Jacobian",
        DiagonalsOf: "reads the diagonals of one matrix (the transpose of Diagonals)",
        ARange: "batched bounds give entries of different lengths",
        Eye: "batched sizes give entries of different shapes",
        onehot._Placement: "the base of OneHot and OneHotOf, never a node's op",
        onehot.OneHot: "writes the dense form of a one-hot batch, made by rewrites after vectorizing",
        onehot.OneHotOf: "reads the values of a one-hot batch (the transpose of OneHot)",
        conv._ConvOp: "the base of the convolutions, never a node's op",
        conv.Conv2dGradWeights: "sums over the examples axis: a batch of entries cannot join it "
                                "(one product per entry; a grouped product is not written)",
    }


def _nbgrad_op_classes():
    import importlib
    import pkgutil

    for module in pkgutil.walk_packages(nbgrad.__path__, "nbgrad."):
        importlib.import_module(module.name)
    found, todo = set(), [Op]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return {cls for cls in found if cls.__module__.split(".")[0] == "nbgrad"}


def test_every_op_has_a_batching_rule_or_loops_for_a_stated_reason():
    looping = _looping_ops()
    undecided = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in _nbgrad_op_classes()
        if cls.vectorize_node is Op.vectorize_node and cls not in looping
    )
    assert not undecided, (
        f"these ops have no batching rule: give each a vectorize_node method (see Op.vectorize_node), "
        f"or list it in _looping_ops with the reason it loops: {undecided}"
    )
    stale = sorted(cls.__qualname__ for cls in looping if cls.vectorize_node is not Op.vectorize_node)
    assert not stale, f"these ops have a batching rule now; remove them from _looping_ops: {stale}"


def test_the_op_check_catches_an_op_without_a_batching_decision():
    found = _nbgrad_op_classes()
    assert len(found) > 40 and Op not in found
    assert _Cube not in found  # ops defined outside nbgrad are theirs to decide
    assert _Cube.vectorize_node is Op.vectorize_node and _Cube not in _looping_ops()
