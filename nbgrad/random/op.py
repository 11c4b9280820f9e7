"""RandomVariable: one draw from a distribution, as a pure function of a generator state.

Inputs: ``rng`` (a generator state), ``size`` (an int64 vector; ignored when
the op has no size, the shape then comes from broadcasting the parameters),
then the distribution's parameters. Outputs: the *next* generator state and
the sample. ``perform`` never changes its input state: it draws from a copy,
so the same state always gives the same numbers (``no_default_updates``).
"""

import numpy as np

from nbgrad import tensor as T
from nbgrad.graph.basic import Apply
from nbgrad.graph.op import Op
from nbgrad.graph.nograd import disconnected_type, grad_undefined
from nbgrad.random.type import RandomGeneratorType
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.elemwise import sum_to
from nbgrad.tensor.type import TensorType

__all__ = ["RandomVariable", "DISTRIBUTIONS"]


def _uniform(g, size, low, high):
    return g.uniform(low, high, size)


def _normal(g, size, avg, std):
    return g.normal(avg, std, size)


def _binomial(g, size, n, p):
    return g.binomial(n, p, size)


def _legacy(g):
    return isinstance(g, np.random.RandomState)


def _integers(g, size, low, high):
    if _legacy(g):
        return g.randint(low, high, size)
    return g.integers(low, high, size)


def _each(size, *params):
    """The output shape and the parameters broadcast to it, for draws made one at a time."""
    shape = tuple(size) if size is not None else np.broadcast_shapes(*(np.shape(p) for p in params))
    return shape, [np.broadcast_to(p, shape) for p in params]


def _random_integers(g, size, low, high):
    if not _legacy(g):
        return g.integers(low, high, size, endpoint=True)
    # one draw at a time, as Theano's RandomStreams did: the same numbers from the same seed
    shape, (low, high) = _each(size, low, high)
    out = np.empty(shape, dtype=np.int64)
    for i in np.ndindex(*shape):
        out[i] = g.randint(low[i], high[i] + 1)
    return out


def _choice(g, size, a, replace, p):
    a = a if a.ndim else int(a)
    return g.choice(a, size=size, replace=bool(replace), p=p if p.size else None)


def _permutation(g, size, n):
    n = int(n)
    if size is None:
        return g.permutation(n)
    out = np.empty(tuple(size) + (n,), dtype=np.int64)
    flat = out.reshape(-1, n)
    for i in range(flat.shape[0]):
        flat[i] = g.permutation(n)
    return out


def _multinomial(g, size, n, pvals):
    if not _legacy(g):
        return g.multinomial(n, pvals, size)
    # a RandomState draws one row at a time (scalar n, one vector of probabilities)
    pvals = np.asarray(pvals, dtype=np.float64)
    k = pvals.shape[-1]
    shape = tuple(size) if size is not None else np.broadcast_shapes(np.shape(n), pvals.shape[:-1])
    n = np.broadcast_to(n, shape)
    pvals = np.broadcast_to(pvals, shape + (k,))
    out = np.empty(shape + (k,), dtype=np.int64)
    for i in np.ndindex(*shape):
        out[i] = g.multinomial(int(n[i]), pvals[i])
    return out


# name: (draw, number of trailing "support" dimensions added to size, differentiable params)
DISTRIBUTIONS = {
    "uniform": (_uniform, 0),
    "normal": (_normal, 0),
    "binomial": (_binomial, 0),
    "integers": (_integers, 0),
    "random_integers": (_random_integers, 0),
    "choice": (_choice, 0),
    "permutation": (_permutation, 1),
    "multinomial": (_multinomial, 1),
}


