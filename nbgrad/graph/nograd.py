"""The "no gradient" values that an op's derivative rules return.

A rule returns one entry per input and says explicitly when there is no
gradient, in one of three distinct forms:

- *disconnected* (``disconnected_type()``): the output does not depend on the input;
- *undefined* (``grad_undefined``): the derivative does not exist mathematically;
- *not implemented* (``grad_not_implemented``): it exists, but nbgrad has no rule for it.

The last two are ``NullType`` variables carrying a message that names the op. A
gradient known to be exactly zero is marked instead (``is_symbolic_zero``).
These live at the graph level so that every op file, and ``Op`` itself, can
use them; ``nbgrad.gradient`` re-exports them under their Theano names.
"""

from nbgrad.graph.basic import Type, Variable

__all__ = [
    "DisconnectedType",
    "NullType",
    "disconnected_type",
    "grad_not_implemented",
    "grad_undefined",
    "is_symbolic_zero",
    "rop_not_implemented",
]


class DisconnectedType(Type):
    """The type of a gradient that does not exist because the output does not depend on the input."""

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(DisconnectedType)

    def __str__(self):
        return "DisconnectedType"


def disconnected_type():
    """A fresh "no gradient: the output does not depend on this input" value, for ``L_op``."""
    return Variable(DisconnectedType(), name="<disconnected>")


class NullType(Type):
    """The type of an undefined or unimplemented gradient; ``why_null`` says why."""

    def __init__(self, why_null):
        self.why_null = why_null

    def __eq__(self, other):
        return type(other) is type(self) and other.why_null == self.why_null

    def __hash__(self):
        return hash((NullType, self.why_null))

    def __str__(self):
        return f"NullType({self.why_null})"


def _null_grad(op, x_pos, x, what, comment):
    return Variable(NullType(f"the gradient of {op} w.r.t. input {x_pos} ({x}) is {what}. {comment}".strip()))


def grad_undefined(op, x_pos, x, comment=""):
    """The gradient of ``op`` w.r.t. input ``x_pos`` is mathematically undefined."""
    return _null_grad(op, x_pos, x, "undefined", comment)


def grad_not_implemented(op, x_pos, x, comment=""):
    """The gradient of ``op`` w.r.t. input ``x_pos`` exists but nbgrad does not implement it."""
    return _null_grad(op, x_pos, x, "not implemented", comment)


def rop_not_implemented(op):
    raise NotImplementedError(
        f"{op} has no forward-mode rule (R_op); Rop cannot differentiate through it. "
        "Use Lop/grad (reverse mode) instead"
    )


def is_symbolic_zero(g):
    """Whether ``g`` is a gradient known to be exactly zero everywhere.

    ``grad`` neither adds such a term to others nor passes it through an op's rule:
    0 · (a factor that is inf) would be nan where the true derivative is 0, as JAX's
    symbolic zeros avoid. ``nbgrad.tensor.math.symbolic_zero`` makes one.
    """
    return getattr(g.tag, "symbolic_zero", False)
