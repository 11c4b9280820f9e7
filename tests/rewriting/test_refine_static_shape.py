"""refine_static_shape: nodes typed before their operands' sizes were known get those sizes."""

import numpy as np

import nbgrad
import nbgrad.tensor as T
from nbgrad.rewriting import Mode
from nbgrad.tensor.elemwise import Elemwise
from tests.rewriting.helpers import rewritten, same_values

PLAIN = Mode(excluding=["fusion", "inplace"])


def _reshaped():
    """A (3, 4) matrix reshaped to sizes read off its own shape: constants only after folding."""
    f = T.tensor("float64", shape=(3, 4), name="f")
    return f, f.reshape((f.shape[1], f.shape[0]))


def test_an_elementwise_node_gets_the_sizes_its_operands_have_now():
    f, r = _reshaped()
    out = T.exp(r) * 2.0
    assert out.type.shape == (None, None)
    fg, applied = rewritten([f], out, PLAIN)
    assert "refine_static_shape_late" in applied
    assert fg.outputs[0].type.shape == (4, 3)
    assert all(n.outputs[0].type.shape == (4, 3) for n in fg.apply_nodes if isinstance(n.op, Elemwise))
    value = np.arange(12.0).reshape(3, 4) / 10
    assert same_values(nbgrad.function([f], out)(value), np.exp(value.reshape(4, 3)) * 2.0, rtol=1e-15)


def test_a_size_of_one_stays_unknown():
    """A static 1 would let the node's users broadcast where they checked sizes before."""
    v = T.dvector("v")
    col = T.tensor("float64", shape=(None, 1), name="col")
    out = T.exp(col) + v.dimshuffle("x", 0)
    fg, _ = rewritten([v, col], out, PLAIN)
    assert fg.outputs[0].type.shape == (None, None)

