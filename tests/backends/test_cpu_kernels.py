"""The CPU evaluator of a Composite against plain NumPy, on every side of its size thresholds.

A fused kernel keeps its temporaries in reused buffers (per block, or in the result and in
dead temporaries when it runs unblocked); a buffer handed to two live temporaries at once
gives silently wrong numbers. Random inner graphs, whose temporaries are read once, twice by
one operation (``t * t``) and by several operations, are evaluated on arrays just below, at
and just above each threshold of ``nbgrad.backends.cpu_kernels`` and compared with NumPy
computing the same expression one whole-array operation at a time.

The property tests scale the thresholds down (``_small_thresholds``) so that every path
(direct, unblocked into released buffers, blocked, threaded, unbuffered rows) runs on arrays
of a few hundred elements; one test runs at the real thresholds.
"""

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbgrad
import nbgrad.tensor as T
from nbgrad.backends import cpu_kernels
from nbgrad.backends.cpu_kernels import MIN_BLOCKED_SIZE, cpu_impl
from nbgrad.rewriting.stabilize import log_sigmoid
from nbgrad.scalar.composite import Composite


@contextlib.contextmanager
def _small_thresholds():
    """The evaluator's size constants at 1/2048 of their size (read when an evaluator is made
    and when it runs), with three threads so that blocks split unevenly among them."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in (("BLOCK", 16), ("MIN_REUSED_SIZE", 32), ("MIN_BLOCKED_SIZE", 64),
                            ("MIN_BLOCKED_SIZE_CHEAP", 512), ("UNBUFFERED_ROWS", (16, 64)),
                            ("NUM_THREADS", 3)):
            mp.setattr(cpu_kernels, name, value)
        yield


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _switch(c1, c2, a, b):
    return np.where(np.greater(c1, c2), a, b)


#: name -> (arity, symbolic builder, NumPy reference); the reference never goes through nbgrad.
OPS = {
    "neg": (1, T.neg, np.negative),
    "sin": (1, T.sin, np.sin),
    "cos": (1, T.cos, np.cos),
    "tanh": (1, T.tanh, np.tanh),
    "exp": (1, T.exp, np.exp),
    "sqr": (1, T.sqr, np.square),
    "abs": (1, T.abs, np.abs),
    "sigmoid": (1, T.sigmoid, _sigmoid),
    "softplus": (1, T.softplus, lambda a: np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))),
    "log_sigmoid": (1, log_sigmoid, lambda a: np.minimum(a, -0.0) - np.log1p(np.exp(-np.abs(a)))),
    "float32": (1, lambda a: T.cast(a, "float32"), lambda a: a.astype("float32")),
    "half": (1, lambda a: a * 0.5, lambda a: a * 0.5),
    "add": (2, T.add, np.add),
    "sub": (2, T.sub, np.subtract),
    "mul": (2, T.mul, np.multiply),
    "maximum": (2, T.maximum, np.maximum),
    "logaddexp": (2, T.logaddexp, np.logaddexp),
    "switch": (4, lambda c1, c2, a, b: T.switch(T.gt(c1, c2), a, b), _switch),
}
CHEAP = ["neg", "sqr", "abs", "half", "add", "sub", "mul", "maximum"]


def _sizes():
    """Element counts just below, at and just above every threshold of the evaluator (as set now)."""
    c = cpu_kernels
    edges = {c.BLOCK, c.MIN_REUSED_SIZE, c.MIN_BLOCKED_SIZE, c.MIN_BLOCKED_SIZE_CHEAP,
             c.MIN_BLOCKED_SIZE + c.NUM_THREADS * c.BLOCK}
    return [(n,) for n in sorted({n + d for n in edges for d in (-1, 0, 1)})]


@st.composite
def programs(draw, ops=tuple(OPS)):
    """(number of inputs, [(op name, operand indices)]): values are numbered inputs first.

    Operands are drawn from all values so far with a bias towards the most recent and
    towards repeating the previous operand, so temporaries get read twice by one
    operation and by several operations.
    """
    nin = draw(st.integers(1, 3))
    steps = []
    for k in range(draw(st.integers(1, 9))):
        name = draw(st.sampled_from(ops))
        nvals = nin + k
        args = []
        for _ in range(OPS[name][0]):
            if args and draw(st.integers(0, 2)) == 0:
                args.append(args[-1])  # the same value twice in one call
            else:
                back = draw(st.integers(0, nvals - 1))
                args.append(nvals - 1 - back if draw(st.booleans()) else back)
        steps.append((name, tuple(args)))
    return nin, steps


def _build(nin, steps):
    inner = [T.dscalar(f"i{k}") for k in range(nin)]
    vals = list(inner)
    for name, args in steps:
        vals.append(OPS[name][1](*[vals[a] for a in args]))
    return inner, vals


def _reference(steps, arrays):
    vals = list(arrays)
    with np.errstate(all="ignore"):
        for name, args in steps:
            vals.append(np.asarray(OPS[name][2](*[vals[a] for a in args])))
    return vals


def _inputs(nin, shape, seed, scalar_inputs):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(nin):
        if k in scalar_inputs:
            out.append(np.asarray(rng.uniform(-2, 2)))
        else:
            out.append(rng.uniform(-2, 2, size=shape))
    return out


def _check(result, expected):
    assert result.dtype == expected.dtype
    np.testing.assert_allclose(result, expected, rtol=1e-6, atol=1e-300, equal_nan=True)


def _evaluate_everywhere(nin, steps, seed, scalar_inputs):
    inner, vals = _build(nin, steps)
    out_var = vals[-1]
    if out_var.dtype == "bool" or out_var in inner:
        return
    comp = Composite(inner, [out_var])
    evaluate = comp.impl(np)
    for shape in _sizes():
        arrays = _inputs(nin, shape, seed, scalar_inputs)
        expected = _reference(steps, arrays)[-1]
        with np.errstate(all="ignore"):
            first = evaluate(*arrays)
            _check(first, expected)
            second = evaluate(*arrays)  # ``first`` is still held: it must stay intact
            _check(second, expected)
            _check(first, expected)
            del first, second
            _check(evaluate(*arrays), expected)  # into a released result buffer
            for k, a in enumerate(arrays):  # written over one of its own inputs
                if a.shape == expected.shape and a.dtype == expected.dtype:
                    arrays[k] = a.copy()
                    r = evaluate(*arrays, out=arrays[k])
                    assert r is arrays[k]
                    _check(r, expected)
                    break


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2 ** 32 - 1), st.sets(st.integers(1, 2), max_size=1))
def test_random_fused_graphs_match_numpy_at_every_size_threshold(program, seed, scalar_inputs):
    with _small_thresholds():
        _evaluate_everywhere(*program, seed, scalar_inputs)


@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(ops=tuple(CHEAP)), st.integers(0, 2 ** 32 - 1))
def test_random_cheap_fused_graphs_match_numpy_at_every_size_threshold(program, seed):
    # kernels of cheap arithmetic switch to blocking at their own, larger threshold
    with _small_thresholds():
        _evaluate_everywhere(*program, seed, set())


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 2 ** 32 - 1))
def test_random_fused_graphs_broadcasting_long_rows(program, seed):
    # a row broadcast over a matrix runs unblocked, with NumPy's buffering off for long rows
    nin, steps = program
    inner, vals = _build(nin, steps)
    if vals[-1].dtype == "bool" or vals[-1] in inner:
        return
    rng = np.random.default_rng(seed)
    with _small_thresholds(), np.errstate(all="ignore"):
        evaluate = Composite(inner, [vals[-1]]).impl(np)
        low, high = cpu_kernels.UNBUFFERED_ROWS
        for cols in (low - 1, low, high - 1, high):
            rows = -(-cpu_kernels.MIN_REUSED_SIZE // cols) + 1
            arrays = [rng.uniform(-2, 2, size=(rows, cols) if k == 0 else (1, cols)) for k in range(nin)]
            expected = np.broadcast_to(_reference(steps, arrays)[-1], (rows, cols))
            _check(evaluate(*arrays), expected)


def test_temporary_read_twice_by_one_operation_keeps_its_own_buffer():
    # logaddexp(e, e) freed ``e``'s block buffer twice, so sin(x) and cos(x) shared one
    x = T.dvector("x")
    f = nbgrad.function([x], T.logaddexp(T.exp(x), T.exp(x)) - T.sin(x) * T.cos(x))
    for n in (MIN_BLOCKED_SIZE - 1, MIN_BLOCKED_SIZE, 3 * MIN_BLOCKED_SIZE + 5):
        v = np.linspace(0.1, 1, n)
        np.testing.assert_allclose(f(v), np.logaddexp(np.exp(v), np.exp(v)) - np.sin(v) * np.cos(v),
                                   rtol=1e-12)


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(), programs(), st.integers(0, 2 ** 32 - 1))
def test_compiled_functions_with_several_fused_outputs_match_numpy(p1, p2, seed):
    nin = max(p1[0], p2[0])
    xs = [T.dvector(f"x{k}") for k in range(nin)]
    outs, refs = [], []
    for pnin, steps in (p1, p2):
        vals = list(xs[:pnin])
        for name, args in steps:
            vals.append(OPS[name][1](*[vals[a] for a in args]))
        if vals[-1].dtype == "bool":
            continue
        other = vals[max(pnin, len(vals) - 2)]  # a temporary (or input) also read by the first output
        outs += [vals[-1], vals[-1] * vals[-1] - other]
        refs.append((steps, pnin, max(pnin, len(vals) - 2)))
    if not outs:
        return
    with _small_thresholds(), np.errstate(all="ignore"):
        f = nbgrad.function(xs, outs, on_unused_input="ignore")
        for shape in _sizes():
            arrays = _inputs(nin, shape, seed, set())
            expected = []
            for steps, pnin, k in refs:
                ref = _reference(steps, arrays[:pnin])
                expected += [ref[-1], ref[-1] * ref[-1] - ref[k]]
            for r, e in zip(f(*arrays), expected):
                np.testing.assert_allclose(r, np.broadcast_to(e, r.shape), rtol=1e-6, atol=1e-300,
                                           equal_nan=True)


@pytest.mark.parametrize("n", [5, cpu_kernels.MIN_REUSED_SIZE + 3])
def test_fused_kernel_thunk_checks_sizes_and_computes_in_line(n):
    # the thunk of a fused node writes its small form and its size check out in line:
    # the same values as the kernel, the same error for operands of different sizes
    x, y, z = T.dvectors("x", "y", "z")
    f = nbgrad.function([x, y, z], T.exp(x - y) * z)
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((3, n))
    np.testing.assert_array_equal(f(a, b, c), np.exp(a - b) * c)
    for bad in ((a, b[:-1], c), (a, b, c[:-1])):
        with pytest.raises(ValueError, match="same size on axis 0"):
            f(*bad)


#: Arguments where the stable forms branch or saturate: signed zeros, ±800, ±inf, nan.
EXTREMES = np.array([0.0, -0.0, 1e-300, -1e-300, 0.5, -0.5, 36.0, -36.0, 40.0, -40.0, 800.0, -800.0,
                     np.inf, -np.inf, np.nan])


def _node_by_node(comp, arrays):
    """The inner graph evaluated one node at a time, each with its op's own CPU function."""
    vals = dict(zip(comp.inputs, arrays))
    with np.errstate(all="ignore"):
        for node in comp.nodes:
            args = [vals[i] if i in vals else np.asarray(i.data).reshape(()) for i in node.inputs]
            vals[node.outputs[0]] = cpu_impl(node.op.scalar_op, [i.dtype for i in node.inputs])(*args)
    return vals[comp.outputs[0]]


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return (a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
            and np.array_equal(np.signbit(a), np.signbit(b)))


