"""Each rewrite fires where it should (expected graph, same values) and nowhere else."""

import re

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.gradient import grad_clip, zero_grad
from nbgrad.rewriting import Mode, db
from nbgrad.printing import latex, pp
from nbgrad.rewriting.algebraic import unit_of
from nbgrad.scalar import basic as ps
from nbgrad.tensor.elemwise import DimShuffle, Elemwise, SumToShape
from nbgrad.tensor.math import Sum
from nbgrad.tensor.nnet import LogSoftmax, Softmax
from nbgrad.rewriting.stabilize import LogOfSoftmax
from nbgrad.tensor.shape import shape, shape_i
from tests.rewriting.helpers import rewritten, same_graph, values_agree

rng = np.random.default_rng(0)
V = rng.uniform(0.2, 2.0, size=4)
M = rng.uniform(-2.0, 2.0, size=(3, 4))


def vec():
    return T.dvector("x")


def _fires():
    x, y = T.dvector("x"), T.dvector("y")
    s = T.dscalar("s")
    m = T.dmatrix("m")
    i = T.vector("i", dtype="int64")
    f = T.tensor("float64", shape=(3, 4), name="f")
    v4 = T.tensor("float64", shape=(4,), name="v4")
    rows = {
        "remove_gradient_ops": ([x], zero_grad(x) * 2 + grad_clip(T.exp(x), -1, 1), x * 2 + T.exp(x)),
        "dimshuffle_identity": ([x], DimShuffle(1, (0,))(x) + 1, x + 1),
        "dimshuffle_dimshuffle": ([m], T.exp(m.T.T), T.exp(m)),
        "alloc_useless": ([s], T.alloc(T.exp(s)) + s, T.exp(s) + s),
        "cast_useless": ([x], Elemwise(ps.Cast("float64"))(x) * 3, x * 3),
        "commutative_order": ([s], T.mul(T.constant(2.0), T.exp(s)), T.exp(s) * 2),
        "constant_folding": ([x], x + T.exp(T.constant(1.0)) * 2, x + np.exp(1.0) * 2),
        "shape_static": ([f], T.shape(f) * 1, T.constant(np.array([3, 4]))),
        "merge": ([x], T.exp(x) + T.exp(x), None),
        "mul_by_one": ([x], x * 1, x),
        "add_zero": ([x], -0.0 + x * 3, x * 3),
        "sub_zero": ([x], x * 3 - 0, x * 3),
        "div_by_one": ([x], T.exp(x) / 1, T.exp(x)),
        "pow_one": ([x], x ** 1, x),
        "mul_by_minus_one": ([x], T.exp(x) * -1, -T.exp(x)),
        "neg_neg": ([x], T.neg(T.neg(T.exp(x))), T.exp(x)),
        "sub_neg": ([x, y], x - (-y), x + y),
        "add_neg": ([x, y], x + (-y), x - y),
        # -(x - y) is -0.0 where x = y and y - x is +0.0: abs does not see the difference
        "neg_sub": ([x, y], abs(-(x - y)), abs(y - x)),
        "mul_neg": ([x, y], x * (-y), -(x * y)),
        "log_exp": ([x], T.log(T.exp(x)), x),
        "mul_by_zero": ([i], T.sigmoid(T.cast(i, "float64")) * 0, None),
        "sub_self": ([i], T.tanh(T.cast(i, "float64")) - T.tanh(T.cast(i, "float64")), None),
        "div_self": ([x], T.alloc(3.0, shape_i(x, 0)) / T.alloc(3.0, shape_i(x, 0)) * x, None),
        "elemwise_alloc": ([x], T.maximum(x, T.alloc(1.5, shape_i(x, 0))), T.maximum(x, 1.5)),
        "mul_powers": ([x], x ** 2 * x ** 3, x ** 5.0),
        "sum_alloc": ([s], T.sum(T.alloc(s, 3, 4)), s * 12.0),
        "pow_specialize": ([x], T.exp(x) ** 2, T.sqr(T.exp(x))),
        "sigmoid_specialize": ([x], 1 / (1 + T.exp(-x)), T.sigmoid(x)),
        "sigmoid_reciprocal": ([x], T.reciprocal(1 + T.exp(-x)), T.sigmoid(x)),
        "sigmoid_exp_product": ([x], T.sigmoid(x) * T.exp(-x), T.sigmoid(-x)),
        "log1p_specialize": ([x], T.log(1 + x), T.log1p(x)),
        "expm1_specialize": ([x], T.exp(x) - 1, T.expm1(x)),
        "softmax_specialize": ([m], T.exp(m) / T.sum(T.exp(m), axis=1, keepdims=True), Softmax(1)(m)),
        "log_softmax_specialize": ([m], T.log(Softmax(1)(m)), LogOfSoftmax(1)(m)),
        "log_softmax_from_logsumexp": (
            [m], m - T.log(T.sum(T.exp(m), axis=1, keepdims=True)), LogSoftmax(1)(m)),
        "sum_to_shape_useless": ([x], SumToShape()(T.exp(x), shape(x)), T.exp(x)),
        "sum_of_broadcast_axes": ([x], T.sum(T.exp(x).dimshuffle("x", 0), axis=0), T.exp(x)),
        "pow_zero": ([x], x ** 0 * x, x),
        "shape_i_through": ([x], T.alloc(1.5, shape_i(x ** 2, 0)) + x, None),
        "constant_chain": ([x], x * 2 * 2 * 2, x * 8),
        "switch_same": ([x], T.switch(T.gt(T.sum(x), 0), x, x), x),
        "switch_const": ([x], T.switch(T.constant(False), 0.0, 2 * x), 2 * x),
        "shape_subtensor": ([x], x.shape[0] + 1, shape_i(x, 0) + 1),
        "shape_of_elemwise": ([x], T.shape(T.exp(x)) + 1, 1 + T.make_vector(shape_i(x, 0))),
        "cancel_reciprocal": ([x, y], y * (1 / T.sigmoid(x)) * T.sigmoid(x) * (1 - T.sigmoid(x)),
                              y * T.sigmoid(-x)),  # 1 - sigmoid(x) is sigmoid(-x) (stabilize)
        "cancel_division": ([x], T.exp(x) * T.sigmoid(x) / T.sigmoid(x), T.exp(x)),

        # the gradient of two slices of one vector: one array incremented twice
        "sum_of_increments": ([v4], T.inc_subtensor(T.zeros((4,))[:3], v4[:3])
                              + T.inc_subtensor(T.zeros((4,))[3:], T.exp(v4[3:])),
                              T.inc_subtensor(T.inc_subtensor(T.zeros((4,))[:3], v4[:3])[3:], T.exp(v4[3:]))),
        # the shape (4, 3) is a constant once folded: the result's sizes are known (with one
        # unknown size the reshape already knows it when it is built)
        "refine_static_shape": ([f], T.exp(f.reshape((f.shape[1], f.shape[0]))),
                                T.exp(f.reshape(T.constant(np.array([4, 3]))))),
        "sum_of_scaled_matrix": ([m, x], T.concatenate([T.sum(m * x.dimshuffle("x", 0), axis=1),
                                                        T.sum(T.exp(m) * m[:, 0].dimshuffle(0, "x"), axis=0)]),
                                 T.concatenate([T.dot(m, x), T.dot(m[:, 0], T.exp(m))])),
    }
    return rows


