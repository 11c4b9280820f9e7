"""What the linker calls per node: thunks decided from the node's types at compile time."""

import itertools

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.backends.cpu_kernels import MIN_REUSED_SIZE
from nbgrad.scalar.composite import Composite
from nbgrad.tensor.elemwise import DimShuffle, Elemwise


def _patterns():
    for ndim in range(4):
        for dropped in itertools.product([False, True], repeat=ndim):
            kept = [d for d in range(ndim) if not dropped[d]]
            shape = tuple(1 if dropped[d] else d + 2 for d in range(ndim))
            for n_new in range(3):
                for where in itertools.combinations(range(len(kept) + n_new), n_new):
                    it = iter(kept)
                    order = tuple("x" if i in where else next(it) for i in range(len(kept) + n_new))
                    yield ndim, shape, order


@pytest.mark.parametrize("ndim, shape, order", list(_patterns()))
def test_dimshuffle_thunk_is_a_view_equal_to_perform(ndim, shape, order):
    op = DimShuffle(ndim, order)
    x = np.arange(float(np.prod(shape))).reshape(shape)
    got = op.make_thunk(None, np)(x)
    want = op.perform(None, (x,), np)
    assert type(got) is np.ndarray  # a 0-d result stays an array
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert np.shares_memory(got, x)


def _fused_node(f):
    return next(n for n in f.maker.fgraph.toposort()
                if isinstance(n.op, Elemwise) and isinstance(n.op.scalar_op, Composite))


def test_static_small_fused_node_runs_the_direct_form_without_a_size_test():
    x = T.tensor("float64", shape=(3, 4), name="x")
    f = nbgrad.function([x], T.exp(x) * 2 + 1)
    node = _fused_node(f)
    assert node.op.make_thunk(node, np) is node.op.scalar_op.impl(np).small
    v = np.linspace(-1, 1, 12).reshape(3, 4)
    np.testing.assert_allclose(f(v), np.exp(v) * 2 + 1)


def test_large_result_of_a_row_and_a_matrix_reuses_its_released_buffer():
    # the matrix (second operand) has the result's shape: its size picks the large form
    r = T.row("r")
    m = T.dmatrix("m")
    f = nbgrad.function([r, m], T.exp(r) * m + 1)
    n = int(np.sqrt(MIN_REUSED_SIZE)) + 8
    rv, mv = np.linspace(0, 1, n)[None], np.ones((n, n))
    first = f(rv, mv)
    np.testing.assert_allclose(first, np.exp(rv) * mv + 1)
    address = first.ctypes.data
    del first
    second = f(rv, mv)
    assert second.ctypes.data == address
    np.testing.assert_allclose(second, np.exp(rv) * mv + 1)


def test_fused_node_still_checks_operand_sizes_first():
    x, y = T.dvector("x"), T.dvector("y")
    f = nbgrad.function([x, y], T.exp(x) * y + 1)
    with pytest.raises(ValueError, match="axis 0"):
        f(np.ones(3), np.ones(2))
    g = nbgrad.function([x, y], x * y)  # one operation: the ufunc's own thunk
    with pytest.raises(ValueError, match="axis 0"):
        g(np.ones(3), np.ones(2))