def _calls_of(comp, fn):
    env, calls = cpu_kernels._program(comp)
    return sum(env[f] is fn for _, f, _, _ in calls)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logistic_cross_entropy_kernel_computes_its_shared_steps_once(dtype):
    # -(y·log σ(−z)) − (1 − y)·log σ(z): log1p(exp(−|z|)) is common to both terms, since
    # |−z| is |z|; the kernel computes it once and gives the bits of the node-by-node form
    z, y = T.scalar("z", dtype=dtype), T.scalar("y", dtype=dtype)
    comp = Composite([z, y], [-(y * log_sigmoid(-z)) - (1 - y) * log_sigmoid(z)])
    assert _calls_of(comp, np.log1p) == 1 and _calls_of(comp, np.exp) == 1
    assert _calls_of(comp, np.abs) == 1
    zs = EXTREMES.astype(dtype)
    for labels in (np.zeros_like(zs), np.ones_like(zs), np.full_like(zs, 0.25)):
        with np.errstate(all="ignore"):
            assert _same_bits(comp.impl(np)(zs, labels), _node_by_node(comp, [zs, labels]))


def test_double_negation_inside_a_sigmoid_is_not_computed():
    # sigmoid(−x) is 1/(1 + exp(−(−x))): −(−x) is x exactly (signed zeros and nan too)
    x = T.dscalar("x")
    comp = Composite([x], [T.sigmoid(-x) * 2])
    assert _calls_of(comp, np.negative) == 0  # neither the sigmoid's nor the −x it went around
    env, calls = cpu_kernels._program(comp)
    assert [env[f] for _, f, _, _ in calls] == [np.exp, np.add, np.divide, np.multiply]
    assert calls[0][2] == ["a0"]  # exp(x) itself
    with np.errstate(all="ignore"):
        assert _same_bits(comp.impl(np)(EXTREMES), _node_by_node(comp, [EXTREMES]))


