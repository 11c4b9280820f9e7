"""Scan rewrites: drop the loop outputs that nothing uses.

A reverse-mode loop computes the gradient of every input of the forward loop;
a compiled function usually needs only some of them. ``scan_prune_outputs``
rebuilds a Scan node without the unused outputs, the recurrent states that
only feed them, and the sequences and non-sequences that become unused, so the
inner function does only the work that is asked for.
"""

from nbgrad.graph.basic import Constant
from nbgrad.graph.replace import clone_get_equiv
from nbgrad.graph.traversal import ancestors, io_toposort
from nbgrad.rewriting.db import node_rewriter
from nbgrad.scan.op import Scan
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.math import cast
from nbgrad.tensor.shape import Shape, ShapeI, make_vector, shape_i
from nbgrad.tensor.type import TensorType
from nbgrad.tensor.math import Dot, dot
from nbgrad.tensor.elemwise import DimShuffle
from nbgrad import tensor as T
from nbgrad.rewriting.patterns import is_op
from nbgrad.tensor.shape import reshape

__all__ = ["scan_prune_outputs", "scan_push_out", "scan_sum_accumulators", "needed_parts"]


def needed_parts(op, used):
    """Which states, nitsots and opaque states must be computed, given used outer outputs.

    A state whose outer output is unused is still needed when a needed inner
    output reads one of its taps. Returns three lists of bools and the set of
    inner inputs read.
    """
    info = op.info
    n_st, n_nit, n_op = info.n_states, info.n_nitsot, info.n_opaque
    need_st, need_nit, need_op = op.split_outputs(used)
    _seq_ph, state_ph, op_ph, _ns_ph = op.split_inner_inputs()
    st_ph, pos = [], 0
    for taps in info.state_taps:
        st_ph.append(state_ph[pos:pos + len(taps)])
        pos += len(taps)
    outs = op.inner_outputs
    while True:
        wanted = [outs[k] for k in range(n_st) if need_st[k]]
        wanted += [outs[n_st + k] for k in range(n_nit) if need_nit[k]]
        wanted += [outs[n_st + n_nit + k] for k in range(n_op) if need_op[k]]
        if info.as_while:
            wanted.append(outs[-1])
        read = set(ancestors(wanted, blockers=op.inner_inputs)) & set(op.inner_inputs)
        changed = False
        for k in range(n_st):
            if not need_st[k] and any(p in read for p in st_ph[k]):
                need_st[k] = changed = True
        for k in range(n_op):
            if not need_op[k] and op_ph[k] in read:
                need_op[k] = changed = True
        if not changed:
            return need_st, need_nit, need_op, read


@node_rewriter("canonicalize", tags=("fast_run", "fast_compile"), tracks=(Scan,))
def scan_prune_outputs(fgraph, node):
    op = node.op
    info = op.info
    used = [bool(fgraph.clients.get(o)) for o in node.outputs]
    need_st, need_nit, need_op, read = needed_parts(op, used)
    if all(need_st) and all(need_nit) and all(need_op):
        seqs_used = True
    else:
        seqs_used = False
    inner_in = op.inner_inputs
    n, *outer = node.inputs
    seqs, inits, opaque, nonseqs = op.split_inputs(outer)
    # sequences and non-sequences that nothing reads
    pos = 0
    keep_seq = []
    for taps in info.seq_taps:
        keep_seq.append(any(p in read for p in inner_in[pos:pos + len(taps)]))
        pos += len(taps)
    ns_ph = op.split_inner_inputs().non_sequences
    keep_ns = [p in read for p in ns_ph]
    if seqs_used and all(keep_seq) and all(keep_ns):
        return None
    new_in, new_seqs, new_taps = [], [], []
    pos = 0
    for j, taps in enumerate(info.seq_taps):
        if keep_seq[j]:
            new_in.extend(inner_in[pos:pos + len(taps)])
            new_seqs.append(seqs[j])
            new_taps.append(taps)
        pos += len(taps)
    new_inits, st_taps, keep = [], [], []
    for k, taps in enumerate(info.state_taps):
        if need_st[k]:
            new_in.extend(inner_in[pos:pos + len(taps)])
            new_inits.append(inits[k])
            st_taps.append(taps)
            keep.append(info.keep[k])
        pos += len(taps)
    new_opaque = []
    for k in range(info.n_opaque):
        if need_op[k]:
            new_in.append(inner_in[pos])
            new_opaque.append(opaque[k])
        pos += 1
    new_ns = []
    for k in range(info.n_nonseq):
        if keep_ns[k]:
            new_in.append(inner_in[pos])
            new_ns.append(nonseqs[k])
        pos += 1
    outs = op.inner_outputs
    n_st, n_nit = info.n_states, info.n_nitsot
    new_out = [outs[k] for k in range(n_st) if need_st[k]]
    new_out += [outs[n_st + k] for k in range(n_nit) if need_nit[k]]
    new_out += [outs[n_st + n_nit + k] for k in range(info.n_opaque) if need_op[k]]
    if info.as_while:
        new_out.append(outs[-1])
    new_info = info.replace(seq_taps=new_taps, state_taps=st_taps, keep=keep,
                            n_nitsot=sum(need_nit), n_opaque=len(new_opaque), n_nonseq=len(new_ns))
    new_node = Scan(new_in, new_out, new_info).make_node(n, *(new_seqs + new_inits + new_opaque + new_ns))
    it = iter(new_node.outputs)
    flags = need_st + need_nit + need_op
    return [next(it) if f else None for f in flags]


