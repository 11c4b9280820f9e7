"""Elemwise (a scalar op lifted to arrays, with broadcasting) and DimShuffle."""

import numpy as np

from nbgrad.backends.cpu_kernels import cpu_impl, node_evaluator, result_keeping
from nbgrad.config import config
from nbgrad.graph.basic import Apply, Variable
from nbgrad.graph.op import LengthRule, Op
from nbgrad.graph.nograd import disconnected_type
from nbgrad.scalar.basic import DISCONNECTED, ZERO, Add, Cast, Mul, Neg, Sub, TrueDiv, Where
from nbgrad.scalar.composite import Composite
from nbgrad.tensor.basic import as_tensor_variable, as_weak_operand
from nbgrad.tensor.batching import is_batched
from nbgrad.tensor.type import TensorType, discrete_dtypes

__all__ = ["Elemwise", "DimShuffle", "broadcast_shapes"]


def broadcast_shapes(*shapes, names=None):
    """The static shape NumPy broadcasting gives; raise if two known sizes clash."""
    ndim = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
    out = []
    for axis in range(ndim):
        sizes = {s[axis] for s in padded} - {1}
        known = {s for s in sizes if s is not None}
        if len(known) > 1:
            raise ValueError(
                f"shapes {', '.join(map(str, shapes))} cannot be broadcast together: "
                f"axis {axis} has sizes {sorted(known)}"
            )
        if not sizes:
            out.append(1)
        elif known and None not in sizes:
            out.append(known.pop())
        elif known:
            out.append(known.pop())
        else:
            out.append(None)
    return tuple(out)


