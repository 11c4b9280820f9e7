"""Behaviours the Theano 1.0 tutorial and debugging pages rely on, with ``theano`` replaced by ``nbgrad``.

Each test is one documented use, written as a course author would write it: the
types as objects, printing values from inside a compiled function, reading the
graph as a tree, hunting NaNs node by node, and the test-value flag.
"""

import io
import warnings

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.printing import Print, debugprint, pp, pprint

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


# --- algebra with typed variables ---------------------------------------------------------
def test_a_variable_is_an_instance_of_the_type_that_made_it():
    x, y = T.dscalar("x"), T.dscalar("y")
    z = x + y
    assert type(x) is type(z)
    assert x.type is T.dscalar
    assert z.type == T.dscalar
    assert pprint(z) == pp(z) == "x + y"
    f = nbgrad.function([x, y], z)
    assert f(2, 3) == 5.0
    assert isinstance(f(16.3, 12.1), np.ndarray)


def test_one_type_object_used_for_several_inputs():
    row_type = T.TensorType("float64", (True, False))
    a, b = row_type("a"), row_type("b")
    m = T.dmatrix("m")
    f = nbgrad.function([a, b, m], (a + b) * m)
    np.testing.assert_allclose(f([[1.0, 2.0]], [[3.0, 4.0]], np.ones((3, 2))), np.tile([4.0, 6.0], (3, 1)))


def test_scalars_from_one_string_in_a_small_formula():
    a, b, c = T.dscalars("abc")
    f = nbgrad.function([a, b, c], a * b + c)
    assert f(2.0, 3.0, 1.0) == 7.0


# --- Print: values from inside a compiled function ----------------------------------------
def test_print_shows_an_intermediate_value_at_every_call(capsys):
    x = T.dvector("x")
    h = Print("hidden")(T.tanh(x))
    f = nbgrad.function([x], (h ** 2).sum())
    capsys.readouterr()  # compiling prints nothing
    f(np.array([0.0, 0.0]))
    f(np.array([1.0, 2.0]))
    out = capsys.readouterr().out.splitlines()
    assert out == ["hidden __str__ = [0. 0.]", f"hidden __str__ = {np.tanh([1.0, 2.0])}"]


def test_print_other_attributes_of_the_value(capsys):
    x = T.dmatrix("x")
    f = nbgrad.function([x], Print("x", attrs=("shape", "sum"))(x) + 1)
    f(np.ones((2, 3)))
    assert capsys.readouterr().out.splitlines() == ["x shape = (2, 3)", "x sum = 6.0"]


def test_print_does_not_change_values_or_gradients(capsys):
    x = T.dvector("x")
    plain = (T.exp(x) * x).sum()
    printed = (T.exp(Print("e")(x)) * x).sum()
    value = np.array([0.5, -1.0])
    f = nbgrad.function([x], [plain, T.grad(plain, x)])
    g = nbgrad.function([x], [printed, T.grad(printed, x)])
    for a, b in zip(f(value), g(value)):
        np.testing.assert_allclose(a, b)
    assert "e __str__" in capsys.readouterr().out


def test_print_of_a_constant_prints_at_run_time_not_once_at_compile_time(capsys):
    c = Print("c")(T.constant(np.array([1.0, 2.0])))
    f = nbgrad.function([], c * 2)
    assert capsys.readouterr().out == ""
    f()
    f()
    assert capsys.readouterr().out.count("c __str__") == 2


def test_print_survives_fusion_and_its_result_is_the_callers_own(capsys):
    x = T.dvector("x")
    p = Print("p")(x)
    f = nbgrad.function([x], [p, T.exp(p) * 2 + 1])
    value = np.array([1.0, 2.0])
    first, second = f(value)
    assert "Print" in debugprint(f, file="str")
    first[0] = 99.0  # the returned array does not share memory with the input
    assert value[0] == 1.0
    np.testing.assert_allclose(second, np.exp([1.0, 2.0]) * 2 + 1)
    assert capsys.readouterr().out.count("p __str__") == 1


def test_print_refuses_a_bad_message():
    with pytest.raises(TypeError, match="message must be a string"):
        Print(3)


