"""Training-ready exports (`vindr export yolo|coco --dicom`, `Annotations.export(..., dicom=)`):
the folder layouts, the rendered pixels against the SDK's own render, the labels against boxes
re-derived here from the annotations and the letterbox/stretch geometry, the COCO file through
pycocotools, and the all-or-nothing output."""
from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess

import numpy as np
import pytest
import yaml
from PIL import Image

import vindr

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("sample")
    vindr.write_sample(root, train=6, test=3, size=256, seed=5)
    return root


def annotation_files(root: pathlib.Path) -> list[pathlib.Path]:
    return [root / "annotations" / "annotations_train.csv", root / "annotations" / "annotations_test.csv"]


def split_ids(root: pathlib.Path) -> list[str]:
    return sorted(p.stem for p in (root / "test").glob("*.dicom"))


def geometry(src_w: int, src_h: int, out_h: int, out_w: int, letterbox: bool) -> tuple[float, float, float, float]:
    """(scale_x, scale_y, offset_x, offset_y) of the render, derived here: stretch scales each
    axis; letterbox fits the longer side, rounds the content size half away from zero and
    centres it with integer offsets."""
    if not letterbox:
        return out_w / src_w, out_h / src_h, 0.0, 0.0
    s = min(out_w / src_w, out_h / src_h)
    cw = min(out_w, max(1, math.floor(src_w * s + 0.5)))
    ch = min(out_h, max(1, math.floor(src_h * s + 0.5)))
    return cw / src_w, ch / src_h, float((out_w - cw) // 2), float((out_h - ch) // 2)


def expected_boxes(ann: vindr.Annotations, image_id: str, src_w: int, src_h: int, g) -> list[tuple[int, np.ndarray]]:
    """(Kaggle class id, rendered xyxy box) of an image's fused targets, clipped to the image."""
    t = ann.targets("fused", iou_thr=0.4)
    k = ann.image_ids.index(image_id)
    out = []
    for lab, b in zip(t["labels"][t["image"] == k], t["boxes"][t["image"] == k]):
        cls = vindr.LABELS[int(lab)].kaggle_class_id
        if cls is None or cls == 14:
            continue
        x1, x2 = np.clip([b[0], b[2]], 0, src_w)
        y1, y2 = np.clip([b[1], b[3]], 0, src_h)
        if x2 <= x1 or y2 <= y1:
            continue
        sx, sy, ox, oy = g
        out.append((cls, np.array([x1 * sx + ox, y1 * sy + oy, x2 * sx + ox, y2 * sy + oy])))
    return sorted(out, key=lambda c: (c[0], *c[1]))


def dicom_path(root: pathlib.Path, image_id: str) -> pathlib.Path:
    return next(root.glob(f"*/{image_id}.dicom"))


def test_yolo_folder_is_the_ultralytics_layout_with_labels_moved_with_the_pixels(sample, tmp_path):
    ann = vindr.Annotations(*annotation_files(sample))
    val = split_ids(sample)
    out = tmp_path / "yolo"
    report = ann.export("yolo", out, dicom=sample, size=(160, 128), val=val, workers=3)
    assert report == {"train": len(ann) - len(val), "val": len(val), "skipped": 0}

    data = yaml.safe_load((out / "data.yaml").read_text())
    names = [c.name for c in vindr.KAGGLE_CLASSES if c.kaggle_class_id != 14]
    assert data == {"path": str(out.resolve()), "train": "images/train", "val": "images/val", "nc": 14,
                    "names": dict(enumerate(names))}
    assert sorted(p.name for p in out.iterdir()) == ["data.yaml", "images", "labels"]
    lines_checked = 0
    for image_id in ann.image_ids:
        split = "val" if image_id in val else "train"
        png = out / "images" / split / f"{image_id}.png"
        label = out / "labels" / split / f"{image_id}.txt"
        assert png.is_file() and label.is_file()
        pixels = np.asarray(Image.open(png))
        dcm = vindr.read_dicom(dicom_path(sample, image_id))
        want, transform = dcm.render((160, 128), aspect="letterbox", return_transform=True)
        assert pixels.dtype == np.uint8 and np.array_equal(pixels, want)
        src_h, src_w = dcm.rows, dcm.columns
        g = geometry(src_w, src_h, 160, 128, letterbox=True)
        assert tuple(transform) == pytest.approx(g, abs=0, rel=1e-15)
        rows = [line.split() for line in label.read_text().splitlines()]
        got = sorted((int(r[0]), *map(float, r[1:])) for r in rows)
        exp = []
        for cls, b in expected_boxes(ann, image_id, src_w, src_h, g):
            exp.append((cls, (b[0] + b[2]) / 2 / 128, (b[1] + b[3]) / 2 / 160, (b[2] - b[0]) / 128, (b[3] - b[1]) / 160))
        exp.sort()
        assert [r[0] for r in got] == [e[0] for e in exp], image_id
        assert np.allclose(np.array([r[1:] for r in got]).reshape(-1, 4), np.array([e[1:] for e in exp]).reshape(-1, 4),
                           atol=5.1e-7, rtol=0), image_id
        assert all(0 <= v <= 1 for r in got for v in r[1:])
        lines_checked += len(got)
    assert lines_checked > 5  # the sample has findings to check


def test_yolo_without_a_validation_split_points_val_at_train(sample, tmp_path):
    ann = vindr.Annotations(annotation_files(sample)[0])
    out = tmp_path / "all-train"
    assert ann.export("yolo", out, dicom=sample, size=96, mode="all") == {"train": len(ann), "val": 0, "skipped": 0}
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["train"] == data["val"] == "images/train"
    assert list((out / "images" / "val").iterdir()) == []
    assert len(list((out / "labels" / "train").glob("*.txt"))) == len(ann)


@pytest.mark.parametrize("size,letterbox", [(None, True), ((200, 120), True), ((100, 150), False)])
def test_coco_folder_loads_in_pycocotools_and_scales_back_to_the_source_boxes(sample, tmp_path, size, letterbox):
    from pycocotools.coco import COCO

    ann = vindr.Annotations(*annotation_files(sample))
    out = tmp_path / "coco"
    ann.export("coco", out, dicom=sample, size=size, letterbox=letterbox, classes="local")
    assert sorted(p.name for p in out.iterdir()) == ["annotations.json", "images"]
    coco = COCO(str(out / "annotations.json"))
    local = [label for label in vindr.LABELS if label.kind == "local"]
    assert [(c["id"], c["name"]) for c in coco.loadCats(coco.getCatIds())] == [(k + 1, l.name) for k, l in enumerate(local)]
    assert sorted(coco.getImgIds()) == list(range(1, len(ann) + 1))
    t = ann.targets("fused", iou_thr=0.4)
    class_of = {label.index: k + 1 for k, label in enumerate(local)}
    boxes_checked = 0
    for img in coco.loadImgs(coco.getImgIds()):
        image_id = pathlib.Path(img["file_name"]).stem
        assert img["file_name"] == f"{image_id}.png"
        pixels = np.asarray(Image.open(out / "images" / img["file_name"]))
        assert pixels.shape == (img["height"], img["width"])
        dcm = vindr.read_dicom(dicom_path(sample, image_id))
        src_h, src_w = dcm.rows, dcm.columns  # the DICOM header's Rows/Columns
        if size is None:
            assert (img["width"], img["height"]) == (src_w, src_h)
            sx, sy, ox, oy = 1.0, 1.0, 0.0, 0.0
        else:
            assert (img["height"], img["width"]) == size
            sx, sy, ox, oy = geometry(src_w, src_h, size[0], size[1], letterbox)
        got = []
        for a in coco.loadAnns(coco.getAnnIds(imgIds=[img["id"]])):
            x, y, w, h = a["bbox"]
            assert a["area"] == pytest.approx(w * h, rel=1e-12) and a["iscrowd"] == 0
            got.append((a["category_id"], (x - ox) / sx, (y - oy) / sy, (x + w - ox) / sx, (y + h - oy) / sy))
        k = ann.image_ids.index(image_id)
        want = [(class_of[int(lab)], *b) for lab, b in zip(t["labels"][t["image"] == k], t["boxes"][t["image"] == k])
                if int(lab) in class_of]
        got.sort()
        want.sort()
        assert [g[0] for g in got] == [w[0] for w in want], image_id
        assert np.allclose(np.array([g[1:] for g in got]).reshape(-1, 4), np.array([w[1:] for w in want]).reshape(-1, 4),
                           rtol=0, atol=1e-9), image_id
        boxes_checked += len(got)
    assert boxes_checked > 5


def test_coco_with_a_validation_split_writes_one_file_per_split(sample, tmp_path):
    from pycocotools.coco import COCO

    ann = vindr.Annotations(*annotation_files(sample))
    val = split_ids(sample)
    out = tmp_path / "coco-split"
    ann.export("coco", out, dicom=sample, size=64, val=val)
    assert sorted(p.name for p in out.iterdir()) == ["annotations_train.json", "annotations_val.json", "images"]
    names = {split: sorted(pathlib.Path(i["file_name"]).stem for i in COCO(str(out / f"annotations_{split}.json")).dataset["images"])
             for split in ("train", "val")}
    assert names["val"] == val and sorted(names["train"] + names["val"]) == sorted(ann.image_ids)


def test_no_partial_output_when_a_dicom_is_missing_or_the_folder_is_taken(sample, tmp_path):
    root = tmp_path / "data"
    subprocess.run(["cp", "-r", str(sample), str(root)], check=True)
    ann = vindr.Annotations(*annotation_files(root))
    gone = ann.image_ids[2]
    dicom_path(root, gone).unlink()
    out = tmp_path / "out"
    for fmt in ("yolo", "coco"):
        with pytest.raises(vindr.VinDrIOError, match=gone):
            ann.export(fmt, out, dicom=root, size=64)
        assert not out.exists()
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left
    # A DICOM that cannot be read fails the export after rendering started: still nothing.
    bad = dicom_path(root, ann.image_ids[4])
    bad.write_bytes(b"not a dicom")
    with pytest.raises(vindr.FormatError, match=ann.image_ids[4]):
        ann.export("yolo", out, dicom=root, size=64, missing="skip", workers=2)
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    bad.unlink()
    report = ann.export("yolo", out, dicom=root, size=64, missing="skip")
    assert report == {"train": len(ann) - 2, "val": 0, "skipped": 2}
    assert not (out / "images" / "train" / f"{gone}.png").exists()
    # An existing non-empty folder is never written into.
    with pytest.raises(vindr.InvalidArgumentError, match="not an empty folder"):
        ann.export("coco", out, dicom=root, size=64, missing="skip")
    assert sorted(p.name for p in out.iterdir()) == ["data.yaml", "images", "labels"]
    with pytest.raises(vindr.InvalidArgumentError):
        ann.export("submission", tmp_path / "s", dicom=root)
    with pytest.raises(vindr.InvalidArgumentError, match="validation image"):
        ann.export("yolo", tmp_path / "v", dicom=root, size=64, val=["nope"], missing="skip")


def test_cli_writes_the_same_folder_as_python(sample, tmp_path):
    ann = vindr.Annotations(*annotation_files(sample))
    py = tmp_path / "py"
    ann.export("yolo", py, dicom=sample, size=(96, 96), val=split_ids(sample), window="auto")
    cli = tmp_path / "cli"
    run = subprocess.run([CLI, "export", "yolo", "--annotations", annotation_files(sample)[0], "--val-annotations",
                          annotation_files(sample)[1], "--dicom", sample, "--out", cli, "--size", "96", "--window", "auto"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert f"{len(ann) - 3} train, 3 val images" in run.stdout
    files = sorted(p.relative_to(py) for p in py.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(cli) for p in cli.rglob("*") if p.is_file())
    for f in files:
        if f.name != "data.yaml":
            assert (py / f).read_bytes() == (cli / f).read_bytes(), f
    assert yaml.safe_load((cli / "data.yaml").read_text())["path"] == str(cli.resolve())
    # Label-only export with sizes from the DICOM headers: no sizes CSV needed.
    labels = tmp_path / "labels"
    run = subprocess.run([CLI, "export", "yolo", "--annotations", annotation_files(sample)[0], "--dicom", sample,
                          "--labels-only", "-o", labels], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert len(list(labels.glob("*.txt"))) == len(vindr.Annotations(annotation_files(sample)[0])) + 1  # + classes.txt
    coco = subprocess.run([CLI, "export", "coco", "--annotations", annotation_files(sample)[0], "--dicom", sample,
                           "--labels-only"], capture_output=True, text=True, check=True).stdout
    doc = json.loads(coco)
    assert all(i["width"] == 224 and i["height"] == 256 for i in doc["images"])
    assert [c["id"] for c in doc["categories"]] == list(range(1, 15))
    bad = subprocess.run([CLI, "export", "yolo", "--annotations", annotation_files(sample)[0], "--dicom", sample,
                          "--out", tmp_path / "x", "--size", "9x"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--size" in bad.stderr and not (tmp_path / "x").exists()


def test_ultralytics_reads_the_yolo_folder(sample, tmp_path):
    """Ultralytics' own dataset check and dataset class (when installed) accept the folder: no
    corrupt or missing labels, and each image's boxes are its label file's."""
    pytest.importorskip("ultralytics")
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    ann = vindr.Annotations(*annotation_files(sample))
    out = tmp_path / "yolo"
    ann.export("yolo", out, dicom=sample, size=128, val=split_ids(sample))
    data = check_det_dataset(str(out / "data.yaml"))
    assert data["nc"] == 14 and data["val"] == str(out.resolve() / "images" / "val")
    total = 0
    for split in ("train", "val"):
        ds = YOLODataset(img_path=data[split], data=data, task="detect", imgsz=128, augment=False)
        labels = ds.get_labels()
        assert len(labels) == len(list((out / "images" / split).glob("*.png")))
        for entry in labels:
            stem = pathlib.Path(entry["im_file"]).stem
            rows = np.array([[float(v) for v in line.split()] for line in
                             (out / "labels" / split / f"{stem}.txt").read_text().splitlines()]).reshape(-1, 5)
            assert entry["shape"] == (128, 128)
            np.testing.assert_allclose(entry["cls"].reshape(-1), rows[:, 0])
            np.testing.assert_allclose(entry["bboxes"], rows[:, 1:], atol=1e-6)
            total += len(rows)
    assert total > 5
