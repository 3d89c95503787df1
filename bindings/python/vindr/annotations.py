"""The VinDr-CXR label taxonomy and dataset index: image -> radiologist -> boxes + labels.

    ann = vindr.Annotations("annotations/annotations_train.csv", "annotations/image_labels_train.csv")
    ann.labels(min_votes=2)            # (images, 28) uint8, majority vote (the paper's Table 2 rule)
    t = ann.targets("fused", iou_thr=0.4)  # every image's boxes fused across readers, in one call
    ann.statistics()["labels"]["Cardiomegaly"]["majority"]
    folds = ann.split(folds=5, seed=42)   # {image_id: fold}, stratified on the consensus labels

Any mix of the PhysioNet and Kaggle CSV layouts is accepted; each file's layout is detected from
its header. Boxes are in pixels, x_min, y_min, x_max, y_max.
"""
from __future__ import annotations

import ctypes
import json
import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from . import _constants as C
from . import _lib
from ._checks import MISSING as MISSING_CODES, c_int, c_str
from .errors import InvalidArgumentError

_vp = ctypes.c_void_p

_label_info = _lib.prototype("vdr_label_info")
_label_lookup = _lib.prototype("vdr_label_lookup")
_open = _lib.prototype("vdr_annotations_open")
_create = _lib.prototype("vdr_annotations_create")
_add = _lib.prototype("vdr_annotations_add")
_destroy = _lib.prototype("vdr_annotations_destroy")
_image_count = _lib.prototype("vdr_annotations_image_count")
_image_id = _lib.prototype("vdr_annotations_image_id")
_image_ids = _lib.prototype("vdr_annotations_image_ids")
_reader_count = _lib.prototype("vdr_annotations_reader_count")
_reader_name = _lib.prototype("vdr_annotations_reader_name")
_set_size = _lib.prototype("vdr_annotations_set_image_size")
_export = _lib.prototype("vdr_annotations_export")
_export_rendered = _lib.prototype("vdr_annotations_export_rendered")
_load_sizes = _lib.prototype("vdr_annotations_load_image_sizes")
_join_sizes = _lib.prototype("vdr_annotations_join_image_sizes")
_labels = _lib.prototype("vdr_annotations_labels")
_targets = _lib.prototype("vdr_annotations_targets")
_targets_view = _lib.prototype("vdr_targets_view")
_targets_destroy = _lib.prototype("vdr_targets_destroy")
_stats_json = _lib.prototype("vdr_annotations_stats_json")
_qc_json = _lib.prototype("vdr_annotations_qc_json")
_split = _lib.prototype("vdr_annotations_split")

LAYOUTS = {C.VDR_LAYOUT_ANNOTATIONS: "annotations", C.VDR_LAYOUT_CONSENSUS_ANNOTATIONS: "consensus_annotations",
           C.VDR_LAYOUT_IMAGE_LABELS: "image_labels", C.VDR_LAYOUT_CONSENSUS_IMAGE_LABELS: "consensus_image_labels",
           C.VDR_LAYOUT_KAGGLE_TRAIN: "kaggle_train", C.VDR_LAYOUT_KAGGLE_SUBMISSION: "kaggle_submission"}
TARGET_MODES = {"all": C.VDR_TARGETS_ALL, "fused": C.VDR_TARGETS_FUSED}
EXPORT_FORMATS = {"coco": C.VDR_EXPORT_COCO, "yolo": C.VDR_EXPORT_YOLO, "submission": C.VDR_EXPORT_SUBMISSION}
EXPORT_CLASSES = {"kaggle": C.VDR_EXPORT_CLASSES_KAGGLE, "local": C.VDR_EXPORT_CLASSES_LOCAL}


@dataclass(frozen=True)
class Label:
    """One of the 28 VinDr-CXR labels: exact dataset spelling, kind and Kaggle class id."""
    index: int
    name: str
    kind: str  # "local" (has boxes) or "global"
    kaggle_class_id: int | None


def _load_labels() -> tuple[Label, ...]:
    out = []
    for i in range(28):
        name, kind, kid = ctypes.c_char_p(), ctypes.c_int32(), ctypes.c_int32()
        _lib.check(_label_info(i, ctypes.byref(name), ctypes.byref(kind), ctypes.byref(kid)))
        out.append(Label(i, name.value.decode(), "local" if kind.value == C.VDR_LABEL_LOCAL else "global",
                         None if kid.value < 0 else kid.value))
    return tuple(out)


