"""`Loader`: batches of decoded, windowed, resized CXRs with their targets, rendered by native
threads (no Python worker processes; the GIL is released while waiting)."""
from __future__ import annotations

import ctypes
import json
import os
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

from ._checks import MISSING, c_int, c_int64_array, c_str
from . import _constants as C
from ._lib import check, prototype, string, string_destroy
from .dicom import Window, render_options
from .errors import InvalidArgumentError

_vp = ctypes.c_void_p
_i64, _size = ctypes.c_int64, ctypes.c_size_t
_fp, _i64p, _dp = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_double)

_samples_create = prototype("vdr_samples_create")
_samples_destroy = prototype("vdr_samples_destroy")
_samples_add = prototype("vdr_samples_add")
_samples_count = prototype("vdr_samples_count")
_opts_create = prototype("vdr_loader_options_create")
_opts_destroy = prototype("vdr_loader_options_destroy")
_opts_set = prototype("vdr_loader_options_set")
_create = prototype("vdr_loader_create")
_destroy = prototype("vdr_loader_destroy")
_shape = prototype("vdr_loader_shape")
_start = prototype("vdr_loader_start")
_next = prototype("vdr_loader_next")
_stop = prototype("vdr_loader_stop")
_opts_cache = prototype("vdr_loader_options_set_cache")
_cache_status = prototype("vdr_loader_cache_status")
_cache_build = prototype("vdr_cache_build")
_cache_merge = prototype("vdr_cache_merge")
_cache_sample = prototype("vdr_cache_sample")
_PROGRESS = _cache_build.argtypes[8]
_from_dataset = prototype("vdr_samples_from_dataset")
_samples_skipped = prototype("vdr_samples_skipped")
_samples_select = prototype("vdr_samples_select")
_batch_destroy = prototype("vdr_batch_destroy")
_batch_counts = prototype("vdr_batch_counts")
_batch_arrays = prototype("vdr_batch_arrays")
_batch_windows = prototype("vdr_batch_window_adjustments")
_batch_image_id = prototype("vdr_batch_image_id")
_batch_skipped = prototype("vdr_batch_skipped")

_opts_render = prototype("vdr_loader_options_set_render")

_OPT = {"dtype": C.VDR_LOPT_DTYPE, "layout": C.VDR_LOPT_LAYOUT, "channels": C.VDR_LOPT_CHANNELS,
        "batch_size": C.VDR_LOPT_BATCH_SIZE, "shuffle": C.VDR_LOPT_SHUFFLE, "seed": C.VDR_LOPT_SEED,
        "drop_last": C.VDR_LOPT_DROP_LAST, "rank": C.VDR_LOPT_RANK, "world_size": C.VDR_LOPT_WORLD_SIZE,
        "workers": C.VDR_LOPT_WORKERS, "prefetch": C.VDR_LOPT_PREFETCH, "flip": C.VDR_LOPT_FLIP_PROBABILITY,
        "window_jitter": C.VDR_LOPT_WINDOW_JITTER,
        "on_error": C.VDR_LOPT_ON_ERROR, "max_batch_bytes": C.VDR_LOPT_MAX_BATCH_BYTES}
_DTYPES = {"uint8": (C.VDR_DTYPE_UINT8, np.uint8), "float16": (C.VDR_DTYPE_FLOAT16, np.float16),
           "float32": (C.VDR_DTYPE_FLOAT32, np.float32)}


@dataclass
class Sample:
    """One image and its targets in source pixels: boxes float[N, 4] xyxy, labels int[N],
    global_labels a multi-hot vector (the same length for every sample)."""

    image_id: str
    path: str
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))
    global_labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))


@dataclass
class Batch:
    """images: (B, C, H, W) or (B, H, W, C); per image targets as in torchvision detection:
    `targets[i]` = {"boxes": float32[N, 4] xyxy output pixels, "labels": int64[N],
    "global_labels": float32[G], "image_id": str, "transform": float64[5] (scale_x, scale_y,
    offset_x, offset_y, flipped), "window": float64[2] (width scale, center shift of the window
    the image was rendered with: 1, 0 without window_jitter)}; `skipped`: [(image_id, reason)]
    under on_error="skip"."""

    images: np.ndarray
    targets: list[dict]
    epoch: int
    step: int
    skipped: list[tuple[str, str]]


