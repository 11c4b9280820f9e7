"""conv2d and pool_2d: values against direct references, options, errors, printing, a tiny LeNet."""

import warnings
import zlib

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.gradient import verify_grad
from nbgrad.printing import latex
from nbgrad.tensor import conv
from nbgrad.tensor.nnet import conv as legacy_conv
from nbgrad.tensor.signal import downsample
from nbgrad.tensor.signal.pool import MaxPoolGrad, pool_2d
from tests.tensor import conv_reference as ref

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("border_mode", ["valid", "full", "half", 1, (2, 0)])
@pytest.mark.parametrize("subsample", [(1, 1), (2, 3)])
@pytest.mark.parametrize("filter_flip", [True, False])
@pytest.mark.parametrize("filter_dilation", [(1, 1), (2, 1)])
def test_conv2d_matches_scipy(border_mode, subsample, filter_flip, filter_dilation):
    x, w = T.tensor4("x"), T.tensor4("w")
    xv, wv = RNG.normal(size=(2, 3, 9, 8)), RNG.normal(size=(4, 3, 3, 2))
    y = T.nnet.conv2d(x, w, border_mode=border_mode, subsample=subsample, filter_flip=filter_flip,
                      filter_dilation=filter_dilation)
    got = nbgrad.function([x, w], y)(xv, wv)
    want = ref.conv2d(xv, wv, border_mode, subsample, filter_flip, filter_dilation)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("border_mode, subsample, filter_dilation", [
    ("valid", (1, 1), (1, 1)), ("full", (2, 1), (1, 1)), ("half", (1, 2), (2, 2)), ((1, 2), (3, 2), (1, 1)),
])
def test_conv2d_gradients_against_finite_differences(border_mode, subsample, filter_dilation):
    verify_grad(lambda x, w: T.nnet.conv2d(x, w, border_mode=border_mode, subsample=subsample,
                                           filter_dilation=filter_dilation),
                [RNG.normal(size=(2, 2, 7, 6)), RNG.normal(size=(3, 2, 3, 2))], rng=RNG)


def test_conv2d_second_order_and_rop():
    def grad_x(x, w):
        return T.grad((T.tanh(T.nnet.conv2d(x, w, border_mode="half")) ** 2).sum(), w)

    verify_grad(grad_x, [RNG.normal(size=(1, 2, 5, 5)), RNG.normal(size=(2, 2, 3, 3))], rng=RNG)
    x, w, vx, vw = T.tensor4("x"), T.tensor4("w"), T.tensor4("vx"), T.tensor4("vw")
    y = T.nnet.conv2d(x, w, subsample=(2, 1))
    jv = nbgrad.function([x, w, vx, vw], T.Rop(y, [x, w], [vx, vw]))
    f = nbgrad.function([x, w], y)
    p = [RNG.normal(size=(2, 2, 6, 5)), RNG.normal(size=(3, 2, 2, 2))]
    t = [RNG.normal(size=a.shape) for a in p]
    eps = 1e-6
    fd = (f(*[a + eps * b for a, b in zip(p, t)]) - f(*[a - eps * b for a, b in zip(p, t)])) / (2 * eps)
    np.testing.assert_allclose(jv(*p, *t), fd, rtol=1e-6, atol=1e-6)


def test_conv2d_static_shape_float32_and_declared_shapes():
    x = T.tensor("float32", shape=(None, 3, 28, 28), name="x")
    w = T.tensor("float32", shape=(8, 3, 5, 5), name="w")
    y = T.nnet.conv2d(x, w, input_shape=(None, 3, 28, 28), filter_shape=(8, 3, 5, 5))
    assert y.dtype == "float32" and y.type.shape == (None, 8, 24, 24)
    assert T.nnet.conv2d(x, w, border_mode="half", subsample=(2, 2)).type.shape == (None, 8, 14, 14)
    with pytest.raises(ValueError, match="filter_shape"):
        T.nnet.conv2d(x, w, filter_shape=(8, 3, 3, 3))
    out = nbgrad.function([x, w], y)(np.ones((2, 3, 28, 28), "float32"), np.ones((8, 3, 5, 5), "float32"))
    assert out.dtype == np.float32 and np.all(out == 75.0)