# --- debugprint -------------------------------------------------------------------------------
def test_debugprint_defaults_and_options():
    x = T.dscalar("x")
    y = T.exp(x) * 2
    assert debugprint(y, file="str") == "mul [id A]\n ├─ exp [id B]\n │  └─ x [id C]\n └─ 2 [id D]"
    assert debugprint(y, depth=1, file="str") == "mul [id A]"
    assert debugprint(y, 2, file="str") == "mul [id A]\n ├─ exp [id B]\n └─ 2 [id C]"
    assert debugprint(y, ids="int", file="str").splitlines()[0] == "mul [id 0]"
    assert debugprint(y, ids="", file="str").splitlines()[0] == "mul"
    assert debugprint(y, ids="id", file="str").splitlines()[0] == f"mul [id {id(y.owner)}]"
    assert debugprint(y, print_type=True, file="str").splitlines()[0] == "mul [id A] <TensorType(float64, scalar)>"
    assert debugprint(y, depth=0, file="str") == ""


def test_debugprint_stops_at_named_variables_when_asked():
    x = T.dscalar("x")
    h = T.exp(x)
    h.name = "h"
    y = h + 1
    assert "x" in debugprint(y, file="str")
    text = debugprint(y, stop_on_name=True, file="str")
    assert text == "add [id A]\n ├─ exp [id B] 'h'\n └─ 1 [id C]"


def test_debugprint_to_a_stream_and_to_stdout(capsys):
    x = T.dscalar("x")
    buf = io.StringIO()
    assert debugprint(x * 2, file=buf) is None
    assert buf.getvalue().startswith("mul [id A]")
    nbgrad.debugprint(nbgrad.function([x], x * 2))
    assert capsys.readouterr().out.startswith("mul [id A]")


def test_debugprint_refuses_a_file_given_as_depth():
    with pytest.raises(TypeError, match="depth must be an int"):
        debugprint(T.dscalar(), "str")


# --- finding NaNs node by node --------------------------------------------------------------
def test_the_nan_hunting_recipe_with_monitor_mode(capsys):
    def detect_nan(i, node, fn):
        for output in fn.outputs:
            if np.isnan(output[0]).any():
                print("*** NaN detected ***")
                debugprint(node)
                print("Inputs : %s" % [inp[0] for inp in fn.inputs])
                print("Outputs: %s" % [out[0] for out in fn.outputs])
                break

    x = T.dscalar("x")
    f = nbgrad.function([x], [T.log(x) * x],
                        mode=nbgrad.compile.MonitorMode(post_func=detect_nan).excluding(
                            "local_elemwise_fusion", "inplace"))
    f(0.5)
    assert capsys.readouterr().out == ""
    f(-1.0)
    out = capsys.readouterr().out
    assert out.startswith("*** NaN detected ***\nlog [id A]\n └─ x [id B]\nInputs : [array(-1.)]")
    assert out.count("*** NaN detected ***") == 2  # log makes it, mul passes it on


def test_debug_mode_by_name_points_at_the_division_by_zero():
    x, y = T.dvectors("xy")
    f = nbgrad.function([x, y], (x / y).sum(), mode="DebugMode")
    assert float(f(np.ones(2), np.ones(2))) == 2.0
    with pytest.raises(nbgrad.compile.modes.InvalidValueError, match="true_div|Composite"):
        f(np.ones(2), np.array([1.0, 0.0]))


def test_test_value_flag_is_accepted():
    old = nbgrad.config.compute_test_value
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbgrad.config.compute_test_value = "warn"
        assert nbgrad.config.compute_test_value == "warn"
        x = T.dmatrix("x")
        x.tag.test_value = np.ones((2, 2))
        assert nbgrad.function([x], x.sum())(x.tag.test_value) == 4.0
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbgrad.config.compute_test_value = old