# ----------------------------------------------------------------------------
# Moving work out of the loop
# ----------------------------------------------------------------------------
def _seq_row_source(op, seqs, n):
    """Per sequence placeholder: the outer rows it takes, one per step (``s[off:off + n]``)."""
    rows = []
    for s, (_span, offs) in zip(seqs, op.info.seq_offsets()):
        for off in offs:
            rows.append((s, off))
    return rows


def _shapes_from_inputs(outputs, inner_inputs):
    """Replace ``shape(x)`` / ``shape_i(x)`` of computed ``x`` by the shape its op infers.

    The gradient of a broadcasting op reads the shape of its operands; inside a
    loop body that would keep alive (and recompute every step) a product whose
    value is never used. Returns a replacement map (empty if nothing applies).
    """

    nodes = io_toposort(list(inner_inputs), list(outputs))
    users = {}
    for node in nodes:
        for i in node.inputs:
            users.setdefault(i, []).append(node)
    out_set = set(outputs)
    memo = {}
    for node in nodes:
        if not isinstance(node.op, (Shape, ShapeI)):
            continue
        x = node.inputs[0]
        src = x.owner
        if src is None or x in out_set:
            continue
        if not all(isinstance(u.op, (Shape, ShapeI)) for u in users.get(x, ())):
            continue
        if not all(isinstance(i.type, TensorType) for i in src.inputs):
            continue
        try:
            in_shapes = [tuple(shape_i(i, d) for d in range(i.ndim)) for i in src.inputs]
            shp = src.op.infer_shape(None, src, in_shapes)[src.outputs.index(x)]
        except Exception:  # noqa: BLE001 - an op without a usable shape rule is left alone
            continue
        entries = [cast(as_tensor_variable(e), "int64") for e in shp]
        if isinstance(node.op, Shape):
            new = make_vector(*entries)
        else:
            new = entries[node.op.i]
        if new.type != node.outputs[0].type:
            continue
        memo[node.outputs[0]] = new
    return memo


def _classify(op, outputs):
    """Kind of every inner variable: 0 constant, 1 loop-invariant, 2 per-step from
    sequences and invariants only, 3 depends on a state or opaque value."""

    seq_ph, state_ph, opaque_ph, ns_ph = op.split_inner_inputs()
    kind = {}
    for v in ns_ph:
        kind[v] = 1
    for v in seq_ph:
        kind[v] = 2
    for v in list(state_ph) + list(opaque_ph):
        kind[v] = 3
    nodes = io_toposort(list(op.inner_inputs), list(outputs))
    for node in nodes:
        k = 0
        for i in node.inputs:
            k = max(k, kind.get(i, 3 if i.owner is None and not isinstance(i, Constant) else 0))
        pure = (all(isinstance(o.type, TensorType) for o in node.outputs)
                and not getattr(node.op, "destroy_map", None)
                and not (isinstance(node.op, Scan) and node.op.info.n_opaque))
        if not pure:
            k = 3
        for o in node.outputs:
            kind[o] = k
    return kind, nodes


