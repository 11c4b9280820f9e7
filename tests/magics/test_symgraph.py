"""%%symgraph through a real InteractiveShell: options, namespace, displays, errors."""

import numpy as np
import pytest
from IPython.core.error import UsageError

import nbgrad
from nbgrad.backends import available_backends
from nbgrad_magics.errors import SymgraphError

CELL = """%%symgraph f
x = dscalar("x")
y = x ** 2 + x ** 3 + x ** 4
gy = grad(y, x)
"""


def widget_instances():
    from ipywidgets.widgets import widget

    return widget._instances


def latex_of(bundles):
    return [b["text/latex"] for b in bundles if "text/latex" in b]


# ---------------------------------------------------------------- binding and namespace
def test_cell_binds_function_callable_positionally_and_by_name(ip):
    ip.run(CELL)
    f = ip.ns["f"]
    assert isinstance(f, nbgrad.compile.Function)
    y, gy = f(2.0)
    assert float(y) == 28.0 and float(gy) == 48.0
    assert [float(v) for v in f(x=2.0)] == [28.0, 48.0]
    assert [i.name for i in f.maker.inputs] == ["x"]


def test_only_names_the_cell_assigns_reach_the_namespace(ip):
    before = set(ip.ns)
    ip.run(CELL)
    assert set(ip.ns) - before == {"f", "x", "y", "gy"}
    for injected in ("dscalar", "grad", "hessian", "jacobian", "Rop", "Lop", "shared", "function", "T"):
        assert injected not in ip.ns


def test_constructors_math_and_derivatives_available_without_imports(ip):
    ip.run("%%symgraph h\n"
           "v = dvector('v')\n"
           "c = T.sum(exp(v) * tanh(v))\n"
           "J = jacobian(exp(v), v)\n"
           "H = hessian(c, v)\n"
           "u = dvector('u')\n"
           "jv = Rop(exp(v), v, u)\n"
           "vj = Lop(exp(v), v, u)\n")
    c, J, H, jv, vj = ip.ns["h"]([0.0, 1.0], [1.0, 2.0])
    e = np.exp([0.0, 1.0])
    np.testing.assert_allclose(J, np.diag(e))
    np.testing.assert_allclose(jv, e * [1.0, 2.0])
    np.testing.assert_allclose(vj, e * [1.0, 2.0])
    assert H.shape == (2, 2)


def test_user_names_win_over_provided_names_and_cell_sees_the_namespace(ip):
    ip.run("scale = 3.0\nexp = 'mine'")
    ip.run("%%symgraph f\nx = dscalar('x')\ny = scale * x")
    assert float(ip.ns["f"](2.0)) == 6.0
    assert ip.ns["exp"] == "mine"


def test_inputs_in_definition_order(ip):
    ip.run("%%symgraph f\nb = dscalar('b')\na = dscalar('a')\nz = a - b")
    f = ip.ns["f"]
    assert [i.name for i in f.maker.inputs] == ["b", "a"]
    assert float(f(1.0, 5.0)) == 4.0
    assert float(f(a=5.0, b=1.0)) == 4.0


def test_inputs_from_an_earlier_cell_and_unnamed_variables(ip):
    ip.run("import nbgrad.tensor as TT\nt = TT.dscalar()")
    ip.run("%%symgraph g\ny = 2 * t")
    g = ip.ns["g"]
    assert [i.name for i in g.maker.inputs] == ["t"]
    assert float(g(t=4.0)) == 8.0


def test_no_name_compiles_but_binds_no_function(ip):
    before = set(ip.ns)
    bundles = ip.run("%%symgraph\nx = dscalar('x')\ny = x * 2")
    assert set(ip.ns) - before == {"x", "y"}
    assert latex_of(bundles)


# ---------------------------------------------------------------- displays
def test_formulas_are_displayed_as_latex_with_text_fallback(ip):
    bundles = ip.run(CELL)
    formulas = [b for b in bundles if "text/latex" in b]
    assert len(formulas) == 2
    for b in formulas:
        assert b["text/latex"].startswith("$\\displaystyle ") and b["text/latex"].endswith("$")
        assert "0x" not in b["text/plain"]
    assert formulas[0]["text/plain"].startswith("y = ")
    assert formulas[1]["text/plain"].startswith("gy = ∂y/∂x = ")
    # the displayed form is the compiled (rewritten) graph, not the raw gradient graph
    f = ip.ns["f"]
    assert formulas[1]["text/plain"] == "gy = ∂y/∂x = " + nbgrad.pp(f.maker.fgraph.outputs[1])
    assert "x" in formulas[1]["text/latex"]


def test_no_optimize_compiles_fast_and_shows_the_graph_as_written(ip):
    bundles = ip.run("%%symgraph f --no-optimize\nx = dscalar('x')\ny = x * 1 + 0")
    assert ip.ns["f"].maker.mode == "FAST_COMPILE"
    assert latex_of(bundles)
    assert [b["text/plain"] for b in bundles] == ["y = " + nbgrad.pp(ip.ns["y"])]
    ip.run("%%symgraph g\nx = dscalar('x')\ny = x * 1 + 0")
    assert ip.ns["g"].maker.mode == nbgrad.config.mode


def test_outputs_option_selects_results(ip):
    ip.run("%%symgraph f --outputs gy\nx = dscalar('x')\ny = x ** 3\ngy = grad(y, x)")
    out = ip.ns["f"](2.0)
    assert np.ndim(out) == 0 and float(out) == 12.0
    ip.run("%%symgraph f2 --outputs gy,y\nx = dscalar('x')\ny = x ** 3\ngy = grad(y, x)")
    assert [float(v) for v in ip.ns["f2"](2.0)] == [12.0, 8.0]


def test_outputs_option_naming_nothing_is_an_error(ip):
    err, _ = ip.run_failing("%%symgraph f --outputs nope\nx = dscalar('x')\ny = x * 2")
    assert isinstance(err, SymgraphError)
    assert "nope" in str(err)
    assert "f" not in ip.ns and "x" not in ip.ns


