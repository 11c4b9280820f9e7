"""Primitives: the unit the eager tape records.

A ``Primitive`` is a small symbolic graph, built once by calling a function of
``nbgrad.tensor`` on symbolic stand-ins, and compiled once with
``nbgrad.function``. Its vector-Jacobian product is another Primitive, built
from the same graph with ``nbgrad.gradient.Lop`` (so from each op's own
``L_op``) and compiled once per set of inputs that need a gradient. The VJP of
a VJP is again a Primitive, which is what makes ``create_graph=True`` work to
any order.

Compiled code is cached per backend: the same Primitive compiled with
``backend='cpu'`` runs NumPy arrays, compiled with ``backend='gpu'`` CuPy
arrays. A ``Transfer`` is the one primitive that is not compiled: it copies a
value between devices, and its VJP copies the gradient back.
"""

from nbgrad.compile.function import function
from nbgrad.eager.device import move, xp_of, device_of
from nbgrad.gradient import Lop
from nbgrad.graph.replace import clone_replace
from nbgrad.graph.traversal import ancestors
from nbgrad.tensor import zeros_like
from nbgrad.tensor.type import TensorType, discrete_dtypes

__all__ = ["Primitive", "Transfer", "standin_type", "zeros_for"]


def standin_type(array):
    """The symbolic type standing for ``array``: its dtype, and size 1 where it has size 1.

    Every other dimension is unknown, so one compiled primitive serves all
    sizes that broadcast the same way.
    """
    return TensorType(array.dtype, tuple(1 if s == 1 else None for s in array.shape))


class Primitive:
    """A compiled symbolic graph from ``inputs`` (stand-ins) to ``outputs``.

    Parameters
    ----------
    inputs : list of Variable
        Free symbolic variables, one per eager tensor argument.
    outputs : list of Variable
    label : str
        The name shown in errors and in ``Tensor.grad_fn``.
    """

    def __init__(self, inputs, outputs, label):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.label = label
        self.differentiable = [o.dtype not in discrete_dtypes for o in self.outputs]
        self._fns = {}
        self._vjps = {}

    def __repr__(self):
        return f"<Primitive {self.label}>"

    # Transfers take inputs on several devices; every other primitive needs one.
    crosses_devices = False
    # A call of an ``autograd.Function`` is not a Primitive; the tape asks its own backward.
    custom = False

    def run(self, arrays, device="cpu"):
        """The output arrays for input ``arrays`` (a list, one per input), all on ``device``."""
        fn = self._fns.get(device)
        if fn is None:
            fn = self._fns[device] = self._compile(device)
        return fn(*arrays)

    def runner(self, device="cpu"):
        """The callable behind ``run`` on ``device``: ``runner(*arrays)`` gives the outputs.

        Its attribute ``raw`` is the linked program itself, without input
        checks, for callers that pass exactly the stand-ins' dtypes and ranks
        (on an exception, call the runner to get the explained error). For a
        primitive with one output, ``kernel(*arrays)`` is that output alone, as
        ``raw`` computes it (the one node's thunk itself when the program is a
        single node), else None.
        """
        fn = self._fns.get(device)
        if fn is None:
            fn = self._fns[device] = self._compile(device)
        return fn

    def _compile(self, device):
        f = function(self.inputs, list(self.outputs), on_unused_input="ignore",
                     name=self.label, backend=device)
        raw = f._fn
        n_out = len(self.outputs)

        # The eager front end builds every argument itself with the exact dtype
        # of its stand-in, so the checked entry point is only used to explain
        # a failure.
        def call(*arrays):
            try:
                res = raw(*arrays)
            except Exception:  # noqa: BLE001 - re-run through the checked path for context
                res = f(*arrays)
            return res[:n_out] if len(res) != n_out else res

        # Without updates the program returns exactly the outputs; else keep the slicing.
        call.raw = raw if getattr(f, "_has_updates", True) is False else call
        call.kernel = None
        if n_out == 1 and call.raw is raw:
            call.kernel = f._program.kernel or _first_output(raw)
        return call

    def vjp(self, needs):
        """The Primitive computing the input gradients flagged in ``needs``.

        Its inputs are this primitive's inputs, then its outputs, then one
        output gradient per differentiable output; its outputs are the
        gradients of the inputs with ``needs[i]`` true, in order. The
        attribute ``uses`` says which of its inputs the gradients read (so
        that only those are checked for in-place changes).
        """
        key = tuple(needs)
        prim = self._vjps.get(key)
        if prim is None:
            prim = self._vjps[key] = self._build_vjp(key)
        return prim

    def _build_vjp(self, needs):
        outs = [o for o, d in zip(self.outputs, self.differentiable) if d]
        out_standins = [o.type() for o in self.outputs]
        gouts = [o.type() for o in outs]
        wrt = [x for x, n in zip(self.inputs, needs) if n]
        grads = Lop(outs, wrt, gouts, disconnected_inputs="ignore") if outs else []
        if not isinstance(grads, list):
            grads = [grads]
        # Read the forward outputs from the tape instead of recomputing them.
        grads = clone_replace(grads, dict(zip(self.outputs, out_standins))) if grads else []
        inputs = self.inputs + out_standins + gouts
        used = {id(v) for v in ancestors(grads)} if grads else set()
        prim = Primitive(inputs, grads, f"{self.label}_backward")
        prim.uses = [id(v) in used for v in inputs]
        return prim


