"""``torch.nn`` on nbgrad.eager: modules, parameters, losses, ``functional`` and ``init``.

Written for code that does ``import nbgrad.eager as torch`` and then uses
``torch.nn`` as in PyTorch; the gradients come from the engine's op rules.
"""

from nbgrad.eager.nn import functional, init  # noqa: F401
from nbgrad.eager.nn.modules import *  # noqa: F403
from nbgrad.eager.nn.modules import __all__ as _modules_all
from nbgrad.eager.tensor import Parameter

__all__ = ["Parameter", "functional", "init", *_modules_all]
