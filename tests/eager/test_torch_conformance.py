"""torch.nn / torch.optim / torch.autograd on nbgrad.eager against PyTorch itself.

Each case runs the same code with ``nbgrad.eager`` and with ``torch`` on the
same values and compares values, dtypes, shapes and the gradients of a
random projection of the output (micrograd's torch comparison, for every
function in scope). Skipped as a whole where PyTorch is not installed.
"""

import numpy as np
import pytest

import nbgrad.eager as ne

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the comparisons need it")
torch.set_num_threads(1)  # its thread pool only competes with other test processes here
nF = ne.nn.functional
tF = torch.nn.functional

RNG = np.random.default_rng(0)
X = RNG.standard_normal((5, 4)).astype(np.float32)
Y = RNG.standard_normal((5, 4)).astype(np.float32)
P = np.abs(RNG.standard_normal((5, 4))).astype(np.float32)
P /= P.sum(1, keepdims=True)
U = RNG.uniform(0.05, 0.95, (5, 4)).astype(np.float32)
B = (RNG.random((5, 4)) > 0.5).astype(np.float32)
LABELS = np.array([0, 3, 1, 1, 2])
X3 = RNG.standard_normal((2, 4, 3)).astype(np.float32)
L3 = np.array([[0, 3, 1], [2, 2, 0]])
W = RNG.standard_normal((3, 4)).astype(np.float32)
BIAS = RNG.standard_normal(3).astype(np.float32)


def dtype_name(t):
    return str(t.dtype).replace("torch.", "") if isinstance(t, torch.Tensor) else t.dtype.name


def compare(ours, theirs, rtol=1e-5, atol=1e-6):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert dtype_name(ours) == dtype_name(theirs)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol)


def run_both(fn_ne, fn_t, arrays, grad=(0,), rtol=1e-5, atol=1e-6):
    """Run both on the same arrays; compare outputs and gradients of sum(out * r)."""
    ins_n = [ne.tensor(a, requires_grad=k in grad) for k, a in enumerate(arrays)]
    ins_t = [torch.tensor(a, requires_grad=k in grad) for k, a in enumerate(arrays)]
    out_n, out_t = fn_ne(*ins_n), fn_t(*ins_t)
    compare(out_n, out_t, rtol, atol)
    if not grad:
        return
    r = np.random.default_rng(1).standard_normal(tuple(out_t.shape)).astype(np.float32)
    (out_n * ne.tensor(r)).sum().backward()
    (out_t * torch.tensor(r)).sum().backward()
    for k in grad:
        compare(ins_n[k].grad, ins_t[k].grad, rtol, atol)


