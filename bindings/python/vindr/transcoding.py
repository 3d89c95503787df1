"""Lossless transcoding of a DICOM file or tree: `transcode(input, output, to="htj2k")` ->
`TranscodeResult`.

to="htj2k" writes HTJ2K Lossless Only (1.2.840.10008.1.2.4.201, PS3.5 A.4.11, ISO/IEC 15444-15):
one reversible 5/3 codestream per frame, encapsulated (PS3.5 A.4) behind a Basic Offset Table that
holds every frame's offset. to="explicit-le" writes native Explicit VR Little Endian
(1.2.840.10008.1.2.1). The work is done by the native library (the same code as `vindr transcode`
and `vdr_transcode`).
"""
from __future__ import annotations

import ctypes
import dataclasses
import json
import os
from typing import Union

from ._checks import c_int, c_str
from . import _constants as C
from ._lib import prototype, string

_run = prototype("vdr_transcode")

_TARGETS = {"htj2k": C.VDR_TRANSCODE_HTJ2K, "explicit-le": C.VDR_TRANSCODE_EXPLICIT_LE}

PathLike = Union[str, "os.PathLike[str]"]


@dataclasses.dataclass(frozen=True)
class TranscodeResult:
    """What a run did. `files`: one dict per input (input order) with keys input, status
    ("written" | "failed" | "not_dicom": a file of the input folder that is no DICOM at all,
    skipped and not counted in `failed`), output, source_syntax, error (names the file), frames,
    input_bytes, output_bytes and verified."""

    target: str
    files: list
    written: int
    failed: int
    not_dicom: int


def transcode(input: PathLike, output: PathLike, *, to: str = "htj2k", verify: bool = True,
              workers: int = 0) -> TranscodeResult:
    """Transcodes a DICOM file or directory tree losslessly from its decoded stored values.

    A tree is mirrored into the directory `output` (created if missing); for a file, `output`
    is the output file, or an existing directory (the file keeps its name). Every attribute but
    the Pixel Data and (0002,0010) is kept (an Implicit VR data set becomes explicit). A lossy
    source keeps its earlier loss: its Lossy Image Compression (0028,2110) stays as it is. Each
    output is written to a temporary file, re-read and compared frame by frame with the input
    unless verify=False, then renamed into place; a file that fails leaves no output. workers:
    threads (0 = one per core). Per-file failures are in the result; an invalid argument, a
    missing input or an unwritable output directory raises.
    """
    if to not in _TARGETS:
        raise ValueError(f"to must be one of {sorted(_TARGETS)}, got {to!r}")
    counts = (ctypes.c_size_t * 4)()
    doc = json.loads(string(_run, c_str("input", input), c_str("output", output), _TARGETS[to],
                            1 if verify else 0, c_int("workers", workers, _run, 4), counts))
    keys = ("input", "status", "output", "source_syntax", "error", "frames", "input_bytes", "output_bytes", "verified")
    files = [{k: f.get(k) for k in keys} for f in doc["files"]]
    return TranscodeResult(target=doc["target"], files=files, written=counts[1], failed=counts[2], not_dicom=counts[3])
