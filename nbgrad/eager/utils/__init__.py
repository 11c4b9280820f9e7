"""``torch.utils`` on nbgrad.eager: only ``data`` (datasets and the batch loader)."""

from nbgrad.eager.utils import data  # noqa: F401

__all__ = ["data"]
