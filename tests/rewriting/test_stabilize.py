"""The stabilizing rewrites: each fires and leaves alone, and the course losses are exact.

Values are checked against the exact value (mpmath, 500 digits, at the input as the
dtype holds it), never against the unoptimized graph: where the textbook form overflows
the unoptimized graph gives inf or nan.
"""


import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nbgrad
import nbgrad.tensor as T
from nbgrad.graph import graph_inputs
from nbgrad.printing import latex, pp
from nbgrad.rewriting import Mode, db
from nbgrad.rewriting.stabilize import LogOfSoftmax, LogOfSumExp, log_sigmoid
from nbgrad.tensor.nnet import LogSoftmax, Softmax
from tests.rewriting.helpers import rewritten, same_graph, values_agree

mpmath.mp.dps = 500  # log(sigmoid(800)) is -e^-800: 1 + e^-800 needs 350 digits
READABLE = Mode(excluding=["fusion", "inplace"])
POINTS = (-800.0, -100.0, -40.0, -20.0, -1.5, 0.0, 0.5, 20.0, 40.0, 100.0, 800.0)


def _fires():
    x = T.dvector("x")
    m = T.dmatrix("m")
    s = T.nnet.sigmoid(x)
    return {
        "broadcast_constant": ([x], T.exp(x) * T.constant(2.0).dimshuffle("x"), None),
        # two nodes sigmoid(-x): without the merge phase (FAST_COMPILE) only this rewrite joins them
        "share_sigmoid": ([x], T.nnet.sigmoid(-x) + T.nnet.sigmoid(-x), None),
        "one_minus_sigmoid": ([x], 1 - s, T.nnet.sigmoid(-x)),
        "exp_times_sigmoid_neg": ([x], T.exp(x) * T.nnet.sigmoid(-x), T.nnet.sigmoid(x)),
        "exp_over_one_plus_exp": ([x], T.exp(x) / (1 + T.exp(x)), T.nnet.sigmoid(x)),
        "sigmoid_minus_square": ([x], s - s * s, s * T.nnet.sigmoid(-x)),
        "log_sigmoid_form": ([x], T.log(s), log_sigmoid(x)),
        "softplus_form": ([x], T.log(1 + T.exp(x)), T.nnet.softplus(x)),
        "log_sum_exp": ([m], T.log(T.sum(T.exp(m), axis=1)), LogOfSumExp((1,))(m)),
        "log_softmax_from_logsumexp": (
            [m], m - T.log(T.sum(T.exp(m), axis=0, keepdims=True)), LogSoftmax(0)(m)),
        "log_softmax_specialize": ([m], T.log(Softmax(0)(m)), LogOfSoftmax(0)(m)),
        "sqrt_sqr": ([x], T.sqrt(T.sqr(x)), abs(x)),
        # the gradient of a hand-written log(sum(exp(m), axis=1))
        "exp_over_sum_exp": ([m], T.exp(m) * (1 / T.sum(T.exp(m), axis=1)).dimshuffle(0, "x"),
                             Softmax(1)(m)),
    }


