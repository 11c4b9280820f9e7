"""nbgrad.function: outputs, updates, givens, copy, eval, errors, atomic updates."""

import re

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad import In, shared
from nbgrad.compile.function import CompiledFunctionError, UnusedInputError


# --- outputs -----------------------------------------------------------------------
def test_single_output_is_an_array_list_is_a_list_in_order():
    x = T.dvector("x")
    one = nbgrad.function([x], x * 2)
    out = one([1.0, 2.0])
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [2.0, 4.0])
    many = nbgrad.function([x], [x * 3, x + 1, x])
    a, b, c = many([1.0, 2.0])
    np.testing.assert_array_equal(a, [3.0, 6.0])
    np.testing.assert_array_equal(b, [2.0, 3.0])
    np.testing.assert_array_equal(c, [1.0, 2.0])
    single_list = nbgrad.function([x], [x * 2])
    assert isinstance(single_list([1.0]), list)


def test_scalar_outputs_are_zero_dim_arrays():
    x = T.dscalar("x")
    out = nbgrad.function([x], x ** 2)(3)
    assert isinstance(out, np.ndarray) and out.shape == () and out == 9.0


def test_function_with_no_inputs_reads_shared_values():
    s = shared(np.array([[1.0, 2.0], [3.0, 4.0]]), name="s")
    f = nbgrad.function([], s ** 2)
    np.testing.assert_array_equal(f(), [[1.0, 4.0], [9.0, 16.0]])
    s.set_value(np.array([[3.0, 4.0], [2.0, 1.0]]))
    np.testing.assert_array_equal(f(), [[9.0, 16.0], [4.0, 1.0]])


def test_no_outputs_returns_empty_list_and_still_updates():
    s = shared(1.0, name="s")
    f = nbgrad.function([], updates=[(s, s * 2)])
    assert f() == []
    assert s.get_value() == 2.0


def test_maker_fgraph_outputs():
    x = T.dscalar("x")
    f = nbgrad.function([x], [x * 2, x + 1])
    outs = f.maker.fgraph.outputs
    assert len(outs) == 2
    assert all(o.type == x.type for o in outs)


def test_inputs_must_be_a_list_of_free_variables():
    x = T.dscalar("x")
    with pytest.raises(TypeError, match="must be a list"):
        nbgrad.function(x, x * 2)
    with pytest.raises(TypeError, match="computed from other variables"):
        nbgrad.function([x * 2], x)
    with pytest.raises(ValueError, match="given twice"):
        nbgrad.function([x, x], x)
    with pytest.raises(ValueError, match="not in the inputs list"):
        nbgrad.function([], x * 2)
    s = shared(1.0)
    with pytest.raises(TypeError, match="shared variable"):
        nbgrad.function([s], s * 2)


# --- updates -----------------------------------------------------------------------
@pytest.mark.parametrize("as_dict", [False, True])
def test_updates_as_list_or_dict_return_old_value_then_assign(as_dict):
    s = shared(np.array([1.0, 2.0]), name="s")
    sub = T.dvector("sub")
    upd = {s: s - sub} if as_dict else [(s, s - sub)]
    f = nbgrad.function([sub], s, updates=upd)
    np.testing.assert_array_equal(f([1.0, 1.0]), [1.0, 2.0])
    np.testing.assert_array_equal(s.get_value(), [0.0, 1.0])


def test_updates_see_the_values_before_the_call():
    a = shared(1.0, name="a")
    b = shared(2.0, name="b")
    swap = nbgrad.function([], [], updates=[(a, b), (b, a)])
    swap()
    assert (a.get_value(), b.get_value()) == (2.0, 1.0)


def test_update_with_a_plain_value_takes_the_shared_type():
    s = shared(np.zeros(2), name="s")
    f = nbgrad.function([], [], updates={s: [1, 2]})
    f()
    assert s.get_value().dtype == np.float64
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0])


def test_int_shared_updated_with_float_fails_at_compile_time():
    state = shared(0)
    inc = T.dscalar("inc")
    with pytest.raises(TypeError) as info:
        nbgrad.function([inc], state, updates=[(state, state + inc)])
    msg = str(info.value)
    assert "int64" in msg and "float64" in msg
    assert "shared(0.0)" in msg and "cast" in msg
    assert "unnamed shared variable holding array(0)" in msg
    named = shared(0, name="counter")
    with pytest.raises(TypeError, match="shared variable 'counter'"):
        nbgrad.function([inc], [], updates={named: named + inc})


