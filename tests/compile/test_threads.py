"""Compiled functions called from several threads: no lost update, no deadlock."""

import sys
import threading

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad import In, shared

N_THREADS = 8
N_CALLS = 2000


@pytest.fixture(autouse=True)
def _switch_threads_often():
    """Let the interpreter switch threads every few bytecodes, as under a loaded machine."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _run_in_threads(*works):
    """Run each ``work`` in its own thread, all released at once; re-raise their errors."""
    start = threading.Barrier(len(works))
    errors = []

    def run(work):
        start.wait()
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in works]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "threads are stuck (deadlock?)"
    if errors:
        raise errors[0]


def _repeat(f, *args, n=N_CALLS):
    def work():
        for _ in range(n):
            f(*args)

    return work


def test_concurrent_updates_lose_no_increment():
    W = shared(np.zeros(3), name="W")
    x = T.dvector("x")
    step = nbgrad.function([x], [], updates=[(W, W + x)])
    one = np.ones(3)
    _run_in_threads(*[_repeat(step, one)] * N_THREADS)
    np.testing.assert_array_equal(W.get_value(), [N_THREADS * N_CALLS] * 3)


def test_two_functions_updating_the_same_variable_lose_no_increment():
    count = shared(0, name="count")
    up = nbgrad.function([], [], updates=[(count, count + 1)])
    up_twice = nbgrad.function([], [], updates=[(count, count + 2)])
    _run_in_threads(*[_repeat(up), _repeat(up_twice)] * (N_THREADS // 2))
    assert int(count.get_value()) == N_THREADS // 2 * N_CALLS * 3


def test_updates_of_several_variables_stay_consistent():
    # every call moves one unit from a to b: the sum is invariant, and each
    # concurrent reader that also updates sees it whole
    a, b = shared(1000.0, name="a"), shared(0.0, name="b")
    move = nbgrad.function([], [], updates=[(a, a - 1), (b, b + 1)])
    seen = shared(0.0, name="seen")
    check = nbgrad.function([], a + b, updates=[(seen, seen + 1)])
    sums = []

    def watch():
        for _ in range(N_CALLS):
            sums.append(float(check()))

    _run_in_threads(_repeat(move), _repeat(move), watch, watch)
    assert set(sums) == {1000.0}
    assert float(a.get_value()) == 1000.0 - 2 * N_CALLS and float(b.get_value()) == 2 * N_CALLS


def test_functions_locking_variables_in_opposite_orders_do_not_deadlock():
    # f lists a before b, g lists b before a, h is g with its variables swapped in:
    # the locks are still taken in one fixed order
    a, b, c = shared(0.0, name="a"), shared(0.0, name="b"), shared(0.0, name="c")
    f = nbgrad.function([], [], updates=[(a, a + b + 1), (b, b + 1)])
    g = nbgrad.function([], [], updates=[(b, b + a + 1), (a, a + 1)])
    h = g.copy(swap={a: c})
    _run_in_threads(_repeat(f), _repeat(g), _repeat(h), _repeat(f.copy(swap={b: c})))
    assert float(b.get_value()) >= 2 * N_CALLS  # every call did run


def test_set_value_is_not_lost_in_the_middle_of_a_call():
    count = shared(0, name="count")
    up = nbgrad.function([], [], updates=[(count, count + 1)])

    def add_with_set_value():
        for _ in range(N_CALLS):
            with count.lock:  # a read-modify-write outside compiled code
                count.set_value(count.get_value() + 1)

    _run_in_threads(_repeat(up), _repeat(up), add_with_set_value)
    assert int(count.get_value()) == 3 * N_CALLS


def test_stateful_inputs_lose_no_update():
    x, acc = T.dscalars("x", "acc")
    f = nbgrad.function([x, In(acc, value=0.0, update=acc + x)], acc)
    _run_in_threads(*[_repeat(f, 1.0)] * N_THREADS)
    assert float(f(0.0)) == N_THREADS * N_CALLS


def test_functions_without_updates_run_concurrently_and_agree():
    W = shared(np.arange(6.0).reshape(2, 3), name="W")
    x = T.dmatrix("x")
    f = nbgrad.function([x], T.tanh(T.dot(x, W)) * 2 + 1)
    xv = np.linspace(-1, 1, 2000).reshape(1000, 2)
    expected = np.tanh(xv @ W.get_value()) * 2 + 1
    results = []
    _run_in_threads(*[lambda: results.extend(f(xv) for _ in range(20))] * 4)
    assert len(results) == 80
    for r in results:
        np.testing.assert_allclose(r, expected)


def test_an_error_inside_a_call_releases_the_locks():
    W = shared(np.zeros(2), name="W")
    x = T.dvector("x")
    step = nbgrad.function([x], [], updates=[(W, W + x)])
    for _ in range(3):
        try:
            step(np.ones(3))  # wrong shape: fails inside the compiled code
        except ValueError:
            pass
    done = []
    _run_in_threads(lambda: done.append(step(np.ones(2))))
    assert done and W.get_value().tolist() == [1.0, 1.0]
