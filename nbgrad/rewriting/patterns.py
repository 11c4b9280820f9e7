"""Small queries that rewrites share: which op a node applies, constant values, shapes."""

import contextlib
import threading

import numpy as np

from nbgrad.graph import basic
from nbgrad.graph.basic import Constant
from nbgrad.scalar import basic as ps
from nbgrad.tensor.basic import constant
from nbgrad.tensor.elemwise import Elemwise
from nbgrad.tensor.shape import ShapeI
from nbgrad.tensor.type import TensorType

__all__ = ["sop", "is_op", "scalar_const", "same_shape", "only_client", "known_finite",
           "known_nonzero", "known_nonnegative", "dim_key", "dim_var", "neutral_const", "chain_leaves",
           "chain_inner", "chain_interior", "chain_links_below", "tree_leaves", "tree_rebuild", "tree_relink", "TreeEdit",
           "zero_sign_ignored"]

S = ps.scalar_ops  # scalar op classes by name: S["mul"], S["exp"], ...
_MISSING = object()


def sop(node):
    """The scalar op of an Elemwise node, else None."""
    if node is None:
        return None
    op = node.op
    return op.scalar_op if isinstance(op, Elemwise) else None


def is_op(var, name):
    """True if ``var`` is computed by the Elemwise scalar op called ``name``."""
    node = var.owner  # sop(var.owner), written out: rewrites ask this of most nodes they see
    if node is None:
        return False
    op = node.op
    return isinstance(op, Elemwise) and type(op.scalar_op) is S[name]


def scalar_const(var):
    """The value of a constant whose elements are all equal, else None."""
    if not isinstance(var, Constant):
        return None
    # a constant's data never changes: its answer is kept on its tag (rewrites ask it of
    # the same constant many times)
    tag = var.tag
    value = getattr(tag, "_scalar_const", _MISSING)
    if value is _MISSING:
        value = tag._scalar_const = _scalar_value(var.data)
    return value


def _scalar_value(data):
    d = np.asarray(data)
    if d.size == 0:
        return None
    first = d.flat[0]
    if d.size == 1 or (d == first).all():
        return first.item() if hasattr(first, "item") else first
    return None


def _dim_step(var, d):
    """One step of the size rules for axis ``d`` of ``var``: the owner's ``Op.dim_rule``.

    Returns ``("key", key)`` when the key is known without looking further,
    ``("via", other, d2)`` when it equals the key of axis ``d2`` of ``other``,
    ``("entry", s)`` for the integer scalar ``s``, or ``("set", others, d2)``.
    An op without a rule gives its ``infer_shape``'s answer.
    """
    s = var.type.shape[d]
    if s is not None:
        return ("key", s)
    node = var.owner
    if node is None:
        return ("key", ("dim", var, d))
    op = node.op
    first = getattr(op, "shape_inputs_from", None)  # the op's output sizes are inputs from here on
    if first is not None and len(node.inputs) >= first + var.ndim:
        return ("entry", node.inputs[first + d])
    step = op.dim_rule(node, var, d)
    return step if step is not None else _infer_shape_step(var, d)


def _infer_shape_step(var, d):
    """The size step from the op's own ``infer_shape``: where it says that axis ``d`` of
    ``var`` has the size of an input's axis, follow that input; else ``var`` itself."""
    node = var.owner
    infer = getattr(node.op, "infer_shape", None)
    if infer is not None:
        ins = [tuple(ShapeI(i)(inp) for i in range(inp.ndim)) if isinstance(inp.type, TensorType) else ()
               for inp in node.inputs]
        try:
            shapes = infer(None, node, ins)
        except Exception:  # noqa: BLE001 - a rule that needs the graph: no shortcut
            shapes = None
        if shapes is not None:
            size = shapes[node.outputs.index(var)][d]
            if isinstance(size, (int, np.integer)):
                return ("key", int(size))
            if getattr(size, "owner", None) is not None and isinstance(size.owner.op, ShapeI):
                src = size.owner.inputs[0]
                if src in node.inputs:
                    return ("via", src, size.owner.op.i)
    return ("key", ("dim", var, d))


