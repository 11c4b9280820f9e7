"""RandomStreams: symbolic random variables whose generator states are shared variables."""

import numpy as np

from nbgrad import tensor as T
from nbgrad.config import config
from nbgrad.graph.basic import Variable
from nbgrad.random.op import RandomVariable
from nbgrad.random.type import GeneratorState, shared_rng

__all__ = ["RandomStreams"]


def _size_vector(size, where):
    """(int64 vector variable, ndim, has_size) for a size argument."""
    if size is None:
        return T.constant(np.zeros(0, dtype=np.int64)), None, False
    if isinstance(size, (int, np.integer)):
        size = (int(size),)
    if isinstance(size, Variable):
        if size.ndim == 0:
            size = [size]
        elif size.ndim == 1:
            n = size.type.shape[0]
            if n is None:
                raise ValueError(
                    f"{where}: the length of the symbolic size {size} is not known when the graph "
                    "is built; give size as a tuple, e.g. (n, m) with symbolic n and m"
                )
            v = T.cast(size, "int64") if size.dtype != "int64" else size
            return v, n, True
        else:
            raise ValueError(f"{where}: size must be a tuple or a vector, got {size.type}")
    size = list(size)
    for s in size:
        if isinstance(s, Variable):
            if s.ndim != 0 or not s.dtype.startswith(("int", "uint")):
                raise TypeError(f"{where}: every entry of size must be an integer scalar, got {s} ({s.type})")
        elif not isinstance(s, (int, np.integer)) or s < 0:
            raise TypeError(f"{where}: every entry of size must be a non-negative integer, got {s!r}")
    if not size:
        return T.constant(np.zeros(0, dtype=np.int64)), 0, True
    if any(isinstance(s, Variable) for s in size):
        v = T.stack([T.cast(s, "int64") if isinstance(s, Variable) else T.constant(np.int64(s))
                     for s in size])
    else:
        v = T.constant(np.asarray(size, dtype=np.int64))
    return v, len(size), True


