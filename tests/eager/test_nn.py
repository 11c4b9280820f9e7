"""nbgrad.eager.nn without PyTorch: expected values, module bookkeeping, clear errors."""

import numpy as np
import pytest

import nbgrad.eager as torch
from nbgrad.eager import nn
from nbgrad.eager.nn import functional as F


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_cross_entropy_of_one_row_leaves_the_logits_unchanged():
    # One row of logits: the fused op used to subtract the maximum and exponentiate in the
    # caller's own memory, changing the input and the gradient computed from it.
    x = np.float32([0.5, 1.0, 2.0, 0.1])
    z = torch.tensor(x, requires_grad=True)
    loss = F.cross_entropy(z.unsqueeze(0), torch.tensor([2]))
    np.testing.assert_array_equal(z.detach().numpy(), x)
    loss.backward()
    np.testing.assert_array_equal(z.detach().numpy(), x)
    np.testing.assert_allclose(loss.item(), -np.log(softmax(x)[2]), rtol=1e-6)
    np.testing.assert_allclose(z.grad.numpy(), softmax(x) - np.eye(4)[2], rtol=1e-5, atol=1e-7)
