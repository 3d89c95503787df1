#!/usr/bin/env python3
"""Training-loader throughput: vindr.Loader against the pipelines users run today, one corpus.

1. Uncompressed 2800x2400 DICOMs -> 1024x1024 uint8 batches of 16:
   vindr.Loader (native threads)  vs  the pydicom pipeline (pydicom, apply_modality_lut,
   apply_voi_lut, MONOCHROME1, min-max uint8, cv2.resize INTER_AREA, letterbox pad) in two worker
   processes with batches collated in the parent (what torch DataLoader(num_workers=2) does;
   torch itself is not installed here: a multiprocessing pool stands in for it).
2. From a preprocessed cache at 512x512: vindr.Loader(cache=JPEG shards, and raw shards)  vs
   two worker processes decoding the same JPEG files with simplejpeg and collating batches.

Every process runs with OPENBLAS_NUM_THREADS=1 (as DataLoader workers are usually set up), so
idle OpenBLAS threads do not compete for the two cores.

Prints images/s, peak RSS (this process + workers) and ratios; rounds interleave the pipelines.

    python3 benchmarks/bench_loader.py [--images 48] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
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
sys.path.insert(0, str(ROOT / "benchmarks"))


def vm_hwm_kb() -> int:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def pydicom_item(path: str, size: int):
    import cv2
    import numpy as np
    from bench_decode import run_pydicom
    img = run_pydicom(path, size)  # longest side = size, aspect kept
    out = np.zeros((size, size), np.uint8)
    h, w = img.shape
    y0, x0 = (size - h) // 2, (size - w) // 2
    out[y0:y0 + h, x0:x0 + w] = img
    return out


def jpeg_item(path: str, size: int):
    import simplejpeg
    with open(path, "rb") as f:
        return simplejpeg.decode_jpeg(f.read(), colorspace="GRAY")[..., 0]


def pool_epoch(fn, files, size, batch, workers):
    import numpy as np
    with mp.get_context("fork").Pool(workers) as pool:
        n = 0
        t = time.perf_counter()
        items = pool.imap(_call, [(fn, f, size) for f in files], chunksize=1)
        while True:
            chunk = [x for _, x in zip(range(batch), items)]
            if not chunk:
                break
            np.stack(chunk)
            n += len(chunk)
        dt = time.perf_counter() - t
    return n / dt


def _call(args):
    fn, path, size = args
    return {"pydicom": pydicom_item, "jpeg": jpeg_item}[fn](path, size)


def worker(kind: str, spec: dict) -> dict:
    files, size, batch = spec["files"], spec["size"], spec["batch"]
    if kind == "vindr":
        import vindr
        samples = [vindr.Sample(pathlib.Path(f).stem, f) for f in files]
        loader = vindr.Loader(samples, size, batch_size=batch, workers=2, prefetch=4, cache=spec.get("cache"))
        for _ in loader:  # warm-up epoch (page cache, thread start)
            break
        loader.epoch = 1
        n = 0
        t = time.perf_counter()
        for _ in range(spec.get("epochs", 1)):
            for b in loader:
                n += b.images.shape[0]
            loader.epoch += 1
        rate = n / (time.perf_counter() - t)
        status = loader.cache_status
    else:
        rate = pool_epoch(kind, files, size, batch, 2)
        status = ""
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * (2 if kind != "vindr" else 0)
    return {"images_per_s": rate, "peak_rss_mb": (vm_hwm_kb() + children) / 1024, "status": status}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=pathlib.Path, default=pathlib.Path("/tmp/vindr-bench-loader"))
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], json.loads(args.worker[1]))))
        return 0

    import corpus as c
    import vindr
    src = args.dir / "dicom"
    marker = args.dir / "corpus.json"
    if marker.exists() and len(json.loads(marker.read_text())) >= args.images:
        files = json.loads(marker.read_text())[:args.images]
    else:
        files = []
        src.mkdir(parents=True, exist_ok=True)
        base = []
        for i in range(8):  # 8 distinct images, repeated: decoding cost is per file, not per content
            v = c.Variant(f"img{i}", 2800, 2400, photometric="MONOCHROME1" if i % 2 else "MONOCHROME2", windows=[(2048, 3600)])
            base.append(c.write_variant(v, src, seed=i)["explicit"])
        for i in range(args.images):
            p = src / f"cxr{i:04d}.dcm"
            if not p.exists():
                os.link(base[i % 8], p)
            files.append(str(p))
        marker.write_text(json.dumps(files))
    samples = [vindr.Sample(pathlib.Path(f).stem, f) for f in files]
    cache = args.dir / "cache512"
    vindr.build_cache(samples, cache, 512, format="jpeg", quality=90)
    raw = args.dir / "raw512"
    vindr.build_cache(samples, raw, 512, format="raw")
    jpegs = args.dir / "jpeg512"
    jpegs.mkdir(exist_ok=True)
    jpeg_files = []
    loader = vindr.Loader(samples, 512, batch_size=1, shuffle=False, cache=cache)
    import cv2
    for b in loader:  # the peer reads the same pixels as one JPEG file per image
        p = jpegs / f"{b.targets[0]['image_id']}.jpg"
        if not p.exists():
            cv2.imwrite(str(p), b.images[0, 0], [cv2.IMWRITE_JPEG_QUALITY, 90])
        jpeg_files.append(str(p))

    configs = {
        "dicom1024": [("vindr", {"files": files, "size": 1024, "batch": 16}),
                      ("pydicom", {"files": files, "size": 1024, "batch": 16})],
        "cache512": [("vindr", {"files": files, "size": 512, "batch": 64, "cache": str(cache), "epochs": 8}),
                     ("jpeg", {"files": jpeg_files * 4, "size": 512, "batch": 64})],
        "raw512": [("vindr", {"files": files, "size": 512, "batch": 64, "cache": str(raw), "epochs": 16}),
                   ("jpeg", {"files": jpeg_files * 4, "size": 512, "batch": 64})],
    }
    results: dict[tuple, list] = {}
    for r in range(args.rounds):
        for name, runs in configs.items():
            for kind, spec in (runs if r % 2 == 0 else runs[::-1]):
                out = subprocess.run([sys.executable, __file__, "--worker", kind, json.dumps(spec)], capture_output=True, text=True,
                                     env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
                if out.returncode != 0:
                    print(out.stderr[-2000:], file=sys.stderr)
                    continue
                results.setdefault((name, kind), []).append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    print(f"\n{args.images} images 2800x2400, batches of 16 (1024) / 64 (512), 2 workers each, median of {args.rounds} rounds")
    for name, runs in configs.items():
        (a, _), (b, _) = runs
        ra, rb = results.get((name, a), []), results.get((name, b), [])
        if not ra or not rb:
            continue
        ratio = statistics.median(x["images_per_s"] / y["images_per_s"] for x, y in zip(ra, rb))
        print(f"{name:10} {a}: {statistics.median(x['images_per_s'] for x in ra):8.1f} img/s, "
              f"{max(x['peak_rss_mb'] for x in ra):6.0f} MB   {b}: {statistics.median(x['images_per_s'] for x in rb):8.1f} img/s, "
              f"{max(x['peak_rss_mb'] for x in rb):6.0f} MB   ratio {ratio:.1f}x   {ra[0]['status']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