@pytest.mark.parametrize("build, match", [
    (lambda: T.nnet.conv2d(T.dmatrix(), T.tensor4()), "4-d tensors"),
    (lambda: T.nnet.conv2d(T.tensor("float64", shape=(1, 3, 5, 5)), T.tensor("float64", shape=(2, 4, 3, 3))),
     "3 channels but the filters expect 4"),
    (lambda: T.nnet.conv2d(T.tensor("float64", shape=(1, 1, 2, 5)), T.tensor("float64", shape=(2, 1, 3, 3))),
     "smaller than the filters"),
    (lambda: T.nnet.conv2d(T.tensor4(), T.tensor4(), border_mode="same"), "'valid', 'full', 'half'"),
    (lambda: T.nnet.conv2d(T.tensor4(), T.tensor4(), subsample=(0, 1)), "must be positive"),
])
def test_conv2d_bad_arguments_say_what_is_expected(build, match):
    with pytest.raises((TypeError, ValueError), match=match):
        build()


def test_conv2d_too_small_input_at_run_time_names_the_problem():
    x, w = T.tensor4("x"), T.tensor4("w")
    f = nbgrad.function([x, w], T.nnet.conv2d(x, w))
    with pytest.raises(ValueError, match="smaller than the .dilated. filter"):
        f(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="smaller than the .dilated. filter"):
        f(np.ones((4, 1, 2, 2)), np.ones((1, 1, 3, 3)))  # a batch: the batch-innermost kernel


@pytest.mark.parametrize("batch_inner", [False, True])
@pytest.mark.parametrize("border_mode, subsample, filter_dilation, filter_flip", [
    ("valid", (1, 1), (1, 1), True), ("full", (2, 1), (1, 1), False), ("half", (1, 2), (2, 2), True),
    ((1, 2), (3, 2), (1, 1), True), ((2, 0), (1, 1), (1, 2), False),
])
def test_conv_kernels_in_both_layouts_match_the_references(batch_inner, border_mode, subsample,
                                                           filter_dilation, filter_flip):
    """The NCHW and the batch-innermost kernels, each against loops and SciPy, in float32."""
    rng = np.random.default_rng(zlib.crc32(repr((border_mode, subsample, filter_dilation)).encode()))
    n, c, o = (int(v) for v in rng.integers(1, 5, size=3))
    h, wd = (int(v) for v in rng.integers(6, 11, size=2))
    kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
    xv = rng.normal(size=(n, c, h, wd)).astype("float32")
    wv = rng.normal(size=(o, c, kh, kw)).astype("float32")
    op = conv.Conv2d(border_mode, subsample, filter_flip, filter_dilation)
    geometry = (op._pads((kh, kw)), subsample, filter_dilation)
    wf = conv._flip(wv) if filter_flip else wv
    y = conv._forward(np, xv, wf, *geometry, batch_inner)
    want = ref.conv2d(xv, wv, border_mode, subsample, filter_flip, filter_dilation)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
    gy = rng.normal(size=y.shape).astype("float32")
    gx = conv._grad_inputs(np, wf, gy, (h, wd), *geometry, batch_inner)
    want = ref.conv2d_grad_inputs(wv, gy, (h, wd), border_mode, subsample, filter_flip, filter_dilation)
    assert gx.dtype == np.float32 and gx.flags.c_contiguous
    np.testing.assert_allclose(gx, want, rtol=1e-4, atol=1e-4)
    gw = conv._grad_weights(np, xv, gy, (kh, kw), *geometry, batch_inner)
    gw = conv._flip(gw) if filter_flip else gw
    want = ref.conv2d_grad_weights(xv, gy, (kh, kw), border_mode, subsample, filter_flip, filter_dilation)
    assert gw.dtype == np.float32
    np.testing.assert_allclose(gw, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(20, 16, 8, 8), (20, 3, 5, 7), (3, 1024), (9, 2, 2048)])
def test_batch_innermost_copies_are_transposes(shape):
    """Images 4 KiB apart (16·8·8 float32) are copied 8 at a time; the result is the same transpose."""
    x = RNG.normal(size=shape).astype("float32")
    xt = conv._to_batch_inner(np, x)
    assert xt.flags.c_contiguous
    np.testing.assert_array_equal(xt, np.moveaxis(x, 0, -1))
    np.testing.assert_array_equal(conv._from_batch_inner(np, xt), x)


