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

3. Core use on short epochs: process CPU time / wall time of vindr.Loader(workers=2) over
   epochs of a few 1024x1024 batches of JPEG 2000 files (decoding dominates the per-epoch
   overhead), the last batch partial or the only one (2 images = 1 batch of 2; 6 images = batches
   of 4 and 2). A loader that hands whole batches to threads leaves one core idle
   while the last batch renders; one that schedules samples keeps both busy (up to 2.0).
   `--cpu-library OLD.so` runs the same measurement against another build of the library
   (VINDR_LIBRARY) and prints both, e.g. the library before the change.

4. Core use per syntax (`--syntax-cpu`): CPU time / wall time of vindr.Loader(workers=2) over
   one epoch of 8 distinct 2800x2400 12-bit files, each repeated (REPEAT) for about a second of
   work -> 1024x1024 (batches of 4), per transfer syntax, children's CPU included (HTJ2K frames
   decode in a child process), against two separate processes rendering half the files as often
   each (read_dicom().render, the same size): what 2 threads get out of 2 cores, next to what 2
   processes get.

Prints images/s, peak RSS (this process + workers) and ratios; rounds interleave the pipelines.

    python3 benchmarks/bench_loader.py [--images 48] [--rounds 3] [--only-cpu] [--cpu-library OLD.so]
        [--syntax-cpu [SYNTAX ...]]
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


class ThreadCPU:
    """Samples every thread's CPU time (/proc/self/task/*/stat, clock ticks) every 5 ms, so the
    CPU of threads that have exited (a loader's workers end with their epoch) is kept."""

    def __init__(self):
        import threading
        self.seen: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            for task in pathlib.Path("/proc/self/task").iterdir():
                try:
                    fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                self.seen[task.name] = max(self.seen.get(task.name, 0), int(fields[11]) + int(fields[12]))
            time.sleep(0.005)

    def close(self) -> dict[str, int]:
        self.stop.set()
        self.thread.join()
        return self.seen


def cpu_worker(spec: dict) -> dict:
    """CPU time / wall time of vindr.Loader(workers=2) over `epochs` epochs (after a warm-up), and
    the share of the workers' CPU the busiest worker thread did (0.5: evenly shared by two; 1.0:
    one worker did everything while the other idled). The share does not depend on how busy
    the machine is; CPU / wall does."""
    import threading
    import vindr
    files = spec["files"]
    samples = [vindr.Sample(pathlib.Path(f).stem, f) for f in files]
    loader = vindr.Loader(samples, 1024, batch_size=spec["batch"], workers=2, prefetch=2, shuffle=False)
    for _ in loader:
        pass
    sampler = ThreadCPU()
    known = {t.name for t in pathlib.Path("/proc/self/task").iterdir()} | {str(threading.get_native_id())}
    shares = []
    c, t, n = time.process_time(), time.perf_counter(), 0
    for e in range(spec["epochs"]):
        loader.epoch = e + 1
        for b in loader:
            n += b.images.shape[0]
        time.sleep(0.02)  # the sampler's last look at this epoch's threads
        ticks = {k: v for k, v in list(sampler.seen.items()) if k not in known}  # this epoch's workers
        known |= ticks.keys()
        if ticks:
            shares.append(max(ticks.values()) / max(sum(ticks.values()), 1))
    wall = time.perf_counter() - t
    cpu = time.process_time() - c
    sampler.close()
    share = statistics.mean(shares) if shares else float("nan")
    return {"cpu_per_wall": cpu / wall, "images_per_s": n / wall, "busiest_worker_share": share}


