"""The rewrite database: named rewrites in ordered, tagged phases, and modes as tag queries.

A *node rewrite* is a small function ``fn(fgraph, node)`` that returns ``None``
(no change), a list with one replacement variable per output of ``node``, or
``SWAP_INPUTS`` (the two inputs of ``node``, a commutative operation, are to be
exchanged in place: same value, no new node).
A *graph rewrite* is a function ``fn(fgraph)`` that changes the graph itself
and returns how many times it fired. Both are registered in a phase (see
``nbgrad.rewriting.passes`` for the phase list) with tags; a ``Mode`` selects
the rewrites whose name or tags it includes and whose name and tags it does
not exclude.
"""

import sys

from nbgrad.config import config

__all__ = [
    "Mode", "Rewrite", "RewriteDB", "node_rewriter", "graph_rewriter", "db", "get_mode", "SWAP_INPUTS",
]

#: What a node rewrite returns to have the driver exchange the two inputs of the node, a
#: commutative operation, in place (``FunctionGraph.swap_inputs``) instead of building a
#: node with its inputs exchanged and replacing the node by it.
SWAP_INPUTS = "swap inputs"


class Rewrite:
    """One registered rewrite: ``name``, ``phase``, ``tags`` and its function.

    ``tracks`` (node rewrites only) is a tuple of Op classes or scalar-op
    classes; the driver calls the rewrite only on nodes whose op (or whose
    ``Elemwise`` scalar op) is an instance of one of them. Empty: every node.
    ``chain`` (node rewrites only): the rewrite reads a whole chain of one
    operation (``a * b * c * ...``) from its root, so the driver calls it on the
    root of each chain only (see ``patterns.chain_interior``).
    ``reads`` (node rewrites only): a tuple of classes of Ops, scalar ops or variables;
    the rewrite changes only nodes with an input computed by an op (or an ``Elemwise``
    whose scalar op) is an instance of one of them, or an input that is an instance of
    one of them (``Constant``: a constant operand), and the driver does not call it on
    other nodes. Empty: no such condition. ``roots_only`` (node rewrites only): the rewrite
    changes nothing on an inner link of a chain (``patterns.chain_interior``), and the driver
    does not call it there; unlike a ``chain`` rewrite's, its node is not queued again when
    a link below it changes. For a ``chain`` rewrite the condition is on the
    chain's operands: the driver checks it on a node's inputs only when no input is computed
    by the node's own scalar op (the inputs are then the operands), and calls it on the
    other roots.
    """

    def __init__(self, fn, name, phase, tags, kind, tracks=(), chain=False, reads=(), roots_only=False):
        self.fn = fn
        self.chain = chain
        self.roots_only = roots_only
        self.reads = tuple(reads)
        self.name = name
        self.phases = (phase,) if isinstance(phase, str) else tuple(phase)
        self.phase = self.phases[0]
        self.tags = frozenset(tags) | set(self.phases) | {name}
        self.kind = kind
        self.tracks = tuple(tracks)

    def __repr__(self):
        return f"<rewrite {self.name} ({self.phase}: {', '.join(sorted(self.tags - {self.name}))})>"


class RewriteDB:
    """All rewrites, by phase, in registration order; phases in ``phases`` order."""

    def __init__(self):
        self.phases = []
        self.by_phase = {}
        self.by_name = {}

    def add_phase(self, name):
        if name not in self.by_phase:
            self.phases.append(name)
            self.by_phase[name] = []

    def register(self, rewrite):
        for phase in rewrite.phases:
            if phase not in self.by_phase:
                raise KeyError(
                    f"rewrite {rewrite.name}: unknown phase {phase!r}; phases are {self.phases}"
                )
        if rewrite.name in self.by_name:
            raise ValueError(f"a rewrite named {rewrite.name!r} is already registered")
        self.by_name[rewrite.name] = rewrite
        for phase in rewrite.phases:
            self.by_phase[phase].append(rewrite)
        return rewrite

    def query(self, mode):
        """The selected rewrites, as a list of (phase, [rewrites]) in phase order."""
        out = []
        for phase in self.phases:
            sel = [r for r in self.by_phase[phase] if mode.selects(r)]
            if sel:
                out.append((phase, sel))
        return out

    def __contains__(self, name):
        return name in self.by_name


db = RewriteDB()