def test_conv_layout_follows_the_output_rows():
    """Short output rows take the batch-innermost kernels, long ones and single images NCHW."""
    assert conv._batch_inner(64, 8) and not conv._batch_inner(64, 24) and not conv._batch_inner(1, 8)


def test_legacy_conv_spelling_is_a_true_convolution():
    x, w = T.tensor4("x"), T.tensor4("w")
    xv, wv = RNG.normal(size=(2, 1, 6, 6)), RNG.normal(size=(2, 1, 3, 3))
    y = legacy_conv.conv2d(x, w, filter_shape=(2, 1, 3, 3), image_shape=(2, 1, 6, 6), border_mode="full",
                           subsample=(1, 1))
    np.testing.assert_allclose(nbgrad.function([x, w], y)(xv, wv), ref.conv2d(xv, wv, "full"), atol=1e-12)
    with pytest.raises(ValueError, match="'valid' or 'full'"):
        legacy_conv.conv2d(x, w, border_mode="half")


def test_conv_prints_as_conv2d_and_star():
    x, w = T.tensor4("x"), T.tensor4("W")
    assert nbgrad.pp(T.nnet.conv2d(x, w)) == "conv2d(x, W)"
    assert latex(T.nnet.conv2d(x, w)) == r"x \star W"
    assert latex(2 * T.nnet.conv2d(x + 1, w)) == r"2 \left(x + 1\right) \star W"
    assert nbgrad.pp(T.nnet.conv2d(x, w, border_mode="full")) == "conv2d{border_mode='full'}(x, W)"


# --------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("mode", ["max", "sum", "average_inc_pad", "average_exc_pad"])
@pytest.mark.parametrize("ws, ignore_border, stride, pad", [
    ((2, 2), True, None, (0, 0)), ((2, 2), False, None, (0, 0)), ((3, 2), False, (2, 1), (0, 0)),
    ((3, 3), True, (2, 2), (1, 1)), ((2, 3), False, (3, 3), (0, 0)), ((1, 1), True, (2, 2), (0, 0)),
])
def test_pool_2d_matches_loops_and_finite_differences(mode, ws, ignore_border, stride, pad):
    x = T.tensor4("x")
    xv = RNG.normal(size=(2, 3, 7, 5))
    y = pool_2d(x, ws, ignore_border=ignore_border, stride=stride, pad=pad, mode=mode)
    got = nbgrad.function([x], y)(xv)
    np.testing.assert_allclose(got, ref.pool_2d(xv, ws, ignore_border, stride, pad, mode), atol=1e-12)
    verify_grad(lambda a: pool_2d(a, ws, ignore_border=ignore_border, stride=stride, pad=pad, mode=mode),
                [xv], rng=RNG)