_POLICIES = {"union": C.VDR_POLICY_UNION, "fused": C.VDR_POLICY_FUSED, "majority": C.VDR_POLICY_MAJORITY,
             "reader": C.VDR_POLICY_READER, "random": C.VDR_POLICY_RANDOM_READER}


class Dataset:
    """The images of an annotation index found under `root` (PhysioNet `train/`, `test/`; Kaggle
    `train/`; or any tree of `<image_id>.dicom`/`.dcm`), with training targets:

    policy: "fused" (the consensus rules of `Annotations.labels(global_min_votes)`: the boxes of the
        labels that hold, fused across readers at `iou_thr`), "majority" (those fused boxes drawn
        by at least `min_readers` readers), "union" (every reader's boxes), "reader" (the boxes
        of `reader`, e.g. "R8"), or "random" (one reader per image, drawn anew each epoch);
    classes: "taxonomy" (label index 0..27, vindr.LABELS order) or "kaggle" (class ids 0..13);
    exclude: reader ids to leave out; global labels: 28-long multi-hot of the labels that hold
        under the consensus rules with `global_min_votes` (the paper's Table 2 rule with 2);
    missing: "error" (an annotated image without a DICOM raises, naming the first few ids and
        their count) or "skip" (such images are left out; `skipped` lists their ids).
    Pass it to `Loader` (or `build_cache`) in place of a list of Samples.
    """

    def __init__(self, root: str | os.PathLike, annotations, *, policy: str = "fused", iou_thr: float = 0.4,
                 min_readers: int = 2, reader: str | None = None, classes: str = "taxonomy", exclude: Sequence[str] = (),
                 global_min_votes: int = 2, missing: str = "error"):
        from .annotations import Annotations
        if policy not in _POLICIES:
            raise ValueError(f"policy must be one of {sorted(_POLICIES)}, got {policy!r}")
        if missing not in MISSING:
            raise ValueError(f"missing must be one of {sorted(MISSING)}, got {missing!r}")
        if classes not in ("taxonomy", "kaggle"):
            raise ValueError(f"classes must be 'taxonomy' or 'kaggle', got {classes!r}")
        if policy == "reader" and not reader:
            raise ValueError("policy='reader' needs reader='R...'")
        if not isinstance(annotations, Annotations):
            paths = [annotations] if isinstance(annotations, (str, os.PathLike)) else list(annotations)
            annotations = Annotations(*paths)
        self.annotations = annotations
        self.root = os.fspath(root)
        self.classes = classes  # "taxonomy" or "kaggle": what the targets' class ids index
        self._split_labels = dict(min_votes=global_min_votes, exclude=tuple(exclude))
        self._h = _vp()
        args = (c_str("root", root), annotations._handle, _POLICIES[policy], float(iou_thr),
                c_int("min_readers", min_readers, _from_dataset, 4),
                c_str("reader", reader) if reader else None, C.VDR_CLASSES_TAXONOMY if classes == "taxonomy" else C.VDR_CLASSES_KAGGLE,
                c_str("exclude", ",".join(exclude)) if exclude else None,
                c_int("global_min_votes", global_min_votes, _from_dataset, 8), MISSING[missing])
        check(_from_dataset(*args, ctypes.byref(self._h)))
        n = _size()
        ids = string(_samples_skipped, self._h, ctypes.byref(n))
        # Ids of the annotated images left out because their DICOM is absent (missing="skip").
        self.skipped: list[str] = ids.split("\n") if n.value else []

    def __len__(self) -> int:
        n = _size()
        check(_samples_count(self._h, ctypes.byref(n)))
        return n.value

    def split(self, folds: int | None = None, validation: float | None = None, seed: int = 0) -> list["Dataset"]:
        """One Dataset per fold of `Annotations.split` (iterative stratification of the consensus
        labels with this dataset's `global_min_votes` and `exclude`): `folds` k >= 2 gives k
        datasets, `validation` f gives [train, validation]. The folds are made over every annotated
        image, so with missing="skip" a fold lacks its skipped images (listed in its `skipped`)."""
        assigned = self.annotations.split(folds=folds, validation=validation, seed=seed, **self._split_labels)
        groups: list[list[str]] = [[] for _ in range(folds if folds is not None else 2)]
        for image_id, fold in assigned.items():
            groups[fold].append(image_id)
        return [self._select(ids) for ids in groups]

    def _select(self, image_ids: list[str]) -> "Dataset":
        sub = Dataset.__new__(Dataset)
        sub.annotations, sub.root, sub.classes, sub._split_labels = self.annotations, self.root, self.classes, self._split_labels
        sub._h = _vp()
        check(_samples_select(self._h, c_str("image_ids", "\n".join(image_ids)), ctypes.byref(sub._h)))
        chosen = set(image_ids)
        sub.skipped = [i for i in self.skipped if i in chosen]
        return sub

    def __del__(self):
        if getattr(self, "_h", None):
            _samples_destroy(self._h)