class RandomVariable(Op):
    """A draw from distribution ``dist`` with output ``dtype`` and ``ndim`` dimensions.

    ∂sample/∂rng and ∂sample/∂size are disconnected. For ``normal`` and
    ``uniform`` the parameters are differentiable by reparametrization:
    x = avg + std·z gives āvg = Σ x̄, s̄td = Σ x̄·(x − avg)/std, and
    x = low + (high − low)·u gives l̄ow = Σ x̄·(1 − u), h̄igh = Σ x̄·u.
    """

    __props__ = ("dist", "dtype", "ndim", "has_size")

    def __init__(self, dist, dtype, ndim, has_size):
        if dist not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {dist!r}; expected one of {sorted(DISTRIBUTIONS)}")
        self.dist = dist
        self.dtype = np.dtype(dtype).name
        self.ndim = int(ndim)
        self.has_size = bool(has_size)

    def __str__(self):
        return f"RandomVariable{{{self.dist}, {self.dtype}}}"

    def make_node(self, rng, size, *params):
        if not isinstance(rng.type, RandomGeneratorType):
            raise TypeError(f"{self}: the first input must be a random generator, got {rng.type}")
        size = as_tensor_variable(size)
        params = [as_tensor_variable(p) for p in params]
        out = TensorType(self.dtype, self._static_shape(size))()
        return Apply(self, [rng, size] + params, [rng.type(), out])

    def _static_shape(self, size):
        """The output's static shape: a constant ``size`` gives it (no support dimensions)."""
        data = getattr(size, "data", None)
        if (not self.has_size or data is None or DISTRIBUTIONS[self.dist][1] != 0
                or np.ndim(data) != 1 or len(data) != self.ndim):
            return (None,) * self.ndim
        return tuple(int(s) for s in np.asarray(data))

    def make_thunk(self, node, xp):
        draw = DISTRIBUTIONS[self.dist][0]
        dtype = np.dtype(self.dtype)
        has_size = self.has_size
        name = self.dist
        # On a device backend the draw is made on the host by the same generator and copied over.
        to_host = getattr(xp, "asnumpy", None)

        def thunk(rng, size, *params):
            if to_host is not None:
                params = [to_host(p) for p in params]
            g = rng.copy()
            shape = tuple(int(s) for s in size) if has_size else None
            try:
                x = draw(g.generator, shape, *params)
            except ValueError as exc:
                raise ValueError(f"random {name}: {exc} (size={shape})") from None
            return g, xp.asarray(x, dtype=dtype)

        return thunk

    def perform(self, node, inputs, xp):
        return self.make_thunk(node, xp)(*inputs)

    def infer_shape(self, fgraph, node, input_shapes):
        raise NotImplementedError(f"{self}.infer_shape")

    def L_op(self, inputs, outputs, output_grads):
        rng, size, *params = inputs
        x = outputs[1]
        gx = output_grads[1]
        res = [disconnected_type(), disconnected_type()]
        if gx is None or self.dist not in ("normal", "uniform"):
            res += [
                disconnected_type() if gx is None else grad_undefined(
                    self, k + 2, p, f"{self.dist} draws are not differentiable w.r.t. their parameters")
                for k, p in enumerate(params)
            ]
            return res
        a, b = params
        if self.dist == "normal":
            z = (x - a) / b
            ga, gb = gx, gx * z
        else:
            u = (x - a) / (b - a)
            ga, gb = gx * (1 - u), gx * u
        for p, g in ((a, ga), (b, gb)):
            g = sum_to(g, p, runtime=True)
            if g.ndim != p.ndim:
                g = T.reshape(g, p.shape)
            res.append(T.cast(g, p.dtype) if p.dtype != g.dtype and p.dtype.startswith("float") else g)
        return res

    def R_op(self, inputs, eval_points):
        rng, size, *params = inputs
        if all(e is None for e in eval_points[2:]):
            return [None, None]
        if self.dist not in ("normal", "uniform"):
            raise NotImplementedError(f"{self}: R_op w.r.t. the parameters of a {self.dist} draw")
        x = self.make_node(*inputs).outputs[1]
        a, b = params
        ea = eval_points[2] if eval_points[2] is not None else T.zeros_like(a)
        eb = eval_points[3] if eval_points[3] is not None else T.zeros_like(b)
        if self.dist == "normal":
            t = ea + eb * (x - a) / b
        else:
            u = (x - a) / (b - a)
            t = ea * (1 - u) + eb * u
        return [None, t]
