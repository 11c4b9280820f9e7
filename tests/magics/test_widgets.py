"""interact(): slider values drive the outputs, without a browser."""

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad_magics import interact
from nbgrad_magics.errors import OptionError


@pytest.fixture
def f():
    x = T.dscalar("x")
    y = x ** 3
    return nbgrad.function([x], [y, T.grad(y, x)])


def test_slider_values_drive_the_outputs(f):
    w = interact(f, x=(-2, 2), names=["y", "dy"])
    s = w.sliders["x"]
    assert (s.min, s.max, s.value) == (-2, 2, 0)
    s.value = 1.5
    assert [float(v) for v in w.values] == [1.5 ** 3, 3 * 1.5 ** 2]
    assert "3.375" in w.result.value and "6.75" in w.result.value
    s.value = -1.0
    assert "-1" in w.result.value


def test_sliders_report_only_when_released(f):
    w = interact(f)
    assert w.sliders["x"].continuous_update is False
    assert (w.sliders["x"].min, w.sliders["x"].max) == (-3, 3)
    assert interact(f, continuous_update=True).sliders["x"].continuous_update is True


def test_plot_across_the_slider_range(f):
    w = interact(f, x=(-1, 1), plot="x", names=["y", "dy"])
    grid, curves = w.curves()
    np.testing.assert_allclose(curves["y"], grid ** 3)
    np.testing.assert_allclose(curves["dy"], 3 * grid ** 2)
    first = w.image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    w.sliders["x"].value = 0.5  # the marker moves
    assert w.image.value != first


def test_fixed_values_for_array_inputs_and_errors():
    v = T.dvector("v")
    a = T.dscalar("a")
    g = nbgrad.function([v, a], T.sum(v) * a)
    w = interact(g, v=np.array([1.0, 2.0]), a=(0, 2))
    w.sliders["a"].value = 2.0
    assert float(w.values[0]) == 6.0
    with pytest.raises(OptionError, match="fixed value"):
        interact(g)
    with pytest.raises(OptionError, match="not an input"):
        interact(g, v=np.ones(2), b=(0, 1))
    with pytest.raises(OptionError, match="plot"):
        interact(g, v=np.ones(2), plot="v")


def test_integer_inputs_get_integer_sliders():
    n = T.lscalar("n")
    h = nbgrad.function([n], n * 2)
    w = interact(h, n=(0, 10))
    w.sliders["n"].value = 4
    assert int(w.values[0]) == 8


def test_errors_are_shown_in_the_widget_not_raised():
    x = T.dvector("x")
    i = T.lscalar("i")
    h = nbgrad.function([x, i], x[i])
    w = interact(h, x=np.zeros(3), i=(0, 5))
    w.sliders["i"].value = 5
    assert w.values is None and w.error is not None
    assert "Error" in w.result.value
    w.sliders["i"].value = 1
    assert float(w.values[0]) == 0.0 and w.error is None


def test_seed_slider_reseeds_random_streams():
    from nbgrad.random import RandomStreams

    srng = RandomStreams(seed=5)
    x = T.dscalar("x")
    noisy = nbgrad.function([x], x + srng.normal(()))
    w = interact(noisy, streams=[("srng", srng)], x=(-1, 1))
    seed = w.seeds["srng"]
    assert seed.value == 5 and seed.continuous_update is False
    first = float(w.values[0])
    w.sliders["x"].value = 0.5
    w.sliders["x"].value = 0.0
    assert float(w.values[0]) == first  # same seed, same draw
    seed.value = 6
    assert float(w.values[0]) != first
    seed.value = 5
    assert float(w.values[0]) == first


def test_streams_table_follows_the_seed_slider():
    from nbgrad.random import RandomStreams

    srng = RandomStreams(seed=5)
    x = T.dscalar("x")
    noisy = nbgrad.function([x], x + srng.normal(()))
    w = interact(noisy, streams=[("srng", srng)], x=(-1, 1))
    assert w.streams_table in w.children
    assert "<td>5</td>" in w.streams_table.value
    w.seeds["srng"].value = 5974
    assert "<td>5974</td>" in w.streams_table.value and "<td>5</td>" not in w.streams_table.value


# Front ends typeset TeX in slider labels and HTML outputs; a name must not become math.
HOSTILE = "$\\href{javascript:alert(1)}{x}$"


def test_hostile_names_are_shown_as_code_never_as_tex():
    from nbgrad.random import RandomStreams

    srng = RandomStreams(seed=5)
    x = T.dscalar(HOSTILE)
    f = nbgrad.function([x], [x + srng.normal(()), x ** 2])
    w = interact(f, streams=[(HOSTILE, srng)], plot=HOSTILE, names=[HOSTILE, "y"])
    shown = "<code>&#36;&#92;href{javascript:alert(1)}{x}&#36;</code>"
    for slider, label in ((w.sliders[HOSTILE], shown), (w.seeds[HOSTILE], "seed " + shown)):
        assert slider.description == label and slider.description_allow_html
    assert "$" not in w.result.value and "\\" not in w.result.value
    assert f"<b>{shown}</b>" in w.result.value
    assert w.image.value[:8] == b"\x89PNG\r\n\x1a\n"  # Matplotlib labels read the name as text
    plain = interact(f, streams=[("srng", srng)])
    assert plain.sliders[HOSTILE].description == shown
    assert (plain.seeds["srng"].description, plain.seeds["srng"].description_allow_html) == ("seed srng", False)


def test_error_display_escapes_the_message():
    v = T.dvector(HOSTILE)
    i = T.lscalar("i")
    h = nbgrad.function([v, i], v[i])
    w = interact(h, **{HOSTILE: np.zeros(3)}, i=(0, 5))
    w.sliders["i"].value = 5
    assert w.error is not None and HOSTILE in str(w.error)
    assert "$" not in w.result.value and "\\" not in w.result.value
