"""De-identification and screening: `deidentify(input, output, profile=...)` -> `DeidResult`;
burned-in text removal of one image: `scrub_text(array)` -> `(array, mask)`; screening on the
pixels of one file: `screen_pixels(path_or_image)` -> `{rule: (flagged, value)}`.

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
from typing import Callable, Optional, Sequence, Tuple, Union

import numpy as np

from ._checks import c_int, c_str
from . import _constants as C
from ._lib import check, prototype, string
from .errors import InvalidArgumentError

_vp = ctypes.c_void_p

_opts_create = prototype("vdr_deid_options_create")
_opts_destroy = prototype("vdr_deid_options_destroy")
_opts_int = prototype("vdr_deid_options_set_int")
_opts_string = prototype("vdr_deid_options_set_string")
_run = prototype("vdr_deidentify")
_counts = prototype("vdr_deid_result_counts")
_json = prototype("vdr_deid_result_json")
_result_destroy = prototype("vdr_deid_result_destroy")
_scrub = prototype("vdr_scrub_text")
_screen = prototype("vdr_dicom_screen_pixels")

CLASSIFIER_SIZE = 256
"""Longest side of the image a `deidentify(classifier=...)` callable receives."""

# Constants of include/vindr.h used here.
_PROFILES = {"vindr": C.VDR_DEID_PROFILE_VINDR, "basic": C.VDR_DEID_PROFILE_BASIC}

PathLike = Union[str, "os.PathLike[str]"]


@dataclasses.dataclass(frozen=True)
class DeidResult:
    """What a run did. `files`: one dict per input (input order) with keys input, status
    ("written" | "rejected" | "failed" | "not_dicom": a file of the input folder that is no DICOM
    at all, not counted in `failed`), output, new_id, screening (rejection reason or None: a
    header rule's, "pixels: ..." with screen_pixels, "classifier: ..." with a classifier),
    error, burned_in_annotation, text_regions (None without scrub_text; 0 when no text was found)
    and review (the review sheet's path or None). `scrubbed`: written files whose text was removed."""

    profile: str
    files: list
    written: int
    rejected: int
    failed: int
    burned_in: int
    scrubbed: int = 0


def deidentify(input: PathLike, output: PathLike, *, profile: str = "vindr", salt: str = "",
               min_size: Union[int, Sequence[int]] = 1024, min_age: int = 18, only_accepted: bool = False,
               workers: int = 0, mapping_csv: Optional[PathLike] = None, report_csv: Optional[PathLike] = None,
               report_json: Optional[PathLike] = None, progress: bool = False, scrub_text: bool = False,
               review_dir: Optional[PathLike] = None, screen_pixels: bool = False,
               classifier: Optional[Callable[[np.ndarray], object]] = None) -> DeidResult:
    """De-identifies and screens a DICOM file or directory tree into the directory `output`.

    min_size: minimum (rows, columns), or one number for both. The input is never modified; each
    output is written atomically; files that cannot be handled are reported, never copied.
    scrub_text: remove burned-in text from the pixels (files where text is found get native
    Explicit VR Little Endian Pixel Data, or stay Implicit VR Little Endian; the others keep their
    Pixel Data byte for byte); review_dir: where to write a before/after contact sheet of every
    changed image (needs scrub_text).
    screen_pixels: screen the pixels of files that pass the header rules as well (the native
    `PixelScreening` rules, see `screen_pixels()`); a flagged file's screening reads
    "pixels: ..." and it is not written with only_accepted.
    classifier: a user screening model (the paper's CNN is not public), called in Python after
    the native run on every written file whose screening is still empty, with that output
    rendered by the library (window "dicom", longest side CLASSIFIER_SIZE = 256, float32 HxW in
    [0, 1], 1 = white). It returns True to accept, False to reject, or (accepted, reason). A
    rejected file gets the screening "classifier: <reason>" ("classifier: rejected" without a
    reason); with only_accepted its output is deleted and its status becomes "rejected". The
    report files are written by the native run before the classifier runs, so `classifier`
    cannot be combined with report_csv, report_json or mapping_csv: use the returned result.
    An exception raised by the classifier propagates (the outputs written so far stay).
    """
    if review_dir is not None and not scrub_text:
        raise InvalidArgumentError("review_dir needs scrub_text=True")
    if classifier is not None:
        if not callable(classifier):
            raise InvalidArgumentError(f"classifier must be callable, got {type(classifier).__name__}")
        clash = [n for n, v in (("report_csv", report_csv), ("report_json", report_json),
                                ("mapping_csv", mapping_csv)) if v is not None]
        if clash:
            raise InvalidArgumentError(f"classifier cannot be combined with {', '.join(clash)} "
                                       "(those files are written before it runs)")
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
                                 (C.VDR_DEID_PROGRESS, "progress", bool(progress)),
                                 (C.VDR_DEID_SCRUB_TEXT, "scrub_text", bool(scrub_text)),
                                 (C.VDR_DEID_SCREEN_PIXELS, "screen_pixels", bool(screen_pixels))):
            check(_opts_int(opts, key, c_int(name, value, _opts_int, 2)))
        check(_opts_string(opts, C.VDR_DEID_SALT, c_str("salt", salt)))
        for key, name, path in ((C.VDR_DEID_MAPPING_CSV, "mapping_csv", mapping_csv),
                                (C.VDR_DEID_REPORT_CSV, "report_csv", report_csv),
                                (C.VDR_DEID_REPORT_JSON, "report_json", report_json),
                                (C.VDR_DEID_REVIEW_DIR, "review_dir", review_dir)):
            check(_opts_string(opts, key, None if path is None else c_str(name, path)))
        check(_run(c_str("input", input), c_str("output", output), opts, ctypes.byref(result)))
        counts = (ctypes.c_size_t * 5)()
        check(_counts(result, counts))
        doc = json.loads(string(_json, result))
        keys = ("input", "status", "output", "new_id", "screening", "error", "burned_in_annotation",
                "text_regions", "review")
        files = [{k: f.get(k) for k in keys} for f in doc["files"]]
        written, rejected = counts[1], counts[2]
        if classifier is not None:
            moved = _classify(files, classifier, only_accepted)
            written, rejected = written - moved, rejected + moved
        scrubbed = sum(1 for f in files if f["status"] == "written" and (f["text_regions"] or 0) > 0)
        return DeidResult(profile=doc["profile"], files=files, written=written, rejected=rejected,
                          failed=counts[3], burned_in=counts[4], scrubbed=scrubbed)
    finally:
        _result_destroy(result)
        _opts_destroy(opts)


def scrub_text(image) -> Tuple[np.ndarray, np.ndarray]:
    """Removes burned-in text from one monochrome image of stored values (a 2-D array of
    integers in [0, 65535]): returns the scrubbed image (uint16, a new array) and the text mask
    (bool, True on the pixels classified as text; each is filled from its surroundings unless its
    value is already within 2 noise sigmas of that fill, when it is kept). The same
    algorithm as `deidentify(scrub_text=True)` (`vdr_scrub_text`)."""
    a = np.asarray(image)
    if a.ndim != 2 or a.dtype.kind not in "ui":
        raise InvalidArgumentError(f"image must be a 2-D integer array, got {a.ndim}-D {a.dtype}")
    if a.size and (int(a.min()) < 0 or int(a.max()) > 0xFFFF):
        raise InvalidArgumentError("image values must be in [0, 65535]")
    out = np.ascontiguousarray(a, dtype=np.uint16).copy()
    mask = np.zeros(out.shape, dtype=np.uint8)
    changed = ctypes.c_size_t()
    check(_scrub(out.ctypes.data_as(_vp), out.nbytes, out.shape[1], out.shape[0], out.strides[0],
                 mask.ctypes.data_as(_vp), mask.nbytes, mask.strides[0], ctypes.byref(changed)))
    return out, mask.astype(bool)


def _classify(files: list, classifier, only_accepted: bool) -> int:
    """Runs `classifier` on the written outputs that passed screening (see `deidentify`); returns
    how many outputs it deleted (only_accepted)."""
    from .dicom import DicomImage
    moved = 0
    for f in files:
        if f["status"] != "written" or f["screening"] is not None:
            continue
        with DicomImage(f["output"]) as image:
            pixels = image.render(CLASSIFIER_SIZE, window="dicom", dtype="float32")
        verdict = classifier(pixels)
        accepted, reason = verdict if isinstance(verdict, tuple) else (verdict, None)
        if accepted:
            continue
        f["screening"] = f"classifier: {reason or 'rejected'}"
        if only_accepted:
            os.remove(f["output"])
            f["status"], f["output"] = "rejected", None
            moved += 1
    return moved


def screen_pixels(image) -> dict:
    """The native pixel screening rules of one file (a path or an open `DicomImage`): frame 0
    rendered with the file's window to 256 pixels on its longest side, then
    {"aspect": (flagged, columns / rows), "inverted": (flagged, mean(central band) - mean(lung
    bands)), "lateral": (flagged, left-right asymmetry), "layout": (flagged, two-lobe contrast)}.
    Statistics and thresholds are documented on `PixelScreening` (Sources/VinDrImaging/
    PixelScreening.swift); the same rules as `deidentify(screen_pixels=True)`."""
    from .dicom import DicomImage
    if isinstance(image, DicomImage):
        doc = json.loads(string(_screen, image._handle()))
    else:
        with DicomImage(image) as opened:
            doc = json.loads(string(_screen, opened._handle()))
    return {name: (bool(r["flagged"]), float(r["value"])) for name, r in doc.items()}