def _leaves():
    x, y = T.dvector("x"), T.dvector("y")
    m = T.dmatrix("m")
    return {
        # a broadcast of a constant of several elements
        "broadcast_constant": ([x], T.exp(x) + T.constant(np.ones((2, 2))).dimshuffle(1, 0, "x").sum(),),
        # two different arguments: nothing to share
        "share_sigmoid": ([x, y], T.nnet.sigmoid(x) * T.nnet.sigmoid(y)),
        # 2 - sigmoid(x) is not a sigmoid
        "one_minus_sigmoid": ([x], 2 - T.nnet.sigmoid(x)),
        # exp(y) / (1 + exp(x)) for y ≠ x
        "exp_times_sigmoid_neg": ([x, y], T.exp(y) * T.nnet.sigmoid(-x)),
        # exp(y) / (1 + exp(x)) for y ≠ x
        "exp_over_one_plus_exp": ([x, y], T.exp(y) / (1 + T.exp(x))),
        # sigmoid(x) - sigmoid(y)² for y ≠ x
        "sigmoid_minus_square": ([x, y], T.nnet.sigmoid(x) - T.nnet.sigmoid(y) ** 2),
        "log_sigmoid_form": ([x], T.log(T.tanh(x) + 2)),
        "softplus_form": ([x], T.log(2 + T.exp(x))),
        # a sum of exp times 2 is not a log-sum-exp
        "log_sum_exp": ([m], T.log(T.sum(T.exp(m) * 2, axis=1))),
        "log_softmax_from_logsumexp": ([m], m - T.log(T.sum(T.exp(m * 2), axis=1, keepdims=True))),
        "log_softmax_specialize": ([m], T.log(T.exp(m) + 1)),
        # a complex x: sqrt(x²) is ±x, not |x|
        "sqrt_sqr": ([T.zvector("z")], T.sqrt(T.sqr(T.zvector("z")))),
        # exp(y) over the sum of exp(x): not a softmax
        "exp_over_sum_exp": ([x, y], T.exp(y) / T.sum(T.exp(x))),
    }


FIRES, LEAVES = _fires(), _leaves()
OURS = sorted(n for n, r in db.by_name.items() if r.fn.__module__ == "nbgrad.rewriting.stabilize")


def _values(inputs):
    rng = np.random.default_rng(0)
    return [rng.uniform(-2, 2, size=(3,) * v.ndim).astype(v.dtype) for v in inputs]


def test_every_stabilizing_rewrite_is_tested_and_states_its_domain():
    assert set(OURS) == set(FIRES) == set(LEAVES)
    for name in OURS:
        r = db.by_name[name]
        assert "stability" in r.tags and ("fast_run" in r.tags or name == "broadcast_constant")
        assert "Exact for:" in r.fn.__doc__, name


@pytest.mark.parametrize("name", sorted(FIRES))
def test_rewrite_fires(name):
    inputs, out, expected = FIRES[name]
    fast_compile = name in ("share_sigmoid", "broadcast_constant")
    fg, applied = rewritten(inputs, out, Mode("FAST_COMPILE") if fast_compile else READABLE)
    assert name in applied
    if expected is not None:
        assert same_graph(fg, inputs, expected), (name, pp(fg.outputs[0]))
    if name == "share_sigmoid":
        a, b = fg.outputs[0].owner.inputs
        assert a is b
    assert values_agree(inputs, out, _values(inputs))


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_rewrite_leaves_alone(name):
    inputs, out = LEAVES[name]
    fg, applied = rewritten(inputs, out, Mode("FAST_COMPILE") if name == "broadcast_constant" else READABLE)
    assert name not in applied
    if all(not v.dtype.startswith("complex") for v in inputs):
        assert values_agree(inputs, out, _values(inputs))


def test_share_sigmoid_cancels_against_one_node():
    x = T.dvector("x")
    a, b = T.nnet.sigmoid(-x), T.nnet.sigmoid(-x)  # two nodes: merged only by this rewrite
    fg, applied = rewritten([x], T.exp(x) * (1 / a) * b, Mode("FAST_COMPILE"))
    assert "share_sigmoid" in applied and "cancel_reciprocal" in applied


# ------------------------------------------------------------------ exact references
def _mp(fn, v):
    """fn at the value v holds (an mpmath number), or None where fn is undefined."""
    try:
        return fn(mpmath.mpf(float(v)))
    except (ZeroDivisionError, ValueError):
        return None


def _msig(x):
    return 1 / (1 + mpmath.exp(-x))


