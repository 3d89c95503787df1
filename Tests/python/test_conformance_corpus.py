"""pydicom's own test files as a second corpus, and random mutations of valid files.

Every file is tried in a child process, so that a crash (abort, segfault, trap) is reported as a
failure naming the file instead of ending the test run. In the child, each file is opened,
decoded and rendered; the outcome (pixels, or the error class) goes back as JSON.
"""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_files

ROOT = pathlib.Path(__file__).resolve().parents[2]
# JPEG's IDCT is not bit-exact across decoders (ITU-T T.81 A.3.3): allow +-1 for these.
LOSSY_JPEG = {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"}

CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import vindr
out = []
for path in sys.argv[2:]:
    try:
        im = vindr.read_dicom(path)
        px = im.pixels()
        im.render(size=64)
        np.save(path + ".vindr.npy", px)
        out.append({"path": path, "ok": True})
    except vindr.VinDrError as e:
        out.append({"path": path, "ok": False, "error": type(e).__name__, "message": e.message})
    print(json.dumps(out[-1]), flush=True)
"""


def run_children(paths: list[str], chunk: int = 40) -> dict[str, dict]:
    # Decoded arrays are saved next to each input as <path>.vindr.npy.
    """Runs CHILD over paths; a crash re-runs the chunk's remaining files one by one to name the culprit."""
    results: dict[str, dict] = {}
    pending = list(paths)
    while pending:
        batch, pending = pending[:chunk], pending[chunk:]
        proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "bindings" / "python"), *batch],
                              capture_output=True, text=True, timeout=600)
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                results[r["path"]] = r
        assert not [line for line in proc.stdout.splitlines() if not line.startswith("{")], \
            "the library wrote to standard output"
        if proc.returncode != 0:
            done = [p for p in batch if p in results]
            crashed = batch[len(done)]
            results[crashed] = {"path": crashed, "crash": proc.returncode, "stderr": proc.stderr[-500:]}
            pending = batch[len(done) + 1:] + pending
    return results


def pydicom_view(path):
    """(stored values of frame 0, or None when pydicom cannot decode it) for monochrome 8/16-bit files."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(path)
            if "PixelData" not in ds or ds.get("SamplesPerPixel", 1) != 1 or ds.get("BitsAllocated") not in (8, 16):
                return None
            if not str(ds.get("PhotometricInterpretation", "")).startswith("MONOCHROME"):
                return None
            if ds.file_meta.TransferSyntaxUID.is_compressed:
                ds.pixel_array_options(decoding_plugin="pylibjpeg")
            arr = ds.pixel_array
        except Exception:
            return None
    return arr[0] if arr.ndim == 3 else arr


def test_pydicom_test_files(tmp_path):
    files = []
    for f in get_testdata_files():
        if pathlib.Path(f).is_file() and not f.endswith((".json", ".txt", ".gz", ".bz2")):
            copy = tmp_path / pathlib.Path(f).name
            copy.write_bytes(pathlib.Path(f).read_bytes())
            files.append(str(copy))
    results = run_children(files)
    crashes = [r for r in results.values() if "crash" in r]
    assert not crashes, crashes
    compared = 0
    mismatches = []
    for f in files:
        expected = pydicom_view(f)
        r = results[f]
        if expected is None:
            continue  # colour, 1/32-bit or undecodable: any clean error or result is acceptable
        if not r["ok"]:
            # Files pydicom decodes but we reject must be rejected for a stated reason.
            assert r["error"] in ("UnsupportedError", "FormatError", "DecodeError", "NoPixelDataError"), r
            continue
        compared += 1
        got = np.load(f + ".vindr.npy")
        lossy = pydicom.dcmread(f, stop_before_pixels=True).file_meta.TransferSyntaxUID in LOSSY_JPEG
        diff = np.abs(got.astype(np.int64) - expected.astype(np.int64)) if got.shape == expected.shape else None
        if diff is None or diff.max() > (1 if lossy else 0):
            mismatches.append((pathlib.Path(f).name, got.shape, expected.shape, None if diff is None else int(diff.max())))
    assert not mismatches, mismatches
    assert compared >= 30, f"only {compared} files compared"


@pytest.mark.parametrize("syntax", ["explicit", "j2k90", "rle", "jpeg70", "big"])
def test_random_mutations_never_crash(corpus, tmp_path, syntax):
    """Byte flips in the header and the first kilobytes of pixel data of small files."""
    src = corpus["multiframe"][syntax] if syntax in corpus["multiframe"] else corpus["u12m2"][syntax]
    data = src.read_bytes()
    rng = np.random.default_rng(sum(map(ord, syntax)))
    paths = []
    for i in range(60):
        bad = bytearray(data)
        for _ in range(int(rng.integers(1, 6))):
            at = int(rng.integers(0, min(len(bad), 2500)))
            bad[at] = int(rng.integers(0, 256))
        p = tmp_path / f"m{i}.dcm"
        p.write_bytes(bytes(bad))
        paths.append(str(p))
    results = run_children(paths, chunk=60)
    crashes = [r for r in results.values() if "crash" in r]
    assert not crashes, crashes
