#!/usr/bin/env python3
"""High-Throughput JPEG 2000 against JPEG 2000 lossless of the same images, side by side in one run.

    python3 benchmarks/bench_htj2k.py [--images 4] [--rounds 3] [--sizes 1024 512]

The images are CXR-sized (2560 x 2304, 12 bits stored) synthetic radiographs (Tests/python/corpus.py),
each written uncompressed, as HTJ2K lossless (.201, ojph_compress, 5 decompositions) and as JPEG
2000 lossless (.90, gdcmconv -K). Pipelines, one image at a time in this process (1 thread):
  vindr       read_dicom(path).render(size) (decode="exact": full decode, then area resampling)
  vindr-fast  the same with decode="fast" (a reduced resolution level of either codestream)
  pydicom     dcmread -> pixel_array (pylibjpeg-openjpeg decodes both syntaxes) -> modality and VOI
              LUT -> uint8 -> cv2.resize INTER_AREA (bench_decode.py's recipe)
Rounds interleave syntaxes and pipelines; the table gives medians of images/s and HTJ2K / J2K
ratios (> 1: HTJ2K is faster), then vindr / pydicom per syntax and the files' size ratios.
Compare ratios, not absolute numbers across machines.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
sys.path.insert(0, str(ROOT / "Tests" / "python"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import corpus  # noqa: E402
from bench_decode import run_pydicom, run_vindr, run_vindr_fast  # noqa: E402

RUNNERS = {"vindr": run_vindr, "vindr-fast": run_vindr_fast, "pydicom": run_pydicom}
SYNTAXES = ["htj2k201", "j2k90"]


def build(directory: pathlib.Path, images: int) -> dict[str, list[pathlib.Path]]:
    files = {"explicit": [], "htj2k201": [], "j2k90": []}
    for i in range(images):
        v = corpus.Variant(f"img{i}", corpus.CXR_ROWS, corpus.CXR_COLS, windows=[(2048, 4096)])
        files["htj2k201"].append(corpus.write_htj2k(v, directory, "htj2k201", seed=i))
        explicit = directory / f"img{i}-explicit.dcm"
        files["explicit"].append(explicit)
        j2k = directory / f"img{i}-j2k90.dcm"
        subprocess.run(["gdcmconv", "-K", str(explicit), str(j2k)], check=True, capture_output=True)
        files["j2k90"].append(j2k)
    return files


def images_per_second(runner, paths, size) -> float:
    t = time.perf_counter()
    for p in paths:
        runner(str(p), size)
    return len(paths) / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 512])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = build(pathlib.Path(tmp), args.images)
        sizes = {k: sum(p.stat().st_size for p in v) for k, v in files.items()}
        for runner in RUNNERS.values():  # warm-up: imports, plugin discovery
            runner(str(files["htj2k201"][0]), 256)
            runner(str(files["j2k90"][0]), 256)
        rates: dict[tuple[str, str, int], list[float]] = {}
        for _ in range(args.rounds):
            for size in args.sizes:
                for name, runner in RUNNERS.items():
                    for syntax in SYNTAXES:
                        rates.setdefault((name, syntax, size), []).append(images_per_second(runner, files[syntax], size))
    print(f"{args.images} images of {corpus.CXR_ROWS} x {corpus.CXR_COLS}, 12 bits stored; medians of {args.rounds} rounds, images/s")
    print(f"{'pipeline':<11} {'size':>5} {'HTJ2K':>8} {'J2K':>8} {'HTJ2K/J2K':>10}")
    for size in args.sizes:
        for name in RUNNERS:
            ht, j2k = (statistics.median(rates[(name, s, size)]) for s in SYNTAXES)
            print(f"{name:<11} {size:>5} {ht:>8.2f} {j2k:>8.2f} {ht / j2k:>9.2f}x")
    for size in args.sizes:
        ratio = {s: statistics.median(rates[("vindr", s, size)]) / statistics.median(rates[("pydicom", s, size)]) for s in SYNTAXES}
        print(f"vindr / pydicom at {size}: HTJ2K {ratio['htj2k201']:.2f}x, J2K {ratio['j2k90']:.2f}x")
    print(f"file size: HTJ2K / J2K {sizes['htj2k201'] / sizes['j2k90']:.3f}, HTJ2K / uncompressed "
          f"{sizes['htj2k201'] / sizes['explicit']:.3f}, J2K / uncompressed {sizes['j2k90'] / sizes['explicit']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