def test_softplus_and_log_sigmoid_of_one_argument_share_steps_and_values():
    # softplus(x) + log σ(−x) cancels exactly as NumPy's logaddexp does for both; kept so
    x = T.dscalar("x")
    comp = Composite([x], [T.softplus(x) + log_sigmoid(-x)])
    assert _calls_of(comp, np.log1p) == 1
    with np.errstate(all="ignore"):
        got = comp.impl(np)(EXTREMES)
        assert _same_bits(got, _node_by_node(comp, [EXTREMES]))
    finite = np.isfinite(EXTREMES)
    assert np.all(got[finite] == 0)


def test_an_expanded_op_last_in_its_kernel_writes_into_out():
    # the last call of the expansion of the kernel's last node is a new one, written into ``out``
    x, y = T.dscalar("x"), T.dscalar("y")
    comp = Composite([x, y], [log_sigmoid(x * y)])
    a, b = np.linspace(-900, 900, 7), np.full(7, 0.5)
    out = np.empty(7)
    assert comp.impl(np)(a, b, out=out) is out
    assert _same_bits(out, _node_by_node(comp, [a, b]))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.lists(st.booleans(), min_size=3, max_size=3), st.integers(0, 2 ** 32 - 1))
def test_small_form_reusing_temporaries_matches_numpy_and_leaves_inputs_alone(program, whole, seed):
    # operands flagged whole have the result's shape, the others one element (or 0-d)
    nin, steps = program
    whole = tuple(whole[:nin])
    if not any(whole):
        return
    inner, vals = _build(nin, steps)
    if vals[-1].dtype == "bool" or vals[-1] in inner:
        return
    evaluate = Composite(inner, [vals[-1]]).impl(np)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cpu_kernels, "MIN_REUSED_TEMPORARIES", 0)
        reusing = evaluate.reusing(whole)
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-2, 2, 7) if w else rng.uniform(-2, 2, () if k % 2 else (1,))
              for k, w in enumerate(whole)]
    kept = [a.copy() for a in arrays]
    with np.errstate(all="ignore"):
        expected = _reference(steps, arrays)[-1]
        result = np.asarray(reusing(*arrays))
    _check(result, expected)
    assert result.shape == expected.shape and not any(np.shares_memory(result, a) for a in arrays)
    for a, k in zip(arrays, kept):
        np.testing.assert_array_equal(a, k)


