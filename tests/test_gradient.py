"""grad options, stop-gradient ops, Lop/Rop, hessian and verify_grad."""

import warnings

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.gradient import DisconnectedInputError, GradientError, verify_grad, zero_grad
from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op


def test_third_derivative_of_polynomial():
    x = T.dscalar("x")
    y = x ** 4 + 2 * x ** 3
    d3 = T.grad(T.grad(T.grad(y, x), x), x)
    # d³/dx³ (x⁴ + 2x³) = 24x + 12
    assert nbgrad.function([x], d3)(1.5) == pytest.approx(24 * 1.5 + 12)


def test_non_scalar_cost_says_what_to_do():
    v = T.dvector("v")
    with pytest.raises(TypeError, match=r"sum\(\)|jacobian|Lop"):
        T.grad(v ** 2, v)


def test_disconnected_inputs_modes():
    x, y = T.dscalars("x", "y")
    with pytest.raises(DisconnectedInputError, match="does not depend on y"):
        T.grad(x ** 2, y)
    with pytest.warns(UserWarning, match="does not depend on y"):
        g = T.grad(x ** 2, y, disconnected_inputs="warn")
    assert g.eval({y: 3.0}) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gx, gy = T.grad(x ** 2, [x, y], disconnected_inputs="ignore")
    assert gy.eval({y: 1.0}) == 0.0
    assert gx.eval({x: 3.0}) == 6.0
    with pytest.raises(ValueError, match="disconnected_inputs"):
        T.grad(x ** 2, x, disconnected_inputs="maybe")


def test_return_disconnected_forms():
    x, y = T.dscalars("x", "y")
    assert T.grad(x, y, disconnected_inputs="ignore", return_disconnected="None") is None
    d = T.grad(x, y, disconnected_inputs="ignore", return_disconnected="Disconnected")
    assert str(d.type) == "DisconnectedType"


def test_no_gradient_values_keep_their_theano_import_paths():
    import nbgrad.gradient as gradient_module
    from nbgrad.graph import nograd

    names = ["DisconnectedType", "NullType", "disconnected_type", "grad_undefined",
             "grad_not_implemented", "is_symbolic_zero"]
    for name in names:
        assert getattr(gradient_module, name) is getattr(nograd, name), name
    x = T.dscalar("x")
    undefined = gradient_module.grad_undefined(T.sgn(x).owner.op, 0, x, "at zero")
    assert isinstance(undefined.type, gradient_module.NullType)
    assert "undefined" in undefined.type.why_null and "at zero" in undefined.type.why_null
    assert gradient_module.is_symbolic_zero(gradient_module.symbolic_zero(x))
    assert not gradient_module.is_symbolic_zero(T.zeros_like(x))


def test_integer_inputs_are_disconnected_without_error():
    x = T.dscalar("x")
    i = T.iscalar("i")
    gx, gi = T.grad(x * i, [x, i])
    f = nbgrad.function([x, i], [gx, gi])
    vx, vi = f(1.5, 3)
    assert vx == 3.0 and vi == 0.0
    v = T.dvector("v")
    with pytest.raises(DisconnectedInputError):
        T.grad(T.argmax(v), v)
    assert np.all(T.grad(T.argmax(v), v, disconnected_inputs="ignore").eval({v: [1.0, 2.0]}) == 0)


def test_consider_constant_and_stop_gradients():
    x, y = T.dscalars("x", "y")
    z = x * y
    # z is held constant: d(z·x)/dx = z = xy
    assert T.grad(z * x, x, consider_constant=[z]).eval({x: 2.0, y: 3.0}) == 6.0
    assert T.grad(T.consider_constant(z) * x, x).eval({x: 2.0, y: 3.0}) == 6.0
    assert T.grad(T.zero_grad(x ** 2) * x, x).eval({x: 2.0}) == 4.0
    assert T.grad(T.disconnected_grad(x ** 2) * x, x).eval({x: 2.0}) == 4.0
    with pytest.raises(DisconnectedInputError):
        T.grad(T.disconnected_grad(x ** 2), x)
    # forward values are untouched
    assert T.zero_grad(x ** 2).eval({x: 3.0}) == 9.0


