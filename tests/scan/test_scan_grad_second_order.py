"""Second derivatives through scan: the gradient of an expression that holds a scan's gradient."""

import numpy as np

import nbgrad
import nbgrad.tensor as T


def test_gradient_of_a_scan_gradient_times_its_input_matches_finite_differences():
    h0, W = T.dvector("h0"), T.dmatrix("W")
    hs, _ = nbgrad.scan(lambda h, W: T.tanh(T.dot(W, h)), outputs_info=h0, non_sequences=W, n_steps=3)
    inner = (T.grad(hs.sum(), h0) * h0).sum()  # the scan's gradient, used again
    outer = nbgrad.function([h0, W], T.grad(inner, h0))
    value = nbgrad.function([h0, W], inner)
    rng = np.random.default_rng(7)
    hv, Wv = rng.normal(size=3), rng.normal(size=(3, 3))
    eps = 1e-6
    fd = np.array([(value(hv + eps * e, Wv) - value(hv - eps * e, Wv)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(outer(hv, Wv), fd, rtol=1e-6, atol=1e-8)