class Loader:
    """Iterates batches of one epoch per `iter()`; set `epoch` (and `start_step` to resume).

    `images` of a batch is a zero-copy view of the loader's memory, valid until the next batch
    is requested (pass copy=True to get arrays you may keep). Targets are always copies.

    size: an int N keeps each image's aspect ratio with its longest side N, padded to N x N
    (`letterbox`, `pad`), as `render(size=N)` does without the padding; (height, width) is the
    exact canvas, letterboxed or, with letterbox=False, stretched.

    window: what `DicomImage.render(window=...)` takes ("dicom", "auto", "kaggle", "percentile",
    "file", "lut" or (center, width)); a cache serves "dicom", "auto" and "kaggle".

    window_jitter: j in [0, 0.5] (default 0: none), a native augmentation: each sample's window
    width is scaled by a factor uniform in [1 - j, 1 + j] and its center moved by up to j/2
    widths, drawn per (seed, epoch, sample) like the flips; each target's "window" records the
    draw. Jittered samples are rendered from their DICOMs (a cache is not used).

    workers: native render threads; 0 (the default) means one per online core.
    decode: "exact" (the default) or the opt-in "fast" reduced-resolution decoding (see
    `DicomImage.render`); a cache serves only loaders with the decode mode it was built with.

    Memory: the batch buffers, (prefetch + 1) x batch_size x channels x height x width x dtype
    size bytes, must fit in `max_batch_bytes` (default 4 GiB); larger options raise
    InvalidArgumentError when the Loader is made instead of exhausting memory.

    fork(): a child process (os.fork, multiprocessing "fork", DataLoader workers) may iterate,
    close and drop a Loader it inherited, even one forked mid-epoch: the parent's native threads
    are not waited for, and a new `iter()` in the child renders on new threads there. Only the
    epoch inherited mid-iteration is gone: advancing that iterator raises InvalidArgumentError.
    """

    def __init__(self, samples: Sequence[Sample] | Dataset, size: int | tuple[int, int] = 1024, *, batch_size: int = 16,
                 letterbox: bool = True, pad: float = 0.0, window: Window = "dicom", dtype: str = "uint8",
                 layout: str = "NCHW", channels: int = 1, shuffle: bool = True, seed: int = 0, drop_last: bool = False,
                 rank: int = 0, world_size: int = 1, workers: int = 0, prefetch: int = 2, flip: float = 0.0,
                 window_jitter: float = 0.0,
                 on_error: str = "raise", copy: bool = False, cache: str | os.PathLike | None = None,
                 max_batch_bytes: int | None = None, decode: str = "exact"):
        h, w = _canvas(size, letterbox)
        self.shape = (h, w)
        self.channels = channels
        self.layout = layout.upper()
        self.copy = copy
        self.epoch = 0
        self.start_step = 0
        self._np_dtype = _DTYPES[dtype][1] if dtype in _DTYPES else None
        self._h = _vp()
        handles, self._global_count = _prepare(samples, (h, w), batch_size=batch_size, letterbox=letterbox, pad=pad,
                                               window=window, dtype=dtype, layout=layout, channels=channels,
                                               shuffle=shuffle, seed=seed, drop_last=drop_last, rank=rank,
                                               world_size=world_size, workers=workers, prefetch=prefetch, flip=flip,
                                               window_jitter=window_jitter,
                                               on_error=on_error, cache=cache, max_batch_bytes=max_batch_bytes,
                                               decode=decode)
        check(_create(handles.samples, handles.options, ctypes.byref(self._h)))
        batches, image_bytes = _size(), _size()
        check(_shape(self._h, ctypes.byref(batches), ctypes.byref(image_bytes)))
        self._batches = batches.value
        self._image_bytes = image_bytes.value

    @property
    def cache_status(self) -> str:
        """Whether images come from the cache, and if not, why ("" without a cache)."""
        return string(_cache_status, self._handle())

    def __len__(self) -> int:
        """Batches per epoch on this rank."""
        return self._batches

    def __iter__(self) -> Iterator[Batch]:
        check(_start(self._handle(), c_int("epoch", self.epoch, _start, 1),
                     c_int("start_step", self.start_step, _start, 2)))
        previous = _vp()
        try:
            while True:
                batch = _vp()
                check(_next(self._handle(), ctypes.byref(batch)))  # waits with the GIL released
                if previous:
                    _batch_destroy(previous)
                previous = batch
                if not batch:
                    return
                yield self._convert(batch)
        finally:
            if previous:
                _batch_destroy(previous)
            if self._h:
                _stop(self._h)

    def _convert(self, batch) -> Batch:
        n, nb, ns = _size(), _size(), _size()
        epoch, step = _i64(), _i64()
        check(_batch_counts(batch, ctypes.byref(n), ctypes.byref(nb), ctypes.byref(ns), ctypes.byref(epoch), ctypes.byref(step)))
        images, boxes, labels, offsets, glob, transforms = _vp(), _fp(), _i64p(), _i64p(), _fp(), _dp()
        check(_batch_arrays(batch, ctypes.byref(images), ctypes.byref(boxes), ctypes.byref(labels), ctypes.byref(offsets),
                            ctypes.byref(glob), ctypes.byref(transforms)))
        h, w = self.shape
        c = self.channels
        shape = (n.value, c, h, w) if self.layout == "NCHW" else (n.value, h, w, c)
        count = int(np.prod(shape))
        if count and images.value:
            buf = (ctypes.c_char * (count * np.dtype(self._np_dtype).itemsize)).from_address(images.value)
            arr = np.frombuffer(buf, dtype=self._np_dtype).reshape(shape)
            arr = arr.copy() if self.copy else arr
        else:
            arr = np.zeros(shape, dtype=self._np_dtype)
        all_boxes = np.ctypeslib.as_array(boxes, (nb.value, 4)).copy() if nb.value else np.zeros((0, 4), np.float32)
        all_labels = np.ctypeslib.as_array(labels, (nb.value,)).copy() if nb.value else np.zeros((0,), np.int64)
        offs = np.ctypeslib.as_array(offsets, (n.value + 1,)).copy()
        gcount = self._global_count if n.value else 0
        globals_ = np.ctypeslib.as_array(glob, (n.value, gcount)).copy() if gcount else np.zeros((n.value, 0), np.float32)
        trans = np.ctypeslib.as_array(transforms, (n.value, 5)).copy() if n.value else np.zeros((0, 5))
        windows = _dp()
        check(_batch_windows(batch, ctypes.byref(windows)))
        adjust = np.ctypeslib.as_array(windows, (n.value, 2)).copy() if n.value else np.zeros((0, 2))
        targets = []
        for i in range(n.value):
            targets.append({"boxes": all_boxes[offs[i]:offs[i + 1]], "labels": all_labels[offs[i]:offs[i + 1]],
                            "global_labels": globals_[i], "image_id": string(_batch_image_id, batch, i),
                            "transform": trans[i], "window": adjust[i]})
        skipped = [self._skipped(batch, i) for i in range(ns.value)]
        return Batch(arr, targets, epoch.value, step.value, skipped)

    @staticmethod
    def _skipped(batch, index: int) -> tuple[str, str]:
        """(image id, reason) of skipped image `index`; both strings are released here."""
        id_, reason = ctypes.c_void_p(), ctypes.c_void_p()
        check(_batch_skipped(batch, index, ctypes.byref(id_), ctypes.byref(reason)))
        try:
            return ctypes.string_at(id_.value).decode(), ctypes.string_at(reason.value).decode()
        finally:
            string_destroy(id_)
            string_destroy(reason)

    def _handle(self):
        if not self._h:
            raise ValueError("Loader is closed")
        return self._h

    def close(self) -> None:
        """Stops the workers and frees the loader (views of its batches become invalid)."""
        if self._h:
            _destroy(self._h)
            self._h = _vp()

    def __del__(self):
        # At interpreter exit a suspended iterator may be finalized after its loader: it must
        # see the handle gone rather than close a freed loader.
        if getattr(self, "_h", None):
            self.close()


