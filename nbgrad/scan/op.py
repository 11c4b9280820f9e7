"""The Scan op: a loop whose body is a compiled inner graph.

Outer inputs, in order::

    n_steps, *sequences, *state_inits, *opaque_inits, *non_sequences

Outer outputs, in order::

    *state_buffers, *nitsot_outputs, *opaque_finals

A *state* (recurrent output) with taps ``(-2, -1)`` has ``L = 2`` initial rows
(``state_init`` has shape ``(L, ...)``). Its buffer holds the initial rows and
then one row per step (shape ``(L + n, ...)``) when the state is *kept*; a state
that is not kept (an accumulator, a shared variable updated in the loop)
returns only its last ``L`` rows. A *nitsot* output is not fed back: one row
per step. An *opaque* state is any non-array value carried from step to step
(a random generator): only its final value is returned.

Inner inputs: one per tap of each sequence, one per tap of each state, one per
opaque state, one per non-sequence. Inner outputs: the new row of each state,
each nitsot row, each opaque state's new value, and (for a loop with an
until-condition) a boolean scalar that stops the loop when true.
"""

import itertools
import linecache
from sys import getrefcount
from time import perf_counter
from typing import NamedTuple

import numpy as np

from nbgrad.config import config
from nbgrad.graph.basic import Apply, Variable
from nbgrad.graph.op import Op
from nbgrad.tensor.type import TensorType, discrete_dtypes
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.graph.fg import FunctionGraph
from nbgrad.rewriting import rewrite_graph
from nbgrad.compile.linker import link
from itertools import repeat
from nbgrad.compile.linker import _backend_constant
from nbgrad.graph.basic import Constant
from nbgrad.tensor.math import Dot
from nbgrad.tensor.shape import shape_i
from nbgrad.graph.replace import clone_get_equiv
from nbgrad.graph.traversal import ancestors, io_toposort

__all__ = ["Scan", "ScanInfo", "ScanInputs", "ScanOutputs"]

_loop_counter = itertools.count()


class ScanInputs(NamedTuple):
    """Inputs of a Scan node (after ``n_steps``) or of its inner graph, by role."""

    sequences: list
    states: list
    opaque: list
    non_sequences: list


class ScanOutputs(NamedTuple):
    """Outputs of a Scan node or of its inner graph, by role."""

    states: list
    nitsots: list
    opaque: list


class ScanInfo:
    """The static structure of a Scan node (hashable, immutable)."""

    __slots__ = ("seq_taps", "state_taps", "keep", "n_nitsot", "n_opaque", "n_nonseq",
                 "as_while", "truncate_gradient", "name")

    def __init__(self, seq_taps, state_taps, keep, n_nitsot, n_opaque, n_nonseq,
                 as_while=False, truncate_gradient=-1, name=None):
        self.seq_taps = tuple(tuple(int(t) for t in taps) for taps in seq_taps)
        self.state_taps = tuple(tuple(int(t) for t in taps) for taps in state_taps)
        self.keep = tuple(bool(k) for k in keep)
        self.n_nitsot = int(n_nitsot)
        self.n_opaque = int(n_opaque)
        self.n_nonseq = int(n_nonseq)
        self.as_while = bool(as_while)
        self.truncate_gradient = int(truncate_gradient)
        self.name = name

    def _key(self):
        return tuple(getattr(self, s) for s in self.__slots__)

    def __eq__(self, other):
        return type(other) is ScanInfo and other._key() == self._key()

    def __hash__(self):
        return hash(self._key())

    def replace(self, **kw):
        d = {s: getattr(self, s) for s in self.__slots__}
        d.update(kw)
        return ScanInfo(**d)

    @property
    def n_seqs(self):
        return len(self.seq_taps)

    @property
    def n_states(self):
        return len(self.state_taps)

    def lags(self):
        """L = number of initial rows of each state."""
        return [-min(t) for t in self.state_taps]

    def seq_offsets(self):
        """Per sequence: (span, offsets of each tap from the step index)."""
        out = []
        for taps in self.seq_taps:
            lo = min(taps)
            out.append((max(taps) - lo, [t - lo for t in taps]))
        return out


