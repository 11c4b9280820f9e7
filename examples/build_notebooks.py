"""Write the course notebooks of this folder from the cell lists below.

    python examples/build_notebooks.py            # write every notebook (no outputs)
    python examples/build_notebooks.py 03 05      # only those whose name starts so
    python examples/build_notebooks.py --execute  # and run them, storing the outputs

The stored outputs are what ``pytest --nbval`` compares against, so re-run with
``--execute`` whenever a notebook or the engine's printing changes. Not a test
module: pytest only imports it (for doctests) and finds none.
"""

import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent


def md(text):
    return ("markdown", textwrap.dedent(text).strip("\n"))


def code(text):
    return ("code", textwrap.dedent(text).strip("\n"))


SETUP = code("""
    %load_ext nbgrad
    %matplotlib inline
    import numpy as np
    import nbgrad
    import nbgrad.tensor as T
""")


# --------------------------------------------------------------------------- 01
NB01 = [
    md("""
    # 1. Symbolic basics

    With nbgrad you do not compute numbers straight away. You first *describe* a
    computation with symbolic variables: the result is a graph of operations. Then you
    compile that graph into a Python function, and only that function touches numbers.
    Describing first has two payoffs: the graph can be differentiated exactly (next
    notebooks), and it can be simplified before it ever runs.

    The API follows Theano's, so old course code runs after renaming the import.
    """),
    SETUP,
    md("""
    ## Variables carry a type

    A symbolic variable has a dtype and a number of dimensions, but no value. The first
    letter of a constructor picks the dtype: `b` int8, `w` int16, `i` int32, `l` int64,
    `f` float32, `d` float64, `c` complex64, `z` complex128. The rest names the rank:
    `scalar`, `vector`, `matrix`, `tensor3`, `tensor4`. Without a prefix you get
    `nbgrad.config.floatX`.
    """),
    code("""
    x = T.dscalar("x")
    v = T.fvector("v")
    M = T.imatrix("M")
    for var in (x, v, M, T.matrix("A")):
        print(f"{var.name:>2}: dtype={var.dtype:<8} ndim={var.ndim}  type={var.type}")
    print("floatX is", nbgrad.config.floatX)
    """),
    md("""
    Plural constructors make several variables at once, which keeps short cells short.
    """),
    code("""
    a, b = T.dscalars("a", "b")
    a.type, b.name
    """),
    md("""
    ## Expressions are graphs

    Arithmetic on variables builds new variables. Nothing is evaluated: `z` remembers
    which operation made it and from what. `nbgrad.pp` prints an expression as text; in a
    notebook the expression itself renders as LaTeX (the extension loaded in the first
    cell adds that display), and `nbgrad.printing.latex` gives the LaTeX source.
    """),
    code("""
    z = (a + b) ** 2 / (2 * a)
    print(nbgrad.pp(z))
    print(nbgrad.printing.latex(z))
    z
    """),
    md("""
    `debugprint` shows the graph itself, one operation per line, with its inputs indented
    below it.
    """),
    code("""
    nbgrad.debugprint(z)
    """),
    md("""
    ## From a graph to a function

    `nbgrad.function(inputs, outputs)` compiles the graph. Inputs are matched by
    position (or by name, as keywords), and plain Python numbers and lists are converted
    to the input's type.
    """),
    code("""
    f = nbgrad.function([a, b], z)
    f(1.0, 3.0), f(b=1.0, a=2.0)
    """),
    md("""
    Matrices work the same way. Operators act element by element; `T.dot` is the matrix
    product.
    """),
    code("""
    P, Q = T.dmatrices("P", "Q")
    elementwise = nbgrad.function([P, Q], P * Q)
    product = nbgrad.function([P, Q], T.dot(P, Q))
    p = [[1, 2], [3, 4]]
    q = [[0, 1], [1, 0]]
    print(elementwise(p, q))
    print(product(p, q))
    """),
    md("""
    Types are checked when the function is called. An input of the wrong rank is refused
    with a message that names it:
    """),
    code("""
    try:
        product([1, 2], q)
    except Exception as err:
        print(type(err).__name__, ":", err)
    """),
    md("""
    ## The `%%symgraph` cell

    The cell magic does the three steps of a typical cell at once: it runs the cell with
    nbgrad's constructors and math available, compiles every symbolic result the cell
    assigns into one function (here called `logistic_fn`), and shows the *optimized*
    formulas. Two ways of writing the logistic function $\\sigma(t) = 1/(1+e^{-t})$: as a
    fraction, and through the hyperbolic tangent, $\\sigma(t) = (1 + \\tanh(t/2))/2$.
    """),
    code("""
    %%symgraph logistic_fn
    t = dvector("t")
    s1 = 1 / (1 + exp(-t))
    s2 = (1 + tanh(t / 2)) / 2
    """),
    md("""
    The optimizer recognized the first form as the built-in `sigmoid`. The compiled
    function takes the cell's input `t` and returns both results; they agree to rounding:
    """),
    code("""
    grid = np.linspace(-4, 4, 9)
    first, second = logistic_fn(grid)
    print(np.round(first, 4))
    print("largest difference:", np.abs(first - second).max() < 1e-12)
    """),
    md("""
    ## Several outputs at once

    A function can return a list of results. They are computed in one pass, so shared
    intermediate values (here the difference `d`) are computed only once.
    """),
    code("""
    d = P - Q
    diff_stats = nbgrad.function([P, Q], [d, abs(d), d ** 2])
    for name, value in zip(["difference", "absolute", "squared"], diff_stats([[1, 1], [1, 1]], [[0, 1], [2, 3]])):
        print(name, value.tolist())
    """),
    md("""
    ## Default values and named arguments

    Wrap an input in `nbgrad.In` to give it a default value, or a keyword name different
    from the variable's name. Arguments without a default must come first, as in Python.
    """),
    code("""
    u, w, scale = T.dscalars("u", "w", "scale")
    affine = nbgrad.function([u, nbgrad.In(w, value=1.0), nbgrad.In(scale, value=2.0, name="gain")],
                             (u + w) * scale)
    print(affine(10.0))                    # w=1, gain=2
    print(affine(10.0, 0.0))               # w=0, gain=2
    print(affine(10.0, gain=0.5))          # w=1, gain=0.5
    print(affine(10.0, gain=3.0, w=-10.0)) # keywords in any order
    """),
    md("""
    ## Quick answers with `eval`

    For a one-off value there is no need to name a function: `eval` takes a dictionary
    from variables to values (it compiles behind the scenes and caches the result).
    """),
    code("""
    z.eval({a: 1.0, b: 3.0}), (P @ Q).eval({P: p, Q: q}).tolist()
    """),
    md("""
    ## Summary

    * symbolic variables have a dtype and a rank, no value;
    * expressions build a graph, which prints as text (`pp`), LaTeX and a tree (`debugprint`);
    * `nbgrad.function` compiles a graph, with several outputs and `In` defaults;
    * `%%symgraph` runs, compiles and shows a cell in one go; `eval` answers one question.

    Next: [shared state](02_shared_state.ipynb).
    """),
]