# --- a recurrent network over a sequence, as the scan tutorial builds it -----------------------
def test_rnn_with_softmax_outputs_indexed_as_theano_returns_them():
    n_in, n_hid, n_out, steps = 3, 4, 2, 5
    rng = np.random.default_rng(0)
    W_in = nbgrad.shared(rng.normal(size=(n_in, n_hid)) * 0.5, name="W_in")
    W_rec = nbgrad.shared(rng.normal(size=(n_hid, n_hid)) * 0.5, name="W_rec")
    W_out = nbgrad.shared(rng.normal(size=(n_hid, n_out)) * 0.5, name="W_out")
    u = T.dmatrix("u")
    t = T.lvector("t")
    h0 = T.zeros((n_hid,))

    def step(u_t, h_prev):
        h_t = T.tanh(T.dot(u_t, W_in) + T.dot(h_prev, W_rec))
        return h_t, T.nnet.softmax(T.dot(h_t, W_out))

    (h, s), _ = nbgrad.scan(step, sequences=u, outputs_info=[h0, None])
    p = s[:, 0, :]  # each step's softmax is a (1, n_out) row
    cost = -T.mean(T.log(p[T.arange(t.shape[0]), t]))
    params = [W_in, W_rec, W_out]
    train = nbgrad.function([u, t], cost, updates=[(w, w - 0.2 * g) for w, g in zip(params, T.grad(cost, params))])
    predict = nbgrad.function([u], p)

    uv = rng.normal(size=(steps, n_in))
    tv = (uv[:, 0] > 0).astype("int64")
    probs = predict(uv)
    assert probs.shape == (steps, n_out)
    np.testing.assert_allclose(probs.sum(axis=1), np.ones(steps))
    # the same network, step by step in NumPy
    hv = np.zeros(n_hid)
    for k in range(steps):
        hv = np.tanh(uv[k] @ W_in.get_value() + hv @ W_rec.get_value())
        e = np.exp(hv @ W_out.get_value())
        np.testing.assert_allclose(probs[k], e / e.sum(), rtol=1e-10)
    first = train(uv, tv)
    for _ in range(30):
        last = train(uv, tv)
    assert last < first


# --- showing test values -------------------------------------------------------------------
def test_print_test_value_shows_the_tagged_value_in_the_repr():
    n = T.dscalar("n")
    n.tag.test_value = 7
    unnamed = T.lvector()
    unnamed.tag.test_value = [1, 2]
    assert repr(n) == "n"
    with nbgrad.config.change_flags(print_test_value=True):
        assert repr(n) == "n\n" + repr(np.array(7.0))
        assert repr(unnamed).endswith("\n" + repr(np.array([1, 2])))
        assert repr(T.dscalar("bare")) == "bare"  # no test value: the name alone
        bad = T.dvector("bad")
        bad.tag.test_value = "text"
        assert "does not fit" in repr(bad)
    assert repr(n) == "n"
    with pytest.raises(ValueError, match="print_test_value"):
        nbgrad.config.print_test_value = "yes"


# --- Theano packages nbgrad leaves out say so, and what to use ----------------------------
@pytest.mark.parametrize("stmt, feature, instead", [
    ("from nbgrad.gof.utils import *", "C-op", "nbgrad.graph.op.Op"),
    ("from nbgrad.misc.pkl_utils import dump", "pickling", "nbgrad.save"),
    ("from nbgrad.tensor.extra_ops import bincount", "bincount", "T.arange"),
    ("nbgrad.tensor.extra_ops.unique", "unique", "NumPy"),
])
def test_left_out_theano_packages_name_themselves_and_the_nbgrad_way(stmt, feature, instead):
    with pytest.raises(ImportError) as info:
        exec(stmt, {"nbgrad": nbgrad})
    assert feature in str(info.value) and instead in str(info.value)


def test_tensor_utils_gives_the_shape_of_every_variable_for_given_input_shapes():
    from nbgrad.graph.fg import FunctionGraph
    from nbgrad.tensor.utils import hash_from_ndarray, shape_of_variables

    x, w = T.dmatrix("x"), T.dmatrix("w")
    h = T.tanh(T.dot(x[2:], w))
    fg = FunctionGraph([x, w], [h.sum(axis=0)], clone=False)
    d = shape_of_variables(fg, {x: (10, 3), w: (3, 5)})
    assert [int(s) for s in d[h]] == [8, 5]
    assert [int(s) for s in d[fg.outputs[0]]] == [5]
    assert all(isinstance(s, np.ndarray) and s.ndim == 0 for s in d[x])
    with pytest.raises(ValueError, match="no shape given for the input"):
        shape_of_variables(fg, {x: (10, 3)})
    a = np.arange(6.0).reshape(2, 3)
    assert hash_from_ndarray(a) == hash_from_ndarray(a.copy())
    assert hash_from_ndarray(a) != hash_from_ndarray(a.T) != hash_from_ndarray(a.astype("float32"))


