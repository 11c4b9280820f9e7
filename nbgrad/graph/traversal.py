"""Walking graphs: ancestors, topological order, graph inputs."""

__all__ = ["ancestors", "graph_inputs", "io_toposort", "applys_between", "variables"]


def ancestors(outputs, blockers=()):
    """All variables that ``outputs`` depend on (outputs included), stopping at ``blockers``."""
    blockers = set(blockers)  # variables hash by identity
    seen = {}
    stack = list(outputs)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen[v] = None
        node = v.owner
        if node is not None and v not in blockers:
            stack.extend(node.inputs)
    return list(seen)


def graph_inputs(outputs, blockers=()):
    """The ownerless variables (or blockers) that ``outputs`` depend on, in order found."""
    bl = set(map(id, blockers))
    return [v for v in _dfs_vars(outputs, bl) if v.owner is None or id(v) in bl]


def _dfs_vars(outputs, blockers):
    order, seen = [], set()
    stack = [(v, False) for v in reversed(list(outputs))]
    while stack:
        v, done = stack.pop()
        if done:
            order.append(v)
            continue
        if id(v) in seen:
            continue
        seen.add(id(v))
        stack.append((v, True))
        if v.owner is not None and id(v) not in blockers:
            stack.extend((i, False) for i in reversed(v.owner.inputs))
    return order


def io_toposort(inputs, outputs):
    """Apply nodes between ``inputs`` and ``outputs`` in an order where each comes after its inputs' owners.

    Depth first, inputs left to right, from an explicit stack (graphs of any depth);
    each node is pushed once, so the walk is linear in the graph.
    """
    blockers = set(inputs)  # variables hash by identity
    order, seen = [], set()
    add_seen = seen.add
    for o in outputs:
        node = o.owner
        if node is None or o in blockers or node in seen:
            continue
        add_seen(node)
        # the path from ``o`` down, and for each node on it the inputs not yet looked at
        # (two lists rather than one of pairs: no tuple per node)
        nodes, pending = [node], [iter(node.inputs)]
        while nodes:
            for i in pending[-1]:
                p = i.owner
                if p is not None and p not in seen and i not in blockers:
                    add_seen(p)
                    nodes.append(p)
                    pending.append(iter(p.inputs))
                    break
            else:
                pending.pop()
                order.append(nodes.pop())
    return order


def applys_between(inputs, outputs):
    return io_toposort(inputs, outputs)


def variables(inputs, outputs):
    """All variables between inputs and outputs, inputs first."""
    return _dfs_vars(outputs, set(map(id, inputs)))