def test_show_graph_source_and_none(ip):
    graph = ip.run("%%symgraph f --show graph\nx = dscalar('x')\ny = exp(x) * 2")
    assert not latex_of(graph)
    assert graph == [{"text/plain": nbgrad.debugprint(ip.ns["f"], print_type=True, file="str")}]
    source = ip.run("%%symgraph f --show source\nx = dscalar('x')\ny = exp(x) * 2")
    assert source[0]["text/plain"] == ip.ns["f"].source
    both = ip.run("%%symgraph f --show formula,source\nx = dscalar('x')\ny = exp(x) * 2")
    assert len(latex_of(both)) == 1 and both[-1]["text/plain"] == ip.ns["f"].source
    assert ip.run("%%symgraph f --show none\nx = dscalar('x')\ny = exp(x) * 2") == []
    assert "f" in ip.ns


def test_backend_option(ip):
    ip.run("%%symgraph f --backend cpu\nx = dscalar('x')\ny = x + 1")
    assert ip.ns["f"].maker.backend == "cpu"
    ip.ns.pop("f")
    cell = "%%symgraph f --backend gpu\nx = dscalar('x')\ny = x + 1"
    if "gpu" in available_backends():
        ip.run(cell)
        assert float(ip.ns["f"](1.0)) == 2.0
    else:
        err, shown = ip.run_failing(cell)
        assert isinstance(err, SymgraphError)
        assert isinstance(err.original, nbgrad.backends.BackendUnavailable)
        assert "f" not in ip.ns


def test_shared_variables_touched_by_the_cell_show_their_state(ip):
    ip.run("import numpy as np, nbgrad\nw = nbgrad.shared(np.array([1.0, 2.0]), name='w')\n"
           "b = nbgrad.shared(0.5, name='b')\nunused = nbgrad.shared(7.0, name='unused')")
    bundles = ip.run("%%symgraph step\n"
                     "x = dscalar('x')\n"
                     "cost = T.sum(w * x) + b\n"
                     "train = function([x], cost, updates=[(w, w - x)], name='train')\n"
                     "train(1.0)\n")
    shown = [b for b in bundles if "text/html" in b]
    text = "\n".join(b["text/plain"] for b in shown)
    assert "w" in text and "b" in text and "unused" not in text
    html = "\n".join(b["text/html"] for b in shown)
    assert "train" in html  # the function that updates w
    np.testing.assert_allclose(ip.ns["w"].get_value(), [0.0, 1.0])


def test_formatters_for_symbolic_shared_and_function(ip):
    ip.run(CELL)
    fmt = ip.ip.display_formatter.format
    data, _ = fmt(ip.ns["gy"])
    assert data["text/latex"].startswith("$\\displaystyle ")
    assert data["text/plain"] == nbgrad.pp(ip.ns["gy"])
    assert "0x" not in data["text/plain"]
    ip.run("import nbgrad\nw = nbgrad.shared([1.0, 2.0], name='w')")
    data, _ = fmt(ip.ns["w"])
    assert "text/html" in data and "w" in data["text/html"]
    assert "0x" not in data["text/plain"]
    data, _ = fmt(ip.ns["f"])
    assert "text/html" in data and "0x" not in data["text/plain"]
    ip.run("from nbgrad.random import RandomStreams\nsrng = RandomStreams(seed=12)")
    data, _ = fmt(ip.ns["srng"])
    assert "12" in data["text/html"] and "12" in data["text/plain"] and "0x" not in data["text/plain"]


def test_cell_with_random_streams_shows_the_streams_not_their_states(ip):
    bundles = ip.run("%%symgraph f\nsrng = RandomStreams(seed=4)\nx = dscalar('x')\n"
                     "y = x + srng.normal(())")
    html = [b["text/html"] for b in bundles if "text/html" in b]
    assert len(html) == 1 and "nbgrad-random-streams" in html[0]
    assert "srng" in ip.ns and "RandomStreams" not in ip.ns


# ---------------------------------------------------------------- list and tuple results
LISTS = """%%symgraph f
x = dscalar("x"); y = dscalar("y")
z = x**2*y + sin(x*y)
H = hessian(z, [x, y])
gz = grad(z, [x, y])
"""


def test_list_results_are_shown_labelled_and_compiled(ip):
    bundles = ip.run(LISTS)
    # the Hessian with respect to two scalars is the whole 2 x 2 matrix, shown as one
    assert [b["text/plain"].split(" = ")[0] for b in bundles] == ["z", "H", "∂z/∂x", "∂z/∂y"]
    labels = [b["text/latex"].split(" = ")[0] for b in bundles]
    assert labels == [
        r"$\displaystyle z",
        r"$\displaystyle H",
        r"$\displaystyle \frac{\partial z}{\partial x}",
        r"$\displaystyle \frac{\partial z}{\partial y}",
    ]
    assert bundles[1]["text/latex"].startswith(r"$\displaystyle H = \begin{bmatrix}")
    assert bundles[1]["text/latex"].count(" & ") == 2 and bundles[1]["text/latex"].count(r" \\ ") == 1
    f = ip.ns["f"]
    z, H, gz = f(1.0, 2.0)
    assert isinstance(H, list) and isinstance(gz, list) and len(H) == len(gz) == 2
    x, y = 1.0, 2.0
    np.testing.assert_allclose(z, x ** 2 * y + np.sin(x * y))
    np.testing.assert_allclose(gz, [2 * x * y + y * np.cos(x * y), x ** 2 + x * np.cos(x * y)])
    cross = 2 * x + np.cos(x * y) - x * y * np.sin(x * y)
    np.testing.assert_allclose(np.array(H, dtype=float), [[2 * y - y * y * np.sin(x * y), cross],
                                                         [cross, -x * x * np.sin(x * y)]])
    assert [float(v) for v in f(x=1.0, y=2.0)[2]] == [float(v) for v in gz]
    assert [i.name for i in f.maker.inputs] == ["x", "y"]  # the compiled function's, as before
    assert isinstance(ip.ns["gz"], list)


