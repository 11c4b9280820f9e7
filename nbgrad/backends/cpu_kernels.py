"""The CPU evaluator of fused elementwise kernels (``Elemwise(Composite)``) and of single ops.

How a kernel runs on the CPU (chosen by measurement, see ``benchmarks/README.md``):
the inner ops are NumPy ufuncs called with ``out=`` buffers on blocks of
``BLOCK`` elements, so every temporary stays in the CPU cache and the big
arrays are read and written once; the blocks are shared among ``NUM_THREADS``
threads (NumPy releases the GIL inside ufunc loops). Small arrays skip the
blocking and call the ufuncs directly. Large results reuse the buffer of the
previous result once nobody holds it. The GPU twin is ``cuda_codegen``.
"""

import itertools
import os
import threading
from operator import itemgetter
from sys import getrefcount

import numpy as np

from nbgrad.scalar.basic import LogSigmoid, Reciprocal, Sigmoid, Softplus

__all__ = ["composite_evaluator", "cpu_impl", "inplace_evaluator", "node_evaluator", "result_keeping", "BLOCK", "NUM_THREADS",
           "MIN_BLOCKED_SIZE", "MIN_REUSED_SIZE"]

#: Elements per block: 4 temporaries of float64 blocks fit in a 1 MiB L2 cache.
BLOCK = 1 << 15
#: Arrays smaller than this are evaluated without blocking or threads.
MIN_BLOCKED_SIZE = 1 << 17
#: The same for kernels of cheap ops only (``ScalarOp.cheap``): below about a million
#: elements their arrays fit in the CPU's caches and direct ufunc calls are faster
#: (measured: ``W - 0.01*g`` on 400k float32 takes 0.09 ms directly, 0.16 ms blocked).
MIN_BLOCKED_SIZE_CHEAP = 1 << 20
#: Results with at least this many elements are written into the buffer of the previous
#: result once nobody holds it (see ``composite_evaluator``); smaller ones are fresh arrays.
MIN_REUSED_SIZE = 1 << 16
#: Broadcasting with rows of this many elements (the output's last axis) runs faster
#: without NumPy's buffering: NumPy 2 copies a stride-0 operand into 8192-element buffers
#: to lengthen the inner loop, which costs more than it saves once rows are this long
#: (measured: ``(500, 500) * (500, 1)`` takes 107 µs buffered, 70 µs with ``setbufsize(16)``;
#: rows of 64 elements lose 1.5× unbuffered). From 4096 on NumPy does not buffer anyway.
UNBUFFERED_ROWS = (192, 4096)
#: Threads sharing the blocks of one large evaluation.
NUM_THREADS = max(1, min(int(os.environ.get("NBGRAD_NUM_THREADS", os.cpu_count() or 1)), 16))

_pool = None
_pool_lock = threading.Lock()
_ids = itertools.count()
_CODE = {}  # generated source -> its code object: a deep graph repeats the same kernels


def _code(source, kind):
    """``compile(source)``, once per distinct source (kept for the process, at most 4096)."""
    code = _CODE.get(source)
    if code is None:
        if len(_CODE) >= 4096:
            _CODE.clear()
        code = _CODE[source] = compile(source, f"<nbgrad-{kind}-{next(_ids)}>", "exec")
    return code


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor  # lazy: threads only for the first large kernel

            _pool = ThreadPoolExecutor(max_workers=max(NUM_THREADS - 1, 1),
                                       thread_name_prefix="nbgrad-composite")
    return _pool



def _sigmoid_of(const):
    """Sigmoid by ufuncs; ``const(v)`` gives the constant ``v`` as the ufuncs get it."""
    one = const(1.0)

    def sigmoid(x, out=None):
        """1 / (1 + exp(-x)) in place: exp overflows to inf, giving exactly 0, never NaN."""
        if out is None:
            return np.divide(one, np.add(np.exp(np.negative(x)), one))
        t = np.negative(x, out=out)
        np.exp(t, out=t)
        np.add(t, one, out=t)
        return np.divide(one, t, out=t)

    return sigmoid


def _reciprocal_of(const):
    one = const(1.0)

    def reciprocal(x, out=None):
        """1 / x as a division: NumPy's float ``reciprocal`` loop is measured 2x slower (same result)."""
        return np.divide(one, x, out=out)

    return reciprocal


