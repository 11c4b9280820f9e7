"""The tape: recording eager calls and running them backwards.

Each call of an eager function on tensors that require a gradient appends a
``Node`` to the graph of tensors: the primitive that ran, its input tensors,
and its outputs. ``backward`` sorts the nodes reachable from the roots
topologically and, from the last to the first, evaluates each node's VJP
primitive on the saved values, summing the contributions per tensor — the
micrograd loop, with the local rule taken from the engine instead of being
written by hand.

Devices: each VJP runs on the device of the node's outputs (compiled for that
backend), so a gradient is always on the device of the tensor it belongs to;
a transfer's VJP copies it back across.
"""

import functools
import weakref

import numpy as np

from nbgrad.eager.device import device_of
from nbgrad.eager.primitive import zeros_for

_ref = weakref.ref

__all__ = [
    "Node", "AccumulateGrad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "run_backward",
    "record",
]


class _GradMode:
    enabled = True


class set_grad_enabled:
    """Context manager (and function) switching gradient recording on or off.

    >>> import nbgrad.eager as ne
    >>> x = ne.tensor([1.0], requires_grad=True)
    >>> with ne.set_grad_enabled(False):
    ...     (x * 2).requires_grad
    False
    """

    def __init__(self, mode):
        self.prev = _GradMode.enabled
        _GradMode.enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _GradMode.enabled = self.prev
        return False


class no_grad:
    """Context manager (or decorator) in which nothing is recorded for gradients.

    Results computed inside have ``requires_grad=False``; in-place updates of
    parameters (``w -= lr * w.grad``) belong here.

    >>> import nbgrad.eager as ne
    >>> w = ne.tensor([1.0, 2.0], requires_grad=True)
    >>> with ne.no_grad():
    ...     y = w * 3
    >>> y.requires_grad
    False
    """

    def __enter__(self):
        self.prev = _GradMode.enabled
        _GradMode.enabled = False
        return self

    def __exit__(self, *exc):
        _GradMode.enabled = self.prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Context manager turning recording back on (e.g. inside ``no_grad``)."""

    def __enter__(self):
        self.prev = _GradMode.enabled
        _GradMode.enabled = True
        return self


def is_grad_enabled():
    """True when eager calls are recorded for gradients."""
    return _GradMode.enabled


class Node:
    """One recorded call: ``prim`` applied to ``inputs`` gave ``outputs``.

    ``versions`` are the version numbers of the inputs and outputs when the
    call was made; ``backward`` compares them with the current ones to detect
    an in-place change of a value that the gradient needs.
    """

    __slots__ = ("prim", "inputs", "out_data", "out_refs", "versions", "freed", "__weakref__")

    def __init__(self, prim, inputs, versions):
        self.prim = prim
        self.inputs = inputs
        self.versions = versions
        self.out_data = None
        self.out_refs = None
        self.freed = False

    def __repr__(self):
        return f"<{self.prim.label} node>"

    def name(self):
        return self.prim.label

    @property
    def next_functions(self):
        """For each input: ``(node, output index)`` of the call that computed it,
        ``(AccumulateGrad, 0)`` for a leaf that requires a gradient, else ``(None, 0)``."""
        out = []
        for t in self.inputs:
            if t._node is not None:
                out.append((t._node, t._index))
            elif t.requires_grad:
                out.append((AccumulateGrad(t), 0))
            else:
                out.append((None, 0))
        return tuple(out)


class AccumulateGrad:
    """Where the gradient of the leaf ``variable`` is summed into its ``.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return "<AccumulateGrad>"

    def name(self):
        return "AccumulateGrad"

    next_functions = ()


def _run_hooks(t, g, wrap):
    """``g`` (an array, or a tensor under ``create_graph``) after ``t``'s hooks."""
    for hook in list(t._hooks.values()):
        is_tensor = hasattr(g, "_node")
        res = hook(g if is_tensor else wrap(g))
        if res is not None:
            if not hasattr(res, "_node"):
                raise TypeError(f"a gradient hook must return a tensor or None, got "
                                f"{type(res).__name__}")
            if tuple(res.shape) != tuple(g.shape):
                raise RuntimeError(f"a gradient hook returned shape {tuple(res.shape)}, expected "
                                   f"the gradient's shape {tuple(g.shape)}")
            g = res if is_tensor else res._data
    return g


def record(prim, tensors, arrays, outs, make_tensor):
    """Wrap output ``outs`` as tensors, recording a Node when a gradient can flow.

    ``make_tensor(array, requires_grad, node, index)`` builds one output.
    """
    if _GradMode.enabled:
        for t in tensors:
            if t.requires_grad:
                return _record(prim, tensors, outs, make_tensor)
    return [make_tensor(a, False, None, 0) for a in outs]


def _record(prim, tensors, outs, make_tensor):
    """``record`` for a call that a gradient flows through: the outputs and their Node."""
    node = Node(prim, tensors, [(t._version, t._version[0]) for t in tensors])
    node.out_data = outs
    versions = node.versions
    if len(outs) == 1:
        r = make_tensor(outs[0], prim.differentiable[0], node, 0)
        versions.append((r._version, 0))
        node.out_refs = [_ref(r)]
        return [r]
    res = [make_tensor(a, d, node, k) for k, (a, d) in enumerate(zip(outs, prim.differentiable))]
    versions += [(r._version, 0) for r in res]
    node.out_refs = [_ref(r) for r in res]
    return res


