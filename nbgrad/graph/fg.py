"""FunctionGraph: a mutable copy of a graph with client lists, for rewriting."""

import contextlib
import functools
import gc

from nbgrad.graph.basic import Constant, traces_set_by_caller
from nbgrad.graph.replace import clone_in_order
from nbgrad.graph.traversal import io_toposort

__all__ = ["FunctionGraph", "ClientList", "import_order", "without_cyclic_gc"]


@contextlib.contextmanager
def without_cyclic_gc():
    """Pause Python's cyclic garbage collector for a block that allocates many objects.

    Rewriting a graph of n nodes allocates O(n) variables and nodes that stay alive, and
    each full collection walks every live object: left on, the collector made compiling
    a 30 000-term sum take twice as long. Reference counting still frees what is dropped.
    Blocks nest: the outermost one (a whole compile) ends by moving the objects made in it
    into the oldest generation (``gc.freeze`` then ``gc.unfreeze``), which walks none of
    them. Most of them live as long as the compiled function, and a collection of the young
    generation would walk each of them (721 000 objects, 0.17 s, for the gradient of a
    10⁴-deep chain, to free 60 000; 1.1 s for a tree of 10⁵ terms, to free a few hundred):
    the cycles a compile drops (replaced nodes) are freed by the next full collection
    instead. Where the caller has frozen objects of its own, which ``gc.unfreeze`` would
    release too, the block ends with that collection of the young generation.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        if gc.get_freeze_count():
            gc.collect(0)
        else:
            gc.freeze()
            gc.unfreeze()  # the frozen objects join the oldest generation


def import_order(node, joins):
    """The nodes a ``FunctionGraph`` adds, in order, when it imports ``node``: depth first
    from an explicit stack (deep graphs), each node after its inputs' owners, through the
    owners ``p`` of inputs ``i`` for which ``joins(p, i)`` is true, each pushed once."""
    # a node is on ``stack`` twice: first to push its inputs' owners (``expanded`` has no
    # entry for it yet), then, once they are listed, to be listed itself
    out, stack, expanded, pushed = [], [node], set(), {node}
    while stack:
        n = stack.pop()
        if n not in expanded:
            expanded.add(n)
            stack.append(n)
            for i in reversed(n.inputs):
                p = i.owner
                if p is not None and p not in pushed and joins(p, i):
                    pushed.add(p)
                    stack.append(p)
            continue
        out.append(n)
    return out


class ClientList(dict):
    """The ``(node, input_index)`` uses of one variable, in the order they were added.

    Reads like a list (iteration, ``len``, indexing, ``in``) but adds and removes a use
    in constant time: a variable read by 10⁵ nodes (the input of a wide sum) loses its
    uses one by one while rewrites prune them. The uses are the keys of a dict, so that
    ``len``, truth, iteration and ``in`` (asked for every node of every rewrite phase)
    run in C.
    """

    __slots__ = ()

    def __init__(self, uses=()):
        super().__init__(dict.fromkeys(uses))

    def append(self, use):
        self[use] = None

    def remove(self, use):
        try:
            del self[use]
        except KeyError:
            raise ValueError(f"{use} is not a use of this variable") from None

    def __getitem__(self, i):
        if i == 0:
            return next(iter(self))
        return list(self)[i]

    def __eq__(self, other):
        return list(self) == list(other)

    __hash__ = None

    def __repr__(self):
        return f"ClientList({list(self)})"


#: A new, empty ``ClientList``, made without the Python-level ``__init__`` (one per variable
#: of every graph).
_no_clients = functools.partial(dict.__new__, ClientList)


class FunctionGraph:
    """A graph from ``inputs`` to ``outputs`` that rewrites may change in place.

    ``clients[var]`` lists the ``(node, input_index)`` pairs that use ``var``
    (a ``ClientList``); an output is a client ``("output", i)``. By default the
    graph is cloned so that the user's graph is never modified.
    """

    def __init__(self, inputs, outputs, clone=True, memo=None):
        # a clone copies each node's trace from the node it copies
        with without_cyclic_gc(), traces_set_by_caller():
            self._build(inputs, outputs, clone, memo)

    def _build(self, inputs, outputs, clone, memo):
        order = None
        if clone:
            equiv, order = clone_in_order(inputs, outputs, memo=memo, copy_inputs=False)
            outputs = [equiv.get(o, o) for o in outputs]
            self.equiv = equiv
        else:
            self.equiv = None
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.clients = {}
        self.apply_nodes = set()
        self.variables = set()
        self._input_set = set(self.inputs)
        for v in self.inputs:
            self.clients.setdefault(v, _no_clients())
            self.variables.add(v)
        if order is not None:
            self._add_in_order(order)
        for i, o in enumerate(self.outputs):
            self._import_var(o)
            self.clients[o].append(("output", i))
        self.history = []
        # toposort's answer while the graph is unchanged (a copy comes in its order), and
        # whether nodes have left the graph since (``replace``)
        self._order = order
        self._order_pruned = False

    # --- construction -------------------------------------------------
    def _import_var(self, var):
        if var in self.variables:
            return
        self.variables.add(var)
        if var not in self.clients:
            self.clients[var] = _no_clients()
        node = var.owner
        if node is not None and node not in self.apply_nodes:
            self._import_node(node)

    def _import_node(self, node):
        variables, apply_nodes = self.variables, self.apply_nodes
        if all(i in variables for i in node.inputs):
            self._add_node(node)  # a rewrite's one new node over values of the graph
            return
        for n in import_order(node, lambda p, i: i not in variables and p not in apply_nodes):
            if n not in apply_nodes:
                self._add_node(n)

    def _add_in_order(self, order):
        """Import ``order``, nodes each after the owners of its inputs (a copy's own order):
        one pass, without the search of ``_import_node``."""
        variables, clients, apply_nodes = self.variables, self.clients, self.apply_nodes
        for node in order:
            apply_nodes.add(node)
            for j, i in enumerate(node.inputs):
                if i not in variables:  # a constant (an input or an earlier node's output is in)
                    variables.add(i)
                    clients[i] = _no_clients()
                clients[i][(node, j)] = None
            for o in node.outputs:
                variables.add(o)
                clients[o] = _no_clients()

    def _add_node(self, node):
        variables, clients = self.variables, self.clients
        self.apply_nodes.add(node)
        for o in node.outputs:
            variables.add(o)
            if o not in clients:
                clients[o] = _no_clients()
        for j, i in enumerate(node.inputs):
            if i not in variables:
                variables.add(i)
                if i not in clients:
                    clients[i] = _no_clients()
            clients[i][(node, j)] = None

    def _prune(self, var):
        """Remove the owner of ``var`` (and its owners in turn) once nothing uses it."""
        inputs = self._input_set
        clients = self.clients
        apply_nodes = self.apply_nodes
        variables = self.variables
        stack = [var]
        while stack:
            v = stack.pop()
            if clients.get(v) or v in inputs:
                continue
            node = v.owner
            if node is None or node not in apply_nodes:
                continue
            outputs = node.outputs
            if len(outputs) > 1 and any(clients.get(o) for o in outputs):
                continue
            apply_nodes.discard(node)
            for o in outputs:
                variables.discard(o)
                clients.pop(o, None)
            for j, i in enumerate(node.inputs):
                cl = clients.get(i)
                if cl is not None:
                    cl.pop((node, j), None)
                    if not cl and i not in inputs:
                        stack.append(i)
                        if i.owner is None:
                            variables.discard(i)
                            clients.pop(i, None)

    # --- mutation -----------------------------------------------------
    def replace(self, var, new_var, reason=None):
        """Make every client of ``var`` use ``new_var`` instead."""
        if var is new_var:
            return
        if var.type is not new_var.type and var.type != new_var.type:
            cast = getattr(var.type, "convert_variable", None)
            converted = cast(new_var) if cast else None
            if converted is None:
                raise TypeError(
                    f"rewrite {reason}: cannot replace {var} ({var.type}) with "
                    f"{new_var} ({new_var.type})"
                )
            new_var = converted
        if self._order is not None:
            owner = var.owner
            if new_var.owner is None and (owner is None or all(i.owner is None for i in owner.inputs)):
                # a constant or an input in place of a constant or a node that reads only
                # those (a folded constant, a merged one): the sort of the new graph is the
                # order kept, less the node that goes (``toposort``)
                self._order_pruned = True
            else:
                self._order = None
        self._import_var(new_var)
        clients = self.clients
        new_uses = clients[new_var]
        for use in list(clients.get(var, ())):
            client, j = use
            if client == "output":
                self.outputs[j] = new_var
            else:
                client.inputs[j] = new_var
            new_uses[use] = None
        clients[var] = _no_clients()
        self.history.append(reason)
        self._prune(var)

    def swap_inputs(self, node, reason=None):
        """Exchange the two inputs of ``node`` in place (for a commutative op).

        The node and its output stay; only the two client entries of its inputs change, as
        if the node had been rebuilt with its inputs exchanged and put in its place: each
        input's use moves to the end of that input's clients. Nothing is pruned.
        """
        if node not in self.apply_nodes or len(node.inputs) != 2:
            raise ValueError(
                f"swap_inputs{f' ({reason})' if reason else ''}: expected a node of this graph "
                f"with two inputs, got {node} with {len(node.inputs)}"
            )
        a, b = node.inputs
        clients = self.clients
        del clients[a][(node, 0)]
        del clients[b][(node, 1)]
        node.inputs[0], node.inputs[1] = b, a
        clients[b][(node, 0)] = None
        clients[a][(node, 1)] = None
        self._order = None
        self.history.append(reason)

    def replace_all(self, pairs, reason=None):
        for old, new in pairs:
            self.replace(old, new, reason)

    # --- queries ------------------------------------------------------
    def toposort(self):
        """The apply nodes, each after the owners of its inputs (a new list).

        The order is kept until the next ``replace`` that may move a node (one that puts a
        constant or an input in place of a constant or of a node reading only those leaves
        the order of the others as a new sort gives it): the phases that follow one another
        without such a change (a rewrite phase that found nothing or folded constants,
        ``merge`` of constants, the linker after the last rewrite) do not sort it again.
        """
        if self._order is None:
            self._order = io_toposort(self.inputs, self.outputs)
        elif self._order_pruned:
            apply_nodes = self.apply_nodes
            self._order = [n for n in self._order if n in apply_nodes]
        self._order_pruned = False
        return list(self._order)

    def constants(self):
        return [v for v in self.variables if isinstance(v, Constant)]

    def __str__(self):
        return f"FunctionGraph({', '.join(map(str, self.outputs))})"
