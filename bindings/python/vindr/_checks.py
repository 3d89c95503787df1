"""Checks of the values the package hands to C. ctypes truncates integers to the C type, stops
strings at the first NUL and writes through any address it is given; these checks turn such
values into `InvalidArgumentError` naming the argument before the call."""
from __future__ import annotations

import ctypes
import operator
import os

import numpy as np

from .errors import InvalidArgumentError
from . import _constants as C


def c_int(name: str, value, fn, index: int) -> int:
    """`value` as an int in the range of argument `index` of the prototype `fn` (its declared
    ctypes type; an integer carried in a double must be exact, so within +-2**53). Python ints,
    bools and numpy integers are accepted; floats and values out of range are not."""
    ctype = fn.argtypes[index]
    if ctype is ctypes.c_double:
        lo, hi = -(1 << 53), 1 << 53
    else:
        bits = 8 * ctypes.sizeof(ctype)
        lo = -(1 << bits - 1) if ctype(-1).value < 0 else 0
        hi = (1 << bits - (lo < 0)) - 1
    try:
        v = operator.index(value)
    except TypeError:
        v = None
    if v is None or not lo <= v <= hi:
        raise InvalidArgumentError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return v


def c_str(name: str, value) -> bytes:
    """`value` (str, bytes or os.PathLike; str encoded as the file system encodes it, UTF-8) as
    the bytes of a `char const *` argument, which must not contain NUL (C would stop there)."""
    try:
        b = os.fsencode(value)
    except TypeError:
        raise InvalidArgumentError(f"{name} must be a str, bytes or path, got {type(value).__name__}") from None
    if b"\0" in b:
        raise InvalidArgumentError(f"{name} contains a NUL character: {value!r}")
    return b


def c_int64_array(name: str, value) -> np.ndarray:
    """`value` as a C-contiguous int64 array. Floats are truncated toward zero as int() does;
    NaN, infinities and values outside int64 (which a cast makes -2**63) are rejected. Per-call
    cost matters (WBF takes its labels through here once per image): valid floats cost one dot
    product (the sum of squares bounds every |value|; NaN and infinities make it fail) and the
    cast; only when that test fails are the values checked one by one."""
    a = np.asarray(value)
    if a.dtype == np.int64:
        return np.ascontiguousarray(a)
    if a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
        raise InvalidArgumentError(f"{name} must be within int64, got {a[a > np.iinfo(np.int64).max].flat[0]!r}")
    if a.dtype.kind == "f" and a.size and not np.dot(a.reshape(-1), a.reshape(-1)) < 2.0**126:
        lo, hi = a.min(), a.max()  # NaN fails both comparisons below
        if not (lo >= -2.0**63 and hi < 2.0**63):
            with np.errstate(invalid="ignore"):
                bad = ~((a >= -2.0**63) & (a < 2.0**63))
            raise InvalidArgumentError(f"{name} must be finite and within int64, got {a[bad].flat[0]!r}")
    return np.ascontiguousarray(a, dtype=np.int64)


def c_out(name: str, value, shape: tuple[int, int], dtype) -> int:
    """Checks that `value` is a numpy array C may write `shape` rows of `dtype` into: writable,
    aligned, columns adjacent and rows apart by at least a row (C-contiguous or a view of whole
    columns of a wider array). Returns the size in bytes from its first sample to its last."""
    dtype = np.dtype(dtype)
    if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype != dtype:
        got = f"{value.dtype.name} {value.shape}" if isinstance(value, np.ndarray) else type(value).__name__
        raise InvalidArgumentError(f"{name} must be a {dtype.name} array of shape {shape}, got {got}")
    if not value.flags.writeable:
        raise InvalidArgumentError(f"{name} is not writable (read-only array or memory)")
    row = shape[1] * dtype.itemsize
    if not value.flags.aligned or value.strides[1] != dtype.itemsize or value.strides[0] < row:
        raise InvalidArgumentError(f"{name} must be aligned with adjacent columns and rows at least {row} bytes "
                                   f"apart, got strides {value.strides}")
    return value.strides[0] * (shape[0] - 1) + row


# `missing=` names (what to do with an image that should be there and is not): the library decides
# which a call takes (a dataset: error or skip; an evaluation: all three).
MISSING = {"error": C.VDR_MISSING_ERROR, "skip": C.VDR_MISSING_SKIP, "empty": C.VDR_MISSING_EMPTY}
