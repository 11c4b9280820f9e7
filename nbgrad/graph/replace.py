"""Cloning graphs and substituting variables."""

from nbgrad.graph.traversal import io_toposort

__all__ = ["clone_replace", "clone_get_equiv", "clone_in_order", "graph_replace"]


def clone_get_equiv(inputs, outputs, memo=None, copy_inputs=True):
    """Clone the graph between ``inputs`` and ``outputs``.

    Returns a dict mapping every original variable and Apply node to its copy.
    ``memo`` may pre-map variables to replacements; nodes are rebuilt through
    ``make_node`` only where an input changed type, else copied structurally.
    """
    return clone_in_order(inputs, outputs, memo, copy_inputs)[0]


def clone_in_order(inputs, outputs, memo=None, copy_inputs=True):
    """``(equiv, order)``: ``clone_get_equiv``'s map, and the copied nodes in topological
    order when that order is the copy's own ``io_toposort`` (no ``memo``, inputs not
    copied, every node copied as it was), else None."""
    equiv = dict(memo or {})
    for v in inputs:
        if v not in equiv:
            equiv[v] = v.clone() if copy_inputs else v
    get = equiv.get
    # without a memo or copied inputs, each new input is an original input or constant, or
    # the copy of a node's output, of its type: no node is made again through ``make_node``
    order = [] if not memo and not copy_inputs else None
    for node in io_toposort(list(equiv), outputs):
        inputs = node.inputs
        new_inputs = [get(i, i) for i in inputs]
        if order is not None or _same_types(new_inputs, inputs):
            new_node = node.structural_copy(new_inputs)
            if order is not None:
                order.append(new_node)
        else:
            new_node = node.clone_with_new_inputs(new_inputs)
            order = None  # make_node may have built other nodes too
        equiv[node] = new_node
        for o, no in zip(node.outputs, new_node.outputs):
            if o not in equiv:
                equiv[o] = no
    return equiv, order


def _same_types(new_inputs, inputs):
    """Whether each new input has its original's type (a copy shares its original's type
    object: types are compared by value only where they are not the same object)."""
    for a, b in zip(new_inputs, inputs):
        if a.type is not b.type and a.type != b.type:
            return False
    return True


def clone_replace(outputs, replace=None):
    """Copies of ``outputs`` in which each key of ``replace`` is replaced by its value.

    Parts of the graph that do not depend on a replaced variable are shared,
    not copied. ``outputs`` may be one variable or a list.
    """
    single = not isinstance(outputs, (list, tuple))
    outs = [outputs] if single else list(outputs)
    replace = dict(replace or {})
    if isinstance(replace, (list, tuple)):
        replace = dict(replace)
    for old, new in replace.items():
        if old.type != new.type and not _compatible(old.type, new.type):
            raise TypeError(
                f"cannot replace {old} of type {old.type} by {new} of type {new.type}: "
                "the types differ (cast the replacement or give a variable of the same type)"
            )
    equiv = dict(replace)
    for node in io_toposort(list(replace), outs):
        new_inputs = [equiv.get(i, i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        if all(a.type == b.type for a, b in zip(new_inputs, node.inputs)):
            new_node = node.structural_copy(new_inputs)
        else:
            new_node = node.clone_with_new_inputs(new_inputs)
        for o, no in zip(node.outputs, new_node.outputs):
            equiv[o] = no
    res = [equiv.get(o, o) for o in outs]
    return res[0] if single else res


def _compatible(t_old, t_new):
    f = getattr(t_old, "is_compatible", None)
    return f is not None and f(t_new)


graph_replace = clone_replace