def test_a_list_of_rows_is_shown_as_one_matrix(ip):
    bundles = ip.run("%%symgraph m --no-optimize\n"
                     "x = dscalar('x'); y = dscalar('y')\n"
                     "M = [[x * y, x + y], (exp(x), y ** 2)]\n")
    assert bundles == [{
        "text/plain": "M = [[x * y, x + y],\n     [exp(x), y ** 2]]",
        "text/latex": r"$\displaystyle M = \begin{bmatrix}x y & x + y \\ e^{x} & y^{2}\end{bmatrix}$",
    }]
    M = ip.ns["m"](0.0, 3.0)
    assert isinstance(M, list) and isinstance(M[1], tuple)
    np.testing.assert_allclose(np.array(M, dtype=float), [[0.0, 3.0], [1.0, 9.0]])


def test_full_hessian_of_scalars_as_a_matrix(ip):
    # hessian(z, [x, y]) gives one Hessian per variable (Theano's), without cross
    # terms; the full matrix is a list of rows of second derivatives
    bundles = ip.run("%%symgraph h\n"
                     "x = dscalar('x'); y = dscalar('y')\n"
                     "gx, gy = grad(x ** 2 * y ** 2, [x, y])\n"
                     "H = [[grad(gx, x), grad(gx, y)], [grad(gy, x), grad(gy, y)]]\n"
                     "del gx, gy\n")
    (b,) = bundles
    tex = b["text/latex"]
    assert tex.startswith(r"$\displaystyle H = \begin{bmatrix}") and tex.endswith(r"\end{bmatrix}$")
    assert tex.count(" & ") == 2 and tex.count(r" \\ ") == 1 and r"\partial" not in tex
    assert b["text/plain"].startswith("H = [[") and b["text/plain"].count("\n") == 1
    x, y = 3.0, 5.0
    np.testing.assert_allclose(np.array(ip.ns["h"](x, y), dtype=float),
                               [[2 * y ** 2, 4 * x * y], [4 * x * y, 2 * x ** 2]])


def test_gradient_entries_show_their_formula_once(ip):
    # as written (no rewrites), an entry is a variable that grad named (dcost/dx):
    # the label stands for it
    bundles = ip.run("%%symgraph f --no-optimize\nx = dscalar('x'); y = dscalar('y')\n"
                     "z = x * y\ngz = grad(z, [x, y])\n")
    assert [b["text/latex"].count(" = ") for b in bundles] == [1, 1, 1]
    assert bundles[1]["text/latex"].startswith(r"$\displaystyle \frac{\partial z}{\partial x} = ")


def test_jacobian_and_tuple_results_keep_their_structure(ip):
    bundles = ip.run("%%symgraph f\n"
                     "a = dvector('a'); b = dvector('b')\n"
                     "prod = a * b\n"
                     "J = jacobian(prod, [a, b])\n"
                     "pair = (T.sum(prod), T.exp(a))\n"
                     "params = [a, b]\n")
    labels = [b["text/latex"].split(" = ")[0] for b in bundles]
    assert labels == [r"$\displaystyle \mathrm{prod}",
                      r"$\displaystyle \frac{\partial \mathrm{prod}}{\partial a}",
                      r"$\displaystyle \frac{\partial \mathrm{prod}}{\partial b}",
                      r"$\displaystyle \mathrm{pair}_{0}", r"$\displaystyle \mathrm{pair}_{1}"]
    assert [b["text/plain"].split(" = ")[0] for b in bundles] == [
        "prod", "∂prod/∂a", "∂prod/∂b", "pair[0]", "pair[1]"]
    prod, J, pair = ip.ns["f"]([1.0, 2.0], [3.0, 4.0])
    assert isinstance(J, list) and isinstance(pair, tuple)  # params, a list of inputs, is no result
    np.testing.assert_allclose(J[0], np.diag([3.0, 4.0]))
    np.testing.assert_allclose(J[1], np.diag([1.0, 2.0]))
    np.testing.assert_allclose(pair[0], 11.0)


def test_labels_follow_what_the_cell_wrote(ip):
    # a gradient with respect to a list held in a name, of an expression, and a name bound again
    bundles = ip.run("%%symgraph f\n"
                     "w = dscalar('w'); c = dscalar('c')\n"
                     "params = [w, c]\n"
                     "loss = (w * c - 1) ** 2\n"
                     "g = T.grad(loss, params)\n"
                     "e = grad(w * c, [w, c])\n"
                     "k = grad(loss, [w, c])\n"
                     "k = [k[1], k[0]]\n")
    assert [b["text/plain"].split(" = ")[0] for b in bundles] == [
        "loss", "∂loss/∂w", "∂loss/∂c", "∂(w * c)/∂w", "∂(w * c)/∂c", "k[0]", "k[1]"]
    assert bundles[3]["text/latex"].startswith(
        r"$\displaystyle \frac{\partial}{\partial w}\,\texttt{w * c} = ")


def test_a_derivative_is_labelled_with_its_name_and_what_was_differentiated(ip):
    bundles = ip.run("%%symgraph f\n"
                     "x = dscalar('x'); v = dvector('v')\n"
                     "s = 1 / (1 + exp(-x))\n"
                     "ds = grad(s, x)\n"
                     "d2s = hessian(s, x)\n"
                     "dv = T.grad(T.sum(v ** 2) * x, wrt=v)\n"
                     "Jv = jacobian(v ** 2, v)\n")
    plain = [b["text/plain"].split("\n")[0].rsplit(" = ", 1)[0] for b in bundles]
    assert plain == ["s", "ds = ∂s/∂x", "d2s = ∂²s/∂x²", "dv = ∂(T.sum(v ** 2) * x)/∂v", "Jv = ∂(v ** 2)/∂v"]
    tex = [b["text/latex"].rsplit(" = ", 1)[0] for b in bundles]
    assert tex[1] == r"$\displaystyle \mathrm{ds} = \frac{\partial s}{\partial x}"
    # the second derivative is long and writes sigmoid(-x) * s * s twice: laid out with a where row
    assert bundles[2]["text/latex"].startswith(
        r"$\displaystyle \begin{aligned} \mathrm{d2s} = \frac{\partial^{2} s}{\partial x^{2}} &= ")
    assert tex[3] == r"$\displaystyle \mathrm{dv} = \frac{\partial}{\partial v}\,\texttt{T.sum(v ** 2) * x}"
    for b in bundles:  # a gradient never names a "cost" the cell did not write
        assert "cost" not in b["text/plain"] and "cost" not in b["text/latex"]
    np.testing.assert_allclose(ip.ns["f"](0.0, [1.0, 2.0])[1], 0.25)