@node_rewriter("canonicalize", tags=("fast_run",), tracks=(Scan,))
def scan_push_out(fgraph, node):
    """Compute loop-invariant work once, before the loop.

    * A result of the body that depends only on non-sequences (``W.T``, a cast,
      a broadcast) becomes a new non-sequence, computed once outside.
    * ``dot(x_t, M)`` with ``x_t`` a sequence row and ``M`` loop-invariant becomes
      a new sequence, computed for all steps by one product over the stacked
      rows (``X @ M``) instead of one small product per step.
    * ``shape(v)`` of a computed ``v`` is rebuilt from the shapes of ``v``'s
      inputs, so that ``v`` is not computed only for its shape.
    """

    op = node.op
    info = op.info
    n, *outer = node.inputs
    seqs, inits, opaque, nonseqs = op.split_inputs(outer)
    seq_ph, state_ph, opaque_ph, ns_ph = op.split_inner_inputs()
    outs = list(op.inner_outputs)
    shape_memo = _shapes_from_inputs(outs, op.inner_inputs)
    if shape_memo:
        equiv = clone_get_equiv([], outs, memo=shape_memo, copy_inputs=False)
        outs = [equiv.get(o, o) for o in outs]
    kind, nodes = _classify(op, outs)
    users = {}
    for nd in nodes:
        for i in nd.inputs:
            users.setdefault(i, []).append(nd)
    out_set = set(outs)
    to_outer = dict(zip(ns_ph, nonseqs))
    row_src = dict(zip(seq_ph, _seq_row_source(op, seqs, n)))
    hoisted_ns = []   # (inner variable, outer value)
    hoisted_seq = []  # (inner variable, outer stacked value)
    for nd in nodes:
        for o in nd.outputs:
            k = kind[o]
            if k == 1 and isinstance(o.type, TensorType):
                # an invariant feeding per-step work (or returned) is computed outside
                if o in out_set or any(kind[u.outputs[0]] >= 2 for u in users.get(o, ())):
                    hoisted_ns.append(o)
            elif (k == 2 and not info.as_while and isinstance(nd.op, Dot)
                  and nd.inputs[0] in row_src and kind.get(nd.inputs[1], 0) <= 1):
                hoisted_seq.append(o)
    if not hoisted_ns and not hoisted_seq and not shape_memo:
        return None
    outer_equiv = clone_get_equiv([], hoisted_ns + [nd.inputs[1] for nd in
                                                    (o.owner for o in hoisted_seq)],
                                  memo=dict(to_outer), copy_inputs=False)
    new_seq_ph, new_seqs, new_ns_ph, new_ns, memo = [], [], [], [], {}
    for o in hoisted_seq:
        x, m = o.owner.inputs
        s, off = row_src[x]
        rows = s[off:off + n] if off else s[:n]
        stacked = dot(rows, outer_equiv.get(m, m))
        if stacked.ndim != o.ndim + 1 or stacked.dtype != o.dtype:
            continue
        ph = o.type()
        memo[o] = ph
        new_seq_ph.append(ph)
        new_seqs.append(stacked)
    for o in hoisted_ns:
        ph = o.type()
        memo[o] = ph
        new_ns_ph.append(ph)
        new_ns.append(outer_equiv[o])
    if not memo and not shape_memo:
        return None
    equiv = clone_get_equiv([], outs, memo=memo, copy_inputs=False)
    new_outs = [equiv.get(o, o) for o in outs]
    new_in = (list(seq_ph) + new_seq_ph + list(state_ph) + list(opaque_ph) + list(ns_ph)
              + new_ns_ph)
    new_info = info.replace(seq_taps=info.seq_taps + ((0,),) * len(new_seqs),
                            n_nonseq=info.n_nonseq + len(new_ns))
    new_node = Scan(new_in, new_outs, new_info).make_node(
        n, *(seqs + new_seqs + inits + opaque + nonseqs + new_ns))
    return list(new_node.outputs)


def _transposed(v):
    """``x`` if ``v`` is ``x.T`` of a matrix ``x``, else None."""

    nd = v.owner
    if nd is not None and isinstance(nd.op, DimShuffle) and v.ndim == 2 \
            and tuple(nd.op.new_order) == (1, 0):
        return nd.inputs[0]
    return None


def _sum_of_products(g):
    """(A, B, transposed) when ``g`` is ``A.T @ B`` or ``(A.T @ B).T`` of matrices."""

    t = False
    inner = _transposed(g)
    if inner is not None:
        g, t = inner, True
    nd = g.owner
    if nd is None or not isinstance(nd.op, Dot) or g.ndim != 2:
        return None
    a = _transposed(nd.inputs[0])
    b = nd.inputs[1]
    if a is None or b.ndim != 2:
        return None
    return a, b, t


