"""Every op of the library through the same checks, driven by ``tests/op_table.py``.

Values against NumPy/SciPy (several dtypes, broadcasting, static and unknown shapes),
L_op and R_op against central finite differences, second derivatives, printing, and
that every op class has a row.
"""

import importlib
import pkgutil
import zlib

import numpy as np
import pytest

import nbgrad
import nbgrad.scalar.basic as ps
import nbgrad.tensor as T
from nbgrad.gradient import DisconnectedInputError, verify_grad
from nbgrad.graph.op import Op
from nbgrad.graph.traversal import io_toposort
from nbgrad.printing import latex
from nbgrad.tensor.type import TensorType
from tests.op_table import EXEMPT, ROWS

NAMES = ("qa", "qb", "qc", "qd")
EPS = 1e-6

DIFF_ROWS = [r for r in ROWS if r.grad]
NONDIFF_ROWS = [r for r in ROWS if not r.grad and {"float64", "float32"} & set(r.dtypes)]
SECOND_ROWS = [r for r in ROWS if r.grad and r.second]


def _rng(row, salt=""):
    return np.random.default_rng(zlib.crc32((row.name + salt).encode()))


def _values(row, shapes, dtype, rng):
    return [
        row.domain[i].sample(rng, shapes[i], dt) for i, dt in enumerate(row.input_dtypes(dtype))
    ]


def _dynamic(shape):
    """The shape as course code declares it: sizes unknown, broadcastable axes (size 1) kept."""
    return tuple(1 if s == 1 else None for s in shape)


def _symbols(row, shapes, dtypes, static):
    return [
        TensorType(dt, shapes[i] if static else _dynamic(shapes[i]))(NAMES[i])
        for i, dt in enumerate(dtypes)
    ]


def _cases(rows, with_dtypes=True):
    out = []
    for row in rows:
        for k, shapes in enumerate(row.shapes):
            if with_dtypes:
                for dtype in row.dtypes:
                    label = "-".join(dtype) if isinstance(dtype, tuple) else dtype
                    out.append(pytest.param(row, shapes, dtype, id=f"{row.name}-{k}-{label}"))
            else:
                out.append(pytest.param(row, shapes, id=f"{row.name}-{k}"))
    return out


# ------------------------------------------------------------------------ values
def _value_cases():
    """Every dtype with unknown static shapes; the row's first dtype with static shapes too."""
    out = []
    for case in _cases(ROWS):
        row, shapes, dtype = case.values
        out.append(pytest.param(row, shapes, dtype, False, id=case.id + "-unknown-shape"))
        if dtype == row.dtypes[0]:
            out.append(pytest.param(row, shapes, dtype, True, id=case.id + "-static-shape"))
    return out


@pytest.mark.parametrize("row, shapes, dtype, static", _value_cases())
def test_value_matches_numpy(row, shapes, dtype, static):
    vals = _values(row, shapes, dtype, _rng(row, str(shapes) + str(dtype)))
    inputs = _symbols(row, shapes, row.input_dtypes(dtype), static)
    out = row.fn(*inputs)
    with np.errstate(all="ignore"):
        expected = np.asarray(row.ref(*vals))
    got = nbgrad.function(inputs, out)(*vals)
    assert isinstance(got, np.ndarray)
    assert got.dtype == expected.dtype, f"{row.name}: dtype {got.dtype}, NumPy gives {expected.dtype}"
    assert got.shape == expected.shape
    assert out.dtype == expected.dtype
    assert out.ndim == expected.ndim
    for axis, (s, n) in enumerate(zip(out.type.shape, expected.shape)):
        assert s is None or s == n, f"static size {s} of axis {axis} contradicts the value's {n}"
    if expected.dtype.kind == "f":
        rtol = row.rtol or (1e-5 if expected.dtype == np.float32 else 1e-10)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("row, shapes", _cases(ROWS, with_dtypes=False))
def test_infer_shape(row, shapes, request):
    """Each node's ``infer_shape`` gives the shapes its outputs have at run time."""
    if row.no_infer_shape:
        request.applymarker(pytest.mark.xfail(reason=row.no_infer_shape, strict=True))
    dtype = row.dtypes[0]
    vals = _values(row, shapes, dtype, _rng(row))
    inputs = _symbols(row, shapes, row.input_dtypes(dtype), static=False)
    out = row.fn(*inputs)
    checked, actual = [], []
    for node in io_toposort(inputs, [out]):
        in_shapes = [tuple(T.shape_i(i, k) for k in range(i.ndim)) for i in node.inputs]
        try:
            inferred = node.op.infer_shape(None, node, in_shapes)
        except NotImplementedError:
            pytest.fail(f"{node.op} has no infer_shape")
        for o, s in zip(node.outputs, inferred):
            assert len(s) == o.ndim
            checked.extend(T.as_tensor_variable(d) for d in s)
            actual.extend(T.shape_i(o, k) for k in range(o.ndim))
    if checked:
        got = nbgrad.function(inputs, checked + actual, on_unused_input="ignore")(*vals)
        assert [int(g) for g in got[: len(checked)]] == [int(g) for g in got[len(checked):]]