def test_the_logistic_cross_entropy_kernel_keeps_its_temporaries_in_few_arrays():
    z, y = T.dscalar("z"), T.dscalar("y")
    evaluate = Composite([z, y], [-(y * log_sigmoid(-z)) - (1 - y) * log_sigmoid(z)]).impl(np)
    reusing = evaluate.reusing((True, True))
    assert reusing is not None and reusing.source.count("out=") >= 10
    assert evaluate.reusing((True, False)) is not None  # 1 - y is not of the result's shape
    assert evaluate.reusing((False, False)) is None  # nothing is known to have it: not used
    zs = EXTREMES
    for labels in (np.zeros_like(zs), np.ones_like(zs)):
        with np.errstate(all="ignore"):
            assert _same_bits(reusing(zs, labels), evaluate.small(zs, labels))


def test_a_kernel_of_one_element_operands_does_not_reuse_temporaries():
    # every operand broadcast on every axis: the linker may pass some 0-d, so none is
    # taken to have the result's shape (a (1,) result written into a 0-d temporary fails)
    x, s = T.tensor("float64", shape=(1,), name="x"), T.dscalar("s")
    t, e = T.shape_padleft(s), 0.25
    for _ in range(4):  # temporaries of s alone, each dead once the next is made
        t, e = T.sin(t) + 1, np.sin(e) + 1
    f = nbgrad.function([x, s], t * x)
    assert "_t1(i1, i0)" in f.source  # the fused node reads s itself, 0-d
    r = f(np.array([0.5]), 0.25)
    assert r.shape == (1,)
    np.testing.assert_allclose(r, [e * 0.5], rtol=1e-14)


