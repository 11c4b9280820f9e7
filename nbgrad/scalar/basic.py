"""Scalar operations: the elementwise math of nbgrad, each defined once.

A ``ScalarOp`` knows its value (a NumPy/CuPy function), its local partial
derivatives (from which ``Elemwise`` derives both the vector-Jacobian product
and the Jacobian-vector product), its text and LaTeX form, and its CUDA
expression for fused GPU kernels. ``Elemwise`` lifts it to tensors.

Partial derivative rules receive ``m``, a math namespace (``nbgrad.tensor``),
so that they are written once in terms of whichever front end lifts them.
A rule returns, per input, a variable, the number ``1`` or ``-1``, or one of
the sentinels ``ZERO`` (piecewise-constant: zero gradient) and
``DISCONNECTED`` (the output does not depend on that input differentiably).
"""

import math

import numpy as np

from nbgrad.graph.op import PropsIdentity

__all__ = ["ScalarOp", "ZERO", "DISCONNECTED", "Where", "scalar_ops", "Cast", "Comparison", "upcast"]


class _Sentinel:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


ZERO = _Sentinel("ZERO")
DISCONNECTED = _Sentinel("DISCONNECTED")


class Where:
    """A partial derivative that is ``value`` where ``cond`` holds and exactly 0 elsewhere.

    ``Elemwise`` applies it by selection, ``switch(cond, ḡ·value, 0)``, never by
    multiplying with a 0/1 mask: an infinite upstream gradient on the side not taken
    (``sqrt(relu(x))`` at x < 0) then gives 0, as in JAX, rather than 0·inf = nan.
    """

    def __init__(self, cond, value=None):
        self.cond, self.value = cond, value  # value None: 1

    def times(self, m, g):
        """``switch(cond, g·value, 0)``: ``g`` scaled where ``cond`` holds, an exact 0 elsewhere."""
        return m.switch(self.cond, g if self.value is None else g * self.value, m.zeros_like(g))

# Precedences shared with the printers (higher binds tighter).
PREC_OR, PREC_AND, PREC_CMP, PREC_ADD, PREC_MUL, PREC_NEG, PREC_POW, PREC_ATOM = (
    1, 2, 3, 4, 5, 6, 7, 10,
)

scalar_ops = {}


def upcast(*dtypes):
    return np.result_type(*dtypes).name


class ScalarOp(PropsIdentity):
    """An elementwise function of ``nin`` scalars.

    Class attributes describe the op; subclasses override ``partials`` (and
    ``impl`` when the value is not a plain array-module function ``nfunc``).
    """

    nin = 1
    name = None
    nfunc = None  # name of the function in the array module (numpy/cupy)
    symbol = None  # infix symbol for binary ops, prefix symbol for unary ops
    precedence = PREC_ATOM
    latex = None  # template over already-printed operands {0}, {1}, ...
    cuda = None  # C expression template for CUDA kernels
    numba = None  # Python expression template for a compiled (Numba) scalar loop, if not np.<nfunc>
    numba_ufunc = False  # np.<nfunc>(...) of scalars compiles in Numba as it is
    commutative = False
    associative = False
    bool_output = False
    #: float32 and float64 operands give a result of their own dtype, known without calling
    #: ``impl`` (for SciPy's functions, whose import costs a notebook's first cell 0.2 s)
    keeps_float_dtype = False
    # Facts that kernels and rewrites read; each holds only where an op sets it to True.
    cheap = False  # one pass of plain arithmetic: CPU kernels of cheap ops only stay unblocked longer
    integer_safe = False  # its CUDA template is exact on integer operands (no detour through double)
    finite_output = False  # finite wherever every input is finite: it cannot overflow
    nonnegative_output = False  # never negative and never -0.0, for any input (nan stays nan)
    zero_sign_blind = False  # the same result for -0.0 as for +0.0, in each operand

    __props__ = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.name is not None and not cls.__props__:
            scalar_ops[cls.name] = cls

    def __str__(self):
        return self.name

    __repr__ = __str__

    def output_dtype(self, *dtypes):
        if self.bool_output:
            return "bool"
        return _probe_dtype(self, dtypes)

    def impl(self, xp):
        """The array function computing this op on module ``xp``."""
        return getattr(xp, self.nfunc)

    def partials(self, m, inputs, output):
        raise NotImplementedError(f"scalar op {self.name} has no derivative rule")

    def c_code(self, *args):
        return self.cuda.format(*args)