LABELS: tuple[Label, ...] = _load_labels()
"""The 28 labels in the column order of image_labels_train.csv (22 local, then 6 global)."""
KAGGLE_CLASSES: tuple[Label, ...] = tuple(sorted((l for l in LABELS if l.kaggle_class_id is not None),
                                                 key=lambda l: l.kaggle_class_id))
"""The 15 Kaggle VinBigData classes, indexed by class id (14 = "No finding")."""


def label(name: str) -> Label:
    """The label spelled `name`: exact, an alias ("Other disease") or another letter case."""
    idx = ctypes.c_int32()
    _lib.check(_label_lookup(c_str("name", name), ctypes.byref(idx)))
    return LABELS[idx.value]


def _json(call, *args) -> dict:
    return json.loads(_lib.string(call, *args))


def _opt(name: str, s: str | None) -> bytes | None:
    return None if s is None else c_str(name, s)


class Annotations:
    """A dataset index over one or more annotation / image-label CSV files.

    Not safe to add files from one thread while another reads; reading from several threads is.
    """

    def __init__(self, *paths: str | os.PathLike):
        if not paths:
            raise InvalidArgumentError("give at least one CSV path")
        self._h = _vp()
        self._ids = None
        self._positions = None
        self._tables = {}
        self.layouts: list[str] = []
        layout = ctypes.c_int32()
        _lib.check(_open(c_str("path", paths[0]), ctypes.byref(self._h), ctypes.byref(layout)))
        self.layouts.append(LAYOUTS[layout.value])
        for p in paths[1:]:
            self.add(p)

    @classmethod
    def empty(cls) -> "Annotations":
        """An index with no files yet; fill it with `add`."""
        self = cls.__new__(cls)
        self._h = _vp()
        self._ids = None
        self._positions = None
        self._tables = {}
        self.layouts = []
        _lib.check(_create(ctypes.byref(self._h)))
        return self

    def add(self, path: str | os.PathLike) -> str:
        """Adds another CSV (layout detected from its header) and returns its layout name."""
        layout = ctypes.c_int32()
        _lib.check(_add(self._handle, c_str("path", path), ctypes.byref(layout)))
        self.layouts.append(LAYOUTS[layout.value])
        self._ids = self._positions = None
        self._tables = {}
        return self.layouts[-1]

    @property
    def _handle(self):
        if not self._h:
            raise InvalidArgumentError("the Annotations object is closed")
        return self._h

    def close(self) -> None:
        """Releases the native index (also done when the object is garbage collected)."""
        if getattr(self, "_h", None):
            _destroy(self._h)
            self._h = _vp()

    def __del__(self):
        self.close()

    def __enter__(self) -> "Annotations":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        n = ctypes.c_size_t()
        _lib.check(_image_count(self._handle, ctypes.byref(n)))
        return n.value

    @property
    def image_ids(self) -> list[str]:
        """Image ids in index order (first appearance across the files)."""
        if self._ids is None:
            text = _lib.string(_image_ids, self._handle)
            self._ids = text.split("\n") if text else []
        return self._ids

    def _position(self, image_id: str) -> int | None:
        """The index of `image_id` in `image_ids` (a dict kept with them)."""
        if self._positions is None:
            self._positions = {id_: i for i, id_ in enumerate(self.image_ids)}
        return self._positions.get(image_id)

    def __contains__(self, image_id: str) -> bool:
        return self._position(image_id) is not None

    @property
    def readers(self) -> list[str]:
        """rad_id values in natural order (R1, R2, ..., R10, ...); target `readers` index this."""
        n = ctypes.c_size_t()
        _lib.check(_reader_count(self._handle, ctypes.byref(n)))
        return [_lib.string(_reader_name, self._handle, i) for i in range(n.value)]

    def set_image_size(self, image_id: str, width: int, height: int) -> None:
        """Records an image's pixel size (enables out-of-image QC)."""
        _lib.check(_set_size(self._handle, c_str("image_id", image_id), c_int("width", width, _set_size, 2),
                             c_int("height", height, _set_size, 3)))

    def join_image_sizes(self, root: str | os.PathLike) -> tuple[int, int]:
        """Reads the size of every indexed image found under `root` (PhysioNet/Kaggle layouts or any
        tree of `<image_id>.dicom`) from its DICOM header; returns (joined, unreadable)."""
        joined, failed = ctypes.c_size_t(), ctypes.c_size_t()
        _lib.check(_join_sizes(self._handle, c_str("root", root), ctypes.byref(joined), ctypes.byref(failed)))
        return joined.value, failed.value

    def load_image_sizes(self, path: str | os.PathLike) -> int:
        """Sets image sizes from a CSV with image_id,width,height (or Kaggle's image_id,dim0,dim1)
        columns; returns how many indexed images got one."""
        count = ctypes.c_size_t()
        _lib.check(_load_sizes(self._handle, c_str("path", path), ctypes.byref(count)))
        return count.value

    def export(self, format: str, path: str | os.PathLike, mode: str = "fused", iou_thr: float = 0.4,
               classes: str = "kaggle", min_votes: int = 2, reader: str | None = None, exclude: Iterable[str] = (),
               *, dicom: str | os.PathLike | None = None, size: int | tuple[int, int] | None = None,
               letterbox: bool = True, pad: float = 0.0, window="dicom", workers: int = 0,
               val: Iterable[str] | None = None, missing: str = "error") -> dict | None:
        """Writes the boxes for a training tool, as `vindr export` does: format 'coco' (one JSON
        file, category ids from 1), 'yolo' (a folder of `<image_id>.txt` and classes.txt; needs
        every image's size) or 'submission' (a Kaggle CSV, "No finding" as `14 1 0 0 1 1`). mode
        'all' or 'fused' (the consensus rules of `labels(min_votes)`, boxes fused by weighted boxes
        fusion at `iou_thr`); classes 'kaggle' (ids 0-13) or 'local' (ids 0-21).

        With `dicom` (a folder of the images), 'yolo' and 'coco' write a folder to train from at
        `path`: the images rendered to PNG (`size` N (longest side N, padded to N x N) or (height,
        width), letterboxed with `pad` or stretched; None keeps each image's size; `window` as in
        `DicomImage.render`) and the boxes
        moved with the pixels. 'yolo' is the ultralytics layout (images/ and labels/ per split,
        data.yaml); 'coco' is images/ and annotations.json. Image ids in `val` form the validation
        split (none: everything is train, and data.yaml's val names the train images). `path` must
        be absent or empty; an error leaves nothing behind. Returns {'train', 'val', 'skipped'}
        image counts (`missing='skip'` leaves out annotated images without a DICOM).
        """
        for name, value, allowed in (("format", format, EXPORT_FORMATS), ("mode", mode, TARGET_MODES),
                                     ("classes", classes, EXPORT_CLASSES)):
            if value not in allowed:
                raise InvalidArgumentError(f"{name} must be one of {list(allowed)}, got {value!r}")
        if dicom is None:
            _lib.check(_export(self._handle, EXPORT_FORMATS[format], TARGET_MODES[mode], float(iou_thr), EXPORT_CLASSES[classes],
                               c_int("min_votes", min_votes, _export, 5), _opt("reader", reader),
                               c_str("exclude", ",".join(exclude)), c_str("path", path)))
            return None
        if format == "submission":
            raise InvalidArgumentError("dicom= renders images for 'yolo' or 'coco', not 'submission'")
        from .dicom import render_options
        from .loader import _canvas
        if missing not in ("error", "skip"):
            raise InvalidArgumentError(f"missing must be 'error' or 'skip', got {missing!r}")
        if isinstance(size, list):
            size = tuple(size)
        if isinstance(size, tuple) and len(size) != 2:
            raise InvalidArgumentError(f"size must be N or (height, width), got {size!r}")
        render = render_options(None if size is None else _canvas(size, letterbox), window,
                                aspect="letterbox" if letterbox else "stretch", pad=pad)
        if isinstance(val, str):
            raise InvalidArgumentError("val must be an iterable of image ids, not one string")
        val_ids = None if val is None else ",".join(val)
        train, n_val, skipped = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
        _lib.check(_export_rendered(self._handle, EXPORT_FORMATS[format], c_str("dicom", dicom), c_str("path", path),
                                    TARGET_MODES[mode], float(iou_thr), EXPORT_CLASSES[classes],
                                    c_int("min_votes", min_votes, _export_rendered, 7), _opt("reader", reader),
                                    c_str("exclude", ",".join(exclude)), render.h, c_int("workers", workers, _export_rendered, 11),
                                    None if val_ids is None else c_str("val", val_ids), MISSING_CODES[missing],
                                    ctypes.byref(train), ctypes.byref(n_val), ctypes.byref(skipped)))
        return {"train": train.value, "val": n_val.value, "skipped": skipped.value}

    def labels(self, min_votes: int = 2, reader: str | None = None, exclude: Iterable[str] = ()) -> np.ndarray:
        """Image-level labels, uint8 (images, 28) in `LABELS` order.

        The consensus rules (README "Consensus rules"): consensus test rows, or the one `reader`
        kept, are the answer themselves; else "No finding" holds by strict majority of the included
        readers and excludes every other label; else a label holds when at least `min_votes` of
        them gave it (1 = any reader). `exclude` drops readers.
        """
        out = np.zeros((len(self), 28), dtype=np.uint8)
        _lib.check(_labels(self._handle, c_int("min_votes", min_votes, _labels, 1), _opt("reader", reader),
                           c_str("exclude", ",".join(exclude)), out.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))))
        return out

    def targets(self, mode: str = "fused", iou_thr: float = 0.4, reader: str | None = None,
                exclude: Iterable[str] = (), min_votes: int = 2) -> dict[str, np.ndarray]:
        """Box targets of every image in one call.

        mode: 'all' (every included reader's boxes, score 1 or a consensus file's score column) or
        'fused' (the consensus rules of `labels(min_votes)`: the boxes of the labels that hold, fused
        by weighted boxes fusion across readers at `iou_thr`; score = share of readers in the
        cluster; a consensus reading's boxes as given).
        Returns numpy columns: image (int64 index into image_ids), boxes (float64 (N, 4) pixels),
        scores (float64), labels (int32 `LABELS` index), readers (int32 index into `readers`,
        -1 for consensus or fused boxes).
        """
        if mode not in TARGET_MODES:
            raise InvalidArgumentError(f"mode must be one of {list(TARGET_MODES)}, got {mode!r}")
        t = _vp()
        _lib.check(_targets(self._handle, TARGET_MODES[mode], float(iou_thr), c_int("min_votes", min_votes, _targets, 3),
                            _opt("reader", reader),
                            c_str("exclude", ",".join(exclude)), ctypes.byref(t)))
        try:
            n = ctypes.c_size_t()
            ptrs = [ctypes.POINTER(ctypes.c_int64)(), ctypes.POINTER(ctypes.c_double)(),
                    ctypes.POINTER(ctypes.c_double)(), ctypes.POINTER(ctypes.c_int32)(),
                    ctypes.POINTER(ctypes.c_int32)()]
            _lib.check(_targets_view(t, ctypes.byref(n), *[ctypes.byref(p) for p in ptrs]))
            k = n.value
            if k == 0:
                return {"image": np.zeros(0, np.int64), "boxes": np.zeros((0, 4)), "scores": np.zeros(0),
                        "labels": np.zeros(0, np.int32), "readers": np.zeros(0, np.int32)}
            shapes = [(k,), (k, 4), (k,), (k,), (k,)]
            cols = [np.ctypeslib.as_array(p, shape=shape).copy() for p, shape in zip(ptrs, shapes)]
            return dict(zip(("image", "boxes", "scores", "labels", "readers"), cols))
        finally:
            _targets_destroy(t)

    def boxes(self, image_id: str, mode: str = "all", **kwargs) -> dict[str, np.ndarray]:
        """The targets of one image (see `targets`; `kwargs` are its arguments), without the image
        column. The table of every image is made by one `targets` call per set of arguments and
        kept until `add`, so each call after the first costs O(1) plus copying the image's rows."""
        i = self._position(image_id)
        if i is None:
            raise InvalidArgumentError(f"unknown image_id {image_id!r}")
        kwargs = {k: tuple(v) if k == "exclude" else v for k, v in kwargs.items()}
        key = (mode, tuple(sorted(kwargs.items())))
        table = self._tables.get(key)
        if table is None:
            t = self.targets(mode, **kwargs)
            order = np.argsort(t["image"], kind="stable")
            bounds = np.searchsorted(t["image"][order], np.arange(len(self.image_ids) + 1))
            table = self._tables[key] = ({k: v[order] for k, v in t.items() if k != "image"}, bounds)
        columns, bounds = table
        rows = slice(bounds[i], bounds[i + 1])
        return {k: v[rows].copy() for k, v in columns.items()}

    def statistics(self, min_votes: int = 2, iou_thr: float = 0.4) -> dict:
        """Table 2 statistics: {'images', 'rows', 'boxes', 'labels': {name: {'majority', 'percent',
        'any', 'rows', 'boxes', 'box_f1', 'fleiss_kappa', ...}}, 'readers': {rad_id: {...}}}."""
        return _json(_stats_json, self._handle, c_int("min_votes", min_votes, _stats_json, 1), float(iou_thr))

    def quality_issues(self) -> dict:
        """Label QC (the paper's labeling rules and the dataset's shape, as `vindr qc`):
        {'counts': {rule: n}, 'issues': [{'rule', 'image_id', 'rad_id', 'rows', 'message'}],
        'reader_count': n, 'reader_ids': [...]}."""
        return _json(_qc_json, self._handle)

    def split(self, folds: int | None = None, validation: float | None = None, seed: int = 0, min_votes: int = 2,
              reader: str | None = None, exclude: Iterable[str] = ()) -> dict[str, int]:
        """{image_id: fold} in image_id order, stratified on each image's consensus labels (those of
        `labels(min_votes, reader, exclude)`) by iterative multi-label stratification (Sechidis et
        al. 2011). Give `folds` (k >= 2: folds 0..k-1) or `validation` (a fraction in (0, 1): fold 0
        is train, 1 validation). The same `seed` (0 ... 2**64-1) gives the same folds as
        `vindr split` and vdr_annotations_split, on any platform."""
        out = np.zeros(len(self), dtype=np.int32)
        _lib.check(_split(self._handle, c_int("folds", 0 if folds is None else folds, _split, 1),
                          0.0 if validation is None else float(validation), c_int("seed", seed, _split, 3),
                          c_int("min_votes", min_votes, _split, 4), _opt("reader", reader), c_str("exclude", ",".join(exclude)),
                          out.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)), out.size))
        return dict(sorted(zip(self.image_ids, out.tolist())))

