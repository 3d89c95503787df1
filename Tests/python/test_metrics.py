"""The competition metric against an independent PASCAL VOC 2010 implementation written here and
against pycocotools for the COCO-style 101-point mode."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

import vindr
from test_annotations import kaggle_train_csv, train_df  # noqa: F401  (shared fixtures)

REPO = pathlib.Path(__file__).resolve().parents[2]


def voc2010_ap(gt: dict, dets: list, iou_thr: float) -> float:
    """PASCAL VOC 2010+ AP of one class, after the VOC devkit: gt maps image -> (K, 4) boxes,
    dets is a list of (image, score, box). Greedy by descending score; a detection is a true
    positive when its best-overlapping ground truth has IoU > iou_thr and is still unclaimed."""
    npos = sum(len(b) for b in gt.values())
    order = sorted(range(len(dets)), key=lambda i: -dets[i][1])  # stable for equal scores
    claimed = {k: np.zeros(len(b), bool) for k, b in gt.items()}
    tp = np.zeros(len(dets))
    fp = np.zeros(len(dets))
    for rank, i in enumerate(order):
        image, _, d = dets[i]
        g = gt.get(image, np.zeros((0, 4)))
        ovmax, jmax = -np.inf, -1
        if len(g):
            iw = np.maximum(np.minimum(g[:, 2], d[2]) - np.maximum(g[:, 0], d[0]), 0)
            ih = np.maximum(np.minimum(g[:, 3], d[3]) - np.maximum(g[:, 1], d[1]), 0)
            inter = iw * ih
            ov = inter / ((d[2] - d[0]) * (d[3] - d[1]) + (g[:, 2] - g[:, 0]) * (g[:, 3] - g[:, 1]) - inter)
            jmax = int(np.argmax(ov))
            ovmax = ov[jmax]
        if ovmax > iou_thr and not claimed[image][jmax]:
            claimed[image][jmax] = True
            tp[rank] = 1
        else:
            fp[rank] = 1
    tp, fp = np.cumsum(tp), np.cumsum(fp)
    rec = tp / npos
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    for k in range(len(mpre) - 1, 0, -1):
        mpre[k - 1] = max(mpre[k - 1], mpre[k])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def random_detection_set(rng, images=40, classes=5):
    gt_boxes, gt_labels, gt_images = [], [], []
    det_boxes, det_scores, det_labels, det_images = [], [], [], []
    for img in range(images):
        for _ in range(rng.integers(0, 6)):
            xy = rng.random(2) * 400
            box = np.concatenate([xy, xy + rng.random(2) * 200 + 5])
            gt_boxes.append(box), gt_labels.append(rng.integers(0, classes)), gt_images.append(img)
            for _ in range(rng.integers(0, 3)):  # detections near the truth
                det_boxes.append(box + rng.normal(0, 20, 4) * [1, 1, 1, 1])
                det_boxes[-1][2:] = np.maximum(det_boxes[-1][2:], det_boxes[-1][:2] + 1)
                det_scores.append(rng.random()), det_labels.append(gt_labels[-1] if rng.random() < 0.8 else rng.integers(0, classes))
                det_images.append(img)
        for _ in range(rng.integers(0, 3)):  # background false positives
            xy = rng.random(2) * 400
            det_boxes.append(np.concatenate([xy, xy + rng.random(2) * 100 + 5]))
            det_scores.append(rng.random()), det_labels.append(rng.integers(0, classes)), det_images.append(img)
    as_arr = lambda x, shape=(-1,): np.asarray(x, dtype=float).reshape(shape)  # noqa: E731
    return (as_arr(gt_boxes, (-1, 4)), np.asarray(gt_labels, int), np.asarray(gt_images, int),
            as_arr(det_boxes, (-1, 4)), as_arr(det_scores), np.asarray(det_labels, int), np.asarray(det_images, int))


def reference_per_class(gb, gl, gi, db, ds, dl, di, classes, iou_thr):
    aps = np.full(classes, np.nan)
    for c in range(classes):
        if not (gl == c).any():
            continue
        gt = {}
        for b, img in zip(gb[gl == c], gi[gl == c]):
            gt.setdefault(int(img), []).append(b)
        gt = {k: np.array(v) for k, v in gt.items()}
        dets = [(int(i), float(s), b) for b, s, i in zip(db[dl == c], ds[dl == c], di[dl == c])]
        aps[c] = voc2010_ap(gt, dets, iou_thr)
    return aps


@pytest.mark.parametrize("seed", range(8))
def test_voc2010_ap_matches_independent_implementation(seed):
    rng = np.random.default_rng(seed)
    gb, gl, gi, db, ds, dl, di = random_detection_set(rng)
    classes = 5
    iou_thr = 0.4 if seed % 2 == 0 else 0.6
    expected = reference_per_class(gb, gl, gi, db, ds, dl, di, classes, iou_thr)
    mean, ap = vindr.average_precision(gb, gl, gi, db, ds, dl, di, num_images=40, num_classes=classes,
                                       iou_thr=iou_thr)
    np.testing.assert_allclose(ap, expected, rtol=0, atol=1e-12)
    assert mean == pytest.approx(np.nanmean(expected), abs=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_coco_mode_matches_pycocotools(seed):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    import contextlib
    import io

    rng = np.random.default_rng(100 + seed)
    gb, gl, gi, db, ds, dl, di = random_detection_set(rng)
    classes = 5
    xywh = lambda b: [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]  # noqa: E731
    gt = {"images": [{"id": i + 1} for i in range(40)], "categories": [{"id": c + 1} for c in range(classes)],
          "annotations": [{"id": k + 1, "image_id": int(i) + 1, "category_id": int(c) + 1, "bbox": xywh(b),
                           "area": float((b[2] - b[0]) * (b[3] - b[1])), "iscrowd": 0}
                          for k, (b, c, i) in enumerate(zip(gb, gl, gi))]}
    dets = [{"image_id": int(i) + 1, "category_id": int(c) + 1, "bbox": xywh(b), "score": float(s)}
            for b, s, c, i in zip(db, ds, dl, di)]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        e = COCOeval(coco_gt, coco_dt, "bbox")
        e.params.iouThrs = np.array([0.5 if seed % 2 else 0.4])
        e.params.maxDets = [10_000]
        e.params.areaRng = [[0, 1e10]]
        e.params.areaRngLbl = ["all"]
        e.evaluate()
        e.accumulate()
    precision = e.eval["precision"][0, :, :, 0, -1]  # (recall thresholds, classes)
    expected = np.array([precision[:, c].mean() if (precision[:, c] > -1).all() else np.nan for c in range(classes)])
    _, ap = vindr.average_precision(gb, gl, gi, db, ds, dl, di, num_images=40, num_classes=classes,
                                    iou_thr=float(e.params.iouThrs[0]), mode="coco")
    np.testing.assert_allclose(ap, expected, rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def r9_submission(train_df, tmp_path_factory):
    """A submission made from reader R9's rows: boxes jittered, random scores, "No finding" kept."""
    rng = np.random.default_rng(5)
    rows = []
    for image_id, g in train_df[train_df.rad_id == "R9"].groupby("image_id", sort=False):
        parts = []
        for r in g.itertuples():
            if r.class_id == 14:
                parts.append(f"14 {rng.random():.4f} 0 0 1 1")
            else:
                j = rng.normal(0, 20, 4)
                x1, y1 = r.x_min + j[0], r.y_min + j[1]
                parts.append(f"{r.class_id} {rng.random():.4f} {x1:.1f} {y1:.1f} "
                             f"{max(r.x_max + j[2], x1 + 1):.1f} {max(r.y_max + j[3], y1 + 1):.1f}")
        rows.append(f"{image_id},{' '.join(parts)}")
    path = tmp_path_factory.mktemp("sub") / "submission.csv"
    path.write_text("image_id,PredictionString\n" + "\n".join(rows) + "\n")
    return path