FIRES = _fires()


def _values(inputs):
    out = []
    for v in inputs:
        if v.dtype == "int64":
            out.append(np.arange(4))
        else:
            out.append({0: np.float64(0.7), 1: V, 2: M}[v.ndim])
    return out


@pytest.mark.parametrize("name", sorted(FIRES))
def test_rewrite_fires(name):
    inputs, out, expected = FIRES[name]
    fg, applied = rewritten(inputs, out, Mode(excluding=["fusion", "inplace"]))
    assert name in applied
    if expected is not None:
        assert same_graph(fg, inputs, expected), (name, fg.outputs)
    assert values_agree(inputs, out, _values(inputs))


def test_every_rewrite_has_a_firing_test():
    tested = set(FIRES) | set(LEAVES) | {"fuse_elemwise", "elemwise_inplace"}
    tested |= {"unsafe_mul_by_zero", "unsafe_sub_self", "unsafe_div_self"}
    tested |= {"scan_prune_outputs"}  # fires and leaves alone in tests/scan/test_rewriting.py
    # the stabilizing rewrites: every one fires and leaves alone in tests/rewriting/test_stabilize.py
    tested |= {n for n, r in db.by_name.items() if r.fn.__module__ == "nbgrad.rewriting.stabilize"}
    tested |= {"elemwise_alloc_checked", "elemwise_of_fill", "check_sizes_useless", "make_vector_entry"}  # test_shapes.py
    tested |= {"collect_like_terms", "factor_dot_sum"}  # tests/rewriting/test_polynomial.py
    tested |= {"inc_subtensor_inplace"}  # tests/rewriting/test_subtensor.py
    tested |= {"contract_products"}  # tests/rewriting/test_contraction.py
    tested |= {"push_one_hot"}  # tests/rewriting/test_onehot.py
    tested |= {"refine_static_shape_late"}  # tests/rewriting/test_refine_static_shape.py
    ours = {n for n, r in db.by_name.items() if r.fn.__module__.startswith("nbgrad.rewriting")}
    assert ours <= tested, ours - tested