_dtype_cache = {}


def _probe_dtype(op, dtypes):
    key = (op, dtypes)
    if key not in _dtype_cache:
        if op.keeps_float_dtype and dtypes and all(d == dtypes[0] for d in dtypes) and dtypes[0] in (
                "float32", "float64"):
            _dtype_cache[key] = dtypes[0]
            return dtypes[0]
        with np.errstate(all="ignore"):
            vals = [np.ones((), dtype=d) for d in dtypes]
            _dtype_cache[key] = np.asarray(op.impl(np)(*vals)).dtype.name
    return _dtype_cache[key]


def _special(xp):
    if xp is np:
        # lazy: scipy.special loads only when a special function runs on the CPU
        import scipy.special

        return scipy.special
    # lazy: optional dependency cupy, GPU backend only
    import cupyx.scipy.special

    return cupyx.scipy.special


def _scalar_constant(m, v):
    """The value of ``v`` if it is a one-element constant (possibly broadcast by a DimShuffle)."""
    while v.owner is not None and isinstance(v.owner.op, m.DimShuffle):
        v = v.owner.inputs[0]
    data = getattr(v, "data", None)
    if v.owner is not None or data is None or np.size(data) != 1:
        return None
    return np.asarray(data).reshape(())[()]


# --------------------------------------------------------------------- unary
class Unary(ScalarOp):
    nin = 1

    @property
    def latex(self):
        return rf"\operatorname{{{{{self.name}}}}}\left({{0}}\right)"

    @property
    def cuda(self):
        return f"{self.nfunc}({{0}})"


class Identity(Unary):
    numba = "{0}"
    name, nfunc = "identity", "positive"
    cuda = "({0})"
    latex = "{0}"
    cheap = integer_safe = True

    def partials(self, m, inputs, output):
        return [1]


class Neg(Unary):
    numba = "(-{0})"
    name, nfunc, symbol, precedence = "neg", "negative", "-", PREC_NEG
    latex, cuda = "-{0}", "(-{0})"
    cheap = integer_safe = finite_output = True

    def partials(self, m, inputs, output):
        return [-1]


class Abs(Unary):
    numba_ufunc = True
    name, nfunc = "abs", "abs"
    latex, cuda = r"\left|{0}\right|", "fabs({0})"
    cheap = finite_output = nonnegative_output = zero_sign_blind = True

    def partials(self, m, inputs, output):
        """∂|x|/∂x = 1 for x ≥ 0 and -1 below, as JAX: at 0 an upstream inf stays inf, not 0·inf."""
        x = inputs[0]
        return [m.switch(m.ge(x, 0), 1, -1).astype(output.dtype)]


class Sqr(Unary):
    numba = "({0} * {0})"
    name, nfunc, precedence = "sqr", "square", PREC_POW
    latex, cuda = "{0}^{{2}}", "(({0})*({0}))"
    cheap = integer_safe = nonnegative_output = zero_sign_blind = True

    def partials(self, m, inputs, output):
        return [2 * inputs[0]]


class Sqrt(Unary):
    numba_ufunc = True
    name, nfunc = "sqrt", "sqrt"
    latex = r"\sqrt{{{0}}}"

    def partials(self, m, inputs, output):
        return [0.5 / output]


class Reciprocal(Unary):
    numba = "(1.0 / {0})"
    name, nfunc = "reciprocal", "reciprocal"
    latex, cuda = r"\frac{{1}}{{{0}}}", "(1.0/({0}))"
    integer_safe = True

    def partials(self, m, inputs, output):
        return [-m.sqr(output)]