def _canvas(size, letterbox: bool) -> tuple[int, int]:
    """The batch canvas (height, width). size=N means what it means everywhere in vindr: the
    image keeps its aspect ratio with its longest side N (here padded to N x N, since batches
    have one shape); stretching needs an explicit (height, width)."""
    if np.ndim(size) != 0:
        return tuple(size)
    if not letterbox:
        raise InvalidArgumentError("size=N keeps the aspect ratio (longest side N, padded to N x N); "
                                   "to stretch, pass size=(height, width) with letterbox=False")
    return size, size


def _prepare(samples, size, *, batch_size, letterbox, pad, window, dtype, layout, channels, shuffle, seed, drop_last,
             rank, world_size, workers, prefetch, flip, on_error, cache, max_batch_bytes=None, decode="exact",
             window_jitter=0.0):
    """Native sample list and options from Python arguments; returns (handles, global label count)."""
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    if layout.upper() not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    render = render_options(size, window, aspect="letterbox" if letterbox else "stretch", pad=pad, decode=decode)
    handles = _Handles()
    global_count = 0
    if isinstance(samples, Dataset):
        handles.dataset = samples  # borrow its native sample list
        handles.samples = samples._h
        global_count = 28
        samples = []
    else:
        check(_samples_create(ctypes.byref(handles.samples)))
    for s in samples:
        boxes = np.ascontiguousarray(s.boxes, dtype=np.float32).reshape(-1, 4)
        labels = c_int64_array("labels", s.labels).reshape(-1)
        glob = np.ascontiguousarray(s.global_labels, dtype=np.float32).reshape(-1)
        global_count = len(glob)
        if len(labels) != len(boxes):
            raise ValueError(f"image {s.image_id}: {len(boxes)} boxes but {len(labels)} labels")
        check(_samples_add(handles.samples, c_str("image_id", str(s.image_id)), c_str("path", s.path),
                           boxes.ctypes.data_as(_fp), labels.ctypes.data_as(_i64p), len(labels),
                           glob.ctypes.data_as(_fp), len(glob)))
    check(_opts_create(ctypes.byref(handles.options)))
    check(_opts_render(handles.options, render.h))
    values = {"dtype": _DTYPES[dtype][0],
              "layout": C.VDR_IMAGE_LAYOUT_NCHW if layout.upper() == "NCHW" else C.VDR_IMAGE_LAYOUT_NHWC, "channels": channels, "batch_size": batch_size,
              "shuffle": int(shuffle), "seed": seed, "drop_last": int(drop_last), "rank": rank,
              "world_size": world_size, "workers": workers, "prefetch": prefetch,
              "flip": flip, "window_jitter": window_jitter, "on_error": C.VDR_ON_ERROR_RAISE if on_error == "raise" else C.VDR_ON_ERROR_SKIP,
              "max_batch_bytes": max_batch_bytes}
    for key, value in values.items():
        if value is None:  # the library's default
            continue
        value = float(value) if key in ("flip", "window_jitter") else c_int(key, value, _opts_set, 2)
        try:
            check(_opts_set(handles.options, _OPT[key], value))
        except InvalidArgumentError as e:
            raise InvalidArgumentError(f"{key}: {e.message}") from None
    if cache is not None:
        if isinstance(cache, (list, tuple)):  # shard paths
            cache = "\n".join(os.fspath(p) for p in cache)
        check(_opts_cache(handles.options, c_str("cache", cache)))
    return handles, global_count


