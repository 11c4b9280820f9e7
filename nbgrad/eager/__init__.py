"""Define-by-run tensors (PyTorch-like) on the engine's ops and gradients.

>>> import nbgrad.eager as ne
>>> x = ne.arange(4.0, requires_grad=True)
>>> y = 2 * ne.dot(x, x)
>>> y.backward()
>>> (x.grad == 4 * x).all().item()
True

Design notes
------------
One set of derivative rules. An eager call such as ``ne.exp(x)`` is the
symbolic function ``T.exp`` applied to symbolic *stand-ins* for its tensor
arguments (typed by dtype, with static size 1 exactly where the argument has
size 1). That small graph is compiled once with ``nbgrad.function`` into a
``Primitive`` and cached under the call's signature (function, argument
dtypes and broadcast pattern, and the non-tensor parameters); later calls run
the compiled code directly on the arrays. Calls that involve a tensor with
``requires_grad`` append a ``Node`` (primitive, input tensors, outputs, and the
version numbers of all of them) to the tape.

``backward`` sorts the nodes reachable from the output topologically and walks
them in reverse (the micrograd loop). For each node it asks the primitive for
its VJP primitive: ``nbgrad.gradient.Lop`` of the same symbolic graph with
respect to the inputs that need a gradient — that is, each op's own ``L_op`` —
with the forward outputs replaced by stand-ins so that saved values are read
rather than recomputed. It is compiled once per (signature, set of inputs
needing a gradient) and evaluated on the saved arrays. An op added to the
engine therefore works here without a line of eager code.

Higher derivatives. The VJP primitive is itself a Primitive: with
``create_graph=True``, ``backward`` applies it through the same eager path as
any other call, so the backward pass is recorded on the tape and can be
differentiated again, to any order.

Errors. A node's saved version numbers are compared with the current ones
before its VJP runs (only for the values that VJP reads), which detects an
in-place change of a needed tensor; nodes are marked freed after a backward
without ``retain_graph``.

Devices. A tensor is on the device of its array: ``'cpu'`` (NumPy) or
``'gpu'`` (CuPy); constructors take ``device=`` (default: the data's own
device, else ``config.backend``), ``x.to(device)``, ``x.cpu()`` and
``x.cuda()`` copy, and ``x.numpy()`` gives a host array. A call runs on the
one device of its tensor arguments, with its primitive compiled for that
backend (``nbgrad.function(..., backend=...)``, cached per backend); numbers,
NumPy arrays and 0-d CPU tensors without gradient are copied over as
constants, and tensors on two devices raise ``MixedDeviceError``. VJPs run on
the device of the node's outputs, so gradients land where their tensors are;
a copy between devices is a ``Transfer`` primitive whose VJP copies the
gradient back. Eager helpers reach arrays only through the backend's ``xp``.

Tracing. Under ``ne.trace(fn, *inputs)`` each call also substitutes its
arguments' symbolic values into the primitive's graph, giving the whole
computation as one symbolic graph for the control path taken (branches on
tensor values become guards checked at call time; values read out as Python
numbers or arrays, ``float(t)``, ``t.item()``, are checked too, and a changed
value traces the function again).

Dtypes follow PyTorch (``nbgrad.eager.dtypes``): Python floats and the float
constructors give the default dtype, float32 (``ne.set_default_dtype``);
elementwise calls cast their operands to PyTorch's result dtype inside the
primitive, so ``int64 + float32`` is float32 and ``int64 / int64`` a float.

PyTorch signatures. ``FUNCTIONS`` keeps the engine's own signatures (NumPy's
``axis=``); the names exported here and the tensor methods take PyTorch's
(``nbgrad.eager.torchlike``): ``dim=``/``keepdim=``, ``max(x, dim)`` giving
``(values, indices)``, ``transpose(x, d0, d1)``, ``flatten(x, start_dim,
end_dim)``, unbiased ``std``/``var``; ``x.data`` is a detached tensor sharing
memory and ``x.numpy()`` refuses a tensor that requires a gradient.

PyTorch's libraries. ``nn`` (``Module``, ``Parameter``, layers, losses,
``functional``, ``init``), ``optim`` (``SGD``, ``Adam``), ``utils.data``
(``TensorDataset``, ``DataLoader``) and ``autograd`` (``grad``, ``backward``,
``Function``, ``functional``) follow PyTorch's signatures, so code written for
PyTorch runs after ``import nbgrad.eager as torch``. Each layer and loss is one
eager function built from the engine's ops (a ``Linear`` is one primitive
``x @ W.T + b``), so no derivative rule is written twice; optimizers update the
arrays in place. An ``autograd.Function`` is the one node whose backward is
user code (``tape.run_backward`` asks it directly). Random numbers come from
the generator of ``manual_seed``, not PyTorch's stream: to compare with
PyTorch, copy its weights in with ``load_state_dict``. PyTorch options that
are not implemented raise ``NotImplementedError`` naming the option.

Per-call overhead. Each tensor caches a small integer code for its array
type, dtype and size-1 pattern (reset when ``data`` is assigned), so the
common calls (CPU tensors, NumPy arrays, Python numbers as operands or as
plain parameters) are looked up by a tuple of those codes and run the linked
program without the compiled function's input checks, which the stand-ins'
exact dtypes make redundant (a failure is re-run through the checked entry
point for its explanation). Calls of one or two CPU tensors that record
nothing (``a + b``, ``a @ m``, ``a.sum()``, ``ne.exp(a)``) go shorter still:
the operators are the functions' two-operand entry points, which find the
primitive's kernel (the one node's thunk) by the pair of codes and make the
result tensor in line. Everything else takes the general signature path.
Measured with ``python benchmarks/run.py w14`` on a shared 2-core CPU: ``a +
b`` and ``a.sum()`` of 10 to 1000 float32 elements cost 0.8 to 1.0 times
PyTorch's time (about 1.0 and 1.3 us), ``v @ m`` about half of it, and a
small forward-and-backward, ``(g * b).sum().backward()``, about 0.8 times
(24 us). The cost is the lookup, the Python frames and the tensors and tape
nodes made, nearly independent of array size.
"""

from nbgrad.eager.device import MixedDeviceError  # noqa: F401
from nbgrad.eager.dtypes import DTYPE_NAMES as _DTYPE_NAMES, get_default_dtype, set_default_dtype  # noqa: F401
from nbgrad.eager.functions import *  # noqa: F403
from nbgrad.eager.functions import FUNCTIONS, __all__ as _fn_all, eager_function, grad  # noqa: F401
from nbgrad.eager.tape import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from nbgrad.eager.tensor import Tensor, as_tensor  # noqa: F401
from nbgrad.eager.trace import ControlPathError, Traced, trace  # noqa: F401
from nbgrad.eager.torchlike import *  # noqa: F403
from nbgrad.eager.torchlike import __all__ as _torch_all
from nbgrad.eager.tensor import Parameter  # noqa: F401,E402 - also nn.Parameter
from nbgrad.eager import autograd, nn, optim, utils  # noqa: E402,F401

# PyTorch's dtype names (``ne.float32``, ``ne.long``, ...) as NumPy dtypes.
globals().update(_DTYPE_NAMES)

__all__ = sorted(set(_fn_all) | set(_torch_all) | {n for n in _DTYPE_NAMES if n not in ("float", "int", "bool")} | {
    "get_default_dtype", "set_default_dtype",
    "Tensor", "as_tensor", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "trace", "Traced", "ControlPathError", "eager_function", "grad", "FUNCTIONS",
    "MixedDeviceError", "nn", "optim", "autograd", "utils",
})