def _leaves():
    x, y = T.dvector("x"), T.dvector("y")
    s = T.dscalar("s")
    m = T.dmatrix("m")
    return {
        # would drop the broadcast of a scalar against a vector of ones
        "mul_by_one": ([s], s * T.constant(np.ones(3)),),
        "add_zero": ([x], x + T.constant(np.array([0.0, 1.0, 0.0, 0.0])),),
        # x = -0.0 gives -0.0 + 0.0 = +0.0: 1 / (x + 0) is +inf where 1 / x is -inf
        "add_zero_positive": ([x], 1 / (x + 0.0),),
        "sub_zero": ([x], 0 - x,),
        "div_by_one": ([x], 1 / T.exp(x),),
        "pow_one": ([x], 1 ** x,),
        "neg_neg": ([x], -T.exp(x),),
        "log_exp": ([x], T.exp(T.log(x)),),
        # x may be inf or nan: x*0 is nan there, not 0
        "mul_by_zero": ([x], x * 0,),
        "sub_self": ([x], x - x,),
        "div_self": ([x], x / x,),
        # the alloc widens x (a vector of unknown length against 5)
        "elemwise_alloc": ([x], x * T.alloc(1.5, 4),),
        # negative exponents: 0**-1 * 0**2 is nan, 0**1 is 0
        "mul_powers": ([x], x ** -1.0 * x ** 2,),
        # x may be negative: x**0.5 * x**0.5 is nan there, x**1 is x
        "mul_powers_nan": ([x], x ** 0.5 * x ** 0.5,),
        "sum_alloc": ([m], T.sum(T.alloc(T.sum(m), 3, 4), axis=0),),
        "pow_specialize": ([x], x ** 3,),
        "sigmoid_specialize": ([x], 1 / (2 + T.exp(-x)),),
        "sigmoid_exp_product": ([x, y], T.sigmoid(x) * T.exp(-y),),
        "log1p_specialize": ([x], T.log(2 + x),),
        "expm1_specialize": ([x], T.exp(x) - 2,),
        "softmax_specialize": ([m], T.exp(m) / T.sum(T.exp(m), axis=0, keepdims=True).sum(),),
        "log_softmax_from_logsumexp": ([m, T.dmatrix("k")], m - T.log(T.sum(T.exp(m), axis=1, keepdims=True)) * 2,),
        # y may be broadcast against x at run time: its gradient needs the sum
        "sum_to_shape_useless": ([x, y], SumToShape()(x * y, shape(y)),),
        # axis 1 of the matrix is not an inserted axis
        "sum_of_broadcast_axes": ([m], T.sum(m.dimshuffle(0, "x", 1), axis=(1, 2)),),
        "commutative_order": ([x], T.exp(x) * 2,),
        "constant_folding": ([s], s + 1,),
        "merge": ([x, y], T.exp(x) + T.exp(y),),
        "remove_gradient_ops": ([x], x * 2,),
        "cast_useless": ([x], T.cast(x, "float32"),),
        "alloc_useless": ([s], T.alloc(s, 3),),
        "dimshuffle_identity": ([m], m.T,),
        "dimshuffle_dimshuffle": ([m], T.exp(m.T),),
        "shape_static": ([x], T.shape(x),),
        "mul_by_minus_one": ([x], x * -2,),
        "sub_neg": ([x, y], x - y,),
        "add_neg": ([x, y], x + T.exp(-y),),
        "neg_sub": ([x, y], -(x + y),),
        # the result is an output: -(x - x) is -0.0, x - x is +0.0
        "neg_sub_signed": ([x, y], -(x - y),),
        "mul_neg": ([x, y], x * y,),
        "sigmoid_reciprocal": ([x], T.reciprocal(1 + x),),
        "log_softmax_specialize": ([m], T.log(T.exp(m)) * 2,),
        # the exponent is 0 in one place only
        "pow_zero": ([x], x ** T.constant(np.array([0.0, 1.0, 0.0, 2.0])),),
        # the size of an input is not known any better
        "shape_i_through": ([x], T.alloc(1.5, shape_i(x, 0)) + 1,),
        # the condition may broadcast the result to a larger shape
        "switch_same": ([x, y], T.switch(T.gt(y, 0), x, x),),
        # the branch picked is a scalar: alone it would not have the result's shape
        "switch_const": ([x], T.switch(T.constant(True), 0.0, 2 * x),),
        # a slice of the shape vector stays a slice
        "shape_subtensor": ([x], T.alloc(1.5, T.prod(x.shape[:1])) + 1,),
        # the shape of a reduction's result is not an elementwise question
        "shape_of_elemwise": ([x], T.shape(T.sum(x, keepdims=True)) + 1,),
        # 0.1 * 3 is not exact in binary floating point
        "constant_chain": ([x], x * 0.1 * 3,),
        # x may be 0: (1/x) * x is nan there, not 1
        "cancel_reciprocal": ([x, y], y * (1 / x) * x,),
        # the second term holds no reciprocal: distributing would grow the graph
        "cancel_reciprocal_sum": ([x, y], (y / T.sigmoid(x) + y) * T.sigmoid(x),),
        # x may be 0: (y·x)/x is nan there, not y
        "cancel_division": ([x, y], y * x / x,),
        # x may be nan: y·sigmoid(x)/sigmoid(x) is nan there, y alone would not be
        "cancel_division_nan": ([x, y], y * T.sigmoid(x) / T.sigmoid(x),),
        # not every term of the sum has the factor
        "cancel_division_sum": ([x, y], (y * T.exp(x) + y) * x / T.exp(x),),
        # the first increment is into x, not into zeros: x + y would round otherwise
        "sum_of_increments": ([x, y], T.inc_subtensor(x[:2], y[:2]) + T.inc_subtensor(T.zeros_like(x)[2:], y[2:]),),
        # the shape is not a constant
        "refine_static_shape": ([m], m.reshape((m.shape[0] * m.shape[1],)),),
        # the vector is spread along the summed axis, not across it: no matrix-vector product
        "sum_of_scaled_matrix": ([m, x], T.sum(m * x.dimshuffle("x", 0), axis=0),),
    }


