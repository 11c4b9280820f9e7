"""Compile work grows linearly with graph size.

Counted, not timed: rewrite attempts, nodes built and whole-graph topological sorts while
compiling a graph of n and of 2n links. Linear work doubles with n; a pass that rescans
the graph after each change, or a rewrite that reads a whole chain from each of its links,
quadruples it.
"""

import gc
import weakref

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.graph import basic
from nbgrad.graph import fg as fg_module
from nbgrad.graph.fg import FunctionGraph
from nbgrad.rewriting import cache
from nbgrad.rewriting.db import db
from nbgrad.scalar.composite import Composite
from nbgrad.tensor.type import TensorType


def _chain(x, n):
    y = x
    for _ in range(n):
        y = T.tanh(y)
    return y


def _tree(x, n):
    terms = [T.sin(x * (1.0 + k / n)) for k in range(n)]
    while len(terms) > 1:
        pairs = [terms[k] + terms[k + 1] for k in range(0, len(terms) - 1, 2)]
        terms = pairs + (terms[-1:] if len(terms) % 2 else [])
    return terms[0]


def _long_sum(x, n):
    y = T.sin(x)
    for k in range(1, n):
        y = y + T.sin(x * (1.0 + k / n))
    return y


def _chain_grad(x, n):
    return T.grad(T.sum(_chain(x, n)), x)


FAMILIES = {"chain": _chain, "tree": _tree, "sum": _long_sum, "grad": _chain_grad}


def _compile_cold(monkeypatch, x, out):
    """Compile ``out`` with no compile cache while ``monkeypatch``'s counters are in place,
    take them away, and check that the function runs."""
    monkeypatch.setattr(cache, "enabled", False)
    try:
        f = nbgrad.function([x], out)
    finally:
        monkeypatch.undo()
    assert np.all(np.isfinite(f(np.array([0.1, -0.2]))))


def _compile_work(monkeypatch, family, n):
    """(rewrite attempts, nodes built, whole-graph sorts asked for, nodes sorted, graphs
    walked to sort them) compiling size n."""
    x = T.dvector("x")
    out = FAMILIES[family](x, n)
    counts = {"attempts": 0, "nodes": 0, "sorts": 0, "sorted": 0, "walks": 0}

    def counting_rewrite(fn):
        def run(*args):
            counts["attempts"] += 1
            return fn(*args)
        return run

    for r in db.by_name.values():
        monkeypatch.setattr(r, "fn", counting_rewrite(r.fn))
    apply_init = basic.Apply.__init__

    def counting_init(self, *args):
        counts["nodes"] += 1
        apply_init(self, *args)

    toposort = FunctionGraph.toposort

    def counting_toposort(self):
        order = toposort(self)
        counts["sorts"] += 1
        counts["sorted"] += len(order)
        return order

    io_toposort = fg_module.io_toposort

    def counting_io_toposort(inputs, outputs):
        counts["walks"] += 1
        return io_toposort(inputs, outputs)

    structural_copy = basic.Apply.structural_copy

    def counting_copy(self, inputs):  # the copy of the graph, node by node
        counts["nodes"] += 1
        return structural_copy(self, inputs)

    monkeypatch.setattr(basic.Apply, "__init__", counting_init)
    monkeypatch.setattr(basic.Apply, "structural_copy", counting_copy)
    monkeypatch.setattr(fg_module, "io_toposort", counting_io_toposort)
    monkeypatch.setattr(FunctionGraph, "toposort", counting_toposort)
    _compile_cold(monkeypatch, x, out)
    return counts


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_compile_work_doubles_when_the_graph_doubles(monkeypatch, family):
    n = 400
    small = _compile_work(monkeypatch, family, n)
    large = _compile_work(monkeypatch, family, 2 * n)
    for what in ("attempts", "nodes", "sorted"):
        assert large[what] <= 2.2 * small[what], (family, what, small, large)
    # the phases sort the whole graph a fixed number of times, whatever its size
    assert large["sorts"] == small["sorts"], (family, small, large)


def test_an_unchanged_graph_is_not_sorted_again(monkeypatch):
    # the gradient of a chain goes through phases that change nothing (the second constant
    # folding, fusion after specialize, the linker after the in-place rewrites)
    work = _compile_work(monkeypatch, "grad", 100)
    assert work["walks"] < work["sorts"], work