FUNCTIONAL = {
    "relu": (lambda F: F.relu, [X]),
    "sigmoid": (lambda F: F.sigmoid, [X]),
    "tanh": (lambda F: F.tanh, [X]),
    "softmax dim=1": (lambda F: lambda x: F.softmax(x, dim=1), [X]),
    "softmax dim=0": (lambda F: lambda x: F.softmax(x, dim=0), [X]),
    "log_softmax": (lambda F: lambda x: F.log_softmax(x, dim=-1), [X]),
    "gelu": (lambda F: F.gelu, [X]),
    "silu": (lambda F: F.silu, [X]),
    "softplus": (lambda F: F.softplus, [X]),
    "leaky_relu": (lambda F: lambda x: F.leaky_relu(x, 0.1), [X]),
    "linear": (lambda F: F.linear, [X, W, BIAS]),
    "linear without bias": (lambda F: F.linear, [X, W]),
    "cross_entropy labels": (lambda F: F.cross_entropy, [X, LABELS]),
    "cross_entropy sum": (lambda F: lambda x, y: F.cross_entropy(x, y, reduction="sum"),
                          [X, LABELS]),
    "cross_entropy none": (lambda F: lambda x, y: F.cross_entropy(x, y, reduction="none"),
                           [X, LABELS]),
    "cross_entropy probabilities": (lambda F: F.cross_entropy, [X, P]),
    "cross_entropy one sample": (lambda F: F.cross_entropy, [X[0], np.array(2)]),
    "cross_entropy (N, C, d)": (lambda F: lambda x, y: F.cross_entropy(x, y, reduction="none"),
                                [X3, L3]),
    "nll_loss": (lambda F: lambda x, y: F.nll_loss(F.log_softmax(x, dim=1), y), [X, LABELS]),
    "mse_loss": (lambda F: F.mse_loss, [X, Y]),
    "mse_loss sum": (lambda F: lambda a, b: F.mse_loss(a, b, reduction="sum"), [X, Y]),
    "mse_loss none": (lambda F: lambda a, b: F.mse_loss(a, b, reduction="none"), [X, Y]),
    "l1_loss": (lambda F: F.l1_loss, [X, Y]),
    "binary_cross_entropy": (lambda F: F.binary_cross_entropy, [U, B]),
    "bce_with_logits": (lambda F: F.binary_cross_entropy_with_logits, [X, B]),
    "bce_with_logits soft targets": (lambda F: F.binary_cross_entropy_with_logits, [X * 30, U]),
    "bce_with_logits pos_weight": (
        lambda F: lambda x, t, w: F.binary_cross_entropy_with_logits(x, t, pos_weight=w),
        [X, B, np.float32([1.0, 2.0, 0.5, 3.0])]),
    "bce_with_logits weight none": (
        lambda F: lambda x, t, w: F.binary_cross_entropy_with_logits(x, t, w, reduction="none"),
        [X, B, U]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_functional_matches_torch(name):
    make, arrays = FUNCTIONAL[name]
    # Every float argument gets a gradient, except the targets and weights that PyTorch
    # does not differentiate.
    floats = tuple(k for k, a in enumerate(arrays) if a.dtype.kind == "f")
    if "cross_entropy" in name or "bce" in name:
        floats = (0,)
    run_both(make(nF), make(tF), arrays, grad=floats)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_losses_keep_the_input_dtype(dtype):
    run_both(nF.cross_entropy, tF.cross_entropy, [X.astype(dtype), LABELS])
    run_both(nF.mse_loss, tF.mse_loss, [X.astype(dtype), Y.astype(dtype)], grad=(0, 1))


def test_mse_loss_with_mismatched_shapes_warns_and_broadcasts_as_torch():
    a, b = X[:, :1], X[:, 0]
    with pytest.warns(UserWarning, match="different to the input size"):
        ours = nF.mse_loss(ne.tensor(a), ne.tensor(b))
    with pytest.warns(UserWarning):
        theirs = tF.mse_loss(torch.tensor(a), torch.tensor(b))
    compare(ours, theirs)


MODULES = {
    "Linear": (lambda nn: nn.Linear(4, 3), [X]),
    "Sequential MLP": (lambda nn: nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(),
                                                nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 2),
                                                nn.Tanh()), [X3]),
    "Flatten": (lambda nn: nn.Flatten(), [X3]),
    "Flatten(0, 1)": (lambda nn: nn.Flatten(0, 1), [X3]),
    "Softmax": (lambda nn: nn.Softmax(dim=1), [X]),
    "Dropout in eval mode": (lambda nn: nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 2)).eval(),
                             [X]),
    "Identity": (lambda nn: nn.Identity(), [X]),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_match_torch_with_the_same_weights(name):
    make, arrays = MODULES[name]
    ours, theirs = make(ne.nn), make(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    run_both(ours, theirs, arrays)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        compare(p.grad, q.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_match_torch(reduction):
    run_both(ne.nn.CrossEntropyLoss(reduction=reduction), torch.nn.CrossEntropyLoss(reduction=reduction),
             [X, LABELS])
    run_both(ne.nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction), [X, Y])
    run_both(ne.nn.BCEWithLogitsLoss(reduction=reduction),
             torch.nn.BCEWithLogitsLoss(reduction=reduction), [X, B])


def _net(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = lib.nn.Sequential(lib.nn.Linear(4, 5), lib.nn.ReLU())
            self.head = lib.nn.Linear(5, 2, bias=False)
            self.scale = lib.nn.Parameter(lib.ones(1))
            self.note = "not registered"

        def forward(self, x):
            return self.head(self.body(x)) * self.scale

    return Net()


def test_module_api_matches_torch():
    ours, theirs = _net(ne), _net(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert repr(ours.body) == repr(theirs.body)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    run_both(ours, theirs, [X])
    for m in (ours, theirs):
        assert m.training and not m.eval().training and not m.body[0].training
        m.train()
        m.zero_grad()
        assert all(p.grad is None for p in m.parameters())


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.1}, {"lr": 0.05, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "weight_decay": 0.01}, {"lr": 0.1, "momentum": 0.5, "dampening": 0.2},
])
def test_sgd_matches_torch(kwargs):
    _optimizer_trajectories(ne.optim.SGD, torch.optim.SGD, kwargs)


