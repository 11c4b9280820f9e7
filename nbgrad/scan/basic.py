"""``scan``: build a loop from a Python step function (Theano's API)."""

import inspect
from dataclasses import dataclass
from typing import NamedTuple

from nbgrad import tensor as T
from nbgrad.compile.function import MissingInputError
from nbgrad.compile.sharedvalue import SharedVariable
from nbgrad.graph.basic import Constant, Variable
from nbgrad.graph.replace import clone_get_equiv
from nbgrad.graph.traversal import ancestors
from nbgrad.scan.op import Scan, ScanInfo
from nbgrad.tensor.basic import as_tensor_variable
from nbgrad.tensor.type import TensorType

__all__ = ["scan", "until"]


class until:
    """Stop condition for :func:`scan`: return ``until(cond)`` from the step function.

    The step on which ``cond`` is true is the last one computed.

    >>> import nbgrad, nbgrad.tensor as T
    >>> x = T.dscalar("x")
    >>> ys, _ = nbgrad.scan(lambda p: (p * 2, nbgrad.scan.until(p * 2 > 50)),
    ...                     outputs_info=x, n_steps=100)
    >>> nbgrad.function([x], ys)(1.0).tolist()
    [2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    """

    def __init__(self, condition):
        cond = as_tensor_variable(condition)
        if cond.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar, got {cond.type}")
        self.condition = cond


def _as_var(x, what):
    if isinstance(x, Variable):
        return x
    try:
        return as_tensor_variable(x)
    except TypeError as exc:
        raise TypeError(f"scan: {what} must be a symbolic variable or an array, got {x!r}") from exc


def _listify(x):
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _placeholder(ttype, name):
    return ttype.make_variable(name)


def _row_type(t):
    return TensorType(t.dtype, t.shape[1:])


def _parse_fn_result(res):
    """Split what fn returned into (outputs, updates, condition).

    Accepted: an output, a list of outputs, an updates dict, an ``until``, or a
    tuple/list mixing an output (or a list of outputs), a dict and an ``until``.
    """
    outputs, updates, cond = [], {}, None
    items = list(res) if isinstance(res, (list, tuple)) else [res]
    for it in items:
        if isinstance(it, dict):
            updates.update(it)
        elif isinstance(it, until):
            cond = it.condition
        elif isinstance(it, (list, tuple)):
            if it and all(isinstance(e, tuple) and len(e) == 2 and isinstance(e[0], SharedVariable)
                          for e in it):
                updates.update(dict(it))
            else:
                outputs.extend(it)
        elif it is not None:
            outputs.append(it)
    return outputs, updates, cond


def _n_positional(fn):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None, False
    n, var = 0, False
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            var = True
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n, var


def scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
         truncate_gradient=-1, go_backwards=False, mode=None, name=None, profile=False,
         allow_gc=None, strict=False, return_list=False):
    """Repeat ``fn`` over sequences, carrying outputs from step to step.

    ``fn`` receives, in this order: one slice per tap of each sequence, one
    value per tap of each recurrent output (entries of ``outputs_info`` that are
    not None), then the ``non_sequences``. It returns the new outputs, and
    optionally a dict of shared-variable updates and an :class:`until`
    condition.

    Parameters
    ----------
    fn : callable
    sequences : Variable, dict or list of them
        Iterated over their first axis; ``dict(input=x, taps=[-1, 0])`` gives
        several slices per step (a dict takes the keys ``input`` and ``taps``).
    outputs_info : None, Variable, dict or list of them
        Initial values of recurrent outputs (``dict(initial=x0, taps=[-2, -1])``
        for several past values, with ``x0`` holding 2 rows; a dict takes the
        keys ``initial`` and ``taps``); None for an output that is not fed back.
    non_sequences : list of Variables
        Passed unchanged to every step (and may be differentiated, as in
        ``T.grad(y[i], x)``).
    n_steps : int or scalar Variable, optional
        Number of steps (default: the length of the shortest sequence).
    truncate_gradient : int
        Back-propagate through at most this many steps (-1: all).
    go_backwards : bool
        Iterate the sequences from last to first.
    strict : bool
        Require every variable used by ``fn``, shared variables included, to be a
        sequence, an output or a non-sequence (``MissingInputError`` otherwise).
    return_list : bool
        Always return a list of outputs.

    Returns
    -------
    outputs : Variable or list of Variables
        One per output of ``fn``, stacked over steps.
    updates : dict
        Shared-variable updates to pass to ``nbgrad.function(updates=...)``.

    Examples
    --------
    Cumulative sum, and the Jacobian recipe of Theano's tutorial:

    >>> import nbgrad, nbgrad.tensor as T
    >>> v = T.dvector("v")
    >>> s, _ = nbgrad.scan(lambda x, acc: acc + x, sequences=v,
    ...                    outputs_info=T.zeros((), dtype="float64"))
    >>> nbgrad.function([v], s)([1.0, 2.0, 3.0]).tolist()
    [1.0, 3.0, 6.0]
    >>> x = T.dvector("x")
    >>> y = x ** 2
    >>> J, upd = nbgrad.scan(lambda i, y, x: T.grad(y[i], x),
    ...                      sequences=T.arange(y.shape[0]), non_sequences=[y, x])
    >>> nbgrad.function([x], J, updates=upd)([4.0, 4.0]).tolist()
    [[8.0, 0.0], [0.0, 8.0]]
    """
    label = f"scan {name!r}" if name else "scan"
    seqs = _parse_sequences(sequences, go_backwards, label)
    states = _parse_outputs_info(outputs_info, label)
    outs, updates = _build_scan(fn, seqs, states, non_sequences, n_steps,
                                truncate_gradient=truncate_gradient, name=name, strict=strict)
    if len(outs) == 1 and not return_list:
        return outs[0], updates
    return outs, updates


# ----------------------------------------------------------------------------
# Building the Scan node: ``scan`` reads its arguments into records (a
# ``_Sequence`` per sequence, a ``_State`` per recurrent output); ``_build_scan``
# traces ``fn`` once on placeholders (a ``_Body``), collects the shared variables
# it updates and the variables it reads from outside, lays out the inner graph
# (a ``_Loop``), makes the node and returns the user's view of its outputs. The
# derivatives of Scan (``scan/grad.py``) give their records to ``_build_scan``
# and ``_scan_node`` directly.

#: The keys of a dict in ``sequences`` and in ``outputs_info`` (as in Theano).
_SEQUENCE_KEYS = ("input", "taps")
_OUTPUT_KEYS = ("initial", "taps")


class _Sequence(NamedTuple):
    """A sequence to iterate over, and the offsets (sorted) of the rows each step reads."""

    input: Variable
    taps: list


@dataclass
class _State:
    """A recurrent output: the rows its first step reads, and which rows are returned.

    ``rows`` holds the ``L = -taps[0]`` values before the first step, oldest
    first (shape ``(L, ...)``); step ``t`` reads the rows at ``taps`` (sorted,
    negative). ``initial`` is the initial value as given, named in errors. A
    state that is not kept returns only its last ``L`` rows.
    """

    rows: Variable
    taps: list
    initial: Variable
    keep: bool = True

    @classmethod
    def of_initial(cls, initial, keep=True):
        """The state of an output fed back to the next step only (taps ``[-1]``)."""
        return cls(T.expand_dims(initial, 0), [-1], initial, keep)


@dataclass
class _Body:
    """The loop body: what ``fn`` returned when called on placeholders."""

    seq_ph: list  # one placeholder per sequence tap
    state_ph: list  # per state, one placeholder per tap
    non_seqs: list
    outputs: list
    updates: dict  # shared variable -> its value after the step
    cond: Variable | None  # the until-condition

    def placeholders(self):
        return self.seq_ph + [p for phs in self.state_ph for p in phs]

    def results(self):
        """What the body computes: its outputs, the shared variables' new values, the condition."""
        return list(self.outputs) + list(self.updates.values()) + ([self.cond] if self.cond is not None else [])


