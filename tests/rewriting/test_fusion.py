"""Elementwise fusion, buffer reuse, the seed formulas and a fuzz test of every rewrite."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nbgrad
import nbgrad.tensor as T
from nbgrad.rewriting import Mode
from nbgrad.rewriting.inplace import InplaceElemwise
from nbgrad.backends.cpu_kernels import MIN_BLOCKED_SIZE, MIN_REUSED_SIZE
from nbgrad.scalar.composite import Composite
from nbgrad.tensor.elemwise import Elemwise
from tests.rewriting.helpers import same_values


def _composites(f):
    return [n for n in f.maker.fgraph.apply_nodes
            if isinstance(n.op, Elemwise) and isinstance(n.op.scalar_op, Composite)]


def test_chain_fuses_into_one_composite():
    x = T.dvector("x")
    f = nbgrad.function([x], T.tanh(x) * T.exp(-x ** 2) + 1 / (1 + T.exp(-x)))
    assert len(f.maker.fgraph.apply_nodes) == 1
    (node,) = _composites(f)
    assert node.inputs == [x] or [str(i) for i in node.inputs] == ["x"]
    comp = node.op.scalar_op
    assert len(comp.inputs) == 1 and comp.outputs[0].ndim == 0
    v = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(f(v), np.tanh(v) * np.exp(-v ** 2) + 1 / (1 + np.exp(-v)))


def test_shared_intermediate_is_not_duplicated():
    x = T.dvector("x")
    e = T.exp(x)
    f = nbgrad.function([x], [e * 2, e + 1])  # e has two users, each an output
    assert "fuse_elemwise" not in f.maker.rewrites_applied
    g = nbgrad.function([x], T.exp(x), mode=Mode(excluding=["fusion"]))
    assert not _composites(g)


def test_fusion_excluded_by_name():
    x = T.dvector("x")
    f = nbgrad.function([x], T.exp(x) * 2 + 1, mode=Mode(excluding=["fusion"]))
    assert not _composites(f)
    np.testing.assert_allclose(f(np.ones(3)), np.exp(1) * 2 + 1)


def test_large_arrays_blocked_and_threaded_paths_agree_with_numpy():
    x, y = T.dvector("x"), T.dscalar("y")
    f = nbgrad.function([x, y], T.sin(x) * y + T.sqr(x) - y)
    n = MIN_BLOCKED_SIZE * 3 + 17
    v = np.random.default_rng(1).standard_normal(n)
    np.testing.assert_allclose(f(v, 1.5), np.sin(v) * 1.5 + v ** 2 - 1.5)
    strided = np.random.default_rng(2).standard_normal(2 * n)[::2]  # not contiguous
    np.testing.assert_allclose(f(strided, 0.5), np.sin(strided) * 0.5 + strided ** 2 - 0.5)
    m = T.dmatrix("m")
    r = T.dvector("r")  # broadcast along rows
    g = nbgrad.function([m, r], T.exp(m) * r + 1)
    mv = np.ones((MIN_BLOCKED_SIZE // 8, 16))
    rv = np.arange(16.0)
    np.testing.assert_allclose(g(mv, rv), np.exp(mv) * rv + 1)


def test_composite_gradient_matches_unfused():
    x = T.dscalar("x")
    a = T.dscalar()
    comp = Composite([a], [T.sin(a) * a])
    y = Elemwise(comp)(x)
    g = nbgrad.function([x], T.grad(y, x))
    assert np.isclose(g(0.3), np.cos(0.3) * 0.3 + np.sin(0.3))


def test_inplace_reuses_dead_intermediates_only():
    x = T.dvector("x")
    s = nbgrad.shared(np.arange(3.0), name="s")
    big = T.exp(x) + s  # exp(x) is dead after the add: the add may overwrite it
    f = nbgrad.function([x], [T.dot(big, big), big * 0 + x], mode=Mode(excluding=["fusion"]))
    v = np.array([0.5, 1.0, 2.0])
    keep, shared_keep = v.copy(), s.get_value().copy()
    r1 = f(v)
    r2 = f(v)
    np.testing.assert_array_equal(v, keep)
    np.testing.assert_array_equal(s.get_value(), shared_keep)
    np.testing.assert_allclose(r1[0], r2[0])
    assert any(isinstance(n.op, InplaceElemwise) for n in f.maker.fgraph.apply_nodes)
    for n in f.maker.fgraph.apply_nodes:
        if isinstance(n.op, InplaceElemwise):
            target = n.inputs[n.op.inplace]
            assert target.owner is not None and target not in f.maker.fgraph.outputs


def test_inplace_with_runtime_broadcast_falls_back():
    x, y = T.tensor("float64", shape=(1,), name="x"), T.dvector("y")  # x broadcasts: declared
    f = nbgrad.function([x, y], T.exp(x) * y, mode=Mode(excluding=["fusion"]))
    np.testing.assert_allclose(f(np.array([1.0]), np.array([1.0, 2.0])), np.exp(1.0) * np.array([1.0, 2.0]))


def _inplace_kernels(f):
    return [n for n in f.maker.fgraph.apply_nodes
            if isinstance(n.op, InplaceElemwise) and isinstance(n.op.scalar_op, Composite)]


@pytest.mark.parametrize("n", [3, MIN_REUSED_SIZE + 5])
def test_fused_kernel_written_into_a_product_buffer(n):
    # -(m·v) - s and exp(m·v)·y - 1: each kernel writes into its product's buffer, small and large
    m, v, s, y = T.dmatrix("m"), T.dvector("v"), T.dscalar("s"), T.dvector("y")
    rng = np.random.default_rng(0)
    mv, vv, yv = rng.standard_normal((n, 3)), rng.standard_normal(3), rng.standard_normal(n)
    f = nbgrad.function([m, v, s], -T.dot(m, v) - s)
    g = nbgrad.function([m, v, y], T.exp(T.dot(m, v)) * y - 1)
    assert len(_inplace_kernels(f)) == len(_inplace_kernels(g)) == 1
    np.testing.assert_allclose(f(mv, vv, 0.25), -(mv @ vv) - 0.25, rtol=1e-15)
    np.testing.assert_allclose(g(mv, vv, yv), np.exp(mv @ vv) * yv - 1, rtol=1e-15)
    with pytest.raises(ValueError, match="same size on axis 0"):
        g(mv, vv, yv[:-1])  # the kernel's broadcast check comes first


def test_seed_polynomial_gradient_reads_as_one_folded_expression():
    x = T.dscalar("x")
    gy = T.grad(x ** 2 + x ** 3 + x ** 4, x)
    f = nbgrad.function([x], gy)
    out = f.maker.fgraph.outputs[0]
    assert out.owner is not None and isinstance(out.owner.op.scalar_op, Composite)
    assert len(f.maker.fgraph.apply_nodes) == 1
    text = nbgrad.pp(out)
    assert "Alloc" not in text and "- 1" not in text and "fill" not in text
    comp = out.owner.op.scalar_op
    consts = sorted(float(np.asarray(c.data)) for c in _constants(comp))
    assert consts == [2.0, 3.0, 4.0]
    for v in (-1.5, 0.0, 2.0):
        assert np.isclose(f(v), 2 * v + 3 * v ** 2 + 4 * v ** 3)


def _constants(comp):
    from nbgrad.graph.basic import Constant

    seen = []
    for n in comp.nodes:
        seen += [i for i in n.inputs if isinstance(i, Constant) and i not in seen]
    return seen


def test_seed_logistic_gradient_is_sigmoid_times_sigmoid_of_minus_x():
    x = T.dscalar("x")
    gy = T.grad(1 / (1 + T.exp(-x)), x)
    f = nbgrad.function([x], gy)
    out = f.maker.fgraph.outputs[0]
    comp = out.owner.op.scalar_op
    names = sorted(n.op.scalar_op.name for n in comp.nodes)
    assert names == ["mul", "neg", "sigmoid", "sigmoid"]
    text = nbgrad.pp(out)
    assert text.count("sigmoid") == 2 and "exp" not in text
    for v in (-3.0, 0.0, 0.5):
        s = 1 / (1 + np.exp(-v))
        assert np.isclose(f(v), s * (1 - s))


# --------------------------------------------------------------------------- fuzz
UNARY = {
    "neg": (T.neg, np.negative), "exp": (T.exp, np.exp), "tanh": (T.tanh, np.tanh),
    "sqr": (lambda a: a ** 2, lambda a: a ** 2), "log": (T.log, np.log), "abs": (abs, np.abs),
    "sigm": (lambda a: 1 / (1 + T.exp(-a)), lambda a: 1 / (1 + np.exp(-a))),
    "log1": (lambda a: T.log(1 + a), lambda a: np.log(1 + a)),
}
BINARY = {
    "add": (lambda a, b: a + b, np.add), "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply), "div": (lambda a, b: a / b, np.divide),
}
CONSTS = [0.0, 1.0, 2.0, -1.0]

leaf = st.sampled_from(["x", "y"] + [("c", c) for c in CONSTS])
exprs = st.recursive(
    leaf,
    lambda kids: st.one_of(
        st.tuples(st.sampled_from(sorted(UNARY)), kids),
        st.tuples(st.sampled_from(sorted(BINARY)), kids, kids),
    ),
    max_leaves=6,
)
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, np.inf, -np.inf, np.nan]


def _build(e, env, sym):
    if isinstance(e, str):
        return env[e]
    if e[0] == "c":
        return T.constant(e[1]) if sym else np.float64(e[1])
    k = 0 if sym else 1
    if len(e) == 2:
        return UNARY[e[0]][k](_build(e[1], env, sym))
    return BINARY[e[0]][k](_build(e[1], env, sym), _build(e[2], env, sym))


@settings(max_examples=60, deadline=None)
@given(exprs, st.lists(st.sampled_from(SPECIAL), min_size=4, max_size=4),
       st.lists(st.sampled_from(SPECIAL), min_size=4, max_size=4))
def test_fuzz_rewrites_on_off_and_numpy_agree(expr, xs, ys):
    x, y = T.dvector("x"), T.dvector("y")
    out = _build(expr, {"x": x, "y": y}, True)
    out = T.as_tensor_variable(out) + T.zeros_like(x)  # always a function of x's shape
    xv, yv = np.array(xs), np.array(ys)
    with np.errstate(all="ignore"):
        # 'stability' rewrites turn overflows into finite values on purpose
        on = nbgrad.function([x, y], out, mode=Mode(excluding=["stability"]),
                             on_unused_input="ignore")(xv, yv)
        off = nbgrad.function([x, y], out, mode=Mode("NONE"), on_unused_input="ignore")(xv, yv)
        ref = np.asarray(_build(expr, {"x": xv, "y": yv}, False)) + np.zeros_like(xv)
    assert same_values(on, off), (expr, on, off)
    assert same_values(off, ref), (expr, off, ref)


def test_inplace_writes_into_a_product_buffer():
    """tanh(x·W + b) and the update W − lr·gW reuse the buffer that dot just allocated."""
    x, b = T.fmatrix("x"), T.fvector("b")
    w = nbgrad.shared(np.ones((3, 2), dtype="float32"), name="w")
    h = T.tanh(T.dot(x, w) + b)
    gw = T.grad(h.sum(), w)
    f = nbgrad.function([x, b], h, updates=[(w, w - np.float32(0.1) * gw)])
    targets = [n.inputs[n.op.inplace].owner.op for n in f.maker.fgraph.apply_nodes
               if isinstance(n.op, InplaceElemwise)]
    assert sum(type(op).__name__ == "Dot" for op in targets) >= 2
    xv, bv = np.full((4, 3), 0.5, dtype="float32"), np.zeros(2, dtype="float32")
    w0 = w.get_value().copy()
    out = f(xv, bv)
    ref = np.tanh(xv @ w0 + bv)
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    np.testing.assert_allclose(w.get_value(), w0 - 0.1 * xv.T @ (1 - ref ** 2), rtol=1e-6)


def test_inplace_leaves_a_product_that_is_also_an_output_alone():
    x = T.dmatrix("x")
    w = nbgrad.shared(np.ones((3, 2)), name="w")
    z = T.dot(x, w)
    f = nbgrad.function([x], [z, T.tanh(z)])
    assert not any(isinstance(n.op, InplaceElemwise) for n in f.maker.fgraph.apply_nodes)
    zv, tv = f(np.ones((2, 3)))
    np.testing.assert_allclose(zv, np.full((2, 2), 3.0))
    np.testing.assert_allclose(tv, np.tanh(zv))


def _large_function():
    x = T.dvector("x")
    return nbgrad.function([x], T.tanh(x) * T.exp(-x ** 2) + 1 / (1 + T.exp(-x)))


def test_large_result_buffer_is_reused_once_released():
    f = _large_function()
    a = np.linspace(-3, 3, MIN_BLOCKED_SIZE * 2)
    r = f(a)
    address = r.ctypes.data
    del r
    r = f(a[::-1].copy())
    assert r.ctypes.data == address
    b = a[::-1]
    np.testing.assert_allclose(r, np.tanh(b) * np.exp(-b ** 2) + 1 / (1 + np.exp(-b)))


def test_large_result_held_by_the_caller_is_never_overwritten():
    f = _large_function()
    a = np.linspace(-3, 3, MIN_BLOCKED_SIZE * 2)
    first = f(a)
    view = f(a + 1)[:10]  # only a view of the second result is held
    keep_first, keep_view = first.copy(), view.copy()
    for k in range(3):
        other = f(a * k)
        assert not np.shares_memory(other, first) and not np.shares_memory(other, view)
        del other
    np.testing.assert_array_equal(first, keep_first)
    np.testing.assert_array_equal(view, keep_view)


# ------------------------------------------- result buffers of single elementwise ops
rng = np.random.default_rng(0)


def _row_scaling():
    """A lone broadcasting product (nothing to fuse): W * d[:, None], as in a Jacobian."""
    W, d = T.dmatrix("W"), T.dvector("d")
    return nbgrad.function([W, d], W * d.dimshuffle(0, "x"))


def test_single_elementwise_op_reuses_its_released_result_buffer():
    f = _row_scaling()
    assert [type(n.op) for n in f.maker.fgraph.toposort()][-1] is Elemwise
    w, d = rng.normal(size=(500, 500)), rng.normal(size=500)
    r = f(w, d)
    address = r.ctypes.data
    del r
    r = f(w, 2 * d)
    assert r.ctypes.data == address
    np.testing.assert_array_equal(r, w * (2 * d)[:, None])


def test_single_elementwise_result_held_by_the_caller_is_never_overwritten():
    f = _row_scaling()
    w, d = rng.normal(size=(500, 500)), rng.normal(size=500)
    first = f(w, d)
    view = f(w, d + 1)[3]  # only a row of the second result is held
    keep_first, keep_view = first.copy(), view.copy()
    for k in range(3):
        other = f(w, d * k)
        assert not np.shares_memory(other, first) and not np.shares_memory(other, view)
        np.testing.assert_array_equal(other, w * (d * k)[:, None])
        del other
    np.testing.assert_array_equal(first, keep_first)
    np.testing.assert_array_equal(view, keep_view)


def test_single_elementwise_result_held_by_a_shared_variable_is_never_overwritten():
    d = T.dvector("d")
    s = nbgrad.shared(np.ones((400, 300)), name="s")
    f = nbgrad.function([d], [], updates=[(s, s * d.dimshuffle(0, "x"))])
    dv = np.linspace(0.5, 1.5, 400)
    expected = np.ones((400, 300))
    values = []
    for _ in range(3):
        f(dv)
        expected = expected * dv[:, None]
        values.append((s.get_value(borrow=True), expected.copy()))
    for got, want in values:  # each held value is still the one computed at its call
        np.testing.assert_allclose(got, want)


def test_unbuffered_broadcasting_agrees_with_numpy_and_restores_numpy_settings():
    """Long broadcast rows run with a small NumPy buffer; the caller's settings come back."""
    a = T.dmatrix("a")
    av = rng.normal(size=(300, 700))
    for b, shape in ((T.dcol("b"), (300, 1)), (T.drow("b"), (1, 700)), (T.dmatrix("b"), (300, 700))):
        f = nbgrad.function([a, b], [a * b, T.exp(a) - b])
        bv = rng.normal(size=shape)
        with np.errstate(over="raise"):
            bufsize = np.getbufsize()
            p, q = f(av, bv)
            assert np.getbufsize() == bufsize and np.geterr()["over"] == "raise"
        np.testing.assert_array_equal(p, av * bv)
        np.testing.assert_allclose(q, np.exp(av) - bv)


