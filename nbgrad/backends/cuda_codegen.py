"""CUDA source for fused elementwise Composites, and the kernel cache.

A ``Composite`` (one fused chain of elementwise scalar ops) becomes one CuPy
``ElementwiseKernel``. Each inner node becomes one typed temporary::

    const float t0 = (float)(((i0) * (i1)));
    const float t1 = (float)(exp(t0));
    out = t1;

Every argument is cast to the type the op computes in, so the overloaded CUDA
math functions resolve without ambiguity and the result follows NumPy's
dtype rules: integer inputs of transcendental functions are computed in
double, ``float16`` values are computed in float and only stored as half.
Where a scalar op's CUDA template does not match NumPy for some dtypes
(integer floor division and modulo, ``~`` on booleans), this module supplies
the expression; every other expression comes from the scalar op itself.

Kernels are cached by their complete source (``KernelSpec.source``): two
compilations of the same formula with the same dtypes share one kernel object,
so CuPy compiles it once per process (and its on-disk cache reuses the binary
across processes).
"""

import hashlib
import threading

import numpy as np

from nbgrad.graph.basic import Constant
from nbgrad.scalar.basic import Cast, IntDiv, Invert, Mod, Switch
from nbgrad.scalar.composite import Composite

__all__ = [
    "KernelSpec", "CudaCodegenError", "kernel_spec", "standalone_source", "elementwise_evaluator",
    "cached_kernel", "cache_info", "clear_cache", "CUDA_TYPES", "composite_evaluator",
]

#: NumPy dtype name -> the C type CuPy uses for it in kernels.
CUDA_TYPES = {
    "float64": "double", "float32": "float", "float16": "float16",
    "int64": "long long", "int32": "int", "int16": "short", "int8": "signed char",
    "uint64": "unsigned long long", "uint32": "unsigned int", "uint16": "unsigned short",
    "uint8": "unsigned char", "bool": "bool",
}

_INT_HELPERS = """\
template <typename T> __device__ T nbgrad_floordiv(T a, T b) {
    if (b == 0) return 0;
    T q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}
template <typename T> __device__ T nbgrad_mod(T a, T b) {
    if (b == 0) return 0;
    T r = a % b;
    if ((r != 0) && ((r < 0) != (b < 0))) r += b;
    return r;
}
"""

# Header of a standalone .cu file that declares what CuPy's kernel prelude declares.
_STANDALONE_PRELUDE = """\
#include <cuda_fp16.h>
typedef __half float16;
"""


class CudaCodegenError(NotImplementedError):
    """A Composite holds an op or dtype that has no CUDA translation."""


class KernelSpec:
    """Everything needed to build one ``cupy.ElementwiseKernel``.

    Attributes
    ----------
    in_params, out_params : str
        CuPy argument lists (``'float32 i0, float32 i1'``, ``'float32 out'``).
    operation : str
        The loop body.
    name : str
        Kernel name, derived from a hash of the source (stable across runs).
    preamble : str
        Device helpers placed above the kernel ('' when none are needed).
    in_dtypes, out_dtype
        NumPy dtype names of the inputs and of the output.
    source : str
        The complete description (arguments, preamble, body); the cache key.
    """

    def __init__(self, in_dtypes, out_dtype, operation, preamble):
        self.in_dtypes = tuple(in_dtypes)
        self.out_dtype = out_dtype
        self.in_params = ", ".join(f"{d} i{k}" for k, d in enumerate(self.in_dtypes))
        self.out_params = f"{out_dtype} out"
        self.operation = operation
        self.preamble = preamble
        text = f"({self.in_params}) -> ({self.out_params})\n{preamble}{operation}"
        self.name = "nbgrad_fused_" + hashlib.sha1(text.encode()).hexdigest()[:16]
        self.source = f"// {self.name}\n{text}"

    def __repr__(self):
        return f"<KernelSpec {self.name} ({self.in_params}) -> ({self.out_params})>"


def _is_float(dtype):
    return np.dtype(dtype).kind == "f"


def _compute_type(dtype):
    """The C type values of ``dtype`` are computed in (half is computed in float)."""
    return "float" if dtype == "float16" else CUDA_TYPES[dtype]


def _cast_type(dtype):
    """The C type a cast to ``dtype`` converts to: CUDA's ``half`` for float16, else ``CUDA_TYPES``."""
    return "half" if dtype == "float16" else CUDA_TYPES[dtype]


def _upcast(*dtypes):
    return np.result_type(*dtypes).name


def _literal(value, dtype):
    """A C literal of ``value`` in the compute type of ``dtype``."""
    if dtype == "bool":
        return "true" if bool(value) else "false"
    ctype = _compute_type(dtype)
    if np.dtype(dtype).kind in "iu":
        return f"(({ctype}){int(value)}LL)" if int(value) < 0 else f"(({ctype}){int(value)}ULL)"
    v = float(value)
    if np.isnan(v):
        return f"(({ctype})__longlong_as_double(0x7ff8000000000000LL))"
    if np.isinf(v):
        bits = "0x7ff0000000000000LL" if v > 0 else "0xfff0000000000000LL"
        return f"(({ctype})__longlong_as_double({bits}))"
    text = repr(v)
    if "e" not in text and "." not in text:
        text += ".0"
    return f"(({ctype}){text})"