# --------------------------------------------------------------------------- 02
NB02 = [
    md("""
    # 2. Shared state

    Inputs are passed at every call. Some values instead belong to the function and
    outlive calls: model parameters, counters, running statistics. nbgrad keeps them in
    **shared variables**, symbolic variables that also hold a value. A function can
    *update* them as a side effect of being called.
    """),
    SETUP,
    md("""
    ## A shared variable holds a value

    `nbgrad.shared(value, name)` infers the type from the value. Read it with
    `get_value()`, replace it with `set_value()`. In a notebook it displays as a small
    table with its current value.
    """),
    code("""
    total = nbgrad.shared(0, name="total")
    print(total.type, total.get_value())
    total
    """),
    md("""
    ## Updates: an accumulator

    `updates=[(shared, new_expression)]` tells the function to assign `new_expression`
    to `shared` after computing its outputs. The output is the value *before* the update.
    """),
    code("""
    step = T.lscalar("step")
    add = nbgrad.function([step], total, updates=[(total, total + step)])
    print(add(1), add(10), add(100))
    print("total is now", total.get_value())
    """),
    md("""
    Any number of functions can read and write the same shared variable: a second
    function that subtracts works on the same state, and so does `set_value`.
    """),
    code("""
    subtract = nbgrad.function([step], total, updates=[(total, total - step)])
    subtract(11)
    print(total.get_value())
    total.set_value(-5)
    add(5)
    print(total.get_value())
    """),
    md("""
    The same thing as a `%%symgraph` cell: the cell builds a running mean of a stream of
    numbers from two shared variables, `count` and `mean`, compiles it into `observe`,
    and shows the formula of the new mean. The update is passed with `function` inside
    the cell because a cell's own compiled function has no updates.
    """),
    code("""
    %%symgraph --show formula
    count = shared(0.0, name="count")
    mean = shared(0.0, name="mean")
    obs = dscalar("obs")
    new_mean = mean + (obs - mean) / (count + 1)
    observe = function([obs], new_mean, updates=[(count, count + 1), (mean, new_mean)])
    """),
    code("""
    for value in [4.0, 8.0, 6.0, 2.0]:
        observe(value)
    print("count:", count.get_value(), " mean:", mean.get_value())
    """),
    md("""
    Updates are applied together, after every output and every new value has been
    computed. A call that fails therefore changes nothing:
    """),
    code("""
    before = (count.get_value(), mean.get_value())
    try:
        observe([1.0, 2.0])          # a vector where a scalar is expected
    except Exception as err:
        print(type(err).__name__)
    print("unchanged:", (count.get_value(), mean.get_value()) == before)
    """),
    md("""
    ## `givens`: substitute a variable while compiling

    `givens=[(old, new)]` replaces `old` by `new` in the graph before compiling. A common
    use: evaluate a formula that reads a shared variable at some other value, without
    touching the stored one. Here `total` is replaced by a plain input `pretend`.
    """),
    code("""
    doubled = 2 * total + step
    pretend = T.lscalar("pretend")
    what_if = nbgrad.function([step, pretend], doubled, givens=[(total, pretend)])
    print(what_if(1, 100), " total still", total.get_value())
    """),
    md("""
    ## Copying a function: `swap` and `delete_updates`

    A compiled function can be copied onto other shared variables with
    `f.copy(swap={old: new})`: same code, separate state. That is how to run a second,
    independent accumulator without compiling again.
    """),
    code("""
    other_total = nbgrad.shared(0, name="other_total")
    add_other = add.copy(swap={total: other_total})
    add_other(7)
    add_other(7)
    print("total:", total.get_value(), " other_total:", other_total.get_value())
    """),
    md("""
    `f.copy(delete_updates=True)` keeps the outputs but drops the updates: a read-only
    probe of the state.
    """),
    code("""
    peek = add.copy(delete_updates=True)
    print(peek(1000), peek(1000), " total:", total.get_value())
    """),
    md("""
    ## Summary

    * `shared` values live inside the graph and persist between calls;
    * `updates` change them after each call, all at once, and never half-way;
    * `givens` substitutes a variable while compiling;
    * `copy(swap=...)` reuses a function on other state, `copy(delete_updates=True)` makes
      it read-only.

    Next: [derivatives](03_derivatives.ipynb).
    """),
]


