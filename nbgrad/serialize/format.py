"""The nbgrad save file format.

A saved file is one ``.npz`` archive written with ``allow_pickle=False``. It
holds the numeric arrays (shared values, constants, defaults) and, under the
key ``__nbgrad__``, a JSON document (UTF-8 bytes in a uint8 array) that
describes everything else:

- ``shared``: one entry per shared variable (name, type, value, default update);
- ``graph``: the variables and Apply nodes of every expression involved, in
  topological order. An op is written as the import path of its class plus its
  ``__props__``, encoded recursively (numbers, strings, tuples, dtypes, nested
  ops such as the scalar op of an ``Elemwise``); an op with an inner graph
  (``Composite``, ``Scan``) gives ``inner_graph_form()`` instead, written as
  its inner graph (``inner``) and settings (``settings``, a ``Scan``'s
  ``ScanInfo``), and is rebuilt by its class's ``from_inner_graph``;
- ``object``: what was saved (a shared variable, a dict or list of them, or a
  function's inputs, outputs, updates, givens, mode and backend).
"""

from nbgrad.tensor.type import complex_dtypes, discrete_dtypes, float_dtypes

_DOC_KEY = "__nbgrad__"
_FORMAT = "nbgrad"
_VERSION = 1
#: The default of ``max_bytes``: how many bytes of arrays and description one load may read.
MAX_BYTES = 1 << 30
_VALUE_TAGS = ("__tuple__", "__float__", "__scalar__", "__dtype__", "__dict__", "__array__", "__op__")
_NUMERIC_DTYPES = frozenset(discrete_dtypes + float_dtypes + complex_dtypes)


class SerializationError(ValueError):
    """A file that is not a valid nbgrad save file, or that names code nbgrad will not load."""


SerializationError.__module__ = "nbgrad.serialize"  # where it is documented and imported from


class _Malformed(SerializationError):
    """Content that is not what ``save`` writes; the message says what and where."""


def _show(x):
    text = repr(x)
    return text if len(text) <= 60 else text[:56] + " ..."


def _allowed_module(name):
    return isinstance(name, str) and (name == "nbgrad" or name.startswith("nbgrad."))
