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
    nbgrad.debugprint(z, print_type=True)
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
    print("the two forms agree:", np.allclose(first, second, rtol=0, atol=1e-12))
    """),
    md("""
    Plotted over a wider range, the two curves lie on top of each other: the S-shape
    that rises from 0 to 1, through 1/2 at $t = 0$.
    """),
    code("""
    import matplotlib.pyplot as plt

    ts = np.linspace(-6, 6, 200)
    fraction, through_tanh = logistic_fn(ts)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(ts, fraction, lw=4, alpha=0.4, label=r"$1/(1+e^{-t})$")
    ax.plot(ts, through_tanh, "k--", lw=1, label=r"$(1 + \\tanh(t/2))/2$")
    ax.set_xlabel("t")
    ax.legend()
    plt.show()
    """),
    md("""
    ## Several outputs at once

    A function can return a list of results. They are computed in one pass, so shared
    intermediate values (here the difference `d`) are computed only once.
    """),
    code("""
    d = P - Q
    diff_stats = nbgrad.function([P, Q], [d, abs(d), d ** 2])
    for name, value in zip(["difference", "absolute", "squared"], diff_stats([[4, 1], [2, 0]], [[1, 1], [3, -2]])):
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
    add = nbgrad.function([step], total, updates=[(total, total + step)], name="add")
    print(add(1), add(10), add(100))
    print("total is now", total.get_value())
    """),
    md("""
    Any number of functions can read and write the same shared variable: a second
    function that subtracts works on the same state, and so does `set_value`. Giving
    functions a `name` lets the display of a shared variable say who updates it.
    """),
    code("""
    subtract = nbgrad.function([step], total, updates=[(total, total - step)], name="subtract")
    subtract(11)
    print(total.get_value())
    total.set_value(-5)
    add(5)
    total
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
    observe = function([obs], new_mean, updates=[(count, count + 1), (mean, new_mean)], name="observe")
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
    `%%symgraph` shows that optimized formula, rendered as LaTeX; where it uses a result
    the cell named, it writes the name:
    """),
    code("""
    %%symgraph dlogistic
    x = dscalar("x")
    s = 1 / (1 + exp(-x))
    ds = grad(s, x)
    """),
    md("""
    The derivative of the logistic function came out as $\\sigma(-x)\\, s$ with $s = \\sigma(x)$,
    which is the textbook $\\sigma(x)\\,(1-\\sigma(x))$ since $1 - \\sigma(x) = \\sigma(-x)$.
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
    The gradient with respect to a vector has the vector's shape. Take the logistic
    regression loss of a weight vector $w$ on data $(X, t)$ with $n$ rows,
    $L(w) = -\\frac1n \\sum_i t_i \\log p_i + (1-t_i)\\log(1-p_i)$ with $p = \\sigma(Xw)$.
    By hand, $\\nabla L = X^\\top (p - t) / n$; `grad` finds the same vector, and
    `%%symgraph` shows it as a formula (the $n$ rows are `shape(t)[0]`).
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
    w_data = np.array([0.5, -1.0, 0.25])
    loss_value, gradient = loss_and_grad(w_data, X_data, t_data)
    p_data = 1 / (1 + np.exp(-X_data @ w_data))
    print("loss:", round(float(loss_value), 6))
    print("grad:", np.round(gradient, 6))
    print("hand:", np.round(X_data.T @ (p_data - t_data) / len(t_data), 6))
    """),
    md("""
    Train the Theano tutorial's logistic regression, written as the tutorial writes it, on
    data that a line separates with a wide margin. The logits grow past 37, where $p$
    rounds to exactly 1 in float64 and $\\log(1 - p)$ as written is $\\log 0 = -\\infty$. The compiled
    function computes $\\log\\sigma(z)$ and $\\log(1 - \\sigma(z)) = \\log\\sigma(-z)$ without
    forming $p$ (the rewrites tagged `stability`), so the cost and its gradient stay finite.
    """),
    code("""
    rng = np.random.default_rng(1)
    D = rng.standard_normal((40, 2)) * 30
    labels = (D @ np.array([1.0, -2.0]) > 0).astype(float)
    x, y = T.dmatrix("x"), T.dvector("y")
    w = nbgrad.shared(np.zeros(2), name="w")
    b = nbgrad.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = nbgrad.function([x, y], [cost, abs(T.dot(x, w) + b).max()],
                            updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    for step in range(1, 10001):
        c, logit = train(D, labels)
        if step in (1, 10, 100, 10000):
            print(f"step {step:5d}: cost {float(c):.4f}, largest |logit| {float(logit):.0f}")
    """),
    md("""
    ## Jacobian and Hessian

    For a vector output, the **Jacobian** collects the gradient of every component:
    $J_{ij} = \\partial y_i / \\partial v_j$. The **Hessian** of a scalar is the Jacobian of its
    gradient. `nbgrad.gradient.jacobian` and `hessian` build them in one vectorized pass,
    and `%%symgraph` shows them as formulas: squaring each entry of $v$ has a diagonal
    Jacobian, and so does the gradient of $\\sum_i v_i^3$, whose Jacobian is the Hessian.
    """),
    code("""
    %%symgraph jac_hess
    v = dvector("v")
    J = jacobian(v ** 2, v)
    H = hessian(T.sum(v ** 3), v)
    """),
    md("""
    The compiled function gives the matrices:
    """),
    code("""
    from nbgrad.gradient import hessian, jacobian

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
    print("J V  =", jvp([[1, 2], [3, 4]], [[0.5, 1], [2, 0]], [1, -1]), "  (= x V)")
    print("u' J =", vjp([1, 3], [1, -1]).tolist(), "  (= outer(x, u))")
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


# --------------------------------------------------------------------------- 04
NB04 = [
    md("""
    # 4. Randomness and loops

    Two things a plain expression cannot say: "draw fresh random numbers at every call"
    and "repeat this step". nbgrad has a graph node for each: random variables from
    `RandomStreams`, and `scan` for loops.
    """),
    SETUP,
    code("""
    from nbgrad.random import RandomStreams
    """),
    md("""
    ## Random variables

    A `RandomStreams` object makes random variables. Each one owns a generator state, kept
    in a shared variable; a compiled function that uses the variable advances that state
    by a default update, so every call draws new numbers. Seeding the streams object makes
    the whole sequence reproducible.
    """),
    code("""
    streams = RandomStreams(seed=2024)
    coin = streams.uniform((2, 3))
    bell = streams.normal((2, 3))
    draw_coin = nbgrad.function([], coin)
    print(draw_coin())
    print(draw_coin())            # a new draw
    """),
    md("""
    With `no_default_updates=True` the state is left where it was, so the function returns
    the same numbers every time:
    """),
    code("""
    frozen_bell = nbgrad.function([], bell, no_default_updates=True)
    print(np.array_equal(frozen_bell(), frozen_bell()))
    """),
    md("""
    Within one call a random variable is drawn once, however often it appears. So this
    expression is exactly zero, not the difference of independent draws:
    """),
    code("""
    nbgrad.function([], coin + coin - 2 * coin)()
    """),
    md("""
    ## Seeds and states

    There are two levels of seeding. `streams.seed(n)` reseeds every variable the object
    made. A single variable's state lives in `var.rng`, a shared variable whose value is a
    generator state with its own `seed`.
    """),
    code("""
    streams.seed(7)
    first = draw_coin()
    streams.seed(7)
    print("same after reseeding:", np.array_equal(first, draw_coin()))

    state = coin.rng.get_value(borrow=True)
    state.seed(99)
    coin.rng.set_value(state, borrow=True)
    print(draw_coin().round(3))
    """),
    md("""
    A state can be saved and restored to replay a draw, like a bookmark:
    """),
    code("""
    bookmark = coin.rng.get_value().get_state()
    a = draw_coin()
    b = draw_coin()
    state = coin.rng.get_value(borrow=True)
    state.set_state(bookmark)
    coin.rng.set_value(state, borrow=True)
    print("replayed:", np.array_equal(draw_coin(), a), " next differs:", not np.array_equal(a, b))
    """),
    md("""
    ### Copying random state between two graphs

    Two models built by the same code have random variables in the same order, so their
    states can be copied one by one: `streams.state_updates` lists them. After the copy
    the second model draws what the first draws.
    """),
    code("""
    class NoisyModel:
        def __init__(self, seed):
            self.streams = RandomStreams(seed=seed)
            self.noise = self.streams.normal((3,))
            self.sample = nbgrad.function([], self.noise)

    def copy_random_state(source, target):
        for (src, _), (dst, _) in zip(source.streams.state_updates, target.streams.state_updates):
            dst.set_value(src.get_value())

    m1, m2 = NoisyModel(seed=1), NoisyModel(seed=2)
    print("before:", np.allclose(m1.sample(), m2.sample()))
    copy_random_state(m1, m2)
    print("after: ", np.allclose(m1.sample(), m2.sample()))
    """),
    md("""
    ## A seed slider

    `%%symgraph --widgets` adds a slider per scalar input and a seed slider per random
    stream; moving it reseeds the streams and re-evaluates, and the table of the streams
    below the sliders shows the seed in use. Here: the mean of 100 normal draws scaled by
    `sigma`. (The sliders are live in a running notebook; a saved copy shows them as
    static text.)
    """),
    code("""
    %%symgraph sample_mean --widgets --range sigma=0.1:3
    rng_demo = RandomStreams(seed=5)
    sigma = dscalar("sigma")
    draws = sigma * rng_demo.normal((100,))
    average = T.mean(draws)
    """),
    md("""
    The compiled function is ordinary; calling it after a reseed reproduces the slider's
    numbers:
    """),
    code("""
    rng_demo.seed(5)
    _, avg = sample_mean(1.0)
    print(round(float(avg), 6))
    """),
    md("""
    ## Loops with `scan`

    `nbgrad.scan(step, sequences=..., outputs_info=..., non_sequences=..., n_steps=...)`
    calls `step` symbolically once to build the body of the loop, then repeats it at run
    time. Arguments reach `step` in this order: the current element of each sequence, the
    previous value of each output, then the non-sequences. It returns the stacked outputs
    of every step and a dictionary of updates (empty here).

    **Cumulative sum.** The output starts at 0 and adds one element per step:
    """),
    code("""
    xs = T.dvector("xs")
    running, _ = nbgrad.scan(lambda x_t, acc: acc + x_t, sequences=xs, outputs_info=T.constant(0.0))
    cumsum = nbgrad.function([xs], running)
    print(cumsum([1.0, 2.0, 3.0, 4.0]), np.cumsum([1.0, 2.0, 3.0, 4.0]))
    """),
    md("""
    **Powers by repetition.** No sequence, a fixed number of steps, and a non-sequence
    `base` visible to every step. Taking `[-1]` keeps only the last step.
    """),
    code("""
    base = T.dscalar("base")
    k = T.lscalar("k")
    powers, _ = nbgrad.scan(lambda prev, b: prev * b, outputs_info=T.ones_like(base),
                            non_sequences=base, n_steps=k)
    power = nbgrad.function([base, k], [powers, powers[-1]])
    all_powers, last = power(3.0, 5)
    print(all_powers, last)
    """),
    md("""
    **Evaluating a polynomial.** Two sequences walked together, the coefficients and the
    exponents $0, 1, 2, \\dots$, then a sum outside the loop:
    $p(x) = \\sum_i c_i x^i$.
    """),
    code("""
    coeffs = T.dvector("coeffs")
    at = T.dscalar("at")
    terms, _ = nbgrad.scan(lambda c, i, x: c * x ** i,
                           sequences=[coeffs, T.arange(coeffs.shape[0])], non_sequences=at)
    poly = nbgrad.function([coeffs, at], terms.sum())
    print(poly([2.0, -1.0, 0.5], 4.0), "= 2 - 4 + 0.5 * 4**2")
    """),
    md("""
    **A recurrent network step.** The hidden state is carried from step to step:
    $h_t = \\tanh(W h_{t-1} + U x_t + b)$, with the weights as shared variables. Gradients
    flow back through the loop, so training it needs nothing new.
    """),
    code("""
    rng = np.random.default_rng(0)
    W = nbgrad.shared(0.5 * rng.standard_normal((4, 4)), name="W")
    U = nbgrad.shared(0.5 * rng.standard_normal((4, 2)), name="U")
    b = nbgrad.shared(np.zeros(4), name="b")

    inputs = T.dmatrix("inputs")        # one row per time step
    h0 = T.dvector("h0")
    hidden, _ = nbgrad.scan(lambda x_t, h: T.tanh(T.dot(W, h) + T.dot(U, x_t) + b),
                            sequences=inputs, outputs_info=h0)
    score = T.sum(hidden[-1])
    rnn = nbgrad.function([inputs, h0], [hidden, T.grad(score, W)])

    states, dW = rnn(rng.standard_normal((5, 2)), np.zeros(4))
    print("hidden states:", states.shape, " gradient of W:", dW.shape)
    print(np.round(states[-1], 4))
    """),
    md("""
    ## Summary

    * `RandomStreams` variables draw anew on each call; `no_default_updates` freezes them;
    * seed everything with `streams.seed`, one variable through `var.rng`, and copy or
      replay generator states like any shared value;
    * `scan` expresses loops: running totals, repeated steps, several sequences at once,
      recurrent networks, all differentiable.

    Next: [forward and reverse mode](05_autodiff_modes.ipynb).
    """),
]


# --------------------------------------------------------------------------- 05
NB05 = [
    md("""
    # 5. Forward and reverse mode

    Every derivative nbgrad builds is the chain rule applied to a graph. For a chain
    $y = f_3(f_2(f_1(x)))$ the Jacobian is a product of the local Jacobians,

    $$J = J_3 \\, J_2 \\, J_1 .$$

    The product can be evaluated from either end, and that choice is the difference
    between the two modes of automatic differentiation:

    * **forward accumulation** multiplies from the right: it pushes a tangent vector $v$
      through $J_1$, then $J_2$, then $J_3$, alongside the computation. One pass gives
      $Jv$, one *column* of $J$ for $v = e_j$. This is `T.Rop`.
    * **reverse accumulation** multiplies from the left: it runs the computation, then
      pulls a cotangent $u$ back through $J_3^\\top$, $J_2^\\top$, $J_1^\\top$. One pass
      gives $u^\\top J$, one *row* of $J$. This is `T.Lop`, and `T.grad` is the special
      case of a scalar output with $u = 1$.

    Each pass costs a small constant multiple of evaluating $f$ itself. So for
    $f: \\mathbb{R}^n \\to \\mathbb{R}^m$ the full Jacobian costs $n$ forward passes or $m$
    reverse passes. A loss function has $m = 1$ and $n$ = number of parameters: reverse
    mode wins by a factor $n$, which is why training uses it.
    """),
    SETUP,
    md("""
    ## One function, both modes

    A small two-layer map $y = B \\tanh(A x)$ with $A$ of shape $(h, n)$ and $B$ of shape
    $(m, h)$. We compile one forward-mode pass (`Rop`) and one reverse-mode pass (`Lop`).
    """),
    code("""
    x = T.dvector("x")
    A = T.dmatrix("A")
    B = T.dmatrix("B")
    y = T.dot(B, T.tanh(T.dot(A, x)))

    v = T.dvector("v")      # tangent: shape of x
    u = T.dvector("u")      # cotangent: shape of y
    jvp = nbgrad.function([A, B, x, v], T.Rop(y, x, v))
    vjp = nbgrad.function([A, B, x, u], T.Lop(y, x, u))
    evaluate = nbgrad.function([A, B, x], y)
    """),
    md("""
    The two passes are about the same size as the function itself: count the operations
    in each compiled graph.
    """),
    code("""
    for name, fn in [("y = f(x)", evaluate), ("J v  (Rop)", jvp), ("u'J  (Lop)", vjp)]:
        print(f"{name:<12} {len(fn.maker.fgraph.apply_nodes):2d} operations")
    """),
    md("""
    Building the full Jacobian column by column (forward) or row by row (reverse) gives
    the same matrix; what differs is how many passes it takes.
    """),
    code("""
    def jacobian_forward(A_val, B_val, x_val):
        n = x_val.size
        return np.stack([jvp(A_val, B_val, x_val, e) for e in np.eye(n)], axis=1)

    def jacobian_reverse(A_val, B_val, x_val):
        m = B_val.shape[0]
        return np.stack([vjp(A_val, B_val, x_val, e) for e in np.eye(m)], axis=0)

    rng = np.random.default_rng(0)
    n, h, m = 300, 50, 1          # many inputs, one output: a loss function
    A_val, B_val, x_val = rng.standard_normal((h, n)), rng.standard_normal((m, h)), rng.standard_normal(n)
    J_fwd = jacobian_forward(A_val, B_val, x_val)
    J_rev = jacobian_reverse(A_val, B_val, x_val)
    print("Jacobian shape:", J_fwd.shape, " equal:", np.allclose(J_fwd, J_rev))
    print("passes needed: forward", n, " reverse", m)
    """),
    md("""
    Timing both loops shows the forward one, with its 300 calls, far behind the single
    reverse call. The exact numbers differ from machine to machine (they are replaced by
    `TIMING` when the notebook is checked), and for a function this small each call is
    dominated by a fixed overhead, so the measured ratio is smaller than 300; the pass
    counts above are what grows with the problem.
    """),
    code("""
    %timeit -r 3 -n 3 jacobian_forward(A_val, B_val, x_val)
    %timeit -r 3 -n 3 jacobian_reverse(A_val, B_val, x_val)
    """),
    md("""
    Turn the shapes around, one input and many outputs, and the conclusion flips:
    """),
    code("""
    n, h, m = 1, 50, 300
    A_val, B_val, x_val = rng.standard_normal((h, n)), rng.standard_normal((m, h)), rng.standard_normal(n)
    print("Jacobian shape:", jacobian_forward(A_val, B_val, x_val).shape,
          " passes needed: forward", n, " reverse", m)
    """),
    code("""
    %timeit -r 3 -n 3 jacobian_forward(A_val, B_val, x_val)
    %timeit -r 3 -n 3 jacobian_reverse(A_val, B_val, x_val)
    """),
    md("""
    (The vectorized `nbgrad.gradient.jacobian` avoids the Python loop altogether by
    pushing all basis vectors through in one batched pass.)

    ## Define-by-run: `nbgrad.eager`

    The symbolic style builds the whole graph first. The *define-by-run* style, made
    popular by PyTorch, computes values immediately and records each operation on a
    tape as it happens; `backward()` then walks the tape in reverse. The graph is whatever
    the Python code happened to do, so loops and `if` statements on values just work.
    `nbgrad.eager` provides this style on top of the same operations and derivative
    rules.
    """),
    code("""
    import nbgrad.eager as ne

    w = ne.tensor([1.0, -2.0, 0.5], requires_grad=True)
    data = ne.tensor([3.0, 1.0, 2.0])
    loss = ((w * data).sum() - 1.0) ** 2
    loss.backward()
    print(loss)
    print(w.grad, "= 2 * (w . data - 1) * data")
    """),
    md("""
    Gradients **accumulate** in `.grad` across `backward` calls, as in PyTorch; reset them
    with `zero_()` between steps:
    """),
    code("""
    loss = ((w * data).sum() - 1.0) ** 2
    loss.backward()
    print("after a second backward:", w.grad)
    w.grad.zero_()
    print("after zero_():          ", w.grad)
    """),
    md("""
    `detach()` returns a value cut off from the tape (a constant for differentiation), and
    inside `with ne.no_grad():` nothing is recorded, which is how parameter updates are
    written:
    """),
    code("""
    scale = (w * w).sum().detach()
    print("detached requires_grad:", scale.requires_grad)
    loss = ((w * data).sum() - 1.0) ** 2
    loss.backward()
    with ne.no_grad():
        w_new = w - 0.01 * w.grad
    print("update recorded:", w_new.requires_grad, " new w:", w_new)
    """),
    md("""
    ### Control flow

    The function below doubles its input until the norm passes 100. How many doublings
    happen depends on the values, so there is no single formula to write down ahead of
    time; the tape simply records the doublings that happened, and the gradient is
    $\\pm 2^k$ for the $k$ steps taken, its sign set by the branch that returned.
    """),
    code("""
    def grow(x):
        y = 2 * x
        steps = 1
        while y.norm() < 100:
            y = 2 * y
            steps += 1
        if y.sum() > 0:
            return y.sum(), steps
        return -y.sum(), steps

    for start in ([1.0, 2.0, 3.0], [-0.1, 0.2, -0.3]):
        x = ne.tensor(start, requires_grad=True)
        out, steps = grow(x)
        out.backward()
        branch = "y.sum()" if sum(start) > 0 else "-y.sum()"
        print(f"{steps} doublings, returned {branch}: grad {x.grad}  (2**{steps} = {2 ** steps})")
    """),
    md("""
    ### Tracing back to a symbolic graph

    `ne.trace` runs eager code once and keeps the operations as a symbolic graph for the
    path taken, so it can be printed, optimized and compiled. The branches it took become
    *guards*: calling it with inputs that would take another path raises instead of
    silently computing the wrong thing.
    """),
    code("""
    traced = ne.trace(lambda x: grow(x)[0], ne.tensor([1.0, 2.0, 3.0]), names=["x"])
    print(traced.formula())
    print(traced(np.array([2.0, 2.0, 2.0])))
    try:
        traced(np.array([50.0, 50.0, 50.0]))
    except ne.ControlPathError as err:
        print("ControlPathError:", str(err).split(";")[0])
    """),
    md("""
    ## Summary

    * Jacobian products run forward ($Jv$, `Rop`) or reverse ($u^\\top J$, `Lop`, `grad`),
      each pass costing about one function evaluation;
    * the full Jacobian costs $n$ forward or $m$ reverse passes: reverse for losses,
      forward for few inputs and many outputs;
    * `nbgrad.eager` records operations as they run (`requires_grad`, `backward`, `.grad`,
      `zero_`, `detach`, `no_grad`), so Python control flow is differentiated as executed,
      and `trace` turns a run back into a graph.

    Next: [a neural network](06_neural_net.ipynb).
    """),
]


# --------------------------------------------------------------------------- 06
NB06 = [
    md("""
    # 6. A neural network from scratch

    Training a network is the previous notebooks put together: parameters are shared
    variables, the loss is an expression, `grad` gives its gradient, and `updates` apply
    one optimizer step per call. First we write that loop by hand, then use the small
    library `nbgrad.nn`, which does the same with layers, losses, optimizers and a
    `Learner`.
    """),
    SETUP,
    code("""
    import matplotlib.pyplot as plt
    from nbgrad.nn import SGD, Adam, Learner, Linear, ReLU, Sequential, Sigmoid, mse_loss, plot_losses
    """),
    md("""
    ## Linear regression by hand

    Data from a known linear rule plus a little noise; can gradient descent recover the
    weights?
    """),
    code("""
    rng = np.random.default_rng(42)
    true_w, true_b = np.array([2.0, -3.0, 0.5]), 1.0
    X_lin = rng.standard_normal((200, 3))
    y_lin = X_lin @ true_w + true_b + 0.01 * rng.standard_normal(200)
    """),
    code("""
    %%symgraph --show none
    w = shared(np.zeros(3), name="w")
    b = shared(0.0, name="b")
    X = dmatrix("X")
    target = dvector("target")
    mse = T.mean((dot(X, w) + b - target) ** 2)
    gw, gb = grad(mse, [w, b])
    lr = 0.1
    train_step = function([X, target], mse, updates=[(w, w - lr * gw), (b, b - lr * gb)], name="train_step")
    """),
    code("""
    history = [float(train_step(X_lin, y_lin)) for _ in range(100)]
    print("loss: first", round(history[0], 4), " last", round(history[-1], 6))
    print("w =", w.get_value().round(3), " b =", round(float(b.get_value()), 3))
    """),
    md("""
    ## The same with `nbgrad.nn`

    `Linear(3, 1)` holds a weight matrix and a bias as shared variables; `Learner`
    compiles one training step (forward pass, `grad`, optimizer updates) and calls it on
    shuffled mini-batches. `fit` returns the mean loss of each epoch.
    """),
    code("""
    model = Linear(3, 1, seed=0)
    learner = Learner(model, mse_loss, SGD(lr=0.05))
    losses = learner.fit(X_lin, y_lin[:, None], epochs=20, bs=20, seed=0, progress=False)
    print("weights:", model.weights.get_value().ravel().round(3), " bias:", model.bias.get_value().round(3))
    print("final loss:", f"{losses[-1]:.2e}")
    """),
    md("""
    ## A nonlinear task: inside or outside a ring

    Points in the plane are labelled 1 when they lie between two circles. No straight
    line separates the classes, so a linear model fails and a network with a hidden layer
    is needed.
    """),
    code("""
    rng = np.random.default_rng(1)
    X_ring = rng.uniform(-2, 2, size=(1000, 2))
    radius = np.hypot(X_ring[:, 0], X_ring[:, 1])
    y_ring = ((radius > 0.8) & (radius < 1.6)).astype(float)[:, None]
    print("share of class 1:", y_ring.mean().round(3))
    """),
    code("""
    def accuracy(learner, X, y):
        return float(((learner.predict(X) > 0.5) == (y > 0.5)).mean())

    linear = Learner(Sequential(Linear(2, 1, seed=0), Sigmoid()), mse_loss, Adam(lr=0.02))
    linear_losses = linear.fit(X_ring, y_ring, epochs=40, bs=50, seed=0, progress=False)

    mlp = Learner(Sequential(Linear(2, 32, seed=0), ReLU(), Linear(32, 32, seed=1), ReLU(),
                             Linear(32, 1, seed=2), Sigmoid()),
                  mse_loss, Adam(lr=0.01))
    mlp_losses = mlp.fit(X_ring, y_ring, epochs=40, bs=50, seed=0, progress=False)
    print(mlp.model)
    print(f"accuracy  linear: {accuracy(linear, X_ring, y_ring):.2f}   mlp: {accuracy(mlp, X_ring, y_ring):.2f}")
    """),
    md("""
    ## Loss curves and what the network learned

    The linear model's loss stalls near the variance of the labels; the network's keeps
    falling. On the right, the network's output over the plane: it has found the ring.
    """),
    code("""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    plot_losses(linear_losses, ax=left, label="linear")
    plot_losses(mlp_losses, ax=left, label="mlp")
    left.set_ylabel("mean squared error")
    left.legend()

    grid = np.linspace(-2, 2, 121)
    gx, gy = np.meshgrid(grid, grid)
    probability = mlp.predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    right.contourf(gx, gy, probability, levels=20, cmap="RdBu_r")
    right.scatter(*X_ring[::4].T, c=y_ring[::4, 0], cmap="RdBu_r", s=6, edgecolors="k", linewidths=0.2)
    right.set_aspect("equal")
    right.set_title("network output")
    plt.show()
    """),
    md("""
    ## Summary

    * a training step is `function(inputs, loss, updates=optimizer(params, grad(loss, params)))`;
    * `nbgrad.nn` packages it: `Linear`, `ReLU`, `Sigmoid`, `Sequential`, `mse_loss`,
      `SGD`, `Adam`, `Learner.fit` and `predict`;
    * hidden layers with a nonlinearity let the model bend its decision boundary.

    Next: [CPU and GPU](07_cpu_vs_gpu.ipynb).
    """),
]


# --------------------------------------------------------------------------- 07
NB07 = [
    md("""
    # 7. The same graph on CPU and GPU

    A graph says *what* to compute; the backend decides *where*. The CPU backend runs the
    compiled code on NumPy arrays, the GPU backend on CuPy arrays, with fused elementwise
    operations becoming single GPU kernels. The graph, its gradient and the rewrites are
    the same; only the last step differs.

    This notebook runs on any machine: cells that need a GPU check for one first, and
    their output depends on the machine, so it is not checked when the notebook is
    validated.
    """),
    SETUP,
    code("""
    # NBVAL_IGNORE_OUTPUT
    from nbgrad.backends import BackendUnavailable, available_backends

    HAVE_GPU = "gpu" in available_backends()
    print("backends on this machine:", available_backends())
    """),
    md("""
    ## One cell, compiled for the CPU

    A softplus-based loss and its gradient over a large vector: a chain of elementwise
    operations, which the optimizer fuses into one pass over memory.
    """),
    code("""
    # the text of the next cell, kept so that the GPU section can run exactly the same cell
    CELL = '''
    z = dvector("z")
    smooth = T.sum(log1p(exp(-z)) + 0.1 * z ** 2)
    dsmooth = grad(smooth, z)
    '''
    """),
    code("""
    %%symgraph on_cpu --backend cpu
    z = dvector("z")
    smooth = T.sum(log1p(exp(-z)) + 0.1 * z ** 2)
    dsmooth = grad(smooth, z)
    """),
    code("""
    z_val = np.random.default_rng(0).standard_normal(1_000_000)
    cpu_loss, cpu_grad = on_cpu(z_val)
    print(round(float(cpu_loss), 3), cpu_grad.shape)
    """),
    md("""
    ## The same cell on the GPU

    Asking for `--backend gpu` on a machine without one raises `BackendUnavailable` with
    a message saying what is missing, so the cell below first checks. It runs the very
    same cell text through the magic (`get_ipython().run_cell_magic` is what `%%symgraph`
    at the top of a cell does): the formulas shown are the same as on the CPU. GPU
    functions return arrays on the device; `to_host` copies them back.
    """),
    code("""
    # NBVAL_IGNORE_OUTPUT
    if HAVE_GPU:
        gpu = nbgrad.backends.get_backend("gpu")
        get_ipython().run_cell_magic("symgraph", "on_gpu --backend gpu", CELL)
        z_dev = gpu.to_device(z_val)          # copy the data once; results stay on the device
        gpu_loss, gpu_grad = on_gpu(z_dev)
        print("loss agrees:", np.isclose(float(gpu.to_host(gpu_loss)), float(cpu_loss)))
        print("gradient agrees:", np.allclose(gpu.to_host(gpu_grad), cpu_grad))
    else:
        try:
            probe = T.dvector("probe")
            nbgrad.function([probe], probe * 2, backend="gpu")
        except BackendUnavailable as err:
            print("No GPU here, skipping:", err)
    """),
    md("""
    ## Timing

    For a million elements the GPU is typically many times faster, once the data is on
    the device; for tiny arrays the fixed cost of launching a kernel dominates and the
    CPU wins. (Timings vary by machine and are not checked.)
    """),
    code("""
    # NBVAL_IGNORE_OUTPUT
    %timeit -r 3 -n 5 on_cpu(z_val)
    if HAVE_GPU:
        def gpu_call():
            on_gpu(z_dev)
            gpu.synchronize()                 # kernels run asynchronously: wait for them
        %timeit -r 3 -n 5 gpu_call()
    else:
        print("no GPU timing on this machine")
    """),
    md("""
    ## Summary

    * `%%symgraph --backend cpu|gpu` (or `nbgrad.function(..., backend=...)`) picks where
      the compiled code runs; the graph, gradients and formulas are the same;
    * `nbgrad.backends.available_backends()` says what this machine has, and a missing GPU
      raises `BackendUnavailable` with the fix.

    Back to the [overview](README.md).
    """),
]


# --------------------------------------------------------------------------- 08
NB08 = [
    md(r"""
    # 8. PyTorch code on nbgrad

    `nbgrad.eager` is a define-by-run front end with PyTorch's API: code written for PyTorch
    runs after `import nbgrad.eager as torch`. Its gradients come from the same op rules as
    the symbolic engine, and a model written as an `nn.Module` can be *traced* into one
    compiled nbgrad function whose formula we can read. Below: the linear regression and the
    multilayer perceptron of the d2l book (on synthetic data), from scratch and concise,
    then `torch.autograd`, then tracing.
    """),
    code(r"""
    %load_ext nbgrad
    %matplotlib inline
    import random
    import numpy as np
    import matplotlib.pyplot as plt
    import nbgrad
    import nbgrad.eager as torch
    from nbgrad.eager import nn
    """),
    md(r"""
    ## Linear regression from scratch

    Data from $y = Xw + b + \epsilon$ with $w = (2, -3.4)$, $b = 4.2$; minibatch SGD on the
    squared loss, with the parameters updated in place under `torch.no_grad()`.
    """),
    code(r"""
    torch.manual_seed(0)
    random.seed(0)

    def synthetic_data(w, b, num_examples):
        X = torch.normal(0, 1, (num_examples, len(w)))
        y = torch.matmul(X, w) + b
        y += torch.normal(0, 0.01, y.shape)
        return X, y.reshape((-1, 1))

    true_w, true_b = torch.tensor([2, -3.4]), 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)

    def data_iter(batch_size, features, labels):
        indices = list(range(len(features)))
        random.shuffle(indices)
        for i in range(0, len(indices), batch_size):
            batch_indices = torch.tensor(indices[i: i + batch_size])
            yield features[batch_indices], labels[batch_indices]

    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)

    def linreg(X, w, b):
        return torch.matmul(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    lr, num_epochs, batch_size = 0.03, 3, 10
    for epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            l = squared_loss(linreg(X, w, b), y)
            l.sum().backward()
            sgd([w, b], lr, batch_size)
        with torch.no_grad():
            train_l = squared_loss(linreg(features, w, b), labels)
            print(f'epoch {epoch + 1}, loss {float(train_l.mean()):.4f}')
    print('error in w:', (true_w - w.reshape(true_w.shape)).abs().max().item() < 0.01)
    print('error in b:', abs(true_b - b.item()) < 0.01)
    """),
    md(r"""
    ## The concise version

    `nn.Sequential`, `nn.MSELoss`, `torch.optim.SGD` and a `DataLoader` over a
    `TensorDataset`, exactly as written for PyTorch.
    """),
    code(r"""
    from nbgrad.eager.utils import data

    data_loader = data.DataLoader(data.TensorDataset(features, labels), batch_size=10, shuffle=True)
    net = nn.Sequential(nn.Linear(2, 1))
    nn.init.normal_(net[0].weight, 0, 0.01)
    nn.init.zeros_(net[0].bias)
    loss = nn.MSELoss()
    trainer = torch.optim.SGD(net.parameters(), lr=0.03)
    for epoch in range(3):
        for X, y in data_loader:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        print(f'epoch {epoch + 1}, loss {loss(net(features), labels).item():.5f}')
    print(net)
    print('w close:', torch.allclose(net[0].weight.data.reshape(2), true_w, atol=0.01))
    """),
    md(r"""
    ## A multilayer perceptron

    Three classes of points on rings around the origin (given as 2×2 "images", so that
    `nn.Flatten` has work to do), an MLP with one hidden ReLU layer, cross-entropy loss and
    Adam. The loss curve:
    """),
    code(r"""
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    X_np = rng.normal(0, 1, (600, 2, 2)).astype(np.float32)
    y_np = np.digitize(np.sqrt((X_np ** 2).sum((1, 2))), [1.4, 2.2])
    X_all, y_all = torch.tensor(X_np), torch.tensor(y_np)
    train_iter = data.DataLoader(data.TensorDataset(X_all, y_all), batch_size=50, shuffle=True)

    mlp = nn.Sequential(nn.Flatten(), nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 3))
    loss = nn.CrossEntropyLoss()
    trainer = torch.optim.Adam(mlp.parameters(), lr=0.02)
    losses = []
    for epoch in range(40):
        mlp.train()
        for X, y in train_iter:
            trainer.zero_grad()
            l = loss(mlp(X), y)
            l.backward()
            trainer.step()
        mlp.eval()
        with torch.no_grad():
            losses.append(loss(mlp(X_all), y_all).item())
    accuracy = (mlp(X_all).argmax(dim=1) == y_all).float().mean().item()
    print(f'loss {losses[0]:.2f} -> {losses[-1]:.2f}, accuracy above 90%: {accuracy > 0.9}')
    plt.figure(figsize=(5, 3))
    plt.plot(losses)
    plt.xlabel('epoch'); plt.ylabel('cross-entropy'); plt.yscale('log');
    """),
    md(r"""
    ## `torch.autograd`

    `autograd.grad` with `create_graph=True` for higher derivatives, `autograd.functional`
    for Jacobians and Hessians, and `autograd.Function` for a gradient written by hand.
    """),
    code(r"""
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (g,) = torch.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)
    print(g.detach(), h)

    from nbgrad.eager.autograd.functional import jacobian, hessian
    print(jacobian(lambda v: v.sin() * v[0], torch.tensor([0.0, 1.0])))
    print(hessian(lambda v: (v[0] ** 2) * v[1], torch.tensor([1.0, 2.0])))

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return 2 * x * grad_output

    x = torch.tensor([3.0], requires_grad=True)
    Square.apply(x).backward()
    print(x.grad, Square.apply(x).grad_fn)
    """),
    md(r"""
    Where nbgrad cannot do what PyTorch does, it says so instead of computing something else:
    """),
    code(r"""
    try:
        nn.functional.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 1]), label_smoothing=0.1)
    except NotImplementedError as e:
        print(e)
    w = torch.ones(2, requires_grad=True)
    try:
        w += 1
    except RuntimeError as e:
        print(e)
    """),
    md(r"""
    ## From the eager model to a compiled formula

    `torch.trace` runs a model once and records it as one symbolic graph; the result is an
    nbgrad function of the input (the weights are constants of the trained model). The
    trained linear model's formula (its weights rounded to two digits), and the compiled
    MLP checked against the eager one:
    """),
    code(r"""
    rounded = nn.Sequential(nn.Linear(2, 1))
    rounded.load_state_dict({k: v.numpy().round(2) for k, v in net.state_dict().items()})
    lin = torch.trace(rounded, features[:5], names=['X'])
    print(nbgrad.pp(lin.output))
    traced = torch.trace(mlp, X_all[:5])
    print(np.allclose(traced(X_np), mlp(X_all).detach().numpy(), atol=1e-5))
    """),
]


NOTEBOOKS = {
    "01_symbolic_basics": NB01,
    "02_shared_state": NB02,
    "03_derivatives": NB03,
    "04_randomness_and_loops": NB04,
    "05_autodiff_modes": NB05,
    "06_neural_net": NB06,
    "07_cpu_vs_gpu": NB07,
    "08_pytorch_on_nbgrad": NB08,
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