def _assert_exact(got, exact, dtype, what, scale=0.0):
    """Within 8 ulps of the exact value, or within the smallest normal number of it near 0.

    ``scale``: the error may be 8 ulps of this number instead (a difference of numbers
    of that size, as in the log-softmax x - max(x) - log Σ exp(x - max(x))).
    """
    info = np.finfo(dtype)
    got = np.asarray(got, dtype=np.float64).ravel()
    for g, e in zip(got, exact):
        ef = float(e)
        assert np.isfinite(g), f"{what}: {g} where the exact value is {ef}"
        tol = 8 * float(np.spacing(np.asarray(max(abs(ef), scale), dtype=dtype))) + float(info.smallest_normal)
        assert abs(g - ef) <= tol, f"{what}: {g}, exact {ef} (tolerance {tol:.3g})"


def _xent(x, y):
    # the Theano tutorial's logistic loss, as the tutorial writes it
    p = 1 / (1 + T.exp(-x))
    return -y * T.log(p) - (1 - y) * T.log(1 - p)


# name, build(x), exact(x), derivative(x)
FORMS = [
    ("log(sigmoid(x))", lambda x: T.log(T.nnet.sigmoid(x)), lambda v: mpmath.log(_msig(v)),
     lambda v: _msig(-v)),
    ("log(1 - sigmoid(x))", lambda x: T.log(1 - T.nnet.sigmoid(x)), lambda v: mpmath.log(_msig(-v)),
     lambda v: -_msig(v)),
    ("log(1 / (1 + exp(-x)))", lambda x: T.log(1 / (1 + T.exp(-x))), lambda v: mpmath.log(_msig(v)),
     lambda v: _msig(-v)),
    ("log(1 - 1 / (1 + exp(-x)))", lambda x: T.log(1 - 1 / (1 + T.exp(-x))),
     lambda v: mpmath.log(_msig(-v)), lambda v: -_msig(v)),
    ("log(1 + exp(x))", lambda x: T.log(1 + T.exp(x)), lambda v: mpmath.log(1 + mpmath.exp(v)),
     lambda v: _msig(v)),
    ("1 - sigmoid(x)", lambda x: 1 - T.nnet.sigmoid(x), lambda v: _msig(-v), None),
    ("exp(x) / (1 + exp(x))", lambda x: T.exp(x) / (1 + T.exp(x)), _msig, lambda v: _msig(v) * _msig(-v)),
    ("log(exp(x) / (1 + exp(x)))", lambda x: T.log(T.exp(x) / (1 + T.exp(x))), lambda v: mpmath.log(_msig(v)),
     lambda v: _msig(-v)),
    ("log(1 - exp(x) / (1 + exp(x)))", lambda x: T.log(1 - T.exp(x) / (1 + T.exp(x))),
     lambda v: mpmath.log(_msig(-v)), lambda v: -_msig(v)),
    ("xent, y = 0", lambda x: _xent(x, 0.0), lambda v: mpmath.log(1 + mpmath.exp(v)), lambda v: _msig(v)),
    ("xent, y = 1", lambda x: _xent(x, 1.0), lambda v: mpmath.log(1 + mpmath.exp(-v)), lambda v: -_msig(-v)),
    ("-log(1 - sigmoid(x))", lambda x: -T.log(1 - T.nnet.sigmoid(x)), lambda v: mpmath.log(1 + mpmath.exp(v)),
     lambda v: _msig(v)),
    ("binary_crossentropy(sigmoid(x), 1)", lambda x: T.nnet.binary_crossentropy(T.nnet.sigmoid(x), 1.0),
     lambda v: mpmath.log(1 + mpmath.exp(-v)), lambda v: -_msig(-v)),
    ("binary_crossentropy(sigmoid(x), 0)", lambda x: T.nnet.binary_crossentropy(T.nnet.sigmoid(x), 0.0),
     lambda v: mpmath.log(1 + mpmath.exp(v)), lambda v: _msig(v)),
    # its gradient (1/exp(x))·exp(x) becomes unit(x): 1, and nan for a nan x
    ("log(exp(x))", lambda x: T.log(T.exp(x)), lambda v: v, lambda v: mpmath.mpf(1)),
]


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,build,exact,deriv", FORMS, ids=[f[0] for f in FORMS])
def test_course_forms_are_exact_with_their_gradients(name, build, exact, deriv, dtype, mode):
    x = T.vector("x", dtype=dtype)
    out = build(x)
    outs = [out] + ([T.grad(T.sum(out), x)] if deriv is not None else [])
    f = nbgrad.function([x], outs, mode=mode)
    xv = np.array(POINTS, dtype=dtype)
    got = f(xv)
    _assert_exact(got[0], [exact(v) for v in xv], dtype, f"{name} ({dtype}, {mode})")
    if deriv is not None:
        _assert_exact(got[1], [deriv(v) for v in xv], dtype, f"d/dx {name} ({dtype}, {mode})")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_log1p_and_expm1_forms_are_exact_near_zero(dtype):
    x = T.vector("x", dtype=dtype)
    f = nbgrad.function([x], [T.log(1 + x), T.exp(x) - 1], mode="FAST_COMPILE")
    xv = np.array([1e-30, -3e-10, 2e-5, 0.5], dtype=dtype)
    a, b = f(xv)
    _assert_exact(a, [mpmath.log1p(mpmath.mpf(float(v))) for v in xv], dtype, "log(1 + x)")
    _assert_exact(b, [mpmath.expm1(mpmath.mpf(float(v))) for v in xv], dtype, "exp(x) - 1")


