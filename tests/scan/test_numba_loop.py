"""The Numba-compiled scan loop gives the NumPy loop's values, and falls back to it."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.scan import Scan
from nbgrad.scan import op as scan_op
from nbgrad.scan.numba_loop import Unsupported, loop_source

pytest.importorskip("numba")

RNG = np.random.default_rng(3)


@pytest.fixture(autouse=True)
def _cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRAD_CACHE_DIR", str(tmp_path))


def _scans(f):
    return [n.op for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)]


def _both(build, *args):
    """Results of the function ``build()`` compiles, with the NumPy loop and with Numba."""
    with nbgrad.config.change_flags(scan_compiler="numpy"):
        ref = build()(*args)
    with nbgrad.config.change_flags(scan_compiler="numba"):
        f = build()
        got = f(*args)
    return ref, got, f


def _close(ref, got):
    ref = ref if isinstance(ref, list) else [ref]
    got = got if isinstance(got, list) else [got]
    assert len(ref) == len(got)
    for r, g in zip(ref, got):
        assert r.shape == g.shape and r.dtype == g.dtype
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)


def _compiled(f):
    return [op._compiled.get(("numba", "numpy")) is not None for op in _scans(f)]


def rnn():
    w, xs, h = T.dmatrix("W"), T.dmatrix("X"), T.dvector("h0")
    hs, _ = nbgrad.scan(lambda x, hp, w: T.tanh(T.dot(w, hp) + x),
                        sequences=xs, outputs_info=h, non_sequences=[w])
    return [w, xs, h], hs


def test_an_rnn_and_its_gradient_match_the_numpy_loop():
    W, X, h0 = RNG.normal(size=(4, 4)) / 2, RNG.normal(size=(30, 4)), RNG.normal(size=4)

    def build():
        ins, hs = rnn()
        return nbgrad.function(ins, [hs, T.grad(hs[-1].sum(), ins[0])])

    ref, got, f = _both(build, W, X, h0)
    _close(ref, got)
    assert _compiled(f) == [True, True]


def test_batched_states_with_broadcasting_and_a_transposed_weight():
    W, X, h0 = RNG.normal(size=(3, 3)), RNG.normal(size=(7, 2, 3)), RNG.normal(size=(2, 3))

    def build():
        w, xs, h = T.dmatrix("W"), T.dtensor3("X"), T.dmatrix("h0")
        b = T.dvector("b")
        hs, _ = nbgrad.scan(lambda x, hp, w, b: T.nnet.sigmoid(T.dot(hp, w.T) + x + b) * 2 - 1,
                            sequences=xs, outputs_info=h, non_sequences=[w, b])
        return nbgrad.function([w, xs, h, b], hs)

    ref, got, f = _both(build, W, X, h0, np.arange(3.0))
    _close(ref, got)
    assert _compiled(f) == [True]


def test_taps_a_ring_buffer_and_a_per_step_output():
    def build():
        x0 = T.dmatrix("x0")
        c = T.dscalar("c")

        def step(a, b, c):
            nxt = a + b * c
            return nxt, T.switch(T.gt(nxt, 0), nxt, -nxt) ** 2

        (fib, sq), _ = nbgrad.scan(step, outputs_info=[dict(initial=x0, taps=[-2, -1]), None],
                                   non_sequences=c, n_steps=9)
        return nbgrad.function([x0, c], [fib[-1], sq])

    ref, got, f = _both(build, np.array([[0.5, 1.0], [1.0, -2.0]]), -0.8)
    _close(ref, got)
    assert _compiled(f) == [True]


def test_a_scalar_state_and_an_until_condition():
    def build():
        x = T.dscalar("x")
        out, _ = nbgrad.scan(lambda v: (v * 1.5 + 1, nbgrad.scan_module.until(v > 50)),
                             outputs_info=x, n_steps=40)
        return nbgrad.function([x], out)

    ref, got, f = _both(build, 1.0)
    _close(ref, got)
    assert got.shape[0] < 40
    assert _compiled(f) == [True]


def test_an_inner_graph_it_does_not_translate_runs_with_numpy():
    def build():
        xs = T.dmatrix("X")
        out, _ = nbgrad.scan(lambda x: x[::-1] * x.sum(), sequences=xs)
        return nbgrad.function([xs], out)

    ref, got, f = _both(build, RNG.normal(size=(5, 3)))
    _close(ref, got)
    assert _compiled(f) == [False]
    with pytest.raises(Unsupported):
        op = _scans(f)[0]
        loop_source(op, op._inner_graph(np))


def test_a_step_of_the_wrong_shape_fails_as_with_numpy():
    def build():
        x, w = T.dvector("x"), T.dmatrix("w")
        out, _ = nbgrad.scan(lambda v, w: T.tanh(T.dot(w, v)), outputs_info=x, non_sequences=w,
                             n_steps=3)
        return nbgrad.function([x, w], out)

    messages = []
    for mode in ("numpy", "numba"):
        with nbgrad.config.change_flags(scan_compiler=mode):
            f = build()
            with pytest.raises(ValueError) as err:
                f(np.ones(2), np.ones((3, 2)))
            messages.append(str(err.value).split("The node was created")[0])
    assert messages[1] == messages[0]
    assert _compiled(f) == [True]  # compiled, but it left this call to the NumPy loop


def test_a_state_row_that_broadcasts_falls_back_for_that_call():
    # the step returns one element for a row of three: NumPy broadcasts it into the row
    def build():
        x, w = T.dvector("x"), T.dmatrix("w")
        out, _ = nbgrad.scan(lambda v, w: T.dot(w, v) * 2, outputs_info=x, non_sequences=w,
                             n_steps=4)
        return nbgrad.function([x, w], out)

    ref, got, f = _both(build, np.ones(3), np.full((1, 3), 0.5))
    _close(ref, got)
    assert _compiled(f) == [True]


def test_auto_compiles_once_the_loop_has_run_long_enough(monkeypatch):
    W, X, h0 = RNG.normal(size=(4, 4)) / 2, RNG.normal(size=(20, 4)), RNG.normal(size=4)
    monkeypatch.setattr(scan_op, "SCAN_COMPILE_AFTER", 1e-9)
    with nbgrad.config.change_flags(scan_compiler="auto"):
        ins, hs = rnn()
        f = nbgrad.function(ins, hs)
        first = f(W, X, h0)  # nothing spent yet: NumPy
        assert _compiled(f) == [False]
        second = f(W, X, h0)
        assert _compiled(f) == [True]
    np.testing.assert_allclose(second, first, rtol=1e-12)
    monkeypatch.setattr(scan_op, "SCAN_COMPILE_AFTER", 1e9)
    with nbgrad.config.change_flags(scan_compiler="auto"):
        ins, hs = rnn()
        f = nbgrad.function(ins, hs)
        f(W, X, h0)
        f(W, X, h0)
        assert _compiled(f) == [False]


def test_numpy_mode_never_compiles(monkeypatch):
    monkeypatch.setattr(scan_op, "SCAN_COMPILE_AFTER", 0.0)
    with nbgrad.config.change_flags(scan_compiler="numpy"):
        ins, hs = rnn()
        f = nbgrad.function(ins, hs)
        for _ in range(3):
            f(np.eye(4), np.ones((5, 4)), np.zeros(4))
    assert _compiled(f) == [False]


def test_the_generated_loop_reads_as_straight_loops():
    ins, hs = rnn()
    f = nbgrad.function(ins, hs)
    op = _scans(f)[0]
    src = loop_source(op, op._inner_graph(np))
    assert src.startswith("def scan_loop(n, c0, st0, z0, p0):\n")
    assert "np.tanh(" in src and "for t in range(n):" in src
    assert "np.dot" not in src  # Numba's dot links BLAS at a compile cost of seconds
