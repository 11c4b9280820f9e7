"""``Print``: the identity op that shows a value while a compiled function runs."""

import numpy as np

import nbgrad
import nbgrad.tensor as T
from nbgrad.printing import Print


def test_function_with_print_saves_and_loads_and_still_prints(tmp_path, capsys):
    x = T.dvector("x")
    f = nbgrad.function([x], Print("x is", attrs=("shape",))(x) * 2)
    nbgrad.save(tmp_path / "f.npz", f)
    g = nbgrad.load(tmp_path / "f.npz")
    np.testing.assert_array_equal(g(np.array([1.0, 2.0])), [2.0, 4.0])
    assert capsys.readouterr().out == "x is shape = (2,)\n"


def test_global_fn_replaces_printing(capsys):
    seen = []
    x = T.dvector("x")
    f = nbgrad.function([x], Print("x", global_fn=lambda op, v: seen.append((op.message, v.sum())))(x))
    f(np.array([1.0, 2.0]))
    assert seen == [("x", 3.0)] and capsys.readouterr().out == ""