@dataclass
class _Loop:
    """The layout of a Scan node (see ``scan/op.py``): its inner graph and outer inputs."""

    inner_inputs: list
    inner_outputs: list
    state_inits: list  # the rows of fn's states, then of the tensors updated in the loop
    state_taps: list
    state_keep: list
    n_nitsot: int
    opaque_inits: list
    outer_nonseqs: list
    tensor_shared: list  # (shared variable, update): carried as a state, its last row kept
    opaque_shared: list  # (shared variable, update): carried as an opaque value (a generator)


def _build_scan(fn, sequences, states, non_sequences, n_steps, *, truncate_gradient=-1, name=None,
                strict=False):
    """Build a loop like :func:`scan`, from records: a :class:`_Sequence` per
    sequence and a :class:`_State` (or None) per output of fn.

    ``states`` is None when no output is fed back. Returns the outputs (per
    output of fn: the rows after the initial ones of a kept state, the last
    rows of a state that is not kept, or the stacked rows of an output not fed
    back) and the updates of the shared variables the loop updates.
    """
    states, loop, node = _scan_node(fn, sequences, states, non_sequences, n_steps,
                                    truncate_gradient=truncate_gradient, name=name, strict=strict)
    bufs, nits, opaque_finals = node.op.split_outputs(node.outputs)
    results = _user_outputs(states, bufs, nits)
    updates = _shared_updates(loop, bufs[len(bufs) - len(loop.tensor_shared):], opaque_finals)
    for r in results:
        if name and r.name is None:
            r.name = name
    return results, updates


def _scan_node(fn, sequences, states, non_sequences, n_steps, *, truncate_gradient=-1, name=None,
               strict=False):
    """Make the Scan node of a loop (arguments as :func:`_build_scan`).

    Returns the states (one entry per output of fn), the :class:`_Loop` laid
    out, and the node, whose outputs are the full buffer of every state
    (initial rows included), the nitsot outputs and the final opaque states.
    """
    label = f"scan {name!r}" if name else "scan"
    seqs = [s.input for s in sequences]
    seq_taps = [s.taps for s in sequences]
    non_seqs = [x if isinstance(x, Variable) else _as_var(x, "non_sequences entry")
                for x in _listify(non_sequences)]
    body = _trace_fn(fn, seqs, seq_taps, states, non_seqs, label)
    if states is None:
        states = [None] * len(body.outputs)
    if len(body.outputs) != len(states):
        raise ValueError(
            f"{label}: fn returned {len(body.outputs)} output(s) but outputs_info has {len(states)} "
            "entries; give one outputs_info entry per output (None for outputs that are not "
            "fed back)"
        )
    _check_state_types(states, body.outputs, label)
    _add_default_updates(body, label)
    free = _free_variables(body)
    if strict and free:
        _raise_not_strict(free, label)
    loop = _lay_out_loop(body, states, free, label)
    n = _n_steps(n_steps, seqs, seq_taps, label)
    info = ScanInfo(
        seq_taps=seq_taps, state_taps=loop.state_taps, keep=loop.state_keep,
        n_nitsot=loop.n_nitsot, n_opaque=len(loop.opaque_shared), n_nonseq=len(loop.outer_nonseqs),
        as_while=body.cond is not None, truncate_gradient=truncate_gradient, name=name,
    )
    op = Scan(loop.inner_inputs, loop.inner_outputs, info)
    outer = seqs + loop.state_inits + loop.opaque_inits + loop.outer_nonseqs
    return states, loop, op.make_node(n, *outer)


