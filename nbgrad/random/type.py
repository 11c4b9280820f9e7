"""Random generator state: its value class, its Type, and its shared variable."""

import numpy as np

from nbgrad.compile.sharedvalue import SharedVariable
from nbgrad.graph.basic import Type, Variable

__all__ = ["GeneratorState", "RandomGeneratorType", "RandomGeneratorSharedVariable", "shared_rng"]


def _bit_generator(seed):
    if isinstance(seed, np.random.SeedSequence):
        return np.random.PCG64(seed)
    if seed is None:
        return np.random.PCG64()
    return np.random.PCG64(np.random.SeedSequence(int(seed)))


class GeneratorState:
    """A mutable random generator state: a NumPy ``Generator`` (PCG64), or a legacy
    ``RandomState`` (MT19937), the generator Theano's ``RandomStreams`` used.

    It offers the methods course code calls on Theano's generator values:
    ``seed(n)``, ``get_state()`` and ``set_state(state)``.

    >>> g = GeneratorState(42)
    >>> s = g.get_state()
    >>> a = g.generator.random()
    >>> g.set_state(s)
    >>> g.generator.random() == a
    True
    >>> GeneratorState(np.random.RandomState(7))
    GeneratorState(MT19937, legacy RandomState)
    """

    __slots__ = ("generator",)

    def __init__(self, seed=None):
        if isinstance(seed, (np.random.Generator, np.random.RandomState)):
            self.generator = seed
        else:
            self.generator = np.random.Generator(_bit_generator(seed))

    @property
    def legacy(self):
        """True for a legacy ``RandomState`` (Theano's generator), False for a ``Generator``."""
        return isinstance(self.generator, np.random.RandomState)

    def seed(self, seed=None):
        """Reset the state from an integer seed (or, for a ``Generator``, a ``numpy.random.SeedSequence``)."""
        if self.legacy:
            self.generator.seed(seed)
        else:
            self.generator = np.random.Generator(_bit_generator(seed))

    def get_state(self):
        """The state as a plain dict (a copy), for ``set_state``."""
        if self.legacy:
            return self.generator.get_state(legacy=False)
        return self.generator.bit_generator.state

    def set_state(self, state):
        """Restore a state returned by ``get_state`` (or by ``RandomState.get_state()``)."""
        if isinstance(state, GeneratorState):
            state = state.get_state()
        if isinstance(state, tuple) or isinstance(state, dict) and "has_gauss" in state:
            if not self.legacy:
                self.generator = np.random.RandomState()
            self.generator.set_state(state)
            return
        if not isinstance(state, dict):
            raise TypeError(
                f"set_state expects the dict returned by get_state(), got {type(state).__name__}"
            )
        if self.legacy or state.get("bit_generator") != type(self.generator.bit_generator).__name__:
            bg = getattr(np.random, state.get("bit_generator", ""), None)
            if bg is None:
                raise ValueError(f"set_state: unknown bit generator in {state!r}")
            self.generator = np.random.Generator(bg())
        self.generator.bit_generator.state = state

    def copy(self):
        """An independent copy with the same state."""
        if self.legacy:
            rs = np.random.RandomState()
            rs.set_state(self.generator.get_state(legacy=False))
            return GeneratorState(rs)
        bg = type(self.generator.bit_generator)()
        bg.state = self.generator.bit_generator.state
        return GeneratorState(np.random.Generator(bg))

    __copy__ = copy

    def __deepcopy__(self, memo):
        return self.copy()

    def __eq__(self, other):
        return (isinstance(other, GeneratorState) and self.legacy == other.legacy
                and _states_equal(self.get_state(), other.get_state()))

    __hash__ = object.__hash__

    def __repr__(self):
        if self.legacy:
            return "GeneratorState(MT19937, legacy RandomState)"
        return f"GeneratorState({type(self.generator.bit_generator).__name__})"


def _states_equal(a, b):
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_states_equal(a[k], b[k]) for k in a)
    return bool(np.all(a == b))


class RandomGeneratorType(Type):
    """The type of a random generator state (values: :class:`GeneratorState`)."""

    dtype = "rng"
    ndim = 0
    shape = ()

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(RandomGeneratorType)

    def __str__(self):
        return "RandomGeneratorType"

    __repr__ = __str__

    def filter(self, value, strict=False, allow_downcast=None, what="value"):
        if isinstance(value, GeneratorState):
            return value
        if isinstance(value, (np.random.Generator, np.random.RandomState)) and not strict:
            return GeneratorState(value)
        raise TypeError(
            f"{what}: expected a random generator state (GeneratorState, "
            f"numpy.random.Generator or numpy.random.RandomState), got {type(value).__name__}; get one with "
            "rv.rng.get_value() and change it with its seed()/set_state() methods"
        )

    def make_variable(self, name=None):
        return Variable(self, name=name)


class RandomGeneratorSharedVariable(SharedVariable):
    """A shared generator state: ``get_value(borrow=True)`` gives the live state object."""

    def __repr__(self):
        return f"RandomGeneratorSharedVariable(name={self.name!r})"

    def __str__(self):
        return self.name if self.name is not None else "rng"


def shared_rng(seed=None, name=None):
    """A new shared random generator state.

    >>> r = shared_rng(7, name="r")
    >>> type(r.get_value(borrow=True)).__name__
    'GeneratorState'
    """
    value = seed if isinstance(seed, GeneratorState) else GeneratorState(seed)
    return RandomGeneratorSharedVariable(RandomGeneratorType(), value, name=name)
