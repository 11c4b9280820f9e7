"""``torch.optim`` on nbgrad.eager: ``SGD`` (momentum, weight decay, Nesterov) and ``Adam``.

An optimizer holds parameter groups (``param_groups``: dicts with ``'params'``
and the hyper-parameters, as in PyTorch, so per-group settings such as a
weight decay on weights only work) and a per-parameter ``state``. ``step()``
updates each parameter that has a gradient in place, on its own device, with
PyTorch's update formulas; ``zero_grad()`` forgets the gradients.

>>> import nbgrad.eager as torch
>>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
>>> opt = torch.optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w.detach().tolist()
[0.800000011920929, -1.600000023841858]
"""

import math

from nbgrad.eager import tape as _tape
from nbgrad.eager.tensor import Tensor

__all__ = ["Optimizer", "SGD", "Adam"]


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``add_param_group`` and ``state``.

    Subclasses implement ``_update(p, grad, state, group)`` on arrays.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a Tensor; pass [w] or model.parameters()")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list (for a LazyLinear, call the "
                             "model once before creating the optimizer)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group):
        """Add a dict with ``'params'`` and optional hyper-parameters (the rest from defaults)."""
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor; optimize the leaves it is "
                                 "computed from (or w.detach().requires_grad_())")
        for k, v in self.defaults.items():
            if v is required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {k}")
            group.setdefault(k, v)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of all parameters (None by default, else zeros)."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` re-computes the loss first."""
        loss = None
        if closure is not None:
            with _tape.enable_grad():
                loss = closure()
        with _tape.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad._data
                    if group.get("maximize"):
                        grad = -grad
                    self._update(p, grad, self.state.setdefault(p, {}), group)
                    p._version[0] += 1
        return loss

    def state_dict(self):
        """Hyper-parameters and state, keyed by parameter position (as PyTorch's)."""
        index = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                ids.append(index.setdefault(id(p), len(index)))
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        params = [p for g in self.param_groups for p in g["params"]]
        state = {index[id(p)]: dict(self.state[p]) for p in params if p in self.state}
        return {"state": state, "param_groups": groups}

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def _check_hyper(name, value, low=0.0):
    if not (isinstance(value, (int, float)) and value >= low):
        raise ValueError(f"Invalid {name}: {value}")


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's momentum and weight decay.

    With g = grad + weight_decay * p: b = momentum * b + (1 - dampening) * g
    (b = g at the first step), g = b (or g + momentum * b with Nesterov),
    then p -= lr * g.

    Parameters
    ----------
    params : iterable of Parameters, or of dicts (parameter groups)
    lr : float
    momentum, dampening, weight_decay : float
    nesterov, maximize : bool
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        _check_hyper("learning rate", lr)
        _check_hyper("momentum value", momentum)
        _check_hyper("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if differentiable:
            raise NotImplementedError("SGD(differentiable=True) is not implemented in nbgrad.eager; "
                                      "write the update with tensor operations instead")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _update(self, p, grad, state, group):
        data = p._data
        wd, mom = group["weight_decay"], group["momentum"]
        if wd:
            grad = grad + wd * data
        if mom:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= mom
                buf += (1 - group["dampening"]) * grad
            grad = grad + mom * buf if group["nesterov"] else buf
        data -= (group["lr"] * grad).astype(data.dtype, copy=False)


class Adam(Optimizer):
    """Adam (Kingma and Ba), with PyTorch's bias correction, ``weight_decay`` and ``amsgrad``.

    m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
    p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        _check_hyper("learning rate", lr)
        _check_hyper("epsilon value", eps)
        _check_hyper("weight_decay value", weight_decay)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid beta parameters: {betas}")
        if differentiable:
            raise NotImplementedError("Adam(differentiable=True) is not implemented in "
                                      "nbgrad.eager; write the update with tensor operations")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _update(self, p, grad, state, group):
        data = p._data
        xp = p._xp()
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * data
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(data)
            state["exp_avg_sq"] = xp.zeros_like(data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(data)
        b1, b2 = group["betas"]
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * grad * grad
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = group["lr"] / (1 - b1 ** t)
        denom = xp.sqrt(v) / math.sqrt(1 - b2 ** t) + group["eps"]
        data -= (step_size * m / denom).astype(data.dtype, copy=False)