def _parse_sequences(sequences, go_backwards, label):
    """A :class:`_Sequence` per sequence that a step reads (reversed for ``go_backwards``)."""
    seqs = []
    for k, s in enumerate(_listify(sequences)):
        if isinstance(s, dict):
            _check_keys(s, _SEQUENCE_KEYS, f"sequence {k}", label)
            if "input" not in s:
                raise ValueError(f"{label}: sequence {k} is a dict without 'input': {s!r}")
            taps = s.get("taps", [0])
            taps = [0] if taps is None else list(taps)
            s = s["input"]
        else:
            taps = [0]
        s = _as_var(s, f"sequence {k}")
        if not isinstance(s.type, TensorType) or s.ndim < 1:
            raise TypeError(
                f"{label}: sequence {k} ({s}, {s.type}) must have at least one dimension to "
                "iterate over; pass scalars as non_sequences"
            )
        if not taps:
            continue
        if go_backwards:
            s = s[::-1]
        seqs.append(_Sequence(s, sorted(taps)))
    return seqs


def _parse_outputs_info(outputs_info, label):
    """Per output of fn, a :class:`_State`, or None for an output that is not fed back.

    Returns None when ``outputs_info`` is None: no output is fed back.
    """
    if outputs_info is None:
        return None
    entries = outputs_info if isinstance(outputs_info, (list, tuple)) else [outputs_info]
    return [_parse_output_info(k, o, label) for k, o in enumerate(entries)]


def _parse_output_info(k, o, label):
    """The :class:`_State` of ``outputs_info[k]`` (None: the output is not fed back)."""
    if o is None:
        return None
    if not isinstance(o, dict):
        return _State.of_initial(_as_var(o, f"outputs_info[{k}]"))
    _check_keys(o, _OUTPUT_KEYS, f"outputs_info[{k}]", label)
    if o.get("initial") is None:
        return None
    taps = o.get("taps", [-1])
    init = _as_var(o["initial"], f"outputs_info[{k}]['initial']")
    taps = sorted(taps)
    if any(t >= 0 for t in taps):
        raise ValueError(
            f"{label}: taps of outputs_info[{k}] must be negative (past values), got {taps}"
        )
    if taps == [-1]:
        return _State.of_initial(init)
    L = -taps[0]
    if init.ndim < 1:
        raise ValueError(
            f"{label}: outputs_info[{k}] has taps {taps} so its initial value needs a "
            f"leading axis of {L} past values; got {init.type}"
        )
    return _State(init[-L:], taps, init)


def _check_keys(d, allowed, what, label):
    unknown = [key for key in d if key not in allowed]
    if unknown:
        hint = ("; Theano's return_steps is gone: take the steps you need from the result "
                "(e.g. ys[-1])" if "return_steps" in unknown else "")
        raise ValueError(
            f"{label}: {what} has unknown key(s) {', '.join(map(repr, unknown))}; the allowed "
            f"keys are {', '.join(map(repr, allowed))}{hint}"
        )


def _trace_fn(fn, seqs, seq_taps, states, non_seqs, label):
    """Call ``fn`` once on placeholders for one step's rows, then the non-sequences."""
    args, seq_ph = [], []
    for s, taps in zip(seqs, seq_taps):
        for t in taps:
            nm = f"{s.name}[t{t:+d}]" if t else (f"{s.name}[t]" if s.name else None)
            ph = _placeholder(_row_type(s.type), nm)
            seq_ph.append(ph)
            args.append(ph)
    state_ph = []
    for st in states or []:
        if st is None:
            continue
        phs = [_placeholder(_row_type(st.rows.type), None) for _t in st.taps]
        args.extend(phs)
        state_ph.append(phs)
    n_state_args = len(args) - len(seq_ph)
    args.extend(non_seqs)
    n_needed, has_var = _n_positional(fn)
    if n_needed is not None and not has_var and n_needed != len(args):
        raise TypeError(
            f"{label}: fn takes {n_needed} positional argument(s) but scan passes {len(args)}: "
            f"{len(seq_ph)} sequence slice(s), {n_state_args} past output value(s) and "
            f"{len(non_seqs)} non-sequence(s), in that order. Change fn's signature or the "
            "sequences / outputs_info / non_sequences given to scan"
        )
    outputs, updates, cond = _parse_fn_result(fn(*args))
    outputs = [_as_var(o, "an output of fn") for o in outputs]
    return _Body(seq_ph, state_ph, non_seqs, outputs, updates, cond)