def test_unblocked_large_evaluation_writes_temporaries_into_dead_buffers_only():
    # 300 x 300 lies between MIN_REUSED_SIZE and MIN_BLOCKED_SIZE: the unblocked form whose
    # temporaries go into the result buffer or a dead temporary
    a, b = T.dscalar(), T.dscalar()
    exprs = [b - 0.01 * a, b * (1 - T.sqr(a)), T.tanh(a + b),
             T.exp(a) * T.exp(b) + T.log(T.abs(a) + 1) * b,
             T.switch(T.gt(a, b), T.cast(a * b, "float32"), b)]
    rng = np.random.default_rng(0)
    full = [rng.standard_normal((300, 300)) for _ in range(2)]
    row = rng.standard_normal((1, 300))
    for expr in exprs:
        comp = Composite([a, b], [expr])
        ev = comp.impl(np)
        for args in (full, [full[0], row], [row, full[1]]):
            want = ev.small(*args)
            out = ev(*[v.copy() for v in args])
            np.testing.assert_allclose(out, want, rtol=1e-12)
            for k, v in enumerate(args):  # in place into input k, when it has the full shape
                if v.shape != want.shape:
                    continue
                ins = [u.copy() for u in args]
                kept = [u.copy() for u in ins]
                res = ev(*ins, out=ins[k])
                assert res is ins[k]
                np.testing.assert_allclose(res, want, rtol=1e-12)
                for j, u in enumerate(ins):
                    if j != k:
                        np.testing.assert_array_equal(u, kept[j])
        # an output buffer overlapping an input without being it: the plain small form
        base = full[0].copy()
        res = ev(base, full[1], out=base[::-1])
        np.testing.assert_allclose(res, ev.small(full[0], full[1]), rtol=1e-12)


