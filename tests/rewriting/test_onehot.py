"""push_one_hot: operations on one-hot batches run on their nonzero values (nbgrad/rewriting/onehot.py)."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.banded import Diagonals
from nbgrad.gradient import verify_grad
from nbgrad.rewriting import Mode
from nbgrad.tensor.math import Matmul
from nbgrad.tensor.onehot import OneHot, OneHotOf
from tests.rewriting.helpers import rewritten, same_values

WITHOUT = Mode(excluding=["one_hot"])
N, P, Q = 6, 2, 3  # a batch of the 6 unit matrices of a 2 x 3 weight
rng = np.random.default_rng(3)


def test_one_hot_writes_and_reads_its_places():
    op = OneHot((2, 3), (1,), ((2, 0, 1),))
    values = rng.standard_normal((3, 2))
    dense = op(values).eval()
    expected = np.zeros((3, 2, 3))
    for i, c in enumerate((2, 0, 1)):
        expected[i, :, c] = values[i]
    np.testing.assert_array_equal(dense, expected)
    np.testing.assert_array_equal(OneHotOf((2, 3), (1,), ((2, 0, 1),))(dense).eval(), values)


def test_one_hot_takes_the_sizes_of_its_other_axes_from_the_values():
    """An axis that is not one-hot may have a size known only at run time (a batch of examples)."""
    op = OneHot((None, 3), (1,), ((2, 0, 1),))
    v = T.dmatrix("v")
    out = op(v)
    assert out.type.shape == (3, None, 3)
    values = rng.standard_normal((3, 5))
    dense = nbgrad.function([v], out)(values)
    expected = np.zeros((3, 5, 3))
    for i, c in enumerate((2, 0, 1)):
        expected[i, :, c] = values[i]
    np.testing.assert_array_equal(dense, expected)
    np.testing.assert_array_equal(nbgrad.function([v], out.shape)(values), (3, 5, 3))
    z = T.tensor3("z")
    back = OneHotOf((None, 3), (1,), ((2, 0, 1),))(z)
    np.testing.assert_array_equal(nbgrad.function([z], back)(expected), values)
    with pytest.raises(ValueError, match="outside the shape"):
        OneHot((2, None), (1,), ((0,),))


def test_one_hot_and_its_transpose_have_finite_difference_gradients():
    index = ((1, 0, 1), (2, 2, 0))
    verify_grad(lambda v: OneHot((2, 3), (0, 1), index)(v) * 1.5, [rng.standard_normal(3)])
    verify_grad(lambda z: OneHotOf((2, 3), (0, 1), index)(z) ** 2, [rng.standard_normal((3, 2, 3))])


def test_one_hot_rejects_places_outside_its_shape():
    with pytest.raises(ValueError, match="outside the shape"):
        OneHot((2, 3), (1,), ((3, 0),))


def _unit_matrices(d):
    """The batch of unit matrices of a P x Q weight, scaled by ``d``: Reshape(Diagonals{0})."""
    return T.reshape(Diagonals((0,))(N, N, d), (N, P, Q))


# the rows of the identity of Q, one per entry, as a batch of 1 x Q matrices (constant)
_UNIT_ROWS = T.constant(np.eye(Q)[[0, 1, 2, 2, 1, 0]].reshape(N, 1, Q) * np.arange(1.0, N + 1)[:, None, None])


_LONG = 1000  # more rows than constant folding writes out (MAX_FOLDED_SIZE)


def _inputs():
    d = T.TensorType("float64", (N,))("d")
    a = T.TensorType("float64", (5, P))("a")
    b = T.TensorType("float64", (Q, 4))("b")
    s = T.TensorType("float64", (1, 5, Q))("s")
    r = T.TensorType("float64", (1, _LONG, Q))("r")
    return d, a, b, s, r


def _cases():
    inputs = d, a, b, s, r = _inputs()
    e = _unit_matrices(d)
    ae = Matmul()(a, e)  # (N, 5, Q): one-hot along Q
    return inputs, {
        "a @ E": ae,
        "E @ b": Matmul()(e, b),
        "(a @ E) * s, summed over rows": T.sum(ae * s, axis=1),
        "(a @ E) * s, summed over columns": T.sum(ae * s, axis=2),
        "-(a @ E) / s @ b": Matmul()(-ae / s, b),
        "a.T @ ((a @ E) * s)": Matmul()(a.T, ae * s),
        "((a @ E) @ b.T)[:, :, 0]": Matmul()(ae, T.ones((Q, 1)))[:, :, 0],
        "E transposed @ a.T": Matmul()(e.dimshuffle(0, 2, 1), a.T),
        "(ones row @ (a @ E))[:, 0, :]": Matmul()(T.ones((1, 5)), ae)[:, 0, :],
        "unit rows broadcast down the columns, times r @ b": Matmul()(
            T.alloc(_UNIT_ROWS, N, _LONG, Q) * r, b
        ),
    }


INPUTS, CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_push_one_hot_fires_and_keeps_the_values(name):
    out, inputs = CASES[name], list(INPUTS)
    fg, applied = rewritten(inputs, out)
    assert "push_one_hot" in applied
    matmuls = [n for n in fg.apply_nodes if isinstance(n.op, Matmul)]
    assert not matmuls, [str(n) for n in matmuls]  # no product with a dense one-hot batch left
    values = [rng.standard_normal(v.type.shape) for v in inputs]
    on = nbgrad.function(inputs, out)(*values)
    off = nbgrad.function(inputs, out, mode=WITHOUT)(*values)
    none = nbgrad.function(inputs, out, mode=Mode("NONE"))(*values)
    assert same_values(on, off, rtol=1e-12) and same_values(on, none, rtol=1e-12)


def test_leaves_alone_a_one_hot_vector_batch():
    """Diagonals of a plain Jacobian: the values are as many as the dense form writes."""
    x = T.TensorType("float64", (4,))("x")
    y = T.TensorType("float64", (1, 4))("y")
    out = Diagonals((0,))(4, 4, T.exp(x)) * y
    _, applied = rewritten([x, y], out)
    assert "push_one_hot" not in applied


@pytest.mark.parametrize(
    "diagonals",
    [
        lambda d: Diagonals((0, 1))(N, N, d, d),  # two offsets
        lambda d: Diagonals((1,))(N, N, d),  # row 0 is zero
    ],
)
def test_leaves_alone_batches_that_are_not_one_hot(diagonals):
    d, a = _inputs()[:2]
    out = Matmul()(a, T.reshape(diagonals(d), (N, P, Q)))
    _, applied = rewritten([d, a], out)
    assert "push_one_hot" not in applied


def test_writes_the_dense_batch_for_a_product_with_another_batch():
    d, a = _inputs()[:2]
    other = T.TensorType("float64", (N, 5, Q))("other")
    out = T.sum(Matmul()(a, _unit_matrices(d)) * other, axis=1)
    fg, _ = rewritten([d, a, other], out)
    (written,) = [n for n in fg.apply_nodes if isinstance(n.op, OneHot)]
    assert any(other in c.inputs for c, _ in fg.clients[written.outputs[0]])
    values = [rng.standard_normal(v.type.shape) for v in (d, a, other)]
    on = nbgrad.function([d, a, other], out)(*values)
    off = nbgrad.function([d, a, other], out, mode=WITHOUT)(*values)
    assert same_values(on, off, rtol=1e-12)


def test_the_mlp_hessian_has_no_dense_block_of_its_first_layer():
    """The W16 model: 10 inputs, 35 hidden units, 64 examples, 421 parameters in one vector."""
    d, h, n = 10, 35, 64
    p = d * h + 2 * h + 1
    th, x, y = T.TensorType("float64", (p,))("th"), T.TensorType("float64", (n, d))("x"), T.dvector("y")
    w1, b1, w2 = th[: d * h].reshape((d, h)), th[d * h : d * h + h], th[d * h + h : d * h + 2 * h]
    loss = T.mean((T.dot(T.tanh(T.dot(x, w1) + b1), w2) + th[p - 1] - y) ** 2)
    hess = T.hessian(loss, th)
    f = nbgrad.function([th, x, y], hess)
    assert "push_one_hot" in f.maker.rewrites_applied
    blocks = [v for v in f.maker.fgraph.variables if v.type.shape == (d * h, n, h)]
    assert not blocks, [str(v.owner.op) for v in blocks]
    values = [rng.standard_normal(p) * 0.3, rng.standard_normal((n, d)), rng.standard_normal(n)]
    g = nbgrad.function([th, x, y], hess, mode=WITHOUT)
    assert same_values(f(*values), g(*values), rtol=1e-10)


def test_the_dynamic_mlp_hessian_has_no_dense_block_of_its_first_layer():
    """The same model with ``T.dvector`` parameters and a ``T.dmatrix`` batch."""
    d, h, n = 10, 35, 64
    p = d * h + 2 * h + 1
    th, x, y = T.dvector("th"), T.dmatrix("x"), T.dvector("y")
    w1, b1, w2 = th[: d * h].reshape((d, h)), th[d * h : d * h + h], th[d * h + h : d * h + 2 * h]
    loss = T.mean((T.dot(T.tanh(T.dot(x, w1) + b1), w2) + th[p - 1] - y) ** 2)
    hess = T.hessian(loss, th)
    f = nbgrad.function([th, x, y], hess)
    assert "push_one_hot" in f.maker.rewrites_applied
    nodes = f.maker.fgraph.toposort()
    assert any(isinstance(node.op, OneHot) for node in nodes)
    # the bias rows' products are contracted as in the static graph: no batched matrix product
    # reads a (350, examples, 35) block (the sizes of the examples' axis are known only at run time)
    batched = [node for node in nodes if isinstance(node.op, Matmul)
               and any(i.ndim == 3 and i.type.shape[0] == d * h for i in node.inputs)]
    assert not batched, [[i.type.shape for i in node.inputs] for node in batched]
    values = [rng.standard_normal(p) * 0.3, rng.standard_normal((n, d)), rng.standard_normal(n)]
    g = nbgrad.function([th, x, y], hess, mode=WITHOUT)
    assert same_values(f(*values), g(*values), rtol=1e-10)