def test_a_gradient_as_written_is_labelled_by_the_cell_not_by_grad(ip):
    # without rewrites the result is the variable grad named (dcost/dA): the cell's label wins
    bundles = ip.run("%%symgraph f --no-optimize\nA = dvector('A')\ndA = grad((A ** 2).sum(), A)\n")
    (b,) = bundles
    assert b["text/plain"].startswith("dA = ∂((A ** 2).sum())/∂A = ")
    assert "cost" not in b["text/latex"] and b["text/latex"].count(" = ") == 2


def test_multi_letter_names_with_underscores_are_one_word(ip):
    bundles = ip.run("%%symgraph f\n"
                     "new_mean = dscalar('new_mean'); W_hidden = dscalar('W_hidden')\n"
                     "run_avg = new_mean * W_hidden\n"
                     "g = grad(run_avg, new_mean)\n")
    assert bundles[0]["text/latex"] == r"$\displaystyle \mathrm{run\_avg} = \mathrm{new\_mean} W_{hidden}$"
    assert bundles[1]["text/latex"].startswith(
        r"$\displaystyle g = \frac{\partial \mathrm{run\_avg}}{\partial \mathrm{new\_mean}} = ")


SCAN = """%%symgraph power
k = lscalar("k")
A = dvector("A")
result, _ = scan(lambda prior, A: prior * A, outputs_info=ones_like(A), non_sequences=A, n_steps=k)
final = result[-1]
dfinal = grad(final.sum(), A)
"""


def test_scan_results_read_as_the_cell_wrote_them(ip):
    bundles = ip.run(SCAN)
    text = {b["text/plain"].split(" = ")[0]: b for b in bundles}
    # the rows of initial state that scan drops are not shown, and [-1] is an index
    assert text["result"]["text/plain"] == "result = scan(k, ones_like(A), A)"
    # a result the cell named reads as its name in the results that use it
    assert text["final"]["text/plain"] == "final = result[-1]"
    assert text["final"]["text/latex"] == r"$\displaystyle \mathrm{final} = \mathrm{result}[-1]$"
    dfinal = text["dfinal"]
    assert dfinal["text/plain"].startswith("dfinal = ∂(final.sum())/∂A = backward_scan(")
    assert "grad_of" not in dfinal["text/plain"] and "grad_{of" not in dfinal["text/latex"]
    assert r"\operatorname{backward~scan}" in dfinal["text/latex"]
    powers, last, grad_A = ip.ns["power"](3, [1.0, 2.0])
    np.testing.assert_allclose(last, [1.0, 8.0])
    np.testing.assert_allclose(grad_A, [3.0, 12.0])


SCAN_OVER_A_SEQUENCE = """%%symgraph running
v = dvector("v")
s, _ = scan(lambda x_t, acc: acc + x_t, sequences=v, outputs_info=constant(0.0))
total = s[-1]
dtotal = grad(total, v)
"""


def test_gradient_through_a_scan_over_a_sequence_reads_as_the_backward_scan(ip):
    # the gradient is written inc_subtensor(zeros_like(v)[0:len(v)], g): all of v's zeros
    # incremented by g, which is g; and v[:len(v)] is v
    bundles = ip.run(SCAN_OVER_A_SEQUENCE)
    dtotal = {b["text/plain"].split(" = ")[0]: b for b in bundles}["dtotal"]
    assert dtotal["text/plain"] == "dtotal = ∂total/∂v = backward_scan(v.shape[0], 1)[1][::-1]"
    assert dtotal["text/latex"] == (
        r"$\displaystyle \mathrm{dtotal} = \frac{\partial \mathrm{total}}{\partial v} = "
        r"\operatorname{backward~scan}\left(\operatorname{shape}\left(v\right)_{0}, 1\right)_{1}[{:}{:}-1]$")
    _, total, dtotal_value = ip.ns["running"]([1.0, 2.0, 3.0])
    assert float(total) == 6.0
    np.testing.assert_array_equal(dtotal_value, [1.0, 1.0, 1.0])


def test_a_partial_increment_or_slice_keeps_its_index(ip):
    (inc, part) = ip.run("%%symgraph\nv = dvector('v'); w = dvector('w'); k = lscalar('k')\n"
                         "inc = inc_subtensor(zeros_like(v)[1:], w)\npart = v[:k]\n")
    assert inc["text/plain"] == "inc = inc_subtensor(zeros_like(v)[1:], w)"
    assert part["text/plain"] == "part = v[:k]"


def test_long_formulas_are_laid_out_on_several_lines(ip):
    terms = " + ".join(f"exp({k} * x) * sin(x + {k})" for k in range(1, 17))
    (b,) = ip.run(f"%%symgraph f --no-optimize\nx = dscalar('x')\nlong_sum = {terms}\n")
    tex = b["text/latex"]
    assert tex.startswith(r"$\displaystyle \begin{aligned} \mathrm{long\_sum} &= ")
    assert tex.endswith(r" \end{aligned}$")
    lines = tex.split(" \\\\\n")
    assert len(lines) >= 3
    assert all(line.startswith(r"&\quad + ") for line in lines[1:])
    # every line stays about as wide as the layout allows, and no term is lost
    from nbgrad_magics.formula import LINE_WIDTH, visible_width

    assert all(visible_width(line) <= LINE_WIDTH + 30 for line in lines)
    assert tex.count(r"\sin") == 16 and tex.count("e^{") == 16
    # a short formula stays on one line
    (short,) = ip.run("%%symgraph\nx = dscalar('x')\ny = x + 1\n")
    assert short["text/latex"] == r"$\displaystyle y = x + 1$"