# ------------------------------------------------------------------- derivatives
def _split(row, vals):
    """Differentiable inputs as variables; fixed ones (indices, masks) as constants."""
    diff = [i for i in range(row.nin) if not row.fixed(i)]

    def build(*xs):
        args = [T.constant(v) for v in vals]
        for i, x in zip(diff, xs):
            args[i] = x
        return row.fn(*args)

    return diff, build


def _numeric_grad(f, xs, i, eps):
    x = xs[i]
    g = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        xp, xm = [a.copy() for a in xs], [a.copy() for a in xs]
        xp[i][j] += eps
        xm[i][j] -= eps
        g[j] = (f(*xp) - f(*xm)) / (2 * eps)
    return g


def _eps(out):
    """Finite-difference step: a float32 result cannot resolve a step of 1e-6."""
    return EPS if out.dtype == "float64" else 1e-3


def _close(sym, num, what, out):
    scale = max(1.0, float(np.max(np.abs(num))) if np.size(num) else 1.0)
    tol = 1e-5 if out.dtype == "float64" else 1e-3
    np.testing.assert_allclose(sym, num, rtol=tol, atol=tol * scale / 10, err_msg=what)


@pytest.mark.parametrize("static", [False, True], ids=["unknown-shape", "static-shape"])
@pytest.mark.parametrize("row, shapes", _cases(DIFF_ROWS, with_dtypes=False))
def test_L_op_matches_finite_differences(row, shapes, static):
    rng = _rng(row, "L" + str(shapes))
    vals = _values(row, shapes, "float64", rng)
    diff, build = _split(row, vals)
    xs = [TensorType("float64", shapes[i] if static else _dynamic(shapes[i]))(NAMES[i]) for i in diff]
    out = build(*xs)
    proj = rng.uniform(0.5, 1.5, size=np.shape(row.ref(*vals)))
    cost = (out * T.constant(proj)).sum()
    grads = T.grad(cost, xs)
    for x, g in zip(xs, grads):
        assert g.dtype == x.dtype and g.ndim == x.ndim
    f_cost = nbgrad.function(xs, cost)
    f_grad = nbgrad.function(xs, grads)
    points = [vals[i] for i in diff]
    analytic = f_grad(*points)
    rule = row.vjp(proj, *points) if row.vjp else None
    for k, (x, a) in enumerate(zip(points, analytic)):
        assert a.shape == x.shape, f"gradient of input {k} has shape {a.shape}, expected {x.shape}"
        if rule is not None:
            _close(a, rule[k], f"{row.name}: input {k} against the row's vjp rule", out)
            continue
        num = _numeric_grad(lambda *p: float(f_cost(*p)), points, k, _eps(out))
        _close(a, num, f"{row.name}: input {k}", out)


@pytest.mark.parametrize("row, shapes", _cases(DIFF_ROWS, with_dtypes=False))
def test_R_op_matches_finite_differences(row, shapes):
    rng = _rng(row, "R" + str(shapes))
    vals = _values(row, shapes, "float64", rng)
    diff, build = _split(row, vals)
    xs = [TensorType("float64", _dynamic(shapes[i]))(NAMES[i]) for i in diff]
    vs = [x.type(f"v_{x.name}") for x in xs]
    out = build(*xs)
    jv = T.Rop(out, xs, vs)
    assert jv.dtype == out.dtype and jv.ndim == out.ndim
    f = nbgrad.function(xs, out)
    f_jv = nbgrad.function(xs + vs, jv)
    points = [vals[i] for i in diff]
    tangents = [rng.normal(size=p.shape) for p in points]
    analytic = f_jv(*points, *tangents)
    if row.jvp:
        _close(analytic, row.jvp(tangents, *points), f"{row.name} against the row's jvp rule", out)
        return
    eps = _eps(out)
    plus = f(*[p + eps * t for p, t in zip(points, tangents)]).astype("float64")
    minus = f(*[p - eps * t for p, t in zip(points, tangents)]).astype("float64")
    _close(analytic, (plus - minus) / (2 * eps), row.name, out)


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in DIFF_ROWS])
def test_gradient_keeps_float32(row):
    shapes = row.shapes[0]
    vals = _values(row, shapes, "float32", _rng(row))
    diff, build = _split(row, vals)
    xs = [TensorType("float32", _dynamic(shapes[i]))(NAMES[i]) for i in diff]
    out = build(*xs)
    grads = T.grad(T.cast(out, "float32").sum(), xs)
    assert [g.dtype for g in grads] == ["float32"] * len(xs)
    jv = T.Rop(out, xs, [x.type() for x in xs])
    assert jv.dtype == out.dtype


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in SECOND_ROWS])
def test_second_derivative_matches_finite_differences(row):
    shapes = row.shapes[0]
    rng = _rng(row, "second")
    vals = _values(row, shapes, "float64", rng)
    diff, build = _split(row, vals)
    proj = T.constant(rng.uniform(0.5, 1.5, size=np.shape(row.ref(*vals))))

    def gradient_vector(*xs):
        grads = T.grad((build(*xs) * proj).sum(), list(xs))
        return T.concatenate([g.flatten() for g in grads])

    verify_grad(gradient_vector, [vals[i] for i in diff], rng=rng)


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in NONDIFF_ROWS])
def test_non_differentiable_op_is_disconnected(row):
    """Integer/boolean results say "disconnected" explicitly: grad raises, Rop gives zeros."""
    shapes = row.shapes[0]
    dtype = next((d for d in row.dtypes if d in ("float64", "float32")), "float64")
    vals = _values(row, shapes, dtype, _rng(row))
    xs = _symbols(row, shapes, row.input_dtypes(dtype), static=False)
    out = row.fn(*xs)
    floats = [x for x in xs if x.dtype.startswith("float")]
    cost = T.cast(out, "float64").sum()
    for x in floats:
        with pytest.raises(DisconnectedInputError, match=x.name):
            T.grad(cost, x)
        assert T.grad(cost, x, disconnected_inputs="ignore").dtype == x.dtype
    if floats:
        jv = T.Rop(out, floats, [x.type() for x in floats])
        f = nbgrad.function(xs + [], jv, on_unused_input="ignore")
        assert not np.any(f(*vals))


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in ROWS if "int64" in r.dtypes])
def test_integer_inputs_give_zero_gradient(row):
    """Integer-valued inputs are disconnected from any cost: zero gradient, no error."""
    shapes = row.shapes[0]
    vals = _values(row, shapes, "int64", _rng(row))
    xs = _symbols(row, shapes, row.input_dtypes("int64"), static=False)
    cost = T.cast(row.fn(*xs), "float64").sum()
    grads = T.grad(cost, xs)
    got = nbgrad.function(xs, grads, on_unused_input="ignore")(*vals)
    for x, g, v in zip(xs, got, vals):
        assert g.shape == v.shape
        assert not np.any(g), f"gradient w.r.t. integer input {x} is not zero"