def test_grad_clip_clips_the_incoming_gradient():
    x = T.dscalar("x")
    g = T.grad(T.grad_clip(x, -1.0, 1.0) ** 2, x)  # 2x clipped to [-1, 1]
    f = nbgrad.function([x], g)
    assert f(2.0) == 1.0 and f(-3.0) == -1.0 and f(0.25) == 0.5
    with pytest.raises(ValueError, match="exceeds"):
        T.grad_clip(x, 1.0, -1.0)


def test_known_grads_starts_backprop():
    x = T.dvector("x")
    y = T.exp(x)
    gy = T.dvector("gy")
    g = T.grad(None, x, known_grads={y: gy})
    xv, gv = np.array([0.0, 1.0]), np.array([2.0, 3.0])
    np.testing.assert_allclose(g.eval({x: xv, gy: gv}), gv * np.exp(xv))
    # known_grads combines with a cost
    g2 = T.grad(x.sum(), x, known_grads={y: gy})
    np.testing.assert_allclose(g2.eval({x: xv, gy: gv}), gv * np.exp(xv) + 1)


def test_null_gradients_raise_or_return():
    class NoGrad(Op):
        def make_node(self, x):
            x = T.as_tensor_variable(x)
            return Apply(self, [x], [x.type()])

        def perform(self, node, inputs, xp):
            return inputs[0] * 2

    x = T.dscalar("x")
    with pytest.raises(TypeError, match="not implemented"):
        T.grad(NoGrad()(x), x)
    g = T.grad(NoGrad()(x), x, null_gradients="return")
    assert "not implemented" in str(g.type)


def test_lop_rop_lists_and_shapes():
    W = T.dmatrix("W")
    x = T.dvector("x")
    y = T.tanh(T.dot(W, x))
    w = np.array([[0.2, -0.5], [0.3, 0.1], [1.0, 0.4]])
    xv = np.array([0.7, -0.2])
    J = (1 - np.tanh(w @ xv) ** 2)[:, None] * w
    u = np.array([1.0, 2.0])
    v = np.array([0.5, -1.0, 2.0])
    jv = T.Rop(y, x, T.constant(u)).eval({W: w, x: xv})
    vj = T.Lop(y, x, T.constant(v)).eval({W: w, x: xv})
    np.testing.assert_allclose(jv, J @ u)
    np.testing.assert_allclose(vj, v @ J)
    (jv2,) = T.Rop([y], [x], [T.constant(u)])
    np.testing.assert_allclose(jv2.eval({W: w, x: xv}), J @ u)
    with pytest.raises(ValueError, match="eval point"):
        T.Lop(y, x, T.dmatrix())
    with pytest.raises(DisconnectedInputError):
        T.Rop(W.sum(), x, T.constant(u))


def test_jacobian_and_hessian_lists_and_disconnected():
    x, y = T.dvectors("x", "y")
    out = T.concatenate([x ** 2, x * 3])
    Jx, Jy = T.jacobian(out, [x, y], disconnected_inputs="ignore")
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(Jx.eval({x: xv}), np.vstack([np.diag(2 * xv), 3 * np.eye(2)]))
    np.testing.assert_allclose(Jy.eval({x: xv, y: xv}), np.zeros((4, 2)))
    with pytest.raises(DisconnectedInputError):
        T.jacobian(out, y)
    with pytest.raises(TypeError, match="scalar"):
        T.hessian(x ** 2, x)


def test_hessian_consider_constant():
    x = T.dvector("x")
    c = T.exp(x).sum()
    H = T.hessian(c * (x ** 2).sum(), x, consider_constant=[c])
    xv = np.array([0.1, 0.2])
    np.testing.assert_allclose(H.eval({x: xv}), 2 * np.exp(xv).sum() * np.eye(2))


class _WrongSin(Op):
    """sin with a deliberately wrong derivative (cos + 1) to test verify_grad."""

    def make_node(self, x):
        x = T.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        return np.sin(inputs[0])

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] * (T.cos(inputs[0]) + 1)]