LEAVES = _leaves()


@pytest.mark.parametrize("name", sorted(LEAVES))
def test_rewrite_leaves_alone(name):
    inputs, out = LEAVES[name][:2]
    fg, applied = rewritten(inputs, out, Mode(excluding=["fusion", "inplace"]))
    assert re.sub("_positive|_nan|_sum|_signed", "", name) not in applied
    assert values_agree(inputs, out, _values(inputs)) if all(v.ndim < 3 for v in inputs) else True


def _cancelled(inputs, out, expected):
    fg, applied = rewritten(inputs, out, Mode(excluding=["fusion", "inplace"]))
    assert "cancel_reciprocal" in applied
    assert same_graph(fg, inputs, expected), fg.outputs
    assert values_agree(inputs, out, _values(inputs))


def test_cancel_reciprocal_through_a_sum_of_reciprocal_terms():
    # the logistic-loss gradient: each term cancels one factor, the other multiplies it
    x, u, v = T.dvector("x"), T.dvector("u"), T.dvector("v")
    s = T.sigmoid(x)
    _cancelled([x, u, v], (-(u * (1 / (1 - s))) + v * (1 / s)) * (s * (1 - s)),
               -(u * s) + v * T.sigmoid(-x))


def test_cancel_reciprocal_of_a_quotient_and_of_reciprocal():
    x, y = T.dvector("x"), T.dvector("y")
    _cancelled([x, y], (y / T.exp(x)) * T.exp(x) * T.sigmoid(x), y * T.sigmoid(x))
    _cancelled([x, y], T.reciprocal(T.exp(x)) * y * T.exp(x) * x, y * x)
    # a finite argument (a cast integer) cannot be nan: nothing needs to carry it
    i = T.vector("i", dtype="int64")
    e = T.exp(T.cast(i, "float64"))
    _, applied = rewritten([i], (1 / e) * e)
    assert "cancel_reciprocal" in applied
    assert values_agree([i], (1 / e) * e, _values([i]))