def test_the_one_hot_recipe_named_in_that_error_works():
    labels = T.lvector("labels")
    one_hot = nbgrad.function([labels], T.eq(T.arange(4), labels[:, None]))
    np.testing.assert_array_equal(one_hot(np.array([1, 3])), np.eye(4, dtype=bool)[[1, 3]])


def test_other_missing_tensor_attributes_stay_attribute_errors():
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        _ = T.no_such_thing


# --- Fourier transforms (theano.tensor.fft) ------------------------------------------------
def test_rfft_of_a_pulse_train_stores_real_and_imaginary_parts_on_a_last_axis():
    from nbgrad.tensor import fft

    signals = T.dmatrix("signals")
    spectrum = nbgrad.function([signals], fft.rfft(signals, norm="ortho"))
    n = 16
    pulses = np.zeros((2, n))
    pulses[0, ::4] = 1.0  # period 4: energy only at frequencies 0, 4 and 8
    pulses[1, 3] = 2.0  # one shifted spike: flat magnitude, turning phase
    out = spectrum(pulses)
    assert out.shape == (2, n // 2 + 1, 2)
    magnitude = np.hypot(out[..., 0], out[..., 1])
    np.testing.assert_allclose(magnitude[0], np.where(np.arange(9) % 4 == 0, 1.0, 0.0), atol=1e-12)
    np.testing.assert_allclose(magnitude[1], np.full(9, 2.0 / 4.0))
    phase = np.angle(out[1, :, 0] + 1j * out[1, :, 1])
    np.testing.assert_allclose(np.exp(1j * phase), np.exp(-2j * np.pi * 3 * np.arange(9) / n))


def test_irfft_undoes_rfft_for_odd_and_even_lengths_and_higher_rank():
    from nbgrad.tensor import fft

    rng = np.random.default_rng(3)
    for values, is_odd in ((rng.normal(size=(3, 10)), False), (rng.normal(size=(2, 4, 9)), True)):
        x = T.tensor(dtype="float64", shape=(None,) * values.ndim)
        for norm in (None, "ortho"):
            back = nbgrad.function([x], fft.irfft(fft.rfft(x, norm=norm), norm=norm, is_odd=is_odd))
            np.testing.assert_allclose(back(values), values, atol=1e-12)
    assert T.fft is fft


def test_fft_gradients_match_finite_differences_and_parseval():
    from nbgrad.tensor import fft

    rng = np.random.RandomState(5)
    weights = rng.normal(size=(4, 2))
    nbgrad.gradient.verify_grad(lambda x: fft.rfft(x) * weights, [rng.normal(size=(2, 6))], rng=rng)
    nbgrad.gradient.verify_grad(lambda y: fft.irfft(y, is_odd=True) ** 2, [rng.normal(size=(2, 4, 2))], rng=rng)
    # Parseval with the orthonormal scaling: the spectrum's energy (middle bins twice) is the signal's
    x = T.dmatrix("x")
    energy = (x ** 2).sum()
    spec = fft.rfft(x, norm="ortho")
    both_signs = np.array([1.0, 2.0, 2.0, 1.0])[:, None]  # length 6: bins 1 and 2 stand for ±f
    spec_energy = (spec ** 2 * both_signs).sum()
    values = rng.normal(size=(3, 6))
    f = nbgrad.function([x], [energy, spec_energy, T.grad(spec_energy, x)])
    e, se, g = f(values)
    np.testing.assert_allclose(se, e)
    np.testing.assert_allclose(g, 2 * values)


def test_fft_norm_must_be_none_or_ortho():
    from nbgrad.tensor import fft

    with pytest.raises(ValueError, match="norm must be None or 'ortho'"):
        fft.rfft(T.dmatrix(), norm="forward")


# --- extra ops (theano.tensor.extra_ops) ---------------------------------------------------
def test_extra_ops_running_totals_differences_and_repeats_agree_with_numpy():
    from nbgrad.tensor import extra_ops as ops

    m = T.dmatrix("m")
    values = np.arange(1.0, 13.0).reshape(3, 4) ** 1.5
    f = nbgrad.function([m], [ops.cumsum(m), ops.cumsum(m, axis=0), ops.cumprod(m, axis=-1),
                              ops.diff(m), ops.diff(m, n=2, axis=0), ops.repeat(m, 2, axis=1),
                              ops.repeat(m, 3)])
    expected = [np.cumsum(values), np.cumsum(values, axis=0), np.cumprod(values, axis=-1),
                np.diff(values), np.diff(values, n=2, axis=0), np.repeat(values, 2, axis=1),
                np.repeat(values, 3)]
    for got, want in zip(f(values), expected):
        np.testing.assert_allclose(got, want)
    assert T.extra_ops is ops


def test_extra_ops_gradients_match_finite_differences():
    from nbgrad.tensor import extra_ops as ops

    rng = np.random.RandomState(11)
    start = rng.uniform(0.5, 1.5, size=(3, 4))
    for build in (lambda x: ops.cumsum(x, axis=1) ** 2, lambda x: ops.cumprod(x, axis=0),
                  lambda x: ops.diff(x, n=2) * 3.0, lambda x: ops.repeat(x, 2, axis=0) ** 2,
                  lambda x: ops.fill_diagonal(x, 0.0) ** 2):
        nbgrad.gradient.verify_grad(build, [start], rng=rng)
    # a cumulative sum's gradient is the reversed running total of the output gradient
    v = T.dvector("v")
    weights = np.array([1.0, 10.0, 100.0])
    g = nbgrad.function([v], T.grad((ops.cumsum(v) * weights).sum(), v))
    np.testing.assert_allclose(g(np.zeros(3)), [111.0, 110.0, 100.0])


def test_one_hot_codes_diagonals_and_windows():
    from nbgrad.tensor import extra_ops as ops

    labels, m, k = T.lvector("labels"), T.dmatrix("m"), T.lscalar("k")
    codes = nbgrad.function([labels], ops.to_one_hot(labels, 4))(np.array([3, 0, 3]))
    assert codes.dtype == nbgrad.config.floatX
    np.testing.assert_array_equal(codes, np.eye(4)[[3, 0, 3]])
    diag = nbgrad.function([m, k], [ops.fill_diagonal(m, -1.0), ops.fill_diagonal_offset(m, 9.0, k)])
    plain, shifted = diag(np.zeros((2, 3)), 1)
    np.testing.assert_array_equal(plain, [[-1, 0, 0], [0, -1, 0]])
    np.testing.assert_array_equal(shifted, [[0, 9, 0], [0, 0, 9]])
    np.testing.assert_array_equal(diag(np.zeros((3, 2)), -1)[1], [[0, 0], [9, 0], [0, 9]])
    window = nbgrad.function([k], ops.bartlett(k))
    for n in (1, 4, 7):
        np.testing.assert_allclose(window(n), np.bartlett(n))
    with pytest.raises(TypeError, match="one integer count"):
        ops.repeat(m, np.array([1, 2]))


def test_fft_and_cumulative_ops_batch_without_a_loop():
    from nbgrad.tensor import extra_ops as ops
    from nbgrad.tensor import fft
    from nbgrad.vectorize import Blockwise, vectorize_graph

    x, xs = T.dmatrix("x"), T.dtensor3("xs")
    values = np.random.default_rng(8).normal(size=(3, 2, 5))
    for build in (lambda a: fft.irfft(fft.rfft(a) * 2.0, is_odd=True), lambda a: ops.cumsum(a, axis=1),
                  lambda a: ops.cumprod(a)):
        batched = nbgrad.function([xs], vectorize_graph(build(x), {x: xs}))
        one = nbgrad.function([x], build(x))
        np.testing.assert_allclose(batched(values), np.stack([one(v) for v in values]))
        assert not any(isinstance(n.op, Blockwise) for n in batched.maker.fgraph.toposort())


# --- Theano's module path for the NaN monitor ----------------------------------------------
def test_detect_nan_lives_at_theanos_monitormode_path(capsys):
    from nbgrad.compile.monitormode import MonitorMode, detect_nan

    x = T.dvector("x")
    halve = nbgrad.function([x], x / 2, mode=MonitorMode(post_func=detect_nan))
    capsys.readouterr()
    halve(np.array([4.0, 6.0]))
    assert capsys.readouterr().out == ""  # finite values: nothing to report
    halve(np.array([4.0, np.nan]))
    report = capsys.readouterr().out
    assert report.startswith("*** NaN detected ***\n")
    lines = report.splitlines()
    assert lines[1].startswith("true_div") and "nan" in lines[-2] and lines[-2].startswith("Inputs : [array([")
    assert lines[-1].startswith("Outputs: [array([") and "2." in lines[-1] and "nan" in lines[-1]
