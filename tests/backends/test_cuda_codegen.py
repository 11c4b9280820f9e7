"""CUDA source generation for fused Composites: structure, caching, and nvcc compilation."""

import shutil
import subprocess
import types

import numpy as np
import pytest

import nbgrad.tensor as T
from nbgrad.backends import cuda_codegen as cg
from nbgrad.scalar.basic import Cast, scalar_ops
from nbgrad.scalar.composite import Composite
from nbgrad.tensor.elemwise import Elemwise

FLOATS = ("float64", "float32", "float16")
INTS = ("int64", "int32", "int8", "uint8")
DTYPES = FLOATS + INTS + ("bool",)


def _scalar(dtype):
    return T.TensorType(dtype, ())()


def _single_op(sop, dtypes):
    """Composite of ``sop`` applied to fresh inputs, followed by an add so it is a chain."""
    ins = [_scalar(d) for d in dtypes]
    z = Elemwise(sop)(*ins)
    if z.dtype != "bool":
        z = z + z
    return Composite(ins, [z])


def _op_cases():
    """(name, Composite) for every registered scalar op over every dtype combination it accepts."""
    cases = []
    for name, cls in sorted(scalar_ops.items()):
        sop = cls()
        for d in DTYPES:
            if sop.nin == 3 and name == "switch":
                dtypes = ("bool", d, d)
            else:
                dtypes = (d,) * sop.nin
            try:
                with np.errstate(all="ignore"):
                    comp = _single_op(sop, dtypes)
            except (TypeError, ValueError):
                continue  # NumPy itself has no loop for these dtypes
            cases.append((f"{name}-{d}", comp))
    for src in ("float32", "int64", "bool", "float16"):
        for dst in ("float64", "int32", "float16", "bool"):
            a = _scalar(src)
            cases.append((f"cast-{src}-{dst}", Composite([a], [Elemwise(Cast(dst))(a)])))
    return cases