def test_cancel_reciprocal_is_exact_where_the_factor_rounds_to_zero():
    # sigmoid(-800) underflows to 0 and 1 - sigmoid(40) rounds to 0: the original is nan
    x, y = T.dvector("x"), T.dvector("y")
    s = T.sigmoid(x)
    out = (y / (1 - s) + y / s) * s * (1 - s)
    xv, yv = np.array([-800.0, 40.0, 0.5, -np.inf]), np.full(4, 2.0)
    with np.errstate(all="ignore"):
        on = nbgrad.function([x, y], out)(xv, yv)
        off = nbgrad.function([x, y], out, mode=Mode("NONE"))(xv, yv)
    assert np.isnan(off[:2]).all()
    np.testing.assert_allclose(on, [2.0, 2.0, 2.0, 2.0])
    np.testing.assert_allclose(on[2], off[2])
    # a nan in x stays nan
    assert np.isnan(nbgrad.function([x, y], out)(np.array([np.nan]), np.array([1.0]))).all()


def test_cancel_division_through_a_sum_where_every_term_has_the_factor():
    # the gradient of log(1 - exp(x)/(1 + exp(x))) once its sigmoids are recognized
    x = T.dvector("x")
    s, c = T.sigmoid(x), T.sigmoid(-x)
    out = T.exp(x) * (s * c - c) / c
    fg, applied = rewritten([x], out, Mode(excluding=["fusion", "inplace"]))
    assert "cancel_division" in applied
    assert values_agree([x], out, _values([x]))
    xv = np.array([-800.0, -40.0, 0.5, 40.0, 800.0])
    with np.errstate(all="ignore"):
        on = nbgrad.function([x], out)(xv)
        off = nbgrad.function([x], out, mode=Mode("NONE"))(xv)
    assert np.isnan(off[-1])
    np.testing.assert_allclose(on, -1 / (1 + np.exp(-xv)), rtol=1e-15)
    assert np.isnan(nbgrad.function([x], out)(np.array([np.nan]))).all()


def test_unsafe_rewrites_only_on_request():
    x = T.dvector("x")
    for name, out in (("mul_by_zero", x * 0), ("sub_self", x - x), ("div_self", x / x)):
        _, applied = rewritten([x], out, Mode(including=["unsafe"]))
        assert "unsafe_" + name in applied
        _, applied = rewritten([x], out)
        assert "unsafe_" + name not in applied


def test_excluding_by_name_and_tag():
    x = T.dvector("x")
    out = T.log(T.exp(x)) * 1
    _, applied = rewritten([x], out, Mode(excluding=["log_exp"]))
    assert "log_exp" not in applied and "mul_by_one" in applied
    _, applied = rewritten([x], out, Mode(excluding=["stability", "simplify", "fusion", "inplace"]))
    assert applied == [] or all(a in ("constant_folding", "commutative_order") for a in applied)


def test_fast_compile_only_removes_gradient_ops():
    x = T.dvector("x")
    _, applied = rewritten([x], zero_grad(x) * 1 + 0, Mode("FAST_COMPILE"))
    # and runs the 'stability' rewrites (tests/rewriting/test_stabilize.py): here, only the
    # broadcast constants 1 and 0 become constants of one axis
    assert applied == ["remove_gradient_ops", "broadcast_constant", "broadcast_constant"]


def test_unknown_rewrite_name_is_an_error():
    with pytest.raises(ValueError, match="no rewrite or tag"):
        Mode(excluding=["no_such_rewrite"])


