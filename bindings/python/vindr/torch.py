"""PyTorch adapters (PyTorch is optional: importing this module requires it).

- `DetectionDataset`: map-style, `ds[i]` -> (image tensor (C, H, W) float32 in [0, 1], target)
  with target = {"boxes": FloatTensor[N, 4] xyxy, "labels": Int64Tensor[N], "image_id": str,
  "global_labels": FloatTensor[G]}, as torchvision's detection models take them.
- `LoaderDataset`: an IterableDataset over vindr.Loader batches that splits the work between
  DataLoader workers and DDP ranks without overlap (use DataLoader(..., batch_size=None)).
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from .dicom import read_dicom
from .loader import Loader, Sample


class DetectionDataset(Dataset):
    """One rendered image per item (decoded in the calling worker)."""

    def __init__(self, samples: Sequence[Sample], size: int | tuple[int, int] = 1024, letterbox: bool = True,
                 window: str = "dicom", channels: int = 3):
        self.samples = list(samples)
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.letterbox = letterbox
        self.window = window
        self.channels = channels

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        s = self.samples[index]
        img, t = read_dicom(s.path).render(size=self.size, aspect="letterbox" if self.letterbox else "stretch",
                                           window=self.window, dtype="float32", return_transform=True)
        boxes = t.apply(np.asarray(s.boxes, np.float64).reshape(-1, 4)).astype(np.float32)
        image = torch.from_numpy(img)[None].expand(self.channels, -1, -1).contiguous()
        target = {"boxes": torch.from_numpy(boxes), "labels": torch.as_tensor(np.asarray(s.labels, np.int64)),
                  "image_id": s.image_id, "global_labels": torch.as_tensor(np.asarray(s.global_labels, np.float32))}
        return image, target


class LoaderDataset(IterableDataset):
    """Batches from a native vindr.Loader. Each DataLoader worker of each rank builds its own
    Loader over a disjoint shard (rank * workers + worker of world * workers), so together they
    cover an epoch once. Call `set_epoch(e)` before each epoch, as with DistributedSampler."""

    def __init__(self, samples: Sequence[Sample], rank: int | None = None, world_size: int | None = None, **loader_args):
        self.samples = list(samples)
        if rank is None or world_size is None:
            dist = torch.distributed
            initialised = dist.is_available() and dist.is_initialized()
            rank = dist.get_rank() if initialised else 0
            world_size = dist.get_world_size() if initialised else 1
        self.rank, self.world_size = rank, world_size
        self.loader_args = loader_args
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, list[dict]]]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        loader = Loader(self.samples, rank=self.rank * workers + worker, world_size=self.world_size * workers,
                        copy=True, **self.loader_args)
        loader.epoch = self.epoch
        try:
            for b in loader:
                targets = [{"boxes": torch.from_numpy(t["boxes"]), "labels": torch.from_numpy(t["labels"]),
                            "global_labels": torch.from_numpy(t["global_labels"]), "image_id": t["image_id"]}
                           for t in b.targets]
                yield torch.from_numpy(b.images), targets
        finally:
            loader.close()
