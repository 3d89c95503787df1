#!/usr/bin/env python3
"""Renders a folder (tree) of DICOM chest X-rays to PNGs, 1024 px on the longest side, with
each file's own window, and prints the throughput.

    python3 examples/python/render_sample.py sample/train out/
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bindings" / "python"))

import cv2  # noqa: E402  (PNG writing only)

import vindr  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", type=pathlib.Path, help="folder of .dcm/.dicom files")
    ap.add_argument("output", type=pathlib.Path, help="folder for the PNGs")
    ap.add_argument("--size", type=int, default=1024, help="longest side (default 1024)")
    args = ap.parse_args()
    files = sorted(p for p in args.input.rglob("*") if p.suffix in (".dcm", ".dicom"))
    if not files:
        print(f"no DICOM files in {args.input}", file=sys.stderr)
        return 1
    args.output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for path in files:
        im = vindr.read_dicom(path)
        img = im.render(size=args.size)
        cv2.imwrite(str(args.output / (path.stem + ".png")), img)
        print(f"{path.name}: {im.rows}x{im.columns} {im.photometric_interpretation} "
              f"{vindr.dicom.transfer_syntax_name(im.transfer_syntax_uid)} -> {img.shape[0]}x{img.shape[1]}")
    elapsed = time.perf_counter() - start
    print(f"rendered {len(files)} images in {elapsed:.2f} s: {len(files) / elapsed:.1f} images/s (PNG writing included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
