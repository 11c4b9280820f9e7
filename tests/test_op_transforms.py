"""Every row of the op table through the transforms: the same values, however they are computed.

Driven by ``tests/op_table.py`` (one shape case and one dtype per row):

- batched vs looped: ``vectorize_graph`` of the row's output over a leading batch axis on its
  inputs equals the per-example results stacked; the Jacobian (one vectorized pass, reverse
  and forward mode) equals the one assembled from per-row vector-Jacobian products (and
  per-column Jacobian-vector products);
- eager vs symbolic: the row's function through ``nbgrad.eager`` (``EAGER``) gives the compiled
  value, and ``backward()`` gives ``T.grad``;
- save -> load: a compiled function, saved and loaded, gives the same values and the same
  generated source;
- GPU: the compiled value on the CuPy backend equals NumPy's (skipped, saying why, where no
  CUDA device or CuPy exists).
"""

import zlib

import numpy as np
import pytest

import nbgrad
import nbgrad.eager as ne
import nbgrad.tensor as T
from nbgrad.gradient import Lop, Rop
from nbgrad.tensor.type import TensorType
from nbgrad.vectorize import vectorize_graph
from tests.conftest import requires_gpu
from tests.op_table import EAGER, ROWS, SAME

NAMES = ("qa", "qb", "qc", "qd")
BATCH = 3


def _dtype(row):
    """The one dtype a row is checked in here: float64 where it takes floats."""
    floats = [d for d in row.dtypes if d in ("float64", "float32")]
    return "float64" if "float64" in floats else (floats[0] if floats else row.dtypes[0])


def _rng(row, salt):
    return np.random.default_rng(zlib.crc32((row.name + salt).encode()))


def _dynamic(shape):
    return tuple(1 if s == 1 else None for s in shape)


def _inputs(row, dtype):
    """Symbolic inputs as course code declares them (sizes unknown, size-1 axes broadcastable)."""
    shapes = row.shapes[0]
    return [TensorType(dt, _dynamic(shapes[i]))(NAMES[i]) for i, dt in enumerate(row.input_dtypes(dtype))]


def _sample(row, dtype, rng, lead=()):
    shapes = row.shapes[0]
    return [row.domain[i].sample(rng, lead + tuple(shapes[i]), dt) for i, dt in enumerate(row.input_dtypes(dtype))]


def _assert_same(got, want, what, dtype):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    if want.dtype.kind in "fc":
        tol = 1e-4 if np.dtype(dtype) == np.float32 or want.dtype == np.float32 else 1e-9
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def _params(rows):
    return [pytest.param(r, id=r.name) for r in rows]


def _diff_positions(row):
    return [i for i in range(row.nin) if not row.fixed(i)]


# ------------------------------------------------------------------ batched vs looped
def _batched_positions(row):
    """Every input carries the batch axis; in a ``ragged`` row only those of ``row.batch``."""
    return list(row.batch) if row.ragged else list(range(row.nin))


BATCH_ROWS = [r for r in ROWS if _batched_positions(r)]


@pytest.mark.parametrize("row", _params(BATCH_ROWS))
def test_vectorized_value_equals_the_loop(row):
    dtype = _dtype(row)
    rng = _rng(row, "batch")
    xs = _inputs(row, dtype)
    out = row.fn(*xs)
    batched = _batched_positions(row)
    per_example = [_sample(row, dtype, rng) for _ in range(BATCH)]
    stacked = [np.stack([ex[i] for ex in per_example]) for i in range(row.nin)]
    bxs = {i: TensorType(xs[i].dtype, (None,) + xs[i].type.shape)(f"batch_{xs[i].name}") for i in batched}
    vout = vectorize_graph(out, {xs[i]: bxs[i] for i in batched})
    args = [bxs.get(i, xs[i]) for i in range(row.nin)]
    values = [stacked[i] if i in bxs else per_example[0][i] for i in range(row.nin)]
    got = nbgrad.function(args, vout, on_unused_input="ignore")(*values)

    f = nbgrad.function(xs, out, on_unused_input="ignore")
    looped = np.stack([
        f(*[ex[i] if i in bxs else per_example[0][i] for i in range(row.nin)]) for ex in per_example
    ])
    if np.ndim(got) == out.ndim:  # the output does not depend on the batched inputs
        got = np.broadcast_to(got, looped.shape)
    _assert_same(got, looped, f"{row.name}: vectorized over a batch of {BATCH}", dtype)


JACOBIAN_ROWS = [r for r in ROWS if r.grad]


def _jacobian_setup(row):
    rng = _rng(row, "jacobian")
    vals = _sample(row, "float64", rng)
    diff = _diff_positions(row)

    def build(*ws):
        args = [T.constant(v) for v in vals]
        for i, w in zip(diff, ws):
            args[i] = w
        return row.fn(*args)

    ws = [TensorType("float64", _dynamic(row.shapes[0][i]))(NAMES[i]) for i in diff]
    return ws, build(*ws), [vals[i] for i in diff]