def test_long_products_are_laid_out_on_several_lines(ip):
    # a Hadamard product is cut before \odot; a long parenthesized factor inside, its lines
    # keeping \left and \right paired (\right. at the end of a line, \left. at the start)
    (had,) = ip.run("%%symgraph --no-optimize\nu, v, w = dvectors('u', 'v', 'w')\n"
                    "had = tanh(u + v) * tanh(v + w) * tanh(w + u) * sigmoid(u - v) * sigmoid(v - w)"
                    " * sigmoid(w - u) * exp(u) * exp(v) * exp(w)\n")
    assert had["text/latex"] == (
        r"$\displaystyle \begin{aligned} \mathrm{had} &= \tanh{\left(u + v\right)} \odot "
        r"\tanh{\left(v + w\right)} \odot \tanh{\left(w + u\right)} \odot \sigma\left(u - v\right) \odot "
        r"\sigma\left(v - w\right) \odot \sigma\left(w - u\right) \odot e^{u} \\" "\n"
        r"&\quad \odot e^{v} \odot e^{w} \end{aligned}$")
    (inner,) = ip.run("%%symgraph --no-optimize\nx, y = dscalars('x', 'y')\n"
                      "inner = x * (x ** 2 + y ** 2 + 3 * x * y + sin(x) * cos(y) + exp(x + y)"
                      " + log(x ** 2 + 1) + tanh(x * y) + sqrt(y ** 2 + 1) + arctan(x - y))\n")
    assert inner["text/latex"] == (
        r"$\displaystyle \begin{aligned} \mathrm{inner} &= x \left(x^{2} + y^{2} + 3 x y + \sin(x) \cos(y)"
        r" + e^{x + y} + \log{\left(x^{2} + 1\right)} + \tanh{\left(x y\right)} + \sqrt{y^{2} + 1} \right. \\"
        "\n"
        r"&\quad \left. + \arctan{\left(x - y\right)} \right) \end{aligned}$")


def test_a_fraction_with_a_long_numerator_is_laid_out_as_a_product():
    # a fraction cannot be cut; 1/n times its numerator can
    from nbgrad_magics.formula import layout, visible_width

    body = r"-\left(\frac{" + " + ".join(f"a_{{{k}}} b_{{{k}}}" for k in range(12)) + r"}{n}\right)"
    assert layout("c", body, width=30) == (
        r"$\displaystyle \begin{aligned} c &= -\left(\frac{1}{n} \left(a_{0} b_{0} + a_{1} b_{1} + a_{2} b_{2} "
        r"\right. \right. \\" "\n"
        r"&\quad \left. \left. + a_{3} b_{3} + a_{4} b_{4} + a_{5} b_{5} \right. \right. \\" "\n"
        r"&\quad \left. \left. + a_{6} b_{6} + a_{7} b_{7} + a_{8} b_{8} \right. \right. \\" "\n"
        r"&\quad \left. \left. + a_{9} b_{9} + a_{10} b_{10} + a_{11} b_{11} \right) \right) \end{aligned}$")
    # widths as MathJax renders them: scripts at 70%, a fraction as its wider part
    assert visible_width(r"\frac{a + b}{c}") == 5
    assert visible_width(r"x_{10}") == 2


MODELS = {
    "logistic regression": """
X = dmatrix('X'); y = dvector('y'); w = dvector('w'); b = dscalar('b')
p = 1 / (1 + exp(-dot(X, w) - b))
cost = (-y * log(p) - (1 - y) * log(1 - p)).mean() + 0.01 * (w ** 2).sum()
gw, gb = grad(cost, [w, b])
""",
    "MLP": """
X = dmatrix('X'); y = ivector('y'); W1 = dmatrix('W1'); b1 = dvector('b1'); W2 = dmatrix('W2')
b2 = dvector('b2')
h = tanh(dot(X, W1) + b1)
p = softmax(dot(h, W2) + b2)
cost = -log(p)[arange(y.shape[0]), y].mean()
gW1, gW2 = grad(cost, [W1, W2])
""",
    "softmax regression": """
X = dmatrix('X'); y = ivector('y'); W = dmatrix('W'); b = dvector('b')
p = softmax(dot(X, W) + b)
cost = -log(p)[arange(y.shape[0]), y].mean()
gW, gb = grad(cost, [W, b])
""",
}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_gradients_of_the_course_models_are_laid_out_for_reading(ip, model):
    # dynamic-shape inputs: the gradients are long; every line of a laid-out formula is
    # valid TeX on its own (\left and \right paired in each line), and no term is lost
    from nbgrad_magics.formula import LINE_WIDTH, visible_width
    from tests.test_notebooks_markdown import math_problems

    for b in ip.run("%%symgraph" + MODELS[model]):
        tex = b["text/latex"]
        assert tex.startswith("$") and tex.endswith("$")
        assert math_problems("$", tex[1:-1].replace(r"\displaystyle", "")) == [], tex
        if visible_width(tex) <= LINE_WIDTH + 40:
            continue
        assert r"\begin{aligned}" in tex, tex
        lines = tex[1:-1].split(" \\\\\n")
        assert len(lines) >= 2
        for line in lines:
            assert line.count(r"\left") == line.count(r"\right"), line


def test_outputs_option_takes_a_list_result(ip):
    ip.run("%%symgraph f --outputs gz\n" + LISTS.split("\n", 1)[1])
    gz = ip.ns["f"](1.0, 2.0)
    assert isinstance(gz, list) and len(gz) == 2
    err, _ = ip.run_failing("%%symgraph f --outputs ps\nx = dscalar('x')\nps = [x, 2]\n")
    assert isinstance(err, SymgraphError) and "'ps'" in str(err) and "lists or tuples" in str(err)


def test_widgets_label_the_entries_of_a_list_result(ip):
    ip.run("%%symgraph f --widgets\nx = dscalar('x'); y = dscalar('y')\nz = x * y\ngz = grad(z, [x, y])\n")
    widgets = [o for o in ip.captured.outputs if "application/vnd.jupyter.widget-view+json" in o.data]
    model_id = widgets[0].data["application/vnd.jupyter.widget-view+json"]["model_id"]
    explorer = widget_instances()[model_id]
    assert explorer.names == ["z", "∂z/∂x", "∂z/∂y"]
    explorer.sliders["x"].value = 2.0
    explorer.sliders["y"].value = 3.0
    assert [float(v) for v in explorer.values] == [6.0, 3.0, 2.0]
    assert "∂z/∂x" in explorer.result.value


