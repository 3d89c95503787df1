"""Box functions against ensemble-boxes 1.0.9 (the reference implementation) and plain numpy."""
from __future__ import annotations

import ctypes
import warnings

import numpy as np
import pytest

import vindr
from test_annotations import kaggle_train_csv  # noqa: F401  (shared fixture)

eb = pytest.importorskip("ensemble_boxes")

CONF_TYPES = ["avg", "max", "box_and_model_avg", "absent_model_aware_avg"]


def random_models(rng, models, max_boxes, classes, overflow=0.0):
    """Per-model normalised boxes (some reaching past [0, 1] when overflow > 0), scores, labels."""
    boxes, scores, labels = [], [], []
    for _ in range(models):
        n = int(rng.integers(0, max_boxes + 1))
        xy = rng.random((n, 2)) * (0.8 + overflow) - overflow / 2
        wh = rng.random((n, 2)) * 0.35 + 0.005
        boxes.append(np.concatenate([xy, xy + wh], axis=1))
        scores.append(rng.random(n))
        labels.append(rng.integers(0, classes, n).astype(np.float64))
    return boxes, scores, labels


def reference(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def assert_same(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("conf_type", CONF_TYPES)
@pytest.mark.parametrize("allows_overflow", [False, True])
def test_wbf_matches_ensemble_boxes_on_random_boxes(conf_type, allows_overflow):
    rng = np.random.default_rng(CONF_TYPES.index(conf_type) * 2 + int(allows_overflow))
    for trial in range(150):
        boxes, scores, labels = random_models(rng, int(rng.integers(1, 6)), 25, 3, overflow=0.1 * (trial % 2))
        weights = None if trial % 3 == 0 else list(rng.random(len(boxes)) * 2 + 0.1)
        kwargs = dict(weights=weights, iou_thr=float(rng.uniform(0.2, 0.8)), skip_box_thr=float(rng.uniform(0, 0.3)),
                      conf_type=conf_type, allows_overflow=allows_overflow)
        expected = reference(eb.weighted_boxes_fusion, boxes, scores, labels, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = vindr.weighted_boxes_fusion(boxes, scores, labels, **kwargs)
        assert_same(got, expected)


def test_nms_and_soft_nms_match_ensemble_boxes_on_random_boxes():
    rng = np.random.default_rng(7)
    for trial in range(200):
        boxes, scores, labels = random_models(rng, int(rng.integers(1, 5)), 30, 4, overflow=0.1 * (trial % 2))
        if sum(len(b) for b in boxes) == 0:
            continue
        weights = None if trial % 2 else list(rng.random(len(boxes)) + 0.5)
        iou_thr = float(rng.uniform(0.2, 0.7))
        expected = reference(eb.nms, boxes, [s.copy() for s in scores], labels, iou_thr=iou_thr, weights=weights)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert_same(vindr.nms(boxes, scores, labels, iou_thr=iou_thr, weights=weights), expected)
        for method in (1, 2):
            kwargs = dict(method=method, iou_thr=iou_thr, sigma=float(rng.uniform(0.1, 1)),
                          thresh=float(rng.uniform(0.001, 0.3)), weights=weights)
            expected = reference(eb.soft_nms, boxes, [s.copy() for s in scores], labels, **kwargs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert_same(vindr.soft_nms(boxes, scores, labels, **kwargs), expected)


def test_nms_orders_equal_scores_like_ensemble_boxes():
    """Quantised scores: many exact ties, which ensemble-boxes visits in reverse input order
    (argsort()[::-1]; numpy's sort is stable for up to 16 keys, so labels stay within that)."""
    rng = np.random.default_rng(5)
    checked = 0
    for trial in range(300):
        boxes, _, labels = random_models(rng, 3, 10, 4)
        scores = [rng.integers(1, 4, len(b)) / 4.0 for b in boxes]
        flat = np.concatenate(labels)
        if len(flat) == 0 or np.bincount(flat.astype(int)).max() > 16:
            continue
        iou_thr = float(rng.uniform(0.1, 0.6))
        expected = reference(eb.nms, boxes, [s.copy() for s in scores], labels, iou_thr=iou_thr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert_same(vindr.nms(boxes, scores, labels, iou_thr=iou_thr), expected)
        checked += 1
    assert checked > 200


def test_nms_groups_non_integral_labels_by_value_like_ensemble_boxes():
    rng = np.random.default_rng(11)
    values = np.array([0.5, 1.25, -2.0, 1e20, -0.0, 0.0, 3.0])
    for trial in range(60):
        boxes, scores, _ = random_models(rng, 3, 20, 1)
        labels = [values[rng.integers(0, len(values), len(b))] for b in boxes]
        if sum(len(b) for b in boxes) == 0:
            continue
        expected = reference(eb.nms, boxes, [s.copy() for s in scores], labels, iou_thr=0.4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert_same(vindr.nms(boxes, scores, labels, iou_thr=0.4), expected)
            expected = reference(eb.soft_nms, boxes, [s.copy() for s in scores], labels, sigma=0.4, thresh=0.01)
            assert_same(vindr.soft_nms(boxes, scores, labels, sigma=0.4, thresh=0.01), expected)


def test_nms_rejects_non_finite_labels():
    boxes = [np.array([[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.5, 0.52]])]
    for bad in (np.nan, np.inf):
        with pytest.raises(vindr.InvalidArgumentError, match=r"labels\[1\] is not finite"):
            vindr.nms(boxes, [np.array([0.9, 0.8])], [np.array([1.0, bad])])


def test_output_types_follow_ensemble_boxes():
    boxes = [np.array([[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.5, 0.52]], dtype=np.float32)]
    scores = [np.array([0.9, 0.8], dtype=np.float32)]
    labels = [np.array([1, 1])]
    for ours, theirs in [(vindr.nms(boxes, scores, labels), reference(eb.nms, boxes, scores, labels)),
                         (vindr.weighted_boxes_fusion(boxes, scores, labels),
                          reference(eb.weighted_boxes_fusion, boxes, scores, labels))]:
        assert [a.dtype for a in ours] == [b.dtype for b in theirs]


def test_wbf_of_real_reader_boxes_matches_ensemble_boxes(kaggle_train_csv):
    """Radiologists' boxes from the Kaggle train.csv, one model per reader, score 1 (all ties)."""
    import pandas as pd
    df = pd.read_csv(kaggle_train_csv)
    df = df[df.class_id != 14]
    checked = 0
    for _, g in list(df.groupby("image_id", sort=False))[:400]:
        scale = np.array([g.x_max.max(), g.y_max.max()] * 2) + 1.0
        boxes, scores, labels = [], [], []
        for _, r in g.groupby("rad_id", sort=True):
            boxes.append(r[["x_min", "y_min", "x_max", "y_max"]].to_numpy() / scale)
            scores.append(np.ones(len(r)))
            labels.append(r.class_id.to_numpy().astype(float))
        expected = reference(eb.weighted_boxes_fusion, boxes, scores, labels, iou_thr=0.4)
        got = vindr.weighted_boxes_fusion(boxes, scores, labels, iou_thr=0.4)
        # Equal scores are ordered by numpy's unstable sort beyond 16 boxes: compare as row sets.
        rows = lambda r: np.round(np.column_stack([r[2], r[1], r[0]]), 9)  # noqa: E731
        e, o = rows(expected), rows(got)
        np.testing.assert_array_equal(e[np.lexsort(e.T[::-1])], o[np.lexsort(o.T[::-1])])
        checked += 1
    assert checked == 400


def test_box_iou_against_numpy():
    rng = np.random.default_rng(3)
    a = rng.random((40, 2)) * 100
    a = np.concatenate([a, a + rng.random((40, 2)) * 50], axis=1)
    b = rng.random((25, 2)) * 100
    b = np.concatenate([b, b + rng.random((25, 2)) * 50], axis=1)
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    expected = inter / (area(a)[:, None] + area(b)[None, :] - inter)
    np.testing.assert_allclose(vindr.box_iou(a, b), expected, rtol=1e-14, atol=0)
    assert vindr.box_iou(np.zeros((0, 4)), b).shape == (0, 25)


def test_convert_boxes_against_numpy():
    xyxy = np.array([[10.0, 20, 50, 80], [0, 0, 100, 200]])
    x1, y1, x2, y2 = xyxy.T
    np.testing.assert_allclose(vindr.convert_boxes(xyxy, "xyxy", "xywh"), np.stack([x1, y1, x2 - x1, y2 - y1], 1))
    np.testing.assert_allclose(vindr.convert_boxes(xyxy, "xyxy", "cxcywh", scale=(1 / 100, 1 / 200)),
                               np.stack([(x1 + x2) / 200, (y1 + y2) / 400, (x2 - x1) / 100, (y2 - y1) / 200], 1))
    back = vindr.convert_boxes(vindr.convert_boxes(xyxy, "xyxy", "cxcywh"), "cxcywh", "xyxy")
    np.testing.assert_allclose(back, xyxy)


def test_invalid_input_raises_instead_of_exiting():
    box = [np.array([[0.1, 0.1, 0.2, 0.2]])]
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.weighted_boxes_fusion([np.array([[np.nan, 0.1, 0.2, 0.2]])], [np.array([0.5])], [np.array([0])])
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.weighted_boxes_fusion(box, [np.array([0.5])], [np.array([0])], weights=[1, 2])
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.weighted_boxes_fusion(box, [np.array([0.5])], [np.array([0])], conf_type="median")
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.nms(box, [np.array([0.5, 0.4])], [np.array([0])])
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.box_iou(np.array([[1.0, 0, 0, 1]]), np.zeros((0, 4)))
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.box_iou(np.zeros((3, 3)), np.zeros((0, 4)))


def test_repairs_are_reported_with_counts():
    boxes = [np.array([[0.5, 0.2, -0.1, 1.3], [0.3, 0.3, 0.3, 0.9]])]
    with pytest.warns(UserWarning, match=r"swapped reversed corners of 1 boxes.*clamped 2 coordinates.*removed 1 boxes"):
        out = vindr.nms(boxes, [np.array([0.9, 0.8])], [np.array([0, 0])])
    np.testing.assert_array_equal(out[0], [[0, 0.2, 0.5, 1]])


def test_c_abi_rejects_null_pointers_and_bad_enums_without_trapping():
    from vindr import _lib, annotations as A, boxes as B
    assert B._wbf(None, None, None, None, 3, None, 0.5, 0.0, 0, False, True, None, None, None, None, None) == 1
    assert "model_sizes is NULL" in _lib._last_error().decode()
    one = np.array([[0.1, 0.1, 0.2, 0.2]])
    ptr = one.ctypes.data
    sizes = np.array([1], dtype=np.uintp)
    scores, labels = np.array([0.5]), np.array([0], dtype=np.int64)
    out = np.empty(8)
    count = ctypes.c_size_t()
    assert B._wbf(ptr, scores.ctypes.data, labels.ctypes.data, sizes.ctypes.data, 1, None, 0.5, 0.0, 99, False, True,
                  out.ctypes.data, out.ctypes.data, out.ctypes.data, ctypes.byref(count), None) == 1
    assert "conf_type 99" in _lib._last_error().decode()
    assert B._soft_nms(ptr, scores.ctypes.data, labels.ctypes.data, sizes.ctypes.data, 1, None, 7, 0.5, 0.5, 0.001,
                       None, None, None, None, None, None, None) == 1
    assert B._iou(None, 2, None, 0, None) == 1
    A._destroy(None)
    A._targets_destroy(None)
    assert A._targets_view(None, None, None, None, None, None, None) == 1
    assert A._image_count(None, None) == 1
