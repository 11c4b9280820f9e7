"""Properties of grad, Rop, Lop, jacobian and hessian on randomly generated expression graphs.

A graph is a short random program over two length-3 vectors: each step applies one op of
the table below to earlier values. Every derivative is compared with central finite
differences of the compiled function (NumPy arithmetic), never with nbgrad itself.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import nbgrad
import nbgrad.tensor as T

N = 3
_M = np.array([[0.5, -1.0, 0.2], [0.3, 0.8, -0.4], [-0.6, 0.1, 0.9]])

# (name, arity, builder) — every builder maps length-3 vectors to a length-3 vector,
# with smooth behaviour on the whole real line (no kinks or poles near random points).
UNARY = [
    ("sin", T.sin),
    ("tanh", T.tanh),
    ("sigmoid", T.sigmoid),
    ("softplus", T.softplus),
    ("exp_tanh", lambda a: T.exp(T.tanh(a))),
    ("log1p_sq", lambda a: T.log(1 + a ** 2)),
    ("square", lambda a: a * a),
    ("neg", lambda a: -a),
    ("reverse", lambda a: a[::-1]),
    ("dot_const", lambda a: T.dot(_M, a)),
    ("matvec_T", lambda a: T.dot(a, _M)),
    ("softmax", lambda a: T.softmax(a)[0]),  # a vector's softmax is a (1, n) row, as in Theano
    ("log_softmax", T.log_softmax),
    ("sum_bcast", lambda a: a.sum() + a * 0.5),
    ("mean_times", lambda a: T.mean(a) * a),
    ("reshape_col", lambda a: a.reshape((N, 1)).sum(axis=1)),
    ("dimshuffle_row", lambda a: a.dimshuffle("x", 0).sum(axis=0) * 2.0),
    ("outer_rowsum", lambda a: T.outer(a, T.cos(a)).sum(axis=0)),
    ("cumulative_idx", lambda a: T.stack([a[0], a[0] + a[1], a[1] * a[2]])),
]
BINARY = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div_safe", lambda a, b: a / (1.5 + T.sin(b))),
    ("concat", lambda a, b: T.concatenate([a[:2], b[2:]])),
    ("set_sub", lambda a, b: T.set_subtensor(a[1:], b[:2])),
    ("inc_sub", lambda a, b: T.inc_subtensor(a[[0, 2]], b[1:])),
    ("dot_scale", lambda a, b: T.dot(a, b) * a),
    ("matrix_mix", lambda a, b: T.dot(T.outer(a, b), a)),
    ("join_reshape", lambda a, b: T.concatenate([a, b]).reshape((2, N)).sum(axis=0)),
    ("where_like", lambda a, b: T.switch(T.gt(b, 100.0), a, b * a)),
]

step = st.one_of(
    st.tuples(st.just(1), st.integers(0, len(UNARY) - 1), st.integers(0, 10), st.integers(0, 10)),
    st.tuples(st.just(2), st.integers(0, len(BINARY) - 1), st.integers(0, 10), st.integers(0, 10)),
)
programs = st.lists(step, min_size=1, max_size=5)
points = st.lists(st.floats(-1.5, 1.5), min_size=2 * N, max_size=2 * N).map(
    lambda v: (np.array(v[:N]), np.array(v[N:]))
)


def build(program, x, y):
    pool = [x, y]
    for arity, k, i, j in program:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        pool.append(UNARY[k][1](a) if arity == 1 else BINARY[k][1](a, b))
    return pool[-1] + 0.1 * pool[-2]  # both wrt stay connected in most programs


def describe(program):
    return " ; ".join(UNARY[k][0] if a == 1 else BINARY[k][0] for a, k, _, _ in program)


def numeric_jacobian(f, xv, yv, eps=1e-6):
    """d f(x, y) / d[x, y] by central differences: shape out.shape + (2N,)."""
    base = np.concatenate([xv, yv])
    cols = []
    for k in range(2 * N):
        d = np.zeros(2 * N)
        d[k] = eps
        hi, lo = base + d, base - d
        cols.append((np.asarray(f(hi[:N], hi[N:])) - np.asarray(f(lo[:N], lo[N:]))) / (2 * eps))
    return np.stack(cols, axis=-1)


def _close(a, b, what, program):
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg=f"{what} for: {describe(program)}")


@settings(max_examples=30, deadline=None)
@given(programs, points)
def test_grad_rop_lop_against_finite_differences(program, pt):
    x, y = T.dvectors("x", "y")
    out = build(program, x, y)
    xv, yv = pt
    f = nbgrad.function([x, y], out)
    J = numeric_jacobian(f, xv, yv)  # (N, 2N)

    w = np.linspace(0.5, 1.5, N)
    gx, gy = T.grad((out * w).sum(), [x, y], disconnected_inputs="ignore")
    u = np.array([0.3, -0.7, 1.1, 0.4, 0.9, -0.2])
    jv = T.Rop(out, [x, y], [T.constant(u[:N]), T.constant(u[N:])], disconnected_outputs="ignore")
    vj = T.Lop(out, [x, y], T.constant(w), disconnected_inputs="ignore")
    g = nbgrad.function([x, y], [gx, gy, jv] + vj)
    vgx, vgy, vjv, vjx, vjy = g(xv, yv)
    _close(np.concatenate([vgx, vgy]), w @ J, "grad", program)
    _close(vjv, J @ u, "Rop", program)
    _close(np.concatenate([vjx, vjy]), w @ J, "Lop", program)

    Jx, Jy = T.jacobian(out, [x, y], disconnected_inputs="ignore")
    Jf = nbgrad.function([x, y], [Jx, Jy])(xv, yv)
    _close(np.concatenate(Jf, axis=1), J, "jacobian", program)


@settings(max_examples=20, deadline=None)
@given(programs, points)
def test_hessian_symmetric_and_equal_to_jacobian_of_grad(program, pt):
    x, y = T.dvectors("x", "y")
    cost = (build(program, x, y) * np.array([0.7, -1.2, 0.4])).sum()
    xv, yv = pt
    H = T.hessian(cost, x, disconnected_inputs="ignore")
    g = T.grad(cost, x, disconnected_inputs="ignore")
    J_rev = T.jacobian(g, x, disconnected_inputs="ignore")
    J_fwd = T.jacobian(g, x, mode="forward", disconnected_inputs="ignore")
    hv, jr, jf = nbgrad.function([x, y], [H, J_rev, J_fwd], on_unused_input="ignore")(xv, yv)
    _close(hv, hv.T, "hessian symmetry", program)
    _close(hv, jr, "hessian vs jacobian(grad)", program)
    _close(hv, jf, "hessian vs forward jacobian(grad)", program)
    fg = nbgrad.function([x, y], g, on_unused_input="ignore")
    numeric = numeric_jacobian(fg, xv, yv)[:, :N]
    np.testing.assert_allclose(hv, numeric, rtol=1e-4, atol=1e-5, err_msg=describe(program))
