"""Reading graphs: ``pp``/``pprint`` (infix text), ``debugprint`` (tree) and ``latex``.

Each format has one printer (``TextPrinter``, ``LatexPrinter``) driven by the
data ops declare (symbol, precedence, LaTeX template); ``nbgrad.printing.html``
renders compiled functions, shared variables and random streams. ``Print``
is the exception that reads values, not graphs: an identity op that prints its
value each time a compiled function computes it.
"""

from nbgrad.printing import html  # noqa: F401  (nbgrad.printing.html as an attribute)
from nbgrad.printing.debug import debugprint
from nbgrad.printing.runtime import Print
from nbgrad.printing.tex import LatexPrinter, latex, latex_name
from nbgrad.printing.text import TextPrinter, pp

#: Theano's name for ``pp``
pprint = pp

__all__ = ["LatexPrinter", "Print", "TextPrinter", "debugprint", "latex", "latex_name", "pp", "pprint",
           "pydotprint"]


def pydotprint(*args, **kwargs):
    """Theano's graph-to-image function; nbgrad has none (raises ``NotImplementedError``)."""
    raise NotImplementedError(
        "nbgrad.printing.pydotprint: nbgrad does not draw graphs with pydot/graphviz; use "
        "nbgrad.debugprint(f_or_expr) for the graph as text, nbgrad.pp(expr) or "
        "nbgrad.printing.latex(expr) for the formula, or the %%symgraph cell magic in a notebook"
    )
