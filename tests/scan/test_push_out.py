"""Work moved out of loops: loop-invariant results, per-step products of sequence rows,
accumulated weight gradients, and the sparse output gradient of ``ys[-1]``."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.rewriting import Mode
from nbgrad.scan import Scan
from nbgrad.tensor.elemwise import DimShuffle
from nbgrad.tensor.math import Dot

OFF = ["scan_push_out", "scan_sum_accumulators"]


def _scans(f):
    return {n.op.info.name: n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Scan)}


def _inner_ops(node):
    from nbgrad.graph.traversal import io_toposort

    return [n.op for n in io_toposort(node.op.inner_inputs, node.op.inner_outputs)]


def _rnn(**kw):
    W, U, X, h0 = T.dmatrix("W"), T.dmatrix("U"), T.dtensor3("X"), T.dmatrix("h0")
    hs, _ = nbgrad.scan(lambda x, h, W, U: T.tanh(T.dot(h, W.T) + T.dot(x, U.T)),
                        sequences=X, outputs_info=h0, non_sequences=[W, U], **kw)
    return [W, U, X, h0], hs


def _vals(steps=6):
    rng = np.random.default_rng(3)
    return [rng.normal(size=(4, 4)) / 2, rng.normal(size=(4, 3)), rng.normal(size=(steps, 2, 3)),
            rng.normal(size=(2, 4))]


def _agree(ins, outs, vals):
    on = nbgrad.function(ins, outs)
    off = nbgrad.function(ins, outs, mode=Mode(excluding=OFF))
    none = nbgrad.function(ins, outs, mode="FAST_COMPILE")
    for a, b, c in zip(on(*vals), off(*vals), none(*vals)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)
    return on


def test_push_out_hoists_transposes_and_sequence_products():
    ins, hs = _rnn()
    f = _agree(ins, [hs], _vals())
    (fwd,) = _scans(f).values()
    ops = _inner_ops(fwd)
    # W.T is computed once outside; x_t @ U.T is one product over all steps outside
    assert not any(isinstance(op, DimShuffle) for op in ops)
    assert sum(isinstance(op, Dot) for op in ops) == 1
    off = nbgrad.function(ins, hs, mode=Mode(excluding=OFF))
    assert sum(isinstance(op, Dot) for op in _inner_ops(next(iter(_scans(off).values())))) == 2


def test_push_out_leaves_alone_state_products_and_random_draws():
    W = T.dmatrix("W")
    h0 = T.dvector("h0")
    hs, _ = nbgrad.scan(lambda h: T.dot(h, h.dimshuffle(0, "x")) + h, outputs_info=h0, n_steps=3)
    f = nbgrad.function([h0], hs)
    (node,) = _scans(f).values()
    assert node.op.info.n_seqs == 0 and node.op.info.n_nonseq == 0
    np.testing.assert_allclose(f(np.ones(1) * 0.5),
                               nbgrad.function([h0], hs, mode="FAST_COMPILE")(np.ones(1) * 0.5))
    # a draw inside the loop is drawn every step, never hoisted
    srng = nbgrad.random.RandomStreams(1)
    ys, upd = nbgrad.scan(lambda W: T.dot(W, srng.normal((2,))), non_sequences=W, n_steps=4)
    g = nbgrad.function([W], ys, updates=upd)
    out = g(np.eye(2))
    assert not np.allclose(out[0], out[1])


def test_shape_of_a_product_is_taken_from_its_operands():
    ins, hs = _rnn()
    f = _agree(ins, T.grad(hs[-1].sum(), ins[:2]), _vals())
    back = _scans(f)["grad_of_scan"]
    # the forward product h @ W.T is not recomputed in the backward loop for its shape
    ops = _inner_ops(back)
    assert sum(isinstance(op, Dot) for op in ops) == 1
    # nor once for all steps outside: the products left are X @ U.T and the two weight gradients
    assert sum(isinstance(n.op, Dot) for n in f.maker.fgraph.apply_nodes) == 3


@pytest.mark.parametrize("kw", [{}, {"truncate_gradient": 3}, {"go_backwards": True}])
def test_sum_accumulators_turns_weight_gradients_into_one_product(kw):
    ins, hs = _rnn(**kw)
    cost = (hs ** 2).sum() + hs[-1].sum()
    f = _agree(ins, T.grad(cost, ins), _vals())
    back = _scans(f)["grad_of_scan"]
    # only the recurrent gradient is carried; the W and U gradients are products after the loop
    assert back.op.info.n_states == 1
    off = nbgrad.function(ins, T.grad(cost, ins), mode=Mode(excluding=OFF))
    assert _scans(off)["grad_of_scan"].op.info.n_states == 3


def test_sum_accumulators_leaves_alone_an_accumulator_read_by_the_body():
    v, M = T.dmatrix("v"), T.dmatrix("M")
    # acc is read by the other output: it must stay a loop state
    (acc, seen), _ = nbgrad.scan(lambda x, a: (a + T.dot(x.dimshuffle(0, "x"), x.dimshuffle("x", 0)),
                                               a.sum()),
                                 sequences=v, outputs_info=[M, None])
    f = nbgrad.function([v, M], [acc, seen])
    (node,) = _scans(f).values()
    assert node.op.info.n_states == 1
    vals = [np.arange(6.0).reshape(3, 2), np.eye(2)]
    ref = nbgrad.function([v, M], [acc, seen], mode="FAST_COMPILE")(*vals)
    for a, b in zip(f(*vals), ref):
        np.testing.assert_allclose(a, b)


def test_last_row_gradient_starts_the_carry_instead_of_a_sequence_of_zeros():
    ins, hs = _rnn()
    f_last = _agree(ins, T.grad(hs[-1].sum(), ins), _vals())
    f_all = nbgrad.function(ins, T.grad(hs.sum(), ins))
    assert _scans(f_last)["grad_of_scan"].op.info.n_seqs < _scans(f_all)["grad_of_scan"].op.info.n_seqs
    # against finite differences through a numpy loop
    W, U, X, h0 = _vals(4)

    def loss(W):
        h = h0
        for x in X:
            h = np.tanh(h @ W.T + x @ U.T)
        return h.sum()

    eps, num = 1e-6, np.zeros_like(W)
    for i in np.ndindex(W.shape):
        d = np.zeros_like(W)
        d[i] = eps
        num[i] = (loss(W + d) - loss(W - d)) / (2 * eps)
    np.testing.assert_allclose(f_last(W, U, X, h0)[0], num, rtol=1e-6, atol=1e-8)


def test_last_row_gradient_with_two_taps():
    x0 = T.dvector("x0")
    a = T.dscalar("a")
    ys, _ = nbgrad.scan(lambda p2, p1, a: a * p1 + T.sin(p2),
                        outputs_info=dict(initial=x0, taps=[-2, -1]), non_sequences=a, n_steps=5)
    outs = T.grad(ys[-1], [x0, a])
    _agree([x0, a], outs, [np.array([0.3, -0.2]), 0.7])


def test_vector_rows_and_ring_buffers_see_values_written_during_the_loop():
    x0 = T.dvector("x0")
    fib, _ = nbgrad.scan(lambda p2, p1: p1 + p2, outputs_info=dict(initial=x0, taps=[-2, -1]),
                         n_steps=6)
    f = nbgrad.function([x0], [fib, fib[-1]])
    np.testing.assert_allclose(f(np.array([0.0, 1.0]))[0], [1, 2, 3, 5, 8, 13])
    s = T.dscalar("s")
    acc, _ = nbgrad.scan(lambda a: a * 2, outputs_info=s, n_steps=4)
    np.testing.assert_allclose(nbgrad.function([s], acc)(1.0), [2, 4, 8, 16])
