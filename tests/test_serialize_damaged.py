"""Loading damaged and hostile save files: a SerializationError that says what and where, never
another exception, a wrong result, a large allocation or code from the file."""

import io
import json
import random
import tracemalloc
import zipfile

import numpy as np
import pytest

import nbgrad
import nbgrad.tensor as T
from nbgrad.ifelse import ifelse
from nbgrad.serialize import SerializationError


@pytest.fixture
def path(tmp_path):
    return tmp_path / "saved.npz"


def _doc(path):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return json.loads(arrays.pop("__nbgrad__").tobytes().decode()), arrays


def _write(path, text, arrays):
    """A save file with the description ``text`` (a str, so that it can be any JSON at all)."""
    arrays = dict(arrays)
    arrays["__nbgrad__"] = np.frombuffer(text.encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def _npy_member(zf, name, header, data=b""):
    """A member ``name`` holding a .npy header that declares ``header`` (dtype, shape), then ``data``."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    zf.writestr(name, buf.getvalue() + data)


def _step(path):
    """Save a small training step; return (the function, its shared variable, an input)."""
    w = nbgrad.shared(np.array([0.5, -1.0, 2.0]), name="w")
    x = T.dvector("x")
    loss = T.tanh(x * w).sum() + T.constant(np.float64(0.25))
    f = nbgrad.function([x], loss, updates=[(w, w - 0.1 * nbgrad.grad(loss, w))])
    nbgrad.save(path, f)
    return f, w, np.array([1.0, 2.0, -3.0])


def _expected(f, w, x):
    """Two calls of a fresh copy of ``f``: outputs and the shared value after each."""
    start = w.get_value()
    out = []
    for _ in range(2):
        out.append((np.asarray(f(x)), w.get_value()))
    w.set_value(start)
    return out


def _check_loaded(g, expected, x):
    (v,) = g.maker.shared_vars
    for out, value in expected:
        np.testing.assert_array_equal(g(x), out)
        np.testing.assert_array_equal(v.get_value(), value)


# --------------------------------------------------------------- memory
def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_member_the_description_does_not_name_is_never_read(path):
    f, w, x = _step(path)
    expected = _expected(f, w, x)
    size = 64 << 20
    with zipfile.ZipFile(path, "a") as zf:
        with zf.open("extra.npy", "w", force_zip64=True) as out:
            for _ in range(size >> 20):
                out.write(bytes(1 << 20))
    got = []
    peak = _peak_bytes(lambda: got.append(nbgrad.load(path)))
    assert peak < size // 8
    _check_loaded(got[0], expected, x)


def test_a_deflate_bomb_that_is_not_referenced_costs_nothing(path):
    f, w, x = _step(path)
    expected = _expected(f, w, x)
    size = 64 << 20
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("bomb.npy", "w", force_zip64=True) as out:
            for _ in range(size >> 20):
                out.write(bytes(1 << 20))
    assert path.stat().st_size < size // 100
    got = []
    peak = _peak_bytes(lambda: got.append(nbgrad.load(path)))
    assert peak < size // 8
    _check_loaded(got[0], expected, x)


def test_max_bytes_refuses_a_large_member_before_reading_it(path):
    w = nbgrad.shared(np.zeros(1000), name="w")
    nbgrad.save(path, [w])
    with pytest.raises(SerializationError, match=r"member 'a0\.npy' \(the value of shared variable 0 \('w'\)\)"
                       r" is 8128 bytes.*max_bytes=6000.*larger max_bytes"):
        nbgrad.load(path, max_bytes=6000)
    (back,) = nbgrad.load(path, max_bytes=20000)
    np.testing.assert_array_equal(back.get_value(), np.zeros(1000))
    with pytest.raises(SerializationError, match=r"'a0\.npy'.*max_bytes=6000"):
        nbgrad.load_into(path, [nbgrad.shared(np.ones(1000), name="w")], max_bytes=6000)
    with pytest.raises(ValueError, match="max_bytes must be a positive number of bytes"):
        nbgrad.load(path, max_bytes=0)


def test_max_bytes_counts_every_member_together(path):
    nbgrad.save(path, [nbgrad.shared(np.zeros(500), name=n) for n in "abc"])  # 3 x ~4 kB
    with pytest.raises(SerializationError, match=r"'a2\.npy'.*bytes left of max_bytes=10000"):
        nbgrad.load(path, max_bytes=10000)


def test_a_declared_shape_of_1e11_float64_is_refused_before_allocating(path):
    nbgrad.save(path, nbgrad.shared(np.zeros(2), name="w"))
    doc, arrays = _doc(path)
    with zipfile.ZipFile(path, "w") as zf:
        _npy_member(zf, "a0.npy", {"descr": "<f8", "fortran_order": False, "shape": (10**11,)}, bytes(16))
        _npy_member(zf, "__nbgrad__.npy", {"descr": "|u1", "fortran_order": False,
                                           "shape": (len(json.dumps(doc)),)}, json.dumps(doc).encode())
    peak = _peak_bytes(lambda: pytest.raises(
        SerializationError, nbgrad.load, path).match(r"'a0\.npy'.*declares float64 of shape \(100000000000,\)"))
    assert peak < 1 << 20


def test_a_static_shape_beyond_max_bytes_is_refused(path):
    x = T.dvector("x")
    nbgrad.save(path, nbgrad.function([x], x * 2))
    doc, arrays = _doc(path)
    doc["graph"]["variables"][0]["type"]["shape"] = [10**11]
    _write(path, json.dumps(doc), arrays)
    with pytest.raises(SerializationError, match=r"graph variable 0 has the static shape \[100000000000\] "
                       r"of float64, 800000000000 bytes, more than max_bytes=1073741824"):
        nbgrad.load(path)


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_compression_that_inflates_without_bound_is_refused(path, method):
    nbgrad.save(path, nbgrad.shared(np.zeros(2), name="w"))
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data, compress_type=method if name == "a0.npy" else zipfile.ZIP_STORED)
    with pytest.raises(SerializationError, match=r"'a0\.npy'.*compression method.*none or deflate"):
        nbgrad.load(path)


def test_deflated_fortran_and_big_endian_members_load(path):
    """Files from other writers (savez_compressed, Fortran order, big-endian) still load right."""
    value = np.asfortranarray(np.arange(6.0).reshape(2, 3)).astype(">f8", order="F")
    nbgrad.save(path, nbgrad.shared(np.zeros((2, 3)), name="w"))
    doc, arrays = _doc(path)
    arrays["a0"] = value
    arrays["__nbgrad__"] = np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8)
    np.savez_compressed(path, **arrays)
    got = nbgrad.load(path).get_value()
    np.testing.assert_array_equal(got, np.arange(6.0).reshape(2, 3))
    assert got.dtype == np.float64 and got.dtype.isnative


# --------------------------------------------------------------- damaged bytes
def test_truncation_at_every_kth_byte(path):
    f, w, x = _step(path)
    raw = path.read_bytes()
    for cut in list(range(0, len(raw), 37)) + [len(raw) - 1]:
        path.write_bytes(raw[:cut])
        with pytest.raises(SerializationError, match="saved.npz"):
            nbgrad.load(path)


def test_single_bit_flips_give_the_right_function_or_a_serialization_error(path):
    """One flipped bit per ~1/300 of the file, at a seeded position within it."""
    f, w, x = _step(path)
    expected = _expected(f, w, x)
    raw = path.read_bytes()
    rng = random.Random(1234)
    nbits = len(raw) * 8
    step = max(1, nbits // 300)
    refused = loaded = 0
    for start in range(0, nbits, step):
        bit = rng.randrange(start, min(start + step, nbits))
        damaged = bytearray(raw)
        damaged[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(damaged))
        try:
            g = nbgrad.load(path)
        except SerializationError:
            refused += 1
            continue
        _check_loaded(g, expected, x)
        loaded += 1
    assert refused > 100 and loaded > 0  # both outcomes occur: the loop tested something


def test_a_flipped_data_bit_is_caught_by_the_checksum(path):
    nbgrad.save(path, nbgrad.shared(np.arange(4.0), name="w"))
    raw = bytearray(path.read_bytes())
    offset = raw.index(np.arange(4.0).tobytes())
    raw[offset + 9] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(SerializationError, match=r"'a0\.npy'.*cannot be read.*CRC"):
        nbgrad.load(path)


# --------------------------------------------------------------- damaged or hostile descriptions
def _edit_first(key, value):
    def edit(doc):
        doc["graph"]["variables"][0][key] = value
    return edit


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def edit(doc):
        d = doc
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
    return edit


_BAD_DESCRIPTIONS = [
    ("object null", _set("object", None), r"the description: the field 'object' should be an object, got None"),
    ("string index", _set("object", "outputs", 0, "var", "3"),
     r"output 0 of the saved function: the field 'var' should be an integer, got '3'"),
    ("bool index", _set("graph", "nodes", 0, "inputs", [True, 1]), r"input 0 of node 0 \(Elemwise\) is the variable True"),
    ("index out of range", _set("graph", "nodes", 0, "inputs", [0, 99]), r"input 1 of node 0 \(Elemwise\) is the variable 99"),
    ("forward reference", _set("graph", "nodes", 0, "inputs", [0, 3]),
     r"input 1 of node 0 \(Elemwise\) is the variable 3.*defined by then"),
    ("output onto an input", _set("graph", "nodes", 0, "outputs", [0]),
     r"output 0 of node 0 \(Elemwise\) is the variable 0; expected the index of an output variable"),
    ("value tag as op", _set("graph", "nodes", 0, "op", {"__tuple__": []}),
     r"the op of node 0 should be an op \{'class': ..., 'props': ...\}, got \{'__tuple__': \[\]\}"),
    ("value tag in a property", _set("graph", "nodes", 0, "op", "props", "scalar_op", {"__tuple__": []}),
     r"the op of node 0: nbgrad.tensor.elemwise:Elemwise cannot be built from the properties"),
    ("unknown value tag", _set("graph", "nodes", 0, "op", "props", "scalar_op", {"__code__": "x"}),
     r"the op of node 0: its property 'scalar_op' holds \{'__code__': 'x'\}"),
    ("bad float", _set("graph", "nodes", 0, "op", "props", "scalar_op", {"__float__": "1e999x"}),
     r"its property 'scalar_op' holds the __float__ value '1e999x'"),
    ("scalar overflow", _set("graph", "nodes", 0, "op", "props", "scalar_op", {"__scalar__": ["int8", 1000]}),
     r"its property 'scalar_op' holds the int8 scalar 1000"),
    ("object dtype input", _edit_first("type", {"tensor": "object", "shape": [None]}),
     r"graph variable 0 has the dtype 'object'; nbgrad loads tensors of the numeric dtypes"),
    ("negative static shape", _edit_first("type", {"tensor": "float64", "shape": [-3]}),
     r"graph variable 0 has the static shape \[-3\]; expected .* non-negative integer or null"),
    ("non-integer static shape", _edit_first("type", {"tensor": "float64", "shape": [2.5]}),
     r"graph variable 0 has the static shape \[2.5\]"),
    ("unknown type", _edit_first("type", {"python": "list"}), r"graph variable 0 has the type \{'python': 'list'\}"),
    ("unknown kind", _edit_first("kind", "lambda"), r"graph variable 0 has the kind 'lambda'"),
    ("missing field", lambda doc: doc["graph"]["variables"][0].pop("type"), r"graph variable 0 has no field 'type'"),
    ("name not a string", _edit_first("name", {"a": 1}), r"graph variable 0: the field 'name' should be a string or null"),
    ("shared index", _set("graph", "variables", 1, "shared", 7),
     r"graph variable 1 is the shared variable 7; expected the index of one of the file's 1 shared"),
    ("shared dtype", _set("shared", 0, "type", "tensor", "float32"),
     r"'a\d+\.npy' \(the value of shared variable 0 \('w'\)\) holds float64 of shape \(3,\), but the "
     r"description gives it the type"),
    ("missing array", _set("shared", 0, "value", "a99"), r"the value of shared variable 0 \('w'\) is the array 'a99'"),
    ("mode", _set("object", "mode", {"rewrites": "TURBO", "including": [], "excluding": []}),
     r"the mode of the saved function is not valid"),
    ("single output", _set("object", "outputs", []), r"single_output.*lists 0"),
    ("unknown object kind", _set("kind", "module"), r"the description's kind is 'module'"),
    ("composite without graph", _set("graph", "nodes", 0, "op", {"class": "nbgrad.scalar.composite:Composite",
                                                                "composite": {"inputs": [5]}}),
     r"the op of node 0, the inner graph of its Composite: the graph has no field 'variables'"),
]


@pytest.mark.parametrize("edit, message", [c[1:] for c in _BAD_DESCRIPTIONS], ids=[c[0] for c in _BAD_DESCRIPTIONS])
def test_a_bad_description_is_refused_saying_where(path, edit, message):
    _step(path)
    doc, arrays = _doc(path)
    edit(doc)
    _write(path, json.dumps(doc), arrays)
    with pytest.raises(SerializationError, match="saved.npz") as info:
        nbgrad.load(path)
    assert info.match(message)


@pytest.mark.parametrize("text, message", [
    pytest.param("[" * 100_000 + "]" * 100_000, "nests lists or objects too deeply", id="deep JSON"),
    pytest.param('{"format": "nbgrad", "version": 1, "kind": "list", "object": {"items": [' + "7" * 5000 + "]}}",
                 "an integer of 5000 digits", id="5000 digits"),
    pytest.param("\xff{}", "not valid JSON", id="not JSON"),
    pytest.param('{"format": "nbgrad", "version": 1, "kind": "list", "object": {"items": []}, "shared": {}, '
                 '"graph": {}}', "the description: the field 'shared' should be a list", id="shared not a list"),
    pytest.param('{"format": "nbgrad", "version": 2}', "format version 2; this nbgrad reads version 1",
                 id="version"),
    pytest.param("[]", "not an nbgrad save file", id="a list"),
])
def test_a_description_that_is_no_save_description(path, text, message):
    _write(path, text, {})
    with pytest.raises(SerializationError, match=message):
        nbgrad.load(path)


def test_deep_value_nesting_is_refused(path):
    _step(path)
    doc, arrays = _doc(path)
    nested = 1
    for _ in range(60):
        nested = {"__tuple__": [nested]}
    doc["graph"]["nodes"][0]["op"]["props"]["scalar_op"] = nested
    _write(path, json.dumps(doc), arrays)
    with pytest.raises(SerializationError, match="node 0.*nests values or ops more than"):
        nbgrad.load(path)


@pytest.mark.parametrize("build, prop", [
    (lambda x: x.dimshuffle(0, "x"), "input_ndim"),
    (lambda x: x.reshape((2, -1)), "ndim"),
    (lambda x: ifelse(T.gt(x.sum(), 0), x, -x), "n_outs"),
])
def test_a_count_in_an_op_property_is_bounded_before_the_op_is_built(path, build, prop):
    """Ops loop over their dimension and output counts when built: 10**6 of them is refused first."""
    x = T.dvector("x")
    nbgrad.save(path, nbgrad.function([x], build(x)))
    doc, arrays = _doc(path)
    (node,) = [n for n in doc["graph"]["nodes"] if prop in n["op"].get("props", {})]
    node["op"]["props"][prop] = 10**6
    _write(path, json.dumps(doc), arrays)
    with pytest.raises(SerializationError, match=rf"the op of node \d+: its property '{prop}' is 1000000; "
                       rf"a {prop} beyond \d+ is not one that save writes"):
        nbgrad.load(path)


def test_bad_random_generator_state_is_refused(path):
    from nbgrad.random import RandomStreams

    srng = RandomStreams(seed=3)
    nbgrad.save(path, nbgrad.function([], srng.normal((2,))))
    doc, arrays = _doc(path)
    (entry,) = [e for e in doc["shared"] if "state" in e]
    good = entry["state"]
    for state, message in [({"__dict__": {"bit_generator": "__import__"}}, "unknown random bit generator"),
                           ({"__dict__": {"bit_generator": "BitGenerator"}}, "unknown random bit generator"),
                           ({"__dict__": {**good["__dict__"], "state": "x"}}, "no valid RandomState state")]:
        entry["state"] = state
        _write(path, json.dumps(doc), arrays)
        with pytest.raises(SerializationError, match=message):
            nbgrad.load(path)


def test_load_into_reads_only_the_values_it_sets(path):
    nbgrad.save(path, {"a": nbgrad.shared(np.ones(2), name="a"), "b": nbgrad.shared(np.ones(3), name="b")})
    doc, arrays = _doc(path)
    b_key = doc["shared"][1]["value"]
    arrays[b_key] = np.array([{"pickled": True}], dtype=object)
    _write(path, json.dumps(doc), arrays)
    a = nbgrad.shared(np.zeros(2), name="a")
    assert nbgrad.load_into(path, {"a": a}, strict=False) == ["a"]
    np.testing.assert_array_equal(a.get_value(), np.ones(2))
    with pytest.raises(SerializationError, match="pickled"):
        nbgrad.load_into(path, {"a": a, "b": nbgrad.shared(np.zeros(3), name="b")})


# --------------------------------------------------------------- no code from the file
@pytest.mark.parametrize("where, bad", [
    ("op", "builtins:eval"),
    ("op", "nbgrad.__main__:Op"),
    ("op", "nbgrad.tensor.elemwise:__builtins__"),
    ("op", "nbgrad..x:Op"),
    ("constant", "os:system"),
    ("constant", "nbgrad.tensor.elemwise:Elemwise"),
])
def test_no_class_outside_nbgrad_is_imported_or_called(path, where, bad):
    x = T.dvector("x")
    nbgrad.save(path, nbgrad.function([x], T.exp(x) + 1.0))
    doc, arrays = _doc(path)
    if where == "op":
        doc["graph"]["nodes"][0]["op"]["class"] = bad
    else:
        (const,) = [e for e in doc["graph"]["variables"] if e["kind"] == "constant"]
        const["class"] = bad
    _write(path, json.dumps(doc), arrays)
    with pytest.raises(SerializationError,
                       match="outside nbgrad|which this nbgrad does not have|not an nbgrad (op|constant) class"):
        nbgrad.load(path)


def test_an_object_array_anywhere_is_refused_as_pickled(path):
    x = T.dvector("x")
    nbgrad.save(path, nbgrad.function([x], x + np.array([1.0, 2.0])))
    doc, arrays = _doc(path)
    (const,) = [e for e in doc["graph"]["variables"] if e["kind"] == "constant"]
    arrays[const["data"]] = np.array([print], dtype=object)
    _write(path, json.dumps(doc), arrays)
    with pytest.raises(SerializationError, match=r"holds pickled Python objects.*never loaded"):
        nbgrad.load(path)