# --------------------------------------------------------------------------- 03
NB03 = [
    md("""
    # 3. Derivatives

    Because a computation is a graph, its derivative can be built as another graph, by
    applying the chain rule node by node. The result is exact (no finite differences),
    symbolic (it can be printed, simplified and differentiated again), and compiled like
    any other expression.
    """),
    SETUP,
    md("""
    ## `grad` of a scalar

    `T.grad(cost, wrt)` returns $\\partial\\,\\text{cost} / \\partial\\,\\text{wrt}$ for a
    scalar `cost`. The graph it builds straight from the chain rule is long; after
    compilation the optimizer has folded it into a readable formula, found in
    `f.maker.fgraph.outputs[0]`.
    """),
    code("""
    x = T.dscalar("x")
    y = x ** 3 + 2 * x
    dy = T.grad(y, x)
    print("as built:     ", nbgrad.pp(dy))
    f = nbgrad.function([x], dy)
    print("as compiled:  ", nbgrad.pp(f.maker.fgraph.outputs[0]))
    print("f(2) =", f(2.0))
    """),
    md("""
    `%%symgraph` shows exactly that optimized formula, rendered as LaTeX:
    """),
    code("""
    %%symgraph dlogistic
    x = dscalar("x")
    s = 1 / (1 + exp(-x))
    ds = grad(s, x)
    """),
    md("""
    The derivative of the logistic function came out as $\\sigma(x)\\,\\sigma(-x)$, which
    is the textbook $\\sigma(x)\\,(1-\\sigma(x))$ since $1 - \\sigma(x) = \\sigma(-x)$.
    A picture of both:
    """),
    code("""
    import matplotlib.pyplot as plt

    grid = np.linspace(-6, 6, 200)
    values = np.array([dlogistic(t) for t in grid])
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(grid, values[:, 0], label=r"$\\sigma(x)$")
    ax.plot(grid, values[:, 1], label=r"$\\sigma'(x)$")
    ax.axhline(0.25, color="gray", lw=0.5, ls="--")
    ax.set_xlabel("x")
    ax.legend()
    plt.show()
    print("slope at 0:", dlogistic(0.0)[1], "(the maximum, 1/4)")
    """),
    md("""
    The gradient with respect to a vector has the vector's shape. For the logistic loss
    of a weight vector $w$ on data $(X, t)$:
    """),
    code("""
    %%symgraph loss_and_grad --outputs loss,gw
    w = dvector("w")
    X = dmatrix("X")
    t = dvector("t")
    p = sigmoid(dot(X, w))
    loss = -T.mean(t * log(p) + (1 - t) * log(1 - p))
    gw = grad(loss, w)
    """),
    code("""
    rng = np.random.default_rng(0)
    X_data = rng.standard_normal((8, 3))
    t_data = (X_data[:, 0] > 0).astype(float)
    loss_value, gradient = loss_and_grad(np.zeros(3), X_data, t_data)
    print(round(float(loss_value), 6), "= log 2 at w = 0")
    print(np.round(gradient, 4))
    """),
    md("""
    ## Jacobian and Hessian

    For a vector output, the **Jacobian** collects the gradient of every component:
    $J_{ij} = \\partial y_i / \\partial v_j$. The **Hessian** of a scalar is the Jacobian of its
    gradient. `nbgrad.gradient.jacobian` and `hessian` build them in one vectorized pass.
    """),
    code("""
    from nbgrad.gradient import hessian, jacobian

    v = T.dvector("v")
    J = jacobian(v ** 2, v)
    H = hessian(T.sum(v ** 3), v)
    jac_hess = nbgrad.function([v], [J, H])
    J_value, H_value = jac_hess([1.0, 2.0, 3.0])
    print("J =\\n", J_value)
    print("H =\\n", H_value)
    """),
    md("""
    The same matrices, built the classic way: one gradient per output component, in a
    symbolic loop (`nbgrad.scan`, covered in notebook 4). Row `i` is the gradient of
    component `i`. This is slower than the vectorized version (one graph evaluation per
    row) but shows what a Jacobian is.
    """),
    code("""
    y = v ** 2
    J_loop, _ = nbgrad.scan(lambda i, y, v: T.grad(y[i], v),
                            sequences=T.arange(y.shape[0]), non_sequences=[y, v])
    g = T.grad(T.sum(v ** 3), v)
    H_loop, _ = nbgrad.scan(lambda i, g, v: T.grad(g[i], v),
                            sequences=T.arange(g.shape[0]), non_sequences=[g, v])
    loops = nbgrad.function([v], [J_loop, H_loop])
    J_again, H_again = loops([1.0, 2.0, 3.0])
    print(np.array_equal(J_again, J_value), np.array_equal(H_again, H_value))
    """),
    md("""
    ## Products with the Jacobian: `Rop` and `Lop`

    Often the whole Jacobian is not needed, only its product with a vector:

    * `T.Rop(y, x, v)` is $J\\,v$ (*right* product; forward mode, one pass);
    * `T.Lop(y, x, u)` is $u^\\top J$ (*left* product; reverse mode, one pass).

    Both work for any shapes: `v` has the shape of `x`, `u` the shape of `y`. With
    $y = x^\\top W$ and `W` as the variable:
    """),
    code("""
    W = T.dmatrix("W")
    xv = T.dvector("xv")
    out = T.dot(xv, W)
    V = T.dmatrix("V")
    u = T.dvector("u")
    jvp = nbgrad.function([W, V, xv], T.Rop(out, W, V))
    vjp = nbgrad.function([u, xv], T.Lop(out, W, u))
    print("J V  =", jvp([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1]))
    print("u' J =\\n", vjp([2, 2], [0, 1]))
    """),
    md("""
    ## Hessian-vector products, two ways

    Newton-type methods need $H v$ without forming $H$. Two routes give it:

    1. reverse over reverse: differentiate $\\nabla f \\cdot v$ once more, `grad(sum(g * v), x)`;
    2. forward over reverse: the directional derivative of the gradient, `Rop(g, x, v)`.

    For $f(x) = \\sum_i x_i^2 \\,\\sin x_i$ both agree with the explicit Hessian:
    """),
    code("""
    x = T.dvector("x")
    direction = T.dvector("direction")
    cost = T.sum(x ** 2 * T.sin(x))
    g = T.grad(cost, x)
    hv_reverse = T.grad(T.sum(g * direction), x)
    hv_forward = T.Rop(g, x, direction)
    hvp = nbgrad.function([x, direction], [hv_reverse, hv_forward, T.dot(hessian(cost, x), direction)])
    for name, value in zip(["grad of g.v", "Rop of g", "H @ v"], hvp([0.5, 1.0, 2.0], [1.0, -1.0, 0.5])):
        print(f"{name:>12}: {np.round(value, 6)}")
    """),
    md("""
    ## Summary

    * `grad` gives exact symbolic derivatives; the compiled graph holds the simplified formula;
    * `jacobian` / `hessian` build full matrices in one pass (or row by row with `scan`);
    * `Rop` ($Jv$, forward) and `Lop` ($u^\\top J$, reverse) avoid forming matrices;
    * a Hessian-vector product is a second `grad`, or an `Rop` of the gradient.

    Next: [randomness and loops](04_randomness_and_loops.ipynb).
    """),
]


NOTEBOOKS = {
    "01_symbolic_basics": NB01,
    "02_shared_state": NB02,
    "03_derivatives": NB03,
}


def build(name, cells):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for k, (kind, text) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        cell["id"] = f"{name[:2]}-{k:02d}"
        nb.cells.append(cell)
    return nb


def main(argv):
    import nbformat

    execute = "--execute" in argv
    wanted = [a for a in argv if not a.startswith("--")]
    for name, cells in NOTEBOOKS.items():
        if wanted and not any(name.startswith(w) for w in wanted):
            continue
        nb = build(name, cells)
        path = HERE / f"{name}.ipynb"
        if execute:
            from nbclient import NotebookClient

            NotebookClient(nb, timeout=120, kernel_name="python3",
                           resources={"metadata": {"path": str(HERE)}}).execute()
        nbformat.write(nb, path)
        print("wrote", path.relative_to(HERE.parent))


if __name__ == "__main__":
    main(sys.argv[1:])