def _dim(var, d):
    """A key for axis ``d``'s size of ``var``: an int, or ('dim', var, d), or ('entry', s).

    Long elementwise chains are followed with a loop, not recursion, and each key is
    remembered on its variable (with the inputs of its owner, so that a rewrite that
    rewires the owner invalidates it): asking again along a chain is constant time, and
    the shape questions of a whole rewrite pass stay linear in the graph.
    """
    key = _memo_get(var, d)
    if key is not _MISSING:
        return key
    # each entry keeps its step once taken: a variable whose operands' keys are missing is
    # met again after them, and its step is not taken twice
    stack = [(var, d, None)]
    while stack:
        v, dd, step = stack[-1]
        if step is None:
            if _memo_get(v, dd) is not _MISSING:
                stack.pop()
                continue
            step = _dim_step(v, dd)
        kind = step[0]
        if kind == "key":
            key = step[1]
        elif kind == "entry":
            key = shape_entry_key(step[1])
        else:
            parts = [(step[1], step[2])] if kind == "via" else [(i, step[2]) for i in step[1]]
            keys = [_memo_get(*p) for p in parts]
            missing = [(*p, None) for p, k in zip(parts, keys) if k is _MISSING]
            if missing:
                stack[-1] = (v, dd, step)
                stack.extend(missing)
                continue
            if kind == "via":
                key = keys[0]
            else:
                # Theano's rule: every operand that is not broadcast there has the
                # result's size, so any of their keys will do; a static one reads best
                key = next((k for k in keys if isinstance(k, int)), keys[0])
        _memo_set(v, dd, key)
        stack.pop()
    return _memo_get(var, d)



def _memo_get(var, d):
    memo = getattr(var.tag, "_dim_memo", None)
    if memo is None:
        return _MISSING
    entry = memo.get(d)
    if entry is None:
        return _MISSING
    inputs, key = entry
    node = var.owner
    if node is not None and (len(inputs) != len(node.inputs)
                             or any(a is not b for a, b in zip(inputs, node.inputs))):
        return _MISSING
    return key


def _memo_set(var, d, key):
    memo = getattr(var.tag, "_dim_memo", None)
    if memo is None:
        memo = var.tag._dim_memo = {}
    node = var.owner
    memo[d] = (tuple(node.inputs) if node is not None else (), key)


def dim_key(var, d):
    return _dim(var, d)


def dim_var(var, d, fgraph=None):
    """A variable for axis ``d``'s size of ``var`` found through the shape rules, or None.

    A constant when the size is static, ``shape_i`` of the variable the size comes
    from (an input of an elementwise chain, the operand of a dot, ...), or the
    ``alloc`` shape argument it was made with. None when nothing simpler is known,
    or (given ``fgraph``) when the variable it would read is no longer in the graph.
    """
    key = _dim(var, d)
    if isinstance(key, int):
        return constant(np.int64(key))
    src = key[1]
    if fgraph is not None and not isinstance(src, Constant) and src not in fgraph.variables:
        return None
    if key[0] == "dim" and (src is not var or key[2] != d):
        return ShapeI(key[2])(src)
    if key[0] == "entry" and src.ndim == 0:
        return src
    return None


def neutral_const(var):
    """The value of a constant that broadcasts without adding size (all axes 1), else None."""
    if not all(s == 1 for s in var.type.shape):
        return None
    return scalar_const(var)


def shape_entry_key(s):
    """The key of an Alloc shape argument (a constant, or ShapeI of some variable)."""
    v = scalar_const(s)
    if v is not None:
        return int(v)
    if s.owner is not None and isinstance(s.owner.op, ShapeI):
        return _dim(s.owner.inputs[0], s.owner.op.i)
    return ("entry", s)


def same_shape(a, b):
    """True if ``a`` and ``b`` provably have the same shape at run time."""
    if a.ndim != b.ndim:
        return False
    return all(_dim(a, d) == _dim(b, d) for d in range(a.ndim))


