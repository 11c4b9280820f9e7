"""Walking graphs: ancestors, topological order, graph inputs."""

__all__ = ["ancestors", "graph_inputs", "io_toposort", "applys_between", "variables"]


def ancestors(outputs, blockers=()):
    """All variables that ``outputs`` depend on (outputs included), stopping at ``blockers``."""
    blockers = set(map(id, blockers))
    seen = {}
    stack = list(outputs)
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen[id(v)] = v
        if v.owner is not None and id(v) not in blockers:
            stack.extend(v.owner.inputs)
    return list(seen.values())


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
    """Apply nodes between ``inputs`` and ``outputs`` in an order where each comes after its inputs' owners."""
    blockers = set(map(id, inputs))
    nodes, seen = [], set()
    for v in _dfs_vars(outputs, blockers):
        node = v.owner
        if node is not None and id(v) not in blockers and id(node) not in seen:
            seen.add(id(node))
            nodes.append(node)
    return nodes


def applys_between(inputs, outputs):
    return io_toposort(inputs, outputs)


def variables(inputs, outputs):
    """All variables between inputs and outputs, inputs first."""
    return _dfs_vars(outputs, set(map(id, inputs)))
