"""One consensus rule set in `vindr fuse`, `export`, `Annotations.targets`/`labels` and `eval`, on
hand-written files where readers disagree on "No finding" (the Kaggle train.csv never does).
Fusion is checked against ensemble-boxes, scores against hand-computed APs."""
from __future__ import annotations

import csv
import io
import pathlib
import subprocess

import numpy as np
import pytest

import vindr

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"
NODULE, CARDIO, AORTIC = "Nodule/Mass", "Cardiomegaly", "Aortic enlargement"

# nf: 2 of 3 readers say "No finding", R3 draws a nodule -> "No finding", no box.
# two: R1 and R2 draw overlapping nodules (fused), R3 alone an aortic enlargement (1 vote).
# apart: R1 and R2 give cardiomegaly with boxes that do not overlap (kept unmerged, exact text);
#        R3 says "No finding" (a minority).
# split: one reader each for three labels: nothing holds at 2 votes.
TRAIN = f"""image_id,rad_id,class_name,x_min,y_min,x_max,y_max
nf,R1,No finding,,,,
nf,R2,No finding,,,,
nf,R3,{NODULE},10,10,50,50
two,R1,{NODULE},726.7,100.1,800.3,200.9
two,R2,{NODULE},730.2,98.4,805.5,210.25
two,R3,{AORTIC},1000.5,300.25,1200.75,500.125
apart,R1,{CARDIO},100.3,200.7,300.1,400.9
apart,R2,{CARDIO},900.3,900.7,1000.1,1000.9
apart,R3,No finding,,,,
split,R1,{NODULE},10,10,50,50
split,R2,{CARDIO},100,100,300,300
split,R3,No finding,,,,
"""


def run(*args, check=True):
    if not CLI.exists():
        pytest.skip(f"vindr CLI not built at {CLI}")
    out = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(out.stderr)
    return out


@pytest.fixture
def train(tmp_path):
    p = tmp_path / "train.csv"
    p.write_text(TRAIN)
    return p


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_fuse_follows_the_votes_and_writes_the_numbers_it_read(train):
    out = rows(run("fuse", "--annotations", train).stdout)
    by_image = {}
    for r in out:
        by_image.setdefault(r["image_id"], []).append(r)
    # "No finding" by majority excludes R3's nodule; a one-reader aortic enlargement is dropped.
    assert [(r["class_name"], r["x_min"]) for r in by_image["nf"]] == [("No finding", "")]
    assert [r["class_name"] for r in by_image["two"]] == [NODULE]
    assert "split" not in by_image
    # Fused coordinates are Double means, written as the shortest round-trip decimal.
    fused = by_image["two"][0]
    expected = [(726.7 + 730.2) / 2, (100.1 + 98.4) / 2, (800.3 + 805.5) / 2, (200.9 + 210.25) / 2]
    assert [fused[k] for k in ("x_min", "y_min", "x_max", "y_max")] == [repr(v) for v in expected]
    assert float(fused["score"]) == 2 / 3
    # Unmerged boxes keep the text they were read with (no float32 noise such as 100.30000305).
    apart = sorted((r["x_min"], r["y_min"], r["x_max"], r["y_max"]) for r in by_image["apart"])
    assert apart == [("100.3", "200.7", "300.1", "400.9"), ("900.3", "900.7", "1000.1", "1000.9")]
    # With one vote, every label holds ("No finding" still needs a majority).
    any_reader = rows(run("fuse", "--annotations", train, "--min-votes", "1").stdout)
    assert sorted(r["class_name"] for r in any_reader if r["image_id"] == "two") == [AORTIC, NODULE]
    assert [r["class_name"] for r in any_reader if r["image_id"] == "nf"] == ["No finding"]
    assert sorted(r["class_name"] for r in any_reader if r["image_id"] == "split") == [CARDIO, NODULE]
    # What fuse writes passes QC: no "No finding" next to a finding.
    fused_file = train.parent / "fused.csv"
    run("fuse", "--annotations", train, "-o", fused_file)
    qc = vindr.Annotations(fused_file).quality_issues()
    assert qc["counts"]["lesion_with_no_finding"] == 0, qc["counts"]