def test_update_of_other_ndim_or_non_shared_is_refused():
    s = shared(np.zeros(3), name="s")
    with pytest.raises(TypeError, match="same type"):
        nbgrad.function([], [], updates={s: s.sum()})
    x = T.dscalar("x")
    with pytest.raises(TypeError, match="not a shared variable"):
        nbgrad.function([x], [], updates={x: x + 1})
    with pytest.raises(TypeError, match="list of"):
        nbgrad.function([], [], updates=[s])


def test_failed_call_leaves_every_shared_variable_unchanged():
    a = shared(np.zeros(2), name="a")
    b = shared(np.zeros(3), name="b")
    v = T.dvector("v")
    f = nbgrad.function([v], a.sum(), updates=[(a, a + 1), (b, b + v)])
    with pytest.raises(ValueError):
        f(np.ones(2))  # the second update cannot broadcast (3,) with (2,)
    np.testing.assert_array_equal(a.get_value(), np.zeros(2))
    np.testing.assert_array_equal(b.get_value(), np.zeros(3))
    f(np.ones(3))
    np.testing.assert_array_equal(a.get_value(), np.ones(2))
    np.testing.assert_array_equal(b.get_value(), np.ones(3))


def test_run_time_error_names_node_shapes_and_user_line():
    x, y = T.dvectors("x", "y")
    total = x + y  # the line the error must point at
    f = nbgrad.function([x, y], total)
    with pytest.raises(CompiledFunctionError) as info:
        f(np.ones(2), np.ones(3))
    msg = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "add" in msg
    assert "shape (2,), dtype float64" in msg and "shape (3,), dtype float64" in msg
    assert "total = x + y  # the line the error must point at" in msg
    assert __file__.rstrip("c") in msg


# --- givens ------------------------------------------------------------------------
def test_givens_replace_a_shared_variable_without_updating_it():
    state = shared(0.0, name="state")
    inc = T.dscalar("inc")
    foo = T.scalar(dtype=state.dtype)
    f = nbgrad.function([inc, foo], state * 2 + inc, givens=[(state, foo)])
    assert float(f(1, 3)) == 7.0
    assert state.get_value() == 0.0


def test_givens_as_dict_and_type_mismatch():
    x, y = T.dscalars("x", "y")
    f = nbgrad.function([y], x * 10, givens={x: y + 1})
    assert float(f(2)) == 30.0
    with pytest.raises(TypeError, match="givens"):
        nbgrad.function([], x, givens={x: T.fscalar()})


# --- argument binding and checking ---------------------------------------------------
@pytest.fixture
def add2():
    x, y = T.dvectors("x", "y")
    return nbgrad.function([x, y], x + y, name="add2")


def test_keyword_calls_by_input_name(add2):
    np.testing.assert_array_equal(add2(y=[1.0], x=[2.0]), [3.0])
    np.testing.assert_array_equal(add2([1.0], y=[5.0]), [6.0])


def test_wrong_number_of_arguments(add2):
    with pytest.raises(TypeError, match=r"'add2' is missing a value for input 1 \('y'\)"):
        add2([1.0])
    with pytest.raises(TypeError, match=r"takes 2 input\(s\) \(x, y\), got 3"):
        add2([1.0], [2.0], [3.0])


def test_unknown_keyword_and_multiple_values(add2):
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'z'.*\['x', 'y'\]"):
        add2([1.0], [2.0], z=[3.0])
    with pytest.raises(TypeError, match="multiple values for input 'x'"):
        add2([1.0], x=[2.0])


def test_wrong_ndim_names_the_input(add2):
    with pytest.raises(TypeError, match=r"input 0 \('x'\): expected 1 dimension"):
        add2([[1.0]], [2.0])


@pytest.mark.parametrize("bad", ["ab", None, [[1.0], [1.0, 2.0]]])
def test_unparseable_values_name_the_input(add2, bad):
    with pytest.raises((TypeError, ValueError), match=r"input 1 \('y'\)"):
        add2([1.0], bad)