@pytest.mark.parametrize("shape, ws, ignore_border, stride, pad", [
    ((3, 4, 6, 8), (2, 2), True, None, (0, 0)),  # windows tile the input
    ((2, 3, 7, 5), (2, 2), True, None, (0, 0)),  # disjoint, the last row and column in none
    ((2, 3, 7, 5), (2, 2), False, None, (0, 0)),  # partial windows at the edges
    ((2, 2, 7, 9), (2, 3), True, (3, 4), (1, 1)),  # gaps between windows, padding
    ((2, 2, 7, 6), (3, 2), False, (2, 1), (0, 0)),  # overlapping windows
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_max_pool_grad_matches_loops_with_ties(shape, ws, ignore_border, stride, pad, dtype):
    """Every entry equal to its window's maximum gets the window's gradient (small integers: many ties)."""
    rng = np.random.default_rng(5)
    xv = rng.integers(0, 3, size=shape).astype(dtype)
    x, g = T.tensor4("x", dtype=dtype), T.tensor4("g", dtype=dtype)
    op = MaxPoolGrad(ws, ignore_border, stride, pad)
    y = pool_2d(x, ws, ignore_border=ignore_border, stride=stride, pad=pad)
    gv = rng.normal(size=ref.pool_2d(xv, ws, ignore_border, stride, pad).shape).astype(dtype)
    got = nbgrad.function([x, g], op(x, y, g))(xv, gv)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, ref.max_pool_grad(xv, gv, ws, ignore_border, stride, pad), rtol=1e-6)


def test_pool_2d_default_ignore_border_is_false_with_a_warning():
    x = T.dmatrix("x")
    with pytest.warns(UserWarning, match="ignore_border=None means ignore_border=False"):
        y = pool_2d(x, (2, 2))
    assert nbgrad.function([x], y)(np.ones((3, 3))).shape == (2, 2)


def test_pool_older_spellings_and_errors():
    x = T.dtensor3("x")
    v = RNG.normal(size=(2, 5, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = downsample.max_pool_2d(x, (2, 2), ignore_border=True)
        b = pool_2d(x, ds=(2, 2), st=(2, 2), ignore_border=True)
    f = nbgrad.function([x], [a, b])
    np.testing.assert_allclose(f(v)[0], ref.pool_2d(v, (2, 2), True))
    np.testing.assert_allclose(f(v)[1], f(v)[0])
    with pytest.raises(ValueError, match="padding works only with ignore_border=True"):
        pool_2d(x, (2, 2), ignore_border=False, pad=(1, 1))
    with pytest.raises(ValueError, match="mode must be one of"):
        pool_2d(x, (2, 2), ignore_border=True, mode="mean")
    with pytest.raises(TypeError, match="at least 2"):
        pool_2d(T.dvector(), (2, 2), ignore_border=True)


def test_pool_prints_its_window():
    x = T.tensor4("x")
    assert nbgrad.pp(pool_2d(x, (2, 2), ignore_border=True)) == "pool_2d{ws=(2, 2), ignore_border=True}(x)"
    assert latex(pool_2d(x, (2, 2), ignore_border=True)) == r"\operatorname{maxpool}(x)"


# ------------------------------------------------------------------------ tiny LeNet
def _lenet(rng):
    f32 = "float32"

    def param(shape, name, scale):
        return nbgrad.shared((rng.normal(size=shape) * scale).astype(f32), name=name)

    params = [param((4, 1, 3, 3), "W1", 0.4), param((4,), "b1", 0.0),
              param((6, 4, 2, 2), "W2", 0.3), param((6,), "b2", 0.0),
              param((6, 3), "W3", 0.3), param((3,), "b3", 0.0)]
    W1, b1, W2, b2, W3, b3 = params
    x, y = T.tensor4("x", dtype=f32), T.lvector("y")
    h1 = pool_2d(T.tanh(T.nnet.conv2d(x, W1) + b1.dimshuffle("x", 0, "x", "x")), (2, 2), ignore_border=True)
    h2 = pool_2d(T.tanh(T.nnet.conv2d(h1, W2) + b2.dimshuffle("x", 0, "x", "x")), (2, 2), ignore_border=True)
    p = T.nnet.softmax(h2.flatten(2) @ W3 + b3)
    loss = -T.mean(T.log(p[T.arange(y.shape[0]), y]))
    return params, x, y, loss


def test_tiny_lenet_trains_in_float32_and_its_gradients_agree_with_finite_differences():
    rng = np.random.default_rng(3)
    params, x, y, loss = _lenet(rng)
    grads = T.grad(loss, params)
    assert all(g.dtype == "float32" for g in grads)
    lr = np.float32(0.2)
    train = nbgrad.function([x, y], loss, updates=[(p, p - lr * g) for p, g in zip(params, grads)])
    # synthetic data: the class is which third of the 10x10 image holds a bright square
    n = 24
    labels = rng.integers(0, 3, size=n)
    images = rng.normal(scale=0.1, size=(n, 1, 10, 10)).astype("float32")
    for k, c in enumerate(labels):
        images[k, 0, 3 * c:3 * c + 4, 3:7] += 1.0
    losses = [float(train(images, labels)) for _ in range(30)]
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.7 * losses[0], losses

    # gradients of the (float64) cost w.r.t. the first conv layer's filters, against central differences
    W1 = params[0]
    cost = nbgrad.function([x, y], T.cast(loss, "float64"))
    g1 = nbgrad.function([x, y], grads[0])(images[:6], labels[:6]).astype("float64")
    w0 = W1.get_value()
    num = np.zeros_like(g1)
    eps = 1e-2
    for idx in np.ndindex(w0.shape):
        for sign in (1, -1):
            w = w0.copy()
            w[idx] += sign * eps
            W1.set_value(w)
            num[idx] += sign * float(cost(images[:6], labels[:6])) / (2 * eps)
    W1.set_value(w0)
    np.testing.assert_allclose(g1, num, rtol=5e-2, atol=2e-3)
