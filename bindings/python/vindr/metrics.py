"""The VinBigData competition metric: PASCAL VOC 2010 all-point AP at IoU > 0.4 per Kaggle class,
averaged over the classes present in the ground truth ("No finding" is class 14 with the box
0 0 1 1), plus a COCO-style 101-point mode (pycocotools' matching at one IoU threshold).
"""
from __future__ import annotations

import ctypes
import math
import os

import numpy as np

from . import _constants as C
from . import _lib
from ._checks import MISSING, c_int, c_int64_array, c_str
from .annotations import KAGGLE_CLASSES
from .errors import InvalidArgumentError

_dp = ctypes.POINTER(ctypes.c_double)
_i64p = ctypes.POINTER(ctypes.c_int64)

_evaluate_files = _lib.prototype("vdr_evaluate_files")
_evaluate = _lib.prototype("vdr_evaluate")
_coco_evaluate = _lib.prototype("vdr_coco_evaluate")
_coco_evaluate_files = _lib.prototype("vdr_coco_evaluate_files")

COCO_STATS = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
              "AR_1", "AR_10", "AR_100", "AR_small", "AR_medium", "AR_large")

MODES = {"voc": C.VDR_AP_VOC2010, "coco": C.VDR_AP_COCO101}


def _mode(mode: str) -> int:
    if mode not in MODES:
        raise InvalidArgumentError(f"mode must be 'voc' or 'coco', got {mode!r}")
    return MODES[mode]


def evaluate(gt: str | os.PathLike, pred: str | os.PathLike, iou_thr: float = 0.4, mode: str = "voc",
             gt_readers: str = "all", fuse_iou_thr: float = 0.4, min_votes: int = 2, missing: str = "error") -> dict:
    """Scores a Kaggle submission CSV against ground truth (Kaggle train.csv or PhysioNet
    annotations_test.csv layout).

    gt_readers: 'all' (every row as given), 'fused' (the consensus rules: "No finding" by strict
    majority, else the labels given by `min_votes` readers with their boxes fused by weighted boxes
    fusion at `fuse_iou_thr`; what `export(..., mode='fused')` writes) or one rad_id such as 'R8'.
    missing: 'error' (InvalidArgumentError naming the ground-truth images the submission has no
    row for), 'skip' (leave them out of the score) or 'empty' (score them as images without
    predictions).
    Returns {'mAP': float, 'ap': {class name: AP for classes in the ground truth},
    'gt_counts': {class name: boxes}}.
    """
    if gt_readers == "all":
        gt_mode, reader = C.VDR_GT_AS_GIVEN, None
    elif gt_readers == "fused":
        gt_mode, reader = C.VDR_GT_FUSED, None
    else:
        gt_mode, reader = C.VDR_GT_READER, c_str("gt_readers", gt_readers)
    if missing not in MISSING:
        raise InvalidArgumentError(f"missing must be one of {sorted(MISSING)}, got {missing!r}")
    mean = ctypes.c_double()
    ap = np.empty(15, dtype=np.float64)
    counts = np.empty(15, dtype=np.uintp)
    _lib.check(_evaluate_files(c_str("gt", gt), c_str("pred", pred), gt_mode, reader, float(fuse_iou_thr),
                               c_int("min_votes", min_votes, _evaluate_files, 5), float(iou_thr), _mode(mode),
                               MISSING[missing], ctypes.byref(mean), ap.ctypes.data_as(_dp),
                               counts.ctypes.data_as(ctypes.POINTER(ctypes.c_size_t))))
    names = [c.name for c in KAGGLE_CLASSES]
    return {"mAP": mean.value,
            "ap": {names[k]: float(ap[k]) for k in range(15) if not math.isnan(ap[k])},
            "gt_counts": {names[k]: int(counts[k]) for k in range(15) if counts[k] > 0}}


def average_precision(gt_boxes, gt_labels, gt_images, det_boxes, det_scores, det_labels, det_images,
                      num_images: int | None = None, num_classes: int | None = None, iou_thr: float = 0.4,
                      mode: str = "voc") -> tuple[float, np.ndarray]:
    """AP per class from arrays (boxes (N, 4) x_min, y_min, x_max, y_max; integer labels and
    image indices). Returns (mean over classes with ground truth, AP array of num_classes with
    NaN for classes without ground truth)."""
    gi, gl, gb, di, dl, ds, db, num_images, num_classes = _detection_arrays(
        gt_boxes, gt_labels, gt_images, det_boxes, det_scores, det_labels, det_images, num_images, num_classes)
    num_images = c_int("num_images", num_images, _evaluate, 9)
    num_classes = c_int("num_classes", num_classes, _evaluate, 10)
    mean = ctypes.c_double()
    ap = np.empty(num_classes, dtype=np.float64)
    _lib.check(_evaluate(gi.ctypes.data_as(_i64p), gl.ctypes.data_as(_i64p), gb.ctypes.data_as(_dp), len(gb),
                         di.ctypes.data_as(_i64p), dl.ctypes.data_as(_i64p), ds.ctypes.data_as(_dp),
                         db.ctypes.data_as(_dp), len(db), num_images, num_classes, float(iou_thr), _mode(mode),
                         ctypes.byref(mean), ap.ctypes.data_as(_dp)))
    return mean.value, ap