def _toposort(roots):
    order, seen = [], set()
    for root in roots:
        if root._node is None or id(root._node) in seen:
            continue
        stack = [(root._node, iter(root._node.inputs))]
        seen.add(id(root._node))
        while stack:
            node, it = stack[-1]
            for t in it:
                n = t._node
                if n is not None and id(n) not in seen:
                    seen.add(id(n))
                    stack.append((n, iter(n.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _check_versions(node, uses):
    n_in = len(node.inputs)
    for k, (cell, v) in enumerate(node.versions):
        if cell[0] != v and uses[k]:
            what = f"input {k}" if k < n_in else f"output {k - n_in}"
            t = node.inputs[k] if k < n_in else None
            shape = f" of shape {tuple(t._data.shape)}" if t is not None else ""
            raise RuntimeError(
                f"one of the tensors needed for the gradient has been modified by an in-place "
                f"operation: {what}{shape} of {node.prim.label} is at version {cell[0]}, "
                f"expected version {v}. Compute with a copy (x.clone()) or change the tensor "
                "out of place (x = x + y instead of x += y)"
            )


def run_backward(roots, seeds, retain_graph, create_graph, capture=None, wrap=None):
    """Back-propagate ``seeds`` (one gradient per root) through the tape.

    With ``capture`` (a list of tensors) the gradients of those tensors are
    returned (as a list, None where unreached) and no ``.grad`` is touched;
    otherwise gradients accumulate into the ``.grad`` of the leaves.
    ``wrap(array)`` turns an array into a (constant) tensor for
    ``create_graph``.
    """
    order = _toposort(roots)
    grads = {}
    leaf = {}
    cap = {id(t): i for i, t in enumerate(capture)} if capture is not None else None
    captured = [None] * len(capture) if capture is not None else None

    def add(t, g):
        if t._node is None:
            prev = leaf.get(id(t))
            leaf[id(t)] = (t, g if prev is None else prev[1] + g)
        else:
            key = (id(t._node), t._index)
            old = grads.get(key)
            grads[key] = g if old is None else old + g

    def add_captured(t, g):
        i = cap[id(t)]
        captured[i] = g if captured[i] is None else captured[i] + g

    for r, s in zip(roots, seeds):
        add(r, s)
    for node in reversed(order):
        nid = id(node)
        gouts = [grads.pop((nid, k), None) for k in range(len(node.prim.outputs))]
        if all(g is None for g in gouts):
            continue
        if node.freed:
            raise RuntimeError(
                f"trying to run backward through {node.prim.label} a second time, but its saved "
                "values were freed by the first backward. Pass retain_graph=True to the first "
                "backward() if you need to run it again"
            )
        refs = node.out_refs
        for k, g in enumerate(gouts):
            if g is None:
                continue
            t = refs[k]()
            if t is None:
                continue
            if t._hooks:
                g = gouts[k] = _run_hooks(t, g, wrap)
            if cap is not None and id(t) in cap:
                add_captured(t, g)
            elif cap is None and t._retains_grad:
                _accumulate(t, g, create_graph, wrap)
        needs = [t.requires_grad for t in node.inputs]
        if not any(needs):
            continue
        if node.prim.custom:
            igrads = node.prim.backward(gouts, node.out_data, needs, create_graph, wrap)
            if not retain_graph:
                node.freed = True
                node.out_data = None
            for t, g in zip(node.inputs, igrads):
                if g is not None:
                    add(t, g)
            continue
        vjp = node.prim.vjp(needs)
        _check_versions(node, vjp.uses)
        dgouts = [
            (g if g is not None else zeros_for(a))
            for g, a, d in zip(gouts, node.out_data, node.prim.differentiable) if d
        ]
        if create_graph:
            # lazy: upward: eager.functions builds on the tape; create_graph records the VJP through it
            from nbgrad.eager.functions import apply_primitive

            outs = []
            for k, a in enumerate(node.out_data):
                t = refs[k]()
                outs.append(t if t is not None and t._node is node else wrap(a))
            args = list(node.inputs) + outs + [g if hasattr(g, "_node") else wrap(g) for g in dgouts]
            igrads = apply_primitive(vjp, args)
        else:
            arrays = [t._data for t in node.inputs] + list(node.out_data) + [
                g._data if hasattr(g, "_node") else g for g in dgouts]
            igrads = vjp.run(arrays, device_of(node.out_data[0]))
        if not retain_graph:
            node.freed = True
            node.out_data = None
        it = iter(igrads)
        for t, n in zip(node.inputs, needs):
            if not n:
                continue
            add(t, next(it))
    for t, g in leaf.values():
        if t._hooks:
            g = _run_hooks(t, g, wrap)
        if cap is not None:
            if id(t) in cap:
                add_captured(t, g)
        else:
            _accumulate(t, g, create_graph, wrap)
    return captured


def _accumulate(t, g, create_graph, wrap):
    if not hasattr(g, "_node"):
        # ``.grad`` is changed in place later (``zero_``): it must own writable memory.
        # (CuPy arrays have no ``writeable`` flag; they are always writable.)
        owned = g.base is None and getattr(g.flags, "writeable", True)
        g = wrap(g if owned else g.copy())
    if t.grad is None:
        t.grad = g if create_graph else g.detach()
    elif create_graph:
        t.grad = t.grad + g
    else:
        total = t.grad._data + g._data
        t.grad._set_data(np.asarray(total) if isinstance(total, np.generic) else total)
        t.grad._version[0] += 1
