"""Scan's shape rule (``Scan.infer_shape``) and saving a function with a scan (``nbgrad.save``)."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.graph.traversal import ancestors
from nbgrad.scan.op import Scan


def _scan_node(out):
    (node,) = {v.owner for v in ancestors([out]) if v.owner is not None and isinstance(v.owner.op, Scan)}
    return node


def _inferred(node):
    shapes = [tuple(T.shape_i(i, k) for k in range(i.ndim)) for i in node.inputs]
    return node.op.infer_shape(None, node, shapes)


def _reads_a_scan(sizes):
    return any(isinstance(v.owner.op, Scan) for v in ancestors(sizes) if v.owner is not None)


x, h0, W = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("W")
k, n = T.lvector("k"), T.lscalar("n")
VALUES = {x: np.arange(12.0).reshape(4, 3) / 10, h0: np.ones(3), W: np.ones((3, 5)), k: np.full(4, 2), n: 6}


def _rnn():
    return nbgrad.scan(lambda x_t, h: T.tanh(h * x_t + x_t), sequences=x, outputs_info=h0)[0]


def _projection():  # a per-step output whose row size is the non-sequence's
    return nbgrad.scan(lambda x_t, W: T.dot(x_t, W), sequences=x, non_sequences=W)[0]


def _two_taps():
    return nbgrad.scan(lambda a, b: a + b, outputs_info=dict(initial=x[:2], taps=[-2, -1]), n_steps=n)[0]


def _filled_to_n():  # the row size is a non-sequence's value
    return nbgrad.scan(lambda x_t, n: T.alloc(x_t.sum(), n), sequences=x, non_sequences=n)[0]


def _filled_to_k():  # the row size is a value of the step: known only once it ran
    return nbgrad.scan(lambda k_t: T.alloc(1.0, k_t), sequences=k)[0]


def _until():  # a while-loop: its length is known only once it ran
    return nbgrad.scan(lambda p: (p * 2, nbgrad.scan.until(p.sum() * 2 > 50)), outputs_info=h0, n_steps=n)[0]


@pytest.mark.parametrize("build, from_inputs", [
    (_rnn, True), (_projection, True), (_two_taps, True), (_filled_to_n, True), (_filled_to_k, False),
    (_until, False),
])
def test_infer_shape_gives_the_run_time_shapes(build, from_inputs):
    out = build()
    node = _scan_node(out)
    inferred = _inferred(node)
    sizes = [T.as_tensor_variable(s) for o, shape in zip(node.outputs, inferred) for s in shape]
    actual = [T.shape_i(o, d) for o in node.outputs for d in range(o.ndim)]
    inputs = [v for v in VALUES if v in set(ancestors([out]))]
    got = nbgrad.function(inputs, sizes + actual, on_unused_input="ignore")(*[VALUES[v] for v in inputs])
    assert [int(g) for g in got[: len(sizes)]] == [int(g) for g in got[len(sizes):]]
    # the sizes are read off the inputs wherever the loop does not decide them
    assert _reads_a_scan(sizes) is not from_inputs


def test_an_inner_size_from_the_loop_is_read_off_the_output_only_on_that_axis():
    out = _filled_to_k()
    node = _scan_node(out)
    ((rows, size),) = _inferred(node)
    assert not _reads_a_scan([rows]) and _reads_a_scan([size])


# ---------------------------------------------------------------------------- save, load
def _saved_and_loaded(f, path):
    nbgrad.save(path, f)
    return nbgrad.load(path)


@pytest.mark.parametrize("build", [_rnn, _projection, _two_taps, _filled_to_n, _until])
def test_a_function_with_a_scan_saves_and_loads(build, tmp_path):
    out = build()
    inputs = [v for v in VALUES if v in set(ancestors([out]))]
    f = nbgrad.function(inputs, out)
    g = _saved_and_loaded(f, tmp_path / "f.npz")
    assert g.source == f.source
    args = [VALUES[v] for v in inputs]
    np.testing.assert_array_equal(g(*args), f(*args))


def test_a_scan_s_gradient_and_its_shared_updates_save_and_load(tmp_path):
    w = nbgrad.shared(np.array([0.5, -0.3, 0.2]), name="w")
    hs, _ = nbgrad.scan(lambda x_t, h, w: T.tanh(h * w + x_t), sequences=x, outputs_info=h0, non_sequences=w)
    cost = (hs[-1] ** 2).sum()
    f = nbgrad.function([x, h0], cost, updates=[(w, w - 0.1 * T.grad(cost, w))])
    g = _saved_and_loaded(f, tmp_path / "f.npz")
    for _ in range(2):
        np.testing.assert_allclose(g(VALUES[x], VALUES[h0]), f(VALUES[x], VALUES[h0]), rtol=1e-12)
    np.testing.assert_allclose(g.maker.user_updates[0][0].get_value(), w.get_value(), rtol=1e-12)


def test_a_scan_drawing_random_numbers_saves_and_loads(tmp_path):
    from nbgrad.random import RandomStreams

    srng = RandomStreams(seed=7)
    ys, updates = nbgrad.scan(lambda h: h + srng.normal((3,)), outputs_info=h0, n_steps=4)
    f = nbgrad.function([h0], ys[-1], updates=updates)
    g = _saved_and_loaded(f, tmp_path / "f.npz")
    for _ in range(2):
        np.testing.assert_array_equal(g(VALUES[h0]), f(VALUES[h0]))


def test_a_scan_whose_inner_graph_does_not_fit_its_info_is_refused(tmp_path):
    import json

    from nbgrad.serialize import SerializationError
    from tests.test_serialize import _doc, _rewrite

    path = tmp_path / "f.npz"
    nbgrad.save(path, nbgrad.function([x, h0], _rnn()))
    doc, arrays = _doc(path)
    text = json.dumps(doc)
    assert '"n_nonseq": 0' in text
    _rewrite(path, json.loads(text.replace('"n_nonseq": 0', '"n_nonseq": 2')), arrays)
    with pytest.raises(SerializationError, match="Scan cannot be rebuilt .* does not fit its info"):
        nbgrad.load(path)