# ---------------------------------------------------------------------- printing
@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in ROWS])
def test_prints_with_input_names(row):
    shapes = row.shapes[0]
    xs = _symbols(row, shapes, row.input_dtypes(row.dtypes[0]), static=False)
    out = row.fn(*xs)
    used = {v.name for v in nbgrad.graph.traversal.graph_inputs([out]) if v.name in NAMES}
    text, tex = nbgrad.pp(out), latex(out)
    assert isinstance(text, str) and isinstance(tex, str) and text and tex
    for name in used if row.prints_inputs else ():
        assert name in text, f"{name} missing from pp output {text!r}"
        assert name in tex, f"{name} missing from LaTeX output {tex!r}"


# ---------------------------------------------------------------------- coverage
def _covered():
    """The op classes, and the scalar op classes of elementwise ops, in the rows' graphs."""
    ops, scalar = set(), set()
    for row in ROWS:
        for shapes in row.shapes:
            dtype = row.dtypes[0]
            xs = _symbols(row, shapes, row.input_dtypes(dtype), static=False)
            for node in io_toposort(xs, [row.fn(*xs)]):
                ops.add(type(node.op))
                if hasattr(node.op, "scalar_op"):
                    scalar.add(type(node.op.scalar_op))
    return ops, scalar


def _subclasses(base):
    out, todo = set(), [base]
    while todo:
        for c in todo.pop().__subclasses__():
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _nbgrad_op_classes():
    """Every subclass of ``Op`` and ``ScalarOp`` defined in a module of nbgrad, after importing them all."""
    for info in pkgutil.walk_packages(nbgrad.__path__, "nbgrad."):
        importlib.import_module(info.name)
    return {c for c in _subclasses(Op) | _subclasses(ps.ScalarOp) if c.__module__.startswith("nbgrad.")}


def test_every_op_has_a_row():
    ops, scalar = _covered()
    covered = ops | scalar
    classes = _nbgrad_op_classes()
    missing = sorted(f"{c.__module__}.{c.__qualname__}" for c in classes - covered - set(EXEMPT))
    assert not missing, (
        f"op classes without a row in tests/op_table.py: {missing}; add a row (or, for an abstract "
        f"base or an op that only a rewrite makes, an entry with its reason in EXEMPT)"
    )
    stale = sorted(c.__name__ for c in set(EXEMPT) & covered)
    assert not stale, f"EXEMPT lists op classes that rows cover: {stale}; remove them from EXEMPT"
    unknown = sorted(c.__name__ for c in set(EXEMPT) - classes)
    assert not unknown, f"EXEMPT lists classes that are no op class of nbgrad: {unknown}"
    assert all(isinstance(r, str) and r for r in EXEMPT.values()), "every EXEMPT entry needs its reason"


def test_the_coverage_check_sees_ops_outside_tensor():
    """The walk finds op classes in every package, not only those ``nbgrad.tensor`` imports."""
    names = {c.__name__ for c in _nbgrad_op_classes()}
    assert {"Scan", "IfElse", "Print", "RandomVariable", "Blockwise", "Diagonals", "ZeroGrad",
            "InplaceElemwise", "Composite"} <= names