class Scan(Op):
    """A loop over an inner graph (built by :func:`nbgrad.scan`).

    The inner graph is compiled once per compiled function, then run once per
    step with NumPy views of the sequences and state buffers as arguments.
    """

    __props__ = ("info", "inner_id")

    def __init__(self, inner_inputs, inner_outputs, info):
        self.inner_inputs = list(inner_inputs)
        self.inner_outputs = list(inner_outputs)
        self.info = info
        # Identity of the inner graph: two Scan ops are equal only if they share it.
        self.inner_id = id(self.inner_outputs)
        self._keepalive = self.inner_outputs
        self._compiled = {}
        self._graphs = {}

    def __str__(self):
        return f"Scan{{{self.info.name or 'scan'}}}" if self.info.name else "Scan"

    # ---------------------------------------------------------------- layout
    def split_inputs(self, inputs):
        """Group a list laid out like the node's inputs after ``n_steps``, by role.

        Works on anything with that layout: the outer inputs, their eval points
        (R_op) or their gradients; one entry per sequence, state, opaque state
        and non-sequence.

        Returns
        -------
        ScanInputs
            ``(sequences, states, opaque, non_sequences)``, each a new list.

        Examples
        --------
        >>> import nbgrad, nbgrad.tensor as T
        >>> x, a = T.dvector("x"), T.dscalar("a")
        >>> hs, _ = nbgrad.scan(lambda x_t, h, a: a * h + x_t, sequences=x,
        ...                     outputs_info=T.zeros((), dtype="float64"), non_sequences=a)
        >>> node = hs.owner.inputs[0].owner  # hs: the state buffer less its initial row
        >>> node.op.split_inputs(node.inputs[1:]).non_sequences
        [a]
        >>> node.op.split_inner_inputs().sequences
        [x[t]]
        >>> node.op.split_outputs(node.outputs)
        ScanOutputs(states=[Scan.out], nitsots=[], opaque=[])
        """
        info = self.info
        a = info.n_seqs
        b = a + info.n_states
        c = b + info.n_opaque
        return ScanInputs(list(inputs[:a]), list(inputs[a:b]), list(inputs[b:c]), list(inputs[c:]))

    def split_inner_inputs(self):
        """The inner graph's inputs by role: one placeholder per tap of each
        sequence and state, one per opaque state, one per non-sequence.

        Returns
        -------
        ScanInputs
            ``(sequences, states, opaque, non_sequences)``, each a new list.
        """
        info = self.info
        inner = self.inner_inputs
        a = sum(len(t) for t in info.seq_taps)
        b = a + sum(len(t) for t in info.state_taps)
        c = b + info.n_opaque
        return ScanInputs(inner[:a], inner[a:b], inner[b:c], inner[c:])

    def split_outputs(self, outputs):
        """Group a list laid out like the node's outputs (or the inner outputs), by role.

        Works on the outer outputs, their gradients, or the inner graph's
        outputs (whose until-condition, if any, is left out).

        Returns
        -------
        ScanOutputs
            ``(states, nitsots, opaque)``, each a new list.
        """
        info = self.info
        a = info.n_states
        b = a + info.n_nitsot
        return ScanOutputs(list(outputs[:a]), list(outputs[a:b]), list(outputs[b:b + info.n_opaque]))

    # ---------------------------------------------------------------- saving
    def inner_graph_form(self):
        """``(inner inputs, inner outputs, settings)``: what ``nbgrad.save`` writes of this op.

        The settings are the fields of its ``ScanInfo``; the inner graph is
        written like any graph (see ``nbgrad.serialize``).
        """
        info = {s: getattr(self.info, s) for s in ScanInfo.__slots__}
        return self.inner_inputs, self.inner_outputs, {"info": info}

    @classmethod
    def from_inner_graph(cls, inputs, outputs, info):
        """The op again from what ``inner_graph_form`` gave (``nbgrad.load``).

        Checks that the inner graph has the inputs and outputs ``info`` lays out.
        """
        if not isinstance(info, dict) or set(info) != set(ScanInfo.__slots__):
            raise ValueError(f"Scan: info should give the fields {ScanInfo.__slots__}, got {info!r}")
        info = ScanInfo(**info)
        n_in = sum(map(len, info.seq_taps)) + sum(map(len, info.state_taps)) + info.n_opaque + info.n_nonseq
        n_out = info.n_states + info.n_nitsot + info.n_opaque + info.as_while
        if len(info.keep) != info.n_states or len(inputs) != n_in or len(outputs) != n_out:
            raise ValueError(
                f"Scan: an inner graph of {len(inputs)} inputs and {len(outputs)} outputs with "
                f"{len(info.keep)} keep flags does not fit its info, which needs {n_in} inputs, "
                f"{n_out} outputs and {info.n_states} keep flags"
            )
        return cls(inputs, outputs, info)

    # ------------------------------------------------------------ make_node
    def make_node(self, n_steps, *inputs):

        info = self.info
        n_steps = as_tensor_variable(n_steps)
        expected = info.n_seqs + info.n_states + info.n_opaque + info.n_nonseq
        if len(inputs) != expected:
            raise ValueError(f"{self}: expected {expected} inputs after n_steps, got {len(inputs)}")
        seqs, inits, opaque, nonseqs = self.split_inputs(inputs)
        outs = []
        n_inner_out = 0
        for k, init in enumerate(inits):
            it = init.type
            lag = info.lags()[k]
            if info.keep[k]:
                outs.append(TensorType(it.dtype, (None,) + it.shape[1:])())
            else:
                outs.append(TensorType(it.dtype, (lag,) + it.shape[1:])())
            n_inner_out += 1
        state_outs_inner = self.inner_outputs[: info.n_states]
        nit_inner = self.inner_outputs[info.n_states: info.n_states + info.n_nitsot]
        _ = state_outs_inner
        for o in nit_inner:
            ot = o.type
            outs.append(TensorType(ot.dtype, (None,) + ot.shape)())
        for o in opaque:
            outs.append(o.type())
        return Apply(self, [n_steps] + list(inputs), outs)

    # -------------------------------------------------------------- compile
    def _inner_graph(self, xp):
        """The rewritten inner graph (compiled once per backend)."""
        key = xp.__name__
        fg = self._graphs.get(key)
        if fg is None:

            fg = FunctionGraph(self.inner_inputs, self.inner_outputs)
            rewrite_graph(fg)
            self._graphs[key] = fg
        return fg

    def _inner_fn(self, xp):
        fn = self._compiled.get(xp.__name__)
        if fn is None:

            fn = link(self._inner_graph(xp), len(self.inner_inputs), [], xp).fn
            self._compiled[xp.__name__] = fn
        return fn

    def _loop_fn(self, xp):
        """The whole loop as one generated function (see :func:`_generate_loop`)."""
        key = ("loop", xp.__name__)
        fn = self._compiled.get(key)
        if fn is None:
            fn = self._compiled[key] = _generate_loop(self, self._inner_graph(xp), xp)
        return fn

    def _numba_loop(self, xp):
        """The Numba-compiled loop (``nbgrad.scan.numba_loop``), or None where it does not apply."""
        key = ("numba", xp.__name__)
        if key not in self._compiled:
            from nbgrad.scan.numba_loop import Unsupported, compile_loop, loop_source  # lazy: only for loops that run long

            try:
                self._compiled[key] = compile_loop(loop_source(self, self._inner_graph(xp)))
            except Unsupported:
                self._compiled[key] = None
        return self._compiled[key]

    def make_thunk(self, node, xp):
        return _ScanThunk(self, node, xp)

    def perform(self, node, inputs, xp):
        return self.make_thunk(node, xp)(*inputs)

    # ------------------------------------------------------------ gradients
    def connection_pattern(self, node):
        info = self.info
        n_out = len(node.outputs)
        pat = [[False] * n_out]  # n_steps
        pat += [[True] * n_out for _ in node.inputs[1:]]
        # opaque inputs only connect to opaque outputs (no gradient flows through them)
        b = 1 + info.n_seqs + info.n_states
        for i in range(b, b + info.n_opaque):
            pat[i] = [False] * (n_out - info.n_opaque) + [True] * info.n_opaque
        return pat

    def L_op(self, inputs, outputs, output_grads):
        from nbgrad.scan.grad import scan_lop  # lazy: scan.grad builds Scan nodes, so it imports this module

        return scan_lop(self, inputs, outputs, output_grads)

    def R_op(self, inputs, eval_points):
        from nbgrad.scan.grad import scan_rop  # lazy: scan.grad builds Scan nodes, so it imports this module

        return scan_rop(self, inputs, eval_points)

    def infer_shape(self, fgraph, node, input_shapes):
        """Output shapes from ``n_steps`` and the inner graph's shapes.

        A kept state has ``L + n_steps`` rows of its initial value's row shape,
        a state that is not kept its last ``L`` rows; a per-step (nitsot)
        output has ``n_steps`` rows of the inner result's shape, which the
        inner ops' ``infer_shape`` give from the shapes of the sequences, the
        initial values and the non-sequences. A while-loop's length, and an
        inner size that depends on the step's values, are known only once the
        loop has run: those sizes are read off the output (``shape_i``).
        An opaque state (a generator) has no shape: ``()``.
        """
        info = self.info
        n_steps = node.inputs[0]
        _, init_shapes, _, _ = self.split_inputs(input_shapes[1:])
        out_states, out_nitsots, out_opaque = self.split_outputs(node.outputs)
        rows = None if info.as_while else n_steps
        shapes = []
        for k, (o, init) in enumerate(zip(out_states, init_shapes)):
            lag = info.lags()[k]
            first = lag if not info.keep[k] else (None if rows is None else rows + lag)
            shapes.append(_sizes(o, (first, *init[1:])))
        for o, row in zip(out_nitsots, self._nitsot_row_shapes(node, input_shapes)):
            shapes.append(_sizes(o, (rows, *row)))
        shapes.extend(() for _ in out_opaque)
        return shapes

    def _nitsot_row_shapes(self, node, input_shapes):
        """Per nitsot output, the shape of one row in terms of the outer inputs (None: unknown).

        Runs the inner ops' ``infer_shape`` over the inner graph, each
        placeholder standing with the shape of the outer value it takes a
        row or all of; a size that still reads an inner variable other than a
        non-sequence's placeholder (which is replaced by the outer value)
        depends on the step and is left unknown.
        """
        info = self.info
        seq_sh, init_sh, _, nonseq_sh = self.split_inputs(input_shapes[1:])
        seq_ph, state_ph, _, ns_ph = self.split_inner_inputs()
        ph_shapes = [tuple(s[1:]) for s, taps in zip(seq_sh, info.seq_taps) for _ in taps]
        ph_shapes += [tuple(s[1:]) for s, taps in zip(init_sh, info.state_taps) for _ in taps]
        known = dict(zip(seq_ph + state_ph, ph_shapes))
        known.update((ph, tuple(s)) for ph, s in zip(ns_ph, nonseq_sh))
        nitsots = self.split_outputs(self.inner_outputs).nitsots
        for inner in io_toposort(self.inner_inputs, nitsots):
            ins = [known.get(i, _static_shape(i)) for i in inner.inputs]
            if any(s is None for s in ins):
                continue
            try:
                outs = inner.op.infer_shape(None, inner, ins)
            except Exception:  # noqa: BLE001 - an inner op without a usable shape rule: unknown
                continue
            known.update((o, tuple(s)) for o, s in zip(inner.outputs, outs) if isinstance(o.type, TensorType))
        step_vars = {v for v in ancestors(nitsots) if not isinstance(v, Constant)} | set(self.inner_inputs)
        outer_ns = dict(zip(ns_ph, self.split_inputs(node.inputs[1:]).non_sequences))
        rows = []
        for o in nitsots:
            shape = known.get(o, _static_shape(o))
            rows.append([None] * o.ndim if shape is None else [_outer_size(s, step_vars, outer_ns) for s in shape])
        return rows


