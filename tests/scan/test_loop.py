"""The generated loop of a Scan: same values as NumPy, layouts, shape errors, fallback."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.scan import Scan

RNG = np.random.default_rng(1)


def scan_ops(f):
    return [n.op for n in f.maker.fgraph.apply_nodes if isinstance(n.op, Scan)]


def test_loop_is_generated_code_with_the_inner_body_inlined():
    W, X, h0 = T.dmatrix("W"), T.dtensor3("X"), T.dmatrix("h0")
    hs, _ = nbgrad.scan(lambda x, h, W: T.tanh(T.dot(h, W) + x), sequences=X,
                        outputs_info=h0, non_sequences=W)
    f = nbgrad.function([W, X, h0], hs)
    w, x, h = RNG.normal(size=(3, 3)), RNG.normal(size=(5, 2, 3)), RNG.normal(size=(2, 3))
    f(w, x, h)
    (op,) = scan_ops(f)
    loops = [fn for key, fn in op._compiled.items() if isinstance(key, tuple)]
    assert len(loops) == 1 and "for t" in loops[0].source
    # the step body calls the inner ops directly: no inner compiled function exists
    assert "numpy" not in op._compiled


def test_transposed_matrix_non_sequence_gives_the_same_values():
    # W.T reaches the loop as a non-contiguous array; it is made contiguous once per call
    W, X, h0 = T.fmatrix("W"), T.ftensor3("X"), T.fmatrix("h0")
    hs, _ = nbgrad.scan(lambda x, h, Wt: T.tanh(T.dot(h, Wt) + x), sequences=X,
                        outputs_info=h0, non_sequences=W.T)
    f = nbgrad.function([W, X, h0], hs)
    w = RNG.normal(size=(4, 4)).astype("float32")
    x = RNG.normal(size=(6, 2, 4)).astype("float32")
    h = RNG.normal(size=(2, 4)).astype("float32")
    ref, hp = [], h
    for xt in x:
        hp = np.tanh(hp @ w.T + xt)
        ref.append(hp)
    np.testing.assert_allclose(f(w, x, h), np.array(ref), rtol=1e-5)
    # the caller's array is not modified or replaced
    assert not w.T.flags.c_contiguous


def test_non_sequence_used_by_dot_and_elementwise():
    W, h0 = T.dmatrix("W"), T.dmatrix("h0")
    hs, _ = nbgrad.scan(lambda h, Wt: T.dot(h, Wt) * 0.5 + Wt[0], outputs_info=h0,
                        non_sequences=W.T, n_steps=4)
    f = nbgrad.function([W, h0], hs)
    w, h = RNG.normal(size=(3, 3)), RNG.normal(size=(2, 3))
    ref, hp = [], h
    for _ in range(4):
        hp = hp @ w.T * 0.5 + w.T[0]
        ref.append(hp)
    np.testing.assert_allclose(f(w, h), np.array(ref), rtol=1e-12)


def test_ring_buffer_state_with_two_taps_and_nitsot_output():
    v = T.dvector("v")
    (s, d), _ = nbgrad.scan(lambda x, a, b: (a + b + x, a - b),
                            sequences=v, outputs_info=[dict(initial=T.constant(np.array([0.0, 1.0])),
                                                            taps=[-2, -1]), None])
    last = nbgrad.function([v], s[-1])  # only the last value is needed: a ring buffer
    both = nbgrad.function([v], [s, d])
    x = RNG.normal(size=7)
    ref_s, ref_d, a, b = [], [], 0.0, 1.0
    for xt in x:
        ref_d.append(a - b)
        a, b = b, a + b + xt
        ref_s.append(b)
    np.testing.assert_allclose(last(x), ref_s[-1], rtol=1e-12)
    got_s, got_d = both(x)
    np.testing.assert_allclose(got_s, ref_s, rtol=1e-12)
    np.testing.assert_allclose(got_d, ref_d, rtol=1e-12)


def test_until_with_generated_loop_returns_steps_done():
    from nbgrad.scan import until

    x = T.dscalar("x")
    vals, _ = nbgrad.scan(lambda p: (p * 2, until(p * 2 > 40)), outputs_info=x, n_steps=20)
    np.testing.assert_allclose(nbgrad.function([x], vals)(3.0), [6, 12, 24, 48])


def test_shape_mistake_in_step_still_names_the_output():
    v, h0 = T.dmatrix("v"), T.dvector("h0")
    hs, _ = nbgrad.scan(lambda x, h: h + x.sum(), sequences=v, outputs_info=h0)
    f = nbgrad.function([v, h0], hs)
    np.testing.assert_allclose(f(np.ones((3, 2)), np.zeros(4))[-1], np.full(4, 6.0))
    # a step that returns a larger row than outputs_info: a clear error, not a wrong result
    w, g0 = T.dmatrix("w"), T.dvector("g0")
    gs, _ = nbgrad.scan(lambda x, g: g + x, sequences=w, outputs_info=g0)
    g = nbgrad.function([w, g0], gs)
    with pytest.raises(Exception, match="outputs_info"):
        g(np.ones((3, 5)), np.zeros(1))