def test_cancel_reciprocal_keeps_a_nan_of_the_cancelled_argument():
    x = T.dvector("x")
    # tanh(x) is nan where x is: it carries x's nan, and the product is tanh(x)
    _cancelled([x], T.tanh(x) * (1 / T.exp(x)) * T.exp(x), T.tanh(x))
    # nothing left carries x (the gradient of log(exp(x))): unit(x), 1 or nan where x is,
    # stands in for the pair
    out = T.grad(T.sum(T.log(T.exp(x))), x)
    fg, applied = rewritten([x], out, Mode(excluding=["fusion", "inplace"]))
    assert "cancel_reciprocal" in applied
    assert [n.op for n in fg.apply_nodes] == [unit_of]
    f = nbgrad.function([x], out)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(f([800.0, -800.0, np.nan, 2.5]), [1.0, 1.0, np.nan, 1.0])
    assert pp(unit_of(x)) == "1" and latex(unit_of(x)) == "1"


def test_cancel_reciprocal_reads_shared_products_within_a_bound():
    # each product is used twice by the next: read through without a bound, the factors
    # of the last one would number 2**40
    x = T.dvector("x")
    m = T.sigmoid(x)
    for _ in range(40):
        m = m * m
    out = m * (1 / T.sigmoid(x))
    xv = np.array([0.5, 3.0])
    s = 1 / (1 + np.exp(-xv))
    np.testing.assert_allclose(nbgrad.function([x], out)(xv), s ** (2 ** 40) / s)


def test_mul_by_a_full_array_of_ones_of_the_operands_static_shape():
    # a gradient seed folds to such an array: x * ones(4) is x when x has 4 elements statically
    x = T.tensor("float64", shape=(4,), name="x")
    out = T.exp(x) * T.constant(np.ones(4))
    fg, applied = rewritten([x], out, Mode(excluding=["fusion", "inplace"]))
    assert "mul_by_one" in applied and same_graph(fg, [x], T.exp(x))
    assert values_agree([x], out, [V])
    # of unknown length, x might have another size: the product keeps the check
    y = T.dvector("y")
    fg, applied = rewritten([y], T.exp(y) * T.constant(np.ones(4)), Mode(excluding=["fusion", "inplace"]))
    assert "mul_by_one" not in applied


def test_sum_of_scaled_stack_of_matrices_is_a_matmul():
    # a batched Hessian stacks the matrices: sums over either matrix axis become matmuls
    a, w = T.dtensor3("a"), T.dvector("w")
    out = T.sum(a * w.dimshuffle("x", "x", 0), axis=2) + T.sum(T.exp(a) * w.dimshuffle("x", 0, "x"), axis=1)
    fg, applied = rewritten([a, w], out, Mode(excluding=["fusion", "inplace"]))
    assert applied.count("sum_of_scaled_matrix") == 2
    assert not any(isinstance(n.op, Sum) for n in fg.apply_nodes)
    values = [rng.uniform(-2, 2, size=(2, 4, 4)), V]
    assert values_agree([a, w], out, values)
    # over a leading (batch) axis there is no matrix product
    fg, applied = rewritten([a, w], T.sum(a * w.dimshuffle(0, "x", "x"), axis=0), Mode(excluding=["fusion", "inplace"]))
    assert "sum_of_scaled_matrix" not in applied


@pytest.mark.parametrize("data, order", [
    (2.5, ("x",)),
    (2.5, ("x", "x")),
    (np.arange(6.0).reshape(2, 3), (1, 0)),
    (np.arange(6.0).reshape(2, 3), ("x", 1, "x", 0)),
    (np.arange(3.0).reshape(1, 3), (1,)),
    (np.arange(3, dtype="int8"), (0, "x")),
])
def test_a_dimshuffled_constant_folds_to_its_view_without_a_thunk(monkeypatch, data, order):
    from nbgrad.rewriting.constant_folding import constant_folding

    c = T.constant(data)
    node = DimShuffle(c.ndim, order)(c).owner
    want = node.op.make_thunk(node, np)(c.data)
    monkeypatch.setattr(DimShuffle, "make_thunk", lambda *a: pytest.fail("a thunk was made"))
    (folded,) = constant_folding(None, node)
    assert folded.type == node.outputs[0].type
    assert folded.data.dtype == want.dtype and folded.data.shape == want.shape
    np.testing.assert_array_equal(folded.data, want)