def test_hostile_names_in_a_cell_never_reach_html_as_tex(ip):
    from tests.printing.test_html import HOSTILE, assert_no_live_tex

    ip.run(f"import numpy as np\nhostile = {HOSTILE!r}")
    bundles = ip.run("%%symgraph f\n"
                     "srng = RandomStreams(seed=3)\n"
                     "x = dscalar(hostile)\n"
                     "w = shared(np.array([1.0, 2.0]), name=hostile)\n"
                     "y = T.sum(w * x) + srng.normal(())\n"
                     "step = function([x], y, updates=[(w, w * x)], name=hostile)\n")
    html = [b["text/html"] for b in bundles if "text/html" in b]
    assert len(html) == 2  # w and srng
    for h in html + [ip.ip.display_formatter.format(ip.ns[k])[0]["text/html"] for k in ("f", "step")]:
        assert_no_live_tex(h)
    for b in bundles:
        assert "\\href{" not in b.get("text/latex", "")


# ---------------------------------------------------------------- errors
def test_error_in_the_cell_shows_the_users_line_and_binds_nothing(ip):
    ip.run("x = 'kept'")
    err, printed = ip.run_failing("%%symgraph f\nx = dscalar('x')\ny = x + undefined_name\n")
    assert isinstance(err, SymgraphError) and isinstance(err.original, NameError)
    assert err.lineno == 2
    assert "cell line 2: y = x + undefined_name" in printed
    assert "Traceback" not in printed
    assert ip.ns["x"] == "kept" and "f" not in ip.ns and "y" not in ip.ns
    ip.run(CELL)  # the shell keeps working
    assert "f" in ip.ns


def test_graph_type_error_renders_short(ip):
    err, printed = ip.run_failing("%%symgraph f\nm = dmatrix('m')\ng = grad(m, m)\n")
    assert isinstance(err, SymgraphError)
    assert isinstance(err.original, TypeError)
    assert printed.count("\n") <= 3
    assert "cell line 2: g = grad(m, m)" in printed
    assert "m" not in ip.ns


def test_compile_and_shape_errors_are_short_and_name_the_line(ip):
    err, printed = ip.run_failing(
        "%%symgraph f\nv = dvector('v')\nm = dmatrix('m')\ny = dot(m, v)\nf2 = function([v], y)\n")
    assert type(err.original).__name__ == "MissingInputError"
    assert "cell line 4: f2 = function([v], y)" in printed and "Traceback" not in printed
    err, printed = ip.run_failing(
        "%%symgraph\nv = dvector('v')\nm = dmatrix('m')\nf2 = function([v, m], dot(m, v))\n"
        "f2([1.0, 2.0], [[1.0, 2.0, 3.0]])\n")
    assert "shapes (1,3) and (2,) not aligned" in printed
    assert "cell line 4: f2([1.0, 2.0], [[1.0, 2.0, 3.0]])" in printed
    assert "Traceback" not in printed
    assert not {"f", "f2", "v", "m"} & set(ip.ns)


def test_syntax_error_shows_line(ip):
    err, printed = ip.run_failing("%%symgraph f\nx = dscalar('x'\ny = 2\n")
    assert isinstance(err, SymgraphError) and isinstance(err.original, SyntaxError)
    assert "cell line" in printed


def test_failing_cell_leaves_shared_state_untouched(ip):
    ip.run("import nbgrad\nw = nbgrad.shared(1.0, name='w')")
    err, _ = ip.run_failing("%%symgraph\n"
                            "double = function([], [], updates=[(w, w * 2)])\n"
                            "double()\n"
                            "raise ValueError('boom')\n")
    assert isinstance(err.original, ValueError) and err.lineno == 3
    assert float(ip.ns["w"].get_value()) == 1.0
    assert "double" not in ip.ns


def test_a_cell_without_results_cannot_bind_a_function(ip):
    err, printed = ip.run_failing("%%symgraph f\nx = dscalar('x')\n")
    assert "no symbolic results" in printed
    assert "x" not in ip.ns


@pytest.mark.parametrize("line, message", [
    ("--show bogus", "--show"),
    ("--backend tpu", "--backend"),
    ("--range x=3", "--range"),
    ("--range x=3:1", "low must be smaller"),
    ("--frobnicate", "unrecognized"),
    ("f g", "unrecognized"),
    ("1f", "identifier"),
    ("--range x=-3:3", "--widgets"),
])
def test_bad_options_raise_usage_error_with_usage_line(ip, line, message):
    err, printed = ip.run_failing(f"%%symgraph {line}\nx = dscalar('x')\ny = x * 2\n")
    assert isinstance(err, UsageError)
    assert "usage: %%symgraph [--backend {cpu,gpu}]" in str(err) and message in str(err)
    assert "x" not in ip.ns and "y" not in ip.ns


@pytest.mark.parametrize("line, meant", [
    ("--widget", "--widgets"),
    ("--back cpu", "--backend"),
    ("--no-opt", "--no-optimize"),
    ("--output y", "--outputs"),
])
def test_abbreviated_options_are_refused_naming_the_full_option(ip, line, meant):
    # argparse would read --widget as --widgets; a misspelt option must not pass silently
    err, _ = ip.run_failing(f"%%symgraph f {line}\nx = dscalar('x')\ny = x * 2\n")
    assert isinstance(err, UsageError)
    assert "unrecognized" in str(err) and "not abbreviated" in str(err)
    assert f"did you mean {meant}?" in str(err)
    assert "f" not in ip.ns


@pytest.mark.parametrize("body, hint", [
    ("y = sum(v ** 2)", "T.sum(x) (or x.sum())"),
    ("y = max(v)", "T.max(x) (or x.max())"),
    ("y = max(a, b)", "T.maximum(a, b)"),
    ("y = min(a, b)", "T.minimum(a, b)"),
])
def test_python_builtins_on_symbolic_variables_point_to_nbgrads(ip, body, hint):
    err, printed = ip.run_failing(f"%%symgraph\nv = dvector('v'); a, b = dscalars('a', 'b')\n{body}\n")
    assert isinstance(err, SymgraphError) and isinstance(err.original, TypeError)
    assert hint in str(err)


def test_help_shows_usage_with_every_option(ip):
    doc = ip.ip.find_cell_magic("symgraph").__doc__
    for opt in ("--backend", "--outputs", "--no-optimize", "--show", "--widgets", "--range", "name"):
        assert opt in doc
    with pytest.raises(UsageError):
        ip.ip.run_cell_magic("symgraph", "--help", "x = 1")


