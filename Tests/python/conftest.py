"""Shared fixtures: the package from the checkout, the generated DICOM corpus, an oracle decoder."""
from __future__ import annotations

import os
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import corpus as corpus_module  # noqa: E402


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, dict[str, pathlib.Path]]:
    """{variant: {syntax key: path}} of CXR-sized files in every transfer syntax (built once per
    run with GDCM/DCMTK tools; VINDR_CORPUS=DIR reuses a corpus built by corpus.py)."""
    cached = os.environ.get("VINDR_CORPUS")
    if cached and pathlib.Path(cached).is_dir():
        out = {}
        for p in sorted(pathlib.Path(cached).glob("*.dcm")):
            name, key = p.stem.rsplit("-", 1)
            out.setdefault(name, {})[key] = p
        return out
    return corpus_module.build(tmp_path_factory.mktemp("corpus"))


def oracle_pixels(path) -> np.ndarray:
    """Stored values decoded by pydicom with the pylibjpeg plugins (frames first when several)."""
    import pydicom

    ds = pydicom.dcmread(path)
    ts = ds.file_meta.TransferSyntaxUID
    if ts.is_compressed:
        ds.pixel_array_options(decoding_plugin="pylibjpeg")
    arr = ds.pixel_array
    return arr.astype(arr.dtype.newbyteorder("=")) if arr.dtype.byteorder == ">" else arr