def _chains():
    """Realistic fused formulas: mixed dtypes, constants (finite, inf, nan), nested Composites."""
    out = []
    x, y = T.fscalar(), T.fscalar()
    out.append(("w2-f32", Composite([x], [T.tanh(x) * T.exp(-x ** 2) + 1 / (1 + T.exp(-x))])))
    a = T.dscalar()
    out.append(("w2-f64", Composite([a], [T.tanh(a) * T.exp(-a ** 2) + 1 / (1 + T.exp(-a))])))
    i, j = T.lscalar(), T.iscalar()
    out.append(("int-mixed", Composite([i, j, x], [(i // j) % 3 + x * 2])))
    out.append(("inf-nan", Composite([a], [T.switch(T.isnan(a), np.inf, a) + np.nan * 0 - np.inf])))
    h = T.TensorType("float16", ())()
    out.append(("half", Composite([h, x], [T.sigmoid(h) * x + T.cast(h, "float32")])))
    inner = Composite([x, y], [T.maximum(x, y) * 2])
    z = Elemwise(inner)(x, y)
    out.append(("nested", Composite([x, y], [T.exp(z) + y])))
    return out


CASES = _op_cases() + _chains()


def test_every_scalar_op_is_covered():
    names = {c.split("-")[0] for c, _ in CASES}
    assert set(scalar_ops) <= names, set(scalar_ops) - names
    assert "cast" in names


@pytest.mark.parametrize("name,comp", CASES[:1] + _chains(), ids=lambda v: v if isinstance(v, str) else "")
def test_spec_generates(name, comp):
    spec = cg.kernel_spec(comp)
    assert spec.out_params == f"{comp.outputs[0].dtype} out"
    assert spec.in_params == ", ".join(f"{v.dtype} i{k}" for k, v in enumerate(comp.inputs))
    assert spec.operation.splitlines()[-1].startswith("out = ")
    assert spec.name.startswith("nbgrad_fused_")


def test_spec_is_typed_per_dtype():
    x = T.fscalar()
    spec = cg.kernel_spec(Composite([x], [T.exp(x) * 0.5]))
    assert "const float t0 = (float)(exp(i0));" in spec.operation
    assert "((float)0.5)" in spec.operation
    assert "double" not in spec.operation


def test_integer_division_follows_numpy():
    i, j = T.lscalar(), T.lscalar()
    spec = cg.kernel_spec(Composite([i, j], [(i // j) + (i % j)]))
    assert "nbgrad_floordiv<long long>" in spec.operation
    assert "nbgrad_mod<long long>" in spec.operation
    assert "nbgrad_floordiv" in spec.preamble
    x = T.dscalar()
    assert cg.kernel_spec(Composite([x], [x // 2 + 1])).preamble == ""


def test_bool_invert_is_logical_not():
    b = T.TensorType("bool", ())()
    spec = cg.kernel_spec(Composite([b], [~b]))
    assert "(!(i0))" in spec.operation


def test_same_formula_same_source_and_name():
    specs = []
    for _ in range(2):
        x = T.fscalar()
        specs.append(cg.kernel_spec(Composite([x], [T.exp(x) + 1])))
    assert specs[0].source == specs[1].source and specs[0].name == specs[1].name
    y = T.dscalar()
    assert cg.kernel_spec(Composite([y], [T.exp(y) + 1])).source != specs[0].source


class _FakeKernel:
    def __init__(self, *args, **kw):
        self.args, self.kw = args, kw
        self.calls = []

    def __call__(self, *args):
        self.calls.append(args)
        return "result"


class _FakeCupy:
    """Stands in for the cupy module: records the kernels that would be built."""

    __name__ = "fakecupy"

    def __init__(self):
        self.built = []

    def ElementwiseKernel(self, *args, **kw):  # noqa: N802 - mirrors cupy's name
        k = _FakeKernel(*args, **kw)
        self.built.append(k)
        return k


def test_kernels_are_cached_across_compilations():
    cg.clear_cache()
    xp = _FakeCupy()
    for _ in range(3):
        x, y = T.fscalar(), T.fscalar()
        comp = Composite([x, y], [T.tanh(x) * y + 1])
        fn = comp.impl(xp)
        assert fn(1, 2) == "result"
    assert len(xp.built) == 1
    info = cg.cache_info()
    assert info == {"size": 1, "hits": 2, "misses": 1}
    args, kw = xp.built[0].args, xp.built[0].kw
    assert args[0] == "float32 i0, float32 i1" and args[1] == "float32 out"
    assert args[3].startswith("nbgrad_fused_") and kw == {"preamble": ""}
    fn(1, 2, out="buf")
    assert xp.built[0].calls[-1] == (1, 2, "buf")
    cg.clear_cache()
    assert cg.cache_info()["size"] == 0


def test_a_composite_without_cuda_translation_runs_its_ops_one_by_one():
    xp = types.SimpleNamespace(__name__="fakecupy", **{k: getattr(np, k) for k in ("exp", "add", "asarray")})
    z = T.TensorType("complex128", ())()  # complex dtypes have no CUDA type here
    comp = Composite([z], [T.exp(z) + 1])
    with pytest.raises(cg.CudaCodegenError, match="complex128"):
        cg.kernel_spec(comp)
    fn = comp.impl(xp)
    a = np.array([1j, 0.5])
    np.testing.assert_allclose(fn(a), np.exp(a) + 1)
    out = np.empty(2, complex)
    assert fn(a, out=out) is out
    np.testing.assert_allclose(out, np.exp(a) + 1)


def test_standalone_source_wraps_body_like_cupy():
    x = T.fscalar()
    spec = cg.kernel_spec(Composite([x], [T.exp(x) + 1]))
    src = cg.standalone_source(spec)
    assert f'extern "C" __global__ void {spec.name}(const float* _raw_i0, float* _raw_out' in src
    assert "const float i0 = _raw_i0[_j];" in src
    assert "float &out = _raw_out[_j];" in src


_NVCC = shutil.which("nvcc")


@pytest.mark.skipif(_NVCC is None, reason="nvcc (the CUDA compiler) is not installed on this machine")
def test_every_generated_kernel_compiles_with_nvcc(tmp_path):
    specs = [cg.kernel_spec(comp) for _, comp in CASES]
    assert len({s.name for s in specs}) > 100
    cu = tmp_path / "kernels.cu"
    cu.write_text(cg.standalone_file(specs))
    res = subprocess.run(
        [_NVCC, "--ptx", "-arch=sm_80", "-std=c++17", "-o", str(tmp_path / "kernels.ptx"), str(cu)],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr[-4000:] + "\n" + "".join(
        f"{n}: {cg.kernel_spec(c).name}\n" for n, c in CASES)
    ptx = (tmp_path / "kernels.ptx").read_text()
    for s in specs:
        assert f".entry {s.name}" in ptx