class Elemwise(Op):
    """Apply ``scalar_op`` elementwise with Theano's broadcasting rule.

    Inputs of lower rank are left-padded with broadcastable dimensions (by a
    DimShuffle), so every input has the output's rank. A dimension broadcasts
    only where its type says so (static size 1); a run-time size of 1 in a
    dimension of unknown size does not stretch, it raises (see
    ``_broadcast_checker``). So the gradient of each input is ``gz * ∂z/∂x``
    summed over the statically broadcast dimensions, with no run-time guards.
    """

    __props__ = ("scalar_op",)

    def __init__(self, scalar_op, name=None):
        self.scalar_op = scalar_op
        self.nin = scalar_op.nin
        self.name = name or scalar_op.name

    def __str__(self):
        return self.name

    def make_node(self, *inputs):
        if len(inputs) != self.nin:
            raise TypeError(f"{self.name} takes {self.nin} input(s), got {len(inputs)}")
        if not all(isinstance(x, Variable) and isinstance(x.type, TensorType) for x in inputs):
            inputs = [as_weak_operand(x, inputs) for x in inputs]
            inputs = [as_tensor_variable(x) for x in inputs]
        types = [x.type for x in inputs]
        dtype = self.scalar_op.output_dtype(*[t.dtype for t in types])
        first = types[0] if types else None
        if first is not None and all(t.shape == first.shape for t in types):
            # the common case, and every rewrite's: one shape, no broadcasting; the output
            # shares its first operand's type when that type is already the right one
            if type(first) is TensorType and first.dtype == dtype:
                return Apply(self, inputs, [first()])
            return Apply(self, inputs, [TensorType(dtype, first.shape)()])
        ndim = max(x.ndim for x in inputs)
        inputs = [
            x if x.ndim == ndim else DimShuffle(x.ndim, ("x",) * (ndim - x.ndim) + tuple(range(x.ndim)))(x)
            for x in inputs
        ]
        shape = broadcast_shapes(*(x.type.shape for x in inputs))
        return Apply(self, inputs, [TensorType(dtype, shape)()])

    def perform(self, node, inputs, xp):
        return xp.asarray(self.scalar_op.impl(xp)(*inputs))

    def make_thunk(self, node, xp):
        check = _broadcast_checker(node)
        thunk, checks = self._make_thunk(node, xp, check)
        if check is None or checks:
            return thunk

        def checked(*args):
            check(args)
            return thunk(*args)

        return checked

    def _make_thunk(self, node, xp, check):
        """``(thunk, whether it calls check itself)``."""
        out_type = node.outputs[0].type
        if xp is np and out_type.ndim != 0:
            return self._numpy_thunk(node, out_type, check)
        fn = self.scalar_op.impl(xp)
        if xp is np:
            dtype = np.dtype(out_type.dtype)
            if isinstance(self.scalar_op, Composite):  # one element: the direct form, no size test
                fn = fn.small

            def scalar_thunk(*args):
                return np.asarray(fn(*args), dtype=dtype)

            return scalar_thunk, False
        if any(_may_be_host(i) for i in node.inputs):
            return _host_mixing_thunk(fn, self.scalar_op.impl(np), xp), False
        return fn, False

    def _numpy_thunk(self, node, out_type, check):
        """``_make_thunk`` on NumPy for a result of one dimension or more."""
        # Decided from the types, once: an operand that has the result's shape (its
        # size picks the small or large form) or the result's static size.
        out_shape = out_type.shape
        full = None
        for k, x in enumerate(node.inputs):
            shape = x.type.shape
            if shape == out_shape or all(s != 1 or o == 1 for s, o in zip(shape, out_shape)):
                full = k
                break
        size = int(np.prod(out_shape)) if None not in out_shape else None
        if isinstance(self.scalar_op, Composite):  # a Composite keeps its own results
            # an operand of the result's broadcast pattern has its shape (a size that is
            # not known never stretches); one broadcast on every axis may come 0-d (linker)
            out_bc = out_type.broadcastable
            whole = [x.type.broadcastable == out_bc and not all(out_bc) for x in node.inputs]
            return node_evaluator(self.scalar_op, self.nin, full, size, check, whole), True
        in_dtypes = [i.type.dtype for i in node.inputs]
        thunk = result_keeping(cpu_impl(self.scalar_op, in_dtypes), in_dtypes, out_type.dtype, full, size, check)
        return thunk, getattr(thunk, "checks", False)

    def infer_shape(self, fgraph, node, input_shapes):
        # Every input whose type does not broadcast on an axis has the output's size
        # there (checked at run time), so the first such input gives it.
        out = []
        for axis, size in enumerate(node.outputs[0].type.shape):
            if size is not None:
                out.append(size)
                continue
            out.append(next(s[axis] for s, x in zip(input_shapes, node.inputs) if x.type.shape[axis] != 1))
        return [tuple(out)]

    def dim_rule(self, node, out, d):
        # Theano's rule: every operand that is not broadcast on axis d has the result's size
        cands = [i for i in node.inputs if i.type.shape[d] != 1]
        if len(cands) == 1:
            return ("via", cands[0], d)
        if len(cands) > 1:
            return ("set", cands, d)
        return None

    def length_rules(self, node):
        # the operands whose type does not broadcast have the result's length, checked as it runs
        operands = [i for i in node.inputs if i.ndim == 1 and i.type.shape[0] != 1]
        return [LengthRule("length", i, when_run=True) for i in operands]

    def allocates(self, out):
        return out.ndim > 0  # a 0-d result may be a NumPy scalar, not a buffer

    # --- derivatives ----------------------------------------------------------
    def _partials(self, inputs, outputs):
        # lazy: the scalar ops write their partials against the nbgrad.tensor namespace, built on Elemwise
        import nbgrad.tensor as m

        return self.scalar_op.partials(m, list(inputs), outputs[0])

    def L_op(self, inputs, outputs, output_grads):
        """x̄ᵢ = sum_to_shape(z̄ · ∂z/∂xᵢ) for each input xᵢ."""
        # lazy: circle inside tensor/: math.py (zeros, reductions) builds on Elemwise
        from nbgrad.tensor.math import symbolic_zero

        (gz,) = output_grads
        out = outputs[0]
        if out.dtype in discrete_dtypes:
            return [disconnected_type() for _ in inputs]
        partials = self._partials(inputs, outputs)
        grads = []
        for x, p in zip(inputs, partials):
            if x.dtype in discrete_dtypes or p is DISCONNECTED:
                grads.append(disconnected_type())
                continue
            if p is ZERO:
                grads.append(symbolic_zero(x))
                continue
            if isinstance(p, Where):
                # lazy: the scalar ops write their partials against the nbgrad.tensor namespace, built on Elemwise
                import nbgrad.tensor as m

                g = p.times(m, gz)
            else:
                g = gz if p == 1 and not isinstance(p, Variable) else (
                    -gz if p == -1 and not isinstance(p, Variable) else gz * p)
            g = sum_to(g, x)
            if g.dtype != x.dtype:
                g = cast(g, x.dtype)
            grads.append(g)
        return grads

    def R_op(self, inputs, eval_points):
        """ż = Σᵢ ∂z/∂xᵢ · ẋᵢ."""
        out = self.make_node(*inputs).outputs[0]
        if out.dtype in discrete_dtypes:
            return [None]
        partials = self._partials(inputs, [out])
        total = None
        for x, p, ev in zip(inputs, partials, eval_points):
            if ev is None or p is DISCONNECTED or p is ZERO or x.dtype in discrete_dtypes:
                continue
            if isinstance(p, Where):
                # lazy: the scalar ops write their partials against the nbgrad.tensor namespace, built on Elemwise
                import nbgrad.tensor as m

                term = p.times(m, ev)
            else:
                term = ev if (p == 1 and not isinstance(p, Variable)) else (
                    -ev if (p == -1 and not isinstance(p, Variable)) else p * ev)
            total = term if total is None else total + term
        if total is None:
            return [None]
        # lazy: circle inside tensor/: math.py (zeros, reductions) builds on Elemwise
        from nbgrad.tensor.math import zeros_like

        total = total + zeros_like(out) if total.type.shape != out.type.shape else total
        if total.dtype != out.dtype:
            total = cast(total, out.dtype)
        return [total]

    def vectorize_node(self, node, inputs):
        """Lower-rank (unbatched) inputs are padded on the left: exactly the batch axis."""
        return self.make_node(*inputs).outputs

    def vectorize_banded_node(self, node, inputs, bands):
        """Banded rows of a vector stay banded when scaled, divided, negated, added or subtracted.

        Scaling multiplies each diagonal by the unbatched operands (the
        identity's diagonal of ones is replaced by the operand itself); sums
        merge diagonals. A core axis that broadcasts would not stay banded.
        """
        out = node.outputs[0]
        banded = bands.banded_indices(inputs)
        if out.ndim != 1 or not all(bands.no_broadcast(node.inputs[i], out) for i in banded):
            return None
        scalar = self.scalar_op
        band = None
        if isinstance(scalar, Mul) and len(banded) == 1:
            (k,) = banded
            others = [x for i, x in enumerate(inputs) if i != k]
            if any(o.ndim > 1 for o in others):
                return None

            def scale(d):
                for o in others:
                    if bands.is_ones(d) and o.dtype == d.dtype and o.ndim == 1 and bands.no_broadcast(o, d):
                        d = bands.checked_length(o, d)  # diag(1)·o: no product with ones
                    else:
                        d = d * o
                return d

            band = bands[inputs[k]].map(scale)
        elif isinstance(scalar, TrueDiv) and banded == [0]:
            band = bands[inputs[0]].map(lambda d: d / inputs[1]) if inputs[1].ndim <= 1 else None
        elif isinstance(scalar, Neg):
            band = bands[inputs[0]].map(lambda d: -d)
        elif isinstance(scalar, (Add, Sub)) and len(banded) == len(inputs):
            band = bands[inputs[0]]
            for i, x in enumerate(inputs[1:], start=1):
                band = band.add(bands[x], -1 if isinstance(scalar, Sub) and i == 1 else 1)
        return None if band is None else [bands.output(band)]