@dataclass
class CacheReport:
    rendered: int
    reused: int
    failed: int


@dataclass
class CacheMember:
    """One cached sample as a build writes it: the tar members `{key}.{extension}` (`image`) and
    `{key}.json` (`json`)."""
    key: str
    extension: str
    image: bytes
    json: bytes


_CACHE_FORMATS = {"jpeg": C.VDR_CACHE_JPEG, "raw": C.VDR_CACHE_RAW, "raw16": C.VDR_CACHE_RAW16}


def _cache_handles(samples, size, letterbox, pad, window, workers, decode, format):
    if format not in _CACHE_FORMATS:
        raise ValueError(f"format must be one of {sorted(_CACHE_FORMATS)}, got {format!r}")
    h, w = _canvas(size, letterbox)
    handles, _ = _prepare(samples, (h, w), batch_size=1, letterbox=letterbox, pad=pad, window=window, dtype="uint8",
                          layout="NCHW", channels=1, shuffle=False, seed=0, drop_last=False, rank=0, world_size=1,
                          workers=workers, prefetch=1, flip=0.0, on_error="raise", cache=None, decode=decode)
    return handles, (h, w)


def build_cache(samples: Sequence[Sample] | Dataset, directory: str | os.PathLike, size: int | tuple[int, int] = 512, *,
                format: str = "jpeg", quality: int = 90, letterbox: bool = True, pad: float = 0.0,
                window: str = "dicom", workers: int = 0, progress=None, decode: str = "exact",
                shard_size: int = 1000, part: tuple[int, int] = (0, 1)) -> CacheReport:
    """Renders every sample once into WebDataset shards in `directory`: `shard-NNNNN.tar` of
    `shard_size` samples in sample order, each `{image_id}.jpg` (format "jpeg" at `quality`) or
    `{image_id}.npy` ("raw": uint8; "raw16": modality values as uint16, windowed when read, which
    serves `Loader(window_jitter=)`) plus `{image_id}.json` (targets, render geometry, source and
    CRC-32 checksums). `part=(i, n)` builds only shards k with k % n == i; call `merge_cache` when
    all n parts are done (the whole build writes index.json itself). Resumable: complete,
    unchanged shards are kept. A Loader with the same size, letterbox, pad, window and decode and
    `cache=directory` (or a list of shard paths) reads from it; so does the `webdataset` package.
    `progress(done, total)` is called after each chunk."""
    handles, _ = _cache_handles(samples, size, letterbox, pad, window, workers, decode, format)
    callback = _PROGRESS((lambda done, total, _: progress(done, total)) if progress else (lambda *_: None))
    rendered, reused, failed = _size(), _size(), _size()
    index, count = part
    check(_cache_build(handles.samples, handles.options, c_str("directory", directory), _CACHE_FORMATS[format],
                       c_int("quality", quality, _cache_build, 4), c_int("shard_size", shard_size, _cache_build, 5),
                       c_int("part index", index, _cache_build, 6), c_int("part count", count, _cache_build, 7), callback, None,
                       ctypes.byref(rendered), ctypes.byref(reused), ctypes.byref(failed)))
    return CacheReport(rendered.value, reused.value, failed.value)


