"""``scan``: build a loop from a Python step function (Theano's API)."""

import inspect

from nbgrad.compile.function import MissingInputError
from nbgrad.compile.sharedvalue import SharedVariable
from nbgrad.graph.basic import Constant, Variable
from nbgrad.graph.replace import clone_get_equiv
from nbgrad.graph.traversal import ancestors
from nbgrad.scan.op import Scan, ScanInfo
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
        from nbgrad.tensor.basic import as_tensor_variable

        cond = as_tensor_variable(condition)
        if cond.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar, got {cond.type}")
        self.condition = cond


def _as_var(x, what):
    from nbgrad.tensor.basic import as_tensor_variable

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
        several slices per step.
    outputs_info : None, Variable, dict or list of them
        Initial values of recurrent outputs (``dict(initial=x0, taps=[-2, -1])``
        for several past values, with ``x0`` holding 2 rows); None for an
        output that is not fed back.
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
    outs, updates = _build_scan(
        fn, sequences, outputs_info, non_sequences, n_steps, truncate_gradient,
        go_backwards, name, strict)
    if len(outs) == 1 and not return_list:
        return outs[0], updates
    return outs, updates


# ----------------------------------------------------------------------------
def _build_scan(fn, sequences, outputs_info, non_sequences, n_steps, truncate_gradient,
                go_backwards, name, strict, keep=None, raw=False):
    """Build the Scan node. ``keep``: per recurrent output, keep all steps (default True).

    Returns (user outputs, updates); with ``raw=True`` returns the node's
    outputs (full state buffers) instead of user outputs.
    """
    from nbgrad import tensor as T

    label = f"scan {name!r}" if name else "scan"
    # ---- sequences
    seqs, seq_taps = [], []
    for k, s in enumerate(_listify(sequences)):
        if isinstance(s, dict):
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
        seqs.append(s)
        seq_taps.append(sorted(taps))
    # ---- outputs_info
    oinfo = outputs_info
    if oinfo is not None and not isinstance(oinfo, (list, tuple)):
        oinfo = [oinfo]
    oinfo = list(oinfo) if oinfo is not None else None
    # entries: ("state", init_rows, taps) / ("nitsot",)
    entries = []
    for k, o in enumerate(oinfo or []):
        if o is None:
            entries.append(("nitsot",))
            continue
        if isinstance(o, dict):
            if o.get("initial") is None:
                entries.append(("nitsot",))
                continue
            taps = o.get("taps", [-1])
            init = _as_var(o["initial"], f"outputs_info[{k}]['initial']")
            taps = sorted(taps)
            if o.get("_rows"):
                # internal: the initial value already holds the L rows of its taps
                entries.append(("state", init, taps, init))
                continue
            if any(t >= 0 for t in taps):
                raise ValueError(
                    f"{label}: taps of outputs_info[{k}] must be negative (past values), got {taps}"
                )
            if taps == [-1] and "taps" not in o:
                entries.append(("state", T.expand_dims(init, 0), taps, init))
            elif taps == [-1]:
                entries.append(("state", T.expand_dims(init, 0), taps, init))
            else:
                L = -taps[0]
                if init.ndim < 1:
                    raise ValueError(
                        f"{label}: outputs_info[{k}] has taps {taps} so its initial value needs a "
                        f"leading axis of {L} past values; got {init.type}"
                    )
                rows = init[-L:] if L else init
                entries.append(("state", rows, taps, init))
            continue
        init = _as_var(o, f"outputs_info[{k}]")
        entries.append(("state", T.expand_dims(init, 0), [-1], init))

    non_seqs = [x if isinstance(x, Variable) else _as_var(x, "non_sequences entry")
                for x in _listify(non_sequences)]

    # ---- placeholders and the call to fn
    args = []
    seq_ph = []
    for s, taps in zip(seqs, seq_taps):
        for t in taps:
            nm = f"{s.name}[t{t:+d}]" if t else (f"{s.name}[t]" if s.name else None)
            ph = _placeholder(_row_type(s.type), nm)
            seq_ph.append(ph)
            args.append(ph)
    state_ph = []
    for e in entries:
        if e[0] != "state":
            continue
        rows = e[1]
        phs = []
        for _t in e[2]:
            ph = _placeholder(_row_type(rows.type), None)
            phs.append(ph)
            args.append(ph)
        state_ph.append(phs)
    n_arg_pos = len(args)
    args.extend(non_seqs)
    n_needed, has_var = _n_positional(fn)
    if n_needed is not None and not has_var and n_needed != len(args):
        raise TypeError(
            f"{label}: fn takes {n_needed} positional argument(s) but scan passes {len(args)}: "
            f"{sum(len(t) for t in seq_taps)} sequence slice(s), "
            f"{n_arg_pos - sum(len(t) for t in seq_taps)} past output value(s) and "
            f"{len(non_seqs)} non-sequence(s), in that order. Change fn's signature or the "
            "sequences / outputs_info / non_sequences given to scan"
        )
    res = fn(*args)
    outputs, fn_updates, cond = _parse_fn_result(res)
    outputs = [_as_var(o, "an output of fn") for o in outputs]
    if oinfo is None:
        entries = [("nitsot",)] * len(outputs)
    if len(outputs) != len(entries):
        raise ValueError(
            f"{label}: fn returned {len(outputs)} output(s) but outputs_info has {len(entries)} "
            "entries; give one outputs_info entry per output (None for outputs that are not "
            "fed back)"
        )
    # ---- check recurrent output types
    k_state = 0
    for k, (e, o) in enumerate(zip(entries, outputs)):
        if e[0] != "state":
            continue
        want = _row_type(e[1].type)
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
                f"{e[3]}) has type {want}; they must match, since each step's output is the "
                f"next step's input. Fix: {fix}"
            )
        if not want.is_compatible(got):
            raise TypeError(
                f"{label}: output {k} of fn has static shape {got.shape} but its initial "
                f"value has {want.shape}; make them agree"
            )
        k_state += 1

    # ---- find the inner graph's free variables
    blockers = seq_ph + [p for phs in state_ph for p in phs] + non_seqs
    inner_outs = list(outputs) + list(fn_updates.values()) + ([cond] if cond is not None else [])
    shared_updates = dict(fn_updates)
    ph_ids = set(map(id, seq_ph + [p for phs in state_ph for p in phs]))
    while True:
        anc = ancestors(inner_outs + list(shared_updates.values()), blockers=blockers)
        added = False
        for v in anc:
            if (isinstance(v, SharedVariable) and v.default_update is not None
                    and v not in shared_updates):
                shared_updates[v] = v.default_update
                added = True
        if not added:
            break
    for sv in shared_updates:
        if not isinstance(sv, SharedVariable):
            raise TypeError(f"{label}: fn returned an update for {sv}, which is not a shared variable")
    anc = ancestors(list(outputs) + list(shared_updates.values()) + ([cond] if cond is not None else []),
                    blockers=blockers)
    nonseq_ids = set(map(id, non_seqs))
    free = []
    for v in anc:
        if id(v) in ph_ids or id(v) in nonseq_ids or isinstance(v, Constant):
            continue
        if v.owner is None and v not in shared_updates:
            free.append(v)
    if strict and free:
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

    # ---- tensor shared updates become kept-last states; others opaque
    tensor_shared = [(sv, u) for sv, u in shared_updates.items() if isinstance(sv.type, TensorType)]
    opaque_shared = [(sv, u) for sv, u in shared_updates.items() if not isinstance(sv.type, TensorType)]

    # ---- inner inputs and replacement map
    mapping = {}
    inner_inputs = list(seq_ph)
    state_inits, state_taps, state_keep = [], [], []
    user_state_idx = []
    i_state = 0
    for k, e in enumerate(entries):
        if e[0] == "state":
            inner_inputs.extend(state_ph[i_state])
            state_inits.append(e[1])
            state_taps.append(e[2])
            state_keep.append(True if keep is None else keep[i_state])
            user_state_idx.append(k)
            i_state += 1
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
    for v in list(non_seqs) + free:
        if isinstance(v, Constant):
            continue
        if v in mapping:
            continue
        ph = _placeholder(v.type, v.name)
        mapping[v] = ph
        inner_inputs.append(ph)
        outer_nonseqs.append(v)

    state_new = [o for e, o in zip(entries, outputs) if e[0] == "state"]
    nit_new = [o for e, o in zip(entries, outputs) if e[0] == "nitsot"]
    raw_inner_outs = (state_new + [u for _, u in tensor_shared] + nit_new
                      + [u for _, u in opaque_shared] + ([cond] if cond is not None else []))
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

    # ---- n_steps
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
    n = T.cast(n, "int64")

    info = ScanInfo(
        seq_taps=seq_taps, state_taps=state_taps, keep=state_keep,
        n_nitsot=len(nit_new), n_opaque=len(opaque_shared), n_nonseq=len(outer_nonseqs),
        as_while=cond is not None, truncate_gradient=truncate_gradient, name=name,
    )
    op = Scan(inner_inputs, inner_outputs, info)
    node_outs = op.make_node(n, *(seqs + state_inits + opaque_inits + outer_nonseqs)).outputs
    if raw:
        return node_outs, {}
    n_states = len(state_inits)
    bufs = node_outs[:n_states]
    nits = node_outs[n_states:n_states + len(nit_new)]
    opaque_out = node_outs[n_states + len(nit_new):]
    results = []
    i_state = i_nit = 0
    for e in entries:
        if e[0] == "state":
            L = -state_taps[i_state][0]
            b = bufs[i_state]
            results.append(b[L:] if state_keep[i_state] else b)
            i_state += 1
        else:
            results.append(nits[i_nit])
            i_nit += 1
    updates = {}
    for j, (sv, _u) in enumerate(tensor_shared):
        updates[sv] = bufs[len(user_state_idx) + j][0]
    for (sv, _u), fin in zip(opaque_shared, opaque_out):
        updates[sv] = fin
        if sv.default_update is not None:
            # the generator's next state is now the state after the whole loop
            sv.default_update = fin
    for r in results:
        if name and r.name is None:
            r.name = name
    return results, updates
