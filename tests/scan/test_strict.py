"""scan(strict=True): every variable the step function reads must be handed to it."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.compile.function import MissingInputError
from nbgrad.tensor.shared_randomstreams import RandomStreams


def test_a_shared_variable_read_from_outside_is_refused_and_named():
    gain = nbgrad.shared(np.full(3, 2.0), name="gain")
    start = T.dvector("start")
    with pytest.raises(MissingInputError, match="shared variable gain.*non_sequences"):
        nbgrad.scan(lambda prev: prev * gain, outputs_info=start, n_steps=3, strict=True)


def test_a_symbolic_variable_read_from_outside_is_refused():
    offset, start = T.dscalar("offset"), T.dscalar("start")
    with pytest.raises(ValueError, match="offset"):
        nbgrad.scan(lambda prev: prev + offset, outputs_info=start, n_steps=2, strict=True)


def test_strict_scan_runs_when_everything_is_passed_and_random_states_are_allowed():
    gain = nbgrad.shared(np.full(3, 2.0), name="gain")
    streams = RandomStreams(7)
    start = T.dvector("start")

    def step(prev, g):
        noise = streams.uniform(size=prev.shape, low=0.0, high=0.0)  # zero noise, but a random state
        return prev * g + noise

    out, updates = nbgrad.scan(step, outputs_info=start, non_sequences=[gain], n_steps=3, strict=True)
    f = nbgrad.function([start], out[-1], updates=updates)
    np.testing.assert_allclose(f(np.ones(3)), np.full(3, 8.0))