def tree_leaves(v, inner):
    """The leaves, left to right, of the tree under ``v`` whose inner vertices are the
    variables ``u`` with ``inner(u)`` true (their owners' inputs are its children).
    A loop, not recursion: trees of any depth."""
    if not inner(v):
        return [v]
    children = v.owner.inputs
    for u in children:
        if inner(u):
            break
    else:  # one inner vertex (most products and sums are): its operands, as they are
        return list(children)
    res = []
    stack = [v]
    while stack:
        u = stack.pop()
        if inner(u):
            stack.extend(reversed(u.owner.inputs))
        else:
            res.append(u)
    return res


def tree_rebuild(v, inner, new_leaves, combine):
    """The tree under ``v`` (as in ``tree_leaves``) with its leaves replaced, in order, by
    ``new_leaves``; ``combine(u, args)`` builds an inner vertex ``u`` from its new children."""
    it = iter(new_leaves)
    results = []
    stack = [(v, False)]
    while stack:
        u, expanded = stack.pop()
        if expanded:
            n = len(u.owner.inputs)
            args = results[len(results) - n:]
            del results[len(results) - n:]
            results.append(combine(u, args))
        elif inner(u):
            stack.append((u, True))
            stack.extend((i, False) for i in reversed(u.owner.inputs))
        else:
            results.append(next(it))
    return results[0]


class TreeEdit:
    """The tree under ``root`` rebuilt as ``tree_rebuild`` would, most of its inner vertices
    kept in place: what a node rewrite returns for the driver to apply (``apply_tree_edit``).

    The graph ends as after replacing ``root`` by ``tree_rebuild``'s result: a vertex whose
    new operands have its own type is kept, and takes the ``auto_name`` its rebuilt copy
    would have had; the others are built anew. Rebuilding the 10⁴-link product of a gradient
    to drop its leading ``1`` then builds one node instead of 10⁴, and prunes one.

    ``result``: the new root (``root`` itself when kept); ``kept``: (node, new auto_name) of
    the vertices kept, in the order their copies would have been built; ``replaced``: (old,
    new) for each operand of a kept vertex (and for ``root``) that changes, inner ones first:
    an inner vertex, used only inside the tree (a vertex with a changed leaf is built anew).
    """

    __slots__ = ("root", "result", "kept", "replaced")

    def __init__(self, root, result, kept, replaced):
        self.root, self.result, self.kept, self.replaced = root, result, kept, replaced


def tree_relink(v, inner, new_leaves, op):
    """``tree_rebuild(v, inner, new_leaves, combine)`` as a ``TreeEdit``, for the ``combine``
    that applies the binary ``op`` to two operands and leaves out an operand that is None
    (a vertex with both left out is None)."""
    it = iter(new_leaves)
    results, kept, replaced = [], [], []
    vertices = set()
    stack = [(v, False)]
    while stack:
        u, expanded = stack.pop()
        if not expanded:
            if inner(u):
                vertices.add(u)
                stack.append((u, True))
                stack.extend([(i, False) for i in reversed(u.owner.inputs)])
            else:
                results.append(next(it))
            continue
        node = u.owner
        inputs = node.inputs
        n = len(inputs)
        args = results[len(results) - n:]
        del results[len(results) - n:]
        if _stays(u, node, op, args) and all(a is i or i in vertices for i, a in zip(inputs, args)):
            kept.append((node, f"_{next(basic._ids)}"))  # the id its rebuilt copy would have taken
            replaced.extend((i, a) for i, a in zip(inputs, args) if a is not i)
            results.append(u)
            continue
        a, b = args
        results.append(b if a is None else a if b is None else op(a, b))
    new = results[0]
    if new is not v and new is not None:
        replaced.append((v, new))
    return TreeEdit(v, new, kept, replaced)


def _stays(u, node, op, args):
    """Whether the vertex ``u`` may stay in place with the operands ``args``: its rebuilt copy
    ``op(*args)`` would be the same node (same op, same type; an output without name or notes
    and a node with nothing but its trace, which a copy would not have)."""
    if node.op is not op or len(args) != 2 or u.name is not None:
        return False
    tag = u.__dict__.get("tag")
    if tag is not None and tag.__dict__ or node.tag.__dict__.keys() != {"trace"}:
        return False
    t = u.type
    if type(t) is not TensorType:
        return False
    for a in args:
        if a is None or a.type is not t and a.type != t:
            return False
    return op.scalar_op.output_dtype(t.dtype, t.dtype) == t.dtype