@node_rewriter("canonicalize", tags=("fast_run",), tracks=(Scan,))
def scan_sum_accumulators(fgraph, node):
    """An accumulator ``acc_t = acc_{t-1} + A_tᵀ B_t`` becomes one product after the loop.

    The loop returns the rows ``A_t`` and ``B_t`` (or reads them from a
    sequence it already has), and ``acc_0 + Σ_t A_tᵀ B_t`` is computed once as
    ``(A_1..A_n stacked)ᵀ @ (B_1..B_n stacked)``: one large product in place of
    one small product and one addition per step. This is the weight gradient of
    backpropagation through time. Only states that are accumulated and nothing
    else (not kept, one tap, read by nothing but their own update) qualify.
    """

    op = node.op
    info = op.info
    if info.as_while:
        return None
    n, *outer = node.inputs
    seqs, inits, opaque, nonseqs = op.split_inputs(outer)
    seq_ph, state_ph, opaque_ph, ns_ph = op.split_inner_inputs()
    outs = list(op.inner_outputs)
    nodes = io_toposort(list(op.inner_inputs), outs)
    n_users = {}
    for nd in nodes:
        for i in nd.inputs:
            n_users[i] = n_users.get(i, 0) + 1
    for o in outs:
        n_users[o] = n_users.get(o, 0) + 1
    row_src = dict(zip(seq_ph, _seq_row_source(op, seqs, n)))
    found = {}
    pos = 0
    for k, taps in enumerate(info.state_taps):
        ph = state_ph[pos]
        pos += len(taps)
        if info.keep[k] or taps != (-1,) or n_users.get(ph, 0) != 1:
            continue
        o = outs[k]
        if not is_op(o, "add") or len(o.owner.inputs) != 2 or ph not in o.owner.inputs:
            continue
        g = o.owner.inputs[1] if o.owner.inputs[0] is ph else o.owner.inputs[0]
        if g is ph or g.type.shape != ph.type.shape or g.dtype != ph.dtype:
            continue
        parts = _sum_of_products(g)
        if parts is None or any(p.dtype != ph.dtype for p in parts[:2]):
            continue
        found[k] = parts
    if not found:
        return None
    # new loop: the accumulators go, their factors come out as per-step rows
    keep_st = [k not in found for k in range(info.n_states)]
    new_in = list(seq_ph)
    pos = 0
    new_st_taps, new_keep, new_inits = [], [], []
    for k, taps in enumerate(info.state_taps):
        if keep_st[k]:
            new_in.extend(state_ph[pos:pos + len(taps)])
            new_st_taps.append(taps)
            new_keep.append(info.keep[k])
            new_inits.append(inits[k])
        pos += len(taps)
    new_in += list(opaque_ph) + list(ns_ph)
    n_st, n_nit = info.n_states, info.n_nitsot
    new_out = [outs[k] for k in range(n_st) if keep_st[k]]
    new_out += outs[n_st:n_st + n_nit]
    extra = []  # factors the loop must return as rows
    for a, b, _t in found.values():
        for f in (a, b):
            if f not in row_src and f not in extra:
                extra.append(f)
    new_out += extra
    new_out += outs[n_st + n_nit:]
    new_info = info.replace(state_taps=new_st_taps, keep=new_keep, n_nitsot=n_nit + len(extra))
    new_node = Scan(new_in, new_out, new_info).make_node(
        n, *(seqs + new_inits + opaque + nonseqs))
    st_out = iter(new_node.outputs[:len(new_inits)])
    nit_out = new_node.outputs[len(new_inits):len(new_inits) + n_nit + len(extra)]
    rest = new_node.outputs[len(new_inits) + n_nit + len(extra):]

    def stacked(f):
        if f in row_src:
            s, off = row_src[f]
            return s[off:off + n] if off else s[:n]
        return nit_out[n_nit + extra.index(f)]

    result = []
    for k in range(n_st):
        if k not in found:
            result.append(next(st_out))
            continue
        a, b, t = found[k]
        # rows of all steps side by side: (n * rows, cols); BLAS reads the transposes in place
        a2, b2 = (reshape(x, (-1, shape_i(x, 2))) for x in (stacked(a), stacked(b)))
        total = T.dot(b2.T, a2) if t else T.dot(a2.T, b2)
        new = inits[k] + T.expand_dims(total, 0)
        if new.dtype != node.outputs[k].dtype:
            new = T.cast(new, node.outputs[k].dtype)
        result.append(new)
    result += list(nit_out[:n_nit]) + list(rest)
    return result
