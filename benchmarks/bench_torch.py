#!/usr/bin/env python3
"""Training input into a torchvision detector, CPU: images/s out of a torch DataLoader (2 workers,
batches of 8, collate_fn; no model), one set of DICOMs, both pipelines in the same run:

- vindr: vindr.torch.DetectionDataset over a vindr.Dataset (fused reader boxes, Kaggle classes),
  each item rendered by the native loader in the DataLoader worker.
- pydicom: the usual Kaggle VinBigData torchvision dataset: pydicom.dcmread, apply_voi_lut,
  MONOCHROME1 inversion, min-max to uint8, cv2.resize to size x size, boxes scaled to match,
  float32 (3, H, W) tensor in [0, 1]; targets from the same fused boxes (computed once).

Both stretch to size x size (the Kaggle preprocessing), give tv_tensors with labels = class id + 1,
and run with one thread per worker (OpenCV and torch). Rounds interleave the two; the ratio is
per round, the table shows medians.

The images are the built-in sample (`vindr sample`, PhysioNet layout, 12-bit uncompressed
MONOCHROME2/1 CXRs) --image-size high, written to --dir once.

    python3 benchmarks/bench_torch.py [--images 32] [--image-size 2800] [--size 1024] [--rounds 3]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torchvision import tv_tensors  # noqa: E402

import vindr  # noqa: E402
import vindr.torch as vt  # noqa: E402


class PydicomDetectionDataset(Dataset):
    """The common Kaggle preprocessing as a torchvision detection dataset."""

    def __init__(self, items: list[tuple[str, str, np.ndarray, np.ndarray]], size: int):
        self.items, self.size = items, size

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int):
        import cv2
        import pydicom
        from pydicom.pixels import apply_voi_lut
        image_id, path, boxes, labels = self.items[index]
        ds = pydicom.dcmread(path)
        arr = apply_voi_lut(ds.pixel_array, ds)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            arr = np.amax(arr) - arr
        arr = arr - np.min(arr)
        arr = (arr / max(float(np.max(arr)), 1e-12) * 255).astype(np.uint8)
        h, w = arr.shape
        arr = cv2.resize(arr, (self.size, self.size), interpolation=cv2.INTER_AREA)
        image = tv_tensors.Image(torch.from_numpy(arr).to(torch.float32).div_(255).expand(3, -1, -1).contiguous())
        scale = np.array([self.size / w, self.size / h, self.size / w, self.size / h], np.float32)
        target = {"boxes": tv_tensors.BoundingBoxes(torch.from_numpy(boxes * scale), format="XYXY",
                                                    canvas_size=(self.size, self.size)),
                  "labels": torch.from_numpy(labels + 1), "image_id": image_id}
        return image, target


def one_thread(_worker: int) -> None:
    import cv2
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def epoch_rate(dataset, batch: int, epochs: int) -> float:
    dl = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=2, persistent_workers=True,
                    collate_fn=vt.collate_fn, worker_init_fn=one_thread, generator=torch.Generator().manual_seed(0))
    for _ in dl:  # warm-up epoch: worker start, page cache
        pass
    n, start = 0, time.perf_counter()
    for e in range(epochs):
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(e + 1)
        for images, _ in dl:
            n += len(images)
    return n / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--image-size", type=int, default=2800, help="height of the sample's DICOMs (width 7/8 of it)")
    ap.add_argument("--size", type=int, default=1024, help="model input size")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", type=pathlib.Path, default=pathlib.Path("/tmp/vindr-bench-torch"))
    args = ap.parse_args()
    torch.set_num_threads(1)

    root = args.dir / f"sample-{args.images}-{args.image_size}"
    if not (root / "annotations" / "annotations_train.csv").exists():
        subprocess.run([str(ROOT / ".build" / "release" / "vindr"), "sample", str(root), "--train", str(args.images),
                        "--test", "0", "--size", str(args.image_size), "--seed", "1"], check=True, capture_output=True)
    ann = root / "annotations"
    index = vindr.Annotations(ann / "annotations_train.csv", ann / "image_labels_train.csv")
    dataset = vindr.Dataset(root, index, policy="fused", classes="kaggle")
    ours = vt.DetectionDataset(dataset, args.size, letterbox=False)

    # The peer's targets: the same fused boxes in source pixels, Kaggle class ids, computed once.
    fused = index.targets("fused", iou_thr=0.4)
    ids = index.image_ids
    items = []
    for i, image_id in enumerate(ids):
        keep = (fused["image"] == i)
        kaggle = [vindr.LABELS[int(l)].kaggle_class_id for l in fused["labels"][keep]]
        labels = np.array([-1 if k is None else k for k in kaggle], np.int64).reshape(-1)
        boxes = fused["boxes"][keep].astype(np.float32)
        local = labels >= 0
        items.append((image_id, str(root / "train" / f"{image_id}.dicom"), boxes[local], labels[local]))
    peer = PydicomDetectionDataset(items, args.size)

    im = vindr.read_dicom(items[0][1])
    print(f"{len(items)} DICOMs {im.columns}x{im.rows} ({im.transfer_syntax_uid}) -> {args.size}x{args.size} float32 x3, "
          f"batches of {args.batch}, "
          f"DataLoader(num_workers=2, persistent_workers=True), {args.epochs} timed epochs x {args.rounds} rounds",
          flush=True)
    rates: dict[str, list[float]] = {"vindr": [], "pydicom": []}
    ratios = []
    for r in range(args.rounds):
        order = [("vindr", ours), ("pydicom", peer)]
        round_rates = {}
        for name, ds in (order if r % 2 == 0 else order[::-1]):
            round_rates[name] = epoch_rate(ds, args.batch, args.epochs)
            rates[name].append(round_rates[name])
        ratios.append(round_rates["vindr"] / round_rates["pydicom"])
        print(f"round {r + 1}: vindr {round_rates['vindr']:7.1f} img/s   pydicom {round_rates['pydicom']:7.1f} img/s   "
              f"ratio {ratios[-1]:.1f}x", flush=True)
    print(f"median: vindr.torch.DetectionDataset {statistics.median(rates['vindr']):.1f} img/s   "
          f"pydicom + cv2 dataset {statistics.median(rates['pydicom']):.1f} img/s   ratio {statistics.median(ratios):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
