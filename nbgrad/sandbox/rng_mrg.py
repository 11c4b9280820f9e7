"""``MRG_RandomStreams`` under Theano's import path.

It makes the same random variables as :class:`nbgrad.random.RandomStreams`
(every stream on its own shared generator state), with Theano's MRG argument
order for ``binomial`` and an ``rstate`` attribute: the state from which the
next stream is seeded, which course code copies between two objects.

>>> from nbgrad.sandbox.rng_mrg import MRG_RandomStreams
>>> a, b = MRG_RandomStreams(1), MRG_RandomStreams(2)
>>> b.rstate = a.rstate
>>> import nbgrad
>>> bool((nbgrad.function([], a.uniform((3,)))() == nbgrad.function([], b.uniform((3,)))()).all())
True
"""

from nbgrad.random.streams import RandomStreams

__all__ = ["MRG_RandomStreams"]


class MRG_RandomStreams(RandomStreams):
    """Random streams with Theano's MRG API (default seed 12345)."""

    def __init__(self, seed=12345):
        super().__init__(seed)

    @property
    def rstate(self):
        """The state from which the next stream is seeded (a copy); assign it to another
        object to have its next streams seeded the same way."""
        return self.gen_seedgen.get_state()

    @rstate.setter
    def rstate(self, state):
        self.gen_seedgen.set_state(state)

    def binomial(self, size=None, p=1, ndim=None, dtype="int64", nstreams=None, n=1, **kwargs):
        """Bernoulli (n=1) or binomial draws with probability ``p``."""
        return self.gen("binomial", size, [n, p], dtype)

    def uniform(self, size=None, low=0.0, high=1.0, ndim=None, dtype=None, nstreams=None, **kwargs):
        return super().uniform(size, low, high, ndim=ndim, dtype=dtype)

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None,
               truncate=False, **kwargs):
        return super().normal(size, avg, std, ndim=ndim, dtype=dtype, **kwargs)
