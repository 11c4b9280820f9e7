"""The linker's generated code, run-time error reports, and the compile cache."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.compile.function import CompiledFunctionError
from nbgrad.rewriting import Mode, cache


def test_source_is_straight_line_one_line_per_node():
    x, y = T.dvector("x"), T.dvector("y")
    f = nbgrad.function([x, y], [T.dot(x, y), T.exp(x) + y], mode=Mode(excluding=["fusion"]))
    body = f.source.splitlines()[1:-1]
    assert len(body) == len(f.maker.fgraph.apply_nodes)
    assert not any(w in f.source for w in ("for ", "while ", "if "))
    assert f(np.ones(2), np.ones(2))[0] == 2.0


def test_error_in_fused_node_names_node_shapes_and_user_lines():
    x, y = T.dvector("x"), T.dvector("y")
    a = T.exp(x) * 2  # line A
    out = a + T.sin(y)  # line B
    f = nbgrad.function([x, y], out)
    with pytest.raises(CompiledFunctionError) as info:
        f(np.ones(3), np.ones(4))
    msg = str(info.value)
    assert "Composite" in msg
    assert "shape (3,), dtype float64" in msg and "shape (4,), dtype float64" in msg
    assert "test_linker.py" in msg
    assert "a = T.exp(x) * 2  # line A" in msg and "out = a + T.sin(y)  # line B" in msg


def test_same_structure_compiles_once():
    cache.clear()

    def build():
        x = T.dvector("x")
        return nbgrad.function([x], T.tanh(x) * 2 + T.exp(-x))

    f1 = build()
    assert len(cache._cache) == 1
    f2 = build()
    assert len(cache._cache) == 1
    assert f2.maker.rewrites_applied == f1.maker.rewrites_applied
    assert f2.maker.fgraph.inputs[0] is f2.maker.inputs[0].variable
    v = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(f1(v), f2(v))
    x = T.dvector("x")
    nbgrad.function([x], T.tanh(x) * 3 + T.exp(-x))  # another constant: another entry
    assert len(cache._cache) == 2


def test_cached_graph_keeps_shared_variables_apart():
    s1, s2 = nbgrad.shared(1.0), nbgrad.shared(5.0)
    x = T.dscalar("x")
    f1 = nbgrad.function([x], x * s1, updates=[(s1, s1 + 1)])
    f2 = nbgrad.function([x], x * s2, updates=[(s2, s2 + 1)])
    assert f1(2.0) == 2.0 and f2(2.0) == 10.0
    assert s1.get_value() == 2.0 and s2.get_value() == 6.0


def test_outputs_are_fresh_arrays_every_call():
    x = T.dvector("x")
    f = nbgrad.function([x], T.exp(x) * 2)
    r1 = f(np.zeros(3))
    r2 = f(np.ones(3))
    assert r1 is not r2 and np.all(r1 == 2.0)


def test_fast_compile_mode_runs_unfused():
    x = T.dvector("x")
    f = nbgrad.function([x], T.exp(x) * 1, mode="FAST_COMPILE")
    # only the 'stability' rewrites run (here: the broadcast 1 becomes a constant)
    assert f.maker.rewrites_applied in ([], ["broadcast_constant"])
    assert len(f.maker.fgraph.apply_nodes) >= 2


def test_a_single_node_program_exposes_its_thunk_as_kernel():
    x, y = T.dvector("x"), T.dvector("y")
    xv, yv = np.arange(3.0), np.ones(3)
    add = nbgrad.function([x, y], x + y)
    kernel = add._program.kernel
    assert kernel is not None
    np.testing.assert_array_equal(kernel(xv, yv), add(xv, yv))
    total = nbgrad.function([x], T.sum(x))._program.kernel
    assert total is not None and type(total(xv)) is np.ndarray and total(xv) == 3.0
    # more than one node, inputs in another order, an output that is an input's view,
    # or shared storage: no kernel
    assert nbgrad.function([x, y], T.sum(x) * T.sum(y))._program.kernel is None
    assert nbgrad.function([y, x], x - y)._program.kernel is None
    assert nbgrad.function([x], x[1:])._program.kernel is None
    assert nbgrad.function([x], x + nbgrad.shared(np.ones(3)))._program.kernel is None


def _constants_passed(f):
    """The constants the generated code passes to thunks, by name."""
    env = f._fn.__globals__
    return {name: env[name] for name in env if name.startswith("_c") and name[2:].isdigit()}


def test_one_element_constant_reaches_an_elementwise_thunk_as_0d():
    # ``x > 0.5`` keeps its constant of type (1,) in the graph; the thunk gets it 0-d
    x = T.dvector("x")
    f = nbgrad.function([x], x > 0.5)
    (c,) = _constants_passed(f).values()
    assert c.shape == () and c.dtype == np.float64 and c == 0.5
    v = np.array([0.5, np.nextafter(0.5, 1), -np.inf, np.nan])
    np.testing.assert_array_equal(f(v), v > 0.5)
    none = nbgrad.function([x], x > 0.5, mode=Mode("NONE"))
    np.testing.assert_array_equal(none(v), f(v))
    m = T.dmatrix("m")  # the result keeps its rank and shape
    g = nbgrad.function([m], T.maximum(m, 2.0))
    assert g(np.ones((1, 1))).shape == (1, 1) and g(np.ones((2, 3))).shape == (2, 3)


def test_constants_keep_their_shape_where_the_result_would_change():
    # an elementwise node of constants only (rewrites off): its result keeps shape (1,);
    # a constant given to any other op keeps its shape
    f = nbgrad.function([], T.constant(np.array([2.0])) * T.constant(np.array([3.0])), mode=Mode("NONE"))
    assert f().shape == (1,)
    x = T.dvector("x")
    g = nbgrad.function([x], T.dot(x, T.constant(np.array([2.0]))))
    assert [c.shape for c in _constants_passed(g).values()] == [(1,)]
    assert g(np.array([3.0])) == 6.0


def _operands_of(f, op_name):
    """The source names the generated code passes to the (one) node whose op is ``op_name``."""
    program = f._program
    lines = program.source.splitlines()
    (lineno,) = [n for n, node in program.line_nodes.items() if str(node.op).startswith(op_name)]
    return lines[lineno - 1].split("(", 1)[1].rstrip(")").split(", ")


def test_a_broadcast_scalar_reaches_an_elementwise_thunk_as_itself():
    # x - s is sub(x, DimShuffle{x}(s)); the thunk gets s, 0-d, and the result keeps x's shape
    x, s = T.dvector("x"), T.dscalar("s")
    f = nbgrad.function([x, s], T.exp(x) - s, mode=Mode(excluding=["fusion"]))
    assert _operands_of(f, "sub") == [_operands_of(f, "sub")[0], "i1"]
    for v in (np.array([1.0, -2.0]), np.array([3.0]), np.zeros(0)):
        r = f(v, 0.5)
        assert r.shape == v.shape
        np.testing.assert_array_equal(r, np.exp(v) - 0.5)
    fused = nbgrad.function([x, s], T.exp(x) - s)
    np.testing.assert_array_equal(fused(np.array([1.0, 2.0]), -0.0), np.exp([1.0, 2.0]))


def test_broadcast_scalars_alone_keep_their_shape():
    # every operand a broadcast scalar: the result has shape (1,), so they stay broadcast
    s, t = T.dscalars("s", "t")
    f = nbgrad.function([s, t], T.shape_padleft(s) + T.shape_padleft(t))
    assert f(1.0, 2.0).shape == (1,) and f(1.0, 2.0)[0] == 3.0
