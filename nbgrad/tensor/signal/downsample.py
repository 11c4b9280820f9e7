"""Theano's older pooling module: ``max_pool_2d(input, ds, ignore_border=None, st=None, padding=(0, 0))``.

>>> import numpy as np, nbgrad.tensor as T
>>> from nbgrad.tensor.signal.downsample import max_pool_2d
>>> x = T.dmatrix("x")
>>> max_pool_2d(x, (2, 2), ignore_border=True).eval({x: np.arange(16.0).reshape(4, 4)})
array([[ 5.,  7.],
       [13., 15.]])
"""

from nbgrad.tensor.signal.pool import pool_2d

__all__ = ["max_pool_2d"]


def max_pool_2d(input, ds, ignore_border=None, st=None, padding=(0, 0), mode="max"):
    """Pooling over the last two axes with window ``ds`` and stride ``st`` (default ``ds``).

    The same as ``pool.pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st,
    pad=padding, mode=mode)``.
    """
    return pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st, pad=padding, mode=mode)
