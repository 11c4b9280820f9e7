"""Running the selected rewrites over a FunctionGraph, phase by phase.

Node rewrites of a phase run from a work queue seeded with the graph in
topological order; when a rewrite replaces a node, the nodes it created and the
clients of the replaced values are queued again, so a phase reaches its fixed
point in time proportional to the graph plus the changes made.

A rewrite that raises is a bug in that rewrite, not in the user's program: by
default it is reported as a ``RewriteWarning`` naming the rewrite and the node
and skipped (the graph it was looking at is unchanged, so the result stays
correct). ``nbgrad.config.on_rewrite_error = 'raise'`` raises instead.
"""

import warnings
from collections import deque

from nbgrad.config import config
from nbgrad.graph import basic
from nbgrad.graph.basic import traces_set_by_caller
from nbgrad.graph.fg import import_order, without_cyclic_gc
from nbgrad.rewriting.db import SWAP_INPUTS, db, get_mode, report
from nbgrad.rewriting.patterns import TreeEdit, chain_interior, chains_remembered, forget_chains

__all__ = ["rewrite_graph", "RewriteWarning", "replace_node"]


class RewriteWarning(UserWarning):
    """A rewrite failed and was skipped."""


def _on_error(rewrite, where, exc):
    if getattr(config, "on_rewrite_error", "warn") == "raise":
        raise
    warnings.warn(
        f"rewrite {rewrite.name} failed on {where} and was skipped: {type(exc).__name__}: {exc}",
        RewriteWarning, stacklevel=4,
    )


def _new_nodes(fgraph, variables):
    """Apply nodes computing ``variables`` that are not yet in ``fgraph``, inputs first."""
    known = fgraph.variables
    return _new_nodes_where(variables, lambda node: node.outputs[0] not in known)


def replace_node(fgraph, node, new_outputs, reason):
    """Replace each output of ``node`` by its entry in ``new_outputs``; return the new nodes.

    New nodes inherit the user trace of the node they replace, so run-time
    errors still point at the line of user code behind them.
    """
    created = _new_nodes(fgraph, [v for v in new_outputs if v is not None])
    trace = getattr(node.tag, "trace", None)
    for n in created:
        n.tag.trace = trace
    for old, new in zip(node.outputs, new_outputs):
        if new is not None and new is not old:
            fgraph.replace(old, new, reason=reason)
    return created


def apply_tree_edit(fgraph, node, edit, reason):
    """Apply ``edit`` (a ``TreeEdit`` of the tree under ``node``'s output); return the nodes
    that a replacement of the root by the rebuilt tree would have created, in the order of
    ``replace_node``: the kept vertices among them.

    Besides the changed operands, what a rebuilt copy would have differently is given to
    each kept vertex: its output's ``auto_name``, the trace of ``node``, and the place of
    its uses in its operands' client lists (at the end, in the order the copies would have
    joined the graph).
    """
    kept = {n for n, _ in edit.kept}
    fresh = set()  # the nodes built anew (not yet in the graph)
    for _, v in edit.replaced:
        fresh.update(_new_nodes(fgraph, [v]))
    for old, v in edit.replaced:
        fgraph.replace(old, v, reason=reason)

    def new(n):
        return n in kept or n in fresh

    result = edit.result
    created = _new_nodes_where([result], new)
    joined = _joining_order(result, new)
    trace = getattr(node.tag, "trace", None)
    for n, name in edit.kept:
        n.outputs[0].auto_name = name
    clients = fgraph.clients
    for n in joined:
        for j, i in enumerate(n.inputs):
            uses = clients[i]
            del uses[(n, j)]
            uses[(n, j)] = None
    for n in created:
        n.tag.trace = trace
    return created


def _new_nodes_where(variables, new):
    """The nodes computing ``variables`` for which ``new`` is true (those not yet in the
    graph), reached through such nodes only, each after those among its inputs' owners."""
    out, seen = [], set()
    stack = [(v, False) for v in variables]
    while stack:
        v, done = stack.pop()
        node = v.owner
        if node is None or node in seen or not new(node):
            continue
        if done:
            seen.add(node)
            out.append(node)
            continue
        stack.append((v, True))
        for i in node.inputs:
            if i.owner is not None and i.owner not in seen and new(i.owner):
                stack.append((i, False))
    return out


def _joining_order(v, new):
    """The order in which ``FunctionGraph.replace`` would add the nodes computing ``v`` to the
    graph (``import_order``), where the nodes not yet in it are those for which ``new`` is
    true."""
    node = v.owner
    if node is None or not new(node):
        return []
    return import_order(node, lambda p, i: new(p))


