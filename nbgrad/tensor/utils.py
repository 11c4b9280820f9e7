"""Theano's ``theano.tensor.utils``: the shapes of a graph's variables for given input shapes,
and a hash of an array's contents.

>>> import nbgrad.tensor as T
>>> from nbgrad.graph.fg import FunctionGraph
>>> x = T.matrix("x")
>>> y = x[512:]
>>> fgraph = FunctionGraph([x], [y], clone=False)
>>> d = shape_of_variables(fgraph, {x: (1024, 1024)})
>>> [int(s) for s in d[y]], [int(s) for s in d[x]]
([512, 1024], [1024, 1024])
"""

import hashlib

import numpy as np

from nbgrad.tensor.type import TensorType

__all__ = ["shape_of_variables", "hash_from_ndarray"]


def shape_of_variables(fgraph, input_shapes):
    """The shape of every tensor variable of ``fgraph``, given the shape of each input.

    Parameters
    ----------
    fgraph : FunctionGraph
    input_shapes : dict
        Maps each input of ``fgraph`` to its shape (a tuple of ints).

    Returns
    -------
    dict
        Maps each tensor variable of the graph to its shape, a tuple of 0-d integer arrays
        (as Theano returned them).

    Shapes that depend on the inputs' values (``x[x.argmax():]``) are computed for inputs of
    zeros.
    """
    # lazy: nbgrad.compile builds on nbgrad.tensor
    from nbgrad.compile.function import function

    missing = [v for v in fgraph.inputs if v not in input_shapes]
    if missing:
        raise ValueError(f"shape_of_variables: no shape given for the input(s) {missing}; "
                         "input_shapes must map every input of the graph to its shape")
    variables = [v for v in fgraph.variables if isinstance(v.type, TensorType)]
    shapes = function(list(fgraph.inputs), [v.shape for v in variables], on_unused_input="ignore")
    values = [np.zeros(tuple(input_shapes[v]), dtype=v.dtype) for v in fgraph.inputs]
    return {v: tuple(np.asarray(n) for n in s) for v, s in zip(variables, shapes(*values))}


def hash_from_ndarray(data):
    """An MD5 hex digest of an array's values, shape, strides and dtype: equal arrays of one
    layout hash equal."""
    data = np.asarray(data)
    h = hashlib.md5()
    for part in (np.ascontiguousarray(data).tobytes(), str(data.shape), str(data.strides), str(data.dtype)):
        h.update(part if isinstance(part, bytes) else part.encode())
    return h.hexdigest()