def test_lossy_dtype_refused_unless_allowed():
    fv = T.fvector("fv")
    with pytest.raises(TypeError, match=r"'fv'.*float64 to float32.*allow_input_downcast"):
        nbgrad.function([fv], fv * 2)(np.array([1.5]))
    out = nbgrad.function([fv], fv * 2, allow_input_downcast=True)(np.array([1.5]))
    assert out.dtype == np.float32 and out.tolist() == [3.0]
    out = nbgrad.function([In(fv, allow_downcast=True)], fv * 2)(np.array([1.5]))
    assert out.dtype == np.float32
    iv = T.ivector("iv")
    g = nbgrad.function([iv], iv * 2)
    with pytest.raises(TypeError, match="'iv'"):
        g(np.array([1], dtype=np.int64))
    with pytest.raises(TypeError, match="'iv'"):
        g([1.5])
    assert g([1.0, 2.0]).tolist() == [2, 4]  # exact conversions are fine


def test_strict_input_requires_the_exact_dtype():
    x = T.dvector("x")
    f = nbgrad.function([In(x, strict=True)], x + 1)
    with pytest.raises(TypeError, match="strict"):
        f([1.0])
    np.testing.assert_array_equal(f(np.array([1.0])), [2.0])


# --- copy ----------------------------------------------------------------------------
def test_copy_with_swap_and_delete_updates():
    state = shared(0.0, name="state")
    inc = T.dscalar("inc")
    acc = nbgrad.function([inc], state, updates=[(state, state + inc)])
    new_state = shared(0.0, name="new_state")
    new_acc = acc.copy(swap={state: new_state})
    assert float(new_acc(100)) == 0.0
    assert new_state.get_value() == 100.0 and state.get_value() == 0.0
    kept = shared(1.0, name="kept")
    null_acc = acc.copy(delete_updates=True, swap={state: kept})
    assert float(null_acc(20)) == 1.0
    assert kept.get_value() == 1.0 and state.get_value() == 0.0
    acc(5)
    assert state.get_value() == 5.0


def test_copy_swap_errors():
    state = shared(0.0, name="state")
    f = nbgrad.function([], state * 2)
    with pytest.raises(TypeError, match="same dtype and ndim"):
        f.copy(swap={state: shared(0)})
    with pytest.raises(ValueError, match="not used"):
        f.copy(swap={shared(1.0, name="other"): shared(2.0)})
    with pytest.raises(TypeError, match="shared variables"):
        f.copy(swap={state: 3.0})


# --- eval and shared arithmetic ---------------------------------------------------
def test_eval():
    x = T.dscalar("x")
    assert float((x ** 2).eval({x: 3})) == 9.0
    s = shared(np.arange(3.0))
    np.testing.assert_array_equal((s * 2 + 1).eval(), [1.0, 3.0, 5.0])


def test_arithmetic_on_shared_variables():
    a = shared(np.array([1.0, 2.0]), name="a")
    b = shared(np.array([3.0, 4.0]), name="b")
    x = T.dvector("x")
    f = nbgrad.function([x], [a + b, a * x, T.dot(a, b), -a, a ** 2 / b])
    r = f([10.0, 20.0])
    av, bv = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    for got, want in zip(r, [av + bv, av * [10.0, 20.0], av @ bv, -av, av ** 2 / bv]):
        np.testing.assert_allclose(got, want)


def test_repr_is_readable():
    x = T.dscalar("x")
    s = shared(0.0, name="total")
    f = nbgrad.function([x], x * 2, updates={s: s + x}, name="double")
    text = repr(f)
    assert "double" in text and "x: TensorType(float64, scalar)" in text
    assert "total" in text and "backend=cpu" in text


# --- borrow semantics --------------------------------------------------------------
def test_inputs_and_defaults_are_never_modified():
    x = T.dvector("x")
    y = T.dvector("y")
    d = np.array([1.0, 2.0])
    f = nbgrad.function([x, In(y, value=d)], [x, y, x * 2])
    xv = np.array([5.0, 6.0])
    rx, ry, _ = f(xv)
    assert not np.shares_memory(rx, xv) and not np.shares_memory(ry, d)
    rx[:] = 0
    ry[:] = 0
    np.testing.assert_array_equal(xv, [5.0, 6.0])
    np.testing.assert_array_equal(f(xv)[1], [1.0, 2.0])
    d[0] = 100.0  # the default was copied when compiled
    np.testing.assert_array_equal(f(xv)[1], [1.0, 2.0])