def _static_shape(v):
    """The shape of a tensor whose type knows every size, ``()`` for a non-tensor, else None."""
    if not isinstance(v.type, TensorType):
        return ()
    return v.type.shape if None not in v.type.shape else None


def _outer_size(size, step_vars, outer_ns):
    """An inner size in terms of the outer inputs, or None where it reads a per-step value."""
    if isinstance(size, (int, np.integer)):
        return int(size)
    size = as_tensor_variable(size)
    reads = [v for v in ancestors([size]) if v in step_vars]
    if not reads:
        return size
    if any(v.owner is None and v not in outer_ns for v in reads):
        return None
    # computed in the loop from non-sequences and constants only: the same outside it
    return clone_get_equiv(list(outer_ns), [size], memo=outer_ns, copy_inputs=False)[size]


def _sizes(out, shape):
    """``shape`` with each unknown (None) size read off ``out`` when it has run."""
    return tuple(shape_i(out, d) if s is None else s for d, s in enumerate(shape))


class _ScanThunk:
    """What a Scan node runs per call, with everything known from its types decided once.

    A call checks the inputs and sets up the state buffers and the slot plans
    (:meth:`_prepare`), runs the loop (:meth:`_run_loop`: the Numba loop once
    chosen, else the generated NumPy loop; :meth:`_run_opaque`: step by step,
    for a loop with opaque states) and collects the outputs (:meth:`_results`).
    Between calls it keeps the choice of loop, the seconds spent in the NumPy
    loop and the buffers of the previous call.
    """

    def __init__(self, op, node, xp):
        info = self.info = op.info
        self.op, self.xp = op, xp
        if info.n_opaque:
            self.fn = op._inner_fn(xp)
        else:
            self.loop = op._loop_fn(xp)
        # when to switch from the NumPy loop to the Numba one (``config.scan_compiler``)
        self.compile_after = _compile_after(xp) if not info.n_opaque else None
        self.jit = None  # the Numba loop once chosen; False: the NumPy loop for good
        self.spent = 0.0  # seconds run in the NumPy loop so far
        self.lags = info.lags()
        self.seq_off = info.seq_offsets()
        self.n_args = len(op.inner_inputs)
        self.label = f"scan {info.name!r}" if info.name else "scan"
        n_states, n_nit = info.n_states, info.n_nitsot
        self.state_dtypes = [o.type.dtype for o in node.outputs[:n_states]]
        self.nit_dtypes = [o.type.dtype for o in node.outputs[n_states:n_states + n_nit]]
        # the shape of a nitsot output that no step wrote (unknown lengths are 0)
        self.empty_nit_shapes = [tuple(0 if s is None else s for s in o.type.shape)
                                 for o in node.outputs[n_states:n_states + n_nit]]
        # the buffers of the previous call, reused when nothing refers to them any more
        self.kept_states = [None] * n_states
        self.kept_nits = [None] * n_nit
        self.reuse = xp.__name__ == "numpy"
        self.single = len(node.outputs) == 1

    def state_buffer(self, k, shape):
        if self.reuse:
            return _reused(self.kept_states, k, shape, self.state_dtypes[k])
        return self.xp.empty(shape, dtype=self.state_dtypes[k])

    def nit_buffer(self, k, shape):
        if self.reuse:
            return _reused(self.kept_nits, k, shape, self.nit_dtypes[k])
        return self.xp.empty(shape, dtype=self.nit_dtypes[k])

    def __call__(self, n_steps, *inputs):
        info = self.info
        n = int(n_steps)
        n_seqs, n_states, n_opaque = info.n_seqs, info.n_states, info.n_opaque
        seqs = inputs[:n_seqs]
        inits = inputs[n_seqs:n_seqs + n_states]
        opaque = list(inputs[n_seqs + n_states:n_seqs + n_states + n_opaque])
        nonseqs = inputs[n_seqs + n_states + n_opaque:]
        bufs, sizes, seq_slots, state_slots = self._prepare(n, seqs, inits)
        if n_opaque:
            done, nits = self._run_opaque(n, seq_slots, state_slots, bufs, sizes, opaque, nonseqs)
        else:
            done, nits = self._run_loop(n, inits, seq_slots, state_slots, bufs, sizes, nonseqs)
        results = self._results(done, bufs, sizes, nits, opaque)
        return results[0] if self.single else tuple(results)

    def _prepare(self, n, seqs, inits):
        """Check the inputs; return the state buffers, their sizes and the slot plans.

        A state's buffer holds ``L + n`` rows when it is kept, else a ring of
        ``L + 1`` rows. The slot plans give, per inner input, its argument
        position and where its rows come from: ``(position, sequence, offset)``
        per sequence tap, ``(position, buffer, offset, size)`` per state tap.
        """
        info, label, lags, seq_off = self.info, self.label, self.lags, self.seq_off
        if n < 0:
            raise ValueError(f"{label}: n_steps must be >= 0, got {n}")
        for j, s in enumerate(seqs):
            span = seq_off[j][0]
            if s.shape[0] - span < n:
                raise ValueError(
                    f"{label}: sequence {j} has {s.shape[0]} rows, too few for {n} steps "
                    f"with taps {list(info.seq_taps[j])} (needs {n + span}); give a longer "
                    "sequence or a smaller n_steps"
                )
        bufs, sizes = [], []
        for k, init in enumerate(inits):
            L = lags[k]
            if init.shape[0] != L:
                raise ValueError(
                    f"{label}: the initial value of output {k} needs {L} row(s) for taps "
                    f"{list(info.state_taps[k])}, got shape {init.shape}"
                )
            size = L + n if info.keep[k] else L + 1
            buf = self.state_buffer(k, (size,) + init.shape[1:])
            buf[:L] = init
            bufs.append(buf)
            sizes.append(size)
        seq_slots = []
        pos = 0
        for j, s in enumerate(seqs):
            for off in seq_off[j][1]:
                seq_slots.append((pos, s, off))
                pos += 1
        state_slots = []
        for k in range(info.n_states):
            L = lags[k]
            for tap in info.state_taps[k]:
                state_slots.append((pos, bufs[k], L + tap, sizes[k]))
                pos += 1
        return bufs, sizes, seq_slots, state_slots

    def _run_loop(self, n, inits, seq_slots, state_slots, bufs, sizes, nonseqs):
        """``(steps done, nitsot buffers)`` of a loop without opaque states.

        The Numba loop runs once ``config.scan_compiler`` chose it (after
        ``compile_after`` seconds of NumPy loop); otherwise, or where it does
        not handle these shapes, the generated NumPy loop runs. On a shape
        error that loop runs again step by step through the inner function,
        to say which output of which step was wrong.
        """
        nits = [None] * self.info.n_nitsot
        if self.jit is None and self.compile_after is not None and self.spent >= self.compile_after:
            self.jit = _load_numba_loop(self.op, self.xp)
        if n == 0:
            return 0, nits
        if self.jit:
            res = _run_numba(self.jit, n, seq_slots, bufs, sizes, nonseqs)
            if res is None:  # it could not compile: the NumPy loop from now on
                self.jit = False
            elif res[0] >= 0:
                return res[0], list(res[1:])
        lags = self.lags
        start = perf_counter()
        res = self.loop(n, self.nit_buffer, *[s[off:off + n] for _p, s, off in seq_slots],
                        *[_rows(buf, off, n, size) for _p, buf, off, size in state_slots],
                        *[_rows(buf, lag, n, size) for buf, lag, size in zip(bufs, lags, sizes)],
                        *nonseqs)
        if res is not None:
            done, nits = res[0], list(res[1:])
        else:
            # a shape error: run the loop again step by step to say where
            for k, init in enumerate(inits):
                bufs[k][:lags[k]] = init
            done = _run_steps(self.op._inner_fn(self.xp), n, seq_slots, state_slots, nonseqs,
                              bufs, lags, sizes, nits, self.nit_dtypes, self.info.as_while,
                              self.label, self.xp)
        self.spent += perf_counter() - start
        return done, nits

    def _run_opaque(self, n, seq_slots, state_slots, bufs, sizes, opaque, nonseqs):
        """``(steps done, nitsot buffers)`` of a loop with opaque states, run step by step.

        The opaque values are updated in place in ``opaque``.
        """
        info, fn, lags, label = self.info, self.fn, self.lags, self.label
        n_states, n_nit, n_opaque = info.n_states, info.n_nitsot, info.n_opaque
        as_while, nit_buffer = info.as_while, self.nit_buffer
        nits = [None] * n_nit
        args = [None] * self.n_args
        # fixed argument slots: non-sequences
        base = self.n_args - len(nonseqs)
        for k, v in enumerate(nonseqs):
            args[base + k] = v
        opaque_pos = len(seq_slots) + len(state_slots)
        for t in range(n):
            for p, s, off in seq_slots:
                args[p] = s[t + off]
            for p, buf, off, size in state_slots:
                args[p] = buf[(t + off) % size]
            for k in range(n_opaque):
                args[opaque_pos + k] = opaque[k]
            outs = fn(*args)
            for k in range(n_states):
                row = (t + lags[k]) % sizes[k]
                try:
                    bufs[k][row] = outs[k]
                except ValueError:
                    _raise_state_shape(label, t, k, outs[k], bufs[k])
            for k in range(n_nit):
                v = outs[n_states + k]
                if nits[k] is None:
                    nits[k] = nit_buffer(k, (n,) + np.shape(v))
                try:
                    nits[k][t] = v
                except ValueError:
                    _raise_nit_shape(label, t, n_states + k, v, nits[k])
            for k in range(n_opaque):
                opaque[k] = outs[n_states + n_nit + k]
            if as_while and bool(outs[-1]):
                return t + 1, nits
        return n, nits

    def _results(self, done, bufs, sizes, nits, opaque):
        """The outer outputs after ``done`` steps, in order: states, nitsots, opaque finals."""
        info, lags = self.info, self.lags
        results = []
        for k in range(info.n_states):
            L = lags[k]
            if info.keep[k]:
                results.append(bufs[k][: L + done])
            else:
                idx = [(done + i) % sizes[k] for i in range(L)]
                results.append(bufs[k][idx])
        for k in range(info.n_nitsot):
            if nits[k] is None:
                nits[k] = self.xp.zeros(self.empty_nit_shapes[k], dtype=self.nit_dtypes[k])
            results.append(nits[k][:done])
        results.extend(opaque)
        return results