def test_option_names_and_values_complete(ip):
    complete = ip.ip.complete
    assert complete("--ba", "%%symgraph --ba")[1] == ["--backend"]
    names = complete("--", "%%symgraph f --")[1]
    for opt in ("--backend", "--outputs", "--no-optimize", "--show", "--widgets", "--range"):
        assert opt in names
    assert complete("", "%%symgraph --show ")[1] == ["formula", "graph", "source", "none"]
    assert complete("g", "%%symgraph --backend g")[1] == ["gpu"]


# ---------------------------------------------------------------- widgets through the magic
def test_widgets_option_displays_sliders_with_ranges(ip):
    ip.run("%%symgraph f --widgets --range x=-2:2 --range a=0:1\n"
           "x = dscalar('x')\na = dscalar('a')\ny = a * x ** 2")
    widgets = [o for o in ip.captured.outputs if "application/vnd.jupyter.widget-view+json" in o.data]
    assert len(widgets) == 1
    model_id = widgets[0].data["application/vnd.jupyter.widget-view+json"]["model_id"]
    explorer = widget_instances()[model_id]
    assert (explorer.sliders["x"].min, explorer.sliders["x"].max) == (-2, 2)
    assert (explorer.sliders["a"].min, explorer.sliders["a"].max) == (0, 1)
    explorer.sliders["a"].value = 0.5
    explorer.sliders["x"].value = 2.0
    assert float(explorer.values[0]) == 2.0


def test_seed_slider_and_the_streams_it_shows_never_disagree(ip):
    # the streams' table is part of the widget, so moving the seed slider updates it;
    # no static copy above the sliders keeps showing the old seed
    bundles = ip.run("%%symgraph f --widgets\nrng_demo = RandomStreams(seed=5)\n"
                     "sigma = dscalar('sigma')\nave = T.mean(sigma * rng_demo.normal((10,)))\n")
    assert not [b for b in bundles if "nbgrad-random-streams" in b.get("text/html", "")]
    widgets = [o for o in ip.captured.outputs if "application/vnd.jupyter.widget-view+json" in o.data]
    model_id = widgets[0].data["application/vnd.jupyter.widget-view+json"]["model_id"]
    explorer = widget_instances()[model_id]
    assert "<td>5</td>" in explorer.streams_table.value
    explorer.seeds["rng_demo"].value = 5974
    assert "<td>5974</td>" in explorer.streams_table.value
    # without sliders the cell shows the streams' table as before
    bundles = ip.run("%%symgraph g\nsigma = dscalar('sigma')\nave2 = T.mean(sigma * rng_demo.normal((10,)))\n")
    assert [b for b in bundles if "nbgrad-random-streams" in b.get("text/html", "")]


def test_range_for_a_non_input_is_a_usage_error(ip):
    err, _ = ip.run_failing("%%symgraph f --widgets --range q=0:1\nx = dscalar('x')\ny = x * 2")
    assert isinstance(err, UsageError) and "'q'" in str(err)
    assert "f" not in ip.ns


def test_hessian_with_respect_to_vectors_keeps_one_hessian_per_variable(ip):
    # Theano's rule (the seed's hessian(cost=s, wrt=[x, y])): only scalars give the whole matrix
    ip.run("%%symgraph h\n"
           "x = dvector('x'); y = dvector('y')\n"
           "H = hessian(T.sum(x ** 2 + y ** 2), [x, y])\n")
    hx, hy = ip.ns["h"]([1.0, 2.0], [1.0, 2.0])
    np.testing.assert_array_equal(hx, 2 * np.eye(2))
    np.testing.assert_array_equal(hy, 2 * np.eye(2))


# the gradients of three course models with dynamic-shape inputs, exactly as the notebook shows them
LOGISTIC_REGRESSION = """%%symgraph
X = dmatrix('X'); y = dvector('y'); w = dvector('w'); b = dscalar('b')
p = 1 / (1 + exp(-dot(X, w) - b))
xent = -y * log(p) - (1 - y) * log(1 - p)
cost = xent.mean() + 0.01 * (w ** 2).sum()
gw, gb = grad(cost, [w, b])
"""


def test_logistic_regression_gradients_read_like_the_textbook(ip):
    # -(-(X @ w) - b) reads X @ w + b, 0.01 * 2 * w reads 0.02 * w, and sigmoid(X @ w + b)
    # is the cell's p wherever a formula uses it (its own line keeps its formula)
    p, xent, cost, gw, gb = ip.run(LOGISTIC_REGRESSION)
    assert p["text/plain"] == "p = sigmoid(X @ w + b)"
    assert p["text/latex"] == r"$\displaystyle p = \sigma\left(X w + b\right)$"
    assert xent["text/plain"] == "xent = -(y * log(p) + (1 - y) * log(sigmoid(-(X @ w + b))))"
    assert xent["text/latex"] == (
        r"$\displaystyle \mathrm{xent} = -\left(y \odot \log(p) + \left(1 - y\right) \odot "
        r"\log \sigma\left(-\left(X w + b\right)\right)\right)$")
    assert cost["text/plain"] == "cost = sum(xent) / float64(y.shape[0]) + 0.01 * sum(w ** 2)"
    assert cost["text/latex"] == (
        r"$\displaystyle \mathrm{cost} = \frac{\sum \mathrm{xent}}{\operatorname{shape}\left(y\right)_{0}}"
        r" + 0.01 \sum w^{2}$")
    assert gw["text/plain"] == "gw = X.T @ ((p - y) / float64(y.shape[0])) + 0.02 * w"
    assert gw["text/latex"] == (
        r"$\displaystyle \mathrm{gw} = X^{\top} \frac{p - y}{\operatorname{shape}\left(y\right)_{0}} + 0.02 w$")
    assert gb["text/plain"] == "gb = sum((p - y) / float64(y.shape[0]))"
    assert gb["text/latex"] == (
        r"$\displaystyle \mathrm{gb} = \sum \frac{p - y}{\operatorname{shape}\left(y\right)_{0}}$")


