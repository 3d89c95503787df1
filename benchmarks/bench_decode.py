#!/usr/bin/env python3
"""DICOM -> windowed, resized uint8 image: vindr against the pipelines users run today, side by side.

Pipelines, each run in its own process so peak RSS is its own:
  vindr    read_dicom(path).render(size, window="dicom")  (1 worker; 2 = two threads, GIL released):
           the default, decode="exact" (full decode, then area resampling)
  vindr-fast  the same with the opt-in decode="fast" (JPEG 2000 at a reduced resolution level,
           8-bit baseline JPEG through the scaled IDCT; other syntaxes decode in full either way)
  pydicom  dcmread -> pixel_array (pylibjpeg plugins) -> apply_modality_lut -> apply_voi_lut ->
           MONOCHROME1 max-x -> min-max to uint8 -> cv2.resize INTER_AREA  (the Kaggle VinBigData
           recipe; 2 workers = a 2-process multiprocessing pool returning the arrays)
  dicomsdl open -> pixelData() (rescaled) -> numpy LINEAR window -> MONOCHROME1 -> uint8 ->
           cv2.resize INTER_AREA  (same pooling)

Size 0 (`--sizes 0`) times decoding alone, to the stored values each library returns: vindr
`read_dicom(path).pixels()`, pydicom `dcmread(path).pixel_array`, dicomsdl
`open(path).pixelData(storedvalue=True)`. vindr-fast runs only where it differs from vindr: on
the syntaxes with a fast path (FAST_SYNTAXES), at sizes above 0.

Every process runs with OPENBLAS_NUM_THREADS=1, so idle OpenBLAS threads do not compete for the
cores. Rounds interleave the pipelines; the table gives medians of images/s and the ratio of vindr to
each peer measured in the same round ("x vindr-fast" < 1: what exactness costs), with the lowest and
highest of those per-round ratios in brackets.

A second table gives, per syntax and size, the uint8 difference (max / mean grey levels over the
corpus) of each path against the exact render: the exact render against an independent
reference (pydicom full decode, PS3.3 linear window, MONOCHROME1 inversion, overlap-weighted area
resampling in numpy: Tests/python/test_render_exact.py), decode="fast" against exact, and the
pydicom recipe against exact (that recipe rescales min-max after the VOI and truncates to uint8,
so it differs by definition, not by error). --edges draws the corpus's collimation bands,
burned-in markers and saturated blocks on every image (Tests/python/corpus.py, sharp_edges). Usage:

    python3 benchmarks/bench_decode.py [--images 6] [--rounds 3] [--sizes 1024 512]
        [--workers 1 2] [--syntaxes explicit j2k90 rle jpeg70 jpegls80] [--edges]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
sys.path.insert(0, str(ROOT / "Tests" / "python"))

SYNTAXES = ["explicit", "j2k90", "rle", "jpeg70", "jpegls80"]
PIPELINES = ["vindr", "vindr-fast", "pydicom", "dicomsdl"]
# Syntaxes with an approximate path behind decode="fast"; elsewhere (and at size 0) vindr-fast is
# vindr and is not run.
FAST_SYNTAXES = {"j2k90", "j2k91", "jpeg50"}


# ----------------------------------------------------------------------------- pipelines
def peer_window(x, center, width, function="LINEAR"):
    import numpy as np
    if function == "LINEAR":
        lo, hi = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
        return np.clip((x - (center - 0.5)) / (width - 1) + 0.5, 0, 1) * (hi - lo) + lo
    return x


def to_uint8_resized(arr, photometric, size):
    import cv2
    import numpy as np
    if photometric == "MONOCHROME1":
        arr = np.amax(arr) - arr
    arr = arr - np.min(arr)
    arr = arr / max(np.max(arr), 1e-12)
    img = (arr * 255).astype(np.uint8)
    h, w = img.shape
    s = size / max(h, w)
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def run_pydicom(path, size):
    import pydicom
    from pydicom.pixels import apply_modality_lut, apply_voi_lut
    ds = pydicom.dcmread(path)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.pixel_array_options(decoding_plugin="pylibjpeg")
    if size == 0:
        return ds.pixel_array
    arr = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds)
    return to_uint8_resized(arr, ds.PhotometricInterpretation, size)


def run_dicomsdl(path, size):
    import dicomsdl
    dcm = dicomsdl.open(str(path))
    if size == 0:
        return dcm.pixelData(storedvalue=True)
    arr = dcm.pixelData()
    center, width = dcm.WindowCenter, dcm.WindowWidth
    if isinstance(center, list):
        center, width = center[0], width[0]
    arr = peer_window(arr, float(center), float(width))
    return to_uint8_resized(arr, dcm.PhotometricInterpretation, size)


def run_vindr(path, size):
    import vindr
    return vindr.read_dicom(path).pixels() if size == 0 else vindr.read_dicom(path).render(size=size)


def run_vindr_fast(path, size):
    import vindr
    return vindr.read_dicom(path).pixels() if size == 0 else vindr.read_dicom(path).render(size=size, decode="fast")


RUNNERS = {"vindr": run_vindr, "vindr-fast": run_vindr_fast, "pydicom": run_pydicom, "dicomsdl": run_dicomsdl}


def _pool_job(args):
    name, path, size = args
    return RUNNERS[name](path, size)


def worker(name: str, files: list[str], size: int, workers: int, passes: int) -> dict:
    """Times `passes` passes over `files` after one warm-up image; prints JSON."""
    runner = RUNNERS[name]
    runner(files[0], size)
    n = len(files) * passes
    jobs = [f for _ in range(passes) for f in files]
    if workers == 1:
        t = time.perf_counter()
        for f in jobs:
            runner(f, size)
        dt = time.perf_counter() - t
    elif name.startswith("vindr"):
        # Two images rendered at once on two threads (ctypes releases the GIL).
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(lambda f: runner(f, size), jobs[:workers]))
            t = time.perf_counter()
            list(ex.map(lambda f: runner(f, size), jobs))
            dt = time.perf_counter() - t
    else:
        import multiprocessing as mp
        with mp.get_context("fork").Pool(workers) as pool:
            pool.map(_pool_job, [(name, f, size) for f in jobs[:workers]])
            t = time.perf_counter()
            for _ in pool.imap(_pool_job, [(name, f, size) for f in jobs]):
                pass
            dt = time.perf_counter() - t
    # Peak RSS of this process (VmHWM: ru_maxrss would include the driver's, inherited over
    # fork+exec) plus, for pools, each worker process's peak (an upper bound on the total).
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * (workers if not name.startswith("vindr") else 0)
    return {"images_per_s": n / dt, "peak_rss_mb": (vm_hwm_kb() + children) / 1024}


def vm_hwm_kb() -> int:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


# ----------------------------------------------------------------------------- corpus
def build_corpus(directory: pathlib.Path, images: int, syntaxes: list[str], edges: bool = False) -> dict[str, list[str]]:
    import corpus as c
    out: dict[str, list[str]] = {s: [] for s in syntaxes}
    marker = directory / "corpus.json"
    if marker.exists():
        cached = json.loads(marker.read_text())
        if all(len(cached.get(s, [])) >= images for s in syntaxes):
            return {s: cached[s][:images] for s in syntaxes}
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(images):
        v = c.Variant(f"bench{i}", 2800, 2400, photometric="MONOCHROME1" if i % 2 else "MONOCHROME2",
                      windows=[(2048 + 40 * i, 3500)], syntaxes=tuple(syntaxes), edges=edges)
        files = c.write_variant(v, directory, seed=100 + i)
        for s in syntaxes:
            out[s].append(str(files[s]))
    marker.write_text(json.dumps(out))
    return out


# ----------------------------------------------------------------------------- accuracy
def differences(files: list[str], size: int) -> dict[str, tuple[float, float]]:
    """(max, mean) uint8 difference over `files` of: exact vs the independent reference, fast vs
    exact, the pydicom recipe vs exact."""
    import numpy as np
    import pydicom
    import vindr
    from test_render_exact import linear_window, pydicom_pixels, reference
    out: dict[str, list] = {"exact vs reference": [], "fast vs exact": [], "pydicom vs exact": []}
    for path in files:
        im = vindr.read_dicom(path)
        exact = im.render(size=size).astype(np.int64)
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        display = linear_window(pydicom_pixels(path), float(ds.WindowCenter), float(ds.WindowWidth))
        if ds.PhotometricInterpretation == "MONOCHROME1":
            display = 1 - display
        pairs = {"exact vs reference": np.rint(reference(display, size) * 255),
                 "fast vs exact": im.render(size=size, decode="fast"), "pydicom vs exact": run_pydicom(path, size)}
        for key, other in pairs.items():
            d = np.abs(np.asarray(other, np.int64) - exact)
            out[key].append((d.max(), d.mean()))
    return {k: (max(m for m, _ in v), sum(a for _, a in v) / len(v)) for k, v in out.items()}


# ----------------------------------------------------------------------------- driver
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--passes", type=int, default=1)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 512])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--syntaxes", nargs="+", default=SYNTAXES)
    ap.add_argument("--pipelines", nargs="+", default=PIPELINES)
    ap.add_argument("--corpus", type=pathlib.Path, default=None, help="default /tmp/vindr-bench-corpus[-edges]")
    ap.add_argument("--edges", action="store_true", help="sharp edges on every image (collimation, markers, saturation)")
    ap.add_argument("--worker", nargs=4, metavar=("PIPELINE", "SIZE", "WORKERS", "FILES_JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        name, size, workers, files = args.worker
        print(json.dumps(worker(name, json.loads(files), int(size), int(workers), args.passes)))
        return 0

    corpus_dir = args.corpus or pathlib.Path("/tmp/vindr-bench-corpus" + ("-edges" if args.edges else ""))
    files = build_corpus(corpus_dir, args.images, args.syntaxes, args.edges)
    results: dict[tuple, list[dict]] = {}
    for r in range(args.rounds):
        for syntax in args.syntaxes:
            for size in args.sizes:
                for workers in args.workers:
                    order = args.pipelines if r % 2 == 0 else list(reversed(args.pipelines))
                    for name in order:
                        if name == "vindr-fast" and (syntax not in FAST_SYNTAXES or size == 0):
                            continue
                        passes = args.passes * (4 if name.startswith("vindr") else 1)
                        cmd = [sys.executable, __file__, "--passes", str(passes), "--worker", name, str(size),
                               str(workers), json.dumps(files[syntax])]
                        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
                        if out.returncode != 0:
                            print(f"{name} {syntax} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                            continue
                        results.setdefault((syntax, size, workers, name), []).append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    edges = " with sharp edges" if args.edges else ""
    print(f"\n2800x2400 12-bit images{edges}, {args.images} per syntax, median of {args.rounds} interleaved rounds")
    header = f"{'syntax':10} {'size':>5} {'wk':>3} " + " ".join(f"{p + ' img/s':>14} {'RSS MB':>7}" for p in args.pipelines)
    header += "  " + " ".join(f"{'x ' + p + ' (spread)':>22}" for p in args.pipelines if p != "vindr")
    print(header)
    for syntax in args.syntaxes:
        for size in args.sizes:
            for workers in args.workers:
                row = f"{syntax:10} {size:5d} {workers:3d} "
                med = {}
                for p in args.pipelines:
                    runs = results.get((syntax, size, workers, p), [])
                    if runs:
                        med[p] = statistics.median(x["images_per_s"] for x in runs)
                        rss = max(x["peak_rss_mb"] for x in runs)
                        row += f"{med[p]:14.1f} {rss:7.0f}"
                    else:
                        row += f"{'-':>14} {'-':>7}"
                row += "  "
                for p in args.pipelines:
                    if p == "vindr":
                        continue
                    ratios = [v["images_per_s"] / q["images_per_s"] for v, q in
                              zip(results.get((syntax, size, workers, "vindr"), []), results.get((syntax, size, workers, p), []))]
                    spread = f"{statistics.median(ratios):.1f} ({min(ratios):.1f}-{max(ratios):.1f})" if ratios else "-"
                    row += f"{spread:>22}"
                print(row)

    print(f"\nuint8 difference against the exact render, max / mean grey levels over {args.images} images{edges}")
    print(f"{'syntax':10} {'size':>5} " + " ".join(f"{k:>22}" for k in ("exact vs reference", "fast vs exact", "pydicom vs exact")))
    for syntax in args.syntaxes:
        for size in (s for s in args.sizes if s > 0):
            d = differences(files[syntax], size)
            print(f"{syntax:10} {size:5d} " + " ".join(f"{f'{m:.0f} / {a:.3f}':>22}" for m, a in d.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
