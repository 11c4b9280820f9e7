"""Buffer reuse: an elementwise result written into an input buffer nobody needs any more.

An input buffer may be overwritten only if it was allocated during the call by
its node (``Op.allocates``: Elemwise, Alloc, Dot, Matmul; never a user input, a
constant, a shared variable's value or a view of one), this node is its only
user apart from nodes that read just its shape (``Op.reads_input_values`` false:
``Shape``, ``Shape_i``; an in-place result keeps the shape), and it is not an
output. At run time, when broadcasting makes the result
larger than that buffer, the node computes into a fresh array instead.

Writing into a product's buffer is what makes ``tanh(x·W + b)``, the derivative
``g·(1 − y²)`` and the update ``W − lr·gW`` allocate nothing: NumPy's ``dot`` returns a
new array, and the elementwise step that follows reuses it.
"""

from nbgrad.backends.cpu_kernels import inplace_evaluator
from nbgrad.rewriting.db import graph_rewriter
from nbgrad.rewriting.driver import replace_node
from nbgrad.scalar.composite import Composite
from nbgrad.tensor.elemwise import _broadcast_checker, Elemwise, _may_be_host


class InplaceElemwise(Elemwise):
    """``Elemwise`` whose result overwrites input ``inplace`` (see ``destroy_map``)."""

    __props__ = ("scalar_op", "inplace")

    def __init__(self, scalar_op, inplace):
        super().__init__(scalar_op)
        self.inplace = int(inplace)
        self.destroy_map = {0: [self.inplace]}
        self.name = f"{scalar_op.name}_inplace"

    def make_thunk(self, node, xp):
        if xp.__name__ != "numpy" and any(_may_be_host(i) for i in node.inputs):
            return Elemwise.make_thunk(self, node, xp)  # host shape values: no device buffer
        fn = self.scalar_op.impl(xp)
        k = self.inplace
        check = _broadcast_checker(node)
        if xp.__name__ == "numpy" and isinstance(self.scalar_op, Composite):
            return inplace_evaluator(self.scalar_op, self.nin, k, check)

        def inplace_thunk(*args):
            if check is not None:
                check(args)  # Theano's rule, as in Elemwise: sizes of unknown axes agree
            try:
                return fn(*args, out=args[k])
            except ValueError:  # broadcasting made the result larger than the buffer
                return fn(*args)

        return inplace_thunk


def _fresh(v):
    return v.owner is not None and v.owner.op.allocates(v)


def _only_user(fgraph, v, node):
    """Whether ``node`` is the one client of ``v`` that reads its values."""
    readers = [c for c, _ in fgraph.clients.get(v, ()) if getattr(c, "op", None) is None or c.op.reads_input_values]
    return len(readers) == 1 and readers[0] is node


@graph_rewriter("inplace", tags=("fast_run", "inplace"))
def elemwise_inplace(fgraph):
    """Elemwise nodes write into a dead input buffer of the same dtype and shape."""
    n = 0
    for node in fgraph.toposort():
        if type(node.op) is not Elemwise or node.outputs[0].ndim == 0:
            continue
        out = node.outputs[0]
        for k, v in enumerate(node.inputs):
            if not _fresh(v) or v.dtype != out.dtype or v.type.broadcastable != out.type.broadcastable:
                continue
            if not _only_user(fgraph, v, node):
                continue
            new = InplaceElemwise(node.op.scalar_op, k).make_node(*node.inputs).outputs[0]
            replace_node(fgraph, node, [new], "elemwise_inplace")
            n += 1
            break
    return n