@pytest.mark.parametrize("kwargs", [
    {}, {"lr": 0.05}, {"lr": 0.05, "betas": (0.8, 0.9), "weight_decay": 0.1},
    {"lr": 0.05, "amsgrad": True},
])
def test_adam_matches_torch(kwargs):
    _optimizer_trajectories(ne.optim.Adam, torch.optim.Adam, kwargs)


def _optimizer_trajectories(ours_cls, theirs_cls, kwargs, steps=6):
    w_n, w_t = ne.nn.Parameter(ne.tensor(W)), torch.nn.Parameter(torch.tensor(W))
    opt_n, opt_t = ours_cls([w_n], **kwargs), theirs_cls([w_t], **kwargs)
    for _ in range(steps):
        for w, opt, lib in ((w_n, opt_n, ne), (w_t, opt_t, torch)):
            opt.zero_grad()
            loss = ((lib.tanh(w) - 0.3) ** 2).sum() + (w ** 4).mean()
            loss.backward()
            opt.step()
        compare(w_n, w_t, rtol=1e-5, atol=1e-6)


def test_param_groups_match_torch():
    lin_n, lin_t = ne.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    lin_n.load_state_dict({k: v.numpy() for k, v in lin_t.state_dict().items()})
    for lin, lib in ((lin_n, ne), (lin_t, torch)):
        opt = lib.optim.SGD([{"params": lin.weight, "weight_decay": 0.5}, {"params": lin.bias}],
                            lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            lin(lib.tensor(X)).pow(2).mean().backward()
            opt.step()
    compare(lin_n.weight, lin_t.weight)
    compare(lin_n.bias, lin_t.bias)


# ------------------------------------------------------------------ autograd
def test_autograd_grad_and_higher_derivatives_match_torch():
    out = []
    for lib in (ne, torch):
        x = lib.tensor(X[0], requires_grad=True)
        y = (lib.sin(x) * x ** 2).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        out.append((g, h))
    compare(out[0][0], out[1][0])
    compare(out[0][1], out[1][1], rtol=1e-5, atol=1e-5)


def test_autograd_backward_of_several_tensors_matches_torch():
    res = []
    for lib in (ne, torch):
        x = lib.tensor(X[0], requires_grad=True)
        lib.autograd.backward([x * 2, x.exp()], [lib.tensor(Y[0]), lib.tensor(Y[1])])
        res.append(x.grad)
    compare(*res)


FUNCTIONS = {
    "jacobian": lambda AF: AF.jacobian(lambda x: x.sin() * x.sum(), _in(AF)),
    "jacobian two inputs": lambda AF: AF.jacobian(lambda a, b: a * b.exp(), (_in(AF), _in(AF) * 2)),
    "jacobian of a matrix function": lambda AF: AF.jacobian(lambda m: m @ m, _in(AF).reshape(2, 2)),
    "hessian": lambda AF: AF.hessian(lambda x: (x.sin() * x ** 2).sum(), _in(AF)),
    "hessian two inputs": lambda AF: AF.hessian(lambda a, b: (a * b.tanh()).sum(),
                                                (_in(AF), _in(AF) + 1)),
    "vjp": lambda AF: AF.vjp(lambda x: x.exp() * 2, _in(AF), _in(AF) - 1),
    "jvp": lambda AF: AF.jvp(lambda x: x.exp() * x.sum(), _in(AF), _in(AF) - 1),
    "hvp": lambda AF: AF.hvp(lambda x: (x ** 3).sum(), _in(AF), _in(AF) - 1),
}


def _in(AF):
    lib = ne if AF is ne.autograd.functional else torch
    return lib.tensor([0.5, -1.0, 2.0, 0.25])


def _flat(x):
    return [t for e in x for t in _flat(e)] if isinstance(x, tuple) else [x]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_autograd_functional_matches_torch(name):
    ours = _flat(FUNCTIONS[name](ne.autograd.functional))
    theirs = _flat(FUNCTIONS[name](torch.autograd.functional))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        compare(a, b, rtol=1e-5, atol=1e-5)


def test_custom_function_matches_torch():
    def make(lib):
        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.save_for_backward(x)
                ctx.k = k
                return x ** 3 * k

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * 3 * x ** 2 * ctx.k, None

        return Cube

    res = []
    for lib in (ne, torch):
        x = lib.tensor(X[0], requires_grad=True)
        y = make(lib).apply(x.sin(), 2.0)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        res.append((y, g, h))
    for a, b in zip(*res):
        compare(a, b, rtol=1e-5, atol=1e-5)


def test_hooks_and_retain_grad_match_torch():
    res = []
    for lib in (ne, torch):
        x = lib.tensor(X[0], requires_grad=True)
        seen = []
        y = x * 3
        y.retain_grad()
        y.register_hook(lambda g, seen=seen: seen.append(g.clone()) or g * 2)
        h = x.register_hook(lambda g: g + 1)
        (y ** 2).sum().backward(retain_graph=True)
        h.remove()
        (y ** 2).sum().backward()
        res.append((x.grad, y.grad, seen[0], seen[1]))
    for a, b in zip(*res):
        compare(a, b)


def test_next_functions_have_torchs_structure():
    def shape(fn):
        return [None if f is None else ("leaf" if not f.next_functions else "node")
                for f, _ in fn.next_functions]

    for lib in (ne, torch):
        w = lib.tensor([1.0], requires_grad=True)
        c = lib.tensor([2.0])
        y = (w * c) + w.exp()
        assert shape(y.grad_fn) == ["node", "node"]
        assert shape(y.grad_fn.next_functions[0][0]) == ["leaf", None]
        assert y.grad_fn.next_functions[1][0].next_functions[0][0].variable is w


IN_PLACE_ERRORS = {
    "saved input changed": lambda lib, w: _change_saved(lib, w),
    "leaf changed outside no_grad": lambda lib, w: w.add_(1),
    "leaf filled outside no_grad": lambda lib, w: w.mul_(2),
    "leaf changed by item assignment": lambda lib, w: w.__setitem__(0, 1.0),
    "second backward without retain_graph": lambda lib, w: _twice(w),
}


def _change_saved(lib, w):
    y = w * 2
    z = (y * y).sum()
    y.add_(1)
    z.backward()


def _twice(w):
    y = (w.exp() * w).sum()
    y.backward()
    y.backward()


@pytest.mark.parametrize("name", sorted(IN_PLACE_ERRORS))
def test_in_place_errors_match_torch(name):
    for lib in (ne, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError):
            IN_PLACE_ERRORS[name](lib, w)


def test_in_place_update_under_no_grad_is_allowed_as_in_torch():
    for lib in (ne, torch):
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        (w * w).sum().backward()
        with lib.no_grad():
            w -= 0.5 * w.grad
            w.grad.zero_()
        assert w.detach().tolist() == [0.0, 0.0] and w.is_leaf and w.requires_grad
