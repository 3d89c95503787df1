#!/usr/bin/env python3
"""A training-loop skeleton on a VinDr-CXR root (the real one, or `vindr sample`'s): fused reader
boxes as targets, 1024x1024 letterboxed batches from the native loader, random flips; prints
what a detector would receive and the throughput.

    python3 examples/python/train_loop.py sample/ [--epochs 2] [--size 1024] [--batch 8]
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bindings" / "python"))

import vindr  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=pathlib.Path)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    annotations = args.root / "annotations"
    index = vindr.Annotations(annotations / "annotations_train.csv", annotations / "image_labels_train.csv")
    dataset = vindr.Dataset(args.root, index, policy="fused", iou_thr=0.4, classes="kaggle")
    loader = vindr.Loader(dataset, args.size, batch_size=args.batch, flip=0.5, seed=0, dtype="float32")
    print(f"{len(dataset)} training images, {len(index.readers)} readers, {len(loader)} batches per epoch")
    for epoch in range(args.epochs):
        loader.epoch = epoch
        start, images, boxes = time.perf_counter(), 0, 0
        for step, batch in enumerate(loader):
            images += len(batch.targets)
            boxes += sum(len(t["boxes"]) for t in batch.targets)
            if epoch == 0 and step == 0:
                t = batch.targets[0]
                names = [vindr.KAGGLE_CLASSES[i].name for i in t["labels"]]
                print(f"batch images {batch.images.shape} {batch.images.dtype}; {t['image_id']}: {len(t['boxes'])} box(es) {names}")
        elapsed = time.perf_counter() - start
        print(f"epoch {epoch}: {images} images, {boxes} boxes in {elapsed:.2f} s ({images / elapsed:.1f} images/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
