"""Reading the members of a save file's ``.npz`` archive, each checked before its data is read."""

import io
import math
import re
import struct
import zipfile
import zlib

import numpy as np

from nbgrad.serialize.format import _NUMERIC_DTYPES, SerializationError, _Malformed, _show

# Each numeric dtype in both byte orders, to its name (``dtype.name`` is slow).
_DTYPE_NAMES = {np.dtype(n).newbyteorder(o): n for n in _NUMERIC_DTYPES for o in "<>="}
# The header ``numpy.save`` writes for a plain array, e.g. {'descr': '<f8', 'fortran_order': False,
# 'shape': (2, 3), } padded with spaces to a newline.
_NPY_PLAIN_HEADER = re.compile(rb"\{'descr': '([<>|][bifuc][0-9]{1,2})', 'fortran_order': (False|True), "
                               rb"'shape': \(((?:[0-9]{1,19}, )*[0-9]{1,19},?|)\), \} *\n")
_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
# Stored and deflated members only: zipfile inflates those in bounded steps, bzip2 and lzma not.
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
# What zipfile, zlib and the .npy header parser raise on damaged bytes.
_DAMAGE = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, struct.error,
           OverflowError)
_READ_CHUNK = 1 << 24


class _Archive:
    """The members of one ``.npz`` file, each read only when the description refers to it.

    Before any data of a member is read, its size in the zip directory is checked
    against what is left of ``max_bytes``, and its ``.npy`` header (dtype, shape)
    against that size and against the type the description gives it.
    """

    def __init__(self, fh, max_bytes):
        self.max_bytes = max_bytes
        self.left = max_bytes
        self._cache = {}
        try:
            self._zip = zipfile.ZipFile(fh)
            self._members = {info.filename: info for info in self._zip.infolist()}
        except _DAMAGE as exc:
            raise SerializationError(
                f"not a readable .npz (zip) archive, so not an nbgrad save file; it may be truncated "
                f"or damaged ({exc})"
            ) from None

    def has(self, key):
        return key + ".npy" in self._members

    def array(self, key, what, expect=None, limit=None):
        """The array stored under ``key`` (``what`` says what it is, for messages).

        ``expect`` is the TensorType the description gives it; ``limit`` a bound
        below ``max_bytes`` for this member.
        """
        if type(key) is not str:
            raise _Malformed(f"{what} should name an array of the archive, got {_show(key)}")
        arr = self._cache.get(key)
        if arr is None:
            arr = self._cache[key] = self._read(key, what, expect, limit)
        elif expect is not None:
            _match(arr.dtype, arr.shape, expect, f"the member {key + '.npy'!r} ({what})")
        return arr

    def _read(self, key, what, expect, limit):
        name = key + ".npy"
        info = self._members.get(name)
        label = f"the member {name!r} ({what})"
        if info is None:
            raise _Malformed(f"{what} is the array {key!r}, but the archive has no member {name!r}")
        if info.compress_type not in _ZIP_METHODS:
            raise _Malformed(
                f"{label} uses zip compression method {info.compress_type}; save files use "
                "none or deflate"
            )
        left = self.left if limit is None else min(self.left, limit)
        if info.file_size > left:
            raise SerializationError(
                f"{label} is {info.file_size} bytes, more than the {left} bytes left of "
                f"max_bytes={self.max_bytes}{' for the description' if limit is not None else ''}; "
                "pass a larger max_bytes to load it if you trust the file"
            )
        self.left -= info.file_size
        try:
            with self._zip.open(info) as fh:
                shape, fortran, dtype = _npy_header(fh, label)
                name = _DTYPE_NAMES.get(dtype)
                if name is None:
                    if dtype.hasobject:
                        raise SerializationError(
                            f"{label} holds pickled Python objects (dtype {dtype}); nbgrad files hold only "
                            "numeric arrays, and pickled data is never loaded"
                        )
                    raise _Malformed(f"{label} has the dtype {dtype}; save files hold numeric arrays only")
                if any(s < 0 for s in shape):
                    raise _Malformed(f"{label} declares the shape {shape}")
                nbytes = math.prod(shape) * dtype.itemsize
                if fh.tell() + nbytes != info.file_size:
                    raise _Malformed(
                        f"{label} declares {name} of shape {shape}, {nbytes} bytes, but holds "
                        f"{info.file_size - fh.tell()} bytes of data"
                    )
                if expect is not None:
                    _match(dtype, shape, expect, label)
                if nbytes <= _READ_CHUNK:
                    buf = bytearray(fh.read(nbytes))
                else:
                    buf = bytearray(nbytes)
                    view = memoryview(buf)
                    pos = 0
                    while pos < nbytes and (chunk := fh.read(min(nbytes - pos, _READ_CHUNK))):
                        view[pos:pos + len(chunk)] = chunk
                        pos += len(chunk)
                    del view
                    buf = buf[:pos]
                if len(buf) != nbytes:
                    raise _Malformed(f"{label} ends after {len(buf)} of its {nbytes} bytes of data")
                if fh.read(1):  # also makes zipfile check the CRC of the whole member
                    raise _Malformed(f"{label} holds more data than its header declares")
        except SerializationError:
            raise
        except _DAMAGE as exc:
            raise _Malformed(f"{label} cannot be read ({type(exc).__name__}: {exc})") from None
        arr = np.frombuffer(buf, dtype=dtype)
        arr = arr.reshape(shape[::-1]).transpose() if fortran else arr.reshape(shape)
        return arr if dtype.isnative else arr.astype(dtype.newbyteorder("="))


def _npy_header(fh, label):
    """``(shape, fortran_order, dtype)`` from the ``.npy`` header at the start of ``fh``.

    The header NumPy writes for a plain array is matched directly; anything else
    goes to NumPy's own (slower) header parser.
    """
    start = fh.read(10)
    if start[:8] == b"\x93NUMPY\x01\x00" and len(start) == 10:
        header = fh.read(int.from_bytes(start[8:], "little"))
        m = _NPY_PLAIN_HEADER.fullmatch(header)
        if m is not None:
            shape = tuple(int(n) for n in m[3].split(b",") if n)
            try:
                return shape, m[2] == b"True", np.dtype(m[1].decode())
            except TypeError:
                raise _Malformed(f"{label} has the unknown dtype {m[1].decode()!r}") from None
        fh = io.BytesIO(start[8:] + header)
        version = (1, 0)
    else:
        version = np.lib.format.read_magic(io.BytesIO(start[:8]))
        fh.seek(8)
    if version not in _NPY_HEADERS:
        raise _Malformed(f"{label} has the .npy format version {version}; save writes 1.0 or 2.0")
    return _NPY_HEADERS[version](fh)


def _match(dtype, shape, expect, label):
    """Check an array's dtype and shape against the TensorType the description gives it."""
    if (_DTYPE_NAMES.get(dtype) != expect.dtype or len(shape) != expect.ndim
            or any(s is not None and s != n for s, n in zip(expect.shape, shape))):
        raise _Malformed(
            f"{label} holds {np.dtype(dtype).name} of shape {tuple(shape)}, but the description "
            f"gives it the type {expect} (static shape {expect.shape})"
        )
