"""``Print``: an identity op that shows a value while a compiled function runs."""

from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.tensor.basic import as_tensor_variable

__all__ = ["Print"]


def _print_value(op, value):
    for attr in op.attrs:
        item = getattr(value, attr)
        print(op.message, attr, "=", item() if callable(item) else item)


class Print(Op):
    """``x`` itself; printing ``message attr = value`` for each attribute each time it is computed.

    The debugging aid of Theano's FAQ: wrap an intermediate value to see it while
    the compiled function runs. The gradient passes through unchanged (it is not
    printed). The node is never constant-folded, so it prints at every call, and
    being no elementwise op it is not fused away.

    Parameters
    ----------
    message : str
        The text printed before each attribute.
    attrs : tuple of str
        Attributes of the value to print: a method is called (``'__str__'``,
        ``'sum'``), anything else is printed as is (``'shape'``).
    global_fn : callable, optional
        Called as ``global_fn(op, value)`` instead of printing.

    Examples
    --------
    >>> import numpy as np, nbgrad, nbgrad.tensor as T
    >>> from nbgrad.printing import Print
    >>> x = T.dvector("x")
    >>> y = Print("x is", attrs=("__str__", "shape"))(x) * 2
    >>> nbgrad.function([x], y)(np.array([1.0, 2.0]))
    x is __str__ = [1. 2.]
    x is shape = (2,)
    array([2., 4.])
    """

    __props__ = ("message", "attrs", "global_fn")
    view_map = {0: [0]}
    fold = False  # printing at compile time, once, would defeat the purpose

    def __init__(self, message="", attrs=("__str__",), global_fn=None):
        if not isinstance(message, str):
            raise TypeError(f"Print: message must be a string, got {type(message).__name__} {message!r}")
        if isinstance(attrs, str):
            attrs = (attrs,)
        attrs = tuple(attrs)
        if not all(isinstance(a, str) for a in attrs):
            raise TypeError(f"Print: attrs must be attribute names (strings), got {attrs!r}")
        if global_fn is not None and not callable(global_fn):
            raise TypeError(f"Print: global_fn must be callable as global_fn(op, value), got {global_fn!r}")
        self.message = message
        self.attrs = attrs
        self.global_fn = global_fn  # None: print (kept as None so that the op can be saved)

    def _show(self):
        return _print_value if self.global_fn is None else self.global_fn

    def __str__(self):
        return f"Print{{{self.message!r}}}" if self.message else "Print"

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        self._show()(self, inputs[0])
        return inputs[0]

    def make_thunk(self, node, xp):
        show, op = self._show(), self

        def print_and_pass(x):
            show(op, x)
            return x

        return print_and_pass

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        """x̄ = z̄: the identity's gradient, not printed."""
        return [output_grads[0]]

    def R_op(self, inputs, eval_points):
        return [eval_points[0]]