def test_sqrt_of_a_square_is_the_absolute_value():
    x = T.dvector("x")
    xv = np.array([-1e200, -3.0, 0.0, 2.5e-200, 7.0])
    np.testing.assert_array_equal(nbgrad.function([x], T.sqrt(x ** 2))(xv), np.abs(xv))


FAR_APART = [[1000.0, 0.0], [-1000.0, 0.0], [50.0, -50.0], [0.5, 1.5]]


def _mp_lse(row):
    return mpmath.log(sum(mpmath.exp(mpmath.mpf(float(v))) for v in row))


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_log_sum_exp_and_log_softmax_of_far_apart_logits(dtype, mode):
    m = T.matrix("m", dtype=dtype)
    lse = T.log(T.sum(T.exp(m), axis=1))
    lsm = T.log(T.nnet.softmax(m, axis=-1))
    f = nbgrad.function([m], [lse, lsm, T.grad(T.sum(lsm), m)], mode=mode)
    mv = np.array(FAR_APART, dtype=dtype)
    a, b, g = f(mv)
    exact = [_mp_lse(r) for r in mv]
    _assert_exact(a, exact, dtype, "log(sum(exp(x)))")
    _assert_exact(b, [mpmath.mpf(float(v)) - e for r, e in zip(mv, exact) for v in r], dtype, "log(softmax(x))",
                  scale=float(np.abs(mv).max()))
    # d/dx Σ log softmax(x) = 1 - n · softmax(x)
    _assert_exact(g, [1 - 2 * mpmath.exp(mpmath.mpf(float(v)) - e) for r, e in zip(mv, exact) for v in r],
                  dtype, "gradient of log(softmax(x))", scale=1.0)