_stats_table = _lib.prototype("vdr_stats_table")
_stats_plot = _lib.prototype("vdr_stats_plot")
STATS_FORMATS = {"text": C.VDR_STATS_TEXT, "json": C.VDR_STATS_JSON, "svg": C.VDR_STATS_SVG}


def _index(name: str, value) -> int | None:
    if value is None:
        return None
    if not isinstance(value, Annotations):
        raise InvalidArgumentError(f"{name} must be an Annotations or None, got {type(value).__name__}")
    return value._handle


def table2(train: Annotations | None = None, test: Annotations | None = None, *, train_images=None, test_images=None,
           min_votes: int = 2, iou_thr: float = 0.4, format: str = "json"):
    """The paper's Table 2 (as `vindr stats`): collection rows from the DICOM headers under
    `train_images` / `test_images`, label rows in the paper's order from the `train` / `test`
    annotations (majority of `min_votes` readers, or the consensus reading), training and test
    side by side. format="json" -> dict (the keys of `Annotations.statistics()`, plus "collection",
    "table2_labels", ... and the test column under "test"); "text" -> the printed table; "svg" ->
    Figure 4 (the label distribution) as an SVG document."""
    if format not in STATS_FORMATS:
        raise InvalidArgumentError(f"format must be one of {sorted(STATS_FORMATS)}, got {format!r}")
    out = _lib.string(_stats_table, _index("train", train), _opt("train_images", train_images), _index("test", test),
                      _opt("test_images", test_images), c_int("min_votes", min_votes, _stats_table, 4), float(iou_thr),
                      STATS_FORMATS[format])
    return json.loads(out) if format == "json" else out


def plot_label_distribution(path, train: Annotations | None = None, test: Annotations | None = None, *,
                            min_votes: int = 2) -> None:
    """Draws the paper's Figure 4 (images per label, one panel per split) to `path`: PNG (bars and
    axes, no text) or SVG (with every label and count) by its extension."""
    _lib.check(_stats_plot(_index("train", train), _index("test", test), c_int("min_votes", min_votes, _stats_plot, 2),
                           c_str("path", path)))
