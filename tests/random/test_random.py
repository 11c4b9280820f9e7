"""RandomStreams: seed-003 behaviours, state handling, distributions, gradients."""

import subprocess
import sys

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.random import GeneratorState, RandomStreams
from nbgrad.sandbox.rng_mrg import MRG_RandomStreams
from nbgrad.tensor.shared_randomstreams import RandomStreams as TheanoPathRandomStreams


def test_import_paths_are_the_same_class():
    assert TheanoPathRandomStreams is RandomStreams
    assert issubclass(MRG_RandomStreams, RandomStreams)


# ------------------------------------------------------------------ seed 003
def test_seed_003_draws_updates_and_no_default_updates():
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = nbgrad.function([], rv_u)
    g = nbgrad.function([], rv_n, no_default_updates=True)
    nearly = nbgrad.function([], rv_u + rv_u - 2 * rv_u)
    f0, f1 = f(), f()
    assert f0.shape == (2, 2) and not np.any(f0 == f1)
    np.testing.assert_array_equal(g(), g())
    np.testing.assert_array_equal(nearly(), np.zeros((2, 2)))
    assert f0.dtype == np.dtype(nbgrad.config.floatX)


def test_seed_003_reseed_one_stream_and_restore_state():
    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    f = nbgrad.function([], rv_u)
    nearly = nbgrad.function([], rv_u + rv_u - 2 * rv_u)
    rng_val = rv_u.rng.get_value(borrow=True)
    rng_val.seed(89234)
    rv_u.rng.set_value(rng_val, borrow=True)
    a = f()
    rv_u.rng.get_value(borrow=True).seed(89234)
    np.testing.assert_array_equal(f(), a)

    state_after_v0 = rv_u.rng.get_value().get_state()
    nearly()
    v1 = f()
    rng = rv_u.rng.get_value(borrow=True)
    rng.set_state(state_after_v0)
    rv_u.rng.set_value(rng, borrow=True)
    v2 = f()
    v3 = f()
    assert not np.any(v2 == v1)
    np.testing.assert_array_equal(v3, v1)


def test_srng_seed_reseeds_every_stream():
    srng = RandomStreams(seed=1)
    a, b = srng.uniform((3,)), srng.normal((3,))
    f = nbgrad.function([], [a, b])
    srng.seed(902340)
    r1 = f()
    f()
    srng.seed(902340)
    r2 = f()
    for x, y in zip(r1, r2):
        np.testing.assert_array_equal(x, y)
    assert [rng for rng, _ in srng.state_updates] == [a.rng, b.rng]


def test_get_value_copies_unless_borrowed():
    srng = RandomStreams(seed=5)
    rv = srng.uniform(())
    copy = rv.rng.get_value()
    assert copy is not rv.rng.get_value(borrow=True)
    assert isinstance(copy, GeneratorState) and copy == rv.rng.get_value(borrow=True)
    nbgrad.function([], rv)()
    assert copy != rv.rng.get_value(borrow=True)


def test_set_value_rejects_non_generators_with_clear_error():
    rv = RandomStreams(seed=5).uniform(())
    with pytest.raises(TypeError, match="random generator state"):
        rv.rng.set_value(np.zeros(3))


def test_per_variable_no_default_updates():
    srng = RandomStreams(seed=9)
    a, b = srng.uniform((2,)), srng.uniform((2,))
    f = nbgrad.function([], [a, b], no_default_updates=[a.rng])
    r1, r2 = f(), f()
    np.testing.assert_array_equal(r1[0], r2[0])
    assert not np.any(r1[1] == r2[1])


class _Graph:
    def __init__(self, cls, seed):
        self.rng = cls(seed)
        self.y = self.rng.uniform(size=(1,))


def _copy_random_state(g1, g2):
    if isinstance(g1.rng, MRG_RandomStreams):
        g2.rng.rstate = g1.rng.rstate
    for su1, su2 in zip(g1.rng.state_updates, g2.rng.state_updates):
        su2[0].set_value(su1[0].get_value())


@pytest.mark.parametrize("cls", [RandomStreams, MRG_RandomStreams])
def test_seed_003_copy_random_state_between_graphs(cls):
    g1, g2 = _Graph(cls, 123), _Graph(cls, 987)
    f1, f2 = nbgrad.function([], g1.y), nbgrad.function([], g2.y)
    assert f1() != f2()
    _copy_random_state(g1, g2)
    np.testing.assert_array_equal(f1(), f2())


def test_same_seed_same_numbers_across_processes():
    code = (
        "import nbgrad;from nbgrad.random import RandomStreams;"
        "s=RandomStreams(seed=42);x=s.normal((4,));y=s.integers((3,),0,100);"
        "f=nbgrad.function([],[x,y]);f();print(repr([v.tolist() for v in f()]))"
    )
    outs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    s = RandomStreams(seed=42)
    x, y = s.normal((4,)), s.integers((3,), 0, 100)
    f = nbgrad.function([], [x, y])
    f()
    here = repr([v.tolist() for v in f()])
    assert outs[0] == outs[1] == here + "\n"


# ------------------------------------------------------------------ distributions
N = 200_000


def draw(rv, *inputs):
    return nbgrad.function(list(inputs), rv)


def test_uniform_statistics_and_bounds():
    r = draw(RandomStreams(1).uniform((N,), low=2.0, high=5.0, dtype="float64"))()
    assert r.min() >= 2.0 and r.max() < 5.0
    assert abs(r.mean() - 3.5) < 0.02 and abs(r.var() - 0.75) < 0.02


