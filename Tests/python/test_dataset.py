"""Datasets: the built-in sample (PhysioNet layout) through vindr.Dataset and the loader, with
targets checked against the CSV rows (pandas) and the annotation index's own consensus."""
from __future__ import annotations

import pathlib
import subprocess

import numpy as np
import pandas as pd
import pydicom
import pytest

import vindr

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    subprocess.run([str(CLI), "sample", str(out), "--train", "12", "--test", "3", "--size", "512", "--seed", "3"],
                   check=True, capture_output=True)
    return out


def source_boxes(batch_target) -> np.ndarray:
    """Output-pixel boxes back in source pixels through the batch's transform (no flip here)."""
    sx, sy, ox, oy, flipped = batch_target["transform"]
    assert flipped == 0
    b = batch_target["boxes"].astype(np.float64)
    return np.stack([(b[:, 0] - ox) / sx, (b[:, 1] - oy) / sy, (b[:, 2] - ox) / sx, (b[:, 3] - oy) / sy], 1)


def by_image(loader):
    return {t["image_id"]: t for b in loader for t in b.targets}


def test_sample_layout_reads_like_the_release(sample):
    rows = pd.read_csv(sample / "annotations" / "annotations_train.csv")
    assert list(rows.columns) == ["image_id", "rad_id", "class_name", "x_min", "y_min", "x_max", "y_max"]
    assert (rows.groupby("image_id").rad_id.nunique() == 3).all()
    assert set(rows.class_name) <= {label.name for label in vindr.LABELS}
    assert rows[rows.class_name == "No finding"].x_min.isna().all()
    labels = pd.read_csv(sample / "annotations" / "image_labels_test.csv")
    assert "Other disease" in labels.columns and "rad_id" not in labels.columns
    for image_id in rows.image_id.unique()[:3]:
        ds = pydicom.dcmread(sample / "train" / f"{image_id}.dicom")
        assert (ds.Rows, ds.Columns, ds.BitsStored) == (512, 448, 12)


def test_union_targets_are_the_csv_boxes(sample):
    csv = sample / "annotations" / "annotations_train.csv"
    rows = pd.read_csv(csv).dropna(subset=["x_min"])
    targets = by_image(vindr.Loader(vindr.Dataset(sample, csv, policy="union"), 256, batch_size=4, shuffle=False))
    assert len(targets) == 12
    for image_id, t in targets.items():
        expected = rows[rows.image_id == image_id][["x_min", "y_min", "x_max", "y_max"]].to_numpy()
        got = source_boxes(t)
        assert len(got) == len(expected)
        np.testing.assert_allclose(sorted(map(tuple, got)), sorted(map(tuple, expected)), atol=1e-2)
        names = sorted(rows[rows.image_id == image_id].class_name)
        assert sorted(vindr.LABELS[i].name for i in t["labels"]) == names


def test_fused_and_majority_targets_follow_the_index(sample):
    csv = sample / "annotations" / "annotations_train.csv"
    ann = vindr.Annotations(csv)
    fused = ann.targets("fused", iou_thr=0.4)
    ids = ann.image_ids
    fused_t = by_image(vindr.Loader(vindr.Dataset(sample, ann, policy="fused", iou_thr=0.4), 256, batch_size=4, shuffle=False))
    majority_t = by_image(vindr.Loader(vindr.Dataset(sample, ann, policy="majority", min_readers=2), 256, batch_size=4, shuffle=False))
    for i, image_id in enumerate(ids):
        mask = fused["image"] == i
        np.testing.assert_allclose(sorted(map(tuple, source_boxes(fused_t[image_id]))), sorted(map(tuple, fused["boxes"][mask])), atol=1e-2)
        keep = mask & (fused["scores"] * 3 >= 2 - 1e-9)
        assert sorted(majority_t[image_id]["labels"].tolist()) == sorted(fused["labels"][keep].tolist())


def test_random_reader_changes_with_the_epoch_and_is_one_reader(sample):
    csv = sample / "annotations" / "annotations_train.csv"
    rows = pd.read_csv(csv).dropna(subset=["x_min"])
    loader = vindr.Loader(vindr.Dataset(sample, csv, policy="random"), 256, batch_size=4, shuffle=False, seed=5)
    per_epoch = []
    for epoch in range(4):
        loader.epoch = epoch
        per_epoch.append(by_image(loader))
    changed = 0
    for image_id in per_epoch[0]:
        readers_boxes = {r: sorted(map(tuple, g[["x_min", "y_min", "x_max", "y_max"]].to_numpy().round(1)))
                         for r, g in rows[rows.image_id == image_id].groupby("rad_id")}
        seen = []
        for e in per_epoch:
            got = sorted(map(tuple, source_boxes(e[image_id]).round(1)))
            assert got == [] or got in readers_boxes.values()
            seen.append(got)
        changed += len({tuple(s) for s in seen}) > 1
    assert changed > 0


def test_kaggle_classes_and_global_labels(sample):
    csv = sample / "annotations" / "annotations_train.csv"
    labels_csv = sample / "annotations" / "image_labels_train.csv"
    ann = vindr.Annotations(csv, labels_csv)
    targets = by_image(vindr.Loader(vindr.Dataset(sample, ann, policy="union", classes="kaggle"), 128, batch_size=4, shuffle=False))
    votes = pd.read_csv(labels_csv).drop(columns="rad_id").groupby("image_id").sum()
    for image_id, t in targets.items():
        assert set(t["labels"].tolist()) <= set(range(14))
        expected = (votes.loc[image_id].to_numpy() >= 2).astype(np.float32)
        np.testing.assert_array_equal(t["global_labels"], expected)


