"""Derivatives of Scan: a reverse Scan for L_op (BPTT), a forward Scan for R_op.

Reverse mode. Step ``t`` of the forward loop reads state rows ``B[t + L + tap]``
and writes ``B[t + L]``. Walking ``t`` from last to first, the gradient of the
row written at ``t`` is complete once the later steps that read it are done;
each state carries a window ``C`` of ``L`` rows of gradient contributions still
waiting for their row::

    ḡ_t     = ḡB[t + L] + C[0]                   (masked by truncate_gradient)
    x̄, ...  = vjp of the step at t with ḡ_t      (inner graph, built once)
    C'[d]   = C[d + 1] + x̄(tap = -(d + 1))        (C[L] = 0)

Sequences receive their per-step gradients as stacked outputs, non-sequences
accumulate theirs in a carry that is kept only at the end. The stored forward
rows are substituted for the step's outputs, so the backward step does not
recompute them.

Forward mode runs the step and its Jacobian-vector product side by side.
"""

from dataclasses import dataclass
from typing import NamedTuple

from nbgrad import tensor as T
from nbgrad.gradient import Rop, grad
from nbgrad.graph.basic import Variable
from nbgrad.graph.nograd import DisconnectedType, NullType, disconnected_type, grad_not_implemented
from nbgrad.graph.replace import clone_get_equiv
from nbgrad.graph.traversal import ancestors
from nbgrad.rewriting.patterns import scalar_const
from nbgrad.scan.basic import _build_scan, _scan_node, _Sequence, _State
from nbgrad.scan.op import Scan, _is_differentiable
from nbgrad.tensor.shape import Alloc
from nbgrad.tensor.subtensor import IncSubtensor

__all__ = ["scan_lop", "scan_rop"]


def _disc():
    return disconnected_type()


def _replace(outputs, mapping):
    equiv = clone_get_equiv([], [o for o in outputs if o is not None], memo=mapping, copy_inputs=False)
    return [None if o is None else equiv.get(o, o) for o in outputs]


def _usable(g):
    return g is not None and not isinstance(g.type, (DisconnectedType, NullType))


def _last_row_only(g):
    """``v`` when ``g`` is zero but for its last row, which is ``v``, else None.

    Recognizes what the gradient of ``ys[-1]`` builds: ``inc_subtensor`` (or
    ``set_subtensor``) of ``v`` at index -1 into zeros, possibly nested in an
    increment of ``[a:]`` into zeros.
    """
    node = g.owner
    if node is None or not isinstance(node.op, IncSubtensor) or len(node.inputs) != 2:
        return None
    base, v = node.inputs
    if base.owner is None or not isinstance(base.owner.op, Alloc) \
            or scalar_const(base.owner.inputs[0]) != 0:
        return None
    idx = node.op.idx
    if idx == (("int", -1),):
        return v
    if len(idx) == 1 and idx[0][0] == "slice" and idx[0][2:] == (None, None) \
            and isinstance(idx[0][1], int) and idx[0][1] >= 0:
        return _last_row_only(v)
    return None


def _full_outputs(op, inputs, outputs):
    """State buffers of every step and nitsot outputs (recomputed if not kept)."""
    info = op.info
    if all(info.keep):
        full = outputs
    else:
        full_op = Scan(op.inner_inputs, op.inner_outputs, info.replace(keep=(True,) * info.n_states))
        full = full_op.make_node(*inputs).outputs
    states, nits, _ = op.split_outputs(full)
    return states, nits