def cast(x, dtype):
    """``x`` converted to ``dtype`` (the identity when it already has it).

    The one elementwise op that the derivative rules of Elemwise and of the shape
    ops build themselves, so it is defined here, below them; ``nbgrad.tensor.math``
    re-exports it with the other elementwise functions.
    """
    x = as_tensor_variable(x)
    dtype = config.floatX if dtype == "floatX" else np.dtype(dtype).name
    if x.dtype == dtype:
        return x
    return Elemwise(Cast(dtype))(x)


def sum_to(g, x, runtime=False):
    """Sum ``g`` over the axes along which ``x`` was broadcast to ``g``'s shape.

    For Elemwise, only axes where ``x`` has static size 1 (and leading axes
    ``x`` lacks) can have been broadcast: a dimension of unknown size never
    stretches at run time (``_broadcast_checker``), so the sum is decided here,
    in the graph. Ops that assign with NumPy's rule (``Alloc``, ``IncSubtensor``,
    batched ``matmul``) pass ``runtime=True``: an axis of unknown size then
    gets a ``SumToShape`` that decides at run time.
    """
    # lazy: circle inside tensor/: math.py (reductions) and shape.py build on this module
    from nbgrad.tensor.math import sum as _sum
    from nbgrad.tensor.shape import shape

    extra = g.ndim - x.ndim
    if extra > 0:
        g = _sum(g, axis=tuple(range(extra)))
    axes = tuple(
        i for i, (bx, bg) in enumerate(zip(x.type.broadcastable, g.type.broadcastable)) if bx and not bg
    )
    if axes:
        g = _sum(g, axis=axes, keepdims=True)
    if runtime and any(sx is None and g.type.shape[d] != 1 for d, sx in enumerate(x.type.shape)):
        g = SumToShape()(g, shape(x))
    return g