def test_a_very_long_chain_becomes_kernels_of_bounded_size():
    from nbgrad.rewriting.fusion import MAX_FUSED

    x = T.dvector("x")
    y = x
    n = 2 * MAX_FUSED + 10
    for _ in range(n):
        y = T.tanh(y)
    f = nbgrad.function([x], y)
    sizes = sorted(_inner_size(c) for c in _composites(f))
    assert len(sizes) == 3 and max(sizes) <= MAX_FUSED and sum(sizes) == n, sizes
    v = np.array([0.5, -1.0])
    ref = v.copy()
    for _ in range(n):
        ref = np.tanh(ref)
    np.testing.assert_allclose(f(v), ref)


def _inner_size(node):
    from nbgrad.graph.traversal import io_toposort

    comp = node.op.scalar_op
    return len(io_toposort(comp.inputs, comp.outputs))


def _fused_inputs(f):
    """The outer inputs of each fused node, by the names of the nodes computing them."""
    return [[i.owner.op.name if i.owner is not None else str(i) for i in n.inputs] for n in _composites(f)]


def _same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))


def test_a_cheap_producer_is_computed_again_in_a_kernel_that_reads_its_argument():
    # the tutorial's logistic loss: the loss reads z and -z; it reads z alone and negates
    # it itself, and the negation then fuses into the prediction, its only other user
    z, y = T.dvectors("z", "y")
    p = 1 / (1 + T.exp(z))  # sigmoid(-z)
    xent = -y * T.log(p) - (1 - y) * T.log(1 - p)
    f = nbgrad.function([z, y], [p, xent])
    assert all(isinstance(n.op.scalar_op, Composite) for n in f.maker.fgraph.apply_nodes)  # all fused
    assert sorted(map(sorted, _fused_inputs(f))) == [["y", "z"], ["z"]]
    unfused = nbgrad.function([z, y], [p, xent], mode=Mode(excluding=["fusion"]))
    zs = np.array([0.0, -0.0, 1e-300, 0.5, -3.0, 36.0, -40.0, 800.0, -800.0, np.inf, -np.inf, np.nan])
    for labels in (np.zeros_like(zs), np.ones_like(zs), np.full_like(zs, 0.3)):
        with np.errstate(all="ignore"):
            for a, b in zip(f(zs, labels), unfused(zs, labels)):
                assert _same_bits(a, b)