#: Seconds a loop runs with NumPy, in all its calls, before ``config.scan_compiler='auto'``
#: compiles it with Numba: compiling costs about 0.3 s (1 s more for Numba's first import in a
#: process), so short and rarely run loops never pay it.
SCAN_COMPILE_AFTER = 0.5


def _compile_after(xp):
    """Seconds of NumPy loop after which to compile the loop with Numba; None: never."""
    mode = config.scan_compiler
    if xp.__name__ != "numpy" or mode == "numpy":
        return None
    from nbgrad.scan.numba_loop import numba_available  # lazy: only for loops that run long

    if not numba_available():
        if mode == "numba":
            raise ImportError(
                "nbgrad.config.scan_compiler is 'numba' but Numba is not installed; "
                "install it (pip install numba) or set scan_compiler to 'auto' or 'numpy'"
            )
        return None
    return 0.0 if mode == "numba" else SCAN_COMPILE_AFTER


def _load_numba_loop(op, xp):
    return op._numba_loop(xp) or False


def _run_numba(jit, n, seq_slots, bufs, sizes, nonseqs):
    """``(steps done, *nitsot buffers)`` from the Numba loop; None if it fails to compile.

    A step count of -1 means that the loop does not handle these shapes (it wrote nothing).
    """
    seqs = [s[off:off + n] for _p, s, off in seq_slots]
    fixed = [v[()] if v.ndim == 0 else v for v in nonseqs]
    try:
        return jit(n, *seqs, *bufs, *sizes, *fixed)
    except Exception:  # noqa: BLE001 - a typing or lowering error of Numba: not compilable
        from nbgrad.scan.numba_loop import is_compile_error  # lazy: only for loops that run long

        if is_compile_error():
            return None
        raise