@pytest.mark.parametrize("shape,axis", [((2,), 0), ((2, 3), 0), ((3, 2), 1), ((2, 2, 3), 1), ((2, 3, 2), -1)])
def test_log_softmax_of_every_axis_and_rank(shape, axis):
    x = T.tensor("float64", shape=(None,) * len(shape), name="x")
    out = T.log(T.nnet.softmax(x, axis=axis))
    f = nbgrad.function([x], [out, T.grad(T.sum(out * np.arange(1.0, 1 + np.prod(shape)).reshape(shape)), x)])
    assert any(isinstance(n.op, LogOfSoftmax) for n in f.maker.fgraph.apply_nodes)
    rng = np.random.default_rng(1)
    xv = rng.uniform(-1, 1, size=shape) * 1000  # logits far apart: softmax underflows to 0
    a, g = f(xv)
    ax = axis % len(shape)
    lse = np.log(np.sum(np.exp(xv - xv.max(axis=ax, keepdims=True)), axis=ax, keepdims=True))
    ref = xv - xv.max(axis=ax, keepdims=True) - lse
    np.testing.assert_allclose(a, ref, rtol=1e-12, atol=1e-9)
    w = np.arange(1.0, 1 + np.prod(shape)).reshape(shape)
    np.testing.assert_allclose(g, w - np.exp(ref) * w.sum(axis=ax, keepdims=True), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_binary_crossentropy_of_a_sigmoid_is_finite(mode):
    z, t = T.dvector("z"), T.dvector("t")
    cost = T.sum(T.nnet.binary_crossentropy(T.nnet.sigmoid(z), t))
    f = nbgrad.function([z, t], [cost, T.grad(cost, z)], mode=mode)
    c, g = f([40.0, -40.0], [0.0, 1.0])
    exact = 2 * mpmath.log(1 + mpmath.exp(40))
    _assert_exact([c], [exact], "float64", "binary cross-entropy")
    _assert_exact(g, [_msig(mpmath.mpf(40)), -_msig(mpmath.mpf(40))], "float64", "its gradient")


def test_a_nan_logit_still_gives_nan():
    x, y = T.dvector("x"), T.dvector("y")
    cost = T.sum(_xent(x, y))
    f = nbgrad.function([x, y], [cost, T.grad(cost, x)])
    c, g = f([np.nan, 1.0], [0.0, 1.0])
    assert np.isnan(c) and np.isnan(g[0]) and np.isfinite(g[1])


# ------------------------------------------------------------------ random compositions
def _p_forms():
    # sigmoid(x) in the three spellings of course material
    return [
        (lambda x: T.nnet.sigmoid(x), _msig),
        (lambda x: 1 / (1 + T.exp(-x)), _msig),
        (lambda x: T.exp(x) / (1 + T.exp(x)), _msig),
    ]


def _outer_forms():
    return [
        (lambda p: p, lambda p: p),
        (lambda p: 1 - p, lambda p: 1 - p),
        (lambda p: T.log(p), mpmath.log),
        (lambda p: T.log(1 - p), lambda p: mpmath.log(1 - p)),
        (lambda p: -T.log1p(-p), lambda p: -mpmath.log1p(-p)),
    ]


def _args():
    return [
        (lambda x: x, lambda v: v),
        (lambda x: -x, lambda v: -v),
        (lambda x: 2 * x + 1, lambda v: 2 * v + 1),
    ]


def _error(got, exact, dtype):
    """|got - exact| in ulps of the exact value (inf where got is not finite but exact is)."""
    e = float(exact)
    if not np.isfinite(got):
        return np.inf
    return abs(got - e) / max(float(np.spacing(np.asarray(abs(e), dtype=dtype))), float(np.finfo(dtype).smallest_normal))


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(range(3)), st.sampled_from(range(5)), st.sampled_from(range(3)),
    st.sampled_from(["float64", "float32"]), st.booleans(),
    st.lists(st.floats(-900, 900, allow_nan=False), min_size=1, max_size=6),
)
def test_random_compositions_are_never_less_accurate(pi, oi, ai, dtype, softplus_too, extra):
    (pb, pm), (ob, om), (ab, am) = _p_forms()[pi], _outer_forms()[oi], _args()[ai]
    x = T.vector("x", dtype=dtype)
    out = ob(pb(ab(x)))
    exact_fn = lambda v: om(pm(am(v)))  # noqa: E731
    if softplus_too:
        out = out + T.log(1 + T.exp(ab(x)))
        exact_fn = lambda v, f=exact_fn: f(v) + mpmath.log(1 + mpmath.exp(am(v)))  # noqa: E731
    xv = np.array(list(POINTS) + extra, dtype=dtype)
    with np.errstate(all="ignore"):
        on = nbgrad.function([x], out)(xv)
        off = nbgrad.function([x], out, mode=Mode("NONE"))(xv)
    big = np.finfo(dtype).max
    for v, a, b in zip(xv, on, off):
        e = _mp(exact_fn, v)
        if e is None or abs(e) >= big:
            continue
        err_on, err_off = _error(float(a), e, dtype), _error(float(b), e, dtype)
        assert np.isfinite(a), (v, a, float(e))
        assert err_on <= max(err_off, 16), (v, a, b, float(e))


