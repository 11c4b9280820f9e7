"""Test set-up for the whole checkout: the tests run the code of this checkout.

Notebook kernels (nbval) and the fresh IPython processes some tests start import
``nbgrad`` in a process of their own; putting the checkout first on their
``PYTHONPATH`` makes them import this checkout's code, whatever copy of nbgrad
happens to be installed.
"""

import os
import pathlib

_ROOT = str(pathlib.Path(__file__).resolve().parent)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != _ROOT])
