import re

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.printing import html


def test_shared_small_value_in_full_with_updaters():
    w = nbgrad.shared(np.array([1.0, 2.0]), name="w<1>")
    x = T.dscalar("x")
    nbgrad.function([x], w * x, updates=[(w, w * 2)], name="step")
    assert html.shared_text(w) == (
        "shared w<1>: float64, shape (2,)\nvalue: [1., 2.]\nupdated by: step"
    )
    out = html.shared_html(w)
    assert "<code>w&lt;1&gt;</code>" in out and "w<1>" not in out
    assert "<pre>[1., 2.]</pre>" in out and "step" in out
    assert w._repr_html_() == out


def test_shared_large_value_summarized():
    w = nbgrad.shared(np.arange(1000.0), name="big")
    text = html.shared_text(w)
    assert text.splitlines()[1] == "min 0, max 999, mean 499.5"
    assert "..." in text and len(text) < 300
    out = html.shared_html(w)
    assert "0 / 999 / 499.5" in out and "..." in out and "no compiled function" in out


def test_function_views():
    x = T.dscalar("x")
    w = nbgrad.shared(1.0, name="w")
    f = nbgrad.function([x, nbgrad.In(T.dscalar("b"), value=2.0)], x * w + 1,
                        updates=[(w, w - 0.1)], name="f<>")
    text = html.function_text(f)
    lines = text.splitlines()
    assert lines[0] == "function f<>(x: TensorType(float64, scalar), b: TensorType(float64, scalar) = 2.0)"
    assert lines[1] == "  out[0] = x * w + 1"
    assert lines[2] == "  w <- w - 0.1"
    assert lines[3].startswith("nodes: ") and lines[3].endswith("backend cpu")
    out = html.function_html(f)
    assert "f&lt;&gt;" in out and "$x w + 1$" in out and "w \\leftarrow w - 0.1" in out
    assert "nbgrad-graph" not in out and "nbgrad-source" not in out
    full = html.function_html(f, show=("graph", "source"))
    assert "<pre class='nbgrad-graph'>" in full and "<pre class='nbgrad-source'>" in full
    assert f._repr_html_() == out
    with pytest.raises(ValueError, match="show takes"):
        html.function_html(f, show=("formula",))
    assert " at 0x" not in text


def test_random_streams_views_read_attributes_defensively():
    class Streams:
        default_instance_seed = 7
        state_updates = [(nbgrad.shared(np.zeros(2), name="rng_a"), None), "not a pair"]

    assert html.random_streams_text(Streams()) == (
        "Streams(seed=7): 1 stream(s)\n  rng_a: array float64 (2,)"
    )
    out = html.random_streams_html(Streams())
    assert "<td>7</td>" in out and "<code>rng_a</code>" in out
    assert "none yet" in html.random_streams_html(object())


# A name that notebook front ends would typeset as a live link if it reached the
# HTML as text: MathJax looks for TeX in HTML outputs.
HOSTILE = "$\\href{javascript:alert(1)}{x}$"


def tex_outside_formulas(html_text):
    """The ``$`` and ``\\`` of HTML text that are not in a formula item ``<li>$...$</li>``."""
    return re.findall(r"[$\\]", re.sub(r"<li>\$.*?\$</li>", "", html_text))


def assert_no_live_tex(html_text):
    assert tex_outside_formulas(html_text) == [], html_text
    for formula in re.findall(r"<li>\$(.*?)\$</li>", html_text):
        assert "\\href{" not in formula
        assert all(formula[k - 1] == "\\" for k, c in enumerate(formula) if c == "$"), formula


def test_hostile_names_never_reach_html_as_tex():
    x = T.dscalar(HOSTILE)
    w = nbgrad.shared(np.array([1.0, 2.0]), name=HOSTILE)
    f = nbgrad.function([x], w * x, updates=[(w, w * x)], name=HOSTILE)
    shared = html.shared_html(w)
    assert_no_live_tex(shared)
    # the function updating w is named in code, as the variable's own name is
    assert shared.count("<code>&#36;&#92;href{javascript:alert(1)}{x}&#36;</code>") == 2
    full = html.function_html(f, show=("graph", "source"))
    assert_no_live_tex(full)
    assert "<li><code>&#36;&#92;href{javascript:alert(1)}{x}&#36;</code>: " in full

    class Streams:
        default_instance_seed = HOSTILE
        state_updates = [(nbgrad.shared(np.zeros(2), name=HOSTILE), None)]

    assert_no_live_tex(html.random_streams_html(Streams()))


def test_the_check_finds_tex_in_html():
    assert tex_outside_formulas("<td>$x$</td><li>$x^{2}$</li>") == ["$", "$"]
    with pytest.raises(AssertionError):
        assert_no_live_tex("<li>$\\text{$\\href{javascript:alert(1)}{x}$}$</li>")
    assert_no_live_tex("<li>$\\text{\\$a\\$}^{2}$</li><td>&#36;</td>")
