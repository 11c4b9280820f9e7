"""Elementwise fusion: connected Elemwise nodes of one loop shape become one Composite node."""

import numpy as np

from nbgrad.graph.basic import Apply, Constant
from nbgrad.graph.replace import clone_replace
from nbgrad.graph.traversal import io_toposort
from nbgrad.rewriting.db import graph_rewriter
from nbgrad.rewriting.driver import replace_node
from nbgrad.scalar.composite import Composite
from nbgrad.tensor.elemwise import Elemwise
from nbgrad.tensor.type import TensorType
from nbgrad.tensor.variable import TensorConstant


def _fusable(node):
    return type(node.op) is Elemwise


#: Most nodes fused into one Composite. A longer chain becomes several kernels, each fed by
#: the one before: the generated source of one kernel, and the time to build and compile
#: it, stay bounded (a 10⁵-deep chain is 196 kernels of 512 operations, not one of 10⁵).
MAX_FUSED = 512


def _cluster(fgraph, root):
    """Nodes fused with ``root``: producers used only inside the cluster, with root's loop shape
    (at most ``MAX_FUSED``)."""
    bc = root.outputs[0].type.broadcastable
    apply_nodes, clients = fgraph.apply_nodes, fgraph.clients
    members = {root}
    stack = [root]
    while stack and len(members) < MAX_FUSED:
        node = stack.pop()
        found = []
        for v in node.inputs:
            p = v.owner
            if p is None or p in members or type(p.op) is not Elemwise or p not in apply_nodes:
                continue
            if v.type.broadcastable != bc:
                continue
            # every use inside the cluster (a graph output, "output", is never a member);
            # most values have the one use by ``node``, a member: no scan for them
            uses = clients.get(v, ())
            if len(uses) != 1 or next(iter(uses))[0] is not node:
                if any(c not in members for c, _ in uses):
                    continue
            members.add(p)
            found.append(p)
            if len(members) >= MAX_FUSED:
                break
        if len(found) == 2:
            # the producer computed from fewer values is taken up first (pushed last): a side
            # branch of a chain (``1 - y²`` beside the running product of a gradient, a term
            # beside the running sum) is fused whole before the chain goes on, so that a
            # cluster cut at MAX_FUSED leaves no branch behind half fused (stable: of two
            # alike, the first found is pushed first)
            a, b = found
            if _computed_values(a) < _computed_values(b):
                found.reverse()
        elif len(found) > 2:
            found.sort(key=_computed_values, reverse=True)
        stack.extend(found)
    return members


def _computed_values(node):
    """How many of ``node``'s operands are computed (have an owner)."""
    owners = [v.owner for v in node.inputs]
    return len(owners) - owners.count(None)


def _recomputed(fgraph, members):
    """Cheap one-argument producers of the cluster's inputs, to compute again inside it.

    A cluster that reads both ``x`` and ``f(x)`` (``f`` a cheap one-argument op, such as
    ``neg``, used elsewhere too) reads ``x`` alone and computes ``f(x)`` itself: one
    input fewer for one cheap call, and the kernel sees the two related, so that
    ``log σ(−z)`` and ``log σ(z)`` share their common steps (``cpu_kernels._Steps``). The
    node of ``f(x)`` stays for its other clients, and is fused with them once this
    cluster no longer reads it.
    """
    bc = next(iter(members)).outputs[0].type.broadcastable
    read = {v for nd in members for v in nd.inputs if v.owner not in members}
    extra = []
    for v in read:
        p = v.owner
        if p is None or not _fusable(p) or len(p.inputs) != 1 or not p.op.scalar_op.cheap:
            continue
        if v.type.broadcastable != bc or p.inputs[0] not in read or p not in fgraph.apply_nodes:
            continue
        extra.append(p)
    return extra


class _InnerTypes(dict):
    """The 0-d TensorType of each dtype, made once per sweep (every inner variable has one)."""

    def __missing__(self, dtype):
        t = self[dtype] = TensorType(dtype, ())
        return t


def _inner_constant(c, types):
    return TensorConstant(types[c.dtype], np.asarray(c.data).reshape(()))


def _inner_node(op, inputs, out_type):
    """``op`` applied to 0-d inner ``inputs``, giving a variable of ``out_type``: what
    ``op.make_node`` gives for operands of one shape, without its checks (the outer node it
    stands for passed them, and its result has the same dtype)."""
    return Apply(op, inputs, [out_type()]).outputs[0]


