"""nbgrad.config: floatX default, environment override, checked assignment."""

import os
import subprocess
import sys

import pytest

import nbgrad
import nbgrad.tensor as T


def _run(code, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("NBGRAD_")}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full,
                          timeout=60)


def test_floatx_default_is_float64_in_a_clean_process():
    out = _run("import nbgrad, nbgrad.tensor as T; print(nbgrad.config.floatX, T.matrix().dtype)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["float64", "float64"]


def test_floatx_from_environment():
    code = ("import nbgrad, nbgrad.tensor as T; "
            "print(nbgrad.config.floatX, T.scalar().dtype, T.vector().dtype, (T.fvector() * 1.5).dtype)")
    out = _run(code, NBGRAD_FLOATX="float32")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["float32"] * 4


def test_bad_floatx_in_environment_names_the_variable():
    out = _run("import nbgrad", NBGRAD_FLOATX="float8")
    assert out.returncode != 0
    assert "NBGRAD_FLOATX='float8'" in out.stderr and "float32" in out.stderr


def test_assignment_is_checked_and_used_by_constructors():
    old = nbgrad.config.floatX
    try:
        nbgrad.config.floatX = "float32"
        assert T.matrix().dtype == "float32"
        assert T.dmatrix().dtype == "float64"
    finally:
        nbgrad.config.floatX = old
    assert T.matrix().dtype == old
    with pytest.raises(ValueError, match="must be one of"):
        nbgrad.config.floatX = "float128"
    with pytest.raises(AttributeError, match="no setting 'nonsense'"):
        nbgrad.config.nonsense  # noqa: B018