def test_outputs_aliasing_shared_values_are_copies():
    s = shared(np.array([[1.0, 2.0], [3.0, 4.0]]), name="s")
    r = nbgrad.function([], [s, s.T])()
    r[0][0, 0] = 99.0
    r[1][0, 0] = 99.0
    np.testing.assert_array_equal(s.get_value(), [[1.0, 2.0], [3.0, 4.0]])


def test_an_update_from_an_input_does_not_keep_the_callers_array():
    s = shared(np.zeros(2), name="s")
    v = T.dvector("v")
    f = nbgrad.function([v], [], updates={s: v})
    arr = np.ones(2)
    f(arr)
    arr[0] = 5.0
    np.testing.assert_array_equal(s.get_value(), [1.0, 1.0])


def test_duplicate_outputs_are_distinct_arrays():
    x = T.dvector("x")
    y = x * 2
    a, b = nbgrad.function([x], [y, y])([1.0])
    assert a is not b


def test_an_output_equal_to_an_update_is_not_the_new_shared_value():
    w = shared(np.arange(4.0), name="w")
    f = nbgrad.function([], w * 2, updates=[(w, w * 2)])
    out = f()
    out[:] = 99.0
    np.testing.assert_array_equal(w.get_value(), [0.0, 2.0, 4.0, 6.0])


def test_an_output_equal_to_an_update_from_an_input_is_not_the_new_shared_value():
    w = shared(np.arange(4.0), name="w")
    v = T.dvector("v")
    f = nbgrad.function([v], [v + 1], updates=[(w, v + 1)])
    out = f(np.zeros(4))[0]
    out[:] = 99.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 1.0, 1.0, 1.0])


def test_a_view_of_an_update_returned_as_output_is_a_copy():
    w = shared(np.array([[1.0, 2.0], [3.0, 4.0]]), name="w")
    new = w + 1
    out = nbgrad.function([], new.T, updates=[(w, new)])()
    out[:] = 0.0
    np.testing.assert_array_equal(w.get_value(), [[2.0, 3.0], [4.0, 5.0]])


def test_two_updates_with_the_same_value_do_not_share_storage():
    a, b = shared(np.zeros(2), name="a"), shared(np.zeros(2), name="b")
    nbgrad.function([], [], updates=[(a, a + 1), (b, a + 1)])()
    a.get_value(borrow=True)[0] = 7.0
    np.testing.assert_array_equal(b.get_value(), [1.0, 1.0])


def test_equal_outputs_are_different_buffers():
    x = T.dvector("x")
    a, b = nbgrad.function([x], [x * 2, x * 2])(np.ones(3))
    assert not np.shares_memory(a, b)
    a[:] = 0.0
    np.testing.assert_array_equal(b, [2.0, 2.0, 2.0])


def test_the_input_returned_as_output_is_not_the_callers_array():
    x = T.dvector("x")
    xv = np.ones(3)
    a, b = nbgrad.function([x], [x, x])(xv)
    assert not np.shares_memory(a, xv) and not np.shares_memory(a, b)


def test_borrowed_outputs_skip_the_defensive_copy():
    # Out(borrow=True) lets the function return an array it does not own alone
    x = T.dvector("x")
    xv = np.ones(3)
    assert np.shares_memory(nbgrad.function([x], nbgrad.Out(x, borrow=True))(xv), xv)
    assert not np.shares_memory(nbgrad.function([x], nbgrad.Out(x))(xv), xv)
    # an update equal to a borrowed output gets the copy instead: the two stay apart
    w = shared(np.arange(3.0), name="w")
    out = nbgrad.function([], nbgrad.Out(w + 1, borrow=True), updates=[(w, w + 1)])()
    out[:] = 0.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0, 3.0])


def test_outputs_are_copied_only_where_needed():
    x = T.dvector("x")
    w = shared(np.zeros(3), name="w")
    f = nbgrad.function([x], [x * 2, w * x], updates=[(w, w + x)])
    assert "copy()" not in f.source  # no output shares storage with another


