"""``torch.nn`` modules on nbgrad.eager: ``Module``, containers, layers and losses.

A ``Module`` registers what is assigned to its attributes: a ``Parameter``
goes into ``_parameters``, a ``Module`` into ``_modules``; ``parameters()``,
``named_parameters()``, ``state_dict()`` and ``zero_grad()`` walk that tree
in the order of assignment, as in PyTorch. Calling a module calls its
``forward``. Layers compute through ``nbgrad.eager.nn.functional`` (a
``Linear`` is one recorded call), so a model can be traced with
``nbgrad.eager.trace(model, x)`` into one compiled function of ``x``.

>>> import nbgrad.eager as torch
>>> from nbgrad.eager import nn
>>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
>>> [name for name, _ in net.named_parameters()]
['0.weight', '0.bias', '2.weight', '2.bias']
>>> net(torch.zeros(3, 4)).shape
(3, 1)
"""

import math
from collections import OrderedDict

import numpy as np

from nbgrad.eager import tape as _tape
from nbgrad.eager.functions import zeros as _zeros
from nbgrad.eager.nn import functional as F
from nbgrad.eager.nn import init
from nbgrad.eager.tensor import Parameter, Tensor

__all__ = [
    "Module", "Sequential", "ModuleList", "Identity", "Linear", "LazyLinear", "ReLU", "Sigmoid",
    "Tanh", "GELU", "LeakyReLU", "Softmax", "LogSoftmax", "Flatten", "Dropout", "CrossEntropyLoss",
    "MSELoss", "L1Loss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
]


class Module:
    """Base class of layers and models: subclass it, assign parts in ``__init__``, write ``forward``.

    Examples
    --------
    >>> import nbgrad.eager as torch
    >>> from nbgrad.eager import nn
    >>> class MLP(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(2, 3)
    ...         self.out = nn.Linear(3, 1)
    ...     def forward(self, x):
    ...         return self.out(torch.relu(self.hidden(x)))
    >>> net = MLP()
    >>> sum(p.numel() for p in net.parameters())
    13
    >>> list(net.state_dict())
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())

    # --- attributes ----------------------------------------------------------------
    def _registry(self):
        try:
            return object.__getattribute__(self, "_parameters")
        except AttributeError:
            raise AttributeError(
                f"cannot assign parts to {type(self).__name__} before Module.__init__() call; "
                "call super().__init__() first in __init__") from None

    def __setattr__(self, name, value):
        if isinstance(value, Parameter):
            self._registry()
            self.__dict__.pop(name, None)
            self._modules.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._registry()
            self.__dict__.pop(name, None)
            self._parameters.pop(name, None)
            self._modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter {name!r} "
                                "(nn.Parameter or None expected)")
            self._parameters[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            self._buffers[name] = value
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module {name!r} "
                                "(nn.Module or None expected)")
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Add ``param`` (a ``Parameter`` or None) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r} "
                            "(nn.Parameter or None expected)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Add state that is not a parameter (saved in ``state_dict``, not trained)."""
        self._buffers[name] = tensor

    def add_module(self, name, module):
        """Add the child ``module`` under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    # --- calling -------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function; define '
            "forward(self, ...) in the subclass")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- walking the tree ------------------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        """(name, module) for this module and every module below it, each once."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named(self, table, prefix, recurse):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for name, t in getattr(m, table).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{mname}.{name}" if mname else name), t

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, parameter) of every parameter, each shared one once."""
        return self._named("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        """Every parameter of this module and the modules below it (for an optimizer)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        return self._named("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn`` on every child module (depth first), then on this one; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- modes and gradients -----------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (``Dropout`` drops) on this module and all below; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        """Set evaluation mode (``Dropout`` passes values through); returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of all parameters (set them to None, or to zeros)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()

    # --- state --------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered dict from dotted names to parameters and buffers (detached tensors)."""
        out = OrderedDict() if destination is None else destination
        for mname, m in self.named_modules(prefix=prefix.rstrip(".")):
            for table in (m._parameters, m._buffers):
                for name, t in table.items():
                    if t is not None:
                        key = f"{mname}.{name}" if mname else name
                        out[key] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Values may be nbgrad tensors, NumPy arrays or any array-like (so a
        PyTorch model's ``state_dict()`` converted with ``.numpy()`` loads).
        With ``strict`` the keys must match exactly. Returns
        ``(missing_keys, unexpected_keys)``.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}: missing keys "
                f"{missing}, unexpected keys {unexpected}; pass strict=False to load the rest")
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = value._host() if isinstance(value, Tensor) else np.asarray(value)
            if tuple(arr.shape) != tuple(target.shape):
                raise RuntimeError(
                    f"Error(s) in loading state_dict for {type(self).__name__}: size mismatch "
                    f"for {key}: copying a param with shape {tuple(arr.shape)}, the shape in "
                    f"current model is {tuple(target.shape)}")
            with _tape.no_grad():
                target._fill_from(arr, "load_state_dict")
        return _IncompatibleKeys(missing, unexpected)

    def to(self, *args, **kwargs):
        """Move every parameter and buffer (in place) to a device and/or dtype; returns self."""
        for table_owner in self.modules():
            for table in (table_owner._parameters, table_owner._buffers):
                for t in table.values():
                    if t is None:
                        continue
                    moved = t.detach().to(*args, **kwargs)
                    if moved._data is not t._data:
                        t._set_data(moved._data)
                        if t.grad is not None:
                            t.grad = t.grad.to(*args, **kwargs)
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("gpu")

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    # --- printing -----------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class _IncompatibleKeys(tuple):
    """``(missing_keys, unexpected_keys)`` of ``load_state_dict``."""

    def __new__(cls, missing, unexpected):
        return super().__new__(cls, (missing, unexpected))

    @property
    def missing_keys(self):
        return self[0]

    @property
    def unexpected_keys(self):
        return self[1]

    def __repr__(self):
        if not self[0] and not self[1]:
            return "<All keys matched successfully>"
        return f"_IncompatibleKeys(missing_keys={self[0]}, unexpected_keys={self[1]})"


