"""scan_prune_outputs: unused loop outputs (and what only they need) are not computed."""

import numpy as np

import nbgrad
import nbgrad.tensor as T
from nbgrad.scan import Scan


def _scans(f):
    return [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Scan)]


def _rnn():
    W, U, X, h0 = T.dmatrix("W"), T.dmatrix("U"), T.dtensor3("X"), T.dmatrix("h0")
    hs, _ = nbgrad.scan(lambda x, h, W, U: T.tanh(T.dot(h, W) + T.dot(x, U)),
                        sequences=X, outputs_info=h0, non_sequences=[W, U])
    return [W, U, X, h0], hs


def _vals():
    rng = np.random.default_rng(1)
    return [rng.normal(size=(3, 3)), rng.normal(size=(2, 3)), rng.normal(size=(5, 2, 2)),
            rng.normal(size=(2, 3))]


def test_prune_fires_on_backward_loop_when_one_gradient_is_asked():
    ins, hs = _rnn()
    cost = hs[-1].sum()
    f_one = nbgrad.function(ins, T.grad(cost, ins[0]))
    f_all = nbgrad.function(ins, T.grad(cost, ins))
    back_one = [n for n in _scans(f_one) if n.op.info.name == "grad_of_scan"]
    back_all = [n for n in _scans(f_all) if n.op.info.name == "grad_of_scan"]
    assert len(back_one) == 1 and len(back_all) == 1
    assert len(back_one[0].outputs) < len(back_all[0].outputs)
    assert len(back_one[0].op.inner_outputs) < len(back_all[0].op.inner_outputs)
    vals = _vals()
    np.testing.assert_allclose(f_one(*vals), f_all(*vals)[0], rtol=1e-13)
    # the same values with rewrites off
    f_none = nbgrad.function(ins, T.grad(cost, ins[0]), mode="FAST_COMPILE")
    np.testing.assert_allclose(f_one(*vals), f_none(*vals), rtol=1e-13)


def test_prune_drops_unused_nitsot_and_keeps_states_that_feed_used_outputs():
    v = T.dvector("v")
    (acc, sq), _ = nbgrad.scan(lambda x, a: (a + x, a * 2), sequences=v,
                               outputs_info=[T.constant(0.0), None])
    f = nbgrad.function([v], sq)
    (node,) = _scans(f)
    assert node.op.info.n_nitsot == 1 and node.op.info.n_states == 1
    np.testing.assert_allclose(f([1.0, 2.0, 3.0]), [0.0, 2.0, 6.0])
    g = nbgrad.function([v], acc)
    (node,) = _scans(g)
    assert node.op.info.n_nitsot == 0 and node.op.info.n_states == 1
    np.testing.assert_allclose(g([1.0, 2.0, 3.0]), [1.0, 3.0, 6.0])


def test_prune_leaves_alone_a_loop_whose_outputs_are_all_used():
    v = T.dvector("v")
    (acc, sq), _ = nbgrad.scan(lambda x, a: (a + x, a * 2), sequences=v,
                               outputs_info=[T.constant(0.0), None])
    f = nbgrad.function([v], [acc, sq])
    (node,) = _scans(f)
    assert "scan_prune_outputs" not in f.maker.rewrites_applied
    assert node.op.info.n_nitsot == 1 and node.op.info.n_states == 1