def _detection_arrays(gt_boxes, gt_labels, gt_images, det_boxes, det_scores, det_labels, det_images, num_images, num_classes):
    """The columns of `average_precision` / `coco_evaluate` as contiguous arrays, and the image
    and class counts (by default one past the largest index given)."""
    gb = np.ascontiguousarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    db = np.ascontiguousarray(det_boxes, dtype=np.float64).reshape(-1, 4)
    gl = c_int64_array("gt_labels", gt_labels).reshape(-1)
    gi = c_int64_array("gt_images", gt_images).reshape(-1)
    dl = c_int64_array("det_labels", det_labels).reshape(-1)
    di = c_int64_array("det_images", det_images).reshape(-1)
    ds = np.ascontiguousarray(det_scores, dtype=np.float64).reshape(-1)
    if not (len(gb) == len(gl) == len(gi)) or not (len(db) == len(dl) == len(di) == len(ds)):
        raise InvalidArgumentError("ground-truth and detection columns must have one entry per box")
    if num_images is None:
        num_images = int(max(gi.max(initial=-1), di.max(initial=-1)) + 1)
    if num_classes is None:
        num_classes = int(max(gl.max(initial=-1), dl.max(initial=-1)) + 1)
    return gi, gl, gb, di, dl, ds, db, num_images, num_classes


def _gt_readers(gt_readers: str):
    if gt_readers == "all":
        return C.VDR_GT_AS_GIVEN, None
    if gt_readers == "fused":
        return C.VDR_GT_FUSED, None
    return C.VDR_GT_READER, c_str("gt_readers", gt_readers)


def coco_evaluate(gt_boxes, gt_labels, gt_images, det_boxes, det_scores, det_labels, det_images,
                  num_images: int | None = None, num_classes: int | None = None) -> dict:
    """The COCO detection summary, pycocotools COCOeval's bbox rules (AP over IoU 0.50:0.05:0.95
    with 101-point precision, area ranges split at 32^2 and 96^2, at most 1/10/100 detections per
    image and class; no crowd boxes), from arrays laid out as in `average_precision`. Every class
    0..num_classes-1 is evaluated; classes without ground truth are left out of the means.
    Returns {'stats': the 12 numbers of COCOeval.stats (-1 where nothing was scored), one key per
    number (`COCO_STATS`), 'class_ap': AP@[.5:.95] per class (-1 without ground truth)}."""
    gi, gl, gb, di, dl, ds, db, num_images, num_classes = _detection_arrays(
        gt_boxes, gt_labels, gt_images, det_boxes, det_scores, det_labels, det_images, num_images, num_classes)
    num_images = c_int("num_images", num_images, _coco_evaluate, 9)
    num_classes = c_int("num_classes", num_classes, _coco_evaluate, 10)
    stats = np.empty(C.VDR_COCO_STAT_COUNT, dtype=np.float64)
    class_ap = np.empty(num_classes, dtype=np.float64)
    _lib.check(_coco_evaluate(gi.ctypes.data_as(_i64p), gl.ctypes.data_as(_i64p), gb.ctypes.data_as(_dp), len(gb),
                              di.ctypes.data_as(_i64p), dl.ctypes.data_as(_i64p), ds.ctypes.data_as(_dp),
                              db.ctypes.data_as(_dp), len(db), num_images, num_classes, stats.ctypes.data_as(_dp),
                              class_ap.ctypes.data_as(_dp)))
    return _coco_result(stats, class_ap)


def coco_evaluate_files(gt: str | os.PathLike, pred: str | os.PathLike, gt_readers: str = "all",
                        fuse_iou_thr: float = 0.4, min_votes: int = 2, missing: str = "error") -> dict:
    """The COCO summary (`coco_evaluate`) of a Kaggle submission CSV over the 15 Kaggle classes
    ("No finding" is class 14 with the box 0 0 1 1), the ground truth and `missing` as in
    `evaluate`. 'class_ap' maps class names present in the ground truth to AP@[.5:.95]."""
    gt_mode, reader = _gt_readers(gt_readers)
    if missing not in MISSING:
        raise InvalidArgumentError(f"missing must be one of {sorted(MISSING)}, got {missing!r}")
    stats = np.empty(C.VDR_COCO_STAT_COUNT, dtype=np.float64)
    class_ap = np.empty(15, dtype=np.float64)
    _lib.check(_coco_evaluate_files(c_str("gt", gt), c_str("pred", pred), gt_mode, reader, float(fuse_iou_thr),
                                    c_int("min_votes", min_votes, _coco_evaluate_files, 5), MISSING[missing],
                                    stats.ctypes.data_as(_dp), class_ap.ctypes.data_as(_dp)))
    out = _coco_result(stats, class_ap)
    names = [c.name for c in KAGGLE_CLASSES]
    out["class_ap"] = {names[k]: float(class_ap[k]) for k in range(15) if class_ap[k] > -1}
    return out


def _coco_result(stats: np.ndarray, class_ap: np.ndarray) -> dict:
    out = {"stats": [float(v) for v in stats], "class_ap": class_ap}
    out.update({name: float(v) for name, v in zip(COCO_STATS, stats)})
    return out