def broadcast_error(what, shapes, types, axis, names=None):
    """The error for a run-time size 1 meeting a non-broadcastable dimension.

    ``shapes``/``types`` are those of the operands; ``names`` how to call them.
    """
    names = names or [f"operand {k}" for k in range(len(shapes))]
    sizes = {s[axis] for s in shapes}
    parts = [f"{n} has shape {tuple(s)} ({t})" for n, s, t in zip(names, shapes, types)]
    lone = [n for n, s, t in zip(names, shapes, types) if s[axis] == 1 and t.shape[axis] != 1]
    hint = ""
    if lone and len(sizes - {1}) == 1:
        hint = (
            f". {', '.join(lone)} has size 1 on axis {axis}, but its type does not allow broadcasting "
            "there (nbgrad follows Theano: only dimensions of static size 1 broadcast). Declare it "
            "broadcastable, e.g. T.row / T.col, T.tensor(dtype, shape=(1, None)), "
            "T.TensorType(dtype, broadcastable=(True, False)), or x.dimshuffle('x', 0) for a vector "
            "to broadcast as a row, or pass a value of the full size"
        )
    return ValueError(
        f"{what}: operands do not have the same size on axis {axis} "
        f"(sizes {sorted(s for s in sizes)}): {'; '.join(parts)}{hint}"
    )


def _operand_name(var):
    if var.name:
        return repr(var.name)
    node = var.owner
    while node is not None and isinstance(node.op, DimShuffle) and node.inputs[0].ndim < var.ndim:
        if node.inputs[0].name:
            return repr(node.inputs[0].name)
        node = node.inputs[0].owner
    try:
        # lazy: upward: nbgrad.printing reads tensor graphs (the operand's name in an error)
        from nbgrad.printing import pp

        text = pp(var)
    except Exception:  # noqa: BLE001 - a name is a courtesy; never fail the error for it
        text = str(var)
    return text if len(text) <= 60 else text[:57] + "..."


def _broadcast_checker(node):
    """A per-call check that the operands agree on every non-broadcastable axis, or None.

    Decided at compile time: an axis needs a run-time comparison only when at least
    two operands may be larger than 1 there and one of their sizes is unknown.
    """
    ins = node.inputs
    groups = []
    for axis in range(node.outputs[0].ndim):
        live = [k for k, x in enumerate(ins) if x.type.shape[axis] != 1]
        if len(live) > 1 and any(ins[k].type.shape[axis] is None for k in live):
            groups.append((axis, live))
    if not groups:
        return None
    ks = sorted({k for _, live in groups for k in live})
    whole = all(all(s != 1 for s in ins[k].type.shape) for k in ks) and all(
        len(live) == len(ks) for _, live in groups) and len(groups) == node.outputs[0].ndim

    def fail(args):
        for axis, live in groups:
            if len({args[k].shape[axis] for k in live}) > 1:
                raise broadcast_error(
                    f"{node.op} of {', '.join(_operand_name(ins[k]) for k in ks)}",
                    [args[k].shape for k in ks], [ins[k].type for k in ks], axis,
                    [_operand_name(ins[k]) for k in ks])

    if whole and len(ks) == 2:  # the common case: two operands of the same full rank
        a, b = ks

        def check(args):
            if args[a].shape != args[b].shape:
                fail(args)

        check.same_shape = (a, b)  # generated thunks compare these two shapes in line
        return check
    if whole:
        first, rest = ks[0], ks[1:]

        def check(args):
            s = args[first].shape
            for k in rest:
                if args[k].shape != s:
                    fail(args)

        return check

    def check(args):
        for axis, live in groups:
            s = args[live[0]].shape[axis]
            for k in live[1:]:
                if args[k].shape[axis] != s:
                    fail(args)

    return check


