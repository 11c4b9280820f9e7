"""Reshape's static output sizes where one target size is known only at run time."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T


def test_the_one_unknown_size_is_what_the_others_leave():
    x = T.TensorType("float64", (6, 5))("x")
    m = T.dmatrix("m")
    r = x.reshape((3, m.shape[1], 5))
    assert r.type.shape == (3, 2, 5)
    f = nbgrad.function([x, m], r)
    xv = np.arange(30.0).reshape(6, 5)
    np.testing.assert_array_equal(f(xv, np.zeros((1, 2))), xv.reshape(3, 2, 5))
    with pytest.raises(ValueError, match="cannot reshape"):
        f(xv, np.zeros((1, 4)))


def test_sizes_that_do_not_divide_stay_unknown():
    x = T.TensorType("float64", (7,))("x")
    n = T.lscalar("n")
    assert x.reshape((2, n)).type.shape == (2, None)
    assert x.reshape((n, T.lscalar("k"))).type.shape == (None, None)
