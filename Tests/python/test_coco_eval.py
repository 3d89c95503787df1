"""The COCO summary (`vindr.coco_evaluate`, `vindr eval --coco`) against pycocotools' COCOeval as
the oracle: the 12 stats within 1e-12 on synthetic data (many sizes across the area ranges,
boundary areas, tied scores, more than 100 detections per image, empty categories) and on the
built-in sample with perturbed predictions."""
from __future__ import annotations

import contextlib
import io
import json
import pathlib
import subprocess

import numpy as np
import pytest

import vindr

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"


def cocoeval_stats(gt, dets, n_images: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """pycocotools' 12 stats and per-class AP@[.5:.95] (-1 without ground truth); gt is a list of
    (image, label, xyxy box), dets of (image, label, score, xyxy box); ids are shifted to start
    at 1, bbox is x, y, x2 - x1, y2 - y1 and the ground truth's area its product."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    anns = []
    for k, (image, label, box) in enumerate(gt):
        bb = xywh(box)
        anns.append({"id": k + 1, "image_id": image + 1, "category_id": label + 1, "bbox": bb, "area": bb[2] * bb[3],
                     "iscrowd": 0})
    dataset = {"images": [{"id": i + 1} for i in range(n_images)], "annotations": anns,
               "categories": [{"id": c + 1, "name": str(c)} for c in range(n_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = dataset
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes([{"image_id": image + 1, "category_id": label + 1, "score": float(score), "bbox": xywh(box)}
                                   for image, label, score, box in dets])
        e = COCOeval(coco_gt, coco_dt, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    p = e.eval["precision"][:, :, :, 0, 2]
    per_class = np.array([np.mean(p[:, :, k][p[:, :, k] > -1]) if (p[:, :, k] > -1).any() else -1 for k in range(n_classes)])
    return np.array(e.stats), per_class


def ours(gt, dets, n_images, n_classes) -> dict:
    return vindr.coco_evaluate(np.array([b for _, _, b in gt], float).reshape(-1, 4), [l for _, l, _ in gt],
                               [i for i, _, _ in gt], np.array([b for _, _, _, b in dets], float).reshape(-1, 4),
                               [s for _, _, s, _ in dets], [l for _, l, _, _ in dets], [i for i, _, _, _ in dets],
                               num_images=n_images, num_classes=n_classes)


def synthetic(seed: int, n_images: int = 24, n_classes: int = 7):
    """Ground truth of log-uniform sizes (4 to 400 px, so every area range), plus boxes of
    exactly 32x32 and 96x96 on integer corners (the area boundaries); detections jittered from
    the truth, missed, duplicated and invented, with scores rounded so that some tie; one image
    with 150 detections of one class; class n-2 has detections only, class n-1 nothing."""
    rng = np.random.default_rng(seed)
    gt, dets = [], []
    for image in range(n_images):
        for _ in range(rng.integers(0, 9)):
            label = int(rng.integers(0, n_classes - 2))
            w, h = np.exp(rng.uniform(np.log(4), np.log(400), 2))
            x, y = rng.uniform(0, 600, 2)
            gt.append((image, label, np.array([x, y, x + w, y + h])))
        if image % 5 == 0:
            for side in (32, 96):
                x, y = (int(v) for v in rng.integers(0, 500, 2))
                gt.append((image, int(rng.integers(0, n_classes - 2)), np.array([x, y, x + side, y + side], float)))
    for image, label, b in gt:
        if rng.random() < 0.2:
            continue
        for _ in range(1 + (rng.random() < 0.15)):
            w, h = b[2] - b[0], b[3] - b[1]
            j = rng.normal(0, 0.08, 4) * [w, h, w, h]
            d = b + j
            d = np.array([min(d[0], d[2]), min(d[1], d[3]), max(d[0], d[2]), max(d[1], d[3])])
            dets.append((image, label, round(float(rng.random()), 1), d))
    for _ in range(40):
        x, y = rng.uniform(0, 600, 2)
        w, h = np.exp(rng.uniform(np.log(3), np.log(300), 2))
        dets.append((int(rng.integers(0, n_images)), int(rng.integers(0, n_classes - 1)), float(rng.random()),
                     np.array([x, y, x + w, y + h])))
    for _ in range(150):
        x, y = rng.uniform(0, 600, 2)
        dets.append((1, 0, round(float(rng.random()), 2), np.array([x, y, x + 40, y + 30])))
    order = rng.permutation(len(dets))
    return gt, [dets[i] for i in order]


@pytest.mark.parametrize("seed", range(6))
def test_equals_cocoeval_on_synthetic_data(seed):
    gt, dets = synthetic(seed)
    want, want_classes = cocoeval_stats(gt, dets, 24, 7)
    got = ours(gt, dets, 24, 7)
    np.testing.assert_allclose(got["stats"], want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["class_ap"], want_classes, rtol=0, atol=1e-12)
    assert got["class_ap"][5] == got["class_ap"][6] == -1  # no ground truth: left out
    assert got["AP"] == got["stats"][0] and got["AR_large"] == got["stats"][11]
    assert len({round(v, 6) for v in got["stats"]}) > 6  # the numbers differ: every rule is exercised


def test_empty_and_degenerate_cases_equal_cocoeval():
    box = np.array([10.0, 10, 50, 60])
    cases = [
        ([(0, 0, box)], [(0, 0, 0.9, box)]),                             # perfect
        ([(0, 0, box)], [(1, 0, 0.9, box)]),                             # detection on the wrong image
        ([(0, 0, box)], [(0, 1, 0.9, box)]),                             # wrong class only
        ([(0, 0, np.array([0, 0, 20, 20.0]))], [(0, 0, 0.5, np.array([0, 0, 200, 200.0]))]),  # small truth, large detection
        ([(0, 0, box), (0, 0, box)], [(0, 0, 0.5, box), (0, 0, 0.5, box), (0, 0, 0.5, box)]),  # duplicates, tied scores
    ]
    for gt, dets in cases:
        want, _ = cocoeval_stats(gt, dets, 2, 3)
        np.testing.assert_allclose(ours(gt, dets, 2, 3)["stats"], want, rtol=0, atol=1e-12)
    # No ground truth at all: every number is -1, as COCOeval reports.
    assert ours([], [(0, 0, 0.9, box)], 1, 2)["stats"] == [-1.0] * 12
    with pytest.raises(vindr.InvalidArgumentError, match="label 3"):
        ours([(0, 3, box)], [], 1, 2)
    with pytest.raises(vindr.InvalidArgumentError):
        ours([(0, 0, box)], [(0, 0, float("nan"), box)], 1, 2)


def prediction_string(rows) -> str:
    return " ".join(f"{c} {s:.4f} {b[0]:.1f} {b[1]:.1f} {b[2]:.1f} {b[3]:.1f}" for c, s, b in rows)


def test_sample_with_perturbed_predictions_through_python_the_cli_and_the_files_call(tmp_path):
    """Ground truth: the sample's test consensus (annotations_test.csv); predictions: those boxes
    jittered and rescored, some dropped, false ones added, "No finding" as 14 s 0 0 1 1."""
    root = tmp_path / "sample"
    vindr.write_sample(root, train=2, test=40, size=384, seed=11)
    gt_csv = root / "annotations" / "annotations_test.csv"
    ann = vindr.Annotations(gt_csv)
    t = ann.targets("all")
    no_finding = ann.labels(min_votes=1)[:, vindr.label("No finding").index]
    rng = np.random.default_rng(4)
    gt, dets, lines = [], [], ["image_id,PredictionString"]
    for k, image_id in enumerate(ann.image_ids):
        rows = []
        if no_finding[k]:
            gt.append((k, 14, np.array([0, 0, 1, 1.0])))
            if rng.random() < 0.85:
                rows.append((14, float(rng.random()), np.array([0, 0, 1, 1.0])))
        for lab, b in zip(t["labels"][t["image"] == k], t["boxes"][t["image"] == k]):
            cls = vindr.LABELS[int(lab)].kaggle_class_id
            if cls is None:
                continue
            gt.append((k, cls, b))
            if rng.random() < 0.85:
                w, h = b[2] - b[0], b[3] - b[1]
                rows.append((cls, float(rng.random()), np.round(b + rng.normal(0, 0.06, 4) * [w, h, w, h], 1)))
        for _ in range(rng.integers(0, 4)):
            x, y = rng.uniform(0, 400, 2)
            rows.append((int(rng.integers(0, 14)), float(rng.random()), np.round([x, y, x + rng.uniform(5, 100), y + rng.uniform(5, 100)], 1)))
        for cls, s, d in rows:
            dets.append((k, cls, round(s, 4), d))
        lines.append(f"{image_id},{prediction_string(rows)}")
    sub = tmp_path / "submission.csv"
    sub.write_text("\n".join(lines) + "\n")
    assert len(gt) > 40 and len(dets) > 40 and any(c == 14 for _, c, _ in gt)

    want, want_classes = cocoeval_stats(gt, dets, len(ann), 15)
    np.testing.assert_allclose(ours(gt, dets, len(ann), 15)["stats"], want, rtol=0, atol=1e-12)
    files = vindr.coco_evaluate_files(gt_csv, sub)
    np.testing.assert_allclose(files["stats"], want, rtol=0, atol=1e-12)
    names = [c.name for c in vindr.KAGGLE_CLASSES]
    assert files["class_ap"] == pytest.approx({names[k]: v for k, v in enumerate(want_classes) if v > -1}, abs=1e-12)
    run = subprocess.run([CLI, "eval", "--gt", gt_csv, "--pred", sub, "--coco", "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    np.testing.assert_allclose([doc[n] for n in vindr.metrics.COCO_STATS], want, rtol=0, atol=1e-12)
    assert doc["images"] == len(ann)
    text = subprocess.run([CLI, "eval", "--gt", gt_csv, "--pred", sub, "--coco"], capture_output=True, text=True, check=True).stdout
    assert text.splitlines()[0] == f"AP\t{files['AP']!r}"