def merge_cache(directory: str | os.PathLike) -> int:
    """Checks a cache built in parts (every part done, no shard missing, one set of settings),
    writes its index.json and returns the number of samples."""
    n = _size()
    check(_cache_merge(c_str("directory", directory), ctypes.byref(n)))
    return n.value


def cache_sample(samples: Sequence[Sample] | Dataset, index: int, size: int | tuple[int, int] = 512, *, format: str = "jpeg",
                 quality: int = 90, letterbox: bool = True, pad: float = 0.0, window: str = "dicom",
                 decode: str = "exact") -> CacheMember:
    """Sample `index` rendered exactly as `build_cache` writes it (for other shard writers, such
    as `vindr.ray`)."""
    handles, (h, w) = _cache_handles(samples, size, letterbox, pad, window, 1, decode, format)
    capacity = 2 * h * w + 16 * (h + w) + 65664  # the bound vdr_cache_sample documents
    image = ctypes.create_string_buffer(capacity)
    text, used = _vp(), _size()
    check(_cache_sample(handles.samples, handles.options, c_int("index", index, _cache_sample, 2), _CACHE_FORMATS[format],
                        c_int("quality", quality, _cache_sample, 4), ctypes.byref(text), image, capacity, ctypes.byref(used)))
    try:
        record = ctypes.string_at(text.value)
    finally:
        string_destroy(text)
    return CacheMember(json.loads(record)["image_id"], "jpg" if format == "jpeg" else "npy", image.raw[:used.value], record)


class _Handles:
    """Sample list and options, released when the loader has copied them."""

    def __init__(self):
        self.samples = _vp()
        self.options = _vp()
        self.dataset = None

    def __del__(self):
        if self.dataset is None:
            _samples_destroy(self.samples)
        _opts_destroy(self.options)