def scan_lop(op, inputs, outputs, output_grads):
    """x̄ for every outer input of a Scan node (BPTT through a reverse Scan)."""
    info = op.info
    if info.as_while:
        return _while_not_differentiable(op, inputs)
    n = inputs[0]
    seqs, _inits, opaque, nonseqs = op.split_inputs(inputs[1:])
    g_states, g_nits, _ = op.split_outputs(output_grads)
    bufs, nits = _full_outputs(op, inputs, outputs)
    gB, gY, g_last = _output_gradients(info, g_states, g_nits, bufs, nits)
    g_ph_state, g_ph_nit, wrt, grads = _step_vjp(op)
    unusable = next((g for g in grads if g is not None and not _usable(g)), None)
    if unusable is not None:
        return [_disc()] + [unusable if _is_differentiable(x) else _disc() for x in inputs[1:]]
    _check_no_random_draws(op, grads)
    bptt = _Bptt(
        op, g_ph_state, g_ph_nit, wrt, grads, g_last,
        diff_states=[k for k in range(info.n_states) if _is_differentiable(bufs[k])],
        diff_nonseqs=[k for k in range(info.n_nonseq) if _is_differentiable(nonseqs[k])],
        diff_seqs=[j for j in range(info.n_seqs) if _is_differentiable(seqs[j])],
    )
    b_seqs = bptt.sequences(n, seqs, bufs, nits, gB, gY)
    carries = bptt.initial_carries(bufs, nonseqs)
    b_nonseqs = bptt.non_sequences(n, nonseqs)
    # the carries are fed back from step to step, only their last value is returned;
    # the per-step gradients of each sequence tap are stacked
    b_states = ([_State.of_initial(c, keep=False) for c in carries]
                + [None] * sum(len(info.seq_taps[j]) for j in bptt.diff_seqs))
    b_outs, _ = _build_scan(bptt.step, b_seqs, b_states, b_nonseqs, n,
                            name=f"grad_of_{info.name}" if info.name else "grad_of_scan")
    return bptt.input_grads(n, b_outs, seqs, gB, len(opaque))


def _while_not_differentiable(op, inputs):
    return [_disc()] + [
        grad_not_implemented(op, i + 1, x, "Loops with an until-condition are not differentiable; "
                             "use a fixed n_steps and mask the steps instead")
        if _is_differentiable(x) else _disc()
        for i, x in enumerate(inputs[1:])
    ]


def _output_gradients(info, g_states, g_nits, bufs, nits):
    """The gradients of the full state buffers and nitsot outputs (zeros where none), and,
    per state whose gradient is zero but for its last row (the gradient of ``ys[-1]``),
    that row: it starts the backward carry instead of being stacked into zeros."""
    lags = info.lags()
    gB = []
    for k, g in enumerate(g_states):
        b = bufs[k]
        if not _usable(g):
            gB.append(T.zeros_like(b))
        elif info.keep[k]:
            gB.append(g)
        else:
            gB.append(T.set_subtensor(T.zeros_like(b)[-lags[k]:], g))
    gY = [g if _usable(g) else T.zeros_like(y) for g, y in zip(g_nits, nits)]
    g_last = {}
    for k, g in enumerate(g_states):
        if info.keep[k] and _usable(g) and _is_differentiable(bufs[k]):
            last = _last_row_only(g)
            if last is not None and last.ndim == bufs[k].ndim - 1:
                if last.type.shape != bufs[k].type.shape[1:] or last.dtype != bufs[k].dtype:
                    last = T.cast(last + T.zeros_like(bufs[k][-1]), bufs[k].dtype)
                g_last[k] = last
    return gB, gY, g_last


def _step_vjp(op):
    """The step's vector-Jacobian product, built once on the inner graph.

    Returns the placeholders for the gradients of the step's new state rows and
    nitsot rows (None where not differentiable), the differentiable inner
    inputs, and their gradients in terms of those placeholders (None where
    disconnected).
    """
    inner = op.split_inner_inputs()
    state_out, nit_out, _ = op.split_outputs(op.inner_outputs)
    g_ph_state = [o.type() if _is_differentiable(o) else None for o in state_out]
    g_ph_nit = [o.type() if _is_differentiable(o) else None for o in nit_out]
    known = {}
    for o, ph in zip(state_out + nit_out, g_ph_state + g_ph_nit):
        if ph is None:
            continue
        known[o] = known[o] + ph if o in known else ph
    wrt = [v for v in inner.sequences + inner.states + inner.non_sequences if _is_differentiable(v)]
    if known and wrt:
        grads = grad(None, wrt, known_grads=known, disconnected_inputs="ignore",
                     return_disconnected="None", null_gradients="return")
    else:
        grads = [None] * len(wrt)
    return g_ph_state, g_ph_nit, wrt, grads


def _check_no_random_draws(op, grads):
    state_out, nit_out, _ = op.split_outputs(op.inner_outputs)
    opaque = set(op.split_inner_inputs().opaque)
    needed = [g for g in grads if g is not None]
    if any(v in opaque for v in ancestors(needed, blockers=state_out + nit_out)):
        raise NotImplementedError(
            f"{op}: the gradient of this loop depends on random numbers drawn inside it, which "
            "the backward pass cannot replay; draw them outside the loop and pass them as a "
            "sequence instead"
        )


