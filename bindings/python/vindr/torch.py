"""PyTorch adapters (PyTorch is optional: importing this module requires it; torchvision >= 0.16
is used when present).

- `DetectionDataset`: map-style, `ds[i]` -> (image, target) as torchvision's detection models
  take them: image float32 (C, H, W) in [0, 1] (a `tv_tensors.Image`), target = {"boxes":
  `tv_tensors.BoundingBoxes` [N, 4] XYXY with canvas_size (H, W), "labels": int64[N],
  "image_id": str, "global_labels": float32[G]}. Without torchvision they are plain tensors.
- `LoaderDataset`: an IterableDataset over vindr.Loader batches that splits the work between
  DataLoader workers and DDP ranks without overlap (use DataLoader(..., batch_size=None)).
- `collate_fn`: batches of (image, target) pairs as (list of images, list of targets), the
  torchvision detection style (DataLoader(ds, batch_size=8, collate_fn=vindr.torch.collate_fn)).
- `AlbumentationsAdapter`: wraps an albumentations-style callable for `transforms=`.

Labels: label 0 is the background that torchvision's detection models reserve, so by default a
box of class id c gets label c + 1 and `num_classes` = classes + 1 (`background=False` keeps the
class ids). `label_names` maps labels to names, `decode(prediction)` maps a model's output back to
class ids and names.

Both datasets take a `vindr.Dataset` or any sequence of `vindr.Sample`, and `transforms=`, a
callable transforms(image, target) -> (image, target) (torchvision.transforms.v2 style: boxes
move with the image, v2.SanitizeBoundingBoxes drops boxes with their labels).

`set_epoch(e)` reaches DataLoader workers, persistent ones included (the epoch lives in shared
memory): it picks the LoaderDataset's shuffle and flips and policy="random"'s reader per image.
Workers must be forked (Linux's default start method) when the input is a `vindr.Dataset`.
"""
from __future__ import annotations

import operator
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from .annotations import KAGGLE_CLASSES, LABELS
from .loader import Dataset as VinDrDataset
from .loader import Loader, Sample

try:  # torchvision >= 0.16
    from torchvision import tv_tensors
except ImportError:  # pragma: no cover - depends on the environment
    tv_tensors = None

_MAX_WORLD = 65536  # the loader's largest world size (VDR_LOPT_WORLD_SIZE)


def collate_fn(batch: Sequence[tuple[Any, Any]]) -> tuple[list, ...]:
    """(image, target) pairs -> ([images], [targets]): torchvision's detection batch format."""
    return tuple(list(field) for field in zip(*batch))


def class_names(classes: str | Sequence[str]) -> list[str]:
    """Names of the box classes, indexed by class id: "taxonomy" (the 22 local labels, vindr.LABELS
    order), "kaggle" (the 14 Kaggle classes with boxes, "No finding" has none) or your own list."""
    if isinstance(classes, str):
        if classes == "taxonomy":
            return [l.name for l in LABELS if l.kind == "local"]
        if classes == "kaggle":
            return [l.name for l in KAGGLE_CLASSES if l.name != "No finding"]
        raise ValueError(f"classes must be 'taxonomy', 'kaggle' or a list of names, got {classes!r}")
    return [str(c) for c in classes]


