"""Typed lists: a symbolic Python list whose elements all have one type (``theano.typed_list``).

A ``TypedListType(T.fvector)`` variable stands for a list of float32 vectors of any
lengths; its ops are the list methods (``append``, ``extend``, ``insert``, ``remove``,
``reverse``, ``count``, ``index``), ``len`` through ``length`` and indexing through
``getitem`` (``tl[i]``, ``tl[1:3]``). A compiled function takes and returns plain Python
lists of arrays.

>>> import nbgrad, nbgrad.tensor as T
>>> from nbgrad import typed_list
>>> tl = typed_list.TypedListType(T.fvector)()
>>> v = T.fvector()
>>> f = nbgrad.function([tl, v], typed_list.append(tl, v))
>>> f([[1, 2, 3], [4, 5]], [2])
[array([1., 2., 3.], dtype=float32), array([4., 5.], dtype=float32), array([2.], dtype=float32)]

Every op returns new arrays: a result never shares memory with an input list's
elements, so writing into a result cannot change the caller's data. Lists are for
small, ragged data; for speed, pad to one dense tensor. The list ops are not
differentiable (as in Theano): take gradients with respect to tensors read from a list.
"""

from nbgrad.typed_list.basic import (
    Append,
    Count,
    Extend,
    GetItem,
    Index,
    Insert,
    Length,
    MakeList,
    Remove,
    Reverse,
    TypedListConstant,
    TypedListVariable,
    append,
    count,
    extend,
    getitem,
    index_,
    insert,
    length,
    make_list,
    remove,
    reverse,
)
from nbgrad.typed_list.type import TypedListType

__all__ = [
    "TypedListType", "TypedListVariable", "TypedListConstant",
    "GetItem", "Append", "Extend", "Insert", "Remove", "Reverse", "Index", "Count", "Length", "MakeList",
    "getitem", "append", "extend", "insert", "remove", "reverse", "index_", "count", "length", "make_list",
]
