"""Loading the native library and declaring the C prototypes (ctypes).

Every C function the package calls is declared once with `prototype()`, from the signatures
scripts/gen_header.py generates from the header (`_prototypes.py`), and recorded in `PROTOTYPES`;
a test checks that table against the header and the library's exports.

The library is looked up in this order: the VINDR_LIBRARY environment variable, libvindr.so.<major>
next to this package (an installed wheel), then the checkout's .build/release/ (made by
scripts/build) when running from source.
"""
from __future__ import annotations

import ctypes
import os
import pathlib

from ._prototypes import SIGNATURES
from .errors import raise_for_status

LIBRARY_GLOB = "libvindr.so.*"
PROTOTYPES: dict[str, tuple[object, tuple[object, ...]]] = {}


def _candidates() -> list[pathlib.Path]:
    here = pathlib.Path(__file__).resolve().parent
    found = []
    env = os.environ.get("VINDR_LIBRARY")
    if env:
        found.append(pathlib.Path(env))
    found.extend(sorted(here.glob(LIBRARY_GLOB)))
    for parent in here.parents:
        if (parent / "Package.swift").exists():
            found.append(parent / ".build" / "release" / "libVinDrC.so")
            break
    return found


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        if path.exists():
            return ctypes.CDLL(str(path))
        tried.append(str(path))
    raise OSError("the vindr native library (libvindr.so.<major>) was not found (set VINDR_LIBRARY); looked in: "
                  + ", ".join(tried))


lib = _load()


def prototype(name: str, addresses: bool = False):
    """Declares C function `name` with its generated signature and returns it. `addresses`:
    pointer arguments take plain addresses (c_void_p, the same C type), the cheapest ctypes
    conversion, for hot paths that pass numpy data pointers as ints."""
    restype, argtypes = SIGNATURES[name]
    if addresses:
        argtypes = [ctypes.c_void_p if isinstance(t, type) and issubclass(t, ctypes._Pointer) else t for t in argtypes]
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    PROTOTYPES[name] = (restype, tuple(argtypes))
    return fn


def check(status: int) -> None:
    """Raises the VinDrError subclass for a non-zero status, with this thread's message."""
    if status != 0:
        raise_for_status(status, _last_error().decode("utf-8", "replace"))


_last_error = prototype("vdr_last_error")
status_string = prototype("vdr_status_string")
version_number = prototype("vdr_version_number")
version = prototype("vdr_version")
string_destroy = prototype("vdr_string_destroy")


def string(call, *args) -> str:
    """Calls `call(*args, &out)` for a string the library returns, and releases it (the ABI's
    convention for returned text: a `char **` out, freed with vdr_string_destroy)."""
    out = ctypes.c_void_p()
    check(call(*args, ctypes.byref(out)))
    try:
        return ctypes.string_at(out.value).decode("utf-8")
    finally:
        string_destroy(out)
