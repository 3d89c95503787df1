#!/usr/bin/env python3
"""WebDataset cache shards: building them and training from them, vindr against the peers.

1. Build: the synthetic CXRs (`vindr sample`, 12-bit uncompressed, --image-size rows, width 7/8
   of it, read once beforehand so every build finds them in the page cache) rendered to 512 px
   JPEG shards by the native `vindr.build_cache` (all cores) and by `vindr.ray.build_cache` on a
   local Ray with 2 CPUs (ray.init before the clock; actor start and scheduling counted): the
   best of --rounds builds each, Ray's overhead in %, the first Ray build of a fresh Ray
   instance (which also starts its worker processes); and the same on --copies times the images
   (hard links to the same DICOMs under new ids), whence each pipeline's per-image cost and fixed
   part, and that large build again with shards of 100 and 500. Also the native build of raw,
   raw16 and of 1024 px JPEG shards, and each format's shard bytes per image against the source
   DICOM bytes per image.
2. Train-time reads at 512 px, batches of 16, shuffled, 2 workers each: vindr.Loader(cache=dir)
   over the JPEG, raw (uint8) and raw16 shards (raw16 with window_jitter=0.1)  vs  the same shards
   read by webdataset.WebDataset(...).decode(...) in a torch DataLoader(num_workers=2,
   batch_size=16): JPEG decoded by PIL (decode("l")) and by simplejpeg, raw by numpy, raw16
   windowed with the same jitter in numpy. Rounds interleave the two; ratios are per round.
3. Estimated wall time of the native build for 18,000 images at 512 and 1024 px on 1, 8 and 64
   nodes, from the measured per-image cost (see the printed assumptions).

    python3 benchmarks/bench_shards.py [--images 400] [--image-size 2048] [--shard-size 25] [--rounds 3] [--copies 10] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python"))

SIZE, BATCH, JITTER = 512, 16, 0.1


def annotation_files(root: pathlib.Path) -> list[str]:
    return [str(root / "annotations" / "annotations_train.csv"), str(root / "annotations" / "image_labels_train.csv")]


# --- the peer: webdataset + torch DataLoader ---------------------------------------------------

def simplejpeg_handler(key: str, data: bytes):
    if key.endswith("jpg"):
        import simplejpeg
        return simplejpeg.decode_jpeg(data, colorspace="GRAY")[..., 0]
    return None


def take_jpg(sample: dict):
    return sample["jpg"]


def take_npy(sample: dict):
    return sample["npy"]


class JitteredWindow:
    """raw16 -> uint8 as the record says (uint16 -> modality values through `values`, the window,
    `invert`), the window's width scaled by U[1-j, 1+j] and its center moved by up to j/2 widths
    (what window_jitter does); the VOI functions of PS3.3 C.11.2.1.2."""

    def __init__(self, jitter: float, seed: int = 0):
        import numpy as np
        self.jitter, self.rng = jitter, np.random.default_rng(seed)

    def __call__(self, sample: dict):
        import numpy as np
        meta = sample["json"]
        lo, hi = meta["values"]
        window = meta["window"]
        if window.get("center") is not None:
            center, width, function = float(window["center"]), float(window["width"]), window.get("function", "LINEAR")
        else:
            center, width, function = (window["low"] + window["high"]) / 2, window["high"] - window["low"], "LINEAR_EXACT"
        width *= 1 + self.rng.uniform(-self.jitter, self.jitter)
        center += self.rng.uniform(-self.jitter / 2, self.jitter / 2) * width
        x = sample["npy"].astype(np.float32) * np.float32((hi - lo) / 65535) + np.float32(lo)
        if function == "SIGMOID":
            y = 1 / (1 + np.exp(-4 * (x - center) / width))
        elif function == "LINEAR_EXACT":
            y = (x - center) / width + 0.5
        else:
            y = (x - (center - 0.5)) / max(width - 1, 1) + 0.5
        out = (np.clip(y, 0, 1) * 255 + 0.5).astype(np.uint8)
        return 255 - out if meta.get("invert") else out


def peer_rate(kind: str, urls: list[str], epochs: int) -> float:
    import torch
    import webdataset as wds
    from torch.utils.data import DataLoader
    torch.set_num_threads(1)
    ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False).shuffle(64)
    if kind == "pil":
        ds = ds.decode("l").map(take_jpg)
    elif kind == "simplejpeg":
        ds = ds.decode(simplejpeg_handler).map(take_jpg)
    elif kind == "numpy":
        ds = ds.decode().map(take_npy)
    else:  # raw16 with window jitter
        ds = ds.decode().map(JitteredWindow(JITTER))
    dl = DataLoader(ds, batch_size=BATCH, num_workers=2, persistent_workers=True,
                    worker_init_fn=lambda _: torch.set_num_threads(1))
    for _ in dl:  # warm-up epoch: worker start, page cache
        pass
    n, start = 0, time.perf_counter()
    for _ in range(epochs):
        for batch in dl:
            n += len(batch)
    return n / (time.perf_counter() - start)


def vindr_rate(root: str, cache: str, jitter: float, epochs: int) -> tuple[float, str]:
    import vindr
    dataset = vindr.Dataset(root, annotation_files(pathlib.Path(root)))
    loader = vindr.Loader(dataset, SIZE, batch_size=BATCH, workers=2, prefetch=4, cache=cache, window_jitter=jitter)
    for _ in loader:  # warm-up epoch
        pass
    n, start = 0, time.perf_counter()
    for e in range(epochs):
        loader.epoch = e + 1
        for b in loader:
            n += b.images.shape[0]
    return n / (time.perf_counter() - start), loader.cache_status


def worker(spec: dict) -> dict:
    if spec["pipeline"] == "vindr":
        rate, status = vindr_rate(spec["root"], spec["cache"], spec["jitter"], spec["epochs"])
        return {"images_per_s": rate, "status": status}
    return {"images_per_s": peer_rate(spec["pipeline"], spec["urls"], spec["epochs"])}


def run_worker(spec: dict) -> dict | None:
    out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr[-3000:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- builds -----------------------------------------------------------------------------------

def shard_bytes(directory: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("shard-*.tar"))


def timed_native(dataset, directory: pathlib.Path, size: int, fmt: str, shard_size: int) -> float:
    import vindr
    shutil.rmtree(directory, ignore_errors=True)
    start = time.perf_counter()
    vindr.build_cache(dataset, directory, size, format=fmt, shard_size=shard_size)
    return time.perf_counter() - start


def timed_ray(root: pathlib.Path, directory: pathlib.Path, size: int, fmt: str, shard_size: int) -> float:
    import vindr.ray
    shutil.rmtree(directory, ignore_errors=True)
    start = time.perf_counter()
    vindr.ray.build_cache(root, annotation_files(root), directory, size, format=fmt, shard_size=shard_size)
    return time.perf_counter() - start


def linked_copies(root: pathlib.Path, copies: int) -> pathlib.Path:
    """A training set of `copies` x the images of `root`: hard links to its DICOMs under new image
    ids (md5 of id and copy number) with the same annotation rows, so a large build reads only
    the page cache of the small set; the renders are the same work as for distinct files."""
    import hashlib
    out = root.parent / f"{root.name}-x{copies}"
    if (out / "annotations" / "image_labels_train.csv").exists():
        return out
    (out / "train").mkdir(parents=True, exist_ok=True)
    (out / "annotations").mkdir(exist_ok=True)
    for name in ("annotations_train.csv", "image_labels_train.csv"):
        header, *rows = (root / "annotations" / name).read_text().splitlines()
        lines = [header]
        for k in range(copies):
            for row in rows:
                image_id, rest = row.split(",", 1)
                lines.append(hashlib.md5(f"{image_id}/{k}".encode()).hexdigest() + "," + rest)
        (out / "annotations" / name).write_text("\n".join(lines) + "\n")
    for src in (root / "train").glob("*.dicom"):
        for k in range(copies):
            dst = out / "train" / (hashlib.md5(f"{src.stem}/{k}".encode()).hexdigest() + ".dicom")
            if not dst.exists():
                os.link(src, dst)
    return out


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--image-size", type=int, default=2048, help="rows of the synthetic DICOMs (width 7/8 of it)")
    ap.add_argument("--shard-size", type=int, default=25, help="samples per shard (several shards feed 2 workers)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--copies", type=int, default=10, help="the large build: the images this many times over")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs per loader measurement")
    ap.add_argument("--dir", type=pathlib.Path, default=pathlib.Path("/tmp/vindr-bench-shards"))
    ap.add_argument("--quick", action="store_true", help="smoke run: 24 images of 1024 rows, 1 round, 1 epoch")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.quick:
        args.images, args.image_size, args.shard_size, args.rounds, args.epochs, args.copies = 24, 1024, 8, 1, 1, 2

    import ray
    import vindr
    import vindr.ray  # noqa: F401
    root = args.dir / f"sample-{args.images}-{args.image_size}"
    if not (root / "annotations" / "annotations_train.csv").exists():
        vindr.write_sample(root, train=args.images, test=0, size=args.image_size, seed=1)
    dataset = vindr.Dataset(root, annotation_files(root))
    n = len(dataset)
    dicom_bytes = sum(p.stat().st_size for p in (root / "train").glob("*.dicom")) / n
    im = vindr.read_dicom(next((root / "train").glob("*.dicom")))
    print(f"{n} synthetic CXR DICOMs {im.columns}x{im.rows} ({im.transfer_syntax_uid}), {dicom_bytes / 1e6:.2f} MB each; "
          f"shards of {args.shard_size}; load average {os.getloadavg()[0]:.1f}", flush=True)

    # 1. builds, from DICOMs in the page cache (read once here), as every later build reads them
    for path in list((root / "train").glob("*.dicom")):
        path.read_bytes()
    caches = {fmt: args.dir / f"{fmt}{SIZE}" for fmt in ("jpeg", "raw", "raw16")}
    native_s = {fmt: timed_native(dataset, d, SIZE, fmt, args.shard_size) for fmt, d in caches.items()}
    native_1024 = timed_native(dataset, args.dir / "jpeg1024", 1024, "jpeg", args.shard_size)
    # The same images --copies times over (hard links, new ids): a build long enough that fixed
    # costs fade, and with the small one each pipeline's per-image cost and fixed part.
    big = linked_copies(root, args.copies)
    big_dataset = vindr.Dataset(big, annotation_files(big))
    n_big = len(big_dataset)
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT / "bindings" / "python")}})
    ray_init = time.perf_counter() - start
    # The first build in a fresh Ray instance also starts its worker processes; later builds
    # (a cluster that has run a job before) reuse them. Both are reported; the rates use the best
    # of --rounds builds each, native and Ray alike.
    ray_cold = timed_ray(root, args.dir / f"ray-jpeg{SIZE}", SIZE, "jpeg", args.shard_size)
    runs = {"native": lambda: timed_native(dataset, caches["jpeg"], SIZE, "jpeg", args.shard_size),
            "native_big": lambda: timed_native(big_dataset, args.dir / f"big{SIZE}", SIZE, "jpeg", args.shard_size),
            "ray": lambda: timed_ray(root, args.dir / f"ray-jpeg{SIZE}", SIZE, "jpeg", args.shard_size),
            "ray_big": lambda: timed_ray(big, args.dir / f"ray-big{SIZE}", SIZE, "jpeg", args.shard_size)}
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for key, run in runs.items():
            best[key] = min(best.get(key, float("inf")), run())
    native_s["jpeg"] = best["native"]
    per_native = (best["native_big"] - best["native"]) / (n_big - n)
    per_ray = (best["ray_big"] - best["ray"]) / (n_big - n)
    same = True
    for a, b in ((caches["jpeg"], args.dir / f"ray-jpeg{SIZE}"), (args.dir / f"big{SIZE}", args.dir / f"ray-big{SIZE}")):
        names = sorted(p.name for p in a.glob("shard-*.tar"))
        same = same and names == sorted(p.name for p in b.glob("shard-*.tar")) and \
            all((a / x).read_bytes() == (b / x).read_bytes() for x in names)
    print(f"\nbuild, {SIZE} px JPEG q90, best of {args.rounds}, vindr.ray on 2 CPUs, shards of {args.shard_size} "
          f"unless stated (shard files identical: {same})")
    for label, count, nat, ray_t in ((f"{n} images", n, best["native"], best["ray"]),
                                     (f"{n_big} images", n_big, best["native_big"], best["ray_big"])):
        print(f"  {label:12} native {count / nat:7.1f} img/s ({nat:6.2f} s)   vindr.ray {count / ray_t:7.1f} img/s "
              f"({ray_t:6.2f} s)   Ray overhead {(ray_t - nat) / nat * 100:+.0f}%")
    # Larger shards: fewer Ray tasks for the same images.
    for shard_size in sorted({100, 500} - {args.shard_size}):
        nat = min(timed_native(big_dataset, args.dir / f"big{SIZE}-{shard_size}", SIZE, "jpeg", shard_size) for _ in range(args.rounds))
        ray_t = min(timed_ray(big, args.dir / f"ray-big{SIZE}-{shard_size}", SIZE, "jpeg", shard_size) for _ in range(args.rounds))
        print(f"  {n_big} images, shards of {shard_size}: native {n_big / nat:7.1f} img/s ({nat:6.2f} s)   vindr.ray "
              f"{n_big / ray_t:7.1f} img/s ({ray_t:6.2f} s)   Ray overhead {(ray_t - nat) / nat * 100:+.0f}%")
    ray.shutdown()
    print(f"  shards of {args.shard_size}, per image: native {per_native * 1000:.2f} ms, vindr.ray {per_ray * 1000:.2f} ms "
          f"({(per_ray - per_native) / per_native * 100:+.0f}%); fixed part: native {best['native'] - per_native * n:.2f} s, "
          f"vindr.ray {best['ray'] - per_ray * n:.2f} s")
    print(f"  first Ray build of {n} in a fresh Ray instance {ray_cold:.2f} s (its worker processes start); "
          f"ray.init {ray_init:.1f} s, not counted")
    print(f"{'shards':14} {'build img/s':>11} {'bytes/image':>12} {'x DICOM':>8}")
    print(f"{'DICOM source':14} {'':>11} {dicom_bytes:12,.0f} {1:8.3f}")
    for fmt, d in caches.items():
        per = shard_bytes(d) / n
        print(f"{fmt + ' ' + str(SIZE):14} {n / native_s[fmt]:11.1f} {per:12,.0f} {per / dicom_bytes:8.3f}")
    per = shard_bytes(args.dir / "jpeg1024") / n
    print(f"{'jpeg 1024':14} {n / native_1024:11.1f} {per:12,.0f} {per / dicom_bytes:8.3f}", flush=True)

    # 2. loaders
    urls = {fmt: [str(p) for p in sorted(d.glob("shard-*.tar"))] for fmt, d in caches.items()}
    rows = [("jpeg", 0.0, "pil", "JPEG, PIL"), ("jpeg", 0.0, "simplejpeg", "JPEG, simplejpeg"),
            ("raw", 0.0, "numpy", "raw uint8, numpy"), ("raw16", JITTER, "raw16", f"raw16 jitter {JITTER}")]
    results: dict[tuple, list] = {}
    for r in range(args.rounds):
        for fmt, jitter, peer, label in rows:
            pair = [("vindr", {"pipeline": "vindr", "root": str(root), "cache": str(caches[fmt]), "jitter": jitter}),
                    ("peer", {"pipeline": peer, "urls": urls[fmt]})]
            for who, spec in (pair if r % 2 == 0 else pair[::-1]):
                out = run_worker({**spec, "epochs": args.epochs})
                if out:
                    results.setdefault((label, who), []).append(out)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    print(f"\nreading the {SIZE} px shards, batches of {BATCH}, 2 workers each, {args.epochs} epochs of {n}, "
          f"median of {args.rounds} rounds (load average {os.getloadavg()[0]:.1f})")
    print(f"{'shards':24} {'vindr.Loader img/s':>18} {'webdataset+DataLoader img/s':>28} {'ratio':>7}   vindr cache status")
    for _, _, _, label in rows:
        a, b = results.get((label, "vindr"), []), results.get((label, "peer"), [])
        if not a or not b:
            print(f"{label:24} (failed)")
            continue
        ratio = statistics.median(x["images_per_s"] / y["images_per_s"] for x, y in zip(a, b))
        print(f"{label:24} {statistics.median(x['images_per_s'] for x in a):18.1f} "
              f"{statistics.median(x['images_per_s'] for x in b):28.1f} {ratio:6.1f}x   {a[0]['status']}")

    # 3. estimate
    total = 18000
    print(f"\nestimated native build of {total:,} images (per node as this machine: 2 cores, DICOMs like these "
          f"{im.columns}x{im.rows} uncompressed ones; linear scaling over nodes; storage not the bottleneck; "
          f"vindr.ray: add its per-image overhead and fixed part above)")
    print(f"{'size':6} {'s/image':>9} {'1 node':>10} {'8 nodes':>10} {'64 nodes':>10}")
    for size, seconds in ((SIZE, native_s["jpeg"]), (1024, native_1024)):
        per = seconds / n
        print(f"{size:<6} {per:9.4f} " + " ".join(f"{duration(total * per / nodes):>10}" for nodes in (1, 8, 64)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