class Exp(Unary):
    numba_ufunc = True
    name, nfunc = "exp", "exp"
    latex = "e^{{{0}}}"
    nonnegative_output = zero_sign_blind = True

    def partials(self, m, inputs, output):
        return [output]


class Exp2(Unary):
    numba_ufunc = True
    name, nfunc = "exp2", "exp2"
    latex = "2^{{{0}}}"
    nonnegative_output = zero_sign_blind = True

    def partials(self, m, inputs, output):
        return [output * math.log(2.0)]


class Log(Unary):
    numba_ufunc = True
    name, nfunc = "log", "log"
    latex = r"\log{{\left({0}\right)}}"
    zero_sign_blind = True

    def partials(self, m, inputs, output):
        return [1.0 / inputs[0]]


class Log2(Unary):
    numba_ufunc = True
    name, nfunc = "log2", "log2"
    latex = r"\log_{{2}}{{\left({0}\right)}}"
    zero_sign_blind = True

    def partials(self, m, inputs, output):
        return [1.0 / (inputs[0] * math.log(2.0))]


class Log10(Unary):
    numba_ufunc = True
    name, nfunc = "log10", "log10"
    latex = r"\log_{{10}}{{\left({0}\right)}}"
    zero_sign_blind = True

    def partials(self, m, inputs, output):
        return [1.0 / (inputs[0] * math.log(10.0))]


class Log1p(Unary):
    numba_ufunc = True
    name, nfunc = "log1p", "log1p"
    latex = r"\log{{\left(1 + {0}\right)}}"

    def partials(self, m, inputs, output):
        return [1.0 / (1.0 + inputs[0])]


class Expm1(Unary):
    numba_ufunc = True
    name, nfunc = "expm1", "expm1"
    latex = "e^{{{0}}} - 1"

    def partials(self, m, inputs, output):
        return [output + 1.0]


def _trig(name, latex_name, rule, nfunc=None, **facts):
    cls = type(
        name.capitalize(),
        (Unary,),
        {
            "name": name,
            "nfunc": nfunc or name,
            "latex": latex_name + r"{{\left({0}\right)}}",
            "partials": lambda self, m, inputs, output: [rule(m, inputs[0], output)],
            "numba_ufunc": True,
            **facts,
        },
    )
    cls.__module__ = __name__
    cls.__qualname__ = cls.__name__
    return cls


Sin = _trig("sin", r"\sin", lambda m, x, z: m.cos(x))
Cos = _trig("cos", r"\cos", lambda m, x, z: -m.sin(x), zero_sign_blind=True)
Tan = _trig("tan", r"\tan", lambda m, x, z: 1.0 + m.sqr(z))
Arcsin = _trig("arcsin", r"\arcsin", lambda m, x, z: 1.0 / m.sqrt(1.0 - m.sqr(x)))
Arccos = _trig("arccos", r"\arccos", lambda m, x, z: -1.0 / m.sqrt(1.0 - m.sqr(x)), zero_sign_blind=True)
Arctan = _trig("arctan", r"\arctan", lambda m, x, z: 1.0 / (1.0 + m.sqr(x)), finite_output=True)
Sinh = _trig("sinh", r"\sinh", lambda m, x, z: m.cosh(x))
Cosh = _trig("cosh", r"\cosh", lambda m, x, z: m.sinh(x), nonnegative_output=True, zero_sign_blind=True)
Tanh = _trig("tanh", r"\tanh", lambda m, x, z: 1.0 - m.sqr(z), finite_output=True)
Arcsinh = _trig(
    "arcsinh", r"\operatorname{{arsinh}}", lambda m, x, z: 1.0 / m.sqrt(m.sqr(x) + 1.0)
)
Arccosh = _trig(
    "arccosh", r"\operatorname{{arcosh}}", lambda m, x, z: 1.0 / m.sqrt(m.sqr(x) - 1.0)
)
Arctanh = _trig(
    "arctanh", r"\operatorname{{artanh}}", lambda m, x, z: 1.0 / (1.0 - m.sqr(x))
)
for _cls, _c in ((Arcsin, "asin"), (Arccos, "acos"), (Arctan, "atan"),
                 (Arcsinh, "asinh"), (Arccosh, "acosh"), (Arctanh, "atanh")):
    _cls.cuda = _c + "({0})"


