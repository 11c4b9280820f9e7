"""Random numbers in graphs: ``RandomStreams`` and the random ops.

>>> import nbgrad
>>> from nbgrad.random import RandomStreams
>>> srng = RandomStreams(seed=1)
>>> x = srng.normal((1000,))
>>> abs(float(nbgrad.function([], x.mean())())) < 0.2
True
"""

from nbgrad.random.op import DISTRIBUTIONS, RandomVariable
from nbgrad.random.streams import RandomStreams
from nbgrad.random.type import (
    GeneratorState, RandomGeneratorSharedVariable, RandomGeneratorType, shared_rng,
)

__all__ = [
    "RandomStreams", "RandomVariable", "DISTRIBUTIONS", "GeneratorState",
    "RandomGeneratorType", "RandomGeneratorSharedVariable", "shared_rng",
]