# --- errors inside a compiled call -----------------------------------------------------


def test_memory_error_in_a_call_reports_the_size_and_the_node():
    i = T.iscalar("i")
    f = nbgrad.function([i], T.zeros((i, i, i)))
    with pytest.raises(MemoryError) as info:
        f(100000)
    msg = str(info.value)
    assert isinstance(info.value, CompiledFunctionError)
    assert "Unable to allocate 7.1" in msg and "PiB" in msg
    assert "while computing" in msg and "T.zeros((i, i, i))" in msg
    assert info.value.shape == (100000, 100000, 100000)  # the original's fields are kept


class _FieldsError(ValueError):
    """An exception class whose constructor requires fields and whose str reads them."""

    def __init__(self, code, detail):
        super().__init__(code, detail)
        self.code, self.detail = code, detail

    def __str__(self):
        return f"code {self.code}: {self.detail}"


class _Raise(nbgrad.graph.op.Op):
    """Raises the exception it holds when computed."""

    __props__ = ("exc",)  # each exception its own op (compiled graphs are cached by op identity)

    def __init__(self, exc):
        self.exc = exc

    def make_node(self, x):
        return nbgrad.graph.basic.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, xp):
        raise self.exc


@pytest.mark.parametrize("exc", [_FieldsError(7, "bad row"), KeyError("k"),
                                 UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
                                 OSError(2, "gone", "f.txt")])
def test_errors_of_any_exception_class_explain_the_node(exc):
    x = T.dvector("x")
    f = nbgrad.function([x], _Raise(exc)(x) + 1)
    with pytest.raises(CompiledFunctionError) as info:
        f([1.0])
    msg = str(info.value)
    assert f"{type(exc).__name__} while computing _Raise" in msg and str(exc) in msg
    if isinstance(info.value, type(exc)):
        assert vars(info.value).items() >= vars(exc).items()


def test_an_error_keeps_the_original_class_and_fields():
    x = T.dvector("x")
    f = nbgrad.function([x], _Raise(_FieldsError(7, "bad row"))(x))
    with pytest.raises(_FieldsError) as info:  # `except ValueError` code keeps working
        f([1.0])
    assert info.value.code == 7 and info.value.detail == "bad row"


# --- options -------------------------------------------------------------------------


def test_on_unused_input_refuses_unknown_values():
    x, y = T.dscalars("x", "y")
    with pytest.raises(ValueError, match=r"on_unused_input.*'raise', 'warn', 'ignore'.*'bogus'"):
        nbgrad.function([x, y], x, on_unused_input="bogus")
    with pytest.raises(UnusedInputError):
        nbgrad.function([x, y], x, on_unused_input="raise")


@pytest.mark.parametrize("arg", [np.arange(3.0), [0.5, 1.0, 2.0], np.arange(3, dtype="int32"),
                                 np.arange(3.0, dtype="float32"), np.ones((1, 3))])
def test_the_generated_call_does_what_the_generic_call_does(arg):
    # f's class writes Function.__call__ out for f's signature (inputs, updates, stateful input)
    def make():
        x, acc = T.dvector("x"), T.dscalar("acc")
        s = nbgrad.shared(np.zeros(3), name="s")
        f = nbgrad.function([x, nbgrad.In(acc, value=0.0, update=acc + x.sum())],
                            [x * 2, acc], updates=[(s, s + x)])
        return f, s

    (fast, s1), (generic, s2) = make(), make()
    assert type(fast) is not nbgrad.compile.Function and "def __call__" in type(fast).call_source
    for _ in range(2):
        try:
            got = fast(arg)
        except Exception as exc:  # noqa: BLE001 - the same error is expected from both
            with pytest.raises(type(exc), match=re.escape(str(exc))):
                nbgrad.compile.Function.__call__(generic, arg)
            assert s1.get_value().tolist() == s2.get_value().tolist() == [0.0, 0.0, 0.0]
            return
        want = nbgrad.compile.Function.__call__(generic, arg)
        assert [r.tolist() for r in got] == [r.tolist() for r in want]
        assert s1.get_value().tolist() == s2.get_value().tolist()
        assert fast[1] == generic[1]
    assert fast(x=arg)[1] == generic(x=arg)[1]
