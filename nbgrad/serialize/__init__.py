"""Saving and loading shared variables and compiled functions, without pickle.

A saved file is one ``.npz`` archive of numeric arrays plus a JSON description
(see :mod:`nbgrad.serialize.format`). Loading imports an op class only from a
module under ``nbgrad.`` that subclasses ``Op`` or ``ScalarOp``, so a file can
name no other code to run; it reads only the arrays the description names,
checks every size against ``max_bytes`` before reading, and checks the
description field by field, so that a damaged or hostile file gives a
:class:`SerializationError` saying what is wrong and where. A function is
rebuilt from its graph and compiled again.
"""

import json
import os

import numpy as np

from nbgrad.compile.function import Function
from nbgrad.compile.sharedvalue import SharedVariable
from nbgrad.serialize.format import _DOC_KEY, _FORMAT, _VERSION, MAX_BYTES, SerializationError, _Malformed, _show
from nbgrad.serialize.read import _NULL, _field, _read_object, _reading
from nbgrad.serialize.write import _expect_shared, _Writer, _write_function
from nbgrad.tensor.type import TensorType

__all__ = ["save", "load", "load_into", "SerializationError"]


def save(path, obj):
    """Write ``obj`` to ``path`` as an ``.npz`` archive that loads without pickle.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (NumPy adds ``.npz`` when the name lacks it).
    obj : SharedVariable, dict or list of SharedVariables, or Function
        A shared variable, a collection of them (e.g. a model's parameters),
        or a compiled function with its graph, inputs, updates, givens and the
        shared variables it uses.

    Raises
    ------
    TypeError
        When ``obj`` is none of the above, or when the graph holds an op or a
        value that cannot be written without pickle (the message names it).

    Examples
    --------
    >>> import os, tempfile, nbgrad, nbgrad.tensor as T
    >>> d = tempfile.mkdtemp()
    >>> w = nbgrad.shared([1.0, 2.0], name="w")
    >>> x = T.dvector("x")
    >>> f = nbgrad.function([x], (x * w).sum(), updates=[(w, w + 1)])
    >>> nbgrad.save(os.path.join(d, "f.npz"), f)
    >>> g = nbgrad.load(os.path.join(d, "f.npz"))
    >>> float(g([1.0, 1.0])), float(f([1.0, 1.0]))
    (3.0, 3.0)
    >>> g.maker.user_updates[0][0].get_value()
    array([2., 3.])
    """
    writer = _Writer()
    doc = {"format": _FORMAT, "version": _VERSION}
    if isinstance(obj, SharedVariable):
        doc["kind"] = "shared"
        doc["object"] = {"var": writer.var(obj)}
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"save: dict keys must be strings, got {k!r}")
            _expect_shared(v, f"the dict entry {k!r}")
        doc["kind"] = "dict"
        doc["object"] = {"items": [[k, writer.var(v)] for k, v in obj.items()]}
    elif isinstance(obj, (list, tuple)):
        for k, v in enumerate(obj):
            _expect_shared(v, f"item {k}")
        doc["kind"] = "list"
        doc["object"] = {"items": [writer.var(v) for v in obj]}
    elif isinstance(obj, Function):
        doc["kind"] = "function"
        doc["object"] = _write_function(writer, obj)
    else:
        raise TypeError(
            f"save: cannot save {type(obj).__name__}; expected a shared variable, a dict or list "
            "of shared variables, or a compiled function"
        )
    writer.finish()
    doc["shared"] = writer.shared
    doc["graph"] = writer.graph()
    text = json.dumps(doc, allow_nan=True).encode("utf-8")
    arrays = dict(writer.arrays)
    arrays[_DOC_KEY] = np.frombuffer(text, dtype=np.uint8)
    np.savez(os.fspath(path), allow_pickle=False, **arrays)


def load(path, max_bytes=MAX_BYTES):
    """Read what :func:`save` wrote; never runs pickled code.

    Shared variables come back as new shared variables holding the saved
    values; a function is rebuilt from its graph, compiled with its saved mode
    and backend, and updates its own (new) shared variables.

    Only the arrays that the file's description refers to are read, and each
    is checked (its size in the archive, its dtype and shape against the
    description) before its data is, so a damaged or hostile file is refused
    before it costs memory.

    Parameters
    ----------
    path : str or os.PathLike
    max_bytes : int
        The most bytes of arrays and description that loading may read
        (default ``2**30``, 1 GiB); the description alone may take a
        sixteenth of it (or 1 MiB if that is more), since its parsed form
        takes several times its size. A type whose static shape needs more
        than ``max_bytes`` is refused too. Raise it to load larger files you
        trust.

    Returns
    -------
    SharedVariable, dict, list or Function
        The same kind of object that was saved.

    Raises
    ------
    SerializationError
        When the file is not an nbgrad save file, is damaged or truncated,
        holds pickled objects, names an op class outside nbgrad, or needs more
        than ``max_bytes``; the message names the member, field or node.
    FileNotFoundError
        When there is no file at ``path``.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nbgrad
    >>> path = os.path.join(tempfile.mkdtemp(), "params.npz")
    >>> nbgrad.save(path, {"W": nbgrad.shared(np.eye(2), name="W")})
    >>> params = nbgrad.load(path)
    >>> params["W"].get_value()
    array([[1., 0.],
           [0., 1.]])
    >>> nbgrad.load(path, max_bytes=100)
    Traceback (most recent call last):
    ...
    nbgrad.serialize.SerializationError: load: '...params.npz': the member '__nbgrad__.npy' (the description) is ... bytes, more than the 100 bytes left of max_bytes=100 for the description; pass a larger max_bytes to load it if you trust the file
    """
    with _reading(path, "load", max_bytes) as (doc, reader):
        return _read_object(reader, doc)


