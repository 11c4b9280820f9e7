"""The phase list: every rewrite phase, in the order it runs.

======================  ==============================================================
phase                   what it does
======================  ==============================================================
``canonicalize``        remove gradient-only ops; bring equivalent forms to one form
                        (``a - b`` → ``a + -b`` is *not* done: forms stay readable)
``constant_fold``       evaluate nodes whose inputs are all constants
``merge``               common subexpression elimination, identical constants merged
``simplify``            algebraic identities (x*1, x+0, --x, log(exp x), powers, ...)
``specialize``          faster or more stable forms (sqr, sigmoid, log1p, softmax), and
                        the stabilizing rewrites of ``stabilize`` (log(sigmoid(x)),
                        log(1 + exp(x)), log(sum(exp(x))), log(softmax(x)), ...); sums
                        of broadcast products as matrix products (``contraction``)
``fusion``              chains of elementwise ops become one ``Composite`` node
``inplace``             elementwise results written into dead intermediate buffers
======================  ==============================================================

Modes select rewrites by tag: ``fast_run`` (all of the above), ``fast_compile``
(correctness only: removing the gradient-only ops; FAST_COMPILE also runs every
``stability`` rewrite, so a loss is finite in every mode), ``stability`` (rewrites that
are more accurate than the original and so may differ from it: ``log(exp(x))`` → ``x``
turns an overflow into a finite result, ``log(1+x)`` → ``log1p(x)`` keeps the sign of
``x = -0.0``, ``cancel_reciprocal`` turns ``(1/sigmoid(x))·sigmoid(x)`` into 1 where
``sigmoid(x)`` underflows to 0) and
``unsafe`` (identities that hold only for finite values, e.g. ``x*0`` → ``0``;
not in ``fast_run``: include them by name or with ``including=['unsafe']``).
"""

from nbgrad.rewriting.db import db

PHASES = ("canonicalize", "constant_fold", "merge", "simplify", "specialize", "fusion", "inplace")

for _phase in PHASES:
    db.add_phase(_phase)

# The families register themselves into the phases above on import.
from nbgrad.rewriting import (  # noqa: E402,F401
    algebraic, canonicalize, constant_folding, contraction, fusion, inplace, merge, onehot, polynomial,
    shapes, specialize, stabilize, subtensor,
)
