#!/usr/bin/env python3
"""De-identification throughput: vindr against a pydicom loop doing the same whitelist, side by side.

A tree of CXR-sized files (2560x2304, 12 bits in 16, with PHI, a nested sequence, private tags
and an overlay) is de-identified with the VinDr-CXR release profile (the paper's Table 4
whitelist, output named by the MD5 of the SOP Instance UID, that id written into (0002,0003)):

  vindr    vindr.deidentify(tree, out, profile="vindr", workers=T)  (T = 1 and 2)
  pydicom  for each file: dcmread -> delete every attribute outside the whitelist (private,
           sequences, overlays included) -> set (0002,0003) -> save_as(<md5>.dicom)  (one process)

Rounds interleave the runs in rotating order (warm page cache for all); the table gives the median files/s and the
ratio of vindr to pydicom in the same round. Usage:

    python3 benchmarks/bench_deid.py [--files 24] [--rounds 6] [--syntax explicit|j2k90|...]
"""
from __future__ import annotations

import argparse
import hashlib
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
sys.path.insert(0, str(ROOT / "Tests" / "python"))

# The VinDr-CXR paper's Table 4 (the release's 25 attributes), in the table's row order.
WHITELIST = {0x00100040, 0x00101010, 0x00101020, 0x00101030, 0x00280010, 0x00280011, 0x00280030, 0x00280034,
             0x00280100, 0x00280101, 0x00280102, 0x00280103, 0x00280106, 0x00280107, 0x00281050, 0x00281051,
             0x00281052, 0x00281053, 0x7FE00010, 0x00280004, 0x00282110, 0x00282114, 0x00282112, 0x00280002,
             0x00280008}


def make_tree(root: pathlib.Path, n: int, syntax: str) -> None:
    import corpus
    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    pixels = corpus.cxr_like(corpus.CXR_ROWS, corpus.CXR_COLS, 12, False)
    v = corpus.Variant("bench", corpus.CXR_ROWS, corpus.CXR_COLS, windows=[(2048, 4096)])
    for i in range(n):
        ds = corpus.base_dataset(v, pixels)
        ds.PatientName, ds.PatientID, ds.InstitutionName = f"DOE^{i}", f"PID{i:06d}", "General Hospital"
        ds.StudyDate, ds.ReferringPhysicianName = "20200115", "HOUSE^G"
        item = Dataset()
        item.ReferencedSOPInstanceUID = pydicom.uid.generate_uid()
        ds.ReferencedStudySequence = Sequence([item])
        ds.private_block(0x0099, "ACME", create=True).add_new(0x01, "LO", "secret")
        ds.add_new(0x60003000, "OW", b"\x00" * 64)
        path = root / f"p{i % 4}" / f"{i}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        if syntax != "explicit":
            tmp = path.with_suffix(".tmp")
            subprocess.run([a.format(i=path, o=tmp) for a in corpus.CONVERT[syntax]], check=True, capture_output=True)
            tmp.replace(path)


def run_vindr(tree: pathlib.Path, out: pathlib.Path, threads: int) -> int:
    import vindr
    r = vindr.deidentify(tree, out, profile="vindr", min_size=0, workers=threads)
    assert r.failed == 0, r.files
    return r.written


def run_pydicom(tree: pathlib.Path, out: pathlib.Path) -> int:
    import pydicom
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for path in sorted(tree.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        # The data set's SOP Instance UID names the file (the meta's only when it is absent).
        image_id = hashlib.md5(str(ds.get("SOPInstanceUID") or ds.file_meta.MediaStorageSOPInstanceUID).encode()).hexdigest()
        for tag in [t for t in ds.keys() if int(t) not in WHITELIST]:
            del ds[tag]
        ds.file_meta.MediaStorageSOPInstanceUID = image_id
        ds.save_as(out / f"{image_id}.dicom")
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--syntax", default="explicit")
    args = ap.parse_args()
    import vindr

    with tempfile.TemporaryDirectory(prefix="bench-deid-") as tmp:
        tree = pathlib.Path(tmp) / "tree"
        make_tree(tree, args.files, args.syntax)
        size = sum(p.stat().st_size for p in tree.rglob("*.dcm"))
        print(f"tree: {args.files} files, {args.syntax}, {corpus_shape()}, {size / 1e6:.0f} MB; "
              f"library {vindr._lib.lib._name}")
        runs = {"vindr 1 thread": lambda o: run_vindr(tree, o, 1), "vindr 2 threads": lambda o: run_vindr(tree, o, 2),
                "pydicom loop": lambda o: run_pydicom(tree, o)}
        rates: dict[str, list[float]] = {k: [] for k in runs}
        names = list(runs)
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:  # rotate who runs first
                fn = runs[name]
                out = pathlib.Path(tmp) / f"out-{r}-{name.replace(' ', '_')}"
                t0 = time.perf_counter()
                n = fn(out)
                rates[name].append(n / (time.perf_counter() - t0))
                shutil.rmtree(out)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} files/s" for k, v in rates.items()))
        peer = rates["pydicom loop"]
        print(f"\n{'run':<18}{'median files/s':>16}{'vs pydicom (same round, median)':>34}")
        for name, values in rates.items():
            ratio = statistics.median(v / p for v, p in zip(values, peer))
            print(f"{name:<18}{statistics.median(values):>16.1f}{ratio:>33.2f}x")


def corpus_shape() -> str:
    import corpus
    return f"{corpus.CXR_ROWS}x{corpus.CXR_COLS} 16-bit"


if __name__ == "__main__":
    main()