def cpu_seconds() -> float:
    """User + system CPU of this process and its waited-for children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def syntax_worker(spec: dict) -> dict:
    """Section 4, one measurement after a warm-up pass: vindr.Loader(workers=2) over one epoch of
    `files` repeated `repeat` times ("loader"), or one process rendering `files` `repeat` times one
    by one ("process")."""
    import vindr
    files = spec["files"]
    for f in files:
        vindr.read_dicom(f).render(1024)
    if spec["kind"] == "process":
        c, t = cpu_seconds(), time.perf_counter()
        for f in files * spec["repeat"]:
            vindr.read_dicom(f).render(1024)
        return {"cpu": cpu_seconds() - c, "wall": time.perf_counter() - t, "images": len(files) * spec["repeat"]}
    samples = [vindr.Sample(f"{pathlib.Path(f).stem}-{k}", f) for k in range(spec["repeat"]) for f in files]
    loader = vindr.Loader(samples, 1024, batch_size=4, workers=2, prefetch=2, shuffle=False)
    c, t, n = cpu_seconds(), time.perf_counter(), 0
    for b in loader:
        n += b.images.shape[0]
    return {"cpu": cpu_seconds() - c, "wall": time.perf_counter() - t, "images": n}


def syntax_files(directory: pathlib.Path, syntax: str) -> list[str]:
    """8 distinct 2800x2400 12-bit files in `syntax` (made once under `directory`/syntax)."""
    import corpus as c
    out = []
    for i in range(8):
        p = directory / "syntax" / f"s{i}-{syntax}.dcm"
        if not p.exists():
            v = c.Variant(f"s{i}", 2800, 2400, windows=[(2048, 3600)], syntaxes=() if syntax.startswith("htj2k") else (syntax,))
            if syntax.startswith("htj2k"):
                c.write_htj2k(v, directory / "syntax", syntax, seed=70 + i)
            else:
                c.write_variant(v, directory / "syntax", seed=70 + i)
        out.append(str(p))
    return out


# How often each file recurs in the measured epoch: enough for about a second of work, so that
# the epoch's end (one thread idle while the other finishes) weighs little on the fast syntaxes.
REPEAT = {"explicit": 24, "rle": 8, "jpeg70": 6}


def syntax_section(directory: pathlib.Path, syntaxes: list[str], rounds: int) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}

    def run(spec: dict) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, __file__, "--syntax-worker", json.dumps(spec)], stdout=subprocess.PIPE, text=True,
                                env=env)

    def result(p: subprocess.Popen) -> dict:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"worker failed ({p.returncode})")
        return json.loads(out.strip().splitlines()[-1])

    rows: dict[str, dict[str, list]] = {}
    for r in range(rounds):
        for syntax in syntaxes:
            files = syntax_files(directory, syntax)
            repeat = REPEAT.get(syntax, 2)
            loader = result(run({"kind": "loader", "files": files, "repeat": repeat}))
            pair = [run({"kind": "process", "files": files[k::2], "repeat": repeat}) for k in range(2)]
            procs = [result(p) for p in pair]
            wall = max(x["wall"] for x in procs)
            row = rows.setdefault(syntax, {"cores": [], "loader": [], "pool": [], "pool_cores": []})
            row["cores"].append(loader["cpu"] / loader["wall"])
            row["loader"].append(loader["images"] / loader["wall"])
            row["pool"].append(sum(x["images"] for x in procs) / wall)
            row["pool_cores"].append(sum(x["cpu"] for x in procs) / wall)
        print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    print(f"\ncore use per syntax, 8 distinct 2800x2400 12-bit files (repeated) -> 1024x1024, median of {rounds} rounds "
          f"(load average at the end: {os.getloadavg()[0]:.1f}); cores = CPU / wall, children included")
    print(f"{'syntax':10} {'Loader(workers=2)':>18} {'cores':>6} {'2 processes':>12} {'cores':>6} {'ratio':>6}")
    for syntax, row in rows.items():
        med = {k: statistics.median(v) for k, v in row.items()}
        print(f"{syntax:10} {med['loader']:13.2f} img/s {med['cores']:6.2f} {med['pool']:6.2f} img/s {med['pool_cores']:6.2f} "
              f"{med['loader'] / med['pool']:5.2f}x")


def j2k_files(directory: pathlib.Path, count: int) -> list[str]:
    """`count` distinct 2800x2400 JPEG 2000 lossless files (made once under `directory`/j2k)."""
    import corpus as c
    out = []
    for i in range(count):
        p = directory / "j2k" / f"j2k{i}-j2k90.dcm"
        if not p.exists():
            v = c.Variant(f"j2k{i}", 2800, 2400, windows=[(2048, 3600)], syntaxes=("j2k90",))
            c.write_variant(v, directory / "j2k", seed=50 + i)
        out.append(str(p))
    return out


def cpu_section(files: list[str], rounds: int, library: str | None) -> None:
    builds = [("this build", None)] + ([("--cpu-library", library)] if library else [])
    shapes = [(2, 2), (6, 4)]
    rows: dict[tuple, list] = {}
    for r in range(rounds):
        for label, lib in (builds if r % 2 == 0 else builds[::-1]):
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
            if lib:
                env["VINDR_LIBRARY"] = lib
            for count, batch in shapes:
                spec = {"files": files[:count], "batch": batch, "epochs": max(2, 8 // count)}
                out = subprocess.run([sys.executable, __file__, "--cpu-worker", json.dumps(spec)], capture_output=True,
                                     text=True, env=env)
                if out.returncode != 0:
                    print(out.stderr[-2000:], file=sys.stderr)
                    continue
                rows.setdefault((label, count, batch), []).append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"\nshort epochs, 2800x2400 JPEG 2000 -> 1024x1024 uint8, workers=2, median of {rounds} rounds "
          f"(CPU/wall: 2.0 = both cores busy; load average at the end: {os.getloadavg()[0]:.1f}; busiest = the busiest "
          f"worker thread's share of its epoch's worker CPU, mean over epochs, 0.5 = even, 1.0 = one worker did all)")
    for (label, count, batch), runs in rows.items():
        print(f"{label:14} {count:3d} images, batches of {batch}: CPU/wall {statistics.median(x['cpu_per_wall'] for x in runs):4.2f}, "
              f"{statistics.median(x['images_per_s'] for x in runs):6.2f} img/s, "
              f"busiest {statistics.median(x['busiest_worker_share'] for x in runs):4.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=pathlib.Path, default=pathlib.Path("/tmp/vindr-bench-loader"))
    ap.add_argument("--only-cpu", action="store_true", help="only the short-epoch core use (section 3)")
    ap.add_argument("--cpu-library", help="another libvindr build to measure section 3 with (VINDR_LIBRARY)")
    ap.add_argument("--syntax-cpu", nargs="*", metavar="SYNTAX",
                    help="only the core use per syntax (section 4): explicit j2k90 rle jpeg70 jpegls80 htj2k201 when none is named")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--syntax-worker", help=argparse.SUPPRESS)
    ap.add_argument("--cpu-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], json.loads(args.worker[1]))))
        return 0
    if args.cpu_worker:
        print(json.dumps(cpu_worker(json.loads(args.cpu_worker))))
        return 0
    if args.syntax_worker:
        print(json.dumps(syntax_worker(json.loads(args.syntax_worker))))
        return 0
    if args.syntax_cpu is not None:
        syntax_section(args.dir, args.syntax_cpu or ["explicit", "j2k90", "rle", "jpeg70", "jpegls80", "htj2k201"], args.rounds)
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
    j2k = j2k_files(args.dir, 6)
    if args.only_cpu:
        cpu_section(j2k, args.rounds, args.cpu_library)
        return 0
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
    cpu_section(j2k, args.rounds, args.cpu_library)
    return 0


if __name__ == "__main__":
    sys.exit(main())
