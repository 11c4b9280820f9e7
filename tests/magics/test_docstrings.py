"""The examples in nbgrad_magics' docstrings run (the package is outside pytest's testpaths)."""

import doctest
import importlib

import pytest

MODULES = ["nbgrad_magics", "nbgrad_magics.errors", "nbgrad_magics.cell", "nbgrad_magics.display",
           "nbgrad_magics.widgets"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
