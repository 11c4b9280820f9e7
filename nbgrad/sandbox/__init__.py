"""Theano's ``sandbox`` import paths (``nbgrad.sandbox.rng_mrg.MRG_RandomStreams``)."""
