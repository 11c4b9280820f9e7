"""scan: forward values, taps, updates, random draws, gradients (vs finite differences), Rop."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.random import RandomStreams

RNG = np.random.default_rng(0)


def numeric_grad(f, x, eps=1e-6):
    x = np.array(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


def rnn_numpy(W, U, X, h0):
    h = h0
    hs = []
    for x in X:
        h = np.tanh(h @ W + x @ U)
        hs.append(h)
    return np.array(hs)


def build_rnn(truncate=-1):
    W, U, X, h0 = T.dmatrix("W"), T.dmatrix("U"), T.dtensor3("X"), T.dmatrix("h0")
    hs, upd = nbgrad.scan(lambda x, h, W, U: T.tanh(T.dot(h, W) + T.dot(x, U)),
                          sequences=X, outputs_info=h0, non_sequences=[W, U],
                          truncate_gradient=truncate)
    return (W, U, X, h0), hs, upd


def rnn_values():
    return (RNG.normal(size=(4, 4)) * 0.5, RNG.normal(size=(3, 4)) * 0.5,
            RNG.normal(size=(6, 2, 3)), RNG.normal(size=(2, 4)))


# ------------------------------------------------------------------ forward
def test_cumsum_and_sitsot_values():
    v = T.dvector("v")
    s, upd = nbgrad.scan(lambda x, acc: acc + x, sequences=v, outputs_info=T.constant(0.0))
    assert upd == {}
    np.testing.assert_allclose(nbgrad.function([v], s)([1.0, 2.0, 3.0, 4.0]), [1, 3, 6, 10])


def test_rnn_forward_matches_numpy():
    ins, hs, _ = build_rnn()
    vals = rnn_values()
    np.testing.assert_allclose(nbgrad.function(list(ins), hs)(*vals), rnn_numpy(*vals), rtol=1e-12)


def test_taps_on_sequences_and_outputs_fibonacci():
    x = T.dvector("x")
    # y_t = y_{t-2} + y_{t-1} + x_{t-1} * x_{t+1}
    f0 = T.dvector("f0")
    ys, _ = nbgrad.scan(lambda xm1, xp1, a, b: a + b + xm1 * xp1,
                        sequences=dict(input=x, taps=[-1, 1]),
                        outputs_info=dict(initial=f0, taps=[-2, -1]))
    xv = np.arange(1.0, 8.0)
    out = nbgrad.function([x, f0], ys)(xv, [0.0, 1.0])
    expect, a, b = [], 0.0, 1.0
    for t in range(len(xv) - 2):
        new = a + b + xv[t] * xv[t + 2]
        expect.append(new)
        a, b = b, new
    np.testing.assert_allclose(out, expect)


def test_none_outputs_info_several_outputs_and_n_steps():
    a = T.dscalar("a")
    (pw, dbl), _ = nbgrad.scan(lambda p, a: (p * a, p * 2), outputs_info=[T.constant(1.0), None],
                               non_sequences=a, n_steps=4)
    f = nbgrad.function([a], [pw, dbl])
    r = f(3.0)
    np.testing.assert_allclose(r[0], [3, 9, 27, 81])
    np.testing.assert_allclose(r[1], [2, 6, 18, 54])


def test_go_backwards():
    v = T.dvector("v")
    s, _ = nbgrad.scan(lambda x: x * 10, sequences=v, go_backwards=True)
    np.testing.assert_allclose(nbgrad.function([v], s)([1.0, 2.0, 3.0]), [30, 20, 10])


def test_symbolic_n_steps_and_closure_variable():
    n = T.lscalar("n")
    k = T.dscalar("k")
    out, _ = nbgrad.scan(lambda p: p + k, outputs_info=T.constant(0.0), n_steps=n)
    f = nbgrad.function([n, k], out)
    np.testing.assert_allclose(f(3, 2.0), [2, 4, 6])
    assert f(0, 2.0).shape == (0,)


def test_shared_variable_updated_inside_fn():
    counter = nbgrad.shared(0.0, name="counter")
    v = T.dvector("v")
    out, upd = nbgrad.scan(lambda x: (x + counter, {counter: counter + x}), sequences=v)
    f = nbgrad.function([v], out, updates=upd)
    np.testing.assert_allclose(f([1.0, 2.0, 3.0]), [1, 3, 6])
    assert counter.get_value() == 6.0
    np.testing.assert_allclose(f([1.0]), [7])
    assert counter.get_value() == 7.0


def test_random_stream_inside_fn_draws_per_step_and_advances():
    srng = RandomStreams(seed=3)
    v = T.dvector("v")
    out, upd = nbgrad.scan(lambda x: x + srng.uniform(()), sequences=v)
    assert len(upd) == 1
    f = nbgrad.function([v], out, updates=upd)
    a = f(np.zeros(5))
    b = f(np.zeros(5))
    assert len(set(a.tolist())) == 5 and np.all((a >= 0) & (a < 1))
    assert not np.allclose(a, b)
    # without the updates the default update of the stream still advances it
    g = nbgrad.function([v], out)
    assert not np.allclose(g(np.zeros(5)), g(np.zeros(5)))


def test_until_stops_early():
    x = T.dscalar("x")
    ys, _ = nbgrad.scan(lambda p: (p * 2, nbgrad.scan.until(p * 2 > 50)), outputs_info=x, n_steps=100)
    np.testing.assert_allclose(nbgrad.function([x], ys)(1.0), [2, 4, 8, 16, 32, 64])


def test_nested_scan():
    M = T.dmatrix("M")

    def row_cumsum(row):
        c, _ = nbgrad.scan(lambda e, acc: acc + e, sequences=row, outputs_info=T.constant(0.0))
        return c

    out, _ = nbgrad.scan(row_cumsum, sequences=M)
    m = RNG.normal(size=(3, 4))
    np.testing.assert_allclose(nbgrad.function([M], out)(m), np.cumsum(m, axis=1))
    g = T.grad((out ** 2).sum(), M)
    fg = nbgrad.function([M], g)
    num = numeric_grad(lambda a: (np.cumsum(a, axis=1) ** 2).sum(), m)
    np.testing.assert_allclose(fg(m), num, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------ seed 000 recipes
def test_seed_jacobian_recipe():
    x = T.dvector("x")
    y = x ** 2
    J, updates = nbgrad.scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]),
                             non_sequences=[y, x])
    f = nbgrad.function([x], J, updates=updates)
    np.testing.assert_allclose(f([4, 4]), [[8.0, 0.0], [0.0, 8.0]])


def test_seed_hessian_recipe():
    x = T.dvector("x")
    y = x ** 2
    cost = y.sum()
    gy = T.grad(cost, x)
    H, updates = nbgrad.scan(lambda i, gy, x: T.grad(gy[i], x), sequences=T.arange(gy.shape[0]),
                             non_sequences=[gy, x])
    f = nbgrad.function([x], H, updates=updates)
    np.testing.assert_allclose(f([4, 4]), [[2.0, 0.0], [0.0, 2.0]])
    # a non-diagonal Hessian: f = sum(x_i^2 x_{i+1})
    c2 = (x[:-1] ** 2 * x[1:]).sum()
    g2 = T.grad(c2, x)
    H2, _ = nbgrad.scan(lambda i, g, x: T.grad(g[i], x), sequences=T.arange(g2.shape[0]),
                        non_sequences=[g2, x])
    xv = np.array([1.0, 2.0, 3.0])
    def grad_i(a, i):
        return np.array([2 * a[0] * a[1], a[0] ** 2 + 2 * a[1] * a[2], a[1] ** 2])[i]

    num = np.array([numeric_grad(lambda a, i=i: grad_i(a, i), xv) for i in range(3)])
    np.testing.assert_allclose(nbgrad.function([x], H2)(xv), num, atol=1e-6)


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("wrt", [0, 1, 2, 3])
def test_rnn_gradient_matches_finite_differences(wrt):
    ins, hs, _ = build_rnn()
    cost = (hs[-1] ** 2).sum() + hs.sum() * 0.3
    g = nbgrad.function(list(ins), T.grad(cost, ins[wrt]))
    vals = list(rnn_values())

    def c(v):
        args = list(vals)
        args[wrt] = v
        hsv = rnn_numpy(*args)
        return (hsv[-1] ** 2).sum() + hsv.sum() * 0.3

    np.testing.assert_allclose(g(*vals), numeric_grad(c, vals[wrt]), rtol=1e-5, atol=1e-7)


def test_truncate_gradient_drops_early_steps():
    ins, hs, _ = build_rnn(truncate=2)
    W, U, X, h0 = ins
    vals = list(rnn_values())
    gX = nbgrad.function(list(ins), T.grad(hs[-1].sum(), X))(*vals)
    assert np.all(gX[:-2] == 0)
    # the last two steps agree with the full gradient
    ins_f, hs_f, _ = build_rnn()
    gX_full = nbgrad.function(list(ins_f), T.grad(hs_f[-1].sum(), ins_f[2]))(*vals)
    np.testing.assert_allclose(gX[-2:], gX_full[-2:], rtol=1e-12)
    assert not np.allclose(gX_full[:-2], 0)
    gh0 = nbgrad.function(list(ins), T.grad(hs[-1].sum(), h0))(*vals)
    assert np.all(gh0 == 0)


def test_gradient_through_taps_matches_finite_differences():
    x = T.dvector("x")
    f0 = T.dvector("f0")
    a = T.dscalar("a")
    ys, _ = nbgrad.scan(lambda xm1, x0, p2, p1, a: T.sin(p2 * a) + p1 * x0 + xm1,
                        sequences=dict(input=x, taps=[-1, 0]),
                        outputs_info=dict(initial=f0, taps=[-2, -1]), non_sequences=a)
    cost = (ys ** 2).sum()
    xv, f0v, av = RNG.normal(size=6), RNG.normal(size=2), 0.7

    def ref(xv, f0v, av):
        p2, p1 = f0v
        out = []
        for t in range(1, len(xv)):
            new = np.sin(p2 * av) + p1 * xv[t] + xv[t - 1]
            out.append(new)
            p2, p1 = p1, new
        return (np.array(out) ** 2).sum()

    gx, gf, ga = nbgrad.function([x, f0, a], T.grad(cost, [x, f0, a]))(xv, f0v, av)
    np.testing.assert_allclose(gx, numeric_grad(lambda v: ref(v, f0v, av), xv), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gf, numeric_grad(lambda v: ref(xv, v, av), f0v), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ga, numeric_grad(lambda v: ref(xv, f0v, v), av), rtol=1e-5, atol=1e-7)


def test_gradient_through_shared_weights_used_as_closure():
    W = nbgrad.shared(RNG.normal(size=(3, 3)) * 0.5, name="W")
    h0 = T.dvector("h0")
    hs, _ = nbgrad.scan(lambda h: T.tanh(T.dot(W, h)), outputs_info=h0, n_steps=4)
    gW = nbgrad.function([h0], T.grad(hs[-1].sum(), W))
    h0v = RNG.normal(size=3)

    def c(w):
        h = h0v
        for _ in range(4):
            h = np.tanh(w @ h)
        return h.sum()

    np.testing.assert_allclose(gW(h0v), numeric_grad(c, W.get_value()), rtol=1e-5, atol=1e-8)


def test_rop_through_scan_matches_finite_differences():
    ins, hs, _ = build_rnn()
    W = ins[0]
    V = T.dmatrix("V")
    jv = T.Rop(hs, W, V)
    f = nbgrad.function(list(ins) + [V], jv)
    vals = list(rnn_values())
    Vv = RNG.normal(size=vals[0].shape)
    eps = 1e-6
    num = (rnn_numpy(vals[0] + eps * Vv, *vals[1:]) - rnn_numpy(vals[0] - eps * Vv, *vals[1:])) / (2 * eps)
    np.testing.assert_allclose(f(*vals, Vv), num, rtol=1e-5, atol=1e-8)


def test_rop_through_a_two_tap_state_matches_finite_differences():
    # the initial value of a state with taps (-2, -1) holds its two rows: its tangent too
    v, f0, a = T.dvector("v"), T.dvector("f0"), T.dscalar("a")
    fib, _ = nbgrad.scan(lambda x, p2, p1, a: a * p1 + 0.5 * p2 * x, sequences=v,
                         outputs_info=dict(initial=f0, taps=[-2, -1]), non_sequences=a)
    e_v, e_f0 = T.dvector("e_v"), T.dvector("e_f0")
    jv = nbgrad.function([v, f0, a, e_v, e_f0], T.Rop(fib, [v, f0], [e_v, e_f0]))
    fwd = nbgrad.function([v, f0, a], fib)
    vv, f0v, ev, ef = RNG.normal(size=5), RNG.normal(size=2), RNG.normal(size=5), RNG.normal(size=2)
    eps = 1e-6
    num = (fwd(vv + eps * ev, f0v + eps * ef, 0.7) - fwd(vv - eps * ev, f0v - eps * ef, 0.7)) / (2 * eps)
    np.testing.assert_allclose(jv(vv, f0v, 0.7, ev, ef), num, rtol=1e-5, atol=1e-8)


# ------------------------------------------------------------------ errors
def test_error_outputs_info_dtype_mismatch_names_output_and_fix():
    v = T.dvector("v")
    with pytest.raises(TypeError, match=r"output 0 of fn has type .*float64.* outputs_info .*int64.*Fix"):
        nbgrad.scan(lambda x, acc: acc + x, sequences=v, outputs_info=T.constant(0))


def test_error_outputs_info_ndim_mismatch():
    v = T.dvector("v")
    with pytest.raises(TypeError, match=r"output 0 of fn .* dimension"):
        nbgrad.scan(lambda x, acc: acc + v, sequences=v, outputs_info=T.constant(0.0))


def test_error_wrong_number_of_fn_arguments():
    v = T.dvector("v")
    with pytest.raises(TypeError, match=r"fn takes 1 positional argument\(s\) but scan passes 2"):
        nbgrad.scan(lambda x: x, sequences=v, outputs_info=T.constant(0.0))


def test_error_wrong_number_of_outputs():
    v = T.dvector("v")
    with pytest.raises(ValueError, match="returned 2 output"):
        nbgrad.scan(lambda x, a: (x, a), sequences=v, outputs_info=T.constant(0.0))


@pytest.mark.parametrize("key", ["_rows", "inital", "return_steps"])
def test_error_unknown_outputs_info_key_names_it_and_the_allowed_keys(key):
    x0 = T.dvector("x0")
    with pytest.raises(ValueError, match=rf"outputs_info\[0\] has unknown key\(s\) '{key}'; "
                                         r"the allowed keys are 'initial', 'taps'"):
        nbgrad.scan(lambda h: h * 2, outputs_info=dict(initial=x0, **{key: True}), n_steps=3)


def test_error_return_steps_says_how_to_take_the_steps():
    x0 = T.dvector("x0")
    with pytest.raises(ValueError, match=r"return_steps is gone: take the steps you need"):
        nbgrad.scan(lambda h: h * 2, outputs_info=[dict(initial=x0, return_steps=1)], n_steps=3)


def test_error_unknown_sequence_key_names_it_and_the_allowed_keys():
    v = T.dvector("v")
    with pytest.raises(ValueError, match=r"sequence 0 has unknown key\(s\) 'tap'; "
                                         r"the allowed keys are 'input', 'taps'"):
        nbgrad.scan(lambda x: x * 2, sequences=dict(input=v, tap=[0]))


def test_error_no_sequences_no_n_steps():
    with pytest.raises(ValueError, match="n_steps"):
        nbgrad.scan(lambda a: a, outputs_info=T.constant(0.0))


def test_inner_function_compiled_once():
    ins, hs, _ = build_rnn()
    f = nbgrad.function(list(ins), hs)
    scan_nodes = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, nbgrad.scan.Scan)]
    assert len(scan_nodes) == 1
    op = scan_nodes[0].op
    f(*rnn_values())
    compiled = dict(op._compiled)
    f(*rnn_values())
    assert op._compiled == compiled and len(compiled) == 1