MLP = """%%symgraph mlp
X = dmatrix('X'); W1 = dmatrix('W1'); W2 = dmatrix('W2'); t = dmatrix('t')
h = tanh(dot(X, W1))
o = softmax(dot(h, W2))
c = -mean(T.sum(t * log(o), axis=1))
g1, g2 = grad(c, [W1, W2])
"""


def test_mlp_gradients_name_the_hidden_layer_the_output_and_what_repeats(ip):
    # t * alloc(-(1 / n), n)[:, None] reads -(t / n); the gradients write t / n twice and
    # are long: it is named in a where clause; h and o are the cell's names
    h, o, c, g1, g2 = ip.run(MLP)
    assert h["text/plain"] == "h = tanh(X @ W1)"
    assert o["text/plain"] == "o = softmax(h @ W2)"
    assert o["text/latex"] == r"$\displaystyle o = \operatorname{softmax}\left(h W_{2}\right)$"
    assert c["text/plain"] == "c = -(sum(sum(t * log(o), axis=1)) / float64(t.shape[0]))"
    assert g1["text/plain"] == (
        "g1 = X.T @ ((o * sum(u, axis=1)[:, None] - u) @ W2.T * (1 - h ** 2))\n"
        "  where u = t / float64(t.shape[0])")
    assert g1["text/latex"] == (
        r"$\displaystyle \begin{aligned} g_{1} &= X^{\top} \left(\left(o \odot \left(\sum_{\text{axis}=1} u"
        r"\right)_{{:},\mathrm{new}} - u\right) W_{2}^{\top} \odot \left(1 - h^{2}\right)\right) \\" "\n"
        r"\text{where } u &= \frac{t}{\operatorname{shape}\left(t\right)_{0}} \end{aligned}$")
    assert g2["text/plain"] == (
        "g2 = h.T @ (o * sum(u, axis=1)[:, None] - u)\n"
        "  where u = t / float64(t.shape[0])")
    assert g2["text/latex"] == (
        r"$\displaystyle \begin{aligned} g_{2} &= h^{\top} \left(o \odot \left(\sum_{\text{axis}=1} u\right)"
        r"_{{:},\mathrm{new}} - u\right) \\" "\n"
        r"\text{where } u &= \frac{t}{\operatorname{shape}\left(t\right)_{0}} \end{aligned}$")
    # what is shown is what is computed: the gradients against finite differences
    rng = np.random.default_rng(0)
    X, W1, W2 = rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    t = np.eye(2)[rng.integers(0, 2, 5)]
    cost = ip.ns["mlp"](X, W1, W2, t)[2]
    step = np.zeros_like(W2)
    step[1, 0] = 1e-6
    numeric = (ip.ns["mlp"](X, W1, W2 + step, t)[2] - cost) / 1e-6
    np.testing.assert_allclose(ip.ns["mlp"](X, W1, W2, t)[4][1, 0], numeric, rtol=1e-4)


SOFTMAX_REGRESSION = """%%symgraph
X = dmatrix('X'); t = dmatrix('t'); W = dmatrix('W'); b = dvector('b')
p = softmax(dot(X, W) + b)
cost = -mean(T.sum(t * log(p), axis=1))
gW, gb = grad(cost, [W, b])
"""


def test_softmax_regression_gradients_share_one_where_clause_form(ip):
    p, cost, gW, gb = ip.run(SOFTMAX_REGRESSION)
    assert p["text/plain"] == "p = softmax(X @ W + b)"
    assert cost["text/plain"] == "cost = -(sum(sum(t * log(p), axis=1)) / float64(t.shape[0]))"
    assert cost["text/latex"] == (
        r"$\displaystyle \mathrm{cost} = -\left(\frac{\sum \left(\sum_{\text{axis}=1} t \odot \log(p)\right)}"
        r"{\operatorname{shape}\left(t\right)_{0}}\right)$")
    assert gW["text/plain"] == "gW = X.T @ (p * sum(u, axis=1)[:, None] - u)\n  where u = t / float64(t.shape[0])"
    assert gW["text/latex"] == (
        r"$\displaystyle \begin{aligned} \mathrm{gW} &= X^{\top} \left(p \odot \left(\sum_{\text{axis}=1} u"
        r"\right)_{{:},\mathrm{new}} - u\right) \\" "\n"
        r"\text{where } u &= \frac{t}{\operatorname{shape}\left(t\right)_{0}} \end{aligned}$")
    assert gb["text/plain"] == (
        "gb = sum(p * sum(u, axis=1)[:, None] - u, axis=0)\n  where u = t / float64(t.shape[0])")
    assert gb["text/latex"] == (
        r"$\displaystyle \begin{aligned} \mathrm{gb} &= \sum_{\text{axis}=0} \left(p \odot "
        r"\left(\sum_{\text{axis}=1} u\right)_{{:},\mathrm{new}} - u\right) \\" "\n"
        r"\text{where } u &= \frac{t}{\operatorname{shape}\left(t\right)_{0}} \end{aligned}$")


def test_long_text_lines_break_at_top_level_terms_with_hanging_indentation(ip):
    # the text is cut where the LaTeX is: before a top-level + or -, the operator leading
    # its line under the formula's first character
    (b,) = ip.run("%%symgraph --no-optimize\nx = dscalar('x')\n"
                  "long_sum = " + " + ".join(f"exp({k} * x) * sin(x + {k})" for k in range(2, 10)) + "\n")
    lines = b["text/plain"].split("\n")
    assert lines[0].startswith("long_sum = exp(2 * x) * sin(x + 2) + ")
    assert all(line.startswith(" " * len("long_sum = ") + "+ ") for line in lines[1:])
    assert all(len(line) <= 80 for line in lines) and len(lines) >= 3
    assert " ".join(line.strip() for line in lines) == "long_sum = " + " + ".join(
        f"exp({k} * x) * sin(x + {k})" for k in range(2, 10))


def test_a_short_formula_without_repeats_stays_self_contained(ip):
    # a repeated subexpression of a short formula is written out, not named
    (b,) = ip.run("%%symgraph\nx = dscalar('x')\ny = exp(x * x) * exp(x * x) + 1\n")
    assert "where" not in b["text/plain"] and "where" not in b["text/latex"]
    assert b["text/plain"].count("\n") == 0
