"""``ifelse``: a lazy choice between two branches of a graph.

``ifelse(cond, a, b)`` is ``a`` when the scalar ``cond`` is true (non-zero), else
``b``. Unlike ``T.switch``, which computes both sides and picks elementwise, a
compiled function runs only the branch that is taken: the linker writes an
``if``/``else`` block and puts the nodes that only one branch needs inside it (see
``f.source``). Nodes that both branches or the rest of the graph need are computed
before the ``if``.

>>> import numpy as np, nbgrad, nbgrad.tensor as T
>>> from nbgrad.ifelse import ifelse
>>> a, b = T.dscalars("a", "b")
>>> x = T.dvector("x")
>>> f = nbgrad.function([a, b, x], ifelse(T.lt(a, b), T.mean(x), T.max(x)))
>>> float(f(1.0, 2.0, np.array([1.0, 2.0, 6.0]))), float(f(2.0, 1.0, np.array([1.0, 2.0, 6.0])))
(3.0, 6.0)
"""

from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.graph.nograd import disconnected_type
from nbgrad.scalar.basic import upcast
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.math import cast, zeros_like
from nbgrad.tensor.type import TensorType

__all__ = ["IfElse", "ifelse"]


class IfElse(Op):
    """Outputs ``then[k]`` if ``cond`` else ``else[k]``, for k < ``n_outs``; lazy when compiled.

    Inputs are ``cond, then_0 .. then_{n-1}, else_0 .. else_{n-1}``.
    t̄ₖ = ifelse(c, ōₖ, 0) ;  ēₖ = ifelse(c, 0, ōₖ) ;  c has no gradient (disconnected).
    ȯₖ = ifelse(c, ṫₖ, ėₖ).

    The linker recognises ``lazy`` ops and computes only the chosen branch; ``perform``
    (used where a node is evaluated on its own, e.g. by constant folding) picks among
    already computed values.
    """

    __props__ = ("n_outs",)
    lazy = True

    def __init__(self, n_outs):
        self.n_outs = int(n_outs)
        # each output is one of its two branch inputs (no copy)
        self.view_map = {k: [1 + k, 1 + self.n_outs + k] for k in range(self.n_outs)}

    def __str__(self):
        return "ifelse"

    @property
    def latex(self):
        if self.n_outs != 1:
            return None
        return r"\begin{{cases}} {1} & \text{{if }} {0} \\ {2} & \text{{otherwise}} \end{{cases}}"

    def make_node(self, cond, *branches):
        n = self.n_outs
        if len(branches) != 2 * n:
            raise TypeError(
                f"IfElse({n}) takes a condition and {n} then-value(s) and {n} else-value(s), "
                f"got {len(branches)} value(s) after the condition"
            )
        cond = as_tensor_variable(cond)
        if cond.ndim != 0:
            raise TypeError(
                f"ifelse: the condition must be a scalar, got {cond} of type {cond.type}; "
                "reduce it first (e.g. T.any(c) or T.all(c)), or use T.switch(c, a, b) for an "
                "elementwise choice"
            )
        thens = [as_tensor_variable(t) for t in branches[:n]]
        elses = [as_tensor_variable(e) for e in branches[n:]]
        outs = []
        for k, (t, e) in enumerate(zip(thens, elses)):
            if t.ndim != e.ndim:
                raise TypeError(
                    f"ifelse: output {k} has {t.ndim} dimension(s) in the then-branch ({t.type}) "
                    f"but {e.ndim} in the else-branch ({e.type}); both branches must give values "
                    "of the same number of dimensions"
                )
            dtype = upcast(t.dtype, e.dtype)
            if t.dtype != dtype or e.dtype != dtype:
                thens[k], elses[k] = cast(t, dtype), cast(e, dtype)
            shape = tuple(a if a == b else None for a, b in zip(t.type.shape, e.type.shape))
            outs.append(TensorType(dtype, shape)())
        return Apply(self, [cond, *thens, *elses], outs)

    def perform(self, node, inputs, xp):
        n = self.n_outs
        vals = inputs[1:1 + n] if inputs[0] else inputs[1 + n:]
        return vals[0] if n == 1 else tuple(vals)

    def infer_shape(self, fgraph, node, input_shapes):
        n, cond = self.n_outs, node.inputs[0]
        out = []
        for k in range(n):
            ts, es = input_shapes[1 + k], input_shapes[1 + n + k]
            out.append([IfElse(1)(cond, a, b) for a, b in zip(ts, es)])
        return out

    def L_op(self, inputs, outputs, output_grads):
        n, cond = self.n_outs, inputs[0]
        thens, elses = inputs[1:1 + n], inputs[1 + n:]

        def like(g, x):
            return g if g.dtype == x.dtype else cast(g, x.dtype)

        gt = [_as_list(IfElse(1)(cond, like(g, t), zeros_like(t))) for g, t in zip(output_grads, thens)]
        ge = [_as_list(IfElse(1)(cond, zeros_like(e), like(g, e))) for g, e in zip(output_grads, elses)]
        return [disconnected_type()] + [g[0] for g in gt] + [g[0] for g in ge]

    def R_op(self, inputs, eval_points):
        n, cond = self.n_outs, inputs[0]
        if all(e is None for e in eval_points[1:]):
            return [None] * n
        branches = [zeros_like(x) if ev is None else ev for x, ev in zip(inputs[1:], eval_points[1:])]
        return _as_list(IfElse(n)(cond, *branches))


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` if the scalar ``condition`` is true, else ``else_branch``; lazily.

    Only the taken branch is computed by a compiled function (``T.switch`` computes both).

    Parameters
    ----------
    condition : scalar
        Any dtype; non-zero is true.
    then_branch, else_branch : variable or list of variables
        Lists of the same length give one output per pair. Each pair must have the same
        number of dimensions; dtypes are upcast to a common one.
    name : str, optional
        A name for the output(s).

    Returns
    -------
    Variable, or a list of Variables when the branches are lists.

    Examples
    --------
    >>> import nbgrad, nbgrad.tensor as T
    >>> c, x = T.bscalar("c"), T.dscalar("x")
    >>> f = nbgrad.function([c, x], ifelse(c, [x * 2, x], [x, -x]))
    >>> [float(v) for v in f(0, 3.0)]
    [3.0, -3.0]
    """
    many = isinstance(then_branch, (list, tuple))
    if many != isinstance(else_branch, (list, tuple)):
        raise TypeError(
            "ifelse: give both branches as single variables or both as lists of the same length; "
            f"got a {type(then_branch).__name__} and a {type(else_branch).__name__}"
        )
    thens = list(then_branch) if many else [then_branch]
    elses = list(else_branch) if many else [else_branch]
    if len(thens) != len(elses):
        raise ValueError(
            f"ifelse: the then-branch has {len(thens)} output(s) but the else-branch has "
            f"{len(elses)}; each output needs a value in both branches"
        )
    outs = _as_list(IfElse(len(thens))(condition, *thens, *elses))
    if name is not None:
        for k, o in enumerate(outs):
            o.name = name if len(outs) == 1 else f"{name}[{k}]"
    return outs if many else outs[0]
