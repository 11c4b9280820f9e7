"""``debugprint``: a graph as an indented tree, one node per line, with stable ids."""

import sys

from nbgrad.graph.basic import Variable
from nbgrad.printing.printer import inner_graph, scalar_op_of
from nbgrad.printing.text import TextPrinter

__all__ = ["debugprint"]


def _char_id(n):
    s = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _roots(obj):
    maker = getattr(obj, "maker", None)
    if maker is not None and hasattr(maker, "fgraph"):
        return list(maker.fgraph.outputs)
    if isinstance(obj, Variable):
        return [obj]
    if hasattr(obj, "outputs") and hasattr(obj, "clients"):
        return list(obj.outputs)
    if hasattr(obj, "outputs") and hasattr(obj, "inputs") and hasattr(obj, "op"):
        return list(obj.outputs)
    if isinstance(obj, (list, tuple)):
        out = []
        for o in obj:
            out.extend(_roots(o))
        return out
    raise TypeError(
        f"debugprint takes a variable, a list of variables, a compiled function or a "
        f"FunctionGraph, got {type(obj).__name__}"
    )


def _op_label(node):
    sop = scalar_op_of(node)
    if sop is not None:
        graph = inner_graph(sop)
        if graph is not None:
            inputs, outputs = graph
            printer = TextPrinter()
            for k, v in enumerate(inputs):
                printer._bound[v] = printer.print_name(type("_", (), {"name": f"i{k}", "type": None})())
            printer._in_composite = 1
            inner = ", ".join(printer.doprint(o) for o in outputs)
            return f"Composite{{{inner}}}"
    return str(node.op)


def debugprint(obj, depth=-1, print_type=False, file=None, ids="CHAR", stop_on_name=False):
    """Print a graph as a tree: op, id and name of each variable, one per line.

    A node reached a second time prints only its op and id. Ids are given in
    the order nodes are first met, so the output of one graph is always the
    same and can be diffed. The arguments are Theano's, in Theano's order.

    Parameters
    ----------
    obj : Variable, list of Variable, Function or FunctionGraph
        A compiled function prints its optimized graph (outputs, then updates).
    depth : int
        How many levels to print: 1 prints only the outputs, 2 also their
        inputs, ...; -1 (the default) prints the whole graph.
    print_type : bool
        Show each variable's type.
    file : file-like, ``'str'`` or None
        Where to print (default ``sys.stdout``); ``'str'`` returns the text.
    ids : {'CHAR', 'int', 'id', ''}
        ``id A``, ``id 0``, ``id <python id>`` or no ids.
    stop_on_name : bool
        Do not print the inputs of a computed variable that has a name.

    Returns
    -------
    str or None
        The text when ``file='str'``.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> e = T.exp(x)
    >>> print(debugprint(e * e + 1, file="str"))
    add [id A]
     ├─ mul [id B]
     │  ├─ exp [id C]
     │  │  └─ x [id D]
     │  └─ exp [id C] ···
     └─ 1 [id E]
    >>> print(debugprint(e * e + 1, depth=2, print_type=True, file="str"))
    add [id A] <TensorType(float64, scalar)>
     ├─ mul [id B] <TensorType(float64, scalar)>
     └─ 1 [id C] <TensorType(float64, scalar)>
    """
    if isinstance(depth, str) or isinstance(depth, bool) or not isinstance(depth, int):
        raise TypeError(
            f"debugprint: depth must be an int (-1 for the whole graph), got {depth!r}; "
            "give the output stream by keyword: debugprint(obj, file=...)"
        )
    if ids not in ("CHAR", "int", "id", ""):
        raise ValueError(f"debugprint: ids must be 'CHAR', 'int', 'id' or '', got {ids!r}")
    roots = _roots(obj) if depth != 0 else []
    table = {}
    lines = []

    def ident(key):
        if not ids:
            return ""
        if key not in table:
            n = len(table)
            table[key] = {"CHAR": _char_id(n), "int": str(n), "id": str(id(key))}[ids]
        return f" [id {table[key]}]"

    def label(v):
        node = v.owner
        if node is None:
            return str(v)
        s = _op_label(node)
        if len(node.outputs) > 1:
            s += f".{v.index}"
        return s

    # depth-first from an explicit stack (children pushed last-first), so any depth prints
    stack = [(r, "", False, True, 1) for r in reversed(roots)]
    while stack:
        v, prefix, branch, last, level = stack.pop()
        node = v.owner
        key = node if node is not None else v
        seen = key in table
        head = prefix + (("└─ " if last else "├─ ") if branch else "")
        text = label(v) + ident(key)
        if seen and node is not None:
            lines.append(head + text + " ···")
            continue
        if node is not None and v.name is not None:
            text += f" '{v.name}'"
        if print_type:
            text += f" <{v.type}>"
        lines.append(head + text)
        if node is None or level == depth or (stop_on_name and v.name is not None):
            continue
        child_prefix = prefix + (("   " if last else "│  ") if branch else " ")
        n = len(node.inputs)
        stack.extend((i, child_prefix, True, k == n - 1, level + 1)
                     for k, i in reversed(list(enumerate(node.inputs))))

    text = "\n".join(lines)
    if file == "str":
        return text
    print(text, file=file or sys.stdout)
    return None
