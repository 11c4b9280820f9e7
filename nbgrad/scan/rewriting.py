"""Scan rewrites: drop the loop outputs that nothing uses.

A reverse-mode loop computes the gradient of every input of the forward loop;
a compiled function usually needs only some of them. ``scan_prune_outputs``
rebuilds a Scan node without the unused outputs, the recurrent states that
only feed them, and the sequences and non-sequences that become unused, so the
inner function does only the work that is asked for.
"""

from nbgrad.graph.traversal import ancestors
from nbgrad.rewriting.db import node_rewriter
from nbgrad.scan.op import Scan

__all__ = ["scan_prune_outputs", "needed_parts"]


def needed_parts(op, used):
    """Which states, nitsots and opaque states must be computed, given used outer outputs.

    A state whose outer output is unused is still needed when a needed inner
    output reads one of its taps. Returns three lists of bools and the set of
    inner inputs read.
    """
    info = op.info
    n_st, n_nit, n_op = info.n_states, info.n_nitsot, info.n_opaque
    need_st = list(used[:n_st])
    need_nit = list(used[n_st:n_st + n_nit])
    need_op = list(used[n_st + n_nit:n_st + n_nit + n_op])
    n_seq_ph = sum(len(t) for t in info.seq_taps)
    st_ph, pos = [], n_seq_ph
    for taps in info.state_taps:
        st_ph.append(op.inner_inputs[pos:pos + len(taps)])
        pos += len(taps)
    op_ph = op.inner_inputs[pos:pos + n_op]
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
    seqs, inits, opaque, nonseqs = op._split(outer)
    # sequences and non-sequences that nothing reads
    pos = 0
    keep_seq = []
    for taps in info.seq_taps:
        keep_seq.append(any(p in read for p in inner_in[pos:pos + len(taps)]))
        pos += len(taps)
    n_state_ph = sum(len(t) for t in info.state_taps)
    ns_ph = inner_in[pos + n_state_ph + info.n_opaque:]
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
