"""IPython extension for nbgrad: ``%load_ext nbgrad`` (or ``nbgrad_magics``)."""

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython):
    """Register nbgrad's magics and display formatters."""


def unload_ipython_extension(ipython):
    """Remove what ``load_ipython_extension`` registered."""
