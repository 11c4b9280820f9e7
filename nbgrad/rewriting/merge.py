"""Merge: identical constants and identical computations become one (CSE)."""

from nbgrad.graph.basic import Constant
from nbgrad.rewriting.db import graph_rewriter


@graph_rewriter("merge", tags=("fast_run",))
def merge(fgraph):
    """Keep one of each constant value and one node per (op, inputs); returns merges made."""
    n = 0
    # equal constants by value; in each group the first made is kept and the others are
    # replaced in the order they were made (groups are independent: no sort of all constants)
    groups = {}
    for c in fgraph.variables:
        if not isinstance(c, Constant):
            continue
        try:
            key = c.signature()
            hash(key)
        except TypeError:
            continue
        groups.setdefault(key, []).append(c)
    for group in groups.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda v: int(v.auto_name[1:]))
        keep = group[0]
        for c in group[1:]:
            if fgraph.clients.get(c):
                fgraph.replace(c, keep, reason="merge")
                n += 1
    seen = {}
    for node in fgraph.toposort():
        if node not in fgraph.apply_nodes:
            continue
        key = (node.op, tuple(node.inputs))
        try:
            other = seen.setdefault(key, node)
        except TypeError:
            continue
        if other is node or other not in fgraph.apply_nodes:
            continue
        for old, new in zip(node.outputs, other.outputs):
            fgraph.replace(old, new, reason="merge")
        n += 1
    return n