class SumToShape(Op):
    """Sum ``g`` over the axes where ``shape`` is 1 and ``g``'s size is not (keeping them).

    The run-time half of broadcasting's gradient (see ``sum_to``).
    """

    view_map = {0: [0]}

    def make_node(self, g, shp):
        # lazy: circle inside tensor/: shape.py builds on DimShuffle
        from nbgrad.tensor.shape import _static_entries

        g, shp = as_tensor_variable(g), as_tensor_variable(shp)
        if shp.ndim != 1 or shp.dtype not in discrete_dtypes or shp.type.shape[0] not in (None, g.ndim):
            raise TypeError(
                f"SumToShape: expected an integer shape vector of length {g.ndim}, got {shp} ({shp.type})"
            )
        target = _static_entries(shp) or (None,) * g.ndim
        shape = tuple(
            1 if sg == 1 else (t if t is not None and t >= 0 else None)
            for sg, t in zip(g.type.shape, target)
        )
        return Apply(self, [g, shp], [TensorType(g.dtype, shape)()])

    def perform(self, node, inputs, xp):
        g, shp = inputs
        axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shp)) if b == 1 and a != 1)
        return g.sum(axis=axes, keepdims=True) if axes else g

    def make_thunk(self, node, xp):
        def sum_to_shape(g, shp):
            axes = tuple(i for i, (a, b) in enumerate(zip(g.shape, shp)) if b == 1 and a != 1)
            return g.sum(axis=axes, keepdims=True) if axes else g

        return sum_to_shape

    def infer_shape(self, fgraph, node, input_shapes):
        shp = node.inputs[1]
        return [tuple(shp[i] for i in range(node.outputs[0].ndim))]

    def _shape_source(self, node):
        """The variable whose ``Shape`` is the target shape, else None."""
        # lazy: circle inside tensor/: shape.py builds on DimShuffle
        from nbgrad.tensor.shape import Shape

        shp = node.inputs[1].owner
        return shp.inputs[0] if shp is not None and isinstance(shp.op, Shape) else None

    def dim_rule(self, node, out, d):
        # the result has the target shape: shape(x) gives x's sizes
        src = self._shape_source(node)
        return None if src is None else ("via", src, d)

    def length_rules(self, node):
        src = self._shape_source(node)
        return [LengthRule("length", src, reads=False)] if src is not None and src.ndim == 1 else []

    def L_op(self, inputs, outputs, output_grads):
        # lazy: circle inside tensor/: shape.py builds on DimShuffle
        from nbgrad.tensor.shape import alloc, shape_i

        g = inputs[0]
        return [alloc(output_grads[0], *[shape_i(g, i) for i in range(g.ndim)]), disconnected_type()]

    def R_op(self, inputs, eval_points):
        return [None if eval_points[0] is None else self(eval_points[0], inputs[1])]

    def vectorize_node(self, node, inputs):
        """A batched ``g`` sums to its batch size followed by the shape; else loop."""
        # lazy: circle inside tensor/: shape.py builds on DimShuffle
        from nbgrad.tensor.shape import join, shape

        g, shp = inputs
        if is_batched(shp, node.inputs[1]) or not is_batched(g, node.inputs[0]):
            return None
        full = join(0, cast(shape(g)[:1], shp.dtype), shp)
        return [SumToShape()(g, full)]

    def vectorize_banded_node(self, node, inputs, bands):
        """Nothing to sum when the banded increment has the length of the target vector.

        That length is shown by the graph and checked when it runs.
        """
        # lazy: circle inside tensor/: shape.py builds on DimShuffle
        from nbgrad.tensor.shape import Shape

        g0, shp = node.inputs[0], node.inputs[1].owner
        if bands.banded_indices(inputs) != [0] or g0.ndim != 1:
            return None
        if shp is None or not isinstance(shp.op, Shape) or not bands.same_length(g0, shp.inputs[0]):
            return None
        return [bands.output(bands[inputs[0]].map(lambda d: bands.checked_length(d, size=inputs[1][0])))]


def _may_be_host(var, depth=16):
    """Whether ``var`` may hold a host (NumPy) value on a device backend (shape arithmetic)."""
    node = var.owner
    if node is None or depth == 0:
        return False
    if getattr(node.op, "host_output", False):
        return True
    return isinstance(node.op, (Elemwise, DimShuffle)) and any(
        _may_be_host(i, depth - 1) for i in node.inputs)