def parse_submission(path):
    out = {}
    for line in pathlib.Path(path).read_text().splitlines()[1:]:
        image_id, pred = line.split(",", 1)
        v = np.array(pred.split(), dtype=float).reshape(-1, 6)
        out[image_id] = v
    return out


def test_competition_metric_on_real_ground_truth(kaggle_train_csv, train_df, r9_submission):
    """Ground truth = reader R8's rows of the real train.csv ("No finding" = class 14, box 0 0 1 1)."""
    gt_rows = train_df[train_df.rad_id == "R8"]
    images = set(gt_rows.image_id)
    preds = parse_submission(r9_submission)
    expected = {}
    for c in range(15):
        rows = gt_rows[gt_rows.class_id == c]
        if rows.empty:
            continue
        boxes = rows[["x_min", "y_min", "x_max", "y_max"]].to_numpy(dtype=float)
        if c == 14:
            boxes = np.tile([0.0, 0.0, 1.0, 1.0], (len(rows), 1))
        gt = {}
        for image_id, b in zip(rows.image_id, boxes):
            gt.setdefault(image_id, []).append(b)
        gt = {k: np.array(v) for k, v in gt.items()}
        dets = [(image_id, p[1], p[2:]) for image_id, v in preds.items() if image_id in images
                for p in v if int(p[0]) == c]
        expected[vindr.KAGGLE_CLASSES[c].name] = voc2010_ap(gt, dets, 0.4)
    # R9 did not read every image R8 read: those are scored as images without predictions.
    got = vindr.evaluate(kaggle_train_csv, r9_submission, iou_thr=0.4, gt_readers="R8", missing="empty")
    assert got["ap"].keys() == expected.keys()
    for name in expected:
        assert got["ap"][name] == pytest.approx(expected[name], abs=1e-12), name
    assert got["mAP"] == pytest.approx(np.mean(list(expected.values())), abs=1e-12)