def _check_state_types(states, outputs, label):
    """Each fed-back output must have the type of one row of its initial value."""
    for k, (st, o) in enumerate(zip(states, outputs)):
        if st is None:
            continue
        want = _row_type(st.rows.type)
        got = o.type
        if not isinstance(got, TensorType) or got.dtype != want.dtype or got.ndim != want.ndim:
            fix = (
                f"cast the initial value (e.g. T.cast(init, '{got.dtype}')) or the value fn "
                f"returns (T.cast(out, '{want.dtype}'))"
                if isinstance(got, TensorType) and got.ndim == want.ndim else
                "give an initial value with the shape of one step of that output "
                f"(fn returns {getattr(got, 'ndim', '?')} dimension(s), the initial value has "
                f"{want.ndim})"
            )
            raise TypeError(
                f"{label}: output {k} of fn has type {got} but its outputs_info (initial value "
                f"{st.initial}) has type {want}; they must match, since each step's output is the "
                f"next step's input. Fix: {fix}"
            )
        if not want.is_compatible(got):
            raise TypeError(
                f"{label}: output {k} of fn has static shape {got.shape} but its initial "
                f"value has {want.shape}; make them agree"
            )


def _add_default_updates(body, label):
    """Add to ``body.updates`` the default updates of the shared variables the body
    reads (random generators), and of those their updates read, and so on."""
    blockers = body.placeholders() + body.non_seqs
    traced = body.results()
    updates = dict(body.updates)
    while True:
        added = False
        for v in ancestors(traced + list(updates.values()), blockers=blockers):
            if isinstance(v, SharedVariable) and v.default_update is not None and v not in updates:
                updates[v] = v.default_update
                added = True
        if not added:
            break
    for sv in updates:
        if not isinstance(sv, SharedVariable):
            raise TypeError(f"{label}: fn returned an update for {sv}, which is not a shared variable")
    body.updates = updates


def _free_variables(body):
    """The variables the body reads that are neither placeholders, non-sequences,
    constants nor shared variables it updates, in the order ``ancestors`` finds them."""
    given = body.placeholders() + body.non_seqs
    given_ids = set(map(id, given))
    free = []
    for v in ancestors(body.results(), blockers=given):
        if id(v) in given_ids or isinstance(v, Constant):
            continue
        if v.owner is None and v not in body.updates:
            free.append(v)
    return free


def _raise_not_strict(free, label):
    # shared variables too: strict scan reads only what it is given (random
    # generators updated by the steps are the exception, they are states)
    shown = ", ".join(
        f"the shared variable {v}" if isinstance(v, SharedVariable) else str(v) for v in free)
    raise MissingInputError(
        f"{label} (strict=True): fn uses {shown}, which "
        f"{'is' if len(free) == 1 else 'are'} not a sequence, output or non-sequence; pass "
        f"{'it' if len(free) == 1 else 'them'} in non_sequences (and take "
        f"{'it' if len(free) == 1 else 'them'} as the last arguments of fn), or drop strict=True"
    )


