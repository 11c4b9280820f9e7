"""The facts scalar ops declare as attributes (``finite_output``, ``nonnegative_output``,
``zero_sign_blind``), checked against each op's values on extreme float64 operands."""

import numpy as np
import pytest

from nbgrad.scalar.basic import Clip, Switch, scalar_ops

X = np.array([-1e308, -800.0, -40.0, -1.5, -1e-300, -0.0, 0.0, 1e-300, 0.5, 2.5, 40.0, 800.0, 1e308])
OPS = [cls() for _, cls in sorted(scalar_ops.items())]


def _value(sop, *args):
    with np.errstate(all="ignore"):
        return np.asarray(sop.impl(np)(*args))


def _operands(sop):
    """Every combination of ``X`` for each operand (a bool condition first for switch)."""
    grids = np.meshgrid(*([X] * sop.nin), indexing="ij")
    args = [g.reshape(-1) for g in grids]
    if isinstance(sop, Switch):
        args[0] = args[0] > 0
    if isinstance(sop, Clip):  # lo <= hi
        args[1], args[2] = np.minimum(args[1], args[2]), np.maximum(args[1], args[2])
    return args


def _same(a, b):
    """Equal values with the same sign bit, nan equal to nan."""
    a, b = np.asarray(a), np.asarray(b)
    both_nan = np.isnan(a) & np.isnan(b) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
    return bool(np.all(both_nan | ((a == b) & (np.signbit(a) == np.signbit(b)))))


@pytest.mark.parametrize("sop", [s for s in OPS if s.finite_output], ids=str)
def test_finite_output_is_finite_for_finite_operands(sop):
    assert np.isfinite(_value(sop, *_operands(sop))).all()


@pytest.mark.parametrize("sop", [s for s in OPS if s.nonnegative_output], ids=str)
def test_nonnegative_output_has_no_sign_bit(sop):
    args = _operands(sop)
    out = _value(sop, *[np.append(a, np.nan) for a in args])
    assert not np.signbit(out[:-1]).any()
    assert np.isnan(out[-1])


@pytest.mark.parametrize("sop", [s for s in OPS if s.zero_sign_blind], ids=str)
def test_zero_sign_blind_gives_the_same_for_both_zeros(sop):
    args = _operands(sop)
    for k in range(sop.nin):
        minus = [np.full_like(a, -0.0) if j == k else a for j, a in enumerate(args)]
        plus = [np.full_like(a, 0.0) if j == k else a for j, a in enumerate(args)]
        assert _same(_value(sop, *minus), _value(sop, *plus)), f"operand {k}"


def test_every_fact_is_declared_by_some_op():
    for fact in ("cheap", "integer_safe", "finite_output", "nonnegative_output", "zero_sign_blind"):
        assert any(getattr(s, fact) for s in OPS), fact