def swap_node_inputs(fgraph, node, reason):
    """Exchange the two inputs of ``node``, a commutative operation, in place.

    The graph ends as if the node had been rebuilt with its inputs exchanged and put in its
    place (``replace_node``), without building and pruning a node: its output takes a new
    ``auto_name``, the sort key of operands (``commutative_order``, ``merge``) that a rebuilt
    node's output would have had.
    """
    fgraph.swap_inputs(node, reason)
    node.outputs[0].auto_name = f"_{next(basic._ids)}"


class _Dispatch:
    """The rewrites applicable to a node.

    ``by_op`` caches, by (op class, scalar-op class), ``(rewrites, the same without the chain
    and roots-only rewrites or None when there are none, whether some of them read their
    inputs' kinds (``Rewrite.reads``), whether some are chain rewrites)``; ``by_inputs``
    caches, for such op classes and by their inputs' kinds (``_input_kinds``), the first,
    second and fourth for a node with those inputs.
    """

    def __init__(self, rewrites):
        self.rewrites = rewrites
        self.by_op = {}
        self.by_inputs = {}

    def __call__(self, node):
        """(rewrites, rewrites for an inner link of a chain or None, whether some are chain
        rewrites) for ``node``."""
        op = node.op
        key = (type(op), type(getattr(op, "scalar_op", None)))
        rws, unchained, reads, chained = self.by_op.get(key) or self.select(key, op)
        if not reads:
            return rws, unchained, chained
        key = (key, _input_kinds(node.inputs))
        return self.by_inputs.get(key) or self.select_inputs(key, rws)

    def select(self, key, op):
        sop = getattr(op, "scalar_op", None)
        rws = [
            r for r in self.rewrites
            if not r.tracks or any(isinstance(op, t) or (sop is not None and isinstance(sop, t))
                                   for t in r.tracks)
        ]
        sel = self.by_op[key] = (rws, _unchained(rws), any(r.reads for r in rws), any(r.chain for r in rws))
        return sel

    def select_inputs(self, key, rws):
        own, kinds = key
        # a chain rewrite's ``reads`` is about the chain's operands, which are the node's
        # inputs unless an input is computed by the node's own scalar op (a link of the chain)
        linked = any(type(k) is tuple and k[1] is own[1] for k in kinds)
        rws = [r for r in rws
               if not r.reads or (r.chain and linked) or any(_reads(k, t) for k in kinds for t in r.reads)]
        sel = self.by_inputs[key] = (rws, _unchained(rws), any(r.chain for r in rws))
        return sel


def _input_kinds(inputs):
    """What ``Rewrite.reads`` tests of each input: the class of a variable that no node
    computes (a constant, a graph input), else the classes of its node's op and scalar op."""
    kinds = []
    for v in inputs:  # a loop, not map: this runs for most nodes of every phase
        node = v.owner
        if node is None:
            kinds.append(type(v))
        else:
            op = node.op
            kinds.append((type(op), type(getattr(op, "scalar_op", None))))
    return tuple(kinds)


def _reads(kind, cls):
    """True if an input of ``kind`` (see ``_input_kind``) is of the class ``cls`` that a
    rewrite reads: a variable of that class, or computed by an op or scalar op of it."""
    if isinstance(kind, type):
        return issubclass(kind, cls)
    return issubclass(kind[0], cls) or issubclass(kind[1], cls)


def _unchained(rws):
    """The rewrites to try on an inner link of a chain (``chain_interior``), or None when
    they are all of ``rws``."""
    if not any(r.chain or r.roots_only for r in rws):
        return None
    return [r for r in rws if not (r.chain or r.roots_only)]


def _chain_roots(fgraph, interior):
    """The roots of the chains through the ``interior`` nodes, each chain walked once."""
    roots, seen = [], set()
    for node in interior:
        while node in fgraph.apply_nodes and node not in seen:
            seen.add(node)
            if not chain_interior(fgraph, node):
                roots.append(node)
                break
            node = next(iter(fgraph.clients[node.outputs[0]]))[0]
    return roots


