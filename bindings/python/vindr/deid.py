"""De-identification and screening: `deidentify(input, output, profile=...)` -> `DeidResult`.

Profiles: "vindr" keeps only the VinDr-CXR release's 25 attributes and names each file
`<md5 hex of SOP Instance UID>.dicom`; "basic" is the PS3.15 Annex E Basic Application Level
Confidentiality Profile with the Retain Patient Characteristics Option. The work is done by the
native library (the same code as `vindr deid` and `vdr_deidentify`).
"""
from __future__ import annotations

import ctypes
import dataclasses
import json
import os
from typing import Optional, Sequence, Union

from ._checks import c_int, c_str
from . import _constants as C
from ._lib import check, prototype, string

_vp = ctypes.c_void_p

_opts_create = prototype("vdr_deid_options_create")
_opts_destroy = prototype("vdr_deid_options_destroy")
_opts_int = prototype("vdr_deid_options_set_int")
_opts_string = prototype("vdr_deid_options_set_string")
_run = prototype("vdr_deidentify")
_counts = prototype("vdr_deid_result_counts")
_json = prototype("vdr_deid_result_json")
_result_destroy = prototype("vdr_deid_result_destroy")

# Constants of include/vindr.h used here.
_PROFILES = {"vindr": C.VDR_DEID_PROFILE_VINDR, "basic": C.VDR_DEID_PROFILE_BASIC}

PathLike = Union[str, "os.PathLike[str]"]


@dataclasses.dataclass(frozen=True)
class DeidResult:
    """What a run did. `files`: one dict per input (input order) with keys input, status
    ("written" | "rejected" | "failed" | "not_dicom": a file of the input folder that is no DICOM
    at all, not counted in `failed`), output, new_id, screening (rejection reason or None),
    error, burned_in_annotation."""

    profile: str
    files: list
    written: int
    rejected: int
    failed: int
    burned_in: int


def deidentify(input: PathLike, output: PathLike, *, profile: str = "vindr", salt: str = "",
               min_size: Union[int, Sequence[int]] = 1024, min_age: int = 18, only_accepted: bool = False,
               workers: int = 0, mapping_csv: Optional[PathLike] = None, report_csv: Optional[PathLike] = None,
               report_json: Optional[PathLike] = None, progress: bool = False) -> DeidResult:
    """De-identifies and screens a DICOM file or directory tree into the directory `output`.

    min_size: minimum (rows, columns), or one number for both. The input is never modified; each
    output is written atomically; files that cannot be handled are reported, never copied.
    """
    if profile not in _PROFILES:
        raise ValueError(f"profile must be one of {sorted(_PROFILES)}, got {profile!r}")
    try:
        rows, cols = min_size
    except TypeError:
        rows = cols = min_size
    opts = _vp()
    check(_opts_create(ctypes.byref(opts)))
    result = _vp()
    try:
        for key, name, value in ((C.VDR_DEID_PROFILE, "profile", _PROFILES[profile]),
                                 (C.VDR_DEID_MIN_ROWS, "min_size", rows), (C.VDR_DEID_MIN_COLUMNS, "min_size", cols),
                                 (C.VDR_DEID_MIN_AGE, "min_age", min_age), (C.VDR_DEID_WORKERS, "workers", workers),
                                 (C.VDR_DEID_ONLY_ACCEPTED, "only_accepted", bool(only_accepted)),
                                 (C.VDR_DEID_PROGRESS, "progress", bool(progress))):
            check(_opts_int(opts, key, c_int(name, value, _opts_int, 2)))
        check(_opts_string(opts, C.VDR_DEID_SALT, c_str("salt", salt)))
        for key, name, path in ((C.VDR_DEID_MAPPING_CSV, "mapping_csv", mapping_csv),
                                (C.VDR_DEID_REPORT_CSV, "report_csv", report_csv),
                                (C.VDR_DEID_REPORT_JSON, "report_json", report_json)):
            check(_opts_string(opts, key, None if path is None else c_str(name, path)))
        check(_run(c_str("input", input), c_str("output", output), opts, ctypes.byref(result)))
        counts = (ctypes.c_size_t * 5)()
        check(_counts(result, counts))
        doc = json.loads(string(_json, result))
        keys = ("input", "status", "output", "new_id", "screening", "error", "burned_in_annotation")
        files = [{k: f.get(k) for k in keys} for f in doc["files"]]
        return DeidResult(profile=doc["profile"], files=files, written=counts[1], rejected=counts[2],
                          failed=counts[3], burned_in=counts[4])
    finally:
        _result_destroy(result)
        _opts_destroy(opts)
