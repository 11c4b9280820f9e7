"""Theano's ``sandbox`` import paths (``nbgrad.sandbox.rng_mrg.MRG_RandomStreams``)."""

from nbgrad.sandbox import rng_mrg

__all__ = ["rng_mrg"]


def __getattr__(name):
    if name == "cuda":
        # lazy: the parent package nbgrad imports this one before it defines _unsupported
        from nbgrad import _unsupported

        raise _unsupported("sandbox.cuda")
    raise AttributeError(f"module 'nbgrad.sandbox' has no attribute {name!r}")