def _cast(x, dtype):
    return T.cast(x, dtype) if x.dtype != dtype else x


def _masked(g, mask):
    """``g`` where ``mask`` (the step is within truncate_gradient), else zeros."""
    return g if mask is None else T.switch(mask, g, T.zeros_like(g))


class _StepArgs(NamedTuple):
    """The arguments of one backward step, other than the forward step's inputs."""

    cur_rows: list  # per state, the row the forward step wrote
    g_rows: dict  # per state without a last-row-only gradient: the gradient of that row
    gy_rows: dict  # per differentiable nitsot: the gradient of its row
    carries: list  # the carried gradients: states' windows, then non-sequences' sums
    mask: Variable | None  # the step is within truncate_gradient


@dataclass
class _Bptt:
    """The backward loop of a Scan node: its inputs, its step and what it returns.

    Its sequences are, all reversed: the step index (with truncate_gradient),
    each sequence and each state buffer at the taps the forward step read,
    each nitsot output, then the output gradients. Its carries are a window
    of ``L`` gradient rows per differentiable state and a sum per
    differentiable non-sequence; its stacked outputs are the per-step
    gradients of each sequence tap.
    """

    op: Scan
    g_ph_state: list  # per state, the placeholder of its new row's gradient (None: none)
    g_ph_nit: list  # per nitsot, the same
    wrt: list  # the differentiable inner inputs
    grads: list  # their gradients, in terms of the placeholders above
    g_last: dict  # state -> the gradient of its last row, when that is all it has
    diff_states: list
    diff_nonseqs: list
    diff_seqs: list

    def __post_init__(self):
        self.info = info = self.op.info
        self.inner = self.op.split_inner_inputs()
        self.state_out, self.nit_out, _ = self.op.split_outputs(self.op.inner_outputs)
        self.lags = info.lags()
        self.seq_off = info.seq_offsets()
        self.trunc = info.truncate_gradient
        self.dense = [k for k in self.diff_states if k not in self.g_last]
        self.n_carry = len(self.diff_states) + len(self.diff_nonseqs)

    # ---------------------------------------------------------------- layout
    def _seq_taps(self, j):
        """The taps of sequence ``j`` in the backward loop (it runs reversed)."""
        span, offs = self.seq_off[j]
        return sorted({span - o for o in offs})

    def _state_taps(self, k):
        """The taps of state ``k``'s buffer in the backward loop: those read, and the row written."""
        return sorted({-t for t in self.info.state_taps[k]} | {0})

    def _seq_placeholders(self, j):
        base = sum(len(x) for x in self.info.seq_taps[:j])
        return self.inner.sequences[base:base + len(self.info.seq_taps[j])]

    def _state_placeholders(self, k):
        base = sum(len(x) for x in self.info.state_taps[:k])
        return self.inner.states[base:base + len(self.info.state_taps[k])]

    # ---------------------------------------------------------------- inputs
    def sequences(self, n, seqs, bufs, nits, gB, gY):
        """The backward loop's sequences (see the class docstring)."""
        b_seqs = []
        if self.trunc > 0:
            b_seqs.append(_Sequence(T.arange(n)[::-1], [0]))
        for j, s in enumerate(seqs):
            span, _offs = self.seq_off[j]
            b_seqs.append(_Sequence(s[:n + span][::-1], self._seq_taps(j)))
        for k in range(self.info.n_states):
            b_seqs.append(_Sequence(bufs[k][::-1], self._state_taps(k)))
        for y in nits:
            b_seqs.append(_Sequence(y[::-1], [0]))
        for k in self.dense:
            b_seqs.append(_Sequence(gB[k][::-1], [0]))
        for k in range(len(nits)):
            if self.g_ph_nit[k] is not None:
                b_seqs.append(_Sequence(gY[k][::-1], [0]))
        return b_seqs

    def initial_carries(self, bufs, nonseqs):
        """The carries' values before the first backward step: zeros, or a last row's gradient."""
        carries = []
        for k in self.diff_states:
            if self.lags[k] == 1:
                # one lag: the carry is the row itself, not a stack of one row (no axis to
                # add and drop every step)
                carries.append(self.g_last[k] if k in self.g_last else T.zeros_like(bufs[k][0]))
                continue
            c0 = T.zeros_like(bufs[k][:self.lags[k]])
            if k in self.g_last:
                c0 = T.set_subtensor(c0[0], self.g_last[k])
            carries.append(c0)
        for k in self.diff_nonseqs:
            carries.append(T.zeros_like(nonseqs[k]))
        return carries

    def non_sequences(self, n, nonseqs):
        """The forward loop's non-sequences, then (with truncate_gradient) the first step to keep."""
        bound = (n - self.trunc) if self.trunc > 0 else None
        return list(nonseqs) + ([bound] if bound is not None else [])

    # ------------------------------------------------------------------ step
    def step(self, *args):
        """One backward step, at forward step ``t`` (walking ``t`` down)::

            ḡ_t    = ḡB[t + L] + C[0]            (masked by truncate_gradient)
            x̄, ... = vjp of the step at t with ḡ_t
            C'[d]  = C[d + 1] + x̄(tap = -(d + 1))
        """
        mapping, a = self._bind_inputs(list(args))
        c_state = dict(zip(self.diff_states, a.carries[:len(self.diff_states)]))
        self._bind_output_grads(mapping, a, c_state)
        step_grads = dict(zip(self.wrt, _replace(self.grads, mapping)))
        return (self._state_carries(c_state, step_grads) + self._nonseq_carries(a.carries, step_grads)
                + self._seq_grads(step_grads))

    def _bind_inputs(self, args):
        """Map the forward step's inputs (and outputs, to the stored rows) to this step's
        arguments; return the mapping and the other arguments by role."""
        info = self.info
        pos = 0
        mapping = {}
        if self.trunc > 0:
            t_idx = args[0]
            pos = 1
        for j in range(info.n_seqs):
            span, offs = self.seq_off[j]
            taps = self._seq_taps(j)
            vals = dict(zip(taps, args[pos:pos + len(taps)]))
            pos += len(taps)
            for ph, o in zip(self._seq_placeholders(j), offs):
                mapping[ph] = vals[span - o]
        cur_rows = []
        for k in range(info.n_states):
            taps = self._state_taps(k)
            vals = dict(zip(taps, args[pos:pos + len(taps)]))
            pos += len(taps)
            for ph, t in zip(self._state_placeholders(k), info.state_taps[k]):
                mapping[ph] = vals[-t]
            cur_rows.append(vals[0])
        nit_rows = args[pos:pos + info.n_nitsot]
        pos += info.n_nitsot
        g_rows = dict(zip(self.dense, args[pos:pos + len(self.dense)]))
        pos += len(self.dense)
        gy_rows = {}
        for k in range(info.n_nitsot):
            if self.g_ph_nit[k] is not None:
                gy_rows[k] = args[pos]
                pos += 1
        carries = args[pos:pos + self.n_carry]
        pos += self.n_carry
        mapping.update(zip(self.inner.non_sequences, args[pos:pos + info.n_nonseq]))
        mask = T.ge(t_idx, args[-1]) if self.trunc > 0 else None
        # stored forward values stand for the step's outputs
        inner_in = set(self.op.inner_inputs)
        for o, row in zip(self.state_out + self.nit_out, cur_rows + list(nit_rows)):
            if o.owner is not None and o not in inner_in and o not in mapping:
                mapping[o] = row
        return mapping, _StepArgs(cur_rows, g_rows, gy_rows, carries, mask)

    def _carry_row(self, c_state, k, d):
        return c_state[k] if self.lags[k] == 1 else c_state[k][d]

    def _bind_output_grads(self, mapping, a, c_state):
        """Map the placeholders of the output gradients to ḡ_t of each state and nitsot."""
        for k, ph in enumerate(self.g_ph_state):
            if ph is None:
                continue
            if k in self.g_last:
                g = self._carry_row(c_state, k, 0)
            elif k in c_state:
                g = a.g_rows[k] + self._carry_row(c_state, k, 0)
            else:
                g = T.zeros_like(a.cur_rows[k])
            mapping[ph] = _masked(g, a.mask)
        for k, ph in enumerate(self.g_ph_nit):
            if ph is not None:
                mapping[ph] = _masked(a.gy_rows[k], a.mask)

    def _state_carries(self, c_state, step_grads):
        """Per differentiable state, the next window ``C'[d] = C[d + 1] + x̄(tap = -(d + 1))``."""
        outs = []
        for k in self.diff_states:
            L = self.lags[k]
            C = c_state[k]
            tap_grad = {t: step_grads.get(ph)
                        for ph, t in zip(self._state_placeholders(k), self.info.state_taps[k])}
            rows = []
            for d in range(L):
                parts = []
                if d + 1 < L:
                    parts.append(self._carry_row(c_state, k, d + 1))
                g = tap_grad.get(-(d + 1))
                if g is not None:
                    parts.append(g)
                if not parts:
                    rows.append(T.zeros_like(self._carry_row(c_state, k, 0)))
                else:
                    r = parts[0]
                    for p in parts[1:]:
                        r = r + p
                    rows.append(_cast(r, C.dtype))
            outs.append(rows[0] if L == 1 else T.stack(rows))
        return outs

    def _nonseq_carries(self, carries, step_grads):
        """Per differentiable non-sequence, its gradient summed over the steps so far."""
        outs = []
        for i, k in enumerate(self.diff_nonseqs):
            acc = carries[len(self.diff_states) + i]
            g = step_grads.get(self.inner.non_sequences[k])
            outs.append(_cast(acc if g is None else acc + g, acc.dtype))
        return outs

    def _seq_grads(self, step_grads):
        """Per tap of each differentiable sequence, the gradient of the row it read."""
        outs = []
        for j in self.diff_seqs:
            for ph in self._seq_placeholders(j):
                g = step_grads.get(ph)
                outs.append(T.zeros(ph.shape, dtype=ph.dtype) if g is None else _cast(g, ph.dtype))
        return outs

    # --------------------------------------------------------------- results
    def input_grads(self, n, b_outs, seqs, gB, n_opaque):
        """x̄ for every outer input, from the backward loop's outputs."""
        info = self.info
        result = [_disc()]
        seq_grads = {}
        pos = self.n_carry
        for j in self.diff_seqs:
            g = T.zeros_like(seqs[j])
            for o in self.seq_off[j][1]:
                g = T.inc_subtensor(g[o:o + n], b_outs[pos][::-1])
                pos += 1
            seq_grads[j] = g
        for j in range(info.n_seqs):
            result.append(seq_grads.get(j, _disc()))
        n_diff = len(self.diff_states)
        carry_out = dict(zip(self.diff_states, b_outs[:n_diff]))
        for k in range(info.n_states):
            if k in carry_out:
                L = self.lags[k]
                # the last value of the carry: (L, ...) rows, or one row with its axis kept
                rows = carry_out[k] if L == 1 else carry_out[k][0][::-1]
                result.append(rows if k in self.g_last else rows + gB[k][:L])
            else:
                result.append(_disc())
        result.extend(_disc() for _ in range(n_opaque))
        ns_out = dict(zip(self.diff_nonseqs, b_outs[n_diff:self.n_carry]))
        for k in range(info.n_nonseq):
            result.append(ns_out[k][0] if k in ns_out else _disc())
        return result