def test_verify_grad_accepts_right_and_rejects_wrong_gradients():
    pt = [np.array([0.3, -1.2, 2.0])]
    verify_grad(lambda x: T.sin(x) * x, pt, rng=np.random.default_rng(1))
    with pytest.raises(GradientError) as info:
        verify_grad(lambda x: _WrongSin()(x), pt, rng=np.random.default_rng(1))
    msg = str(info.value)
    assert "symbolic:" in msg and "numeric:" in msg
    err = info.value
    # both values are shown and they differ by the projection (the wrong "+1")
    assert np.max(np.abs(err.analytic - err.numeric)) > 0.4
    assert verify_grad.E_grad is GradientError


# ------------------------------------------------ gradients where a factor is zero (JAX's answers)
def _derivative(build, at, mode="FAST_RUN"):
    s = T.dscalar("s")
    return float(nbgrad.function([s], T.grad(build(s), s), mode=mode)(at))


@pytest.mark.parametrize("mode", ["FAST_RUN", "NONE"])
def test_power_of_a_zero_base_has_zero_gradient_in_the_exponent(mode):
    # d/ds 0**s = 0**s * log(0) was 0 * -inf = nan; JAX gives 0
    assert _derivative(lambda s: T.constant(0.0) ** s, 2.0, mode) == 0.0
    assert _derivative(lambda s: T.constant(0.0) ** s, 0.5, mode) == 0.0
    # d/dx x**0 at x = 0 was 0 * 0**-1 = nan; x**0 is constant 1, so 0
    assert _derivative(lambda s: s ** T.constant(0.0), 0.0, mode) == 0.0
    assert _derivative(lambda s: s ** T.constant(3.0), 0.0, mode) == 0.0
    assert _derivative(lambda s: s ** T.constant(3.0), 2.0, mode) == 12.0
    assert _derivative(lambda s: T.constant(2.0) ** s, 3.0, mode) == pytest.approx(8 * np.log(2.0))


@pytest.mark.parametrize("mode", ["FAST_RUN", "NONE"])
def test_abs_gradient_at_zero_is_one_as_in_jax(mode):
    # sign(0) = 0 multiplied an infinite upstream gradient into nan
    assert _derivative(T.abs, 0.0, mode) == 1.0
    assert _derivative(T.abs, -2.0, mode) == -1.0
    assert _derivative(lambda s: T.sqrt(T.abs(s)), 0.0, mode) == np.inf
    assert _derivative(lambda s: T.sqrt(T.abs(s)), -4.0, mode) == -0.25


@pytest.mark.parametrize("mode", ["FAST_RUN", "NONE"])
@pytest.mark.parametrize("build, at", [
    (lambda s: T.sqrt(T.relu(s)), -1.0),
    (lambda s: T.sqrt(T.maximum(s, 0.0)), -1.0),
    (lambda s: T.sqrt(T.maximum(0.0, s)), -1.0),
    (lambda s: T.sqrt(-T.minimum(s, 0.0)), 1.0),
    (lambda s: T.sqrt(T.clip(s, 0.0, 1.0)), -1.0),
    (lambda s: T.sqrt(1.0 - T.clip(s, 0.0, 1.0)), 2.0),
    (lambda s: T.sqrt(T.switch(T.gt(s, 0), s, 0.0)), -1.0),
    (lambda s: T.sqrt(T.switch(T.le(s, 0), 0.0, s)), -1.0),
])
def test_branch_not_taken_gets_an_exact_zero_under_an_infinite_gradient(build, at, mode):
    # sqrt' is inf at 0; the branch not taken was weighted by a 0/1 mask: 0 * inf = nan.
    # JAX selects instead and gives 0.
    assert _derivative(build, at, mode) == 0.0


@pytest.mark.parametrize("mode", ["FAST_RUN", "NONE"])
def test_a_zero_derivative_never_meets_an_infinite_factor(mode):
    # sign' is exactly 0: sqrt's factor 1/(2 sqrt(s)) is inf at 0, and 0 * inf would be nan.
    # The zero is symbolic (as JAX's): it is not passed through sqrt's rule at all.
    assert _derivative(lambda s: T.sign(T.sqrt(s)), 0.0, mode) == 0.0
    assert _derivative(lambda s: T.sign(T.sqrt(s)) + s, 0.0, mode) == 1.0
    assert _derivative(lambda s: zero_grad(T.sqrt(s)) * s, 4.0, mode) == 2.0
