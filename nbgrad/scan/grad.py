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

from nbgrad.graph.replace import clone_get_equiv
from nbgrad.graph.traversal import ancestors
from nbgrad.scan.op import Scan, _is_differentiable

__all__ = ["scan_lop", "scan_rop"]


def _disc():
    from nbgrad.gradient import disconnected_type

    return disconnected_type()


def _replace(outputs, mapping):
    equiv = clone_get_equiv([], outputs, memo=mapping, copy_inputs=False)
    return [None if o is None else equiv.get(o, o) for o in outputs]


def _usable(g):
    from nbgrad.gradient import DisconnectedType, NullType

    return g is not None and not isinstance(g.type, (DisconnectedType, NullType))


def _last_row_only(g):
    """``v`` when ``g`` is zero but for its last row, which is ``v``, else None.

    Recognizes what the gradient of ``ys[-1]`` builds: ``inc_subtensor`` (or
    ``set_subtensor``) of ``v`` at index -1 into zeros, possibly nested in an
    increment of ``[a:]`` into zeros.
    """
    from nbgrad.rewriting.patterns import scalar_const
    from nbgrad.tensor.shape import Alloc
    from nbgrad.tensor.subtensor import IncSubtensor

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
    from nbgrad import tensor as T
    from nbgrad.gradient import grad, grad_not_implemented
    from nbgrad.scan.basic import _build_scan

    info = op.info
    n = inputs[0]
    seqs, inits, opaque, nonseqs = op.split_inputs(inputs[1:])
    if info.as_while:
        return [_disc()] + [
            grad_not_implemented(op, i + 1, x, "Loops with an until-condition are not differentiable; "
                                 "use a fixed n_steps and mask the steps instead")
            if _is_differentiable(x) else _disc()
            for i, x in enumerate(inputs[1:])
        ]
    g_states, g_nits, _ = op.split_outputs(output_grads)
    bufs, nits = _full_outputs(op, inputs, outputs)
    lags = info.lags()
    seq_off = info.seq_offsets()
    inner_in = op.inner_inputs
    seq_ph, state_ph, opaque_ph, nonseq_ph = op.split_inner_inputs()
    inner_state_out, inner_nit_out, _ = op.split_outputs(op.inner_outputs)

    # full-buffer output gradients (zeros where none)
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
    # a gradient that is zero but for the last row (the gradient of ``ys[-1]``) is not
    # stacked into a sequence of zeros: it starts the backward carry instead
    g_last = {}
    for k, g in enumerate(g_states):
        if info.keep[k] and _usable(g) and _is_differentiable(bufs[k]):
            last = _last_row_only(g)
            if last is not None and last.ndim == bufs[k].ndim - 1:
                if last.type.shape != bufs[k].type.shape[1:] or last.dtype != bufs[k].dtype:
                    last = T.cast(last + T.zeros_like(bufs[k][-1]), bufs[k].dtype)
                g_last[k] = last

    # the step's vector-Jacobian product, built once on the inner graph
    g_ph_state = [o.type() if _is_differentiable(o) else None for o in inner_state_out]
    g_ph_nit = [o.type() if _is_differentiable(o) else None for o in inner_nit_out]
    known = {}
    for o, ph in zip(list(inner_state_out) + list(inner_nit_out), g_ph_state + g_ph_nit):
        if ph is None:
            continue
        known[o] = known[o] + ph if o in known else ph
    wrt = [v for v in list(seq_ph) + list(state_ph) + list(nonseq_ph) if _is_differentiable(v)]
    if known and wrt:
        gl = grad(None, wrt, known_grads=known, disconnected_inputs="ignore",
                  return_disconnected="None", null_gradients="return")
    else:
        gl = [None] * len(wrt)
    for g in gl:
        if g is not None and not _usable(g):
            return [_disc()] + [g if _is_differentiable(x) else _disc() for x in inputs[1:]]
    needed = [g for g in gl if g is not None]
    opaque_set = set(opaque_ph)
    if any(v in opaque_set for v in ancestors(needed, blockers=list(inner_state_out) + list(inner_nit_out))):
        raise NotImplementedError(
            f"{op}: the gradient of this loop depends on random numbers drawn inside it, which "
            "the backward pass cannot replay; draw them outside the loop and pass them as a "
            "sequence instead"
        )

    diff_states = [k for k in range(info.n_states) if _is_differentiable(bufs[k])]
    diff_nonseqs = [k for k in range(info.n_nonseq) if _is_differentiable(nonseqs[k])]
    diff_seqs = [j for j in range(info.n_seqs) if _is_differentiable(seqs[j])]
    trunc = info.truncate_gradient

    # ---- sequences of the backward loop (all reversed)
    b_seqs = []
    if trunc > 0:
        b_seqs.append(T.arange(n)[::-1])
    for j, s in enumerate(seqs):
        span, offs = seq_off[j]
        r = s[:n + span][::-1]
        b_seqs.append(dict(input=r, taps=sorted({span - o for o in offs})))
    for k in range(info.n_states):
        taps = sorted({-t for t in info.state_taps[k]} | {0})
        b_seqs.append(dict(input=bufs[k][::-1], taps=taps))
    for y in nits:
        b_seqs.append(y[::-1])
    dense = [k for k in diff_states if k not in g_last]
    for k in dense:
        b_seqs.append(gB[k][::-1])
    for k in range(len(nits)):
        if g_ph_nit[k] is not None:
            b_seqs.append(gY[k][::-1])
    # ---- carries
    b_info = []
    for k in diff_states:
        if lags[k] == 1:
            # one lag: the carry is the row itself, not a stack of one row (no axis to
            # add and drop every step)
            b_info.append(g_last[k] if k in g_last else T.zeros_like(bufs[k][0]))
            continue
        c0 = T.zeros_like(bufs[k][:lags[k]])
        if k in g_last:
            c0 = T.set_subtensor(c0[0], g_last[k])
        b_info.append(dict(initial=c0, taps=[-1]))
    for k in diff_nonseqs:
        b_info.append(T.zeros_like(nonseqs[k]))
    n_carry = len(b_info)
    for j in diff_seqs:
        b_info.extend([None] * len(seq_off[j][1]))
    bound = (n - trunc) if trunc > 0 else None
    b_nonseqs = list(nonseqs) + ([bound] if bound is not None else [])

    def step(*args):
        args = list(args)
        pos = 0
        mapping = {}
        if trunc > 0:
            t_idx = args[0]
            pos = 1
        for j in range(info.n_seqs):
            span, offs = seq_off[j]
            taps = sorted({span - o for o in offs})
            vals = dict(zip(taps, args[pos:pos + len(taps)]))
            pos += len(taps)
            base = sum(len(x) for x in info.seq_taps[:j])
            for i, o in enumerate(offs):
                mapping[seq_ph[base + i]] = vals[span - o]
        cur_rows = []
        for k in range(info.n_states):
            taps = sorted({-t for t in info.state_taps[k]} | {0})
            vals = dict(zip(taps, args[pos:pos + len(taps)]))
            pos += len(taps)
            base = sum(len(x) for x in info.state_taps[:k])
            for i, t in enumerate(info.state_taps[k]):
                mapping[state_ph[base + i]] = vals[-t]
            cur_rows.append(vals[0])
        nit_rows = args[pos:pos + info.n_nitsot]
        pos += info.n_nitsot
        g_rows = dict(zip(dense, args[pos:pos + len(dense)]))
        pos += len(dense)
        gy_rows = {}
        for k in range(info.n_nitsot):
            if g_ph_nit[k] is not None:
                gy_rows[k] = args[pos]
                pos += 1
        carries = args[pos:pos + n_carry]
        pos += n_carry
        ns_vals = args[pos:pos + info.n_nonseq]
        for ph, v in zip(nonseq_ph, ns_vals):
            mapping[ph] = v
        mask = None
        if trunc > 0:
            mask = T.ge(t_idx, args[-1])
        # stored forward values stand for the step's outputs
        inner_in_set = set(inner_in)
        for o, row in zip(list(inner_state_out) + list(inner_nit_out), cur_rows + list(nit_rows)):
            if o.owner is not None and o not in inner_in_set and o not in mapping:
                mapping[o] = row
        c_state = dict(zip(diff_states, carries[:len(diff_states)]))

        def carry_row(k, d):
            return c_state[k] if lags[k] == 1 else c_state[k][d]

        for k in range(info.n_states):
            ph = g_ph_state[k]
            if ph is None:
                continue
            if k in g_last:
                g = carry_row(k, 0)
            elif k in c_state:
                g = g_rows[k] + carry_row(k, 0)
            else:
                g = T.zeros_like(cur_rows[k])
            mapping[ph] = g if mask is None else T.switch(mask, g, T.zeros_like(g))
        for k, ph in enumerate(g_ph_nit):
            if ph is None:
                continue
            g = gy_rows[k]
            mapping[ph] = g if mask is None else T.switch(mask, g, T.zeros_like(g))
        step_grads = dict(zip(wrt, _replace(gl, mapping)))
        outs = []
        for k in diff_states:
            L = lags[k]
            C = c_state[k]
            base = sum(len(x) for x in info.state_taps[:k])
            tap_grad = {t: step_grads.get(state_ph[base + i]) for i, t in enumerate(info.state_taps[k])}
            rows = []
            for d in range(L):
                parts = []
                if d + 1 < L:
                    parts.append(carry_row(k, d + 1))
                g = tap_grad.get(-(d + 1))
                if g is not None:
                    parts.append(g)
                if not parts:
                    rows.append(T.zeros_like(carry_row(k, 0)))
                else:
                    r = parts[0]
                    for p in parts[1:]:
                        r = r + p
                    rows.append(T.cast(r, C.dtype) if r.dtype != C.dtype else r)
            outs.append(rows[0] if L == 1 else T.stack(rows))
        for i, k in enumerate(diff_nonseqs):
            acc = carries[len(diff_states) + i]
            g = step_grads.get(nonseq_ph[k])
            new = acc if g is None else acc + g
            outs.append(T.cast(new, acc.dtype) if new.dtype != acc.dtype else new)
        for j in diff_seqs:
            base = sum(len(x) for x in info.seq_taps[:j])
            for i in range(len(seq_off[j][1])):
                ph = seq_ph[base + i]
                g = step_grads.get(ph)
                outs.append(T.zeros(ph.shape, dtype=ph.dtype) if g is None else
                            (T.cast(g, ph.dtype) if g.dtype != ph.dtype else g))
        return outs

    b_outs, _ = _build_scan(step, b_seqs, b_info, b_nonseqs, n, -1, False,
                            f"grad_of_{info.name}" if info.name else "grad_of_scan", False,
                            keep=[False] * n_carry)
    b_outs = b_outs if isinstance(b_outs, list) else [b_outs]
    result = [_disc()]
    # sequences
    seq_grads = {}
    pos = n_carry
    for j in diff_seqs:
        span, offs = seq_off[j]
        g = T.zeros_like(seqs[j])
        for o in offs:
            g = T.inc_subtensor(g[o:o + n], b_outs[pos][::-1])
            pos += 1
        seq_grads[j] = g
    for j in range(info.n_seqs):
        result.append(seq_grads.get(j, _disc()))
    carry_out = dict(zip(diff_states, b_outs[:len(diff_states)]))
    for k in range(info.n_states):
        if k in carry_out:
            L = lags[k]
            # the last value of the carry: (L, ...) rows, or one row with its axis kept
            rows = carry_out[k] if L == 1 else carry_out[k][0][::-1]
            result.append(rows if k in g_last else rows + gB[k][:L])
        else:
            result.append(_disc())
    result.extend(_disc() for _ in opaque)
    ns_out = dict(zip(diff_nonseqs, b_outs[len(diff_states):n_carry]))
    for k in range(info.n_nonseq):
        result.append(ns_out[k][0] if k in ns_out else _disc())
    return result


