"""Reading graphs: ``pp`` (infix text), ``debugprint`` (tree) and ``latex``."""

from nbgrad.printing.pp import debugprint, latex, pp

__all__ = ["debugprint", "latex", "pp"]
