#!/usr/bin/env python3
"""Renders a folder of DICOM chest X-rays to 1024-px PNGs with the file's own window, and prints
the throughput. With --make-sample, first writes a built-in sample: synthetic CXR-sized DICOMs
(2800x2400, 12-bit, MONOCHROME1/2) in uncompressed, JPEG 2000, RLE and JPEG-LS syntaxes.

    python3 examples/python/render_sample.py --make-sample sample/ out/
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


def make_sample(directory: pathlib.Path, count: int) -> None:
    sys.path.insert(0, str(ROOT / "Tests" / "python"))
    import corpus

    for i in range(count):
        v = corpus.Variant(f"cxr{i:02d}", 2800, 2400, photometric="MONOCHROME1" if i % 3 == 2 else "MONOCHROME2",
                           windows=[(2048 + 25 * i, 3600)],
                           syntaxes=(("explicit", "j2k90", "rle", "jpegls80")[i % 4],))
        files = corpus.write_variant(v, directory / "tmp", seed=i)
        key = v.syntaxes[0]
        files[key].rename(directory / f"{v.name}-{key}.dcm")
    for leftover in (directory / "tmp").glob("*"):
        leftover.unlink()
    (directory / "tmp").rmdir()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", type=pathlib.Path, help="folder of .dcm/.dicom files")
    ap.add_argument("output", type=pathlib.Path, help="folder for the PNGs")
    ap.add_argument("--size", type=int, default=1024, help="longest side (default 1024)")
    ap.add_argument("--make-sample", action="store_true", help="write the built-in sample into INPUT first")
    ap.add_argument("--count", type=int, default=8)
    args = ap.parse_args()
    if args.make_sample:
        args.input.mkdir(parents=True, exist_ok=True)
        make_sample(args.input, args.count)
    files = sorted(p for p in args.input.iterdir() if p.suffix in (".dcm", ".dicom"))
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
