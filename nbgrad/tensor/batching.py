"""Helpers for the batching rules that ops carry (``Op.vectorize_node``).

A batched variable has one more dimension than the variable it stands for:
a leading batch axis. These helpers use only variable methods, so that any
op module can import them; the ones that build allocations
(``broadcast_batch``, ``batch_size``) live beside ``Alloc`` in
``nbgrad.tensor.shape``.
"""

__all__ = ["is_batched", "any_batched", "pad_after_batch", "shift_axis"]


def is_batched(new, old):
    """Whether ``new``, standing for ``old`` in a batched graph, carries a leading batch axis."""
    return new.ndim == old.ndim + 1


def any_batched(new_inputs, old_inputs):
    """Whether any of ``new_inputs`` is batched relative to the matching ``old_inputs``."""
    return any(is_batched(n, o) for n, o in zip(new_inputs, old_inputs))


def pad_after_batch(x, ndim):
    """Insert broadcastable axes after the batch axis of ``x`` up to ``ndim`` core dimensions."""
    extra = ndim - (x.ndim - 1)
    if extra <= 0:
        return x
    return x.dimshuffle(0, *(["x"] * extra), *range(1, x.ndim))


def shift_axis(a):
    """A core axis index as an index into the batched variable (negative ones stay)."""
    return a + 1 if a >= 0 else a