def test_normal_statistics_symbolic_params():
    m, s = T.dscalar("m"), T.dscalar("s")
    r = draw(RandomStreams(2).normal((N,), avg=m, std=s, dtype="float64"), m, s)(1.5, 2.0)
    assert abs(r.mean() - 1.5) < 0.03 and abs(r.std() - 2.0) < 0.03


def test_binomial_statistics():
    r = draw(RandomStreams(3).binomial((N,), n=10, p=0.3))()
    assert r.dtype == np.int64
    assert abs(r.mean() - 3.0) < 0.03 and abs(r.var() - 2.1) < 0.05


def test_integers_and_random_integers_ranges():
    s = RandomStreams(4)
    a = draw(s.integers((N,), 0, 10))()
    b = draw(s.random_integers((N,), 1, 6))()
    assert a.min() == 0 and a.max() == 9 and abs(a.mean() - 4.5) < 0.05
    assert b.min() == 1 and b.max() == 6 and abs(b.mean() - 3.5) < 0.03


def test_choice_with_probabilities():
    r = draw(RandomStreams(5).choice((N,), a=3, p=[0.2, 0.3, 0.5]))()
    freq = np.bincount(r, minlength=3) / N
    np.testing.assert_allclose(freq, [0.2, 0.3, 0.5], atol=0.01)
    v = draw(RandomStreams(5).choice((4,), a=np.array([10, 20, 30]), replace=True))()
    assert set(v.tolist()) <= {10, 20, 30}


def test_permutation():
    r = draw(RandomStreams(6).permutation(n=8))()
    assert sorted(r.tolist()) == list(range(8))
    rs = draw(RandomStreams(6).permutation((5,), n=4))()
    assert rs.shape == (5, 4) and all(sorted(row) == [0, 1, 2, 3] for row in rs.tolist())


def test_multinomial_statistics():
    r = draw(RandomStreams(7).multinomial((N,), n=5, pvals=[0.1, 0.6, 0.3]))()
    assert r.shape == (N, 3) and np.all(r.sum(axis=1) == 5)
    np.testing.assert_allclose(r.mean(axis=0), [0.5, 3.0, 1.5], atol=0.02)


def test_symbolic_size_and_dtype():
    n = T.lscalar("n")
    rv = RandomStreams(8).uniform((n, 3), dtype="float32")
    out = draw(rv, n)(5)
    assert out.shape == (5, 3) and out.dtype == np.float32
    sz = T.lvector("sz")
    with pytest.raises(ValueError, match="length of the symbolic size"):
        RandomStreams(8).uniform(sz)


def test_size_none_broadcasts_parameters():
    avg = T.dvector("avg")
    r = draw(RandomStreams(9).normal(avg=avg, std=1e-9, dtype="float64"), avg)([1.0, 2.0, 3.0])
    np.testing.assert_allclose(r, [1.0, 2.0, 3.0], atol=1e-6)


# ------------------------------------------------------------------ gradients
def test_generator_is_disconnected_but_parameters_differentiable():
    m, s = T.dscalar("m"), T.dscalar("s")
    rv = RandomStreams(10).normal((1000,), avg=m, std=s, dtype="float64")
    gm, gs = T.grad(rv.sum(), [m, s])
    f = nbgrad.function([m, s], [gm, gs, rv], no_default_updates=True)
    gmv, gsv, x = f(0.5, 2.0)
    assert gmv == 1000.0
    np.testing.assert_allclose(gsv, ((x - 0.5) / 2.0).sum())
    from nbgrad.gradient import DisconnectedInputError

    with pytest.raises(DisconnectedInputError):
        T.grad(rv.sum(), rv.rng)


def test_uniform_reparametrization_gradient_matches_finite_differences():
    lo, hi = T.dscalar("lo"), T.dscalar("hi")
    rv = RandomStreams(11).uniform((50,), low=lo, high=hi, dtype="float64")
    cost = (rv ** 2).sum()
    f = nbgrad.function([lo, hi], T.grad(cost, [lo, hi]), no_default_updates=True)
    c = nbgrad.function([lo, hi], cost, no_default_updates=True)
    eps = 1e-6
    glo, ghi = f(1.0, 3.0)
    np.testing.assert_allclose(glo, (c(1.0 + eps, 3.0) - c(1.0 - eps, 3.0)) / (2 * eps), rtol=1e-5)
    np.testing.assert_allclose(ghi, (c(1.0, 3.0 + eps) - c(1.0, 3.0 - eps)) / (2 * eps), rtol=1e-5)


@pytest.mark.parametrize("n, pvals, shape", [
    (4, [0.2, 0.3, 0.5], (3,)),
    (np.array([3, 5]), [0.2, 0.8], (2, 2)),
    (np.array([3, 5]), [[0.2, 0.8], [0.5, 0.5]], (2, 2)),
    (2, [[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]], (3, 2)),
])
def test_multinomial_without_size_has_numpys_shape(n, pvals, shape):
    rv = RandomStreams(9).multinomial(n=n, pvals=pvals)
    out = draw(rv)()
    expected = np.random.default_rng(0).multinomial(n, pvals)
    assert rv.ndim == expected.ndim and out.shape == expected.shape == shape
    np.testing.assert_array_equal(out.sum(axis=-1), np.broadcast_to(n, shape[:-1]))