def test_missing_dicom_is_named(sample, tmp_path):
    csv = tmp_path / "extra.csv"
    csv.write_text("image_id,rad_id,class_name,x_min,y_min,x_max,y_max\nnot-an-image,R1,No finding,,,,\n")
    with pytest.raises(vindr.VinDrError, match="not-an-image"):
        vindr.Dataset(sample, csv)


def test_missing_skip_drops_absent_images_and_reports_them(sample, tmp_path):
    """missing="skip": the annotated images whose DICOM was removed are left out and listed; the
    others keep the targets they have with every file present."""
    ann = sample / "annotations" / "annotations_train.csv"
    rows = pd.read_csv(ann)
    ids = list(dict.fromkeys(rows.image_id))  # index order
    root = tmp_path / "partial"
    (root / "train").mkdir(parents=True)
    gone = ids[1:6]
    for image_id in ids:
        if image_id not in gone:
            (root / "train" / f"{image_id}.dicom").symlink_to(sample / "train" / f"{image_id}.dicom")
    with pytest.raises(vindr.VinDrError, match=r"5 image\(s\).*" + gone[0] + ", " + gone[1] + ", " + gone[2]) as e:
        vindr.Dataset(root, ann)
    assert gone[3] not in str(e.value)  # the first few, then the count
    with pytest.raises(ValueError, match="missing"):
        vindr.Dataset(root, ann, missing="ignore")
    with pytest.raises(vindr.InvalidArgumentError, match="missing=empty is for evaluation"):
        vindr.Dataset(root, ann, missing="empty")
    full = vindr.Dataset(sample, ann, missing="skip", policy="union")
    assert full.skipped == [] and len(full) == len(ids)
    partial = vindr.Dataset(root, ann, missing="skip", policy="union")
    assert partial.skipped == gone and len(partial) == len(ids) - len(gone)
    kept = by_image(vindr.Loader(partial, 256, batch_size=4, shuffle=False))
    assert sorted(kept) == sorted(set(ids) - set(gone))
    every = by_image(vindr.Loader(full, 256, batch_size=4, shuffle=False))
    for image_id, t in kept.items():
        np.testing.assert_array_equal(t["boxes"], every[image_id]["boxes"])
        np.testing.assert_array_equal(t["labels"], every[image_id]["labels"])


def test_image_sizes_joined_from_headers(sample, corpus, tmp_path):
    ann = vindr.Annotations(sample / "annotations" / "annotations_train.csv")
    assert ann.join_image_sizes(sample) == (12, 0)
    # Header-only reads give pydicom's Rows/Columns for every transfer syntax of the corpus.
    for variant in corpus.values():
        for path in variant.values():
            d = tmp_path / path.stem
            d.mkdir()
            (d / "img.dcm").write_bytes(path.read_bytes())
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            csv = tmp_path / f"{path.stem}.csv"
            csv.write_text("image_id,rad_id,class_name,x_min,y_min,x_max,y_max\n"
                           f"img,R1,Nodule/Mass,1,1,{ds.Columns + 1},2\nimg,R2,Nodule/Mass,1,1,{ds.Columns},{ds.Rows}\n")
            a = vindr.Annotations(csv)
            assert a.join_image_sizes(d) == (1, 0), path
            issues = a.quality_issues()["issues"]
            assert [i["rad_id"] for i in issues if i["rule"] == "out_of_image"] == ["R1"], (path, issues)
            assert f"image {ds.Columns} x {ds.Rows}" in issues[0]["message"]


def test_write_sample_from_python_equals_the_cli_and_obeys_the_labeling_rules(tmp_path):
    """vindr.write_sample (the C ABI) writes the same bytes as `vindr sample`; pydicom reads its
    DICOMs; `qc` finds nothing; bad arguments and unwritable places are clear errors."""
    vindr.write_sample(tmp_path / "py", train=3, test=1, size=128, seed=9)
    subprocess.run([str(CLI), "sample", str(tmp_path / "cli"), "--train", "3", "--test", "1", "--size", "128", "--seed", "9"],
                   check=True, capture_output=True)
    files = sorted(p.relative_to(tmp_path / "py") for p in (tmp_path / "py").rglob("*") if p.is_file())
    assert len(files) == 8 and files == sorted(p.relative_to(tmp_path / "cli") for p in (tmp_path / "cli").rglob("*") if p.is_file())
    for f in files:
        assert (tmp_path / "py" / f).read_bytes() == (tmp_path / "cli" / f).read_bytes(), f
    ds = pydicom.dcmread(next((tmp_path / "py" / "train").glob("*.dicom")))
    assert (ds.Rows, ds.Columns, ds.BitsStored) == (128, 112, 12)
    ann = vindr.Annotations(tmp_path / "py/annotations/annotations_train.csv", tmp_path / "py/annotations/image_labels_train.csv")
    assert ann.quality_issues()["issues"] == []
    with pytest.raises(vindr.InvalidArgumentError, match="size 32"):
        vindr.write_sample(tmp_path / "bad", size=32)
    with pytest.raises(vindr.InvalidArgumentError, match="train"):
        vindr.write_sample(tmp_path / "bad", train=-1)
    (tmp_path / "file").write_text("x")
    with pytest.raises(vindr.VinDrError, match="file"):
        vindr.write_sample(tmp_path / "file" / "under", train=1, test=0, size=64)