class Sigmoid(Unary):
    numba = "(1.0 / (1.0 + np.exp(-{0})))"
    name = "sigmoid"
    latex, cuda = r"\sigma\left({0}\right)", "(1.0/(1.0+exp(-({0}))))"
    finite_output = nonnegative_output = zero_sign_blind = True
    keeps_float_dtype = True  # scipy.special.expit: f->f, d->d

    def impl(self, xp):
        return _special(xp).expit

    def partials(self, m, inputs, output):
        return [output * (1.0 - output)]


class Softplus(Unary):
    numba = "_softplus({0})"
    name = "softplus"
    latex = r"\operatorname{{softplus}}\left({0}\right)"
    cuda = "(({0}) > 0 ? ({0}) + log1p(exp(-({0}))) : log1p(exp({0})))"
    zero_sign_blind = True

    def impl(self, xp):
        return lambda x, out=None: xp.logaddexp(0, x, out=out)

    def partials(self, m, inputs, output):
        return [m.sigmoid(inputs[0])]


class LogSigmoid(Unary):
    """log σ(x) = −log(1 + e⁻ˣ), computed without forming σ(x): finite for every finite x.

    What ``log(sigmoid(x))`` is rewritten to (``nbgrad.rewriting.stabilize``); it prints as
    that expression. ∂/∂x = σ(−x).
    """
    numba = "_log_sigmoid({0})"

    name = "log_sigmoid"
    text = "log(sigmoid({0}))"
    latex = r"\log{{\left(\sigma\left({0}\right)\right)}}"
    cuda = "(({0}) < 0 ? ({0}) - log1p(exp({0})) : -log1p(exp(-({0}))))"

    def impl(self, xp):
        def log_sigmoid(x, out=None):
            if x.dtype == bool:  # as softplus(x): a bool argument gives float64
                x = x.astype(np.int64)
            return xp.negative(xp.logaddexp(0, xp.negative(x)), out=out)

        return log_sigmoid

    def partials(self, m, inputs, output):
        return [m.sigmoid(-inputs[0])]


class Erf(Unary):
    name = "erf"
    latex = r"\operatorname{{erf}}\left({0}\right)"
    cuda = "erf({0})"
    finite_output = True
    keeps_float_dtype = True  # scipy.special.erf: f->f, d->d

    def impl(self, xp):
        return _special(xp).erf

    def partials(self, m, inputs, output):
        return [(2.0 / math.sqrt(math.pi)) * m.exp(-m.sqr(inputs[0]))]


class Erfc(Unary):
    name = "erfc"
    latex = r"\operatorname{{erfc}}\left({0}\right)"
    cuda = "erfc({0})"
    finite_output = zero_sign_blind = True
    keeps_float_dtype = True  # scipy.special.erfc: f->f, d->d

    def impl(self, xp):
        return _special(xp).erfc

    def partials(self, m, inputs, output):
        return [(-2.0 / math.sqrt(math.pi)) * m.exp(-m.sqr(inputs[0]))]


class Relu(Unary):
    numba = "({0} if {0} > 0.0 else 0.0)"
    name = "relu"
    latex = r"\operatorname{{relu}}\left({0}\right)"
    cuda = "(({0}) > 0 ? ({0}) : 0)"
    integer_safe = finite_output = True

    def impl(self, xp):
        return lambda x, out=None: xp.maximum(x, 0, out=out)

    def output_dtype(self, dtype):
        return dtype

    def partials(self, m, inputs, output):
        return [Where(m.gt(inputs[0], 0))]


class _Piecewise(Unary):
    """Piecewise-constant functions: zero derivative almost everywhere."""

    def partials(self, m, inputs, output):
        return [ZERO]