class _Emitter:
    def __init__(self):
        self.lines = []
        self.helpers = False
        self.count = 0

    def temp(self, dtype, expr):
        name = f"t{self.count}"
        self.count += 1
        self.lines.append(f"const {_compute_type(dtype)} {name} = ({_compute_type(dtype)})({expr});")
        return name


def _cast(value, dtype):
    """``value`` (a (C expression, dtype) pair) as a C expression of ``dtype``."""
    expr, have = value
    if have == dtype or _compute_type(have) == _compute_type(dtype):
        return expr
    return f"(({_compute_type(dtype)})({expr}))"


def _node_expr(em, sop, args, out_dtype):
    """C expression of one scalar op applied to ``args`` ((expr, dtype) pairs)."""
    if isinstance(sop, Cast):
        return f"(({_cast_type(sop.dtype)})({args[0][0]}))"
    if isinstance(sop, Switch):
        cond = _cast(args[0], "bool")
        return sop.c_code(cond, _cast(args[1], out_dtype), _cast(args[2], out_dtype))
    in_dtypes = [d for _, d in args]
    if getattr(sop, "bool_output", False):
        dtype = _upcast(*in_dtypes)
    else:
        dtype = out_dtype
    if not _is_float(dtype) and not sop.integer_safe:
        dtype = "float64"
    cast = [_cast(a, dtype) for a in args]
    if dtype == "bool" and isinstance(sop, Invert):
        return f"(!({cast[0]}))"
    if not _is_float(dtype) and dtype != "bool":
        if isinstance(sop, IntDiv):
            em.helpers = True
            return f"nbgrad_floordiv<{_compute_type(dtype)}>({cast[0]}, {cast[1]})"
        if isinstance(sop, Mod):
            em.helpers = True
            return f"nbgrad_mod<{_compute_type(dtype)}>({cast[0]}, {cast[1]})"
    try:
        template = sop.cuda
    except AttributeError:
        template = None
    if not template:
        raise CudaCodegenError(f"scalar op {sop.name} has no CUDA template; it cannot be fused "
                               "into a GPU kernel")
    return sop.c_code(*cast)


def _inline(em, comp, arg_values):
    """Emit the inner graph of ``comp`` with its inputs bound to ``arg_values``."""
    values = dict(zip(comp.inputs, arg_values))

    def value_of(v):
        if v in values:
            return values[v]
        if isinstance(v, Constant):
            val = (_literal(np.asarray(v.data).reshape(-1)[0], v.dtype), v.dtype)
            values[v] = val
            return val
        raise CudaCodegenError(f"{comp.name}: inner variable {v} is used before it is computed")

    for node in comp.nodes:
        sop = node.op.scalar_op
        args = [value_of(i) for i in node.inputs]
        out = node.outputs[0]
        if isinstance(sop, Composite):
            values[out] = (_inline(em, sop, args)[0], out.dtype)
            continue
        if out.dtype not in CUDA_TYPES:
            raise CudaCodegenError(f"{comp.name}: dtype {out.dtype} has no CUDA type")
        values[out] = (em.temp(out.dtype, _node_expr(em, sop, args, out.dtype)), out.dtype)
    return value_of(comp.outputs[0])


def kernel_spec(comp, in_dtypes=None):
    """The CUDA kernel computing Composite ``comp`` for inputs of ``in_dtypes``.

    Parameters
    ----------
    comp : nbgrad.scalar.composite.Composite
    in_dtypes : sequence of str, optional
        Input dtypes (default: the dtypes of ``comp``'s inner inputs).

    Returns
    -------
    KernelSpec

    Raises
    ------
    CudaCodegenError
        If an inner op has no CUDA template or a dtype no CUDA type.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> from nbgrad.scalar.composite import Composite
    >>> a = T.fscalar()
    >>> spec = kernel_spec(Composite([a], [T.exp(a) * a]))
    >>> spec.in_params, spec.out_params
    ('float32 i0', 'float32 out')
    >>> print(spec.operation)
    const float t0 = (float)(exp(i0));
    const float t1 = (float)(((t0) * (i0)));
    out = t1;
    """
    if in_dtypes is None:
        in_dtypes = [v.dtype for v in comp.inputs]
    in_dtypes = [np.dtype(d).name for d in in_dtypes]
    for d in in_dtypes:
        if d not in CUDA_TYPES:
            raise CudaCodegenError(f"{comp.name}: input dtype {d} has no CUDA type")
    out_dtype = comp.outputs[0].dtype
    if out_dtype not in CUDA_TYPES:
        raise CudaCodegenError(f"{comp.name}: output dtype {out_dtype} has no CUDA type")
    em = _Emitter()
    args = []
    for k, d in enumerate(in_dtypes):
        expr = f"i{k}" if d != "float16" else f"((float)(i{k}))"
        args.append((expr, d if d != "float16" else "float32"))
    result = _inline(em, comp, args)
    em.lines.append(f"out = {_cast(result, out_dtype)};")
    return KernelSpec(in_dtypes, out_dtype, "\n".join(em.lines), _INT_HELPERS if em.helpers else "")


