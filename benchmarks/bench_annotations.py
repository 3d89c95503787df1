#!/usr/bin/env python3
"""Annotation, box and metric speed against the Python tools people use, side by side in one run.

    VINDR_LIBRARY=.build/release/libVinDrC.so python3 benchmarks/bench_annotations.py [--repeat 5]

Peers: pandas.read_csv + groupby (parsing the Kaggle train.csv), ensemble-boxes 1.0.9 (box
functions and fusing every image's readers in a Python loop; numba warmed up first), pycocotools
(evaluation). The data is the real Kaggle VinBigData train.csv (67,914 rows), taken from
torchxrayvision's wheel on PyPI and cached in $VINDR_TEST_CACHE (default ~/.cache/vindr-tests).
Times are medians of interleaved runs; compare the ratios, not absolute times across machines.
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile

# Neither side uses BLAS; idle OpenBLAS threads only add noise on small machines.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
import vindr  # noqa: E402

CACHE = pathlib.Path(os.environ.get("VINDR_TEST_CACHE", pathlib.Path.home() / ".cache" / "vindr-tests"))


def kaggle_train_csv() -> pathlib.Path:
    csv = CACHE / "vinbigdata-train.csv"
    if not csv.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "torchxrayvision==1.5.7",
                            "-d", tmp], check=True)
            wheel = next(pathlib.Path(tmp).glob("torchxrayvision-*.whl"))
            with zipfile.ZipFile(wheel) as z, z.open("torchxrayvision/data/vinbigdata-train.csv.gz") as f:
                csv.write_bytes(gzip.decompress(f.read()))
    return csv


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved(ours, peer, repeat: int) -> tuple[float, float]:
    a, b = [], []
    for _ in range(repeat):
        a.append(median_time(ours, 1))
        b.append(median_time(peer, 1))
    return statistics.median(a), statistics.median(b)


ROWS = []


def report(task: str, ours: float, peer: float, peer_name: str) -> None:
    ROWS.append((task, ours, peer, peer_name))
    print(f"{task:<54} {ours * 1e3:>10.3f} ms {peer * 1e3:>11.3f} ms {peer / ours:>8.1f}x  ({peer_name})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    import ensemble_boxes as eb
    import pandas as pd
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    csv = kaggle_train_csv()
    print(f"data: {csv} ({sum(1 for _ in open(csv)) - 1} rows); numpy {np.__version__}, pandas {pd.__version__}")
    print(f"{'task':<54} {'vindr':>13} {'peer':>14} {'ratio':>9}")

    # 1. Parsing train.csv into an image -> reader -> rows index.
    def pandas_parse():
        df = pd.read_csv(csv)
        return df.groupby(["image_id", "rad_id"], sort=False).indices  # (image, reader) -> row numbers
    ours, peer = interleaved(lambda: vindr.Annotations(csv), pandas_parse, args.repeat)
    report("parse train.csv (67,914 rows) into an index", ours, peer, "pandas.read_csv + groupby")

    # 2. Fusing every image's readers (WBF, iou 0.4): one call vs ensemble-boxes in a Python loop.
    ann = vindr.Annotations(csv)
    df = pd.read_csv(csv)

    # 1b. Every image's boxes, one image at a time (a Dataset's __getitem__ without pixels): a fresh
    # index each round, so the first call's table is part of the time.
    ids = ann.image_ids

    def ours_per_image():
        a = vindr.Annotations(csv)
        for image_id in ids:
            a.boxes(image_id)

    def pandas_per_image():
        groups = df.dropna(subset=["x_min"]).groupby("image_id", sort=False)
        present = groups.indices
        for image_id in ids:
            if image_id in present:
                groups.get_group(image_id)[["x_min", "y_min", "x_max", "y_max", "class_name", "rad_id"]].to_numpy()
    ours, peer = interleaved(ours_per_image, pandas_per_image, max(1, args.repeat // 2))
    report(f"boxes of each of {len(ids):,} images, one call per image", ours, peer, "pandas groupby + get_group")
    names = [l.name for l in vindr.LABELS]
    per_image = []
    for image_id, g in df.groupby("image_id", sort=False):
        boxes, scores, labels = [], [], []
        for reader in g.rad_id.unique():
            r = g[(g.rad_id == reader) & g.x_min.notna()]
            boxes.append(r[["x_min", "y_min", "x_max", "y_max"]].to_numpy().reshape(-1, 4) / 4096.0)
            scores.append(np.ones(len(r)))
            labels.append(np.array([names.index(c) for c in r.class_name], dtype=float))
        per_image.append((boxes, scores, labels))
    eb.weighted_boxes_fusion(*per_image[0], iou_thr=0.4)

    def eb_fuse_all():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for b, s, l in per_image:
                eb.weighted_boxes_fusion(b, s, l, iou_thr=0.4)
    ours = median_time(lambda: ann.targets("fused", iou_thr=0.4), args.repeat)
    peer = median_time(eb_fuse_all, 1)
    report("fuse all 15,000 images' readers (WBF)", ours, peer, "ensemble-boxes loop")

    # 3. Per-call box functions: a small ensemble (3 models x 30 boxes, 5 classes) and a detector
    # ensemble at a low score threshold (5 models x 100 boxes, 14 classes).
    rng = np.random.default_rng(0)

    def ensemble(n_models, n_boxes, classes):
        models = []
        for _ in range(n_models):
            xy = rng.random((n_boxes, 2)) * 0.7
            models.append((np.concatenate([xy, xy + rng.random((n_boxes, 2)) * 0.3 + 0.01], 1), rng.random(n_boxes),
                           rng.integers(0, classes, n_boxes).astype(float)))
        return tuple([m[i] for m in models] for i in range(3))
    for shape, calls in [((3, 30, 5), 300), ((5, 100, 14), 60)]:
        b, s, l = ensemble(*shape)
        for name, ours_fn, peer_fn in [
            ("weighted_boxes_fusion", lambda: vindr.weighted_boxes_fusion(b, s, l, iou_thr=0.55),
             lambda: eb.weighted_boxes_fusion(b, s, l, iou_thr=0.55)),
            ("nms", lambda: vindr.nms(b, s, l, iou_thr=0.5), lambda: eb.nms(b, [x.copy() for x in s], l, iou_thr=0.5)),
            ("soft_nms (gaussian)", lambda: vindr.soft_nms(b, s, l, sigma=0.5, thresh=0.001),
             lambda: eb.soft_nms(b, [x.copy() for x in s], l, sigma=0.5, thresh=0.001)),
        ]:
            peer_fn()  # numba compilation
            ours, peer = interleaved(lambda: [ours_fn() for _ in range(calls)],
                                     lambda: [peer_fn() for _ in range(calls)], args.repeat)
            report(f"{name}, per call, {shape[0]} models x {shape[1]} boxes", ours / calls, peer / calls,
                   "ensemble-boxes")

    # 4. Evaluating 3,000 images: ground truth = every reader's rows, detections = jittered boxes.
    sub = df[df.image_id.isin(df.image_id.unique()[:3000])]
    ids = {k: i for i, k in enumerate(sub.image_id.unique())}
    gi = sub.image_id.map(ids).to_numpy()
    gl = sub.class_id.to_numpy()
    gb = sub[["x_min", "y_min", "x_max", "y_max"]].to_numpy(dtype=float)
    gb[gl == 14] = [0, 0, 1, 1]
    keep = rng.random(len(gb)) < 0.9
    di, dl = np.concatenate([gi[keep], gi]), np.concatenate([gl[keep], rng.integers(0, 15, len(gl))])
    jitter = rng.normal(0, 15, (len(di), 4))
    db = np.concatenate([gb[keep], gb]) + jitter
    db[:, 2:] = np.maximum(db[:, 2:], db[:, :2] + 1)
    ds = rng.random(len(di))
    xywh = lambda x: np.column_stack([x[:, 0], x[:, 1], x[:, 2] - x[:, 0], x[:, 3] - x[:, 1]])  # noqa: E731
    gt_json = {"images": [{"id": i} for i in range(len(ids))], "categories": [{"id": c} for c in range(15)],
               "annotations": [{"id": k + 1, "image_id": int(i), "category_id": int(c), "bbox": list(map(float, bb)),
                                "area": float(bb[2] * bb[3]), "iscrowd": 0}
                               for k, (i, c, bb) in enumerate(zip(gi, gl, xywh(gb)))]}
    dets = [{"image_id": int(i), "category_id": int(c), "bbox": list(map(float, bb)), "score": float(sc)}
            for i, c, bb, sc in zip(di, dl, xywh(db), ds)]

    def cocoeval(single_threshold: bool, summarize: bool):
        """pycocotools COCOeval on the same boxes: one IoU threshold of 0.4 and no size limits
        (the AP rows), or its default settings with the 12-number summary."""
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO()
            coco_gt.dataset = gt_json
            coco_gt.createIndex()
            e = COCOeval(coco_gt, coco_gt.loadRes(dets), "bbox")
            if single_threshold:
                e.params.iouThrs = np.array([0.4])
                e.params.maxDets = [1000]
                e.params.areaRng, e.params.areaRngLbl = [[0, 1e10]], ["all"]
            e.evaluate()
            e.accumulate()
            if summarize:
                e.summarize()

    def pycocotools_eval():
        cocoeval(single_threshold=True, summarize=False)

    def ours_eval(mode):
        return lambda: vindr.average_precision(gb, gl, gi, db, ds, dl, di, num_images=len(ids), num_classes=15,
                                               iou_thr=0.4, mode=mode)
    ours, peer = interleaved(ours_eval("coco"), pycocotools_eval, max(1, args.repeat // 2))
    report(f"evaluate 3,000 images, COCO 101-pt ({len(di)} dets)", ours, peer, "pycocotools")
    ours = median_time(ours_eval("voc"), args.repeat)
    report("evaluate 3,000 images, VOC 2010 (competition)", ours, peer, "pycocotools COCO mode")

    # 5. The COCO summary (12 numbers: IoU 0.50:0.95, three area ranges, 1/10/100 detections).
    def pycocotools_summary():
        cocoeval(single_threshold=False, summarize=True)
    ours, peer = interleaved(lambda: vindr.coco_evaluate(gb, gl, gi, db, ds, dl, di, num_images=len(ids), num_classes=15),
                             pycocotools_summary, max(1, args.repeat // 2))
    report("COCO summary of 3,000 images (12 COCOeval numbers)", ours, peer, "pycocotools COCOeval")


if __name__ == "__main__":
    main()