def _lay_out_loop(body, states, free, label):
    """The inner inputs and outputs, and the outer inputs, of the Scan node.

    Shared tensors the body updates become states whose last row is kept;
    other shared variables it updates (random generators) are opaque states;
    the free variables become non-sequences.
    """
    tensor_shared = [(sv, u) for sv, u in body.updates.items() if isinstance(sv.type, TensorType)]
    opaque_shared = [(sv, u) for sv, u in body.updates.items() if not isinstance(sv.type, TensorType)]
    user_states = [st for st in states if st is not None]
    mapping = {}
    inner_inputs = list(body.seq_ph)
    for phs in body.state_ph:
        inner_inputs.extend(phs)
    state_inits = [st.rows for st in user_states]
    state_taps = [st.taps for st in user_states]
    state_keep = [st.keep for st in user_states]
    for sv, _u in tensor_shared:
        ph = _placeholder(sv.type, sv.name)
        mapping[sv] = ph
        inner_inputs.append(ph)
        state_inits.append(T.expand_dims(sv, 0))
        state_taps.append([-1])
        state_keep.append(False)
    opaque_inits = []
    for sv, _u in opaque_shared:
        ph = _placeholder(sv.type, sv.name)
        mapping[sv] = ph
        inner_inputs.append(ph)
        opaque_inits.append(sv)
    outer_nonseqs = []
    for v in list(body.non_seqs) + free:
        if isinstance(v, Constant) or v in mapping:
            continue
        ph = _placeholder(v.type, v.name)
        mapping[v] = ph
        inner_inputs.append(ph)
        outer_nonseqs.append(v)
    state_new = [o for st, o in zip(states, body.outputs) if st is not None]
    nit_new = [o for st, o in zip(states, body.outputs) if st is None]
    raw_inner_outs = (state_new + [u for _, u in tensor_shared] + nit_new
                      + [u for _, u in opaque_shared] + ([body.cond] if body.cond is not None else []))
    raw_inner_outs = [_as_var(o, "an update of fn") for o in raw_inner_outs]
    for sv, u in tensor_shared:
        if u.type.dtype != sv.type.dtype or u.type.ndim != sv.type.ndim:
            raise TypeError(
                f"{label}: the update of shared variable {sv} has type {u.type}, expected "
                f"{sv.type}; cast it (T.cast(expr, '{sv.type.dtype}'))"
            )
    equiv = clone_get_equiv([], raw_inner_outs, memo=mapping, copy_inputs=False)
    inner_outputs = [equiv.get(o, o) for o in raw_inner_outs]
    for o in inner_outputs:
        for v in ancestors([o], blockers=inner_inputs):
            if v.owner is None and not isinstance(v, Constant) and v not in set(inner_inputs):
                raise RuntimeError(f"{label}: internal error, {v} is free in the loop body")
    return _Loop(inner_inputs, inner_outputs, state_inits, state_taps, state_keep, len(nit_new),
                 opaque_inits, outer_nonseqs, tensor_shared, opaque_shared)


def _n_steps(n_steps, seqs, seq_taps, label):
    """The number of steps as an int64 scalar: ``n_steps``, or the length of the
    shortest sequence less the span of its taps."""
    if n_steps is None:
        if not seqs:
            raise ValueError(
                f"{label}: give sequences to iterate over or n_steps (the number of steps)"
            )
        lens = [s.shape[0] - (max(t) - min(t)) for s, t in zip(seqs, seq_taps)]
        n = lens[0]
        for m in lens[1:]:
            n = T.minimum(n, m)
    else:
        n = _as_var(n_steps, "n_steps")
        if n.ndim != 0 or n.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
            raise TypeError(f"{label}: n_steps must be an integer scalar, got {n.type}")
    return T.cast(n, "int64")


def _user_outputs(states, bufs, nits):
    """Per output of fn: its state's rows after the initial ones (all of its last
    rows if not kept), or its nitsot output."""
    results = []
    i_state = i_nit = 0
    for st in states:
        if st is not None:
            b = bufs[i_state]
            results.append(b[-st.taps[0]:] if st.keep else b)
            i_state += 1
        else:
            results.append(nits[i_nit])
            i_nit += 1
    return results


def _shared_updates(loop, tensor_bufs, opaque_finals):
    """The updates of the shared variables the loop updates: their values after the last step."""
    updates = {}
    for (sv, _u), buf in zip(loop.tensor_shared, tensor_bufs):
        updates[sv] = buf[0]
    for (sv, _u), fin in zip(loop.opaque_shared, opaque_finals):
        updates[sv] = fin
        if sv.default_update is not None:
            # the generator's next state is now the state after the whole loop
            sv.default_update = fin
    return updates