def _host_mixing_thunk(fn, host_fn, xp):
    """Shape arithmetic stays on the host; a host value meeting a device value is copied over."""
    ndarray = np.ndarray

    def thunk(*args):
        if not any(type(a) is ndarray for a in args):
            return fn(*args)
        if all(type(a) is ndarray for a in args):
            return host_fn(*args)
        return fn(*[xp.asarray(a) if type(a) is ndarray else a for a in args])

    return thunk


class DimShuffle(Op):
    """Reorder, insert (``'x'``) and drop (broadcastable only) dimensions.

    ``DimShuffle(2, (1, 'x', 0))`` maps a matrix of shape (a, b) to (b, 1, a).
    """

    __props__ = ("input_ndim", "new_order")
    entries_of_first_input = True

    def __init__(self, input_ndim, new_order):
        self.input_ndim = int(input_ndim)
        self.new_order = tuple(new_order)
        kept = [d for d in self.new_order if d != "x"]
        if len(set(kept)) != len(kept) or any(not 0 <= d < self.input_ndim for d in kept):
            raise ValueError(f"invalid dimshuffle pattern {self.new_order} for {self.input_ndim} dimensions")
        self.drop = tuple(d for d in range(self.input_ndim) if d not in kept)
        self.shuffle = tuple(kept)
        self.augment = tuple(i for i, d in enumerate(self.new_order) if d == "x")
        self.is_transpose = not self.drop and not self.augment
        self.view_map = {0: [0]}

    def __str__(self):
        return "DimShuffle{" + ",".join(map(str, self.new_order)) + "}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim != self.input_ndim:
            raise TypeError(f"{self} expects {self.input_ndim} dimension(s), got {x} with {x.ndim}")
        for d in self.drop:
            if x.type.shape[d] != 1:
                raise ValueError(
                    f"{self} drops axis {d} of {x} ({x.type}), which is not known to have size 1"
                )
        shape = tuple(1 if d == "x" else x.type.shape[d] for d in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, xp):
        (x,) = inputs
        res = xp.transpose(x, self.drop + self.shuffle) if x.ndim else x
        shape = [1 if d == "x" else x.shape[d] for d in self.new_order]
        return res.reshape(shape)

    def make_thunk(self, node, xp):
        axes = self.drop + self.shuffle
        order = self.new_order
        if self.is_transpose:
            return lambda x: x.transpose(axes)
        if not self.shuffle or list(self.shuffle) == sorted(self.shuffle):
            # Axes kept in order: one basic index, built once, gives the view (a dropped
            # axis has size 1: index 0; the final ``...`` keeps a 0-d result an array).
            index, dropped = [], list(self.drop)
            for d in order:
                if d != "x":
                    while dropped and dropped[0] < d:
                        dropped.pop(0)
                        index.append(0)
                    index.append(slice(None))
                else:
                    index.append(None)
            index = tuple(index + [0] * len(dropped) + [Ellipsis])
            return lambda x: x[index]
        return lambda x: self.perform(node, (x,), xp)

    def infer_shape(self, fgraph, node, input_shapes):
        (s,) = input_shapes
        return [tuple(1 if d == "x" else s[d] for d in self.new_order)]

    def dim_rule(self, node, out, d):
        src = self.new_order[d]
        return ("key", 1) if src == "x" else ("via", node.inputs[0], src)

    def length_rules(self, node):
        return [LengthRule("length", node.inputs[0])] if tuple(self.new_order) == (0,) else []

    def L_op(self, inputs, outputs, output_grads):
        (gz,) = output_grads
        (x,) = inputs
        if x.dtype in discrete_dtypes:
            return [disconnected_type()]
        # Put the kept axes back in input order and re-insert the dropped ones.
        kept_pos = {d: i for i, d in enumerate(self.new_order) if d != "x"}
        order = []
        for d in range(self.input_ndim):
            order.append(kept_pos[d] if d in kept_pos else "x")
        g = gz
        if self.augment:
            # lazy: circle inside tensor/: math.py (zeros, reductions) builds on Elemwise
            from nbgrad.tensor.math import sum as _sum

            g = _sum(g, axis=self.augment, keepdims=True)
        return [DimShuffle(gz.ndim, order)(g)]

    def R_op(self, inputs, eval_points):
        if eval_points[0] is None:
            return [None]
        return [self(eval_points[0])]

    def vectorize_node(self, node, inputs):
        """The batch axis stays first; the core axes move up by one."""
        order = (0,) + tuple("x" if d == "x" else d + 1 for d in self.new_order)
        return [DimShuffle(self.input_ndim + 1, order)(inputs[0])]
