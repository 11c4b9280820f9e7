"""MonitorMode and DebugMode: hooks around each node, and the checks of a debugging run."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.compile import DebugMode, MonitorMode
from nbgrad.compile.modes import (
    BadDestroyMap, BadOptimization, BadThunkOutput, DebugModeError, InvalidValueError,
)
from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
rng = np.random.default_rng(3)


# --- MonitorMode ----------------------------------------------------------------------------
def test_monitor_calls_pre_and_post_around_every_node_in_order():
    x = T.dvector("x")
    calls = []

    def pre(i, node, fn):
        assert all(cell[0] is None for cell in fn.outputs)
        calls.append(("pre", i, str(node.op), [np.array(c[0]) for c in fn.inputs]))

    def post(i, node, fn):
        calls.append(("post", i, str(node.op), [np.array(c[0]) for c in fn.outputs]))

    mode = MonitorMode(pre_func=pre, post_func=post).excluding("fusion", "inplace")
    f = nbgrad.function([x], T.exp(x).sum() * 2, mode=mode)
    value = np.array([0.0, 1.0])
    assert float(f(value)) == pytest.approx(2 * (1 + np.e))
    ops = [c[2] for c in calls if c[0] == "pre"]
    assert ops[0] == "exp" and len(ops) == len(f.maker.fgraph.apply_nodes)
    assert [c[0] for c in calls] == ["pre", "post"] * len(ops)
    assert [c[1] for c in calls[::2]] == sorted(c[1] for c in calls[::2])
    np.testing.assert_array_equal(calls[0][3][0], value)
    np.testing.assert_allclose(calls[1][3][0], np.exp(value))


def test_monitor_finds_the_node_that_makes_a_nan():
    x = T.dscalar("x")
    first = []

    def detect_nan(i, node, fn):
        outs = [c[0] for c in fn.outputs]
        ins = [c[0] for c in fn.inputs]
        if any(np.isnan(o).any() for o in outs) and not any(np.isnan(v).any() for v in ins):
            first.append(str(node.op))

    f = nbgrad.function([x], T.log(x) * x,
                        mode=MonitorMode(post_func=detect_nan).excluding("local_elemwise_fusion", "inplace"))
    f(2.0)
    assert first == []
    assert np.isnan(f(-1.0))
    assert first == ["log"]


def test_monitor_sees_fused_nodes_when_fusion_is_on():
    x = T.dvector("x")
    seen = []
    f = nbgrad.function([x], T.exp(x) * 2 + 1,
                        mode=MonitorMode(post_func=lambda i, node, fn: seen.append(node)))
    f(np.zeros(2))
    assert len(seen) == len(f.maker.fgraph.apply_nodes) == 1


def test_monitor_mode_leaves_other_functions_alone():
    x = T.dvector("x")
    seen = []
    nbgrad.function([x], T.exp(x), mode=MonitorMode(post_func=lambda *a: seen.append(a)))
    g = nbgrad.function([x], T.exp(x))
    g(np.zeros(2))
    assert seen == []


def test_monitor_mode_with_updates_and_copies():
    w = nbgrad.shared(np.zeros(2), name="w")
    x = T.dvector("x")
    seen = []
    mode = MonitorMode(post_func=lambda i, node, fn: seen.append(str(node.op)))
    f = nbgrad.function([x], (w * x).sum(), updates=[(w, w + x)], mode=mode)
    f(np.ones(2))
    f(np.ones(2))
    np.testing.assert_array_equal(w.get_value(), [2.0, 2.0])
    assert seen
    n = len(seen)
    f.copy()(np.ones(2))
    assert len(seen) > n  # the copy is compiled in the same mode


def test_monitor_mode_refuses_what_is_not_callable_and_unknown_rewrites():
    with pytest.raises(TypeError, match="post_func must be callable"):
        MonitorMode(post_func="print")
    with pytest.raises(ValueError, match="no rewrite or tag named 'no_such_rewrite'"):
        MonitorMode().excluding("no_such_rewrite")


def test_including_and_excluding_return_new_modes():
    base = MonitorMode(post_func=lambda *a: None)
    nofuse = base.excluding("fusion")
    assert nofuse is not base and nofuse.post_func is base.post_func
    x = T.dvector("x")
    assert "fuse_elemwise" not in nbgrad.function([x], T.exp(x) * 2, mode=nofuse).maker.rewrites_applied
    assert "fuse_elemwise" in nbgrad.function([x], T.exp(x) * 2, mode=base).maker.rewrites_applied


# --- DebugMode -------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["DebugMode", "DEBUG_MODE", DebugMode(), DebugMode("fast_compile")])
def test_debug_mode_runs_correct_graphs_unchanged(mode):
    x, y = T.dvectors("xy")
    W = nbgrad.shared(rng.normal(size=(3, 2)), name="W")
    z = T.nnet.softmax(T.dot(T.stack([x, y]), W.T))
    cost = -T.log(z[:, 0]).mean() + (W ** 2).sum()
    f = nbgrad.function([x, y], [cost, *T.grad(cost, [x, W])], updates=[(W, W - 0.1 * T.grad(cost, W))],
                        mode=mode)
    ref = nbgrad.function([x, y], [cost, *T.grad(cost, [x, W])])
    xv, yv = rng.normal(size=2), rng.normal(size=2)
    expected = ref(xv, yv)
    before = W.get_value()
    got = f(xv, yv)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12)
    assert not np.allclose(W.get_value(), before)


def test_debug_mode_with_random_streams_and_scan():
    srng = T.shared_randomstreams.RandomStreams(seed=4)
    x = T.dvector("x")
    noisy = x + srng.normal(x.shape)
    out, _ = nbgrad.scan(lambda v, acc: acc + v, sequences=noisy, outputs_info=T.constant(0.0))
    f = nbgrad.function([x], out[-1], mode="DebugMode")
    a, b = f(np.zeros(5)), f(np.zeros(5))
    assert np.isfinite(a) and a != b  # the stream moves on once per call, as in FAST_RUN


def test_debug_mode_names_the_node_that_overflows():
    x = T.dvector("x")
    f = nbgrad.function([x], T.exp(x).sum(), mode="DebugMode")
    assert float(f(np.zeros(2))) == 2.0
    with pytest.raises(InvalidValueError, match=r"exp.*NaN or inf") as info:
        f(np.array([1.0, 800.0]))
    assert "test_modes.py" in str(info.value)  # the line of user code that built the node
    assert isinstance(info.value, DebugModeError)


def test_debug_mode_refuses_nan_inputs_and_shared_values():
    x = T.dvector("x")
    s = nbgrad.shared(np.array([1.0, np.nan]), name="s")
    f = nbgrad.function([x], x * 2, mode="DebugMode")
    with pytest.raises(InvalidValueError, match=r"input 0 \(x\) holds NaN or inf"):
        f(np.array([np.inf]))
    g = nbgrad.function([x], x * s, mode="DebugMode")
    with pytest.raises(InvalidValueError, match="shared variable s"):
        g(np.ones(2))
    # check_isfinite=False turns the value checks off
    np.testing.assert_array_equal(nbgrad.function([x], x * 2, mode=DebugMode(check_isfinite=False))(
        np.array([np.inf])), [np.inf])


def test_debug_mode_accepts_what_a_stabilizing_rewrite_fixes():
    x = T.dvector("x")
    f = nbgrad.function([x], T.log(T.nnet.softmax(x, axis=-1)), mode="DebugMode")
    got = f(np.array([1000.0, 0.0]))
    np.testing.assert_allclose(got, [0.0, -1000.0])


class _Counter(Op):
    """x + (number of times run): the optimized and the written graph see different values."""

    __props__ = ()

    def __init__(self):
        self.runs = 0

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        self.runs += 1
        return inputs[0] + self.runs


def test_debug_mode_reports_a_rewritten_graph_that_computes_another_value():
    x = T.dvector("x")
    f = nbgrad.function([x], _Counter()(x) * 2, mode="DebugMode")
    with pytest.raises(BadOptimization, match=r"another value for .* than the graph as written"):
        f(np.zeros(2))


class _FastButWrong(Op):
    """Its fast thunk adds 1, its reference perform doubles: they disagree except at 1."""

    __props__ = ()

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        return inputs[0] * 2

    def make_thunk(self, node, xp):
        return lambda x: x + 1


class _SecretlyInPlace(Op):
    """Writes into its input without a destroy_map."""

    __props__ = ()

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        return inputs[0] + 1

    def make_thunk(self, node, xp):
        def thunk(x):
            x += 1
            return x

        return thunk


def test_debug_mode_compares_a_fast_thunk_with_the_reference_perform():
    x = T.dvector("x")
    f = nbgrad.function([x], _FastButWrong()(x), mode="DebugMode")
    np.testing.assert_array_equal(f(np.ones(2)), [2.0, 2.0])
    with pytest.raises(BadThunkOutput, match="differs from the op's reference perform"):
        f(np.zeros(2))


def test_debug_mode_catches_an_undeclared_overwrite():
    x = T.dvector("x")
    f = nbgrad.function([x], _SecretlyInPlace()(T.exp(x)) + T.exp(x), mode=DebugMode().excluding("fusion"))
    with pytest.raises(BadDestroyMap, match="changed its input 0"):
        f(np.zeros(2))


def test_unknown_mode_names_are_still_refused():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="rewrites must be one of"):
        nbgrad.function([x], x, mode="DebugMod")


def test_a_function_compiled_in_a_debugging_mode_saves_as_an_ordinary_one(tmp_path):
    x = T.dvector("x")
    f = nbgrad.function([x], T.exp(x) * 2, mode=DebugMode().excluding("fusion"))
    nbgrad.save(tmp_path / "f.npz", f)
    g = nbgrad.load(tmp_path / "f.npz")
    np.testing.assert_allclose(g(np.zeros(2)), [2.0, 2.0])
    assert "fuse_elemwise" not in g.maker.rewrites_applied
    g(np.array([800.0]))  # no DebugMode checks after loading
