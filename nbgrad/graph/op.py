"""The Op base class: everything nbgrad knows about one operation.

An Op owns, in one class: its identity (``__props__``), how to build its
outputs from input types (``make_node``), how to compute them on an array
backend (``perform``), output shapes (``infer_shape``), its vector-Jacobian
product (``L_op``), its Jacobian-vector product (``R_op``), and how it prints.
"""

from typing import NamedTuple

from nbgrad.graph.nograd import grad_not_implemented, rop_not_implemented

__all__ = ["LengthRule", "Op", "PropsIdentity"]


class LengthRule(NamedTuple):
    """One fact about the run-time length of an op's vector output (``Op.length_rules``).

    ``kind`` says what the fact is: ``"length"``, the output has the length of
    vector ``var``; ``"size"``, its length is the integer scalar ``var``;
    ``"slice"``, it is ``var[start:stop]`` for ``bounds = (start, stop)``.
    ``when_run``: the fact holds only where the op runs (a check it makes
    then, as an elementwise op's on its operands), not by the output's type.
    ``reads``: the op reads ``var``'s values, so computing the output computes
    ``var`` (False where it only reads its shape).
    """

    kind: str
    var: object
    when_run: bool = False
    reads: bool = True
    bounds: tuple = None


class PropsIdentity:
    """Identity is data: equal iff same class and equal ``__props__`` attributes."""

    __props__ = ()

    def _props(self):
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other):
        return type(self) is type(other) and self._props() == other._props()

    def __hash__(self):
        # ops are immutable, and a hash is asked for at every merge, rewrite and fusion
        # step: computed once (a Composite's props are a whole inner graph)
        h = self.__dict__.get("_props_hash")
        if h is None:
            h = self.__dict__["_props_hash"] = hash((type(self), self._props()))
        return h


class Op(PropsIdentity):
    """Base class of all operations.

    Identity is data: two ops are equal iff they are of the same class and
    their ``__props__`` attributes are equal. Ops are immutable.
    """
    #: The output (index) a result aliases or overwrites: {out: [in, ...]}.
    view_map = {}
    destroy_map = {}
    #: Every entry of the output is an entry of input 0 (a fill, a broadcast, a slice, a
    #: size check): a value that is all one number gives an output that is all that number.
    entries_of_first_input = False
    #: The op reads its inputs' values; False for one that reads only their shapes (``Shape``).
    reads_input_values = True

    def __str__(self):
        name = type(self).__name__
        if not self.__props__:
            return name
        args = ", ".join(str(p) for p in self._props())
        return f"{name}{{{args}}}"

    __repr__ = __str__

    def __call__(self, *inputs, **kwargs):
        node = self.make_node(*inputs, **kwargs)
        if len(node.outputs) == 1:
            return node.outputs[0]
        return node.outputs

    def make_node(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__}.make_node")

    def perform(self, node, inputs, xp):
        """Compute the outputs from input arrays with array module ``xp``.

        Returns one array for a single-output op, else a tuple.
        """
        raise NotImplementedError(f"{type(self).__name__}.perform")

    def make_thunk(self, node, xp):
        """A callable ``f(*input_arrays)`` computing this node's output(s).

        The default binds ``perform``; ops override it to return a faster
        callable (e.g. a NumPy ufunc directly).
        """
        perform = self.perform

        def thunk(*args):
            return perform(node, args, xp)

        return thunk

    def infer_shape(self, fgraph, node, input_shapes):
        raise NotImplementedError(f"{type(self).__name__}.infer_shape")

    def L_op(self, inputs, outputs, output_grads):
        return [grad_not_implemented(self, i, x) for i, x in enumerate(inputs)]

    def R_op(self, inputs, eval_points):
        return rop_not_implemented(self)

    def vectorize_node(self, node, inputs):
        """This node's outputs over a batch: the op's batching rule (used by ``vectorize_graph``).

        ``inputs`` stand for ``node.inputs``; a batched one has one more
        dimension, a leading batch axis. Returns the new outputs (a list, one
        per output of ``node``; a batched one with its batch axis first), or
        None when the op has no batched form for these inputs: the
        transformation then loops over the batch at run time (``Blockwise``).
        """
        return None

    def vectorize_banded_node(self, node, inputs, bands):
        """This node's outputs when its batched inputs are banded (``nbgrad.vectorize.vectorize_banded``).

        ``bands`` (a ``nbgrad.banded.BandedBatches``) holds the ``Band`` of
        each batched one among ``inputs``: every batched input has one. An op
        whose result stays banded returns ``[bands.output(band)]`` (or any
        outputs, as ``vectorize_node``); None, the default, batches the node
        with ``vectorize_node`` on the dense batches instead.
        """
        return None

    def allocates(self, out):
        """Whether output ``out`` is a new array this op allocates on each call, aliased by nothing else.

        Buffer reuse (``nbgrad.rewriting.inplace``) may write an elementwise
        result into such a buffer once nothing else reads it. False, the default.
        """
        return False

    def dim_rule(self, node, out, d):
        """Where the size of axis ``d`` of output ``out`` of ``node`` comes from, without running it.

        One of ``("key", n)``: the static size ``n``; ``("entry", s)``: the
        integer scalar ``s``; ``("via", v, d2)``: the size of axis ``d2`` of
        ``v``; ``("set", vs, d2)``: the size of axis ``d2`` of each of ``vs``,
        checked equal when the op runs. None, the default, lets the caller read
        it off ``infer_shape`` (used by the rewrites' size keys,
        ``nbgrad.rewriting.patterns.dim_key``).
        """
        return None

    def length_rules(self, node):
        """What says the run-time length of this op's vector output: a list of ``LengthRule``.

        Read by the banded Jacobian (``nbgrad.banded``) to show two vectors of
        unknown length to have one length. Empty, the default, when the op
        gives no such fact; only asked of a node whose output is a vector.
        """
        return ()

    def connection_pattern(self, node):
        """[[input i influences output j]] — all True by default."""
        return [[True] * len(node.outputs) for _ in node.inputs]