def load_into(path, shared_vars, strict=True, max_bytes=MAX_BYTES):
    """Set the values of existing shared variables from a saved file, by name.

    Every value is checked (presence, dtype, shape) before any is set: on an
    error no shared variable changes.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save` (shared variables, a dict or list of
        them, or a function: its shared variables are used).
    shared_vars : dict, list or SharedVariable
        The targets. A dict is matched by its keys, anything else by the
        variables' names.
    strict : bool
        Require that every target has a value in the file and every value in
        the file has a target (default True).
    max_bytes : int
        The most bytes of arrays and description to read, as in :func:`load`;
        only the values of the targets are read.

    Returns
    -------
    list of str
        The names that were set.

    Examples
    --------
    >>> import os, tempfile, numpy as np, nbgrad
    >>> path = os.path.join(tempfile.mkdtemp(), "params.npz")
    >>> W = nbgrad.shared(np.ones(2), name="W")
    >>> nbgrad.save(path, [W])
    >>> W2 = nbgrad.shared(np.zeros(2), name="W")
    >>> nbgrad.load_into(path, [W2])
    ['W']
    >>> W2.get_value()
    array([1., 1.])
    """
    targets = _targets(shared_vars)
    with _reading(path, "load_into", max_bytes) as (doc, reader):
        if doc["kind"] == "dict":
            items = _field(doc["object"], "items", "the saved dict", list)
            for k, item in enumerate(items):
                if type(item) is not list or len(item) != 2 or type(item[0]) is not str:
                    raise _Malformed(f"item {k} of the saved dict should be a pair [name, variable], got {_show(item)}")
            where = {key: i for key, i in items}
            value_of = reader.shared_value_of
        else:
            where = {}
            for k, entry in enumerate(doc["shared"]):
                name = _field(entry, "name", f"shared variable {k}", str, _NULL)
                if name is not None:
                    where.setdefault(name, k)
            def value_of(k, what):
                return reader.shared_value(k, what)[2]
        # Only the values that will be set are read.
        found = {name: (value_of(i, f"the saved value of {name!r}") if name in targets else None)
                 for name, i in where.items()}
    missing = [k for k in targets if k not in found]
    extra = [k for k in found if k not in targets]
    if strict and (missing or extra):
        parts = []
        if missing:
            parts.append(f"no saved value for {missing}")
        if extra:
            parts.append(f"no target for the saved {extra}")
        raise KeyError(
            f"load_into: {'; '.join(parts)} (the file has {sorted(found)}); "
            "pass strict=False to set only the names present in both"
        )
    new = {}
    for name, var in targets.items():
        if name not in found:
            continue
        value = found[name]
        if isinstance(var.type, TensorType):
            current = var.get_value(borrow=True)
            if (not isinstance(value, np.ndarray) or value.dtype.name != var.type.dtype
                    or value.shape != tuple(current.shape)):
                got = (f"dtype {value.dtype.name}, shape {value.shape}" if isinstance(value, np.ndarray)
                       else type(value).__name__)
                raise ValueError(
                    f"load_into: the saved value of {name!r} has {got}, but the shared variable "
                    f"has dtype {var.type.dtype}, shape {tuple(current.shape)}; nothing was set"
                )
        else:
            try:
                var.type.filter(value, what=f"the saved value of {name!r}")
            except TypeError as exc:
                raise ValueError(f"load_into: {exc}; nothing was set") from None
        new[name] = value
    for name, value in new.items():
        targets[name].set_value(value)
    return list(new)


def _targets(shared_vars):
    if isinstance(shared_vars, SharedVariable):
        shared_vars = [shared_vars]
    if isinstance(shared_vars, dict):
        items = list(shared_vars.items())
    else:
        items = []
        for v in shared_vars:
            if isinstance(v, SharedVariable) and v.name is None:
                raise ValueError(
                    "load_into: a target shared variable has no name; name it "
                    "(shared(..., name=...)) or pass a dict {name: shared variable}"
                )
            items.append((getattr(v, "name", None), v))
    out = {}
    for name, v in items:
        if not isinstance(v, SharedVariable):
            raise TypeError(f"load_into: the target {name!r} is a {type(v).__name__}, not a shared variable")
        if name in out:
            raise ValueError(f"load_into: two targets are named {name!r}")
        out[name] = v
    return out