def chain_inner(fgraph, root, kind, dtype):
    """The ``inner`` test of the ``kind`` tree under ``root`` (see ``chain_leaves``)."""
    op = S[kind]
    clients = fgraph.clients

    def inner(u):
        node = u.owner  # sop(node), written out: this runs for every operand of every chain
        if node is None or not isinstance(node.op, Elemwise) or type(node.op.scalar_op) is not op:
            return False
        return u.type.dtype == dtype and (u is root or len(clients.get(u, ())) == 1)

    return inner


def chain_leaves(fgraph, v, root, kind, dtype):
    """Operands of the ``kind`` tree (``"mul"``, ``"add"``) under ``v``, through nodes of
    ``dtype`` used only inside it: ``(x * y) * exp(z)`` → ``[x, y, exp(z)]``.

    Inside ``chains_remembered(fgraph)`` the answer is kept until ``forget_chains()``: the
    rewrites of a product read its factors one after the other, each from the same graph.
    """
    memo = getattr(_chains, "memo", None)
    if memo is None or memo[0] is not fgraph:
        return _chain_leaves(fgraph, v, root, kind, dtype)
    key = (v, root, kind, dtype)
    leaves = memo[1].get(key)
    if leaves is None:
        leaves = memo[1][key] = _chain_leaves(fgraph, v, root, kind, dtype)
    return list(leaves)


def _chain_leaves(fgraph, v, root, kind, dtype):
    """``tree_leaves(v, chain_inner(fgraph, root, kind, dtype))``, its test written out in
    the loop (a chain of 10⁵ operands is read without a call per vertex)."""
    op = S[kind]
    clients = fgraph.clients
    leaves = []
    stack = [v]
    while stack:
        u = stack.pop()
        node = u.owner
        if (node is not None and isinstance(node.op, Elemwise) and type(node.op.scalar_op) is op
                and u.type.dtype == dtype and (u is root or len(clients.get(u, ())) == 1)):
            stack.extend(reversed(node.inputs))
        else:
            leaves.append(u)
    return leaves


_chains = threading.local()  # compiles in other threads keep their own


@contextlib.contextmanager
def chains_remembered(fgraph):
    """``chain_leaves`` of ``fgraph`` remembers its answers while the block runs, which must
    call ``forget_chains()`` whenever it changes ``fgraph``."""
    outer = getattr(_chains, "memo", None)
    _chains.memo = (fgraph, {})
    try:
        yield
    finally:
        _chains.memo = outer


def forget_chains():
    """Drop what ``chain_leaves`` remembered (the graph is about to change)."""
    memo = getattr(_chains, "memo", None)
    if memo is not None:
        memo[1].clear()


def chain_links_below(fgraph, node):
    """True if an input of ``node`` is a link of its chain (``chain_inner``: computed by the
    same scalar op, of the same dtype, used only by ``node``); else the chain under ``node``
    is ``node`` alone and its operands are its inputs."""
    op_class = type(node.op.scalar_op)
    dtype = node.outputs[0].type.dtype
    clients = fgraph.clients
    for i in node.inputs:
        owner = i.owner
        if (owner is not None and isinstance(owner.op, Elemwise) and type(owner.op.scalar_op) is op_class
                and i.type.dtype == dtype and len(clients.get(i, ())) == 1):
            return True
    return False


def chain_interior(fgraph, node):
    """True if ``node``'s result is an inner link of a longer chain of the same operation:
    its one user is a node of the same scalar op and dtype. Rewrites that read a whole
    chain (``chain_leaves``) act at its root only, so a chain of n links costs O(n), not
    O(n²)."""
    out = node.outputs[0]
    cl = fgraph.clients.get(out, ())
    if len(cl) != 1:
        return False
    user = next(iter(cl))[0]
    if user == "output":
        return False
    op, user_op = node.op, user.op  # sop(node) and sop(user), written out: the driver asks
    if not isinstance(op, Elemwise) or not isinstance(user_op, Elemwise):  # for most nodes
        return False
    return type(user_op.scalar_op) is type(op.scalar_op) and user.outputs[0].type.dtype == out.type.dtype


