"""contract_products: sums of broadcast products become matrix products (nbgrad/rewriting/contraction.py)."""

from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import nbgrad
import nbgrad.tensor as T
from nbgrad.rewriting import Mode, contraction
from nbgrad.tensor.elemwise import DimShuffle, Elemwise
from nbgrad.tensor.math import Dot
from tests.rewriting.helpers import rewritten, same_graph, same_values, values_agree

WITHOUT = Mode(excluding=["contraction"])


def _values(inputs, shapes=None, seed=0):
    """Random values of ``inputs``: of their static shapes, else of ``shapes``."""
    rng = np.random.default_rng(seed)
    shapes = shapes or [v.type.shape for v in inputs]
    return [rng.standard_normal(s) for s in shapes]


def _largest_elementwise(fg):
    """The number of elements of the largest elementwise result in ``fg`` (static shapes)."""
    sizes = [int(np.prod(n.outputs[0].type.shape)) for n in fg.apply_nodes if isinstance(n.op, Elemwise)]
    return max(sizes, default=0)


def test_a_summed_outer_product_becomes_a_dot():
    a, b = T.dmatrices("a", "b")
    out = T.sum(a.dimshuffle(0, 1, "x") * b.dimshuffle("x", 0, 1), axis=1)
    fg, applied = rewritten([a, b], out)
    assert "contract_products" in applied
    assert same_graph(fg, [a, b], T.dot(a, b))
    assert values_agree([a, b], out, _values([a, b], [(3, 4), (4, 5)]))


def test_a_factor_free_of_the_summed_axis_comes_out_of_the_sum():
    d, g = T.TensorType("float64", (60, 50))("d"), T.TensorType("float64", (50, 40))("g")
    w = T.TensorType("float64", (40,))("w")
    out = T.sum(d.dimshuffle(0, 1, "x") * w.dimshuffle("x", "x", 0) * g.dimshuffle("x", 0, 1), axis=1)
    fg, applied = rewritten([d, g, w], out)
    assert "contract_products" in applied
    assert same_graph(fg, [d, g, w], T.dot(d, g) * w.dimshuffle("x", 0))
    assert values_agree([d, g, w], out, _values([d, g, w]))


def test_a_matrix_product_with_a_broadcast_product_contracts_without_the_full_temporary():
    # X.T @ (d[k, n] * g[n, j]) over a batch k: one (k, n)·(n, i·j) product, no (k, n, j) array
    x = T.TensorType("float64", (64, 10))("x")
    d = T.TensorType("float64", (40, 64))("d")
    g = T.TensorType("float64", (64, 35))("g")
    out = T.matmul(x.T, d.dimshuffle(0, 1, "x") * g.dimshuffle("x", 0, 1))
    fg, applied = rewritten([x, d, g], out)
    assert "contract_products" in applied
    assert _largest_elementwise(fg) == 64 * 10 * 35
    assert any(isinstance(n.op, Dot) for n in fg.apply_nodes)
    assert values_agree([x, d, g], out, _values([x, d, g]))


def test_a_sum_of_terms_keeps_the_full_term_and_contracts_the_others():
    # the shape of a batched Hessian of tanh(X W + b)·w: (-2·p·c + d·q + r·w)·s, used by a
    # sum and a product
    k, n, j = 120, 64, 35
    p = T.TensorType("float64", (k, n, j))("p")
    c, s = T.TensorType("float64", (n, j))("c"), T.TensorType("float64", (n, j))("s")
    r, w = T.TensorType("float64", (k, n))("r"), T.TensorType("float64", (j,))("w")
    d, q = T.TensorType("float64", (k, j))("d"), T.TensorType("float64", (n,))("q")
    x = T.TensorType("float64", (n, 5))("x")
    e = (
        -2 * p * c.dimshuffle("x", 0, 1)
        + d.dimshuffle(0, "x", 1) * q.dimshuffle("x", 0, "x")
        - r.dimshuffle(0, 1, "x") * w.dimshuffle("x", "x", 0)
    ) * s.dimshuffle("x", 0, 1)
    outs = [T.sum(e, axis=1), T.matmul(x.T, e)]
    inputs = [p, c, s, r, w, d, q, x]
    values = _values(inputs)
    for out in outs:
        fg, applied = rewritten(inputs, out)
        assert values_agree(inputs, out, values)
        # the full term is one product of p with the small factors, -2 among the latter
        full = [
            nd
            for nd in fg.apply_nodes
            if isinstance(nd.op, Elemwise) and nd.outputs[0].type.shape == (k, n, j)
        ]
        assert len(full) == 1 and p in full[0].inputs, full
        # each dot gives its axes in the order of the result: nothing reads it transposed
        for nd in fg.apply_nodes:
            if isinstance(nd.op, DimShuffle) and nd.inputs[0].owner is not None:
                if isinstance(nd.inputs[0].owner.op, Dot):
                    kept = [a for a in nd.op.new_order if a != "x"]
                    assert kept == sorted(kept), nd.op
    f = nbgrad.function(inputs, outs)
    g = nbgrad.function(inputs, outs, mode=WITHOUT)
    assert "contract_products" in f.maker.rewrites_applied
    assert "contract_products" not in g.maker.rewrites_applied
    for a, b in zip(f(*values), g(*values)):
        assert same_values(a, b)