class _Labels:
    """Class ids <-> detector labels (label 0 = background unless background=False)."""

    def _init_labels(self, samples, classes, background: bool) -> None:
        if classes is None:
            classes = getattr(samples, "classes", "taxonomy")
        self.class_names = class_names(classes)
        self.label_offset = 1 if background else 0
        self.num_classes = len(self.class_names) + self.label_offset
        names = (["__background__"] if background else []) + self.class_names
        self.label_names: dict[int, str] = dict(enumerate(names))

    def _labels(self, class_ids: np.ndarray, image_id: str) -> torch.Tensor:
        ids = np.asarray(class_ids, np.int64)
        bad = ids[(ids < 0) | (ids >= len(self.class_names))]
        if bad.size:
            raise ValueError(f"image {image_id}: class id {int(bad[0])} outside 0..{len(self.class_names) - 1}")
        return torch.from_numpy(ids + self.label_offset)

    def class_ids(self, labels) -> torch.Tensor:
        """Detector labels (a model's prediction["labels"]) -> class ids (int64)."""
        return torch.as_tensor(labels, dtype=torch.int64) - self.label_offset

    def decode(self, prediction: Mapping[str, Any]) -> dict:
        """One image's prediction {"boxes", "labels", "scores"} -> {"boxes", "scores", "class_ids",
        "names"} with class ids of the dataset's classes (vindr.KAGGLE_CLASSES / LABELS order)."""
        labels = torch.as_tensor(prediction["labels"]).detach().cpu()
        out = {"boxes": torch.as_tensor(prediction["boxes"]).detach().cpu(), "class_ids": self.class_ids(labels),
               "names": [self.label_names[int(l)] for l in labels]}
        if "scores" in prediction:
            out["scores"] = torch.as_tensor(prediction["scores"]).detach().cpu()
        return out

    def _target(self, t: dict, canvas: tuple[int, int]) -> dict:
        boxes = torch.from_numpy(np.ascontiguousarray(t["boxes"], np.float32).reshape(-1, 4))
        if tv_tensors is not None:
            boxes = tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=canvas)
        return {"boxes": boxes, "labels": self._labels(t["labels"], t["image_id"]), "image_id": t["image_id"],
                "global_labels": torch.from_numpy(np.asarray(t["global_labels"], np.float32))}


class _SharedEpoch:
    """The epoch in shared memory: forked DataLoader workers, persistent ones too, read what the
    main process's set_epoch wrote."""

    def _init_epoch(self) -> None:
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    def set_epoch(self, epoch: int) -> None:
        epoch = operator.index(epoch)
        if epoch < 0:
            raise ValueError(f"epoch must be non-negative, got {epoch}")
        self._epoch.fill_(epoch)

    @property
    def epoch(self) -> int:
        return int(self._epoch)


def _image(array: np.ndarray, channels: int | None = None) -> torch.Tensor:
    """A tv_tensors.Image (a tensor without torchvision); `channels` expands a (1, H, W) plane."""
    image = torch.from_numpy(array)
    image = image.expand(channels, -1, -1) if channels else image
    return tv_tensors.Image(image) if tv_tensors is not None else image


class DetectionDataset(_SharedEpoch, _Labels, Dataset):
    """One image per item, rendered by the native loader in the calling worker: decoded, windowed,
    resized to `size` (letterboxed unless letterbox=False), float32 in [0, 1], grey replicated to
    `channels` (an expanded view of one plane: call .contiguous() before writing to it in place);
    boxes in output pixels. `samples`: a vindr.Dataset (its policy and classes; with
    policy="random" each epoch draws a reader per image, see set_epoch) or a sequence of Samples
    (`classes` names their class ids; "taxonomy" by default). window: "dicom", "auto" or "kaggle".
    window_jitter: the loader's native window augmentation (see `Loader`), drawn per (seed,
    epoch, item)."""

    def __init__(self, samples: VinDrDataset | Sequence[Sample], size: int | tuple[int, int] = 1024,
                 letterbox: bool = True, window: str = "dicom", channels: int = 3, *, pad: float = 0.0,
                 transforms: Callable | None = None, background: bool = True,
                 classes: str | Sequence[str] | None = None, seed: int = 0, window_jitter: float = 0.0):
        self.samples = samples if isinstance(samples, VinDrDataset) else list(samples)
        self.size = (size, size) if np.ndim(size) == 0 else tuple(size)
        self.letterbox, self.window, self.channels, self.pad, self.seed = letterbox, window, channels, pad, seed
        self.window_jitter = window_jitter
        self.transforms = transforms
        self._init_labels(samples, classes, background)
        self._init_epoch()

    def __len__(self) -> int:
        return len(self.samples)

    def _render(self, index: int):
        """The loader batch holding exactly sample `index` of this epoch."""
        args = dict(batch_size=1, letterbox=self.letterbox, pad=self.pad, window=self.window, dtype="float32",
                    channels=1, shuffle=False, workers=1, prefetch=1, copy=True, window_jitter=self.window_jitter)
        if isinstance(self.samples, VinDrDataset):
            # Unshuffled, rank r of world W takes samples r, r + W, ...: one batch per item, and
            # per-sample draws (policy="random") as the LoaderDataset makes them.
            world = min(len(self.samples), _MAX_WORLD)
            loader = Loader(self.samples, self.size, rank=index % world, world_size=world, seed=self.seed, **args)
            loader.start_step = index // world
        else:
            # A one-sample loader: the item's index goes into the seed so that draws differ per item.
            loader = Loader([self.samples[index]], self.size, seed=(self.seed + index * 1_000_003) % 2**53, **args)
        loader.epoch = self.epoch
        try:
            return next(iter(loader))
        finally:
            loader.close()

    def __getitem__(self, index: int):
        index = operator.index(index)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} outside a dataset of {n} images")
        batch = self._render(index % n)
        # Grey replicated as a view: a third of the memory, and of what a worker hands the main process.
        image = _image(batch.images[0], self.channels)
        target = self._target(batch.targets[0], self.size)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


