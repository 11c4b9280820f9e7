"""Rewritten graphs cached by graph structure.

A notebook re-runs its cells, building the same expressions again from new
Variable objects. The key of a FunctionGraph is its structure: input types in
order, every node's op (ops compare by ``__props__``) and which earlier values
it reads, constants by value, the outputs, and the rewrite mode. On a hit the
rewritten graph is copied onto the new graph's inputs instead of rewriting
again.
"""

from collections import OrderedDict

from nbgrad.graph.basic import Constant
from nbgrad.graph.fg import FunctionGraph
from nbgrad.graph.replace import clone_get_equiv

__all__ = ["structure_key", "rewrite_cached", "clear", "enabled", "MAX_ENTRIES"]

#: Set to False to rewrite every graph from scratch (e.g. to time cold compiles).
enabled = True
MAX_ENTRIES = 256
_cache = OrderedDict()


def structure_key(fgraph, mode_key=()):
    """A hashable key equal for structurally identical graphs (None if some op is unhashable)."""
    index = {v: ("in", k, v.type) for k, v in enumerate(fgraph.inputs)}
    items = []
    for n, node in enumerate(fgraph.toposort()):
        args = []
        for i in node.inputs:
            r = index.get(i)
            if r is None:
                if isinstance(i, Constant):
                    r = ("c", i.signature())
                else:
                    return None
                index[i] = r
            args.append(r)
        items.append((node.op, tuple(args)))
        for j, o in enumerate(node.outputs):
            index[o] = ("n", n, j)
    outs = tuple(index.get(o) or ("c", o.signature()) for o in fgraph.outputs)
    key = (tuple(items), outs, mode_key)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def clear():
    _cache.clear()


def rewrite_cached(fgraph, mode, rewrite):
    """``(rewritten graph, rewrites applied)``, from the cache when the structure was seen."""
    key = structure_key(fgraph, getattr(mode, "key", mode)) if enabled else None
    if key is not None:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            done, applied = hit
            equiv = clone_get_equiv(done.inputs, done.outputs,
                                    memo=dict(zip(done.inputs, fgraph.inputs)))
            outs = [equiv.get(o, o) for o in done.outputs]
            new = FunctionGraph(list(fgraph.inputs), outs, clone=False)
            new.history = list(done.history)
            return new, list(applied)
    applied = rewrite(fgraph, mode)
    if key is not None:
        snapshot = FunctionGraph(list(fgraph.inputs), list(fgraph.outputs), clone=True)
        _cache[key] = (snapshot, list(applied))
        if len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    return fgraph, applied