# ------------------------------------------------------------------ printing
def _printed(inputs, out):
    f = nbgrad.function(inputs, out)
    o = f.maker.fgraph.outputs[0]
    return f, pp(o), latex(o)


def _printing_cases(static):
    """(build(x, m, w, b), op class or scalar op name made by the rewrites, text, LaTeX)."""
    def sig(v):
        return T.nnet.sigmoid(v)

    return [
        (lambda x, m, w, b: T.log(sig(x)), "log_sigmoid", "log(sigmoid(x))", r"\log \sigma(x)"),
        (lambda x, m, w, b: T.log(1 - sig(x)), "log_sigmoid", "log(sigmoid(-x))", r"\log \sigma(-x)"),
        (lambda x, m, w, b: T.log(1 / (1 + T.exp(-x))), "log_sigmoid", "log(sigmoid(x))", r"\log \sigma(x)"),
        (lambda x, m, w, b: T.log(sig(T.dot(m, w) + b)), "log_sigmoid", "log(sigmoid(m @ w + b))",
         r"\log \sigma\left(m w + b\right)"),
        (lambda x, m, w, b: T.log(T.nnet.softmax(m)), LogOfSoftmax, "log(softmax(m))",
         r"\log \operatorname{softmax}(m)"),
        (lambda x, m, w, b: T.log(T.nnet.softmax(x)), LogOfSoftmax, "log(softmax(x))",
         r"\log \operatorname{softmax}(x)"),
        (lambda x, m, w, b: T.log(T.sum(T.exp(x))), LogOfSumExp, "log(sum(exp(x)))", r"\log \sum e^{x}"),
        (lambda x, m, w, b: T.log(T.sum(T.exp(m), axis=1)), LogOfSumExp, "log(sum(exp(m), axis=1))",
         r"\log \sum_{\text{axis}=1} e^{m}"),
    ]


def _made(f, made):
    nodes = f.maker.fgraph.apply_nodes
    if isinstance(made, str):  # a scalar op, possibly fused into a Composite
        return any(made in str(n.op) for n in nodes)
    return any(isinstance(n.op, made) for n in nodes)


@pytest.mark.parametrize("static", [False, True], ids=["dynamic", "static"])
@pytest.mark.parametrize("k", range(len(_printing_cases(False))))
def test_stabilized_nodes_print_as_the_formula_they_compute(k, static):
    # the textbook formula (log σ(x), log softmax(x), log Σ eˣ), never the stable form
    # (-softplus(-x), x - max - log Σ ...) that computes it
    build, made, text, tex = _printing_cases(static)[k]
    x = T.tensor("float64", shape=(3,) if static else (None,), name="x")
    m = T.tensor("float64", shape=(2, 3) if static else (None, None), name="m")
    w, b = T.tensor("float64", shape=(3,) if static else (None,), name="w"), T.dscalar("b")
    out = build(x, m, w, b)
    inputs = [v for v in (x, m, w, b) if v in graph_inputs([out])]
    f, got_text, got_tex = _printed(inputs, out)
    assert _made(f, made), (text, [n.op for n in f.maker.fgraph.apply_nodes])
    assert got_text == text
    assert got_tex == tex


