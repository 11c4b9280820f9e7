"""FunctionGraph: a mutable copy of a graph with client lists, for rewriting."""

from nbgrad.graph.basic import Constant
from nbgrad.graph.replace import clone_get_equiv
from nbgrad.graph.traversal import io_toposort

__all__ = ["FunctionGraph"]


class FunctionGraph:
    """A graph from ``inputs`` to ``outputs`` that rewrites may change in place.

    ``clients[var]`` lists the ``(node, input_index)`` pairs that use ``var``;
    an output is a client ``("output", i)``. By default the graph is cloned so
    that the user's graph is never modified.
    """

    def __init__(self, inputs, outputs, clone=True, memo=None):
        if clone:
            equiv = clone_get_equiv(inputs, outputs, memo=memo, copy_inputs=False)
            outputs = [equiv.get(o, o) for o in outputs]
            self.equiv = equiv
        else:
            self.equiv = None
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.clients = {}
        self.apply_nodes = set()
        self.variables = set()
        for v in self.inputs:
            self.clients.setdefault(v, [])
            self.variables.add(v)
        for i, o in enumerate(self.outputs):
            self._import_var(o)
            self.clients[o].append(("output", i))
        self.history = []

    # --- construction -------------------------------------------------
    def _import_var(self, var):
        if var in self.variables:
            return
        self.variables.add(var)
        self.clients.setdefault(var, [])
        node = var.owner
        if node is not None and node not in self.apply_nodes:
            self._import_node(node)

    def _import_node(self, node):
        # iterative to survive deep graphs
        stack = [node]
        while stack:
            n = stack[-1]
            pending = [
                i.owner
                for i in n.inputs
                if i not in self.variables and i.owner is not None and i.owner not in self.apply_nodes
            ]
            if pending:
                stack.extend(p for p in pending if p not in stack)
                if stack[-1] is not n:
                    continue
            stack.pop()
            if n in self.apply_nodes:
                continue
            self.apply_nodes.add(n)
            for o in n.outputs:
                self.variables.add(o)
                self.clients.setdefault(o, [])
            for j, i in enumerate(n.inputs):
                if i not in self.variables:
                    self.variables.add(i)
                    self.clients.setdefault(i, [])
                self.clients[i].append((n, j))

    def _prune(self, var):
        """Remove the owner of ``var`` (recursively) once nothing uses it."""
        stack = [var]
        while stack:
            v = stack.pop()
            if self.clients.get(v) or v in self.inputs:
                continue
            node = v.owner
            if node is None or node not in self.apply_nodes:
                continue
            if any(self.clients.get(o) for o in node.outputs):
                continue
            self.apply_nodes.discard(node)
            for o in node.outputs:
                self.variables.discard(o)
                self.clients.pop(o, None)
            for j, i in enumerate(node.inputs):
                cl = self.clients.get(i)
                if cl is not None:
                    try:
                        cl.remove((node, j))
                    except ValueError:
                        pass
                    if not cl and i not in self.inputs:
                        stack.append(i)
                        if i.owner is None:
                            self.variables.discard(i)
                            self.clients.pop(i, None)

    # --- mutation -----------------------------------------------------
    def replace(self, var, new_var, reason=None):
        """Make every client of ``var`` use ``new_var`` instead."""
        if var is new_var:
            return
        if var.type != new_var.type:
            cast = getattr(var.type, "convert_variable", None)
            converted = cast(new_var) if cast else None
            if converted is None:
                raise TypeError(
                    f"rewrite {reason}: cannot replace {var} ({var.type}) with "
                    f"{new_var} ({new_var.type})"
                )
            new_var = converted
        self._import_var(new_var)
        for client, j in list(self.clients.get(var, [])):
            if client == "output":
                self.outputs[j] = new_var
            else:
                client.inputs[j] = new_var
            self.clients[new_var].append((client, j))
        self.clients[var] = []
        self.history.append(reason)
        self._prune(var)

    def replace_all(self, pairs, reason=None):
        for old, new in pairs:
            self.replace(old, new, reason)

    # --- queries ------------------------------------------------------
    def toposort(self):
        return io_toposort(self.inputs, self.outputs)

    def constants(self):
        return [v for v in self.variables if isinstance(v, Constant)]

    def __str__(self):
        return f"FunctionGraph({', '.join(map(str, self.outputs))})"