#: ``sys.getrefcount`` of a kept buffer that nobody else holds: the list of kept
#: buffers, the local name and the call's own argument.
_UNREFERENCED = 3


def _reused(kept, k, shape, dtype):
    """``kept[k]`` if nothing but ``kept`` refers to it and it fits, else a new buffer.

    A result of the previous call, or any view of it, that the caller (or a shared
    variable, or a later op) still holds raises the reference count of the buffer
    (a view refers to its base), so a held result is never overwritten: a new
    buffer is allocated and kept instead. Reuse saves the page faults of a fresh
    allocation of every step's rows on each call.
    """
    buf = kept[k]
    if (buf is None or buf.shape != shape or buf.dtype != dtype
            or getrefcount(buf) != _UNREFERENCED):
        buf = kept[k] = np.empty(shape, dtype=dtype)
    return buf


def _rows(buf, start, n, size):
    """Per-step views ``buf[(start + t) % size]`` for t < n (no copies).

    Rows of a vector buffer are taken as 0-d views (``buf[i, ...]``), not
    scalars, so that they see the values written during the loop.
    """
    if buf.ndim == 1:
        ring = [buf[i, ...] for i in range(size)]
    elif start + n <= size:
        return list(buf[start:start + n])
    else:
        ring = list(buf)
    return [ring[(start + t) % size] for t in range(n)]