class Unit(_Piecewise):
    """1 wherever x is a number, nan where x is nan: the value of ``a / a`` for a nonzero form a
    of x (``exp(x)``, ``sigmoid(x)``), without the overflow or underflow of a.

    What ``cancel_reciprocal`` leaves of ``(1 / exp(x)) · exp(x)`` (the gradient of
    ``log(exp(x))``) when nothing else carries a nan of x to the result. It prints as 1.
    """
    name = "unit"
    text = "1"
    latex = "1"
    numba = "(1.0 if {0} == {0} else {0})"
    cuda = "(({0}) == ({0}) ? 1.0 : ({0}))"
    cheap = True

    def impl(self, xp):
        def unit(x, out=None):
            r = xp.where(x != x, x, xp.ones((), dtype=x.dtype))
            if out is None:
                return r
            out[...] = r
            return out

        return unit


class Floor(_Piecewise):
    numba_ufunc = True
    name, nfunc = "floor", "floor"
    latex = r"\left\lfloor{{{0}}}\right\rfloor"


class Ceil(_Piecewise):
    numba_ufunc = True
    name, nfunc = "ceil", "ceil"
    latex = r"\left\lceil{{{0}}}\right\rceil"


class Round(_Piecewise):
    """Round half to even, as ``numpy.round`` (integers stay integers)."""

    name, nfunc = "round", "round"
    cuda = "rint({0})"
    latex = r"\operatorname{{round}}\left({0}\right)"

    def impl(self, xp):
        return lambda x, out=None: xp.round(x, out=out)


class Sign(_Piecewise):
    numba_ufunc = True
    name, nfunc = "sign", "sign"
    latex = r"\operatorname{{sgn}}\left({0}\right)"
    cuda = "(({0}) > 0 ? 1 : (({0}) < 0 ? -1 : 0))"
    integer_safe = finite_output = True


class Invert(Unary):
    name, nfunc, symbol, precedence = "invert", "invert", "~", PREC_NEG
    latex, cuda = r"\neg {0}", "(~({0}))"
    integer_safe = True

    def partials(self, m, inputs, output):
        return [DISCONNECTED]


class IsNan(Unary):
    name, nfunc, bool_output = "isnan", "isnan", True
    cuda = "isnan({0})"
    zero_sign_blind = True

    def partials(self, m, inputs, output):
        return [DISCONNECTED]


class IsInf(Unary):
    name, nfunc, bool_output = "isinf", "isinf", True
    cuda = "isinf({0})"
    zero_sign_blind = True

    def partials(self, m, inputs, output):
        return [DISCONNECTED]


class Cast(Unary):
    """Conversion to ``dtype`` (``astype``); its CUDA form is the backend's C type of ``dtype``."""

    __props__ = ("dtype",)
    nfunc = None
    cheap = True

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype).name

    @property
    def name(self):
        return f"cast_{self.dtype}"

    @property
    def latex(self):
        return "{0}"

    @property
    def numba(self):
        return "np.float64({0})" if self.dtype == "float64" else None

    def output_dtype(self, dtype):
        return self.dtype

    def impl(self, xp):
        dtype = np.dtype(self.dtype)  # a dtype, not its name: read at every call

        def cast(x, out=None):
            if out is None:
                return xp.asarray(x).astype(dtype)
            out[...] = x
            return out

        return cast

    def partials(self, m, inputs, output):
        return [1]


# -------------------------------------------------------------------- binary
class Binary(ScalarOp):
    nin = 2

    @property
    def cuda(self):
        return f"(({{0}}) {self.symbol} ({{1}}))"


class Add(Binary):
    numba = "({0} + {1})"
    name, nfunc, symbol, precedence = "add", "add", "+", PREC_ADD
    latex = "{0} + {1}"
    commutative = associative = True
    cheap = integer_safe = True

    def partials(self, m, inputs, output):
        return [1, 1]