class Transfer(Primitive):
    """Copies input ``moved`` to device ``target``; every other output is zeros.

    ``sources[j]`` says what output ``j`` is: the moved input when it equals
    ``moved``, else zeros shaped like that input (the gradient of an input a
    transfer does not read). ``x.to('gpu')`` is ``Transfer([x], [x], [0], 0,
    'gpu')``; its VJP is a Transfer back to ``x``'s device of the output
    gradient, and so on to any order. Symbolically a transfer is the identity,
    which is what tracing sees.
    """

    crosses_devices = True

    def __init__(self, inputs, outputs, sources, moved, target, label):
        super().__init__(inputs, outputs, label)
        self.sources = list(sources)
        self.moved = moved
        self.target = target

    def run(self, arrays, device=None):
        return [move(arrays[k], self.target) if k == self.moved else zeros_for(arrays[k])
                for k in self.sources]

    def _build_vjp(self, needs):
        n_in, n_out = len(self.inputs), len(self.outputs)
        out_standins = [o.type() for o in self.outputs]
        diff = [j for j in range(n_out) if self.differentiable[j]]
        gouts = [self.outputs[j].type() for j in diff]
        inputs = self.inputs + out_standins + gouts
        carried = [j for j in diff if self.sources[j] == self.moved]
        g_moved = n_in + n_out + diff.index(carried[0]) if carried else None
        sources, outputs = [], []
        for i, n in enumerate(needs):
            if not n:
                continue
            if i == self.moved and g_moved is not None:
                sources.append(g_moved)
                outputs.append(inputs[g_moved])
            else:
                sources.append(i)
                outputs.append(zeros_like(self.inputs[i]))
        source_device = self.source_device
        prim = Transfer(inputs, outputs, sources, g_moved, source_device,
                        f"{self.label}_backward")
        prim.source_device = self.target
        prim.uses = [k == g_moved for k in range(len(inputs))]
        return prim


def _first_output(raw):
    """``raw(*arrays)[0]``: the single-output form of a linked program."""
    def kernel(*arrays):
        return raw(*arrays)[0]

    return kernel


def transfer(array, target):
    """The Transfer primitive moving a value shaped like ``array`` to ``target``."""
    x = standin_type(array)("x")
    prim = Transfer([x], [x], [0], 0, target, f"to_{target}")
    prim.source_device = device_of(array)
    return prim


def zeros_for(array):
    """A zero output gradient for ``array``, on its device."""
    return xp_of(array).zeros(array.shape, dtype=array.dtype)
