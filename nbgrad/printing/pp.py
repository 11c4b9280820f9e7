"""Text and LaTeX printers driven by per-op data (symbol, precedence, template)."""

from nbgrad.graph.basic import Constant, Variable

__all__ = ["pp", "latex", "debugprint"]


def _scalar_op(node):
    return getattr(node.op, "scalar_op", None)


def _prec(var):
    node = var.owner
    if node is None:
        return 10
    sop = _scalar_op(node)
    if sop is not None and sop.symbol:
        return sop.precedence
    return 10


def pp(var):
    """An infix text form of ``var``'s graph, e.g. ``((x ** 2) + x)``."""
    if isinstance(var, (list, tuple)):
        return "\n".join(pp(v) for v in var)
    return _pp(var, {})


def _pp(v, memo):
    if v in memo:
        return memo[v]
    node = v.owner
    if node is None or (v.name is not None and not isinstance(v, Constant) and node is None):
        s = str(v)
    else:
        sop = _scalar_op(node)
        args = [_pp(i, memo) for i in node.inputs]
        if sop is not None and sop.symbol and len(args) == 2:
            s = f"({args[0]} {sop.symbol} {args[1]})"
        elif sop is not None and sop.symbol and len(args) == 1:
            s = f"{sop.symbol}{args[0]}"
        elif sop is not None:
            s = f"{sop.name}({', '.join(args)})"
        else:
            s = f"{node.op}({', '.join(args)})"
    memo[v] = s
    return s


def latex(var):
    """A LaTeX form of ``var``'s graph."""
    return _latex(var, {})


def _latex(v, memo):
    if v in memo:
        return memo[v]
    node = v.owner
    if node is None:
        s = str(v)
    else:
        sop = _scalar_op(node)
        args = [_latex(i, memo) for i in node.inputs]
        tmpl = getattr(sop, "latex", None) if sop is not None else getattr(node.op, "latex", None)
        if tmpl:
            wrapped = [f"\\left({a}\\right)" if _prec(i) < _prec(v) else a for a, i in zip(args, node.inputs)]
            s = tmpl.format(*wrapped)
        else:
            s = rf"\operatorname{{{type(node.op).__name__}}}\left({', '.join(args)}\right)"
    memo[v] = s
    return s


def debugprint(obj, file=None, print_type=True):
    """Print the graph of ``obj`` (a variable, list, or compiled function) as a tree."""
    import sys

    if hasattr(obj, "maker"):
        outs = obj.maker.fgraph.outputs
    elif isinstance(obj, Variable):
        outs = [obj]
    else:
        outs = list(obj)
    ids, lines = {}, []

    def walk(v, depth):
        node = v.owner
        pad = " |" * depth
        if node is None:
            lines.append(f"{pad}{v}" + (f" [{v.type}]" if print_type else ""))
            return
        key = node
        first = key not in ids
        if first:
            ids[key] = f"id{len(ids)}"
        label = f"{node.op} [{ids[key]}]" + (f" {v.type}" if print_type else "")
        if v.name:
            label += f" '{v.name}'"
        lines.append(f"{pad}{label}")
        if first:
            for i in node.inputs:
                walk(i, depth + 1)

    for o in outs:
        walk(o, 0)
    text = "\n".join(lines)
    if file == "str":
        return text
    print(text, file=file or sys.stdout)
    return None