def _log1p_exp_minus_abs(x, out=None):
    """log1p(exp(−|x|)), the shared tail of ``log_sigmoid`` and ``softplus``, written into
    ``out`` when given (ufuncs give a 0-d argument's results as scalars without one)."""
    if out is None:
        return np.log1p(np.exp(np.negative(np.abs(x))))
    np.abs(x, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    return np.log1p(out, out=out)


def _log_sigmoid_of(const):
    minus_zero = const(-0.0)

    def log_sigmoid(x, out=None):
        """log σ(x) = min(x, −0) − log1p(exp(−|x|)): five ufuncs, finite for every finite x.

        The direct form ``−logaddexp(0, −x)`` runs NumPy's ``logaddexp`` loop, measured 9×
        slower on 400 float64 (about 20 µs against 2.5 µs). ``−0`` keeps the sign of a
        zero result as that form gives it.
        """
        m = np.minimum(x, minus_zero)  # first: ``out`` may be ``x`` itself (an in-place kernel)
        return np.subtract(m, _log1p_exp_minus_abs(x, out), out=out)

    return log_sigmoid


def _softplus_of(const):
    zero = const(0.0)

    def softplus(x, out=None):
        """log(1 + eˣ) = max(x, 0) + log1p(exp(−|x|)): the mirror of ``log_sigmoid``.

        The same five ufuncs, so that ``softplus(x) + log_sigmoid(−x)`` cancels exactly as
        it does with NumPy's ``logaddexp`` for both (about 8× slower on 400 float64).
        """
        m = np.maximum(x, zero)  # first: ``out`` may be ``x`` itself (an in-place kernel)
        return np.add(m, _log1p_exp_minus_abs(x, out), out=out)

    return softplus


def _python_number(value):
    return value


def _typed_constant(dtype):
    """``const(v)``: ``v`` as a read-only 0-d array of ``dtype``.

    A ufunc takes a 0-d array without the conversion that a Python number or a NumPy
    scalar costs at every call (0.45 against 0.6 µs for a multiply of 400 float64).
    """

    def const(value):
        c = np.array(value, dtype=dtype)
        c.setflags(write=False)
        return c

    return const


#: The ufunc forms for any float dtype (Python numbers as constants): see ``cpu_impl``.
_sigmoid_ufuncs = _sigmoid_of(_python_number)
_reciprocal_ufunc = _reciprocal_of(_python_number)
_log_sigmoid_ufuncs = _log_sigmoid_of(_python_number)
_softplus_ufuncs = _softplus_of(_python_number)

#: Scalar ops whose NumPy function is replaced, on float arguments, by a faster one
#: giving the same values (``cpu_impl``): sigmoid measured 3× faster than scipy's expit.
_FAST_IMPLS = {Sigmoid: _sigmoid_of, Reciprocal: _reciprocal_of,
               LogSigmoid: _log_sigmoid_of, Softplus: _softplus_of}
_TYPED_FAST_IMPLS = {}  # (scalar op class, dtype) -> its fast form with constants of that dtype


def cpu_impl(scalar_op, in_dtypes):
    """The NumPy function computing ``scalar_op`` elementwise on arrays of ``in_dtypes``.

    It takes ``out=`` where the scalar op's own NumPy function does. Composite kernels
    and single elementwise ops both call it.

    Examples
    --------
    >>> from nbgrad.scalar.basic import Sigmoid
    >>> cpu_impl(Sigmoid(), ["float64"])(np.array([0.0, 40.0]))
    array([0.5, 1. ])
    """
    make = _FAST_IMPLS.get(type(scalar_op))
    if make is not None and len(in_dtypes) == 1 and np.dtype(in_dtypes[0]).kind == "f":
        key = (type(scalar_op), np.dtype(in_dtypes[0]))
        fast = _TYPED_FAST_IMPLS.get(key)
        if fast is None:
            fast = _TYPED_FAST_IMPLS[key] = make(_typed_constant(key[1]))
        return fast
    return scalar_op.impl(np)


def _sigmoid_steps(step, x, const):
    """The steps of ``_sigmoid_of``'s form: 1 / (1 + exp(-x))."""
    t = step(np.exp, step(np.negative, x))
    return step(np.divide, const(1.0), step(np.add, t, const(1.0)))


def _log1p_exp_minus_abs_steps(step, x):
    """The steps of ``_log1p_exp_minus_abs``: log1p(exp(-|x|))."""
    return step(np.log1p, step(np.exp, step(np.negative, step(np.abs, x))))


def _log_sigmoid_steps(step, x, const):
    """The steps of ``_log_sigmoid_of``'s form: min(x, -0) - log1p(exp(-|x|))."""
    m = step(np.minimum, x, const(-0.0))
    return step(np.subtract, m, _log1p_exp_minus_abs_steps(step, x))


def _softplus_steps(step, x, const):
    """The steps of ``_softplus_of``'s form: max(x, 0) + log1p(exp(-|x|))."""
    m = step(np.maximum, x, const(0.0))
    return step(np.add, m, _log1p_exp_minus_abs_steps(step, x))


#: Scalar ops that a kernel writes out, on a float argument, as the ufunc calls of their
#: fast form (``_FAST_IMPLS``): the same calls in the same order, so the same values, but
#: visible to the kernel's common-step elimination. ``y·log σ(−z) + (1 − y)·log σ(z)`` (the
#: cross-entropy of a logistic model) then computes log1p(exp(−|z|)) once: |−z| is |z|.
_EXPANDED = {Sigmoid: _sigmoid_steps, LogSigmoid: _log_sigmoid_steps, Softplus: _softplus_steps}


def _kernel_constant(value, dtype):
    """A kernel's constant: ``value`` as a read-only 0-d array of ``dtype`` (a copy)."""
    c = np.array(value, dtype=dtype).reshape(())
    c.setflags(write=False)
    return c


class _Steps:
    """The ufunc calls of one kernel, built with common steps computed once.

    ``step(fn, *args)`` returns the name of ``fn(*args)``: an earlier temporary when the same
    call was made before, the argument of a double negation (−(−x) is x, exactly), or a new
    temporary ``t<k>``. ``-x`` under ``abs`` is read as ``x`` (|−x| is |x|, exactly). With
    ``fresh`` the call is made anew (the kernel's last call, which writes the result).
    """

    def __init__(self):
        self.env = {}
        self.calls = []  # (temporary, function name, argument names, result dtype)
        self._fn_names = {}
        self._const_names = {}
        self._seen = {}  # (function, argument names) -> temporary
        self.defined = {}  # temporary -> (function, argument names)

    def function(self, fn):
        name = self._fn_names.get(id(fn))
        if name is None:
            name = self._fn_names[id(fn)] = f"f{len(self._fn_names)}"
            self.env[name] = fn
        return name

    def constant(self, value, dtype):
        c = _kernel_constant(value, dtype)
        key = (c.dtype.str, c.tobytes())
        name = self._const_names.get(key)
        if name is None:
            name = self._const_names[key] = f"c{len(self._const_names)}"
            self.env[name] = c
        return name

    def step(self, fn, args, dtype, fresh=False):
        args = tuple(args)
        if not fresh and len(args) == 1:
            inner = self.defined.get(args[0])
            if inner is not None and inner[0] is np.negative:
                if fn is np.negative:
                    return inner[1][0]
                if fn is np.abs:
                    args = inner[1]
        key = (fn, args)
        if not fresh and key in self._seen:
            return self._seen[key]
        t = f"t{len(self.calls)}"
        self.calls.append((t, self.function(fn), list(args), np.dtype(dtype)))
        self.defined[t] = key
        self._seen.setdefault(key, t)
        return t


def _program(comp):
    """Straight-line calls of the inner graph: ``(env, calls)``.

    ``calls`` lists ``(temporary, function name, argument names, result dtype)``
    in order, the last computing the result; arguments are named ``a0, a1, ...``.
    A sigmoid, log-sigmoid or softplus of a float is written out as its ufunc calls
    (``_EXPANDED``), and a call made twice is made once (``_Steps``).
    """
    steps = _Steps()
    nin, constants = comp.nin, comp.step_constants
    names = [f"a{k}" for k in range(nin)] + [None] * len(constants)
    dtypes_of = list(comp.in_dtypes) + [d for _, d in constants]
    results, result_dtypes = [], []
    last = len(comp.steps) - 1
    for k, (sop, dtype, operands) in enumerate(comp.steps):
        args, dtypes = [], []
        for r in operands:
            if r < 0:
                args.append(results[-1 - r])
                dtypes.append(result_dtypes[-1 - r])
                continue
            if names[r] is None:
                value, cdtype = constants[r - nin]
                names[r] = steps.constant(np.asarray(value), cdtype)
            args.append(names[r])
            dtypes.append(dtypes_of[r])
        expand = _EXPANDED.get(type(sop))
        if expand is not None and len(dtypes) == 1 and np.dtype(dtypes[0]).kind == "f":
            in_dtype = dtypes[0]
            # The last node's last call is always a new one (that writes the result): every
            # other node computes its argument, so none computed the same call before.
            name = expand(lambda fn, *a, _d=in_dtype: steps.step(fn, a, _d), args[0],
                          lambda v, _d=in_dtype: steps.constant(v, _d))
        else:
            name = steps.step(cpu_impl(sop, dtypes), args, dtype, fresh=k == last)
        results.append(name)
        result_dtypes.append(dtype)
    return steps.env, _live(steps.calls)


def _live(calls):
    """``calls`` without those whose result nothing reads (a negation that a later −(−x) or
    |−x| went around), the last call (the result) kept."""
    read = set()
    kept = []
    for call in reversed(calls):
        if kept and call[0] not in read:
            continue
        kept.append(call)
        read.update(call[2])
    return kept[::-1]


#: ``sys.getrefcount`` of a kept buffer that nobody else holds: the ``kept`` list, the
#: local name and the call's own argument.
_UNREFERENCED = 3


def _result_buffer(kept, shape, dtype):
    """``kept[0]`` when it has ``shape`` and nobody else holds it, else a new buffer kept instead."""
    out = kept[0]
    if out is None or out.shape != shape or getrefcount(out) != _UNREFERENCED:
        out = kept[0] = np.empty(shape, dtype=dtype)
    return out


def _broadcast_shape(args):
    if len(args) <= 32:
        return np.broadcast(*args).shape
    return np.broadcast_shapes(*[np.shape(a) for a in args])


try:  # NumPy's ufunc settings (the errstate with the buffer size): 0.3 µs to set, against
    # 1.8 µs for a pair of ``np.setbufsize`` calls
    from numpy._core.umath import _extobj_contextvar, _make_extobj
except ImportError:  # pragma: no cover - other NumPy versions
    _extobj_contextvar = None


def _call_into(fn, args, out):
    """``fn(*args, out=out)``, without NumPy's buffering when broadcasting long rows."""
    shape = out.shape
    if len(shape) > 1 and UNBUFFERED_ROWS[0] <= shape[-1] < UNBUFFERED_ROWS[1] and any(
            np.ndim(a) and np.shape(a) != shape for a in args):
        size = shape[-1] // 16 * 16
        if _extobj_contextvar is not None:
            token = _extobj_contextvar.set(_make_extobj(bufsize=size))
            try:
                return fn(*args, out=out)
            finally:
                _extobj_contextvar.reset(token)
        old = np.setbufsize(size)
        try:
            return fn(*args, out=out)
        finally:
            np.setbufsize(old)
    return fn(*args, out=out)


def _size_dispatch(nin, small, big, full=None, check=None, out_param=False, inline=None):
    """Generated ``thunk(a0, ..., a{nin-1})``: ``small(...)`` for small arrays, else ``big((...))``.

    The size test is decided here, so that a call does no more than it needs: with
    ``full`` (the index of an operand known to have the result's shape) it reads that
    operand's ``.size`` once; without it, every operand's ``np.size`` in line. ``check``
    (a broadcast check taking the tuple of operands) is called first. With
    ``out_param`` the thunk takes ``out=None`` and passes it on as ``small(..., out=out)``
    and ``big((...), out)``; a given ``out`` has the result's size, so its ``.size`` alone
    chooses (an in-place kernel writes into an operand: measured 1.4 against 3.1 µs for
    ``-x - b`` on 400 float64 with the operands' sizes read by ``np.size``). A check with ``same_shape = (i, j)`` only compares the shapes of
    operands ``i`` and ``j``: the thunk calls it only when they differ. ``inline``
    (``(lines, env)``: the body of ``small`` and the names it reads) is written in place of
    the call to ``small``, which saves a call on the path of small arrays.
    """
    inlined = inline is not None and not out_param
    pair = getattr(check, "same_shape", None)
    key = (nin, full, out_param, pair if pair is not None else check is not None,
           (tuple(inline[0]), inline[1]) if inlined else None, MIN_REUSED_SIZE)
    code = _DISPATCH_CODE.get(key)
    if code is None:
        if len(_DISPATCH_CODE) >= 4096:
            _DISPATCH_CODE.clear()
        code = _DISPATCH_CODE[key] = _code(_size_dispatch_source(nin, full, check, out_param, inline), "size-dispatch")
    scope = {"size": np.size, "small": small, "big": big, "check": check}
    if inlined:
        scope.update(inline[2])
    exec(code, scope)
    return scope["thunk"]


#: The code of ``_size_dispatch``'s thunks by what decides their source: most nodes of a
#: graph share a few (a 10⁴-deep chain's thunks, one), so each is written once.
_DISPATCH_CODE = {}


def _size_dispatch_source(nin, full, check, out_param, inline):
    """The source of ``_size_dispatch``'s thunk."""
    params = ", ".join(f"a{k}" for k in range(nin))
    operands = "(" + "".join(f"a{k}, " for k in range(nin)) + ")"
    if full is not None:
        test = f"a{full}.size < {MIN_REUSED_SIZE}"
    else:
        test = " and ".join(f"size(a{k}) < {MIN_REUSED_SIZE}" for k in range(nin)) or "True"
    lines = [f"def thunk({params}{', out=None' if out_param else ''}):"] + _check_lines(check, operands)
    if out_param:
        lines += ["    if out is not None:", f"        if out.size < {MIN_REUSED_SIZE}:",
                  f"            return small({params}, out=out)", f"        return big({operands}, out)"]
    lines.append(f"    if {test}:")
    if inline is not None and not out_param:
        lines += [f"        {line}" for line in inline[0]] + [f"        return {inline[1]})"]
    else:
        lines.append(f"        return small({params})")
    lines.append(f"    return big({operands})")
    return "\n".join(lines) + "\n"


def _check_lines(check, operands):
    """The lines of a generated thunk that call the broadcast ``check`` (none without one)."""
    pair = getattr(check, "same_shape", None)
    if pair is not None:  # the check only compares two shapes: call it when they differ
        return [f"    if a{pair[0]}.shape != a{pair[1]}.shape:", f"        check({operands})"]
    return [f"    check({operands})"] if check is not None else []


def inplace_evaluator(comp, nin, target, check=None):
    """The CPU thunk of an ``Elemwise(comp)`` node writing into its operand ``target``.

    ``thunk(a0, ..., a{nin-1})`` returns ``a{target}`` holding the result, or a fresh
    result where broadcasting makes it larger than that operand (NumPy's ValueError).
    A small result runs the kernel's direct form written in line, with ``check`` (the
    node's broadcast check, if any) first: one call where the kernel's own dispatch is
    three (measured 1.3 against 1.6 µs for ``-x - b`` on 400 float64).
    """
    evaluate = comp.impl(np)
    body, last, names = evaluate.inline
    params = ", ".join(f"a{k}" for k in range(nin))
    operands = "(" + "".join(f"a{k}, " for k in range(nin)) + ")"
    lines = [f"def thunk({params}):"] + _check_lines(check, operands)
    lines += [f"    if a{target}.size < {MIN_REUSED_SIZE}:", "        try:"]
    lines += [f"            {line}" for line in body] + [f"            return {last}, out=a{target})"]
    lines += ["        except ValueError:  # a result larger than the operand: a fresh one",
              f"            return evaluate({params})",
              "    try:", f"        return big({operands}, a{target})",
              "    except ValueError:", f"        return evaluate({params})"]
    scope = {"evaluate": evaluate, "big": evaluate.big, "check": check, **names}
    exec(_code("\n".join(lines) + "\n", "inplace"), scope)
    return scope["thunk"]


def node_evaluator(comp, nin, full=None, size=None, check=None, whole=None):
    """The CPU thunk of one ``Elemwise(comp)`` node: ``thunk(a0, ..., a{nin-1})``.

    What the node's types tell at compile time is not asked again at each call:
    with ``size`` (the result's number of elements, when its shape is static) the
    thunk is the small or the large form itself; with ``full`` (see ``_size_dispatch``)
    one operand's ``.size`` chooses. ``check`` is the node's broadcast check, if any.
    ``whole`` (a flag per operand: its type says it has the result's shape) lets small
    results keep their temporaries in fewer arrays (``_reusing_source``).
    """
    evaluate = comp.impl(np)
    small, inline = evaluate.small, evaluate.inline
    reusing = evaluate.reusing(tuple(whole)) if whole is not None else None
    if reusing is not None:
        small, inline = reusing, None
    if size is not None and check is None:
        if size < MIN_REUSED_SIZE:
            return small
        return evaluate
    return _size_dispatch(nin, small, evaluate.big, full, check, inline=inline)


def result_keeping(fn, in_dtypes, dtype, full=None, size=None, check=None):
    """``fn(*arrays)`` whose large results reuse the buffer of the previous one once released.

    ``fn`` is a NumPy function with an ``out=`` argument (a ufunc) computing one
    elementwise op. Results of at least ``MIN_REUSED_SIZE`` elements follow a Composite's
    rule (``composite_evaluator``): the buffer returned last time is written again only when
    its reference count shows that nothing but this function holds it. ``fn`` itself is
    returned when it does not take ``out=`` or would give another dtype than ``dtype``
    (then ``check``, if given, is left to the caller).
    ``full``, ``size`` and ``check`` are as for ``node_evaluator``; a returned thunk
    that calls ``check`` has ``checks = True``.

    Examples
    --------
    >>> f = result_keeping(np.multiply, ["float64", "float64"], "float64")
    >>> a = np.ones((400, 400)); r1 = f(a, a); r2 = f(a, a)
    >>> r1 is r2  # r1 is still held: a new buffer
    False
    >>> address = r2.ctypes.data; del r1, r2
    >>> f(a, a).ctypes.data == address  # released by the caller: written again
    True
    """
    dtype = np.dtype(dtype)
    if not _writes_into(fn, tuple([np.dtype(d) for d in in_dtypes]), dtype):
        return fn
    kept = [None]

    def big(args):
        return _call_into(fn, args, _result_buffer(kept, _broadcast_shape(args), dtype))

    if size is not None and size < MIN_REUSED_SIZE and check is None:
        return fn
    thunk = _size_dispatch(len(in_dtypes), fn, big, full, check)
    thunk.checks = check is not None
    return thunk


_WRITES_INTO = {}


def _writes_into(fn, in_dtypes, dtype):
    """Whether ``fn`` on arrays of ``in_dtypes`` gives ``dtype`` and takes ``out=`` (probed once)."""
    try:
        key = (fn, in_dtypes, dtype)
        known = _WRITES_INTO.get(key)
    except TypeError:  # an unhashable function: probe every time
        key, known = None, None
    if known is not None:
        return known
    try:
        with np.errstate(all="ignore"):
            probe = [np.ones(1, dtype=d) for d in in_dtypes]
            ok = np.asarray(fn(*probe)).dtype == dtype
            if ok:
                fn(*probe, out=np.empty(1, dtype=dtype))
    except Exception:  # noqa: BLE001 - no out= (or no probe value): plain calls
        ok = False
    if key is not None:
        if len(_WRITES_INTO) >= 4096:  # functions made per node would otherwise pile up
            _WRITES_INTO.clear()
        _WRITES_INTO[key] = ok
    return ok


def composite_evaluator(comp):
    """The CPU evaluator: ``evaluate(*arrays, out=None)``.

    A large result (``MIN_REUSED_SIZE`` elements or more, blocked or not) without ``out``
    goes into the buffer the previous call returned when nothing refers to that buffer any more (no result, view or
    variable of the caller's): its reference count then shows only the evaluator's own
    references. Reusing it skips the page faults of a fresh allocation (an 80 MB array
    costs about 4 ms of them); a result still held is never overwritten, since the
    evaluator then allocates a new buffer and keeps that one instead. The cost is one
    retained buffer per evaluator after its result is dropped.

    A large result computed without blocking (see ``_chained_source``) keeps its
    temporaries out of fresh arrays: they go into the result buffer or into a dead
    temporary, so ``W - 0.01*g`` into ``g``'s buffer is two passes and no allocation.

    The calls and sources come from the kernel's plan (``_kernel_plan``), shared by the
    kernels whose inner graphs differ only in the values of their constants.
    """
    plan, env = _kernel_plan(comp)
    nin, calls, source = plan.nin, plan.calls, plan.source
    exec(_code(source, "composite"), env)
    small_fn, block_fn = env["small"], env["block"]
    out_dtype = plan.out_dtype
    slot_np = plan.slot_dtypes

    def run_part(views, o, lo, hi):
        bufs = [np.empty(BLOCK, dtype=d) for d in slot_np]
        while lo < hi:
            end = min(lo + BLOCK, hi)
            if end - lo != BLOCK:
                bufs = [b[: end - lo] for b in bufs]
            block_fn(*[v[lo:end] for v in views], o[lo:end], bufs)
            lo = end

    kept = [None]  # the last result buffer this evaluator allocated (see _result_buffer)
    chained = {}  # (input written over, inputs of full shape) -> chained small form

    def unblocked(args, out, shape, fresh):
        """The small form with temporaries in ``out`` or dead temporaries where that is safe."""
        if out.shape != shape:
            return _call_into(small_fn, args, out)
        alias = -1
        for k, a in enumerate(args):
            if a is out:
                if alias >= 0:
                    return _call_into(small_fn, args, out)
                alias = k
            elif not fresh and np.may_share_memory(a, out):
                return _call_into(small_fn, args, out)
        key = (alias, tuple(np.shape(a) == shape for a in args))
        fn = chained.get(key)
        if fn is None:
            fn = chained[key] = _chained_function(env, calls, nin, out_dtype, *key)
        return _call_into(fn, args, out)

    def big(args, out=None):
        shape = _broadcast_shape(args)
        fresh = out is None
        if fresh:
            out = _result_buffer(kept, shape, out_dtype)
        if out.size < threshold or not out.flags.c_contiguous or out.shape != shape:
            return unblocked(args, out, shape, fresh)
        n = out.size
        views = []
        for a in args:
            a = np.asarray(a)
            if a.shape == shape and a.flags.c_contiguous:
                views.append(a.reshape(-1))
            elif a.size == 1:
                views.append(np.broadcast_to(a.reshape(()), (n,)))
            else:
                return unblocked(args, out, shape, fresh)
        o = out.reshape(-1)
        parts = min(NUM_THREADS, -(-n // BLOCK))
        if parts <= 1:
            run_part(views, o, 0, n)
            return out
        step = -(-n // parts // BLOCK) * BLOCK
        bounds = [(lo, min(lo + step, n)) for lo in range(0, n, step)]
        ex = _executor()
        futures = [ex.submit(run_part, views, o, lo, hi) for lo, hi in bounds[1:]]
        run_part(views, o, *bounds[0])
        for fut in futures:
            fut.result()
        return out

    threshold = MIN_BLOCKED_SIZE_CHEAP if plan.cheap else MIN_BLOCKED_SIZE
    evaluate = _size_dispatch(nin, small_fn, big, out_param=True)
    evaluate.source = source
    # the small form's body, its last call's text without the closing parenthesis (where
    # ``out=`` may go) and the names they read, for thunks that write it in line
    # (node_evaluator, inplace_evaluator)
    names = {k: v for k, v in env.items() if k[0] in "fc" and k[1:].isdigit()}
    evaluate.inline = (plan.inline_body, plan.inline_call, names)
    evaluate.small = small_fn
    evaluate.big = big
    reusing_forms = {}

    def reusing(whole):
        """The small form keeping temporaries in dead ones, for operands of which ``whole``
        says which have the result's shape; None where that saves fewer than
        ``MIN_REUSED_TEMPORARIES`` arrays."""
        if whole not in reusing_forms:
            source, saved = plan.reusing_source(whole)
            fn = None
            if saved >= MIN_REUSED_TEMPORARIES:
                scope = dict(env)
                exec(_code(source, "composite-reusing"), scope)
                fn = scope["reusing"]
                fn.source = source
            reusing_forms[whole] = fn
        return reusing_forms[whole]

    evaluate.reusing = reusing
    return evaluate


class _KernelPlan:
    """What a kernel's evaluator is made from, apart from its constants' values.

    ``calls`` (see ``_program``), the source of the small and the blocked forms, the
    dtypes of the blocked form's buffers, whether its ops are all cheap, the text of the
    small form for thunks that write it in line, its functions (``f<k>`` -> function), and
    the sources of its reusing forms as they are asked for.
    """

    def __init__(self, env, calls, nin, out_dtype, cheap):
        self.nin, self.calls, self.out_dtype = nin, calls, np.dtype(out_dtype)
        params = ", ".join(f"a{k}" for k in range(nin))
        # direct form: for small arrays
        small = [f"def small({params}, out=None):"]
        for t, f, args, _ in calls[:-1]:
            small.append(f"    {t} = {f}({', '.join(args)})")
        t, f, args, _ = calls[-1]
        small.append(f"    return {f}({', '.join(args)}, out=out)")
        # blocked form: temporaries in reusable buffers, assigned by liveness
        last_use = {}
        for k, (_, _, args, _) in enumerate(calls):
            for a in args:
                last_use[a] = k
        free, slot_of, slot_dtypes = {}, {}, []
        block = [f"def block({params}, o, bufs):"]
        for k, (t, f, args, dtype) in enumerate(calls):
            # once per temporary: one used twice by this call (``t * t``) frees one buffer, not two
            for a in dict.fromkeys(args):
                if a in slot_of and last_use[a] == k:
                    free.setdefault(slot_dtypes[slot_of[a]], []).append(slot_of[a])
            if k == len(calls) - 1:
                block.append(f"    {f}({', '.join(args)}, out=o)")
                continue
            pool = free.get(dtype)
            if pool:
                s = pool.pop()
            else:
                s = len(slot_dtypes)
                slot_dtypes.append(dtype)
            slot_of[t] = s
            block.append(f"    {t} = {f}({', '.join(args)}, out=bufs[{s}])")
        self.source = "\n".join(small) + "\n\n" + "\n".join(block) + "\n"
        self.slot_dtypes = [np.dtype(d) for d in slot_dtypes]
        self.cheap = cheap  # of cheap ops only: blocked from MIN_BLOCKED_SIZE_CHEAP elements
        self.inline_body = [f"{t} = {f}({', '.join(args)})" for t, f, args, _ in calls[:-1]]
        t, f, args, _ = calls[-1]
        self.inline_call = f"{f}({', '.join(args)}"
        self.functions = {k: v for k, v in env.items() if k[0] == "f" and k[1:].isdigit()}
        self._reusing = {}

    def reusing_source(self, whole):
        """``_reusing_source`` of this kernel for ``whole``, made once."""
        found = self._reusing.get(whole)
        if found is None:
            found = self._reusing[whole] = _reusing_source(self.calls, self.nin, whole)
        return found

    def env(self, constants):
        """The names a kernel of this plan reads: its functions, and ``constants`` (the
        values of its constants, in the order of ``_shape``) as ``c<k>``."""
        env = dict(self.functions)
        for k, (value, dtype) in enumerate(constants):
            env[f"c{k}"] = _kernel_constant(value, dtype)
        return env


#: Kernel plans by the shape of their inner graph (``_shape``): the kernels of a large graph
#: often differ only in their constants (the 5·10⁴-term pairwise sum of ``sin(x·cₖ)`` fuses
#: into 1304 kernels of 17 shapes). At most 4096 are kept.
_PLANS = {}


def _kernel_plan(comp):
    """``(plan, env)`` of ``comp``'s evaluator: the plan of its shape, made once per shape,
    and the names its code reads."""
    key, constants = _shape(comp)
    plan = _PLANS.get(key) if key is not None else None
    if plan is not None:
        return plan, plan.env(constants)
    env, calls = _program(comp)
    plan = _KernelPlan(env, calls, comp.nin, comp.output_dtype(),
                       all(sop.cheap for sop, _, _ in comp.steps))
    if key is not None:
        if len(_PLANS) >= 4096:
            _PLANS.clear()
        _PLANS[key] = plan
    return plan, env


def _shape(comp):
    """``(key, constants)``: the shape of ``comp``'s inner graph (``Composite.structure`` and
    the dtypes of its operands and result), and the ``(value, dtype)`` of its constants in the
    order ``_program`` names them. Two kernels of one key have the same program but for the
    values of their constants. ``(None, None)`` for a graph with an op that ``_program``
    writes out as several calls (``_EXPANDED``): its steps may coincide with the kernel's
    own constants.
    """
    if not _EXPANDED.keys().isdisjoint(map(type, map(itemgetter(0), comp.steps))):
        return None, None
    constants = comp.constant_values
    dtypes = comp.in_dtypes + tuple([d for _, d in constants])
    return (comp.structure, dtypes, comp.output_dtype()), constants


#: Fewest fresh arrays a kernel's small form must save to keep its temporaries in dead ones
#: (``_reusing_source``): below it, the call the form costs is not paid back (a ufunc into
#: a given array saves about 0.05 µs on 400 float64; the cross-entropy kernel of a logistic
#: regression saves 12 arrays, 6.8 -> 6.2 µs).
MIN_REUSED_TEMPORARIES = 4


def _reusing_source(calls, nin, whole):
    """Source of ``reusing(a0, ...)``: the small form writing temporaries into dead ones.

    ``whole[k]``: input ``k`` has the result's shape (its type says so). A temporary
    computed from such an input has that shape too, so once a temporary of that shape and
    dtype is read for the last time, its array takes the next one (the result included);
    others are fresh arrays, as in the small form. Returns ``(source, arrays saved)``.
    """
    last_use = {}
    for k, (_, _, args, _) in enumerate(calls):
        for a in args:
            last_use[a] = k
    whole_of = {f"a{k}": bool(w) for k, w in enumerate(whole)}
    array_of = {}  # temporary of the result's shape -> (the array holding it, its dtype)
    free = []  # (array, dtype) of such temporaries nothing reads any more
    saved = 0
    lines = [f"def reusing({', '.join(f'a{k}' for k in range(nin))}):"]
    for k, (t, f, args, dtype) in enumerate(calls):
        for a in dict.fromkeys(args):  # a temporary read twice by this call is freed once
            if a in array_of and last_use[a] == k:
                free.append(array_of[a])
        whole_of[t] = any(whole_of.get(a, False) for a in args)
        target = None
        if whole_of[t]:
            target = next((name for name, d in free if d == dtype), None)
        call = f"{f}({', '.join(args)}" + (f", out={target})" if target is not None else ")")
        if target is not None:
            free.remove((target, dtype))
            saved += 1
        if k == len(calls) - 1:
            lines.append(f"    return {call}")
            break
        lines.append(f"    {t} = {call}")
        if whole_of[t]:
            array_of[t] = (target if target is not None else t, dtype)
    return "\n".join(lines) + "\n", saved


def _chained_source(calls, nin, out_dtype, alias, full):
    """Source of ``chained(a0, ..., out)``: the small form without fresh temporaries.

    ``out`` has the full result shape; it is input ``alias`` (-1: no input) and
    ``full[k]`` says whether input ``k`` has the full shape. A temporary computed
    from a full-shape input has the full shape itself, so it can be written into
    ``out`` once nothing still to come reads what ``out`` holds (input ``alias`` or
    an earlier temporary), or else into a full-shape temporary of its dtype whose
    last use has passed. Other temporaries are fresh arrays, as in the small form.
    """
    last_use = {}
    for k, (_, _, args, _) in enumerate(calls):
        for a in args:
            last_use[a] = k
    full_of = {f"a{k}": bool(f) for k, f in enumerate(full)}
    buffer_of = {}  # full-shape temporary -> (the array's name, its dtype)
    held = f"a{alias}" if alias >= 0 else None  # what ``out`` holds now
    free = []  # arrays (name, dtype) of full-shape temporaries nothing reads any more
    params = ", ".join(f"a{k}" for k in range(nin))
    lines = [f"def chained({params}, out=None):"]
    for k, (t, f, args, dtype) in enumerate(calls):
        call = f"{f}({', '.join(args)}"
        if k == len(calls) - 1:
            lines.append(f"    return {call}, out=out)")
            break
        for a in dict.fromkeys(args):  # a temporary read twice by this call is freed once
            if a in buffer_of and last_use[a] == k and buffer_of[a][0] != "out":
                free.append(buffer_of[a])
        full_of[t] = any(full_of.get(a, False) for a in args)
        target = None
        if full_of[t]:
            if dtype == out_dtype and (held is None or last_use.get(held, -1) <= k):
                target, held = "out", t
            else:
                target = next((name for name, d in free if d == dtype), None)
                if target is not None:
                    free.remove((target, dtype))
        if target is None:
            lines.append(f"    {t} = {call})")
            target = t
        else:
            lines.append(f"    {t} = {call}, out={target})")
        if full_of[t]:
            buffer_of[t] = (target, dtype)
    return "\n".join(lines) + "\n"


def _chained_function(env, calls, nin, out_dtype, alias, full):
    source = _chained_source(calls, nin, out_dtype, alias, full)
    scope = dict(env)
    exec(_code(source, "composite-chained"), scope)
    fn = scope["chained"]
    fn.source = source
    return fn