def _run_steps(fn, n, seq_slots, state_slots, nonseqs, bufs, lags, sizes, nits, nit_dtypes,
               as_while, label, xp):
    """The loop without opaque states; returns the number of steps done.

    Every argument of every step is a view known before the loop starts (a
    sequence row, a state buffer row, a non-sequence), so the per-step work is
    one call of the inner function and one copy per output row.
    """

    cols = [list(s[off:off + n]) for _p, s, off in seq_slots]
    cols += [_rows(buf, off, n, size) for _p, buf, off, size in state_slots]
    cols += [repeat(v, n) for v in nonseqs]
    dst = [_rows(buf, lag, n, size) for buf, lag, size in zip(bufs, lags, sizes)]
    n_states, n_nit = len(bufs), len(nits)
    t, outs = 0, ()
    try:
        for t, step_args in enumerate(zip(*cols)):
            outs = fn(*step_args)
            for k in range(n_states):
                dst[k][t][...] = outs[k]
            if n_nit:
                for k in range(n_nit):
                    v = outs[n_states + k]
                    if nits[k] is None:
                        nits[k] = xp.empty((n,) + np.shape(v), dtype=nit_dtypes[k])
                    nits[k][t] = v
            if as_while and bool(outs[-1]):
                return t + 1
    except ValueError:
        if len(outs) != n_states + n_nit + int(as_while):
            raise
        for k in range(n_states):
            if np.broadcast_shapes(np.shape(outs[k]), bufs[k].shape[1:]) != bufs[k].shape[1:]:
                _raise_state_shape(label, t, k, outs[k], bufs[k])
        for k in range(n_nit):
            if nits[k] is not None and np.shape(outs[n_states + k]) != nits[k].shape[1:]:
                _raise_nit_shape(label, t, n_states + k, outs[n_states + k], nits[k])
        raise
    return n