def test_user_written_forms_keep_their_names():
    x, m = T.dvector("x"), T.dmatrix("m")
    assert _printed([x], T.nnet.softplus(x))[1] == "softplus(x)"
    assert _printed([m], T.nnet.log_softmax(m))[1] == "log_softmax(m)"
    assert _printed([x], T.nnet.softplus(x))[2] == r"\operatorname{softplus}(x)"
    assert _printed([m], T.nnet.log_softmax(m))[2] == r"\log\operatorname{softmax}(m)"


def _lse_losses():
    """Hand-written log-sum-exp losses: (name, build(m), d loss / d m from the softmax s and axis)."""
    def lse(m, axis, keepdims=False):
        return T.log(T.sum(T.exp(m), axis=axis, keepdims=keepdims))

    return [
        ("sum", lambda m, a: T.sum(lse(m, a)), lambda s, a: s),
        ("mean", lambda m, a: T.mean(lse(m, a)), lambda s, a: s / (s.size / s.shape[a])),
        ("3 * sum", lambda m, a: 3 * T.sum(lse(m, a)), lambda s, a: 3 * s),
        ("sum / 2", lambda m, a: T.sum(lse(m, a)) / 2, lambda s, a: s / 2),
        ("keepdims", lambda m, a: T.sum(lse(m, a, keepdims=True)), lambda s, a: s),
        ("x - lse (log-softmax)", lambda m, a: T.sum(m - lse(m, a, keepdims=True)),
         lambda s, a: 1 - s * s.shape[a]),
    ]


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("name,build,grad", _lse_losses(), ids=[c[0] for c in _lse_losses()])
def test_gradient_of_a_written_out_log_sum_exp_at_far_apart_logits(name, build, grad, axis, dtype, mode):
    # d/dx log(sum(exp(x))) is exp(x) / sum(exp(x)): inf / inf at [1000, 0] as written, and
    # FAST_COMPILE leaves the gradient's broadcasts (Alloc, DimShuffle) around the quotient
    m = T.matrix("m", dtype=dtype)
    f = nbgrad.function([m], T.grad(build(m, axis), m), mode=mode)
    mv = np.array([[1000.0, 0.0, 3.0], [0.0, -1000.0, 2.0]], dtype=dtype)
    ax = axis % 2
    shifted = [[mpmath.mpf(float(v)) for v in r] for r in (mv if ax == 1 else mv.T)]
    soft = np.array([[float(mpmath.exp(v - mpmath.log(sum(mpmath.exp(u) for u in r)))) for v in r]
                     for r in shifted])
    soft = soft if ax == 1 else soft.T
    expected = grad(soft, ax)
    got = f(mv)
    assert np.isfinite(got).all(), f"{name}, axis {axis} ({dtype}, {mode}): {got}"
    np.testing.assert_allclose(got, expected, rtol=8 * np.finfo(dtype).eps, atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("mode", ["FAST_RUN", "FAST_COMPILE"])
def test_gradient_of_a_written_out_log_sum_exp_of_a_vector(mode):
    x = T.dvector("x")
    g = nbgrad.function([x], T.grad(T.log(T.sum(T.exp(x))), x), mode=mode)
    np.testing.assert_allclose(g(np.array([1000.0, 0.0])), [1.0, 0.0])
    np.testing.assert_allclose(g(np.array([1.0, 2.0])), np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum())


def test_a_sum_of_exp_broadcast_along_another_axis_is_not_a_softmax():
    # exp(m) · (1 / sum(exp(m), axis=1)) broadcast along rows, not columns: m square, so the
    # shapes agree, but it is not the softmax of any axis
    m = T.dmatrix("m")
    share = (1 / T.sum(T.exp(m), axis=1)).dimshuffle("x", 0)
    fg, applied = rewritten([m], T.exp(m) * share, READABLE)
    assert "exp_over_sum_exp" not in applied
    assert values_agree([m], T.exp(m) * share, _values([m]))