def standalone_source(spec):
    """A self-contained CUDA C++ kernel equivalent to what CuPy builds from ``spec``.

    The body is wrapped the way ``ElementwiseKernel`` wraps it (inputs bound to
    ``const`` values, the output to a reference), over flat arrays; used to
    check generated code with ``nvcc`` where no device is present.
    """
    params = [f"const {CUDA_TYPES[d]}* _raw_i{k}" for k, d in enumerate(spec.in_dtypes)]
    params.append(f"{CUDA_TYPES[spec.out_dtype]}* _raw_out")
    params.append("long long _n")
    loads = "".join(f"        const {CUDA_TYPES[d]} i{k} = _raw_i{k}[_j];\n"
                    for k, d in enumerate(spec.in_dtypes))
    body = "".join(f"        {line}\n" for line in spec.operation.splitlines())
    return (
        f"{spec.preamble}"
        f'extern "C" __global__ void {spec.name}({", ".join(params)}) {{\n'
        "    for (long long _j = blockIdx.x * (long long)blockDim.x + threadIdx.x; _j < _n;\n"
        "         _j += (long long)blockDim.x * gridDim.x) {\n"
        f"{loads}"
        f"        {CUDA_TYPES[spec.out_dtype]} &out = _raw_out[_j];\n"
        f"{body}"
        "    }\n"
        "}\n"
    )


def standalone_file(specs):
    """One ``.cu`` translation unit holding every kernel of ``specs`` (deduplicated)."""
    seen, parts, helpers = set(), [_STANDALONE_PRELUDE], False
    for spec in specs:
        if spec.name in seen:
            continue
        seen.add(spec.name)
        if spec.preamble:
            if helpers:
                spec = _without_preamble(spec)
            helpers = True
        parts.append(standalone_source(spec))
    return "\n".join(parts)


def _without_preamble(spec):
    clone = KernelSpec.__new__(KernelSpec)
    clone.__dict__.update(spec.__dict__)
    clone.preamble = ""
    return clone


# ---------------------------------------------------------------- the kernel cache
_kernels = {}
_lock = threading.Lock()
_stats = {"hits": 0, "misses": 0}


def cached_kernel(spec, xp):
    """The ``xp.ElementwiseKernel`` for ``spec``, built once per source and module."""
    key = (xp.__name__, spec.source)
    with _lock:
        kernel = _kernels.get(key)
        if kernel is None:
            _stats["misses"] += 1
            kernel = xp.ElementwiseKernel(spec.in_params, spec.out_params, spec.operation,
                                          spec.name, preamble=spec.preamble)
            _kernels[key] = kernel
        else:
            _stats["hits"] += 1
    return kernel


def cache_info():
    """``{'size', 'hits', 'misses'}`` of the kernel cache."""
    with _lock:
        return {"size": len(_kernels), **_stats}


def clear_cache():
    """Forget every cached kernel."""
    with _lock:
        _kernels.clear()
        _stats.update(hits=0, misses=0)


def elementwise_evaluator(comp, xp):
    """``evaluate(*args, out=None)`` computing ``comp`` with one cached GPU kernel.

    Raises
    ------
    CudaCodegenError
        If ``comp`` cannot be translated (the caller may then run its ops one by one).
    """
    kernel = cached_kernel(kernel_spec(comp), xp)

    def evaluate(*args, out=None):
        if out is None:
            return kernel(*args)
        return kernel(*args, out)

    evaluate.kernel = kernel
    return evaluate


def composite_evaluator(comp, xp):
    """``evaluate(*args, out=None)`` of Composite ``comp`` on array module ``xp``: one cached kernel.

    Direct per-op calls are used only when an inner op has no CUDA translation.
    """
    try:
        return elementwise_evaluator(comp, xp)
    except CudaCodegenError:
        return _direct(comp, xp)


def _direct(comp, xp):
    """The inner ops of ``comp`` called one by one (an op without CUDA translation)."""
    fns = [node.op.scalar_op.impl(xp) for node in comp.nodes]

    def evaluate(*args, out=None):
        vals = dict(zip(comp.inputs, args))
        for fn, node in zip(fns, comp.nodes):
            ins = [vals[i] if i in vals else xp.asarray(i.data).reshape(()) for i in node.inputs]
            vals[node.outputs[0]] = fn(*ins)
        res = vals[comp.outputs[0]]
        if out is not None:
            out[...] = res
            return out
        return res

    return evaluate
