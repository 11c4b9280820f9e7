"""Theano's import path for ``RandomStreams`` (``from nbgrad.tensor.shared_randomstreams import RandomStreams``)."""

from nbgrad.random.streams import RandomStreams

__all__ = ["RandomStreams"]