def _run_node_phase(fgraph, rewrites, applied, verbose):
    dispatch = _Dispatch(rewrites)
    by_op, by_inputs = dispatch.by_op, dispatch.by_inputs
    apply_nodes = fgraph.apply_nodes
    queue = deque(fgraph.toposort())
    queued = set(queue)
    # inner links of a chain that changed after their chain's root was rewritten: their
    # roots are queued once the queue is empty (one walk up each chain, however many
    # links changed)
    stale_links = []
    moved = {}  # node: how many of its entries in ``queue`` are to be passed over
    budget = 50 * len(queue) + 1000
    while queue or stale_links:
        if not queue:
            for root in _chain_roots(fgraph, stale_links):
                if root not in queued:
                    queue.append(root)
                    queued.add(root)
            stale_links = []
            continue
        node = queue.popleft()
        if moved and node in moved:  # an entry left behind by a vertex kept in place
            if moved[node] == 1:
                del moved[node]
            else:
                moved[node] -= 1
            continue
        queued.discard(node)
        if node not in apply_nodes:
            continue
        op = node.op  # dispatch(node), written out: this runs for every node of every phase
        key = (type(op), type(getattr(op, "scalar_op", None)))
        selected, unchained, reads, chained = by_op.get(key) or dispatch.select(key, op)
        if reads:
            key = (key, _input_kinds(node.inputs))
            selected, unchained, chained = by_inputs.get(key) or dispatch.select_inputs(key, selected)
        if unchained is not None and chain_interior(fgraph, node):
            selected = unchained
            if chained and next(iter(fgraph.clients[node.outputs[0]]))[0] not in queued:  # its one user
                stale_links.append(node)
        for r in selected:
            try:
                new = r.fn(fgraph, node)
            except Exception as exc:  # noqa: BLE001 - reported, see module docstring
                _on_error(r, node, exc)
                continue
            if not new:
                continue
            if new is SWAP_INPUTS:
                forget_chains()
                before = str(node) if verbose else None
                try:
                    swap_node_inputs(fgraph, node, r.name)
                except Exception as exc:  # noqa: BLE001
                    _on_error(r, node, exc)
                    continue
                created = [node]
                new = node.outputs
                applied.append(r.name)
                if verbose:
                    report(r.name, before, ", ".join(map(str, new)))
            elif type(new) is TreeEdit:
                forget_chains()
                before = str(node) if verbose else None
                try:
                    created = apply_tree_edit(fgraph, node, new, r.name)
                except Exception as exc:  # noqa: BLE001
                    _on_error(r, node, exc)
                    continue
                # a kept vertex takes the place in the queue that its rebuilt copy would have:
                # the last; an earlier entry of it is passed over (``moved``)
                for n, _ in new.kept:
                    if n in queued:
                        moved[n] = moved.get(n, 0) + 1
                        queued.discard(n)
                if stale_links:
                    kept = {n for n, _ in new.kept}
                    stale_links = [n for n in stale_links if n not in kept]
                new = [new.result]
                applied.append(r.name)
                if verbose:
                    report(r.name, before, ", ".join(map(str, new)))
            elif all(n is o for n, o in zip(new, node.outputs)):
                continue
            else:
                forget_chains()
                try:
                    created = replace_node(fgraph, node, new, r.name)
                except Exception as exc:  # noqa: BLE001
                    _on_error(r, node, exc)
                    continue
                applied.append(r.name)
                if verbose:
                    report(r.name, node, ", ".join(map(str, new)))
            budget -= 1
            if budget < 0:
                warnings.warn("rewriting stopped: too many replacements (a rewrite cycle?)",
                              RewriteWarning, stacklevel=3)
                return
            touched = list(created)
            for v in new:
                if v is not None:
                    users = [c for c, _ in fgraph.clients.get(v, ()) if c != "output"]
                    touched.extend(users)
                    # and their users: patterns read two levels down (log1p(-sigmoid(x))
                    # once sigmoid(x) is made under the negation)
                    for u in users:
                        for o in u.outputs:
                            touched.extend(c for c, _ in fgraph.clients.get(o, ()) if c != "output")
            for n in touched:
                if n not in queued:
                    queue.append(n)
                    queued.add(n)
            break


def rewrite_graph(fgraph, mode=None):
    """Rewrite ``fgraph`` in place for ``mode``; returns the names of the rewrites that fired.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> from nbgrad.graph.fg import FunctionGraph
    >>> x = T.dscalar("x")
    >>> fg = FunctionGraph([x], [(x * 1) ** 2])
    >>> rewrite_graph(fg, "FAST_RUN")
    ['mul_by_one', 'pow_specialize']
    """
    mode = get_mode(mode)
    # every node a rewrite puts into the graph gets the trace of the node it replaces
    # (replace_node)
    with without_cyclic_gc(), traces_set_by_caller():
        return _rewrite_phases(fgraph, mode)


def _rewrite_phases(fgraph, mode):
    verbose = bool(config.print_rewrites)
    applied = []
    for _phase, rewrites in db.query(mode):
        node_rw = [r for r in rewrites if r.kind == "node"]
        if node_rw:
            with chains_remembered(fgraph):
                _run_node_phase(fgraph, node_rw, applied, verbose)
        for r in rewrites:
            if r.kind != "graph":
                continue
            try:
                n = r.fn(fgraph)
            except Exception as exc:  # noqa: BLE001
                _on_error(r, fgraph, exc)
                continue
            if n:
                applied.append(r.name)
                if verbose:
                    report(r.name, f"{n} change(s)", fgraph)
    return applied