def _generate_loop(op, fg, xp):
    """Generate the loop of a Scan without opaque states as one Python function.

    The inner graph's straight-line body (one call per node, as the linker
    emits it) sits inside the ``for`` loop, so that a step costs the calls of
    the inner ops and one copy per output row, and no call of an inner
    function, argument packing or tuple of results. The function takes
    ``n``, ``alloc(k, shape)`` (which gives the buffer of nitsot output ``k``),
    one iterable of per-step rows per sequence tap and per state tap,
    one list of destination rows per state, then the non-sequences; it
    returns ``(steps done, *nitsot buffers)``, or None on a ValueError (the
    caller then runs the steps again through the inner function, which
    explains shape mistakes).
    """

    info = op.info
    n_states, n_nit = info.n_states, info.n_nitsot
    n_taps = sum(len(t) for t in info.seq_taps) + sum(len(t) for t in info.state_taps)
    names, env, body = {}, {"_shape": np.shape}, []
    for k, v in enumerate(fg.inputs):
        names[v] = f"i{k}"
    n_const = 0

    def name_of(v):
        nonlocal n_const
        if v not in names:
            if not isinstance(v, Constant):
                raise RuntimeError(f"scan loop: {v} is used before it is computed")
            names[v] = f"_c{n_const}"
            env[names[v]] = _backend_constant(v.data, xp)
            n_const += 1
        return names[v]

    for k, node in enumerate(fg.toposort()):
        args = ", ".join(name_of(i) for i in node.inputs)
        outs = []
        for j, o in enumerate(node.outputs):
            names[o] = f"v{k}" if len(node.outputs) == 1 else f"v{k}_{j}"
            outs.append(names[o])
        env[f"_t{k}"] = node.op.make_thunk(node, xp)
        body.append(f"{', '.join(outs)} = _t{k}({args})")
    results = [name_of(o) for o in fg.outputs]
    for k in range(n_states):
        body.append(f"w{k}[...] = {results[k]}")
    for k in range(n_nit):
        v = results[n_states + k]
        body.append(f"if t == 0:\n    nit{k} = alloc({k}, (n,) + _shape({v}))")
        body.append(f"nit{k}[t] = {v}")
    nits = "".join(f", nit{k}" for k in range(n_nit))
    if info.as_while:
        body.append(f"if {results[-1]}:\n    return (t + 1{nits},)")
    # A transposed matrix multiplies at about half speed: non-sequences that only
    # feed matrix products are made C-contiguous once per call, not per step.

    prologue = []
    if xp.__name__ == "numpy":
        env["_contiguous"] = np.ascontiguousarray
        for k in range(n_taps, len(fg.inputs)):
            v = fg.inputs[k]
            users = [c for c, _i in fg.clients.get(v, ())]
            if (getattr(v.type, "ndim", 0) == 2 and users
                    and all(not isinstance(c, str) and isinstance(c.op, Dot) for c in users)):
                prologue.append(f"    if not i{k}.flags.c_contiguous:\n"
                                f"        i{k} = _contiguous(i{k})\n")
    cols = [f"c{k}" for k in range(n_taps)] + [f"d{k}" for k in range(n_states)]
    step_vars = [f"i{k}" for k in range(n_taps)] + [f"w{k}" for k in range(n_states)]
    params = ["n", "alloc"] + cols + [f"i{k}" for k in range(n_taps, len(fg.inputs))]
    inner = "\n".join("            " + ln for b in body for ln in b.split("\n"))
    source = (
        f"def scan_loop({', '.join(params)}):\n"
        + "".join(prologue)
        + "".join(f"    nit{k} = None\n" for k in range(n_nit))
        + "    try:\n"
        + f"        for {', '.join(['t'] + step_vars)} in zip(range(n){''.join(', ' + c for c in cols)}):\n"
        + (inner or "            pass") + "\n"
        + "    except ValueError:\n"
        + "        return None\n"
        + f"    return (n{nits},)\n"
    )
    filename = f"<nbgrad-scan-loop-{next(_loop_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), env)
    fn = env["scan_loop"]
    fn.source = source
    return fn


def _raise_state_shape(label, t, k, value, buf):
    raise ValueError(
        f"{label}: step {t} returned shape {np.shape(value)} for output {k}, "
        f"but its initial value (outputs_info) has rows of shape "
        f"{buf.shape[1:]}; make fn return the shape of outputs_info"
    ) from None


def _raise_nit_shape(label, t, k, value, nit):
    raise ValueError(
        f"{label}: step {t} returned shape {np.shape(value)} for output "
        f"{k}, but earlier steps returned {nit.shape[1:]}; "
        "every step must return the same shape"
    ) from None


def _is_differentiable(v):
    return isinstance(v, Variable) and isinstance(v.type, TensorType) and v.type.dtype not in discrete_dtypes
