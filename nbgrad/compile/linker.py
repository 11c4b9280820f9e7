"""The linker: turns a rewritten FunctionGraph into straight-line Python source.

Each Apply node becomes one line ``v7 = _t3(v2, v5)`` where ``_t3`` is the
node's thunk (``Op.make_thunk``) for the backend's array module. Values are
named deterministically so that generated code can be diffed; the source is
kept on the compiled function (``f.source``).
"""

import itertools
import linecache

import numpy as np

from nbgrad.graph.basic import Constant
from nbgrad.graph.fg import without_cyclic_gc
from nbgrad.tensor.elemwise import DimShuffle, Elemwise

__all__ = ["link", "LinkedProgram", "aliased_outputs"]

_counter = itertools.count()


class LinkedProgram:
    """The generated callable and what is needed to explain its failures."""

    def __init__(self, fn, source, filename, line_nodes, names, kernel=None):
        self.fn = fn
        self.source = source
        self.filename = filename
        self.line_nodes = line_nodes  # source line number -> Apply node
        self.names = names  # variable -> name in the source
        # When the program is one node applied to the inputs in order, returning its one
        # output as it is: that node's thunk, ``kernel(*inputs) -> output`` (else None).
        self.kernel = kernel


def aliased_outputs(fgraph):
    """Indices of fgraph outputs whose value may share memory with an input or constant."""
    roots = {}

    def root_of(v):
        if v in roots:
            return roots[v]
        node = v.owner
        r = None
        if node is None:
            r = v
        else:
            vm = node.op.view_map.get(v.index) if hasattr(node.op, "view_map") else None
            if vm:
                for i in vm:
                    r = r or root_of(node.inputs[i])
        roots[v] = r
        return r

    out = []
    for k, o in enumerate(fgraph.outputs):
        if root_of(o) is not None:
            out.append(k)
    return out


def link(fgraph, n_inputs, cells, xp, copy_outputs=(), n_outputs=None, input_checks=None):
    """Compile ``fgraph`` into ``fn(*user_inputs) -> tuple of outputs``.

    ``fgraph.inputs`` are the ``n_inputs`` user inputs followed by one input per
    entry of ``cells`` (shared storage cells, read at call time). The last
    ``len(fgraph.outputs) - n_outputs`` outputs are update values written back
    into ``update_cells`` only after everything has been computed.
    """
    # every node's thunk and each fused kernel's program allocate many small objects
    # while the whole graph is alive: cyclic collections would walk it again and again
    with without_cyclic_gc():
        return _link(fgraph, n_inputs, cells, xp, copy_outputs, input_checks)


def _link(fgraph, n_inputs, cells, xp, copy_outputs, input_checks):
    names = {}
    env = {}
    lines = []
    user = fgraph.inputs[:n_inputs]
    for k, v in enumerate(user):
        names[v] = f"i{k}"
    for k, (v, cell) in enumerate(zip(fgraph.inputs[n_inputs:], cells)):
        names[v] = f"s{k}"
        env[f"_cell{k}"] = cell
    for k in range(len(fgraph.inputs) - n_inputs):
        lines.append(f"    s{k} = _cell{k}[0]")
    if input_checks:
        for k, check in input_checks.items():
            env[f"_chk{k}"] = check
            lines.append(f"    i{k} = _chk{k}(i{k})")
    n_const = itertools.count()
    line_nodes = {}
    header = 2  # "def" line is 1
    order = fgraph.toposort()

    def arg_name(i):
        if i not in names:
            if isinstance(i, Constant):
                cname = f"_c{next(n_const)}"
                env[cname] = _backend_constant(i.data, xp)
                names[i] = cname
            else:
                raise RuntimeError(f"linker: {i} is used before it is computed")
        return names[i]

    def scalar_constant_name(i):
        """A one-element constant as a 0-d array: a ufunc broadcasts it faster than a shape-(1,)
        array (measured 0.42 against 0.86 µs for ``x > 0.5`` on 400 float64)."""
        key = (i, "0-d")
        if key not in names:
            cname = f"_c{next(n_const)}"
            env[cname] = _backend_constant(np.asarray(i.data).reshape(()), xp)
            names[key] = cname
        return names[key]

    def operand_names(node):
        if not _takes_0d_operands(node, xp):
            return [arg_name(i) for i in node.inputs]
        out = []
        for i in node.inputs:
            if _one_element_constant(i):
                out.append(scalar_constant_name(i))
            elif _broadcast_0d(i):  # ``b`` rather than ``b.dimshuffle('x')``: the same reason
                out.append(arg_name(i.owner.inputs[0]))
            else:
                out.append(arg_name(i))
        return out

    def out_names(k, node):
        outs = []
        for j, o in enumerate(node.outputs):
            nm = f"v{k}" if len(node.outputs) == 1 else f"v{k}_{j}"
            names[o] = nm
            outs.append(nm)
        return outs[0] if len(outs) == 1 else ", ".join(outs)

    blocks = _lazy_blocks(fgraph, order)

    def emit(block, pad):
        for k in blocks.get(block, ()):
            node = order[k]
            if getattr(node.op, "lazy", False):
                n = node.op.n_outs
                line_nodes[header + len(lines)] = node
                lines.append(f"{pad}if {arg_name(node.inputs[0])}:")
                for branch, values in ((0, node.inputs[1:1 + n]), (1, node.inputs[1 + n:])):
                    if branch:
                        lines.append(f"{pad}else:")
                    emit((node, branch), pad + "    ")
                    chosen = ", ".join(arg_name(v) for v in values)
                    lines.append(f"{pad}    {out_names(k, node)} = {chosen}")
                continue
            args = operand_names(node)
            env[f"_t{k}"] = node.op.make_thunk(node, xp)
            line_nodes[header + len(lines)] = node
            lines.append(f"{pad}{out_names(k, node)} = _t{k}({', '.join(args)})")

    emit(None, "    ")
    results = []
    for k, o in enumerate(fgraph.outputs):
        if o not in names:
            cname = f"_c{next(n_const)}"
            env[cname] = _backend_constant(o.data, xp)
            names[o] = cname
        expr = names[o]
        if k in copy_outputs:
            expr += ".copy()"
        results.append(expr)
    sig = ", ".join(f"i{k}" for k in range(n_inputs))
    body = "\n".join(lines) if lines else "    pass"
    ret = "(" + "".join(r + ", " for r in results) + ")"
    source = f"def compiled_function({sig}):\n{body}\n    return {ret}\n"
    filename = f"<nbgrad-compiled-{next(_counter)}>"
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(code, env)
    fn = env["compiled_function"]
    return LinkedProgram(fn, source, filename, line_nodes, names, _single_kernel(fgraph, order, user, env, results, input_checks))


