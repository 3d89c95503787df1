#!/usr/bin/env python3
"""This library against an earlier release of it, side by side in one run.

Each task runs in a fresh Python process with one version's bindings (`bindings/python` of its
checkout) and library (`.build/release/libVinDrC.so`, through VINDR_LIBRARY), alternating the
versions round by round; a task times its calls after one warm-up call and reports the median.
Only calls that both versions have are used, so the numbers compare the same work:

- render:SYNTAX   read_dicom(path).render(1024) of 2800x2400 12-bit files (one thread), exact
                  decoding in both (0.3's reduced_decode=False, the new default decode="exact");
- render:j2k90-fast   the same with reduced-resolution JPEG 2000 decoding (0.3's default
                  reduced_decode=True; decode="fast" now);
- pixels          read_dicom(path).pixels() of the uncompressed files;
- loader          one epoch of Loader(48 samples, 1024, batch_size=16, workers=2, shuffle=False);
- parse           Annotations(Kaggle train.csv, 67,914 rows);
- fuse            Annotations.targets("fused", iou_thr=0.4) over its 15,000 images;
- wbf / nms       weighted_boxes_fusion / nms per call, 3 models x 30 boxes.

    python3 benchmarks/bench_versions.py --old CHECKOUT [--rounds 3] [--images 4] [--tasks ...]

CHECKOUT is a built checkout of the earlier release, e.g.
`git worktree add --detach /tmp/v03 v0.3.0-commit && (cd /tmp/v03 && scripts/build)`.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import timeit

ROOT = pathlib.Path(__file__).resolve().parents[1]
SYNTAXES = ["explicit", "j2k90", "rle", "jpeg70", "jpegls80"]
TASKS = [f"render:{s}" for s in SYNTAXES] + ["render:j2k90-fast", "pixels", "loader", "parse", "fuse", "wbf", "nms"]


# ----------------------------------------------------------------------------- worker side
def run_task(task: str, data: dict) -> tuple[float, int]:
    """Median seconds of one call of `task` with the imported version, and items per call."""
    import inspect

    import numpy as np
    import vindr

    repeat = data["repeat"]

    def median(fn) -> float:
        fn()  # warm-up
        return statistics.median(timeit.repeat(fn, number=1, repeat=repeat))

    if task.startswith("render:"):
        syntax = task.split(":", 1)[1]
        fast = syntax.endswith("-fast")
        files = data["files"][syntax.removesuffix("-fast")]
        params = inspect.signature(vindr.DicomImage.render).parameters
        kwargs = ({"decode": "fast" if fast else "exact"} if "decode" in params
                  else {"reduced_decode": fast})

        def render_all():
            for p in files:
                vindr.read_dicom(p).render(1024, **kwargs)
        return median(render_all) / len(files), len(files)
    if task == "pixels":
        files = data["files"]["explicit"]

        def pixels_all():
            for p in files:
                vindr.read_dicom(p).pixels()
        return median(pixels_all) / len(files), len(files)
    if task == "loader":
        files = data["files"]["explicit"]
        samples = [vindr.Sample(f"s{i}", files[i % len(files)]) for i in range(48)]
        loader = vindr.Loader(samples, 1024, batch_size=16, workers=2, shuffle=False)

        def epoch():
            for _ in loader:
                pass
        try:
            return median(epoch) / len(samples), len(samples)
        finally:
            loader.close()
    if task in ("parse", "fuse"):
        if task == "parse":
            return median(lambda: vindr.Annotations(data["csv"]).close()), 1
        ann = vindr.Annotations(data["csv"])
        return median(lambda: ann.targets("fused", iou_thr=0.4)), 1
    if task in ("wbf", "nms"):
        rng = np.random.default_rng(0)
        models = []
        for _ in range(3):
            xy = rng.random((30, 2)) * 0.7
            models.append((np.concatenate([xy, xy + rng.random((30, 2)) * 0.3 + 0.01], 1), rng.random(30),
                           rng.integers(0, 5, 30).astype(float)))
        b, s, lab = ([m[i] for m in models] for i in range(3))
        fn = ((lambda: vindr.weighted_boxes_fusion(b, s, lab, iou_thr=0.55)) if task == "wbf"
              else (lambda: vindr.nms(b, s, lab, iou_thr=0.5)))
        return median(lambda: [fn() for _ in range(300)]) / 300, 1
    raise SystemExit(f"unknown task {task}")


# ----------------------------------------------------------------------------- parent side
def run_version(checkout: pathlib.Path, task: str, data: dict) -> float:
    env = dict(os.environ, VINDR_LIBRARY=str(checkout / ".build" / "release" / "libVinDrC.so"),
               PYTHONPATH=str(checkout / "bindings" / "python"), OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, "--worker", task, json.dumps(data)], env=env, check=True,
                         capture_output=True, text=True, cwd="/")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if not result["version"].startswith(tuple("0123456789")):
        raise SystemExit(f"{checkout}: no version reported")
    return result["seconds"]


def version_of(checkout: pathlib.Path) -> str:
    env = dict(os.environ, VINDR_LIBRARY=str(checkout / ".build" / "release" / "libVinDrC.so"),
               PYTHONPATH=str(checkout / "bindings" / "python"))
    return subprocess.run([sys.executable, "-c", "import vindr; print(vindr.__version__)"], env=env, check=True,
                          capture_output=True, text=True, cwd="/").stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", type=pathlib.Path, help="a built checkout of the earlier release")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3, help="timed calls per task and process")
    ap.add_argument("--images", type=int, default=4, help="files per syntax")
    ap.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        import vindr
        seconds, _ = run_task(args.worker[0], json.loads(args.worker[1]))
        print(json.dumps({"seconds": seconds, "version": vindr.__version__}))
        return 0
    if args.old is None:
        ap.error("--old CHECKOUT is required")
    for checkout in (args.old, ROOT):
        if not (checkout / ".build" / "release" / "libVinDrC.so").exists():
            raise SystemExit(f"{checkout}: not built (run scripts/build there)")

    sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "Tests" / "python")]
    from bench_annotations import kaggle_train_csv
    from bench_decode import build_corpus
    files = build_corpus(pathlib.Path("/tmp/vindr-bench-corpus"), args.images, SYNTAXES)
    data = {"files": files, "csv": str(kaggle_train_csv()), "repeat": args.repeat}

    versions = {"old": version_of(args.old), "new": version_of(ROOT)}
    results: dict[str, dict[str, list[float]]] = {t: {"old": [], "new": []} for t in args.tasks}
    for r in range(args.rounds):
        for task in args.tasks:
            order = [("old", args.old), ("new", ROOT)]
            for name, checkout in (order if r % 2 == 0 else order[::-1]):
                results[task][name].append(run_version(checkout, task, data))
    print(f"{versions['old']} ({args.old}) against {versions['new']} ({ROOT}); "
          f"median of {args.rounds} interleaved rounds, {args.repeat} timed calls each")
    print(f"{'task':20} {versions['old'] + ' ms':>12} {versions['new'] + ' ms':>12} {'new/old speed':>14}  spread of ratio")
    for task, r in results.items():
        old, new = statistics.median(r["old"]), statistics.median(r["new"])
        ratios = [o / n for o, n in zip(r["old"], r["new"])]
        print(f"{task:20} {old * 1e3:12.3f} {new * 1e3:12.3f} {old / new:13.2f}x  "
              f"{min(ratios):.2f}-{max(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