def _count_calls(monkeypatch, owner, name, build):
    """How many times ``owner.name`` runs while compiling ``build(x)`` (cold)."""
    calls = []
    fn = getattr(owner, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return fn(*args, **kwargs)

    x = T.dvector("x")
    out = build(x)
    monkeypatch.setattr(owner, name, counting)
    _compile_cold(monkeypatch, x, out)
    return len(calls)


def test_the_factors_of_a_product_are_read_once_per_phase(monkeypatch):
    from nbgrad.rewriting import patterns

    # each product x * c of the tree is met by two chain rewrites in simplify (constant_chain,
    # cancel_reciprocal) and four in specialize: they share one reading per phase
    n = 200
    reads = _count_calls(monkeypatch, patterns, "tree_leaves", lambda x: _tree(x, n))
    assert reads <= 3 * n + 10, reads


def test_chain_rewrites_skip_products_without_the_operands_they_read(monkeypatch):
    # the tree's products x * c hold no reciprocal, sum, sigmoid or exp: the chain rewrites
    # that need one are not tried on them (only at the root of the sum, which has no such
    # reads condition of its own)
    names = ("cancel_reciprocal", "sigmoid_exp_product", "exp_times_sigmoid_neg", "exp_over_sum_exp")
    tried = []
    for name in names:
        r = db.by_name[name]

        def run(fgraph, node, fn=r.fn, name=name):
            tried.append(name)
            return fn(fgraph, node)
        monkeypatch.setattr(r, "fn", run)
    x = T.dvector("x")
    _compile_cold(monkeypatch, x, _tree(x, 200))
    assert len(tried) <= 2 * len(names), tried


def test_chain_rewrites_read_operands_below_the_inputs_of_the_root():
    # the root's inputs are a product and y: the constants, the exp and the sigmoid that the
    # chain rewrites read are operands further down the chain
    x, y = T.dvector("x"), T.dvector("y")
    f = nbgrad.function([x, y], [x * 2 * 2 * y, T.exp(x) * T.sigmoid(-x) * y])
    assert {"constant_chain", "exp_times_sigmoid_neg"} <= set(f.maker.rewrites_applied)


def test_a_product_rebuilt_for_its_innermost_factor_keeps_its_other_links(monkeypatch):
    # the gradient of a chain is a product of n links whose innermost operand is the seed
    # alloc(1, ...): constant_chain drops it, building one link, not n
    from nbgrad.rewriting.canonicalize import constant_chain

    r = db.by_name["constant_chain"]
    built = []

    def counting(fgraph, node):
        before = len(built)
        new = constant_chain(fgraph, node)
        if new:
            built.append(len(built) - before)
        return new

    apply_init = basic.Apply.__init__

    def counting_init(self, *args):
        built.append(None)
        apply_init(self, *args)

    monkeypatch.setattr(r, "fn", counting)
    monkeypatch.setattr(basic.Apply, "__init__", counting_init)
    x = T.dvector("x")
    _compile_cold(monkeypatch, x, _chain_grad(x, 400))
    fired = [n for n in built if n is not None]
    assert len(fired) == 1 and fired[0] <= 2, fired


def test_the_size_of_a_chain_takes_one_step_per_link(monkeypatch):
    # shape_i_through asks the size of the end of a gradient's tanh chain: each link's step
    # (its op's size rule) is taken once, not again when the walk comes back to it
    from nbgrad.rewriting import patterns

    n = 400
    x = T.dvector("x")
    y = _chain(x, n)
    calls = []
    step = patterns._dim_step
    monkeypatch.setattr(patterns, "_dim_step", lambda v, d: calls.append(v) or step(v, d))
    assert patterns.dim_key(y, 0) == ("dim", x, 0)
    assert len(calls) <= n + 2, len(calls)


def test_differences_without_a_sigmoid_are_not_read_as_products(monkeypatch):
    # sigmoid_minus_square meets each 1 - tanh(y)² of a chain's gradient: neither side is a
    # sigmoid, its square or a product, so their factors are not read
    from nbgrad.rewriting import stabilize

    for n in (100, 200):
        reads = _count_calls(monkeypatch, stabilize, "_factor_keys", lambda x, n=n: _chain_grad(x, n))
        assert reads <= 4, (n, reads)


def test_products_of_two_operands_are_not_read_as_chains(monkeypatch):
    # the tree's products x * c are their own chains of two operands: constant_chain leaves
    # them to the identities without reading them; only the root of the sum is read
    from nbgrad.rewriting import patterns

    for n in (100, 200):
        reads = _count_calls(monkeypatch, patterns, "tree_leaves", lambda x, n=n: _tree(x, n))
        assert reads <= 4, (n, reads)


def test_like_terms_are_not_looked_for_at_inner_links_of_a_sum(monkeypatch):
    # collect_like_terms reads a sum from its root: it is not tried on the tree's inner sums
    # (only on its products and its root, in simplify and in specialize)
    n = 200
    tried = _count_calls(monkeypatch, db.by_name["collect_like_terms"], "fn", lambda x: _tree(x, n))
    assert tried <= 2 * n + 4, tried


def test_the_operands_of_a_sum_are_read_without_a_call_per_vertex(monkeypatch):
    # the root of the tree's sum is read in canonicalize and simplify (constant_chain): each
    # of its 2n - 1 vertices and n operands is tested in the reading loop itself
    from nbgrad.rewriting import patterns

    n = 200
    tests = []
    chain_inner = patterns.chain_inner

    def counting_chain_inner(*args):
        inner = chain_inner(*args)
        return lambda u: tests.append(u) or inner(u)

    monkeypatch.setattr(patterns, "chain_inner", counting_chain_inner)
    x = T.dvector("x")
    _compile_cold(monkeypatch, x, _tree(x, n))
    assert len(tests) <= 10, len(tests)


def test_products_of_atoms_are_not_read_for_like_terms(monkeypatch):
    # the tree's products x * c are one term each: collect_like_terms declines them without
    # setting up a reading (only the root of the sum, in simplify and specialize)
    from nbgrad.rewriting import polynomial

    for n in (100, 200):
        readers = _count_calls(monkeypatch, polynomial, "_Reader", lambda x, n=n: _tree(x, n))
        assert readers <= 4, (n, readers)


def test_a_chain_without_constants_or_allocs_is_left_after_one_pass(monkeypatch):
    # the root of the tree's sum has n operands sin(x * c): constant_chain finds no constant
    # and no alloc among them in one pass, without asking each operand for a neutral alloc
    from nbgrad.rewriting import canonicalize

    n = 200
    asked = _count_calls(monkeypatch, canonicalize, "_neutral_alloc", lambda x: _tree(x, n))
    assert asked <= 10, asked


def test_factors_that_are_no_reciprocal_form_are_passed_over_at_once(monkeypatch):
    # cancel_reciprocal asks each factor 1 - tanh(y)² of a chain's gradient whether it is
    # 1 - sigmoid(x): the operand tanh(y) answers, without reading the constant 1 (which
    # the identities of the phases still read: six times per link in all, eight before)
    from nbgrad.rewriting import algebraic

    n = 200
    reads = _count_calls(monkeypatch, algebraic, "scalar_const", lambda x: _chain_grad(x, n))
    assert reads <= 6 * n + 10, reads


def _ranks(fgraph):
    """Each variable's position in the order of ``auto_name`` (the sort key of operands)."""
    names = sorted({int(v.auto_name[1:]) for v in fgraph.variables})
    return {v: names.index(int(v.auto_name[1:])) for v in fgraph.variables}


def _described(fgraph):
    """The graph as text: each node with its inputs, uses in client order, and ranks."""
    ranks = _ranks(fgraph)
    ids = {n: k for k, n in enumerate(fgraph.toposort())}

    def name(v):
        return f"n{ids[v.owner]}" if v.owner is not None else str(v)

    lines = []
    for node in fgraph.toposort():
        out = node.outputs[0]
        uses = [("out" if c == "output" else ids[c], j) for c, j in fgraph.clients[out]]
        lines.append(f"n{ids[node]}={node.op}({', '.join(map(name, node.inputs))}) "
                     f"rank={ranks[out]} uses={uses} trace={node.tag.trace}")
    for v in fgraph.inputs:
        lines.append(f"{v} uses={[(ids[c], j) for c, j in fgraph.clients[v]]}")
    return "\n".join(lines)


@pytest.mark.parametrize("case", ["innermost", "dropped", "shared_leaf", "tree"])
def test_a_tree_edit_leaves_the_graph_a_rebuilt_tree_would(monkeypatch, case):
    from nbgrad.rewriting.driver import apply_tree_edit, replace_node
    from nbgrad.rewriting.patterns import chain_inner, tree_leaves, tree_rebuild, tree_relink
    from nbgrad.tensor import math as tm

    def build():
        x, y = T.dvector("x"), T.dvector("y")
        a = T.exp(x)
        if case == "tree":
            t = ((a * T.sin(x)) * (T.cos(x) * y)) * ((x * T.tanh(y)) * (y * T.sin(y)))
        else:
            t = a * T.sin(x)
            for k in range(6):
                t = t * (T.cos(x) + k)
        outs = [t * 1.0]
        if case == "shared_leaf":
            outs.append(a + 1)  # a leaf with a use outside the product
        return FunctionGraph([x, y], outs)

    def edited(fgraph):
        # the new operands: the first replaced by its negation, or left out
        root = fgraph.outputs[0].owner.inputs[0]
        inner = chain_inner(fgraph, root, "mul", root.dtype)
        leaves = tree_leaves(root, inner)
        if case == "dropped":
            leaves[1] = None
        else:
            leaves[0] = -leaves[0]
        return root, inner, leaves

    def combine(u, args):
        a, b = args
        return b if a is None else a if b is None else tm.mul(a, b)

    texts = []
    for relink in (False, True):
        monkeypatch.setattr(basic, "_ids", iter(range(10 ** 6)))  # both graphs numbered alike
        fgraph = build()
        for n in fgraph.apply_nodes:
            n.tag.trace = ("user.py", n.inputs[0].auto_name, "f")
        root, inner, leaves = edited(fgraph)
        node = root.owner
        if relink:
            edit = tree_relink(root, inner, leaves, tm.mul)
            assert edit.kept, "some links keep their operands' types"
            apply_tree_edit(fgraph, node, edit, "test")
        else:
            replace_node(fgraph, node, [tree_rebuild(root, inner, leaves, combine)], "test")
        texts.append(_described(fgraph))
    assert texts[0] == texts[1]


def test_products_and_sums_of_atoms_are_not_read_as_polynomials(monkeypatch):
    from nbgrad.rewriting import polynomial

    # the tree's products x * c and inner sums hold nothing to collect: only the root of the
    # sum is read (once in simplify, once in specialize), whatever the size
    for n in (50, 200):
        reads = _count_calls(monkeypatch, polynomial._Reader, "read", lambda x, n=n: _tree(x, n))
        assert reads <= 4, (n, reads)


def test_a_changed_graph_is_sorted_again():
    x = T.dscalar("x")
    fg = FunctionGraph([x], [T.exp(x) * 2])
    before = fg.toposort()
    mul = fg.outputs[0].owner
    fg.replace(mul.outputs[0], T.exp(mul.inputs[0]))
    after = fg.toposort()
    assert [n.op for n in after] == [before[0].op, before[0].op] and mul not in after
    after.clear()  # the caller's list, not the graph's kept order
    assert len(fg.toposort()) == 2


def test_swap_inputs_moves_the_two_uses_and_keeps_the_node():
    x, y = T.dscalar("x"), T.dscalar("y")
    fg = FunctionGraph([x, y], [T.exp(x) * y, T.exp(x) + 1])
    mul = fg.outputs[0].owner
    e = mul.inputs[0]
    before = fg.toposort()
    fg.swap_inputs(mul, reason="test")
    assert mul.inputs == [y, e] and fg.outputs[0].owner is mul and mul in fg.apply_nodes
    # each use moved to the end of its input's clients, as a rebuilt node's would be
    assert list(fg.clients[y]) == [(mul, 0)]
    assert list(fg.clients[e])[-1] == (mul, 1) and (mul, 0) not in fg.clients[e]
    assert fg.toposort() is not before and set(fg.toposort()) == set(before)
    assert fg.history[-1] == "test"
    with pytest.raises(ValueError, match="two inputs"):
        fg.swap_inputs(e.owner)


def test_commutative_operands_are_swapped_without_a_new_node(monkeypatch):
    from nbgrad.rewriting import Mode, rewrite_graph

    s = T.dscalar("s")
    fg = FunctionGraph([s], [T.mul(T.constant(2.0), T.exp(s))])
    mul, out = fg.outputs[0].owner, fg.outputs[0]
    built = []
    apply_init = basic.Apply.__init__

    def counting_init(self, *args):
        built.append(self)
        apply_init(self, *args)

    monkeypatch.setattr(basic.Apply, "__init__", counting_init)
    applied = rewrite_graph(fg, Mode("NONE", including=["commutative_order"]))
    monkeypatch.undo()
    assert applied == ["commutative_order"] and not built
    assert fg.outputs[0] is out and out.owner is mul and str(mul.inputs[1]) == "2"
    assert fg.outputs[0].owner.inputs[0].owner.op == T.exp(s).owner.op


def test_compiling_frees_the_nodes_it_drops(monkeypatch):
    # the collector is paused while compiling; what the compile made joins the oldest
    # generation, and the next full collection frees the cyclic garbage among it (each
    # replaced node and its outputs form a cycle): a compile leaks nothing
    x = T.dvector("x")
    out = _chain_grad(x, 100)
    dropped = []
    replace = FunctionGraph.replace

    def remembering_replace(self, var, new_var, reason=None):
        if var.owner is not None and var is not new_var:
            dropped.append(weakref.ref(var.owner))
        return replace(self, var, new_var, reason)

    monkeypatch.setattr(cache, "enabled", False)
    monkeypatch.setattr(FunctionGraph, "replace", remembering_replace)
    gc.collect()
    f = nbgrad.function([x], out)
    monkeypatch.undo()
    assert gc.isenabled()
    gc.collect()
    # the graph keeps its clone map (user node -> its first copy); nothing else survives
    kept = set(map(id, f.maker.fgraph.equiv.values()))
    alive = [r for r in dropped if r() is not None and id(r()) not in kept]
    assert len(dropped) > 100 and not alive, (len(alive), len(dropped))
    fgraph = weakref.ref(f.maker.fgraph)
    del f
    gc.collect()
    assert fgraph() is None


def test_a_compile_walks_none_of_the_objects_it_made(monkeypatch):
    # no collection runs during a compile, and what it made is moved to the oldest
    # generation without one: the young generation is empty after it
    x = T.dvector("x")
    out = _chain_grad(x, 300)
    collections = []

    def seen(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    monkeypatch.setattr(cache, "enabled", False)
    gc.collect()
    gc.callbacks.append(seen)
    try:
        nbgrad.function([x], out)
        after = gc.get_count()
    finally:
        gc.callbacks.remove(seen)
    assert collections == [] and after[0] < 100, (collections, after)


def test_objects_frozen_by_the_caller_stay_frozen():
    # ``gc.unfreeze`` would release the caller's frozen objects too: then the compile ends
    # with a collection of the young generation instead
    x = T.dvector("x")
    mine = [[]]
    gc.freeze()
    try:
        nbgrad.function([x], _chain_grad(x, 20))
        assert all(o is not mine for o in gc.get_objects())  # still frozen
    finally:
        gc.unfreeze()
    assert any(o is mine for o in gc.get_objects())


def test_a_compile_leaves_the_collector_as_it_found_it():
    x = T.dvector("x")
    gc.disable()
    try:
        nbgrad.function([x], T.tanh(x) * 1)
        assert not gc.isenabled()
    finally:
        gc.enable()


def _reads_one_of(node, classes):
    """True if an input of ``node`` is of one of ``classes`` or computed by an op or an
    Elemwise scalar op of one of them (what ``Rewrite.reads`` promises)."""
    for i in node.inputs:
        if isinstance(i, classes):
            return True
        op = getattr(i.owner, "op", None)
        if isinstance(op, classes) or isinstance(getattr(op, "scalar_op", None), classes):
            return True
    return False


def _chain_link_input(node):
    """True if an input of ``node`` is computed by an Elemwise of its scalar op (a link of
    the chain whose operands a chain rewrite's ``reads`` is about)."""
    sop = type(node.op.scalar_op)
    return any(getattr(i.owner, "op", None) is not None
               and type(getattr(i.owner.op, "scalar_op", None)) is sop for i in node.inputs)


def test_rewrites_that_read_an_op_meet_only_the_nodes_that_read_it(monkeypatch):
    tried = []
    reading = {r.name: r for r in db.by_name.values() if r.reads}
    expected = {"elemwise_alloc", "elemwise_alloc_checked", "elemwise_of_fill", "mul_by_one", "neg_neg"}
    assert expected | {"one_minus_sigmoid", "factor_dot_sum"} <= set(reading)
    for r in reading.values():
        def run(fgraph, node, fn=r.fn, name=r.name, rw=r):
            # (checked now: a later rewrite may change the node's inputs in place)
            reads = _reads_one_of(node, rw.reads) or rw.chain and _chain_link_input(node)
            tried.append((name, str(node), reads))
            return fn(fgraph, node)
        monkeypatch.setattr(r, "fn", run)
    monkeypatch.setattr(cache, "enabled", False)
    x = T.dvector("x")
    # Allocs (ones_like, the gradient's seed), constants, negations, one 1 - sigmoid, products
    # (chain rewrites read their operands: constant_chain a constant or an alloc, the others
    # a sigmoid, an exp, a reciprocal, a sum or a product)
    out = T.grad(T.sum(T.tanh(x) * T.exp(x)), x) + T.ones_like(x) * 2 - (1 - T.sigmoid(-x))
    out = out * T.sin(x) * T.cos(x) + T.exp(x) * T.sigmoid(x)
    f = nbgrad.function([x], out)
    monkeypatch.undo()
    assert {"elemwise_alloc", "mul_by_one", "one_minus_sigmoid", "constant_chain",
            "sigmoid_exp_product"} <= {name for name, _, _ in tried}
    for name, node, reads in tried:
        assert reads, (name, node, reading[name].reads)
    assert np.all(np.isfinite(f(np.array([0.1, -0.2]))))


def test_a_copied_graph_keeps_the_order_of_its_copy():
    from nbgrad.graph.traversal import io_toposort

    x, y = T.dvector("x"), T.dvector("y")
    e = T.exp(x)
    w = nbgrad.shared(np.ones(2), name="w")
    graphs = [
        ([x], [_chain_grad(x, 5)]),
        ([x], [_tree(x, 7), _tree(x, 7) * 2, x]),  # an output that is an input
        ([x, y], [e * y + e, e]),  # shared parts, an output repeated inside
        ([e, y, w], [T.tanh(e) + y * w]),  # an inner variable as input, a shared value
        ([x], [T.constant(np.ones(2)) + x.sum()]),
    ]
    for inputs, outputs in graphs:
        fg = FunctionGraph(inputs, outputs)
        assert fg._order is not None  # the copy's order, not sorted again
        assert fg.toposort() == io_toposort(fg.inputs, fg.outputs)


def test_kernels_that_differ_only_in_their_constants_share_one_program(monkeypatch):
    # the pairwise tree of sin(x·cₖ) fuses into kernels of few shapes: a program is made once
    # per shape, and the shapes grow with the depth of the tree, not with its size
    from nbgrad.backends import cpu_kernels

    program = cpu_kernels._program
    made, kernels = {}, {}
    monkeypatch.setattr(cache, "enabled", False)
    for n in (400, 800):
        monkeypatch.setattr(cpu_kernels, "_PLANS", {})
        count = [0]

        def counting_program(comp, count=count):
            count[0] += 1
            return program(comp)

        monkeypatch.setattr(cpu_kernels, "_program", counting_program)
        x = T.dvector("x")
        f = nbgrad.function([x], _tree(x, n))
        made[n] = count[0]
        kernels[n] = sum(isinstance(getattr(nd.op, "scalar_op", None), Composite)
                         for nd in f.maker.fgraph.apply_nodes)
        v = np.array([0.1, -0.2])
        expected = sum(np.sin(v * (1.0 + k / n)) for k in range(n))
        np.testing.assert_allclose(f(v), expected, rtol=1e-12)
    assert made[800] <= made[400] + 3 and 2 * made[800] < kernels[800], (made, kernels)


def test_a_copied_graph_joins_its_function_graph_without_a_search(monkeypatch):
    # the copy comes in topological order: its nodes are added in that order, one pass
    calls = []
    import_node = FunctionGraph._import_node

    def counting_import(self, node):
        calls.append(node)
        return import_node(self, node)

    monkeypatch.setattr(FunctionGraph, "_import_node", counting_import)
    x = T.dvector("x")
    fg = FunctionGraph([x], [_chain_grad(x, 50), _tree(x, 30), T.constant(1.0)])
    assert not calls and len(fg.apply_nodes) > 200
    for node in fg.apply_nodes:
        for j, i in enumerate(node.inputs):
            assert (node, j) in fg.clients[i]


def test_a_copied_graph_makes_no_tag_for_a_variable_without_notes():
    # a variable's tag is made on first use: the copy of a graph of n nodes does not make n
    # empty tags for the collector to walk (the copy of a noted variable has its notes)
    x = T.dvector("x")
    out = _chain_grad(x, 50)
    noted = out.owner.inputs[0]
    noted.tag.note = "kept"
    fg = FunctionGraph([x], [out])
    copies = [v for v in fg.variables if v not in (x,)]
    tagged = [v for v in copies if "tag" in vars(v)]
    assert len(copies) > 200 and len(tagged) == 1, (len(tagged), len(copies))
    assert tagged[0].tag.note == "kept" and tagged[0].tag is not noted.tag


def test_a_variable_tag_is_made_on_first_use_and_copied_with_its_notes():
    x = T.dvector("x")
    y = T.tanh(x)
    assert "tag" not in vars(y)
    assert y.clone().tag is not y.tag  # each variable has its own tag
    y.tag.note = "kept"
    assert y.tag is y.tag and y.clone().tag.note == "kept"
    bare = y.owner.outputs[0].clone()
    bare.tag.note = "other"
    assert y.tag.note == "kept"
    with pytest.raises(AttributeError, match="'TensorVariable' object has no attribute 'no_such_attribute'"):
        y.no_such_attribute  # noqa: B018


def test_one_hot_batches_are_not_looked_for_where_none_can_start(monkeypatch):
    # push_one_hot reads every node's inputs only in a graph with a OneHot or Diagonals
    # node or a constant of three dimensions or more
    from nbgrad.rewriting import onehot

    calls = []
    push = onehot._push

    def counting_push(node):
        calls.append(node)
        return push(node)

    monkeypatch.setattr(cache, "enabled", False)
    monkeypatch.setattr(onehot, "_push", counting_push)
    x = T.dvector("x")
    nbgrad.function([x], _tree(x, 64))
    assert calls == []
    t = T.dtensor3("t")
    nbgrad.function([t], t * np.ones((2, 3, 4)))
    assert calls


def test_fusion_makes_no_inner_graph_that_nothing_reads(monkeypatch):
    # a fused kernel is made from its steps; its inner graph of 0-d nodes is made only when
    # read: by the program of a new kernel shape, a printer, a gradient. With the shapes of
    # the tree's kernels known, compiling it again makes no 0-d node at all (before: one per
    # fused operation, 2 397 for 800 terms)
    x = T.dvector("x")
    monkeypatch.setattr(cache, "enabled", False)
    nbgrad.function([x], _tree(x, 800))
    out = _tree(x, 800)
    made = []
    apply_init = basic.Apply.__init__

    def counting_init(self, op, inputs, outputs):
        made.append(outputs[0].ndim)
        apply_init(self, op, inputs, outputs)

    structural_copy = basic.Apply.structural_copy

    def counting_copy(self, inputs):  # the copy of the graph, node by node
        made.append(self.outputs[0].ndim)
        return structural_copy(self, inputs)

    monkeypatch.setattr(basic.Apply, "__init__", counting_init)
    monkeypatch.setattr(basic.Apply, "structural_copy", counting_copy)
    f = nbgrad.function([x], out)
    monkeypatch.undo()
    assert len(made) > 2000 and made.count(0) == 0, (len(made), made.count(0))
    kernels = [nd.op.scalar_op for nd in f.maker.fgraph.apply_nodes
               if isinstance(getattr(nd.op, "scalar_op", None), Composite)]
    assert len(kernels) > 2
    for comp in kernels:  # read, the inner graph gives the same op again
        again = Composite(comp.inputs, comp.outputs)
        assert again == comp and again.name == comp.name and again.nodes == comp.nodes
    v = np.array([0.1, -0.2])
    np.testing.assert_allclose(f(v), sum(np.sin(v * (1.0 + k / 800)) for k in range(800)), rtol=1e-12)


def test_the_size_tests_of_thunks_are_written_once_per_form(monkeypatch):
    # every elementwise node's thunk picks its small or large form by a generated size test;
    # the thunks of a chain's nodes share one form, whose source is written once, not per node
    from nbgrad.backends import cpu_kernels

    written = []
    source = cpu_kernels._size_dispatch_source

    def counting_source(*args):
        written.append(args[0])
        return source(*args)

    for n in (400, 800):
        monkeypatch.setattr(cpu_kernels, "_DISPATCH_CODE", {})
        monkeypatch.setattr(cpu_kernels, "_size_dispatch_source", counting_source)
        written.clear()
        x = T.dvector("x")
        _compile_cold(monkeypatch, x, _chain_grad(x, n))
        assert 0 < len(written) <= 4, (n, written)


def test_a_copy_into_a_function_graph_runs_no_node_constructor(monkeypatch):
    # each node is copied with its op, trace, and outputs' names and notes, without
    # ``Apply.__init__`` (which looks for a trace) or a comparison of input types
    x = T.dvector("x")
    y = T.tanh(x * 2)
    y.name = "y"
    y.tag.note = "kept"
    out = _chain_grad(y, 30)
    calls = []
    init = basic.Apply.__init__
    monkeypatch.setattr(basic.Apply, "__init__", lambda self, *a: calls.append(1) or init(self, *a))
    monkeypatch.setattr(TensorType, "__eq__", lambda *a: pytest.fail("types compared"))
    fg = FunctionGraph([x], [out])
    monkeypatch.undo()
    assert calls == []
    originals = {n: c for n, c in fg.equiv.items() if isinstance(n, basic.Apply)}
    assert len(originals) == len(fg.apply_nodes) > 150
    for node, copy in originals.items():
        assert copy.op is node.op and copy.tag.trace == node.tag.trace
        assert [i.type for i in copy.inputs] == [i.type for i in node.inputs]
        assert all(o.owner is copy and o.index == k for k, o in enumerate(copy.outputs))
    copy_y = fg.equiv[y]
    assert copy_y.name == "y" and copy_y.tag.note == "kept" and copy_y is not y


def test_a_folded_or_merged_constant_keeps_the_graphs_order(monkeypatch):
    # putting a constant in place of a node that reads only constants (constant folding)
    # or of another constant (merge) moves no other node: the order is kept, less the
    # node that goes, and is the order a new sort gives; other replacements sort again
    from nbgrad.graph.traversal import io_toposort
    from nbgrad.rewriting.constant_folding import constant_folding

    x = T.dvector("x")
    terms = [T.sin(x * (k + 1.5)) + T.exp(x * 2.0) for k in range(6)]
    out = terms[0]
    for t in terms[1:]:
        out = out * t
    fg = FunctionGraph([x], [out])
    sorts = []
    monkeypatch.setattr(fg_module, "io_toposort", lambda *a: sorts.append(1) or io_toposort(*a))
    fg.toposort()
    folded = [n for n in fg.toposort() if all(isinstance(i, basic.Constant) for i in n.inputs)]
    assert len(folded) == 12
    for n in folded:
        fg.replace(n.outputs[0], constant_folding(fg, n)[0], reason="test")
    assert fg.toposort() == io_toposort(fg.inputs, fg.outputs) and sorts == []
    twos = [c for c in fg.variables if isinstance(c, basic.Constant) and float(c.data[0]) == 2.0]
    assert len(twos) == 6
    for c in twos[1:]:
        fg.replace(c, twos[0], reason="test")
    assert fg.toposort() == io_toposort(fg.inputs, fg.outputs) and sorts == []
    exps = [n for n in fg.toposort() if n.op == T.exp(x).owner.op]
    fg.replace(exps[1].outputs[0], exps[0].outputs[0], reason="test")  # a node moves
    assert fg.toposort() == io_toposort(fg.inputs, fg.outputs) and sorts == [1]


def test_contracting_products_looks_no_further_at_vectors(monkeypatch):
    # only products of two or more dimensions can be contracted: the gradient of a chain of
    # vectors has none, and its nodes' ops are not read
    from nbgrad.rewriting import contraction

    x = T.dvector("x")
    fg = FunctionGraph([x], [_chain_grad(x, 100)])
    read = []
    is_op = contraction.is_op
    monkeypatch.setattr(contraction, "is_op", lambda *a: read.append(1) or is_op(*a))
    assert contraction.contract_products(fg) == 0
    assert read == []