class Sub(Binary):
    numba = "({0} - {1})"
    name, nfunc, symbol, precedence = "sub", "subtract", "-", PREC_ADD
    latex = "{0} - {1}"
    cheap = integer_safe = True

    def partials(self, m, inputs, output):
        return [1, -1]


class Mul(Binary):
    numba = "({0} * {1})"
    name, nfunc, symbol, precedence = "mul", "multiply", "*", PREC_MUL
    latex = r"{0} {1}"
    commutative = associative = True
    cheap = integer_safe = True

    def partials(self, m, inputs, output):
        x, y = inputs
        return [y, x]


class TrueDiv(Binary):
    numba = "({0} / {1})"
    name, nfunc, symbol, precedence = "true_div", "true_divide", "/", PREC_MUL
    latex = r"\frac{{{0}}}{{{1}}}"

    def partials(self, m, inputs, output):
        x, y = inputs
        return [1.0 / y, -output / y]


class IntDiv(Binary):
    name, nfunc, symbol, precedence = "int_div", "floor_divide", "//", PREC_MUL
    latex = r"\left\lfloor\frac{{{0}}}{{{1}}}\right\rfloor"
    cuda = "floor(({0}) / ({1}))"
    integer_safe = True

    def partials(self, m, inputs, output):
        return [ZERO, ZERO]


class Mod(Binary):
    name, nfunc, symbol, precedence = "mod", "mod", "%", PREC_MUL
    latex = r"{0} \bmod {1}"
    cuda = "(({0}) - floor(({0}) / ({1})) * ({1}))"
    integer_safe = True

    def partials(self, m, inputs, output):
        x, y = inputs
        return [1, -m.floor(x / y)]


class Pow(Binary):
    numba_ufunc = True
    name, nfunc, symbol, precedence = "pow", "power", "**", PREC_POW
    latex = "{0}^{{{1}}}"
    cuda = "pow({0}, {1})"

    def partials(self, m, inputs, output):
        """∂z/∂x = y·x^(y-1), exactly 0 where y = 0; ∂z/∂y = z·log x, exactly 0 where x = 0.

        Written literally both are 0·inf = nan at a zero base (0·0^-1, 0^y·log 0); the
        limits are 0, as JAX gives.
        """
        x, y = inputs
        cy = _scalar_constant(m, y)
        if cy is not None and cy != 0:  # x**2 keeps its textbook gradient 2*x**1, no switch
            dx = y * x ** m.constant(np.asarray(cy - 1, dtype=y.dtype))
        else:
            dx = m.switch(m.eq(y, 0), 0, y * x ** (y - 1))
        cx = _scalar_constant(m, x)
        log_x = m.log(x) if cx is not None and cx != 0 else m.log(m.switch(m.eq(x, 0), 1, x))
        return [dx, output * log_x]


class Maximum(Binary):
    numba_ufunc = True
    name, nfunc = "maximum", "maximum"
    latex = r"\max\left({0}, {1}\right)"
    cuda = "max({0}, {1})"
    commutative = associative = True
    cheap = integer_safe = True

    def partials(self, m, inputs, output):
        x, y = inputs
        return [Where(m.ge(x, y)), Where(m.lt(x, y))]


class Minimum(Binary):
    numba_ufunc = True
    name, nfunc = "minimum", "minimum"
    latex = r"\min\left({0}, {1}\right)"
    cuda = "min({0}, {1})"
    commutative = associative = True
    cheap = integer_safe = True

    def partials(self, m, inputs, output):
        x, y = inputs
        return [Where(m.le(x, y)), Where(m.gt(x, y))]


class Arctan2(Binary):
    numba_ufunc = True
    name, nfunc = "arctan2", "arctan2"
    latex = r"\operatorname{{atan2}}\left({0}, {1}\right)"
    cuda = "atan2({0}, {1})"

    def partials(self, m, inputs, output):
        y, x = inputs
        r2 = m.sqr(x) + m.sqr(y)
        return [x / r2, -y / r2]


