"""Scalar operations lifted elementwise by ``nbgrad.tensor.Elemwise``."""

from nbgrad.scalar.basic import DISCONNECTED, ZERO, Cast, ScalarOp, scalar_ops, upcast

__all__ = ["DISCONNECTED", "ZERO", "Cast", "ScalarOp", "scalar_ops", "upcast"]