def scan_rop(op, inputs, eval_points):
    """Tangents of every Scan output: the step and its R-op run in one forward Scan."""
    info = op.info
    if info.as_while or info.n_opaque:
        raise NotImplementedError(
            f"{op}: Rop through loops with an until-condition or random draws is not supported"
        )
    n = inputs[0]
    seqs, inits, _opaque, nonseqs = op.split_inputs(inputs[1:])
    e_seqs, e_inits, _e_op, e_nonseqs = op.split_inputs(eval_points[1:])
    seq_ph, state_ph, _opaque_ph, nonseq_ph = op.split_inner_inputs()
    n_seq_ph, n_state_ph = len(seq_ph), len(state_ph)
    inner_state_out, inner_nit_out, _ = op.split_outputs(op.inner_outputs)

    def tangent(x, e):
        if not _is_differentiable(x):
            return None
        return e if e is not None else T.zeros_like(x)

    t_seqs = [tangent(s, e) for s, e in zip(seqs, e_seqs)]
    t_inits = [tangent(s, e) for s, e in zip(inits, e_inits)]
    t_nonseqs = [tangent(s, e) for s, e in zip(nonseqs, e_nonseqs)]

    # inner R-op, built once
    tan_ph = {}
    for v in list(seq_ph) + list(state_ph) + list(nonseq_ph):
        if _is_differentiable(v):
            tan_ph[v] = v.type()
    f_list = [o for o in list(inner_state_out) + list(inner_nit_out)]
    f_diff = [o for o in f_list if _is_differentiable(o)]
    wrt = list(tan_ph)
    r_list = Rop(f_diff, wrt, [tan_ph[w] for w in wrt]) if f_diff and wrt else []
    r_of = {id(o): r for o, r in zip(f_diff, r_list)}

    diff_state = [k for k in range(info.n_states) if t_inits[k] is not None
                  and _is_differentiable(inner_state_out[k])]
    diff_nit = [k for k in range(info.n_nitsot) if _is_differentiable(inner_nit_out[k])]
    j_seqs = [_Sequence(s, list(info.seq_taps[j])) for j, s in enumerate(seqs)]
    j_seqs += [_Sequence(t_seqs[j], list(info.seq_taps[j])) for j in range(len(seqs)) if t_seqs[j] is not None]
    # the initial values and their tangents already hold the L rows their taps read
    j_states = [_State(inits[k], list(info.state_taps[k]), inits[k], info.keep[k])
                for k in range(info.n_states)]
    j_states += [_State(t_inits[k], list(info.state_taps[k]), t_inits[k], info.keep[k]) for k in diff_state]
    j_states += [None] * (info.n_nitsot + len(diff_nit))
    j_nonseqs = list(nonseqs) + [t for t in t_nonseqs if t is not None]

    def step(*args):
        args = list(args)
        pos = 0
        mapping = {}
        vals = args[pos:pos + n_seq_ph]
        pos += n_seq_ph
        mapping.update(zip(seq_ph, vals))
        for j in range(info.n_seqs):
            if t_seqs[j] is not None:
                base = sum(len(x) for x in info.seq_taps[:j])
                for i in range(len(info.seq_taps[j])):
                    mapping[tan_ph[seq_ph[base + i]]] = args[pos]
                    pos += 1
        vals = args[pos:pos + n_state_ph]
        pos += n_state_ph
        mapping.update(zip(state_ph, vals))
        for k in diff_state:
            base = sum(len(x) for x in info.state_taps[:k])
            for i in range(len(info.state_taps[k])):
                mapping[tan_ph[state_ph[base + i]]] = args[pos]
                pos += 1
        vals = args[pos:pos + info.n_nonseq]
        pos += info.n_nonseq
        mapping.update(zip(nonseq_ph, vals))
        for k in range(info.n_nonseq):
            if t_nonseqs[k] is not None:
                mapping[tan_ph[nonseq_ph[k]]] = args[pos]
                pos += 1
        for ph, tp in tan_ph.items():
            if tp not in mapping:
                mapping[tp] = T.zeros_like(mapping[ph])
        fwd = _replace(list(inner_state_out) + list(inner_nit_out), mapping)
        tans = _replace([r_of[id(o)] for o in f_diff], mapping)
        tan_of = {id(o): t for o, t in zip(f_diff, tans)}
        st = fwd[:info.n_states]
        nit = fwd[info.n_states:]
        out = list(st)
        for k in diff_state:
            t = tan_of[id(inner_state_out[k])]
            out.append(T.cast(t, st[k].dtype) if t.dtype != st[k].dtype else t)
        out += list(nit)
        out += [tan_of[id(inner_nit_out[k])] for k in diff_nit]
        return out

    _states, _loop, node = _scan_node(step, j_seqs, j_states, j_nonseqs, n,
                                      name=f"rop_of_{info.name}" if info.name else "rop_of_scan")
    raw = node.outputs
    n_st = info.n_states
    n_jst = n_st + len(diff_state)
    st_t = dict(zip(diff_state, raw[n_st:n_jst]))
    nit_t = dict(zip(diff_nit, raw[n_jst + info.n_nitsot:]))
    res = [st_t.get(k) for k in range(n_st)]
    res += [nit_t.get(k) for k in range(info.n_nitsot)]
    res += [None] * info.n_opaque
    return res
