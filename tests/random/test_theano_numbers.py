"""RandomStreams draws the numbers Theano's RandomStreams drew for the same seed.

Theano gave stream k of ``RandomStreams(seed)`` a NumPy ``RandomState`` seeded by the k-th
``randint(2**30)`` of ``RandomState(seed)``, and drew with that RandomState's methods. Course
notebooks and the Theano docs print those numbers; the references here rebuild them from
NumPy alone.
"""

import os

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.random import GeneratorState, RandomStreams


def _theano_states(seed, n):
    """The RandomState of each of the first ``n`` streams of ``RandomStreams(seed)`` in Theano."""
    gen = np.random.RandomState(seed)
    return [np.random.RandomState(int(gen.randint(2 ** 30))) for _ in range(n)]


@pytest.mark.parametrize("seed", [123, 987, 234, 0])
def test_each_stream_draws_what_theano_drew(seed):
    srng = RandomStreams(seed)
    u = srng.uniform((2, 3))
    z = srng.normal((4,), avg=1.0, std=2.0)
    b = srng.binomial((5,), n=3, p=0.25)
    c = srng.choice((3,), a=10, replace=False)
    q = srng.permutation((2,), n=4)
    f = nbgrad.function([], [u, z, b, c, q])
    ru, rz, rb, rc, rq = _theano_states(seed, 5)
    for _ in range(2):  # the second call draws from the advanced states
        got = f()
        np.testing.assert_array_equal(got[0], ru.uniform(0.0, 1.0, (2, 3)))
        np.testing.assert_array_equal(got[1], rz.normal(1.0, 2.0, (4,)))
        np.testing.assert_array_equal(got[2], rb.binomial(3, 0.25, (5,)))
        np.testing.assert_array_equal(got[3], rc.choice(10, (3,), False))
        np.testing.assert_array_equal(got[4], [rq.permutation(4) for _ in range(2)])


def test_random_integers_and_multinomial_draw_one_at_a_time_as_theano():
    srng = RandomStreams(7)
    low, high = T.lvector("low"), T.lvector("high")
    r = srng.random_integers(None, low, high)
    m = srng.multinomial(None, n=5, pvals=[[0.2, 0.8], [0.5, 0.5]])
    f = nbgrad.function([low, high], [r, m])
    got_r, got_m = f([0, 10, -3], [1, 20, 3])
    rr, rm = _theano_states(7, 2)
    np.testing.assert_array_equal(got_r, [rr.randint(0, 2), rr.randint(10, 21), rr.randint(-3, 4)])
    np.testing.assert_array_equal(got_m, [rm.multinomial(5, [0.2, 0.8]), rm.multinomial(5, [0.5, 0.5])])


def test_reseeding_gives_each_stream_theanos_new_seed():
    srng = RandomStreams(1)
    a, b = srng.uniform((3,)), srng.normal((3,))
    f = nbgrad.function([], [a, b])
    f()
    srng.seed(902340)
    ra, rb = _theano_states(902340, 2)
    got = f()
    np.testing.assert_array_equal(got[0], ra.uniform(size=(3,)))
    np.testing.assert_array_equal(got[1], rb.normal(size=(3,)))
    srng.seed()  # back to the seed it was made with
    ra, rb = _theano_states(1, 2)
    np.testing.assert_array_equal(f()[0], ra.uniform(size=(3,)))


def test_a_streams_state_is_read_and_set_as_in_theano():
    srng = RandomStreams(3)
    rv = srng.uniform((2,))
    f = nbgrad.function([], rv)
    state = srng[rv.rng]
    assert isinstance(state, GeneratorState) and state.legacy
    saved = state.get_state()
    first = f()
    srng[rv.rng].set_state(saved)
    np.testing.assert_array_equal(f(), first)
    # a RandomState of one's own, as Theano code sets it
    srng[rv.rng] = np.random.RandomState(42)
    np.testing.assert_array_equal(f(), np.random.RandomState(42).uniform(size=(2,)))
    rv.rng.get_value(borrow=True).seed(5)
    np.testing.assert_array_equal(f(), np.random.RandomState(5).uniform(size=(2,)))
    # the tuple RandomState.get_state() gives is taken as well
    rv.rng.get_value(borrow=True).set_state(np.random.RandomState(9).get_state())
    np.testing.assert_array_equal(f(), np.random.RandomState(9).uniform(size=(2,)))


def test_a_legacy_state_is_saved_and_loaded(tmp_path):
    srng = RandomStreams(11)
    f = nbgrad.function([], srng.normal((3,)))
    f()
    path = os.path.join(tmp_path, "f.npz")
    nbgrad.save(path, f)
    g = nbgrad.load(path)
    np.testing.assert_array_equal(g(), f())
    np.testing.assert_array_equal(g(), f())