def test_leaves_alone_a_product_that_is_also_used_as_it_is():
    a, b = T.dmatrices("a", "b")
    e = a.dimshuffle(0, 1, "x") * b.dimshuffle("x", 0, 1)
    fg, applied = rewritten([a, b], T.sum(e, axis=1) + T.sum(e, axis=(0, 1)).dimshuffle("x", 0) + e[:, 0, :])
    assert "contract_products" not in applied


def test_leaves_alone_small_products_where_the_nodes_cost_more_than_they_save():
    d, g = T.TensorType("float64", (6, 5))("d"), T.TensorType("float64", (5, 4))("g")
    fg, applied = rewritten([d, g], T.sum(d.dimshuffle(0, 1, "x") * g.dimshuffle("x", 0, 1), axis=1))
    assert "contract_products" not in applied


def test_leaves_alone_a_product_that_is_no_contraction():
    # a·b summed over one axis of two full matrices: the other axis is kept by both (no dot)
    a, b = T.dmatrices("a", "b")
    fg, applied = rewritten([a, b], T.sum(a * b, axis=1))
    assert "contract_products" not in applied
    # a plain sum of one array
    fg, applied = rewritten([a], T.sum(T.exp(a), axis=1))
    assert "contract_products" not in applied


def test_leaves_alone_a_sum_whose_whole_terms_do_not_vary_along_the_summed_axis():
    # sum over n of u[k]·v[j] + d[k, n]·g[n, j]: the second term is a dot, but the first
    # one's sum is n times the term, which the rewrite does not build
    k, n, j = 60, 50, 40
    u, v = T.TensorType("float64", (k,))("u"), T.TensorType("float64", (j,))("v")
    d, g = T.TensorType("float64", (k, n))("d"), T.TensorType("float64", (n, j))("g")
    e = u.dimshuffle(0, "x", "x") * v.dimshuffle("x", "x", 0) + d.dimshuffle(0, 1, "x") * g.dimshuffle(
        "x", 0, 1
    )
    out = T.sum(e, axis=1)
    fg, applied = rewritten([u, v, d, g], out)
    assert "contract_products" not in applied
    assert values_agree([u, v, d, g], out, _values([u, v, d, g]))


_AXES = st.lists(st.sets(st.integers(0, 2), min_size=1), min_size=2, max_size=4)


@settings(max_examples=40, deadline=None)
@given(
    axes=_AXES,
    summed=st.integers(0, 2),
    sizes=st.tuples(*[st.integers(2, 4)] * 3),
    static=st.booleans(),
    extra_term=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_broadcast_products_agree_with_the_unrewritten_graph(
    axes, summed, sizes, static, extra_term, seed
):
    factors, inputs = [], []
    for k, ax in enumerate(axes):
        ax = sorted(ax)
        shape = tuple(sizes[d] if static else None for d in ax)
        v = T.TensorType("float64", shape)(f"f{k}")
        inputs.append(v)
        factors.append(v.dimshuffle(*[ax.index(d) if d in ax else "x" for d in range(3)]))
    e = factors[0]
    for f in factors[1:]:
        e = e * f
    if extra_term:
        full = T.TensorType("float64", sizes if static else (None,) * 3)("full")
        inputs.append(full)
        e = e - factors[0] * full
    out = T.sum(e, axis=summed)
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal([sizes[d] for d in sorted(ax)]) for ax in axes]
    if extra_term:
        values.append(rng.standard_normal(sizes))
    try:
        np.broadcast_shapes(*[np.shape(x) for x in values])
    except ValueError:
        return
    # without the cost of a node, the rewrite also fires on these small shapes
    with mock.patch.object(contraction, "_NODE_COST", 0):
        on = nbgrad.function(inputs, out)(*values)
    off = nbgrad.function(inputs, out, mode=Mode("NONE"))(*values)
    assert same_values(on, off, rtol=1e-10)


def _mlp_hessian(static):
    n, d, h = 48, 6, 20
    p = d * h + 2 * h + 1
    if static:
        th, x, y = (
            T.TensorType("float64", (p,))("theta"),
            T.TensorType("float64", (n, d))("X"),
            T.TensorType("float64", (n,))("y"),
        )
    else:
        th, x, y = T.dvector("theta"), T.dmatrix("X"), T.dvector("y")
    w1 = th[: d * h].reshape((d, h))
    b1 = th[d * h : d * h + h]
    w2 = th[d * h + h : d * h + 2 * h]
    out = T.dot(T.tanh(T.dot(x, w1) + b1), w2) + th[p - 1]
    loss = T.mean((out - y) ** 2)
    rng = np.random.default_rng(1)
    values = [rng.standard_normal(p) * 0.5, rng.standard_normal((n, d)), rng.standard_normal(n)]
    return [th, x, y], T.hessian(loss, th), values


def test_the_hessian_of_a_small_mlp_contracts_with_static_and_unknown_sizes():
    for static in (True, False):
        inputs, hess, values = _mlp_hessian(static)
        f = nbgrad.function(inputs, hess)
        g = nbgrad.function(inputs, hess, mode=WITHOUT)
        # with a parameter vector of unknown length the slices' constant bounds still size the
        # runs of rows, so the first layer's products are one-hot batches, as in the static graph
        taken = "contract_products" if static else "push_one_hot"
        assert taken in f.maker.rewrites_applied, static
        assert same_values(f(*values), g(*values), rtol=1e-10)