class LogAddExp(Binary):
    numba_ufunc = True
    name, nfunc = "logaddexp", "logaddexp"
    latex = r"\log\left(e^{{{0}}} + e^{{{1}}}\right)"
    cuda = "(max({0},{1}) + log1p(exp(-fabs(({0})-({1})))))"
    commutative = True

    def partials(self, m, inputs, output):
        """∂z/∂x = σ(x − y), the softmax weight of x; exp(x − z) would be nan at z = +inf.

        Where x and y are both +inf each gets 1/2 (the limit along x = y); where both are
        -inf the weights are nan (inf − inf), as in JAX.
        """
        x, y = inputs
        tie = m.and_(m.eq(x, y), m.gt(x, 0))
        return [m.switch(tie, 0.5, m.sigmoid(x - y)), m.switch(tie, 0.5, m.sigmoid(y - x))]


class _Logical(Binary):
    integer_safe = True

    def partials(self, m, inputs, output):
        return [DISCONNECTED, DISCONNECTED]


class Comparison(_Logical):
    """A comparison: its result is a truth value, the same for -0.0 as for +0.0."""

    bool_output = True
    zero_sign_blind = True


def _cmp(name, nfunc, symbol, latex, prec=PREC_CMP, base=Comparison):
    cls = type(
        name.capitalize(),
        (base,),
        {"name": name, "nfunc": nfunc, "symbol": symbol, "precedence": prec, "latex": latex,
         "numba": f"({{0}} {symbol} {{1}})" if base is Comparison else None},
    )
    cls.__module__ = __name__
    cls.__qualname__ = cls.__name__
    return cls


LT = _cmp("lt", "less", "<", "{0} < {1}")
GT = _cmp("gt", "greater", ">", "{0} > {1}")
LE = _cmp("le", "less_equal", "<=", r"{0} \leq {1}")
GE = _cmp("ge", "greater_equal", ">=", r"{0} \geq {1}")
EQ = _cmp("eq", "equal", "==", "{0} = {1}")
NEQ = _cmp("neq", "not_equal", "!=", r"{0} \neq {1}")
And = _cmp("and_", "bitwise_and", "&", r"{0} \land {1}", PREC_AND, _Logical)
Or = _cmp("or_", "bitwise_or", "|", r"{0} \lor {1}", PREC_OR, _Logical)
Xor = _cmp("xor", "bitwise_xor", "^", r"{0} \oplus {1}", PREC_OR, _Logical)
EQ.cuda = "(({0}) == ({1}))"


# ------------------------------------------------------------------- ternary
class Switch(ScalarOp):
    """``where(cond, a, b)``."""
    numba = "({1} if {0} else {2})"

    nin = 3
    name, nfunc = "switch", "where"
    latex = r"\begin{{cases}} {1} & \text{{if }} {0} \\ {2} & \text{{otherwise}} \end{{cases}}"
    cuda = "(({0}) ? ({1}) : ({2}))"

    def output_dtype(self, cond, a, b):
        return upcast(a, b)

    def impl(self, xp):
        def switch(c, a, b, out=None):
            r = xp.where(c, a, b)
            if out is None:
                return r
            out[...] = r
            return out

        return switch

    def partials(self, m, inputs, output):
        c = inputs[0]
        return [ZERO, Where(m.neq(c, 0)), Where(m.eq(c, 0))]


class Clip(ScalarOp):
    nin = 3
    name, nfunc = "clip", "clip"
    latex = r"\operatorname{{clip}}\left({0}, {1}, {2}\right)"
    cuda = "min(max({0}, {1}), {2})"
    integer_safe = True

    def output_dtype(self, x, lo, hi):
        return upcast(x, lo, hi)

    def impl(self, xp):
        return lambda x, lo, hi, out=None: xp.clip(x, lo, hi, out=out)

    def partials(self, m, inputs, output):
        x, lo, hi = inputs
        inside = m.and_(m.ge(x, lo), m.le(x, hi))
        return [Where(inside), Where(m.lt(x, lo)), Where(m.gt(x, hi))]