def _single_kernel(fgraph, order, user, env, results, input_checks):
    """The thunk of a program that is exactly ``return (_t0(i0, ..., in),)``, else None."""
    if input_checks or len(order) != 1 or len(fgraph.inputs) != len(user) or len(fgraph.outputs) != 1:
        return None
    node = order[0]
    if getattr(node.op, "lazy", False) or list(node.inputs) != list(user) or node.outputs != fgraph.outputs:
        return None
    return env["_t0"] if results == ["v0"] else None


def _one_element_constant(v):
    return isinstance(v, Constant) and np.size(v.data) == 1 and np.ndim(v.data) > 0


def _broadcast_0d(v):
    """Whether ``v`` is a 0-d value given broadcastable axes (``DimShuffle{x}`` of a scalar)."""
    node = v.owner
    return node is not None and isinstance(node.op, DimShuffle) and node.op.input_ndim == 0


def _takes_0d_operands(node, xp):
    """Whether ``node`` may get its one-element operands of broadcastable type as 0-d arrays
    (one-element constants, scalars under ``DimShuffle{x}``): an elementwise op on NumPy with
    another operand, since every operand has the result's number of dimensions
    (``Elemwise.make_node``) and a one-element operand then changes neither the result's
    shape nor its values."""
    return (xp.__name__ == "numpy" and isinstance(node.op, Elemwise)
            and not all(_one_element_constant(i) or _broadcast_0d(i) for i in node.inputs))


def _lazy_blocks(fgraph, order):
    """Positions in ``order`` of the nodes each block computes, in order.

    A block is ``None`` (always run) or ``(node, 0 | 1)``: the then- or else-branch of a
    ``lazy`` node (``IfElse``). A node belongs to the innermost block that contains
    every use of its outputs, so it runs only when something that runs needs it.
    Without lazy nodes every node is in block ``None``, in the order given.
    """
    if not any(getattr(node.op, "lazy", False) for node in order):
        return {None: range(len(order))}
    owner = {}

    def chain(block):
        out = [block]
        while block is not None:
            block = owner[block[0]]
            out.append(block)
        return out[::-1]  # outermost first

    for node in reversed(order):
        uses = set()
        for o in node.outputs:
            for client, i in fgraph.clients.get(o, ()):
                if client == "output":
                    uses.add(None)
                elif getattr(client.op, "lazy", False) and i > 0:
                    uses.add((client, 0 if i <= client.op.n_outs else 1))
                else:
                    uses.add(owner[client])
        if len(uses) == 1:
            owner[node] = uses.pop()
            continue
        common = None
        chains = [chain(b) for b in uses]
        for level in zip(*chains):
            if any(b != level[0] for b in level):
                break
            common = level[0]
        owner[node] = common
    blocks = {}
    for k, node in enumerate(order):
        blocks.setdefault(owner[node], []).append(k)
    return blocks


def _backend_constant(data, xp):
    if xp.__name__ == "numpy":
        return data
    return xp.asarray(data)