def _blind_use(node, k):
    """Whether ``node`` gives the same result for +0.0 and -0.0 in input ``k`` (all else equal)."""
    s = sop(node)
    if s is None:
        return False
    if s.zero_sign_blind:
        return True
    if type(s) is S["mul"] and node.inputs[0] is node.inputs[1]:
        return True  # x * x
    if type(s) is S["pow"] and k == 0:
        e = neutral_const(node.inputs[1])
        return e is not None and float(e).is_integer() and int(e) % 2 == 0 and e > 0
    if type(s) in (S["add"], S["sub"]) and len(node.inputs) == 2:
        # c ± (±0.0) is c for c ≠ 0; y + ±0.0 (and y - ∓0.0) differ only for y = -0.0
        other = node.inputs[1 - k]
        c = neutral_const(other)
        if c is not None and c != 0:
            return True
        return (type(s) is S["add"] or k == 1) and known_nonnegative(other)
    return False


def zero_sign_ignored(fgraph, var):
    """True if every user of ``var`` gives the same result whether a zero in ``var`` is
    +0.0 or -0.0 (``var`` is not a graph output, and each use is, e.g., ``abs``, ``x ** 2``,
    ``exp``, a comparison, or ``c + var`` for a nonzero constant ``c``)."""
    cl = fgraph.clients.get(var, ())
    return bool(cl) and all(c != "output" and _blind_use(c, k) for c, k in cl)


def only_client(fgraph, var, node):
    """True if ``node`` is the only user of ``var`` (and it is not a graph output)."""
    cl = fgraph.clients.get(var, ())
    return bool(cl) and all(c is node for c, _ in cl)


def known_nonzero(var):
    """True if no element of ``var`` is zero (a nonzero constant, possibly broadcast, sliced or
    size-checked: ops whose ``entries_of_first_input`` is set)."""
    while var.owner is not None and var.owner.op.entries_of_first_input:
        var = var.owner.inputs[0]
    return isinstance(var, Constant) and bool((np.asarray(var.data) != 0).all())


def known_nonnegative(var, depth=3):
    """True if no element of ``var`` is negative or -0.0 (its sign bit is clear unless nan).

    ``exp(x)``, ``x ** 2``, ``abs(x)``, ``sigmoid(x)``, ``x * x`` and constants ≥ +0.0.
    (``sqrt`` is not: ``sqrt(-0.0)`` is -0.0.)
    """
    if var.dtype.startswith(("uint", "bool")):
        return True
    if isinstance(var, Constant):
        d = np.asarray(var.data)
        return bool(d.size and not np.signbit(d).any() and not np.isnan(d).any())
    node = var.owner
    if node is None or depth == 0:
        return False
    s = sop(node)
    if s is not None:
        if s.nonnegative_output:
            return True
        if type(s) is S["mul"] and node.inputs[0] is node.inputs[1]:
            return True
        if type(s) is S["pow"]:
            e = neutral_const(node.inputs[1])
            if e is not None and float(e).is_integer() and int(e) % 2 == 0:
                return True
            return known_nonnegative(node.inputs[0], depth - 1) and e is not None
        if type(s) in (S["add"], S["mul"], S["true_div"], S["maximum"]):
            return all(known_nonnegative(i, depth - 1) for i in node.inputs)
        if type(s) is ps.Cast:  # (nan cast to an integer is negative)
            return var.dtype.startswith("float") and known_nonnegative(node.inputs[0], depth - 1)
        return False
    if node.op.entries_of_first_input:
        return known_nonnegative(node.inputs[0], depth - 1)
    return False


def known_finite(var, depth=3):
    """True if every element of ``var`` is provably finite (no NaN, no inf)."""
    if var.dtype.startswith(("int", "uint", "bool")):
        return True
    if isinstance(var, Constant):
        return bool(np.isfinite(np.asarray(var.data)).all())
    node = var.owner
    if node is None or depth == 0:
        return False
    s = sop(node)
    if s is not None and s.finite_output:
        return all(known_finite(i, depth - 1) for i in node.inputs)
    if s is not None and type(s) is ps.Cast:
        return known_finite(node.inputs[0], depth - 1)
    if node.op.entries_of_first_input:
        return known_finite(node.inputs[0], depth - 1)
    return False