def test_fused_boxes_match_ensemble_boxes_on_the_voted_labels(train):
    eb = pytest.importorskip("ensemble_boxes")
    import warnings

    ann = vindr.Annotations(train)
    names = [label.name for label in vindr.LABELS]
    t = ann.targets("fused", iou_thr=0.4)
    i = ann.image_ids.index("two")
    scale = 2048.0
    # Only the nodule label has 2 votes: the oracle fuses its boxes, each reader one model.
    boxes = [np.array([[726.7, 100.1, 800.3, 200.9]]) / scale, np.array([[730.2, 98.4, 805.5, 210.25]]) / scale,
             np.zeros((0, 4))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eb_boxes, eb_scores, eb_labels = eb.weighted_boxes_fusion(
            boxes, [np.ones(1), np.ones(1), np.zeros(0)], [np.array([names.index(NODULE)])] * 2 + [np.zeros(0)],
            iou_thr=0.4)
    sel = t["image"] == i
    np.testing.assert_allclose(t["boxes"][sel] / scale, eb_boxes, rtol=0, atol=1e-7)  # theirs is float32
    np.testing.assert_allclose(t["scores"][sel], eb_scores, rtol=0, atol=1e-7)
    assert t["labels"][sel].tolist() == eb_labels.astype(int).tolist()
    # No boxes where "No finding" holds or no label has the votes.
    for image in ("nf", "split"):
        assert not (t["image"] == ann.image_ids.index(image)).any()
    # With one vote, each one-reader label's box is kept as drawn (score 1/3).
    t1 = ann.targets("fused", iou_thr=0.4, min_votes=1)
    split = t1["image"] == ann.image_ids.index("split")
    assert sorted(names[k] for k in t1["labels"][split]) == [CARDIO, NODULE]
    np.testing.assert_array_equal(t1["scores"][split], [1 / 3, 1 / 3])
    aortic = t1["labels"] == names.index(AORTIC)
    assert t1["boxes"][aortic].tolist() == [[1000.5, 300.25, 1200.75, 500.125]]
    with pytest.raises(vindr.InvalidArgumentError, match="min_votes"):
        ann.targets("fused", min_votes=0)
    labels = ann.labels(min_votes=2)
    held = {image: sorted(vindr.LABELS[k].name for k in np.flatnonzero(labels[n])) for n, image in enumerate(ann.image_ids)}
    assert held == {"nf": ["No finding"], "two": [NODULE], "apart": [CARDIO], "split": []}
    assert [vindr.LABELS[k].name for k in np.flatnonzero(ann.labels(min_votes=1)[ann.image_ids.index("nf")])] == ["No finding"]


def test_a_consensus_file_is_the_answer_and_is_not_fused_again(train, tmp_path):
    # Two overlapping nodules of a consensus (test-layout) file stay two boxes, as written.
    test = tmp_path / "annotations_test.csv"
    test.write_text(f"image_id,class_name,x_min,y_min,x_max,y_max\n"
                    f"c,{NODULE},10.1,10.2,50.3,50.4\nc,{NODULE},12.7,11.9,52.1,49.3\nd,No finding,,,,\n")
    sub = tmp_path / "sub.csv"
    run("export", "submission", "--annotations", test, "--boxes", "fused", "-o", sub)
    assert sub.read_text() == ("image_id,PredictionString\n"
                               "c,8 1.0 10.1 10.2 50.3 50.4 8 1.0 12.7 11.9 52.1 49.3\nd,14 1.0 0.0 0.0 1.0 1.0\n")
    # fuse's own output read back: exporting it fused again gives the same boxes, unchanged.
    fused = tmp_path / "fused.csv"
    run("fuse", "--annotations", train, "-o", fused)
    again = tmp_path / "again.csv"
    run("fuse", "--annotations", fused, "-o", again)
    assert again.read_text() == fused.read_text()  # boxes, scores and labels as written
    t = vindr.Annotations(fused).targets("fused")
    boxed = [r for r in rows(fused.read_text()) if r["x_min"]]
    assert t["scores"].tolist() == [float(r["score"]) for r in boxed]
    sub2 = tmp_path / "sub2.csv"
    run("export", "submission", "--annotations", fused, "--boxes", "fused", "-o", sub2)
    assert "two,8 0.6666666666666666 728.45 99.25 802.9 205.575" in sub2.read_text()


def test_a_perfect_fused_submission_scores_exactly_one(train, tmp_path):
    sub = tmp_path / "perfect.csv"
    run("export", "submission", "--annotations", train, "--boxes", "fused", "-o", sub)
    text = sub.read_text()
    assert "nf,14 1.0 0.0 0.0 1.0 1.0\n" in text and "split,\n" in text
    result = vindr.evaluate(train, sub, gt_readers="fused")
    assert result["mAP"] == 1.0 and set(result["ap"].values()) == {1.0}
    assert result["gt_counts"] == {"No finding": 1, NODULE: 1, CARDIO: 2}
    doc = run("eval", "--gt", train, "--pred", sub, "--gt-readers", "fused", "--json").stdout
    assert '"mAP":1' in doc.replace(" ", "") or '"mAP":1.0' in doc.replace(" ", "")
    # The same with any reader's vote: every label's boxes count.
    sub1 = tmp_path / "perfect1.csv"
    run("export", "submission", "--annotations", train, "--boxes", "fused", "--min-votes", "1", "-o", sub1)
    assert vindr.evaluate(train, sub1, gt_readers="fused", min_votes=1)["mAP"] == 1.0
    # The 2-vote answer against the 1-vote truth misses the split image's boxes and the aortic one:
    # nodule 1 of 2 found, cardiomegaly 2 of 3, aortic enlargement 0 of 1 (hand-computed APs).
    result = vindr.evaluate(train, sub, gt_readers="fused", min_votes=1)
    assert result["ap"] == {"No finding": 1.0, AORTIC: 0.0, NODULE: 0.5, CARDIO: pytest.approx(2 / 3)}


def test_perfect_fused_submission_on_the_real_train_csv(tmp_path):
    from test_annotations import CACHE

    csv_path = CACHE / "vinbigdata-train.csv"
    if not csv_path.exists():
        pytest.skip("real train.csv not cached")
    sub = tmp_path / "perfect.csv"
    vindr.Annotations(csv_path).export("submission", sub, mode="fused")
    result = vindr.evaluate(csv_path, sub, gt_readers="fused")
    assert result["mAP"] == 1.0 and set(result["ap"].values()) == {1.0}


def test_eval_refuses_a_submission_missing_images(train, tmp_path):
    sub = tmp_path / "partial.csv"
    sub.write_text("image_id,PredictionString\ntwo,8 0.9 728 99 803 205\n")
    bad = run("eval", "--gt", train, "--pred", sub, "--gt-readers", "fused", check=False)
    assert bad.returncode == 1
    assert "no row for 3 of 4 ground-truth images" in bad.stderr
    assert all(image in bad.stderr for image in ("nf", "apart", "split"))
    with pytest.raises(vindr.InvalidArgumentError, match="no row for 3 of 4 ground-truth images: nf, apart, split"):
        vindr.evaluate(train, sub, gt_readers="fused")
    with pytest.raises(vindr.InvalidArgumentError, match="missing must be"):
        vindr.evaluate(train, sub, gt_readers="fused", missing="drop")
    # Scored as empty: the nodule is found (AP 1), cardiomegaly and "No finding" are not (AP 0).
    result = vindr.evaluate(train, sub, gt_readers="fused", missing="empty")
    assert result["ap"] == {"No finding": 0.0, NODULE: 1.0, CARDIO: 0.0} and result["mAP"] == pytest.approx(1 / 3)
    ok = run("eval", "--gt", train, "--pred", sub, "--gt-readers", "fused", "--missing", "empty")
    assert "(4 images, 3 without a row" in ok.stdout
    # Left out: only "two" is scored, and its nodule is found.
    result = vindr.evaluate(train, sub, gt_readers="fused", missing="skip")
    assert result["ap"] == {NODULE: 1.0} and result["mAP"] == 1.0
    skipped = run("eval", "--gt", train, "--pred", sub, "--gt-readers", "fused", "--missing", "skip")
    assert "(1 images, 3 without a row left out" in skipped.stdout
    assert run("eval", "--gt", train, "--pred", sub, "--missing", "drop", check=False).returncode == 64
    for command in (["fuse"], ["export", "submission"], ["eval", "--pred", sub, "--gt-readers", "fused"]):
        flag = "--gt" if command[0] == "eval" else "--annotations"
        assert run(*command, flag, train, "--min-votes", "0", check=False).returncode == 64, command


def test_dataset_targets_follow_the_same_rules(tmp_path):
    from test_dataset import by_image, source_boxes

    root = tmp_path / "sample"
    vindr.write_sample(root, train=2, test=1, size=256, seed=2)
    first, second = vindr.Annotations(root / "annotations" / "annotations_train.csv").image_ids[:2]
    csv_path = root / "disagreeing.csv"
    csv_path.write_text(f"""image_id,rad_id,class_name,x_min,y_min,x_max,y_max
{first},R1,No finding,,,,
{first},R2,No finding,,,,
{first},R3,{NODULE},10,10,50,50
{second},R1,{NODULE},72.7,10.1,80.3,20.9
{second},R2,{NODULE},73.2,9.8,80.5,21.25
{second},R3,{AORTIC},100.5,30.25,120.75,50.125
""")
    ann = vindr.Annotations(csv_path)
    names = [label.name for label in vindr.LABELS]
    for votes in (2, 1):
        fused = ann.targets("fused", iou_thr=0.4, min_votes=votes)
        loader = vindr.Loader(vindr.Dataset(root, ann, policy="fused", iou_thr=0.4, global_min_votes=votes), 256,
                              batch_size=2, shuffle=False)
        targets = by_image(loader)
        assert len(targets[first]["labels"]) == 0  # "No finding" by majority: R3's nodule is left out
        assert [names[k] for k in np.flatnonzero(targets[first]["global_labels"])] == ["No finding"]
        mask = fused["image"] == ann.image_ids.index(second)
        np.testing.assert_allclose(sorted(map(tuple, source_boxes(targets[second]))), sorted(map(tuple, fused["boxes"][mask])),
                                   atol=1e-2)
        expected = [NODULE] if votes == 2 else [AORTIC, NODULE]
        assert sorted(names[k] for k in targets[second]["labels"]) == expected
        assert sorted(names[k] for k in np.flatnonzero(targets[second]["global_labels"])) == expected