def test_a_producer_is_not_computed_again_where_its_argument_is_not_read():
    z, y = T.dvectors("z", "y")
    n = -z
    f = nbgrad.function([z, y], [n, T.exp(n) * y + 1])
    assert _fused_inputs(f) == [["neg", "y"]]
    v = np.linspace(-2, 2, 5)
    np.testing.assert_array_equal(f(v, v)[1], np.exp(-v) * v + 1)


def test_a_costly_producer_is_not_computed_again():
    z, y = T.dvectors("z", "y")
    e = T.exp(z)
    f = nbgrad.function([z, y], [e * y + 1, e * z - y])
    assert sorted(map(sorted, _fused_inputs(f))) == [["exp", "y"], ["exp", "y", "z"]]


@pytest.mark.parametrize("order", ["chain first", "branch first"])
def test_kernels_cut_from_a_long_product_chain_take_its_side_branches_whole(order):
    # the gradient of a deep tanh chain is a running product of factors 1 - y_k², each y_k
    # also feeding the next tanh: a kernel cut at MAX_FUSED fuses its factors whole (sub and
    # sqr), so that only the tanh chain stays outside the kernels, whichever operand of
    # each product the chain is
    from nbgrad.rewriting.fusion import MAX_FUSED

    x = T.dvector("x")
    n = 3 * MAX_FUSED
    ys = [x]
    for _ in range(n):
        ys.append(T.tanh(ys[-1]))
    g = T.ones_like(x)
    for y in reversed(ys[1:]):
        g = g * (1 - y**2) if order == "chain first" else (1 - y**2) * g
    f = nbgrad.function([x], g)
    outside = [n for n in f.maker.fgraph.apply_nodes if not isinstance(n.op.scalar_op, Composite)]
    assert len(outside) <= n + 4 * n // MAX_FUSED, (len(outside), n)
    assert all(_inner_size(c) <= MAX_FUSED for c in _composites(f))
    v = np.array([0.5, -1.0])
    yv, ref = [v], np.ones_like(v)
    for _ in range(n):
        yv.append(np.tanh(yv[-1]))
    for y in reversed(yv[1:]):
        ref = ref * (1 - y**2)
    np.testing.assert_allclose(f(v), ref, rtol=1e-10)
