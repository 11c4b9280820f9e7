"""Graph structures: variables, Apply nodes, ops, types, traversal and cloning."""

from nbgrad.graph.basic import Apply, Constant, Type, Variable
from nbgrad.graph.fg import FunctionGraph
from nbgrad.graph.op import Op
from nbgrad.graph.replace import clone_get_equiv, clone_replace, graph_replace
from nbgrad.graph.traversal import ancestors, graph_inputs, io_toposort

__all__ = [
    "Apply",
    "Constant",
    "FunctionGraph",
    "Op",
    "Type",
    "Variable",
    "ancestors",
    "clone_get_equiv",
    "clone_replace",
    "graph_inputs",
    "graph_replace",
    "io_toposort",
]
