"""``mgrid`` and ``ogrid``: NumPy's index grids, as symbolic tensors."""

from nbgrad.config import config
from nbgrad.scalar.basic import upcast
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.elemwise import DimShuffle
from nbgrad.tensor.math import cast
from nbgrad.tensor.shape import alloc, arange, shape_i
from nbgrad.tensor.type import discrete_dtypes

__all__ = ["mgrid", "ogrid"]


class _Grid:
    """``mgrid[...]`` / ``ogrid[...]``: symbolic counterparts of NumPy's index grids.

    Indexed with slices, as NumPy's: one slice gives one range; several give a list
    with one tensor per slice, each of the full grid's shape (``mgrid``) or with size
    1 on every other axis (``ogrid``, whose members broadcast against each other).
    Bounds may be symbolic scalars. An imaginary step ``5j`` asks for 5 points from
    start to stop, both included.

    Examples
    --------
    >>> import nbgrad.tensor as T
    >>> rows, cols = T.mgrid[0:2, 0:3]
    >>> cols.eval().tolist()
    [[0, 1, 2], [0, 1, 2]]
    >>> [g.type.broadcastable for g in T.ogrid[0:2, 0:3]]
    [(False, True), (True, False)]
    """

    def __init__(self, sparse):
        self.sparse = sparse

    def __repr__(self):
        return "nbgrad.tensor.ogrid" if self.sparse else "nbgrad.tensor.mgrid"

    def __getitem__(self, key):
        name = repr(self).rsplit(".", 1)[1]
        keys = key if isinstance(key, tuple) else (key,)
        if not keys or not all(isinstance(k, slice) for k in keys):
            raise TypeError(f"{name}[...] takes slices, e.g. T.{name}[0:5, 0:3], got {key!r}")
        ranges = [_grid_range(k, name) for k in keys]
        dtype = upcast(*(r.dtype for r in ranges))
        ranges = [cast(r, dtype) if r.dtype != dtype else r for r in ranges]
        n = len(ranges)
        if not isinstance(key, tuple):
            return ranges[0]
        axes = [DimShuffle(1, ["x"] * k + [0] + ["x"] * (n - k - 1))(r) for k, r in enumerate(ranges)]
        if self.sparse:
            return axes
        sizes = [shape_i(r, 0) for r in ranges]
        return [alloc(a, *sizes) for a in axes]


def _grid_range(k, name):
    start = 0 if k.start is None else k.start
    step = 1 if k.step is None else k.step
    if k.stop is None:
        raise ValueError(f"{name}: every slice needs a stop, got {k!r}")
    if isinstance(step, complex):
        # NumPy's convention: an imaginary step is a number of points, end included
        num = int(abs(step))
        if num < 1:
            raise ValueError(f"{name}: an imaginary step gives a number of points (>= 1), got {step!r}")
        start, stop = as_tensor_variable(start), as_tensor_variable(k.stop)
        if start.dtype in discrete_dtypes:
            start = cast(start, config.floatX)
        delta = (stop - start) / max(num - 1, 1)
        return start + arange(num) * delta
    return arange(start, k.stop, step)


mgrid = _Grid(sparse=False)
ogrid = _Grid(sparse=True)