def scan_rop(op, inputs, eval_points):
    """Tangents of every Scan output: the step and its R-op run in one forward Scan."""
    from nbgrad import tensor as T
    from nbgrad.gradient import Rop
    from nbgrad.scan.basic import _build_scan

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
    j_seqs = []
    for j, s in enumerate(seqs):
        j_seqs.append(dict(input=s, taps=list(info.seq_taps[j])))
    for j in range(len(seqs)):
        if t_seqs[j] is not None:
            j_seqs.append(dict(input=t_seqs[j], taps=list(info.seq_taps[j])))
    j_info = [dict(initial=inits[k], taps=list(info.state_taps[k])) for k in range(info.n_states)]
    j_info += [dict(initial=t_inits[k], taps=list(info.state_taps[k])) for k in diff_state]
    j_info += [None] * (info.n_nitsot + len(diff_nit))
    j_nonseqs = list(nonseqs) + [t for t in t_nonseqs if t is not None]
    keep = list(info.keep) + [info.keep[k] for k in diff_state]

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

    # initial rows are passed raw: state inits already have L rows
    j_info = [dict(d, _rows=True) if d is not None else None for d in j_info]
    raw, _ = _build_scan(step, j_seqs, j_info, j_nonseqs, n, -1, False,
                         f"rop_of_{info.name}" if info.name else "rop_of_scan", False,
                         keep=keep, raw=True)
    n_st = info.n_states
    n_jst = n_st + len(diff_state)
    st_t = dict(zip(diff_state, raw[n_st:n_jst]))
    nit_t = dict(zip(diff_nit, raw[n_jst + info.n_nitsot:]))
    res = [st_t.get(k) for k in range(n_st)]
    res += [nit_t.get(k) for k in range(info.n_nitsot)]
    res += [None] * info.n_opaque
    return res