@pytest.mark.parametrize("row", _params(JACOBIAN_ROWS))
def test_jacobian_equals_the_loop_over_vector_jacobian_products(row):
    ws, out, points = _jacobian_setup(row)
    jac = nbgrad.function(ws, T.jacobian(out, ws))(*points)
    g = out.type("cotangent")
    vjp = nbgrad.function(ws + [g], Lop(out, ws, g))
    out_shape = np.shape(nbgrad.function(ws, out)(*points))
    basis = np.eye(int(np.prod(out_shape))).reshape((-1,) + out_shape)
    rows = [vjp(*points, e.astype(out.dtype)) for e in basis]
    for k, (j, p) in enumerate(zip(jac, points)):
        looped = np.stack([r[k] for r in rows]).reshape(out_shape + p.shape)
        _assert_same(j, looped, f"{row.name}: reverse-mode Jacobian w.r.t. input {k}", "float64")


@pytest.mark.parametrize("row", _params(JACOBIAN_ROWS))
def test_forward_jacobian_equals_the_loop_over_jacobian_vector_products(row):
    ws, out, points = _jacobian_setup(row)
    jac = nbgrad.function(ws, T.jacobian(out, ws, mode="forward"))(*points)
    out_shape = np.shape(nbgrad.function(ws, out)(*points))
    for k, (w, p) in enumerate(zip(ws, points)):
        t = w.type("tangent")
        jvp = nbgrad.function(ws + [t], Rop(out, w, t))
        cols = [jvp(*points, e) for e in np.eye(max(p.size, 1)).reshape((-1,) + p.shape)[: p.size]]
        looped = np.stack(cols, axis=-1).reshape(out_shape + p.shape) if cols else np.zeros(out_shape + p.shape)
        _assert_same(jac[k], looped, f"{row.name}: forward-mode Jacobian w.r.t. input {k}", "float64")


# -------------------------------------------------------------------- eager vs symbolic
EAGER_ROWS = [r for r in ROWS if not isinstance(EAGER[r.name], str) or EAGER[r.name] is SAME]


def test_every_row_has_an_eager_spelling_or_a_reason():
    assert set(EAGER) == {r.name for r in ROWS}, "EAGER needs one entry per row of the op table"
    for name, spelling in EAGER.items():
        assert callable(spelling) or (isinstance(spelling, str) and spelling), name


def _eager_fn(row):
    spelling = EAGER[row.name]
    return row.fn if spelling is SAME else spelling


@pytest.mark.parametrize("row", _params(EAGER_ROWS))
def test_eager_equals_symbolic(row):
    dtype = _dtype(row)
    rng = _rng(row, "eager")
    vals = _sample(row, dtype, rng)
    xs = _inputs(row, dtype)
    out = row.fn(*xs)
    want = nbgrad.function(xs, out, on_unused_input="ignore")(*vals)
    diff = _diff_positions(row) if row.grad else []
    tensors = [ne.tensor(v, requires_grad=i in diff) for i, v in enumerate(vals)]
    got = _eager_fn(row)(*tensors)
    assert got.dtype == want.dtype, f"{row.name}: eager dtype {got.dtype}, symbolic {want.dtype}"
    _assert_same(got.detach().numpy(), want, f"{row.name}: eager value", dtype)
    if not diff:
        return
    proj = rng.uniform(0.5, 1.5, size=np.shape(want)).astype(want.dtype)
    (got * ne.tensor(proj)).sum().backward()
    grads = T.grad((out * T.constant(proj)).sum(), [xs[i] for i in diff])
    want_grads = nbgrad.function(xs, grads, on_unused_input="ignore")(*vals)
    for i, g in zip(diff, want_grads):
        assert tensors[i].grad is not None, f"{row.name}: backward() left no gradient for input {i}"
        _assert_same(tensors[i].grad.numpy(), g, f"{row.name}: eager gradient of input {i}", dtype)


# ------------------------------------------------------------------------- save, load
@pytest.mark.parametrize("row", _params(ROWS))
def test_saved_and_loaded_function_gives_the_same_values(row, tmp_path, request):
    if row.no_save:
        request.applymarker(pytest.mark.xfail(reason=row.no_save, strict=True))
    dtype = _dtype(row)
    vals = _sample(row, dtype, _rng(row, "save"))
    xs = _inputs(row, dtype)
    f = nbgrad.function(xs, row.fn(*xs), on_unused_input="ignore")
    path = tmp_path / "f.npz"
    nbgrad.save(path, f)
    g = nbgrad.load(path)
    assert g.source == f.source, f"{row.name}: the loaded function's generated source differs"
    _assert_same(g(*vals), f(*vals), f"{row.name}: loaded function", dtype)


# -------------------------------------------------------------------------------- GPU
@requires_gpu
@pytest.mark.parametrize("row", _params(ROWS))
def test_gpu_value_equals_cpu(row):
    import cupy

    dtype = _dtype(row)
    vals = _sample(row, dtype, _rng(row, "gpu"))
    xs = _inputs(row, dtype)
    out = row.fn(*xs)
    want = nbgrad.function(xs, out, on_unused_input="ignore")(*vals)
    got = nbgrad.function(xs, out, on_unused_input="ignore", backend="gpu")(*vals)
    assert isinstance(got, cupy.ndarray), f"{row.name}: the GPU function returned {type(got).__name__}"
    assert got.dtype == want.dtype
    _assert_same(cupy.asnumpy(got), want, f"{row.name}: GPU value", dtype)
