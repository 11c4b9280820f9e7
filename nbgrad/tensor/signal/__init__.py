"""Theano's ``tensor.signal`` paths: ``pool.pool_2d`` and the older ``downsample.max_pool_2d``."""

from nbgrad.tensor.signal import downsample, pool

__all__ = ["downsample", "pool"]
