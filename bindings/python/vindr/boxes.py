"""Box math with numpy in, numpy out: formats, IoU, NMS, soft-NMS and weighted boxes fusion.

`nms`, `soft_nms` and `weighted_boxes_fusion` take and return what ensemble-boxes 1.0.9's
functions of the same names take and return (lists of per-model arrays, normalised x1, y1, x2, y2
coordinates) and give the same results. Differences, all deliberate: invalid input (NaN or
infinite values, a wrong number of weights or scores, an unknown conf_type) raises
`InvalidArgumentError` instead of printing and exiting or silently resetting the weights, and so
do WBF labels beyond int64 (ensemble-boxes keeps them as Python ints); coordinate repairs
(swapped corners, clamping into [0, 1], zero-area boxes) are reported in one warning with
counts; arithmetic is float64 throughout (ensemble-boxes keeps float32 inputs in float32 in NMS
and soft-NMS; WBF's own float32 accumulation is reproduced exactly); the caller's score arrays are
never modified (ensemble-boxes' NMS overwrites the list entries when weights are given). Boxes
with exactly equal scores beyond 16 per label may come out in a different order than numpy's
unstable sort gives.
"""
from __future__ import annotations

import ctypes
import warnings
from typing import Sequence

import numpy as np

from . import _constants as C
from . import _lib
from ._checks import c_int64_array
from .errors import InvalidArgumentError

# Array arguments are passed as raw addresses (c_void_p), the cheapest ctypes conversion.

_iou = _lib.prototype("vdr_box_iou", addresses=True)
_convert = _lib.prototype("vdr_box_convert", addresses=True)
_nms = _lib.prototype("vdr_nms", addresses=True)
_soft_nms = _lib.prototype("vdr_soft_nms", addresses=True)
_wbf = _lib.prototype("vdr_wbf", addresses=True)

FORMATS = {"xyxy": C.VDR_BOX_XYXY, "xywh": C.VDR_BOX_XYWH, "cxcywh": C.VDR_BOX_CXCYWH}
CONF_TYPES = {"avg": C.VDR_CONF_AVG, "max": C.VDR_CONF_MAX, "box_and_model_avg": C.VDR_CONF_BOX_AND_MODEL_AVG,
              "absent_model_aware_avg": C.VDR_CONF_ABSENT_MODEL_AWARE_AVG}


def _ptr(a: np.ndarray | None):
    """The address of a C-contiguous array's data (None for None). `c_char.from_buffer` is
    several times cheaper than `ndarray.ctypes`; read-only and empty arrays take the slow path."""
    if a is None:
        return None
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError):
        return a.ctypes.data


def _f64(a, shape_msg: str, ncol: int | None = None) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if ncol is not None:
        if arr.size == 0:
            arr = arr.reshape(0, ncol)
        if arr.ndim != 2 or arr.shape[1] != ncol:
            raise InvalidArgumentError(f"{shape_msg} must have shape (N, {ncol}), got {arr.shape}")
    return arr


def box_iou(boxes1, boxes2) -> np.ndarray:
    """IoU matrix (float64, shape (N, M)) of two arrays of x1, y1, x2, y2 boxes (any unit)."""
    a = _f64(boxes1, "boxes1", 4)
    b = _f64(boxes2, "boxes2", 4)
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.float64)
    _lib.check(_iou(_ptr(a), a.shape[0], _ptr(b), b.shape[0], _ptr(out)))
    return out