@graph_rewriter("fusion", tags=("fast_run", "fusion"))
def fuse_elemwise(fgraph):
    """Replace each maximal group of two or more fusable Elemwise nodes by one Composite node."""
    n, recomputed = _fuse_sweep(fgraph)
    if recomputed:  # a node computed again in a cluster may now fuse with its other clients
        n += _fuse_sweep(fgraph)[0]
    return n


def _fuse_sweep(fgraph):
    """One pass of ``fuse_elemwise``: ``(clusters fused, whether a node was computed again)``."""
    done = set()
    n = 0
    recomputed = False
    topo = fgraph.toposort()
    position = {nd: k for k, nd in enumerate(topo)}
    types = _InnerTypes()
    for root in reversed(topo):
        if root in done or root not in fgraph.apply_nodes or not _fusable(root):
            continue
        members = _cluster(fgraph, root)
        done |= members
        if len(members) < 2:
            continue
        again = _recomputed(fgraph, members)
        members.update(again)
        recomputed = recomputed or bool(again)
        nodes = sorted(members, key=position.__getitem__)  # inputs first
        if any(isinstance(nd.op.scalar_op, Composite) for nd in nodes):
            comp, outer = _composite_of_graph(nodes, root, types)
        else:
            comp, outer = _composite_of_steps(nodes, root, members)
        if comp is None:
            continue
        new = Elemwise(comp)(*outer)
        if new.type.broadcastable != root.outputs[0].type.broadcastable:
            continue
        replace_node(fgraph, root, [new], "fuse_elemwise")
        n += 1
    return n, recomputed


def _composite_of_graph(nodes, root, types):
    """``(Composite, its outer inputs)`` of the cluster ``nodes`` (inputs first) whose result
    is ``root``'s, from its inner graph: the members that are Composites are written in
    (``(None, [])`` for a cluster that reads no variable)."""
    # one pass, inputs first: a member's operand is an earlier member's result (already
    # in ``inner_of``), a one-element constant (written in), or an input of the kernel
    outer, inner_of, inner_inputs = [], {}, []
    traces = []
    lifted = {}  # one Elemwise op per scalar op of this cluster
    for nd in nodes:
        ins = []
        for v in nd.inputs:
            iv = inner_of.get(v)
            if iv is None:
                if isinstance(v, Constant) and np.size(v.data) == 1:
                    iv = _inner_constant(v, types)
                else:
                    iv = types[v.dtype]()
                    inner_inputs.append(iv)
                    outer.append(v)
                inner_of[v] = iv
            ins.append(iv)
        sop = nd.op.scalar_op
        if isinstance(sop, Composite):
            res = clone_replace(sop.outputs[0], dict(zip(sop.inputs, ins)))
            traces.extend(sop.traces)
        else:
            op = lifted.get(id(sop))
            if op is None:
                op = lifted[id(sop)] = Elemwise(sop)
            res = _inner_node(op, ins, types[nd.outputs[0].dtype])
        inner_of[nd.outputs[0]] = res
        traces.append(getattr(nd.tag, "trace", None))
    if not outer:
        return None, outer
    return Composite(inner_inputs, [inner_of[root.outputs[0]]], traces=traces), outer


def _composite_of_steps(nodes, root, members):
    """``_composite_of_graph`` for a cluster without Composites, made from its steps
    (``Composite.from_steps``) without an inner graph: the same op.

    The kernel's inputs and constants are numbered as met, inputs first (``nodes``' order);
    its steps follow the order ``io_toposort`` gives the inner graph's nodes: depth first
    from the result, operands left to right.
    """
    ref = {}  # operand -> its reference (kernel inputs, constants; members' results once made)
    outer, constants, traces = [], [], []
    for nd in nodes:
        for v in nd.inputs:
            if v.owner in members or v in ref:
                continue
            if isinstance(v, Constant) and np.size(v.data) == 1:
                ref[v] = None  # numbered after the inputs, below
                constants.append(v)
            else:
                ref[v] = len(outer)
                outer.append(v)
        traces.append(getattr(nd.tag, "trace", None))
    if not outer:
        return None, outer
    for k, c in enumerate(constants, len(outer)):
        ref[c] = k
    steps = []
    # the members, in the order io_toposort gives the inner graph (the kernel's inputs and
    # constants stop the walk; every other operand is a member's result)
    for nd in io_toposort(outer + constants, root.outputs):
        out = nd.outputs[0]
        ref[out] = -1 - len(steps)
        steps.append((nd.op.scalar_op, out.dtype, tuple([ref[v] for v in nd.inputs])))
    return Composite.from_steps([v.dtype for v in outer], [(c.data, c.dtype) for c in constants], steps,
                                traces), outer