class LoaderDataset(_SharedEpoch, _Labels, IterableDataset):
    """Batches from a native vindr.Loader: (images (B, C, H, W) tensor, [targets]), targets as
    DetectionDataset's. Each DataLoader worker of each rank builds its own Loader over a disjoint
    shard (rank * workers + worker of world * workers), so together they cover an epoch once.
    Call `set_epoch(e)` before each epoch, as with DistributedSampler. With `transforms`, each
    image goes through transforms(image, target) and images come as a list (sizes may change).
    `loader_args` are vindr.Loader's (size, batch_size, dtype="float32" for detectors, flip, ...)."""

    def __init__(self, samples: VinDrDataset | Sequence[Sample], rank: int | None = None, world_size: int | None = None,
                 *, transforms: Callable | None = None, background: bool = True,
                 classes: str | Sequence[str] | None = None, **loader_args):
        self.samples = samples if isinstance(samples, VinDrDataset) else list(samples)
        if rank is None or world_size is None:
            dist = torch.distributed
            initialised = dist.is_available() and dist.is_initialized()
            rank = dist.get_rank() if initialised else 0
            world_size = dist.get_world_size() if initialised else 1
        self.rank, self.world_size = rank, world_size
        self.transforms = transforms
        self.loader_args = loader_args
        self._init_labels(samples, classes, background)
        self._init_epoch()

    def __iter__(self) -> Iterator[tuple[torch.Tensor | list[torch.Tensor], list[dict]]]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        loader = Loader(self.samples, rank=self.rank * workers + worker, world_size=self.world_size * workers,
                        copy=True, **self.loader_args)
        loader.epoch = self.epoch
        nchw = loader.layout == "NCHW"
        try:
            for b in loader:
                targets = [self._target(t, loader.shape) for t in b.targets]
                if self.transforms is None:
                    yield (_image(b.images) if nchw else torch.from_numpy(b.images)), targets
                    continue
                images = []
                for i, t in enumerate(targets):
                    image, targets[i] = self.transforms(_image(b.images[i]) if nchw else torch.from_numpy(b.images[i]), t)
                    images.append(image)
                yield images, targets
        finally:
            loader.close()


class AlbumentationsAdapter:
    """transforms= from an albumentations-style callable: aug(image=HWC numpy, bboxes=[N, 4]
    pascal_voc (x_min, y_min, x_max, y_max pixels), labels=[N]) -> dict with the same keys, e.g.
    A.Compose([...], bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"])).
    Boxes it drops go with their labels; the image comes back (C, H, W), boxes with the new size."""

    def __init__(self, aug: Callable[..., Mapping[str, Any]]):
        self.aug = aug

    def __call__(self, image: torch.Tensor, target: dict):
        out = self.aug(image=np.ascontiguousarray(image.permute(1, 2, 0).numpy()), bboxes=target["boxes"].numpy().reshape(-1, 4),
                       labels=target["labels"].numpy())
        array = np.ascontiguousarray(out["image"])
        array = array[:, :, None] if array.ndim == 2 else array
        new_image = _image(array.transpose(2, 0, 1).copy())
        boxes = torch.as_tensor(np.asarray(out["bboxes"], np.float32).reshape(-1, 4))
        if tv_tensors is not None:
            boxes = tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=tuple(array.shape[:2]))
        target = dict(target, boxes=boxes, labels=torch.as_tensor(np.asarray(out["labels"], np.int64).reshape(-1)))
        return new_image, target