class RandomStreams:
    """A factory of random variables, each with its own shared generator state.

    Every call of a compiled function that uses a random variable draws new
    numbers: its generator state (``rv.rng``) is advanced by a default update.
    ``no_default_updates=True`` on ``function`` repeats the same draw.

    Parameters
    ----------
    seed : int, optional
        Seed of every stream made by this object. As in Theano, stream k is a NumPy
        ``RandomState`` (MT19937) seeded by the k-th ``randint(2**30)`` of
        ``RandomState(seed)``: the same seed gives the same numbers in every process, and
        the numbers Theano gave for it.

    Examples
    --------
    >>> import nbgrad
    >>> from nbgrad.random import RandomStreams
    >>> srng = RandomStreams(seed=234)
    >>> rv_u = srng.uniform((2, 2))
    >>> f = nbgrad.function([], rv_u)
    >>> bool((f() != f()).all())
    True
    >>> g = nbgrad.function([], rv_u, no_default_updates=True)
    >>> bool((g() == g()).all())
    True
    >>> float(abs(nbgrad.function([], rv_u + rv_u - 2 * rv_u)()).max())
    0.0
    """

    def __init__(self, seed=None):
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2 ** 30))
        self.default_instance_seed = int(seed)
        #: the seed the streams were last seeded from (what a display shows)
        self.last_seed = self.default_instance_seed
        #: draws the seed of each new stream (Theano's scheme, see ``_next_state``)
        self.gen_seedgen = np.random.RandomState(self.default_instance_seed)
        #: (shared generator state, its update) for every variable made, in order
        self.state_updates = []

    def _next_state(self):
        # as Theano's RandomStreams: stream k is a legacy RandomState seeded by the k-th
        # randint(2**30) of RandomState(seed), so the Theano docs' numbers come out
        return GeneratorState(np.random.RandomState(int(self.gen_seedgen.randint(2 ** 30))))

    def seed(self, seed=None):
        """Reseed every stream made so far from ``seed`` (``default_instance_seed`` if None).

        Stream k gets the k-th ``randint(2**30)`` of ``RandomState(seed)``, as in Theano.
        """
        if seed is None:
            seed = self.default_instance_seed
        self.last_seed = int(seed)
        seedgen = np.random.RandomState(int(seed))
        for rng, _ in self.state_updates:
            rng.get_value(borrow=True).set_state(
                GeneratorState(np.random.RandomState(int(seedgen.randint(2 ** 30)))))

    def __getitem__(self, item):
        """The generator state of the stream ``item`` (an ``rv.rng``), as Theano's ``srng[rv.rng]``."""
        return item.get_value(borrow=True)

    def __setitem__(self, item, value):
        """Set the generator state of the stream ``item``, as Theano's ``srng[rv.rng] = state``."""
        item.set_value(value, borrow=True)

    def updates(self):
        """The (shared state, update) pairs, as a list."""
        return list(self.state_updates)

    def gen(self, dist, size, params, dtype, ndim_extra=0, where=None, ndim=None):
        """A new random variable drawing from ``dist`` (a name in ``DISTRIBUTIONS``)."""
        where = where or f"{type(self).__name__}.{dist}"
        size_v, n, has_size = _size_vector(size, where)
        params = [p if isinstance(p, Variable) else T.as_tensor_variable(p) for p in params]
        if ndim is not None and not has_size:
            pass  # the distribution knows its own rank (e.g. multinomial's batch of counts)
        elif has_size:
            ndim = n + ndim_extra
        else:
            ndim = max([p.ndim for p in params] + [0]) + ndim_extra
        op = RandomVariable(dist, dtype, ndim, has_size)
        k = len(self.state_updates)
        rng = shared_rng(self._next_state(), name=f"rng_{dist}_{k}")
        new_rng, out = op.make_node(rng, size_v, *params).outputs
        rng.default_update = new_rng
        out.rng = rng
        out.update = (rng, new_rng)
        self.state_updates.append((rng, new_rng))
        return out

    # ------------------------------------------------------------ distributions
    def uniform(self, size=None, low=0.0, high=1.0, ndim=None, dtype=None, **kwargs):
        """Uniform draws in [low, high) (dtype: floatX by default)."""
        return self.gen("uniform", size, [low, high], dtype or config.floatX)

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None, **kwargs):
        """Normal draws with mean ``avg`` and standard deviation ``std``."""
        avg = kwargs.pop("loc", avg)
        std = kwargs.pop("scale", std)
        return self.gen("normal", size, [avg, std], dtype or config.floatX)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", prob=None, **kwargs):
        """Number of successes in ``n`` trials of probability ``p``."""
        if prob is not None:
            p = prob
        return self.gen("binomial", size, [n, p], dtype)

    def integers(self, size=None, low=0, high=1, ndim=None, dtype="int64"):
        """Integers in [low, high) (``high`` excluded, as in NumPy)."""
        return self.gen("integers", size, [low, high], dtype)

    def random_integers(self, size=None, low=0, high=1, ndim=None, dtype="int64"):
        """Integers in [low, high] (``high`` included, as in Theano)."""
        return self.gen("random_integers", size, [low, high], dtype)

    def choice(self, size=1, a=2, replace=True, p=None, ndim=None, dtype="int64"):
        """Draws from ``range(a)`` (int ``a``) or from the entries of vector ``a``."""
        p = T.constant(np.zeros(0)) if p is None else p
        if size is None:
            size = ()
        return self.gen("choice", size, [a, np.bool_(replace), p], dtype)

    def permutation(self, size=None, n=1, ndim=None, dtype="int64"):
        """A random permutation of ``range(n)`` (one per entry of ``size``)."""
        return self.gen("permutation", size, [n], dtype, ndim_extra=1)

    def multinomial(self, size=None, n=1, pvals=None, ndim=None, dtype="int64"):
        """Counts of ``n`` draws over the categories of probabilities ``pvals``."""
        if pvals is None:
            pvals = [0.5, 0.5]
        pv = pvals if isinstance(pvals, Variable) else T.as_tensor_variable(np.asarray(pvals, dtype="float64"))
        if size is None:
            n_var = n if isinstance(n, Variable) else T.as_tensor_variable(n)
            # batch axes broadcast from n and pvals' leading axes, then one axis of categories
            rank = max(n_var.ndim, pv.ndim - 1) + 1
            return self.gen("multinomial", None, [n_var, pv], dtype, ndim=rank)
        return self.gen("multinomial", size, [n, pv], dtype, ndim_extra=1)