def test_submission_errors_name_line_and_group(tmp_path, kaggle_train_csv):
    bad = tmp_path / "bad.csv"
    bad.write_text("image_id,PredictionString\na,14 1 0 0 1 1\nb,3 0.5 10 10 5 20\n")
    with pytest.raises(vindr.CSVFormatError, match=r"bad\.csv:3: column PredictionString: group 1"):
        vindr.evaluate(kaggle_train_csv, bad)


def cli() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("VINDR_CLI", REPO / ".build" / "release" / "vindr"))
    if not path.exists():
        pytest.skip(f"vindr CLI not built at {path} (set VINDR_CLI)")
    return path


def test_cli_eval_and_stats_json(kaggle_train_csv, r9_submission, train_df):
    out = subprocess.run([cli(), "eval", "--gt", kaggle_train_csv, "--pred", r9_submission, "--iou", "0.4",
                          "--gt-readers", "R8", "--missing", "empty", "--json"], check=True, capture_output=True,
                         text=True).stdout
    doc = json.loads(out)
    py = vindr.evaluate(kaggle_train_csv, r9_submission, gt_readers="R8", missing="empty")
    assert doc["mAP"] == pytest.approx(py["mAP"], abs=1e-15) and doc["ap"] == pytest.approx(py["ap"], abs=1e-15)
    stats = json.loads(subprocess.run([cli(), "stats", "--annotations", kaggle_train_csv, "--json"], check=True,
                                      capture_output=True, text=True).stdout)
    assert stats["images"] == train_df.image_id.nunique()
    votes = train_df.groupby(["image_id", "class_name"]).rad_id.nunique()
    assert stats["labels"]["Nodule/Mass"]["majority"] == int((votes.xs("Nodule/Mass", level=1) >= 2).sum())
    assert stats["labels"]["Nodule/Mass"]["any"] == int(len(votes.xs("Nodule/Mass", level=1)))
    bad = subprocess.run([cli(), "eval", "--gt", "/nonexistent/gt.csv", "--pred", r9_submission],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "/nonexistent/gt.csv" in bad.stderr


def test_cli_exports(kaggle_train_csv, tmp_path):
    # A reader's own boxes exported as a submission score perfectly against that reader.
    sub = tmp_path / "r9.csv"
    subprocess.run([cli(), "export", "submission", "--annotations", kaggle_train_csv, "--reader", "R9", "--boxes", "all",
                    "-o", sub], check=True)
    result = vindr.evaluate(kaggle_train_csv, sub, gt_readers="R9")
    assert result["mAP"] == 1.0 and set(result["ap"].values()) == {1.0}
    # YOLO lines: class cx cy w h normalised by the image size, classes in Kaggle order.
    ann = tmp_path / "a.csv"
    ann.write_text("image_id,rad_id,class_name,x_min,y_min,x_max,y_max\n"
                   "img,R1,Pleural effusion,100,200,300,600\nimg,R1,Rib fracture,1,1,2,2\n")
    sizes = tmp_path / "sizes.csv"
    sizes.write_text("image_id,dim0,dim1\nimg,1000,2000\n")  # Kaggle train_meta.csv: dim0 rows, dim1 columns
    out = tmp_path / "yolo"
    subprocess.run([cli(), "export", "yolo", "--annotations", ann, "--sizes", sizes, "--boxes", "all", "-o", out],
                   check=True)
    cx, cy, w, h = (100 + 300) / 2 / 2000, (200 + 600) / 2 / 1000, 200 / 2000, 400 / 1000
    assert (out / "img.txt").read_text() == f"10 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n"  # Rib fracture: no Kaggle class
    missing = subprocess.run([cli(), "export", "yolo", "--annotations", ann, "-o", out], capture_output=True, text=True)
    assert missing.returncode == 1 and "no size for image img" in missing.stderr


def test_physionet_test_layout_ground_truth(tmp_path):
    """annotations_test.csv layout: consensus rows without rad_id; empty box fields on "No finding"
    mean the box 0 0 1 1; labels without a Kaggle class (e.g. Rib fracture) are not scored."""
    gt = tmp_path / "annotations_test.csv"
    gt.write_text("image_id,class_name,x_min,y_min,x_max,y_max\n"
                  "a,Nodule/Mass,10,10,50,50\na,Nodule/Mass,100,100,140,140\na,Rib fracture,1,1,5,5\n"
                  "b,No finding,,,,\n")
    sub = tmp_path / "sub.csv"
    # a: one nodule found (0.9), a false nodule (0.8); b: "no finding" found.
    sub.write_text("image_id,PredictionString\na,8 0.9 12 10 50 52 8 0.8 300 300 340 340\nb,14 1 0 0 1 1\n")
    result = vindr.evaluate(gt, sub)
    expected_nodule = voc2010_ap({"a": np.array([[10, 10, 50, 50], [100, 100, 140, 140]], float)},
                                 [("a", 0.9, np.array([12, 10, 50, 52.0])), ("a", 0.8, np.array([300, 300, 340, 340.0]))], 0.4)
    assert expected_nodule == pytest.approx(0.5)
    assert result["ap"] == {"Nodule/Mass": pytest.approx(expected_nodule), "No finding": 1.0}
    assert result["mAP"] == pytest.approx((expected_nodule + 1) / 2)
    assert result["gt_counts"] == {"Nodule/Mass": 2, "No finding": 1}


def test_python_exports_match_the_cli_and_load_in_pycocotools(kaggle_train_csv, tmp_path):
    """Annotations.export is the same library function as `vindr export`: the same bytes for every
    format; the COCO file loads in pycocotools with each image's boxes equal to the targets."""
    from pycocotools.coco import COCO

    ann = vindr.Annotations(kaggle_train_csv)
    ids = ann.image_ids[:50]
    small = tmp_path / "small.csv"
    with open(kaggle_train_csv) as f:
        rows = [line for line in f if line.split(",", 1)[0] in set(ids) or line.startswith("image_id")]
    small.write_text("".join(rows))
    sizes = tmp_path / "sizes.csv"
    sizes.write_text("image_id,width,height\n" + "".join(f"{i},3000,2500\n" for i in ids))
    ann = vindr.Annotations(small)
    assert ann.load_image_sizes(sizes) == len(ids)
    for fmt in ("coco", "submission", "yolo"):
        ours, theirs = tmp_path / f"py-{fmt}", tmp_path / f"cli-{fmt}"
        ann.export(fmt, ours, mode="fused", iou_thr=0.5, classes="kaggle")
        subprocess.run([cli(), "export", fmt, "--annotations", small, "--sizes", sizes, "--boxes", "fused", "--iou", "0.5",
                        "-o", theirs], check=True, capture_output=True)
        if fmt == "yolo":
            assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
            assert all((ours / p.name).read_bytes() == p.read_bytes() for p in theirs.iterdir())
        else:
            assert ours.read_bytes() == theirs.read_bytes()
    coco = COCO(str(tmp_path / "py-coco"))
    targets = ann.targets("fused", iou_thr=0.5)
    kaggle = {label.index: label.kaggle_class_id for label in vindr.LABELS}
    for k, image_id in enumerate(ann.image_ids):
        got = sorted((a["category_id"], *np.round(a["bbox"], 6)) for a in coco.loadAnns(coco.getAnnIds(imgIds=[k + 1])))
        rows = targets["image"] == k
        want = sorted((kaggle[int(lab)] + 1, *np.round([b[0], b[1], b[2] - b[0], b[3] - b[1]], 6))  # COCO ids from 1
                      for lab, b in zip(targets["labels"][rows], targets["boxes"][rows]) if kaggle[int(lab)] is not None
                      and kaggle[int(lab)] != 14)
        assert got == want, image_id
    with pytest.raises(vindr.InvalidArgumentError):
        ann.export("voc", tmp_path / "x")