def convert_boxes(boxes, src: str = "xyxy", dst: str = "xywh", scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Converts (N, 4) boxes between 'xyxy', 'xywh' and 'cxcywh', then multiplies x by scale[0] and
    y by scale[1] (pass (1/width, 1/height) to normalise pixels, (width, height) to undo it)."""
    if src not in FORMATS or dst not in FORMATS:
        raise InvalidArgumentError(f"formats must be among {sorted(FORMATS)}, got {src!r} -> {dst!r}")
    a = _f64(boxes, "boxes", 4)
    out = np.empty_like(a)
    _lib.check(_convert(_ptr(a), a.shape[0], FORMATS[src], FORMATS[dst], float(scale[0]), float(scale[1]),
                        _ptr(out)))
    return out


_F64 = np.dtype(np.float64)


class _Models:
    """Per-model lists concatenated into the flat arrays the C calls take. Ensembles call these
    functions once per image, so per-call overhead matters: well-formed numpy input costs a
    handful of numpy calls; anything else is normalised model by model."""

    def __init__(self, boxes_list, scores_list, labels_list, integer_labels):
        if not (len(boxes_list) == len(scores_list) == len(labels_list)):
            raise InvalidArgumentError(
                f"{len(boxes_list)} box arrays, {len(scores_list)} score arrays and {len(labels_list)} label arrays")
        try:
            sizes = list(map(len, boxes_list))
            fast = sizes == list(map(len, scores_list)) == list(map(len, labels_list)) and len(sizes) > 0
            if fast:
                self.boxes_in = np.concatenate(boxes_list)
                self.scores_in = np.concatenate(scores_list)
                self.labels_in = np.concatenate(labels_list)
                fast = self.boxes_in.ndim == 2
        except (TypeError, ValueError):
            fast = False
        if not fast:
            boxes, scores, labels = [], [], []
            for m, (b, s, l) in enumerate(zip(boxes_list, scores_list, labels_list)):
                b, s, l = np.asarray(b), np.asarray(s), np.asarray(l)
                if b.size == 0:
                    b = b.reshape(0, 4)
                if len(b) != len(s) or len(b) != len(l):
                    raise InvalidArgumentError(f"model {m}: {len(b)} boxes, {len(s)} scores and {len(l)} labels")
                boxes.append(b), scores.append(s), labels.append(l)
            sizes = [len(b) for b in boxes]
            self.boxes_in = np.concatenate(boxes) if boxes else np.zeros((0, 4))
            self.scores_in = np.concatenate(scores) if scores else np.zeros(0)
            self.labels_in = np.concatenate(labels) if labels else np.zeros(0)
        self.sizes = (ctypes.c_size_t * len(sizes))(*sizes)
        b = self.boxes_in
        self.boxes = b if b.dtype is _F64 and b.flags.c_contiguous and b.shape[1:] == (4,) else _f64(b, "boxes", 4)
        s = self.scores_in
        self.scores = s if s.dtype is _F64 and s.ndim == 1 else np.ascontiguousarray(s, dtype=np.float64).reshape(-1)
        flat = self.labels_in if self.labels_in.ndim == 1 else self.labels_in.reshape(-1)
        # WBF truncates labels to integers as ensemble-boxes' int(label) does (NaN, infinities and
        # values beyond int64 are errors); NMS and soft-NMS group by exact value (the C side ranks
        # non-integral values as np.unique would, and rejects non-finite ones).
        if integer_labels:
            self.labels = c_int64_array("labels", flat)
        else:
            self.labels = flat if flat.dtype is _F64 else np.ascontiguousarray(flat, dtype=_F64)
        self.n = self.boxes.shape[0]

    def args(self, weights):
        return (_ptr(self.boxes), _ptr(self.scores), _ptr(self.labels), self.sizes, len(self.sizes), _ptr(weights))


# Adjustment counters (VDR_ADJUSTMENT_COUNT of them), the output count and a spare slot (the
# input count for NMS): one ctypes array per call instead of several objects.
_Counters = ctypes.c_size_t * 6


def _call_counters():
    counters = _Counters()
    return counters, ctypes.byref(counters, 32)


def _warn_adjustments(fn: str, counters) -> None:
    swapped, clamped, dropped = counters[0], counters[1], counters[2]
    if not (swapped or clamped or dropped):
        return
    parts = []
    if swapped:
        parts.append(f"swapped reversed corners of {swapped} boxes")
    if clamped:
        parts.append(f"clamped {clamped} coordinates into [0, 1] (check that boxes are normalised)")
    if dropped:
        parts.append(f"removed {dropped} boxes with zero area")
    warnings.warn(f"{fn}: " + "; ".join(parts), stacklevel=3)


def _weighted_scores(scores_list, weights):
    """ensemble-boxes' `nms_method` scaling: score * weight / sum(weights), per model."""
    if weights is None:
        return scores_list
    weights = np.asarray(weights)
    if len(weights) != len(scores_list):
        raise InvalidArgumentError(f"{len(weights)} weights for {len(scores_list)} models")
    return [(np.asarray(s) * weights[i]) / weights.sum() for i, s in enumerate(scores_list)]


def _nms_common(fn_name, fn, params, decayed, boxes, scores, labels, weights):
    """Calls vdr_nms (decayed False) or vdr_soft_nms with `params` between inputs and outputs.
    Well-formed float64 input (the usual case) is concatenated straight into one block that
    also holds the outputs, and all models go to C as one (the scores are already weighted);
    anything else takes `_nms_general`. Per-call overhead matters here: ensembles call this
    once per image."""
    if weights is not None:
        scores = _weighted_scores(scores, weights)
    if not (len(boxes) == len(scores) == len(labels)):
        raise InvalidArgumentError(f"{len(boxes)} box arrays, {len(scores)} score arrays and {len(labels)} label arrays")
    try:
        # Every model's boxes, scores and labels have the same length; np.concatenate checks the
        # (N, 4) shapes as it writes, and casting="no" sends other dtypes to the general path
        # (ensemble-boxes returns them in their own dtype).
        sizes = list(map(len, boxes))
        if not (sizes == list(map(len, scores)) == list(map(len, labels)) and sizes):
            return _nms_general(fn_name, fn, params, decayed, boxes, scores, labels)
        n = sum(sizes)
        # Inputs: boxes (4n), scores, labels; outputs: kept indices, boxes (4n), scores, decayed
        # scores, labels (8 bytes each).
        block = np.empty(14 * n)
        np.concatenate(boxes, out=block[:4 * n].reshape(n, 4), casting="no")
        np.concatenate(scores, out=block[4 * n:5 * n], casting="no")
        np.concatenate(labels, out=block[5 * n:6 * n], casting="no")
    except (AttributeError, TypeError, ValueError):
        return _nms_general(fn_name, fn, params, decayed, boxes, scores, labels)
    base = _ptr(block)
    # Counters: 4 adjustments, the output count, then the input count.
    counters = _Counters()
    counters[5] = n
    inputs = (base, base + 32 * n, base + 40 * n, ctypes.byref(counters, 40), 1, None)
    count = ctypes.byref(counters, 32)
    if decayed:
        status = fn(*inputs, *params, base + 48 * n, base + 56 * n, base + 88 * n, base + 96 * n, base + 104 * n,
                    count, counters)
    else:
        status = fn(*inputs, *params, base + 48 * n, base + 56 * n, base + 88 * n, base + 104 * n, count, counters)
    if status:
        _lib.check(status)
    if counters[0] or counters[1] or counters[2]:
        _warn_adjustments(fn_name, counters)
    k = counters[4]
    return block[7 * n:7 * n + 4 * k].reshape(k, 4), block[11 * n:11 * n + k], block[13 * n:13 * n + k]


def _nms_general(fn_name, fn, params, decayed, boxes, scores, labels):
    """`_nms_common` for input of other dtypes or shapes, normalised model by model."""
    models = _Models(boxes, scores, labels, integer_labels=False)
    n = models.n
    # One scratch block holds every output (8 bytes each): kept indices (n), boxes (4n), scores,
    # decayed scores and labels (n each).
    work = np.empty(8 * n, dtype=np.float64)
    base = _ptr(work)
    counters = _Counters()
    outputs = (base, base + 8 * n, base + 40 * n) + ((base + 48 * n,) if decayed else ()) + (base + 56 * n,)
    _lib.check(fn(*models.args(None), *params, *outputs, ctypes.byref(counters, 32), counters))
    _warn_adjustments(fn_name, counters)
    k = counters[4]
    out_boxes = work[n:n + 4 * k].reshape(k, 4)
    out_scores = work[5 * n:5 * n + k]
    out_labels = work[7 * n:7 * n + k]
    # ensemble-boxes returns the input's own dtypes.
    if models.boxes_in.dtype.kind == "f" and models.boxes_in.dtype is not _F64:
        out_boxes = out_boxes.astype(models.boxes_in.dtype)
    keep = work[:k].view(np.int64)
    if models.scores_in.dtype is not _F64:
        out_scores = models.scores_in[keep]
    if models.labels_in.dtype is not _F64:
        out_labels = models.labels_in[keep]
    return out_boxes, out_scores, out_labels


def nms(boxes: Sequence, scores: Sequence, labels: Sequence, iou_thr: float = 0.5, weights=None):
    """Class-aware NMS over several models' predictions (ensemble-boxes `nms`).

    boxes: list over models of (N_m, 4) normalised x1, y1, x2, y2; scores, labels: lists of (N_m,).
    weights: optional per-model weights (scores become score * weight / sum(weights)).
    Returns (boxes, scores, labels), grouped by ascending label and best first within a label.
    """
    return _nms_common("nms", _nms, (float(iou_thr),), False, boxes, scores, labels, weights)


def soft_nms(boxes: Sequence, scores: Sequence, labels: Sequence, method: int = 2, iou_thr: float = 0.5,
             sigma: float = 0.5, thresh: float = 0.001, weights=None):
    """Soft-NMS over several models' predictions (ensemble-boxes `soft_nms`).

    method: 1 linear (scores of boxes with IoU > iou_thr times 1 - IoU), 2 gaussian
    (exp(-IoU^2 / sigma)). Keeps boxes whose decayed score ends above `thresh` and, like
    ensemble-boxes, returns their undecayed scores.
    """
    if method not in (1, 2):
        raise InvalidArgumentError(f"method must be 1 (linear) or 2 (gaussian), got {method!r}")
    params = (int(method), float(iou_thr), float(sigma), float(thresh))
    return _nms_common("soft_nms", _soft_nms, params, True, boxes, scores, labels, weights)


def weighted_boxes_fusion(boxes_list: Sequence, scores_list: Sequence, labels_list: Sequence, weights=None,
                          iou_thr: float = 0.55, skip_box_thr: float = 0.0, conf_type: str = "avg",
                          allows_overflow: bool = False):
    """Weighted boxes fusion (ensemble-boxes `weighted_boxes_fusion`, same arguments and results).

    boxes_list: list over models of (N_m, 4) normalised x1, y1, x2, y2; scores_list, labels_list:
    lists of (N_m,). conf_type: 'avg', 'max', 'box_and_model_avg' or 'absent_model_aware_avg'.
    Returns (boxes float64 (K, 4), scores float64 (K,), labels float64 (K,)), best score first.
    """
    if conf_type not in CONF_TYPES:
        raise InvalidArgumentError(f"conf_type must be one of {list(CONF_TYPES)}, got {conf_type!r}")
    models = _Models(boxes_list, scores_list, labels_list, integer_labels=True)
    w = None if weights is None else np.ascontiguousarray(weights, dtype=np.float64).reshape(-1)
    if w is not None and len(w) != len(boxes_list):
        raise InvalidArgumentError(f"{len(w)} weights for {len(boxes_list)} models: give one weight per model")
    n = models.n
    out_boxes = np.empty((n, 4), dtype=np.float64)
    out_scores = np.empty(n, dtype=np.float64)
    out_labels = np.empty(n, dtype=np.int64)
    counters, count = _call_counters()
    _lib.check(_wbf(*models.args(w), float(iou_thr), float(skip_box_thr), CONF_TYPES[conf_type],
                    bool(allows_overflow), True, _ptr(out_boxes), _ptr(out_scores),
                    _ptr(out_labels), count, counters))
    _warn_adjustments("weighted_boxes_fusion", counters)
    k = counters[4]
    return out_boxes[:k], out_scores[:k], out_labels[:k].astype(np.float64)