def test_kernels_that_differ_in_their_constants_share_a_plan_and_keep_their_values():
    # one plan per shape of inner graph: the constants' values are the kernel's own, and
    # constants equal within a kernel (one name) or not (two) give different shapes
    x, y = T.dscalar("x"), T.dscalar("y")

    def comp(a, b):
        return Composite([x, y], [T.sin(x * a) + T.cos(y * b)])

    v = np.linspace(-2.0, 2.0, 7)
    kernels = [comp(1.5, 2.5), comp(-0.5, 3.0), comp(2.0, 2.0), comp(0.0, -0.0)]
    plans = [cpu_kernels._kernel_plan(k)[0] for k in kernels]
    assert plans[0] is plans[1] and plans[2] is not plans[0] and plans[3] is plans[0]
    for k, (a, b) in zip(kernels, [(1.5, 2.5), (-0.5, 3.0), (2.0, 2.0), (0.0, -0.0)]):
        expected = np.sin(v * a) + np.cos(v[::-1] * b)
        assert _same_bits(k.impl(np)(v, v[::-1]), expected)
        assert _same_bits(k.impl(np)(v[:1], v[:1]), np.sin(v[:1] * a) + np.cos(v[:1] * b))


def test_kernels_that_differ_in_an_op_or_a_dtype_have_plans_of_their_own():
    x, y = T.dscalar("x"), T.dscalar("y")
    xf = T.scalar("xf", dtype="float32")
    sin_plan = cpu_kernels._kernel_plan(Composite([x, y], [T.sin(x) * y]))[0]
    assert cpu_kernels._kernel_plan(Composite([x, y], [T.cos(x) * y]))[0] is not sin_plan
    assert cpu_kernels._kernel_plan(Composite([x, y], [T.sin(x) + y]))[0] is not sin_plan
    assert cpu_kernels._kernel_plan(Composite([x, y], [T.sin(y) * x]))[0] is not sin_plan
    assert cpu_kernels._kernel_plan(Composite([xf, y], [T.sin(xf) * y]))[0] is not sin_plan
    assert cpu_kernels._kernel_plan(Composite([x, y], [T.sin(x) * y]))[0] is sin_plan