# ------------------------------------------------------------------ containers
class Sequential(Module):
    """Modules applied one after another: ``Sequential(m1, m2, ...)`` or from an OrderedDict.

    Children are named ``'0'``, ``'1'``, ... (or by the dict's keys); ``net[0]``
    is the first, ``net[1:]`` a Sequential of the rest.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], (dict, OrderedDict)):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for k, m in enumerate(args):
                self.add_module(str(k), m)

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        return items[idx][1]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def forward(self, input):
        for m in self._modules.values():
            input = m(input)
        return input


class ModuleList(Module):
    """A list of modules, registered so that their parameters are found."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module):
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, idx):
        return list(self._modules.values())[idx]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Identity(Module):
    def forward(self, input):
        return input


# ------------------------------------------------------------------ layers
class Linear(Module):
    """``y = x @ weight.T + bias`` with weight (out_features, in_features).

    Initialized as PyTorch does: weight and bias uniform in ±1/sqrt(in_features)
    (drawn from the generator of ``manual_seed``, so the numbers differ from
    PyTorch's; copy them with ``load_state_dict`` to compare).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(_zeros(out_features, in_features, dtype=dtype, device=device))
        self.bias = Parameter(_zeros(out_features, dtype=dtype, device=device)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class LazyLinear(Linear):
    """A ``Linear`` whose ``in_features`` is read from the first input it is called with.

    Until then its weight is an empty parameter (as in PyTorch, give the
    optimizer ``net.parameters()`` only after a first forward call).
    """

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        Module.__init__(self)
        self.in_features = 0
        self.out_features = int(out_features)
        self._init_args = (bias, device, dtype)
        self.weight = Parameter(_zeros(0, dtype=dtype, device=device))
        self.bias = Parameter(_zeros(0, dtype=dtype, device=device)) if bias else None

    def forward(self, input):
        if self.in_features == 0:
            bias, device, dtype = self._init_args
            self.in_features = int(input.shape[-1])
            device = device or input.device
            self.weight._set_data(_zeros(self.out_features, self.in_features, dtype=dtype,
                                         device=device)._data)
            if self.bias is not None:
                self.bias._set_data(_zeros(self.out_features, dtype=dtype, device=device)._data)
            self.reset_parameters()
        return super().forward(input)


class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input, self.inplace)


class Sigmoid(Module):
    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return F.tanh(input)


class GELU(Module):
    def forward(self, input):
        return F.gelu(input)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, input):
        return F.log_softmax(input, self.dim)


class Flatten(Module):
    """Merge dimensions ``start_dim`` (1: keep the batch) to ``end_dim`` into one."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero elements with probability ``p`` while training (see ``functional.dropout``)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


# ------------------------------------------------------------------ losses
class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        self.reduction = F._reduction(type(self).__name__, reduction, size_average, reduce)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """``functional.cross_entropy`` as a module: logits (N, C), labels (N,) or probabilities."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(size_average, reduce, reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error (``reduction='mean'``), or its sum, or per element (``'none'``)."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.weight = weight

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)
