"""``torch.utils.data`` on nbgrad.eager: ``TensorDataset`` and ``DataLoader``.

>>> import nbgrad.eager as torch
>>> from nbgrad.eager.utils import data
>>> X, y = torch.arange(10.0).reshape(5, 2), torch.arange(5)
>>> loader = data.DataLoader(data.TensorDataset(X, y), batch_size=2)
>>> [tuple(b.shape) for b, _ in loader]
[(2, 2), (2, 2), (1, 2)]
"""

import math

import numpy as np

from nbgrad.eager.functions import _rng, tensor
from nbgrad.eager.tensor import Tensor
from nbgrad.eager.torchlike import stack

__all__ = ["Dataset", "TensorDataset", "DataLoader", "random_split", "Subset"]


class Dataset:
    """A map-style dataset: subclasses give ``__getitem__(i)`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Samples are the rows ``(t[i] for t in tensors)``; all tensors have the same first size."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError(f"Size mismatch between tensors: first dimensions "
                             f"{[t.shape[0] for t in tensors]} must be equal")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def _batch(self, indices):
        """The rows ``indices`` of every tensor at once (no gradient recorded)."""
        out = []
        for t in self.tensors:
            arr = t._data
            idx = indices if type(arr) is np.ndarray else t._xp().asarray(indices)
            out.append(Tensor._make(arr[idx], False, None, 0))
        return tuple(out)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random subsets of the given lengths (or fractions)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = [int(math.floor(n * f)) for f in lengths]
        for k in range(n - sum(sizes)):
            sizes[k % len(sizes)] += 1
    else:
        sizes = list(lengths)
    if sum(sizes) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!")
    perm = _rng[0].permutation(n).tolist()
    out, start = [], 0
    for s in sizes:
        out.append(Subset(dataset, perm[start:start + s]))
        start += s
    return out


def _collate(samples):
    first = samples[0]
    if isinstance(first, Tensor):
        return stack([s.detach() for s in samples])
    if isinstance(first, (tuple, list)):
        return type(first)(_collate(list(col)) for col in zip(*samples)) \
            if isinstance(first, tuple) else [_collate(list(col)) for col in zip(*samples)]
    if isinstance(first, dict):
        return {k: _collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (int, float, bool, np.generic, np.ndarray)):
        return tensor(np.asarray(samples))
    return samples


class DataLoader:
    """Batches of a dataset: ``for X, y in DataLoader(dataset, batch_size, shuffle=True)``.

    With ``shuffle`` the order is a new permutation on each pass, drawn from
    the generator of ``nbgrad.eager.manual_seed`` (not PyTorch's, so batches
    differ from PyTorch's for the same seed). A ``TensorDataset`` is indexed
    one batch at a time; other datasets sample by sample, stacked by
    ``collate_fn``. Worker processes are not used (``num_workers`` is accepted
    and ignored: loading runs in the calling process).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, **kwargs):
        if sampler is not None or batch_sampler is not None:
            raise NotImplementedError(
                "DataLoader(sampler=, batch_sampler=) is not implemented in nbgrad.eager; "
                "use shuffle=True, or index a Subset of the dataset")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.num_workers = num_workers

    def __len__(self):
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = _rng[0].permutation(n) if self.shuffle else np.arange(n)
        if self.batch_size is None:
            for i in order:
                yield self.dataset[int(i)]
            return
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            if fast:
                yield self.dataset._batch(idx)
            else:
                samples = [self.dataset[int(i)] for i in idx]
                yield (self.collate_fn or _collate)(samples)