def node_rewriter(phase, tags=("fast_run",), tracks=(), name=None, chain=False, reads=(), roots_only=False):
    """Register ``fn(fgraph, node) -> None | [replacement, ...]`` in ``phase``.

    ``phase`` may be a tuple of phases: the rewrite then runs in each of them
    (constant folding runs again after the rewrites that create constants).

    Examples
    --------
    >>> from nbgrad.rewriting.db import RewriteDB, Rewrite
    >>> r = Rewrite(lambda fg, node: None, "noop", "specialize", ("fast_run",), "node")
    >>> sorted(r.tags)
    ['fast_run', 'noop', 'specialize']
    """

    def deco(fn):
        db.register(Rewrite(fn, name or fn.__name__, phase, tags, "node", tracks, chain, reads, roots_only))
        return fn

    return deco


def graph_rewriter(phase, tags=("fast_run",), name=None):
    """Register ``fn(fgraph) -> number of changes`` in ``phase``."""

    def deco(fn):
        db.register(Rewrite(fn, name or fn.__name__, phase, tags, "graph"))
        return fn

    return deco


# FAST_COMPILE runs the 'stability' rewrites too: whether a loss is finite must not depend
# on the mode (see nbgrad.rewriting.stabilize)
_BASE = {"FAST_RUN": ("fast_run",), "FAST_COMPILE": ("fast_compile", "stability"), "NONE": ()}


class Mode:
    """Which rewrites run: a tag query.

    Parameters
    ----------
    rewrites : {'FAST_RUN', 'FAST_COMPILE', 'NONE'}
        The base selection: every rewrite tagged ``fast_run`` (all the
        optimizations), only those tagged ``fast_compile`` or ``stability`` (what
        correctness needs: removing the gradient-only ops, and the forms that
        keep a loss finite where its textbook form overflows), or none.
    including : list of str
        Rewrite names or tags to add (e.g. ``'unsafe'``).
    excluding : list of str
        Rewrite names or tags to leave out (e.g. ``'fusion'``, ``'inplace'``).

    Examples
    --------
    >>> import nbgrad, nbgrad.tensor as T
    >>> from nbgrad.rewriting import Mode
    >>> x = T.dvector("x")
    >>> f = nbgrad.function([x], T.exp(x) * 2 + 1, mode=Mode(excluding=["fusion"]))
    >>> "fuse_elemwise" in f.maker.rewrites_applied
    False
    >>> Mode("FAST_COMPILE")
    Mode('FAST_COMPILE')
    """

    def __init__(self, rewrites="FAST_RUN", including=(), excluding=(), linker=None, optimizer=None):
        if optimizer is not None:  # Theano spelling
            rewrites = {"fast_run": "FAST_RUN", "fast_compile": "FAST_COMPILE", "None": "NONE"}.get(
                optimizer, optimizer)
        if rewrites not in _BASE:
            raise ValueError(
                f"Mode: rewrites must be one of {sorted(_BASE)}, got {rewrites!r}"
            )
        self.rewrites = rewrites
        self.including = tuple(including)
        self.excluding = tuple(excluding)
        unknown = [t for t in self.including + self.excluding if not _known(t)]
        if unknown:
            raise ValueError(
                f"Mode: no rewrite or tag named {', '.join(map(repr, unknown))}; "
                f"phases are {db.phases}, see nbgrad.rewriting.db.by_name for rewrite names"
            )
        self.key = (self.rewrites, self.including, self.excluding)

    def selects(self, rewrite):
        tags = rewrite.tags
        if any(t in tags for t in self.excluding):
            return False
        return any(t in tags for t in _BASE[self.rewrites]) or any(t in tags for t in self.including)

    def including_(self, *names):
        return Mode(self.rewrites, self.including + names, self.excluding)

    def excluding_(self, *names):
        return Mode(self.rewrites, self.including, self.excluding + names)

    def __eq__(self, other):
        return isinstance(other, Mode) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        extra = ""
        if self.including:
            extra += f", including={list(self.including)}"
        if self.excluding:
            extra += f", excluding={list(self.excluding)}"
        return f"Mode({self.rewrites!r}{extra})"


def _known(tag):
    if tag in db.by_name or tag in db.phases:
        return True
    return any(tag in r.tags for r in db.by_name.values())


def get_mode(mode):
    """A ``Mode`` from ``None`` (``config.mode``), a name, or a Mode."""
    if mode is None:
        mode = config.mode
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str):
        return Mode(mode.upper() if mode.upper() in _BASE else mode)
    raise TypeError(f"mode must be 'FAST_RUN', 'FAST_COMPILE' or a Mode, got {mode!r}")


def report(name, old, new):
    """Print one fired rewrite (``config.print_rewrites``)."""
    print(f"rewrite {name}: {old} -> {new}", file=sys.stdout)
