"""The taxonomy, CSV readers, dataset index, consensus and statistics, checked against pandas
computations on the real Kaggle VinBigData train.csv and against hand-made files."""
from __future__ import annotations

import gzip
import itertools
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import pytest

import vindr

CACHE = pathlib.Path(os.environ.get("VINDR_TEST_CACHE", pathlib.Path.home() / ".cache" / "vindr-tests"))
WHEEL = "torchxrayvision==1.5.7"


@pytest.fixture(scope="session")
def kaggle_train_csv() -> pathlib.Path:
    """The Kaggle VinBigData train.csv (67,914 rows) shipped inside torchxrayvision's wheel,
    downloaded from PyPI once into the cache directory ($VINDR_TEST_CACHE)."""
    csv = CACHE / "vinbigdata-train.csv"
    if csv.exists():
        return csv
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", tmp],
                           check=True, timeout=600, capture_output=True)
        except (subprocess.SubprocessError, OSError) as e:
            pytest.skip(f"cannot download {WHEEL} from PyPI for the real train.csv: {e}")
        wheel = next(pathlib.Path(tmp).glob("torchxrayvision-*.whl"))
        with zipfile.ZipFile(wheel) as z, z.open("torchxrayvision/data/vinbigdata-train.csv.gz") as f:
            data = gzip.decompress(f.read())
        partial = csv.with_suffix(".part")
        partial.write_bytes(data)
        shutil.move(partial, csv)
    return csv


@pytest.fixture(scope="session")
def train_df(kaggle_train_csv):
    pd = pytest.importorskip("pandas")
    return pd.read_csv(kaggle_train_csv)


@pytest.fixture(scope="session")
def train_index(kaggle_train_csv):
    return vindr.Annotations(kaggle_train_csv)


def write(tmp_path, name, text, newline="\n", bom=False):
    p = tmp_path / name
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.replace("\n", newline).encode())
    return p


# Table 2 of the VinDr-CXR paper: the 22 local then 6 global labels, exact spellings.
PAPER_LABELS = ["Aortic enlargement", "Atelectasis", "Calcification", "Cardiomegaly", "Clavicle fracture",
                "Consolidation", "Edema", "Emphysema", "Enlarged PA", "ILD", "Infiltration", "Lung Opacity",
                "Lung cavity", "Lung cyst", "Mediastinal shift", "Nodule/Mass", "Pleural effusion",
                "Pleural thickening", "Pneumothorax", "Pulmonary fibrosis", "Rib fracture", "Other lesion", "COPD",
                "Lung tumor", "Pneumonia", "Tuberculosis", "Other diseases", "No finding"]


def test_taxonomy():
    assert [l.name for l in vindr.LABELS] == PAPER_LABELS
    assert [l.kind for l in vindr.LABELS] == ["local"] * 22 + ["global"] * 6
    assert vindr.label("Other disease").name == "Other diseases"
    assert vindr.label("LUNG OPACITY").name == "Lung Opacity"
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.label("Fracture")


def test_kaggle_class_ids_match_the_file(train_df):
    pairs = train_df[["class_id", "class_name"]].drop_duplicates().sort_values("class_id")
    assert [c.name for c in vindr.KAGGLE_CLASSES] == list(pairs.class_name)
    assert [c.kaggle_class_id for c in vindr.KAGGLE_CLASSES] == list(pairs.class_id)


def test_index_matches_pandas(train_index, train_df):
    df = train_df
    assert train_index.layouts == ["kaggle_train"]
    assert len(train_index) == df.image_id.nunique()
    assert train_index.image_ids == list(dict.fromkeys(df.image_id))
    assert train_index.readers == sorted(df.rad_id.unique(), key=lambda r: int(r[1:]))
    t = train_index.targets("all")
    boxes = df.dropna(subset=["x_min"])
    assert len(t["boxes"]) == len(boxes)
    # Same multiset of (image, reader, label, box) rows.
    ids = {k: i for i, k in enumerate(train_index.image_ids)}
    readers = train_index.readers
    names = [l.name for l in vindr.LABELS]
    ours = sorted(zip(t["image"].tolist(), [readers[r] for r in t["readers"]], [names[l] for l in t["labels"]],
                      map(tuple, t["boxes"].tolist())))
    theirs = sorted(zip(boxes.image_id.map(ids), boxes.rad_id, boxes.class_name,
                        map(tuple, boxes[["x_min", "y_min", "x_max", "y_max"]].to_numpy().tolist())))
    assert ours == theirs


def test_majority_and_any_counts_match_pandas(train_index, train_df):
    votes = train_df.groupby(["image_id", "class_name"]).rad_id.nunique()
    majority = (votes >= 2).groupby("class_name").sum()
    any_reader = votes.groupby("class_name").size()
    stats = train_index.statistics()
    assert stats["images"] == train_df.image_id.nunique()
    assert stats["rows"] == len(train_df)
    for name, s in stats["labels"].items():
        assert s["majority"] == int(majority.get(name, 0)), name
        assert s["any"] == int(any_reader.get(name, 0)), name
        assert s["percent"] == pytest.approx(100 * s["majority"] / stats["images"])
    per_reader = train_df.groupby("rad_id").size()
    assert {r: v["rows"] for r, v in stats["readers"].items()} == per_reader.to_dict()
    # The label matrix agrees with the same vote.
    labels = train_index.labels(min_votes=2)
    col = [l.name for l in vindr.LABELS].index("Cardiomegaly")
    assert labels[:, col].sum() == majority["Cardiomegaly"]
    assert train_index.labels(min_votes=1)[:, col].sum() == any_reader["Cardiomegaly"]
    only_r8 = train_index.labels(min_votes=1, reader="R8")[:, col].sum()
    assert only_r8 == train_df[(train_df.rad_id == "R8") & (train_df.class_name == "Cardiomegaly")].image_id.nunique()


def fleiss_kappa(table: np.ndarray) -> float:
    """Fleiss (1971) from a subjects x categories count table (textbook formula)."""
    n = table.sum(axis=1)[0]
    p_j = table.sum(axis=0) / table.sum()
    p_i = ((table ** 2).sum(axis=1) - n) / (n * (n - 1))
    p_bar, p_e = p_i.mean(), (p_j ** 2).sum()
    return (p_bar - p_e) / (1 - p_e)


def test_fleiss_kappa_matches_textbook_formula(train_index, train_df):
    stats = train_index.statistics()
    readers_per_image = train_df.groupby("image_id").rad_id.nunique()
    assert stats["kappa_readers"] == 3 and stats["kappa_images"] == int((readers_per_image == 3).sum())
    images = readers_per_image[readers_per_image == 3].index
    for name in ["Cardiomegaly", "Nodule/Mass", "Pneumothorax"]:
        yes = (train_df[train_df.class_name == name].groupby("image_id").rad_id.nunique()
               .reindex(images, fill_value=0).to_numpy())
        table = np.stack([yes, 3 - yes], axis=1)
        assert stats["labels"][name]["fleiss_kappa"] == pytest.approx(fleiss_kappa(table), abs=1e-12)


def test_inter_reader_box_f1_matches_independent_matching(train_index, train_df):
    name = "Pneumothorax"
    matched = total = 0
    df = train_df[train_df.class_name != "No finding"]
    for image_id, g in train_df.groupby("image_id"):
        readers = sorted(g.rad_id.unique())
        for a, b in itertools.combinations(readers, 2):
            A = df[(df.image_id == image_id) & (df.rad_id == a) & (df.class_name == name)][["x_min", "y_min", "x_max", "y_max"]].to_numpy() if name in set(g.class_name) else np.zeros((0, 4))
            B = df[(df.image_id == image_id) & (df.rad_id == b) & (df.class_name == name)][["x_min", "y_min", "x_max", "y_max"]].to_numpy() if name in set(g.class_name) else np.zeros((0, 4))
            if len(A) + len(B) == 0:
                continue
            total += len(A) + len(B)
            iou = vindr.box_iou(A, B) if len(A) and len(B) else np.zeros((len(A), len(B)))
            used_a, used_b = set(), set()
            for _, i, j in sorted(((-iou[i, j], i, j) for i in range(len(A)) for j in range(len(B)) if iou[i, j] > 0.4)):
                if i not in used_a and j not in used_b:
                    used_a.add(i), used_b.add(j)
                    matched += 1
    assert train_index.statistics()["labels"][name]["box_f1"] == pytest.approx(2 * matched / total, abs=1e-12)


def test_per_image_boxes_equal_pandas_groupby_for_every_image(train_index, train_df):
    """`boxes(image_id)` of all 15,000 images equals the image's CSV rows (pandas groupby as the
    oracle); the per-image lookup reuses one table, so the loop is one targets call plus O(1)
    per image."""
    df = train_df.dropna(subset=["x_min"])
    names = [l.name for l in vindr.LABELS]
    readers = train_index.readers
    groups = dict(tuple(df.groupby("image_id", sort=False)))
    for image_id in train_index.image_ids:
        ours = train_index.boxes(image_id)
        g = groups.get(image_id)
        theirs = np.zeros((0, 6)) if g is None else np.column_stack([
            [names.index(c) for c in g.class_name], [readers.index(r) for r in g.rad_id],
            g[["x_min", "y_min", "x_max", "y_max"]].to_numpy()])
        mine = np.column_stack([ours["labels"], ours["readers"], ours["boxes"]]).reshape(-1, 6)
        assert len(mine) == len(theirs), image_id
        np.testing.assert_array_equal(mine[np.lexsort(mine.T[::-1])], theirs[np.lexsort(theirs.T[::-1])])
    # Another set of arguments gets its own table, equal to filtering the full targets.
    t = train_index.targets("fused", iou_thr=0.5)
    i = 7
    sel = t["image"] == i
    fused = train_index.boxes(train_index.image_ids[i], "fused", iou_thr=0.5)
    np.testing.assert_array_equal(fused["boxes"], t["boxes"][sel])
    np.testing.assert_array_equal(fused["labels"], t["labels"][sel])
    with pytest.raises(vindr.InvalidArgumentError, match="unknown image_id"):
        train_index.boxes("not-an-image")


def test_boxes_see_files_added_later(tmp_path):
    header = "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\n"
    a = write(tmp_path, "a.csv", header + "img1,Cardiomegaly,3,R1,10,20,30,40\n")
    b = write(tmp_path, "b.csv", header + "img1,Cardiomegaly,3,R2,11,21,31,41\nimg2,Nodule/Mass,8,R2,1,2,3,4\n")
    ann = vindr.Annotations(a)
    assert len(ann.boxes("img1")["boxes"]) == 1
    assert "img2" not in ann
    ann.add(b)
    assert len(ann.boxes("img1")["boxes"]) == 2 and "img2" in ann
    np.testing.assert_array_equal(ann.boxes("img2")["boxes"], [[1, 2, 3, 4]])


def test_fused_targets_match_ensemble_boxes(train_index, train_df):
    eb = pytest.importorskip("ensemble_boxes")
    import warnings
    t = train_index.targets("fused", iou_thr=0.4)
    ids = train_index.image_ids
    df = train_df.dropna(subset=["x_min"])
    names = [l.name for l in vindr.LABELS]
    for image_id, g in list(df.groupby("image_id", sort=False))[:300]:
        i = ids.index(image_id)
        scale = 4096.0
        boxes, scores, labels = [], [], []
        # Each reader of the image is one model, in order of first appearance in the file; a
        # reader without boxes still counts (it lowers the fused score). Only labels that at least
        # 2 readers gave are fused (the consensus rules; "No finding" is never drawn here).
        readers = train_df[train_df.image_id == image_id]
        votes = readers.groupby("class_name").rad_id.nunique()
        held = set(votes[votes >= 2].index)
        for reader in readers.rad_id.unique():
            r = g[(g.rad_id == reader) & g.class_name.isin(held)]
            boxes.append(r[["x_min", "y_min", "x_max", "y_max"]].to_numpy().reshape(-1, 4) / scale)
            scores.append(np.ones(len(r)))
            labels.append(np.array([names.index(c) for c in r.class_name], dtype=float))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            eb_boxes, eb_scores, eb_labels = eb.weighted_boxes_fusion(boxes, scores, labels, iou_thr=0.4)
        sel = t["image"] == i
        ours = np.column_stack([t["labels"][sel], t["scores"][sel], t["boxes"][sel] / scale])
        theirs = np.column_stack([eb_labels, eb_scores, eb_boxes])
        ours, theirs = ours[np.lexsort(ours.T[::-1])], theirs[np.lexsort(theirs.T[::-1])]
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-6)  # theirs: float32 fused coordinates


def test_csv_dialects(tmp_path):
    text = ('image_id,rad_id,class_name,x_min,y_min,x_max,y_max\n'
            '"a",R1,"Nodule/Mass",1,2,3,4\n'
            'a,R2,"Other lesion", 1.5 ,2,3,4\n'
            '\n'
            'b,R1,No finding,,,,\n')
    results = []
    for newline, bom in [("\n", False), ("\r\n", True)]:
        ann = vindr.Annotations(write(tmp_path, f"x{len(results)}.csv", text, newline, bom))
        assert ann.image_ids == ["a", "b"]
        t = ann.targets("all")
        results.append((t["boxes"].tolist(), t["labels"].tolist()))
    assert results[0] == results[1] == ([[1, 2, 3, 4], [1.5, 2, 3, 4]], [15, 21])


def test_csv_errors_name_file_line_and_column(tmp_path):
    p = write(tmp_path, "bad.csv", "image_id,rad_id,class_name,x_min,y_min,x_max,y_max\na,R1,ILD,1,2,3,4\na,R1,ILD,1,2,oops,4\n")
    with pytest.raises(vindr.CSVFormatError, match=r"bad\.csv:3: column x_max"):
        vindr.Annotations(p)
    p = write(tmp_path, "labels.csv", "image_id,rad_id,Cardiomegaly,No finding\na,R1,0,2\n")
    with pytest.raises(vindr.CSVFormatError, match=r"labels\.csv:2: column No finding"):
        vindr.Annotations(p)
    with pytest.raises(vindr.CSVFormatError, match="unrecognised header|not a VinDr-CXR label"):
        vindr.Annotations(write(tmp_path, "other.csv", "image_id,foo,bar\n"))
    # Ids that are not UTF-8 are refused (a lossy decoding used to split one reader in two when a
    # large file was read in halves).
    bad = tmp_path / "utf8.csv"
    bad.write_bytes(b"image_id,rad_id,class_name,x_min,y_min,x_max,y_max\na,R1,No finding,,,,\na,R\xff2,No finding,,,,\n")
    with pytest.raises(vindr.CSVFormatError, match=r"utf8\.csv:3: column rad_id: rad_id is not valid UTF-8"):
        vindr.Annotations(bad)
    bad.write_bytes(b"image_id,rad_id,class_name,x_min,y_min,x_max,y_max\n\xc3,R1,No finding,,,,\n")
    with pytest.raises(vindr.CSVFormatError, match=r"utf8\.csv:2: column image_id: image_id is not valid UTF-8"):
        vindr.Annotations(bad)
    # A file that cannot be opened is an I/O error (an OSError), not a format error.
    with pytest.raises(vindr.VinDrIOError, match=r"missing\.csv: cannot open") as e:
        vindr.Annotations(tmp_path / "missing.csv")
    assert isinstance(e.value, OSError)


def test_physionet_layouts_and_consensus(tmp_path):
    header = "image_id,rad_id," + ",".join(PAPER_LABELS)
    row = lambda img, r, on: f"{img},{r}," + ",".join("1" if n in on else "0" for n in PAPER_LABELS)  # noqa: E731
    train = write(tmp_path, "image_labels_train.csv", "\n".join(
        [header, row("a", "R1", {"COPD"}), row("a", "R2", {"COPD", "Pneumonia"}), row("a", "R3", set())]))
    test_header = "image_id," + ",".join(n if n != "Other diseases" else "Other disease" for n in PAPER_LABELS)
    test = write(tmp_path, "image_labels_test.csv", test_header + "\nb," + ",".join(
        "1" if n == "Other diseases" else "0" for n in PAPER_LABELS))
    ann = vindr.Annotations(train, test)
    assert ann.layouts == ["image_labels", "consensus_image_labels"]
    grown = vindr.Annotations.empty()
    assert len(grown) == 0 and grown.add(train) == "image_labels" and grown.add(test) == "consensus_image_labels"
    np.testing.assert_array_equal(grown.labels(), ann.labels())
    labels = ann.labels(min_votes=2)
    assert [PAPER_LABELS[k] for k in np.flatnonzero(labels[0])] == ["COPD"]
    assert [PAPER_LABELS[k] for k in np.flatnonzero(labels[1])] == ["Other diseases"]
    assert [PAPER_LABELS[k] for k in np.flatnonzero(ann.labels(min_votes=1, exclude=["R1"])[0])] == ["COPD", "Pneumonia"]
    qc = ann.quality_issues()
    assert qc["counts"]["no_image_label"] == 1
    assert qc["issues"][0]["rows"] == [f"{train}:4"]


def test_quality_rules(tmp_path):
    p = write(tmp_path, "qc.csv", "\n".join([
        "image_id,rad_id,class_name,x_min,y_min,x_max,y_max",
        "a,R1,No finding,,,,", "a,R1,Nodule/Mass,5,5,10,10",
        "a,R2,Nodule/Mass,-1,5,5,5", "a,R2,Nodule/Mass,-1,5,5,5", "a,R3,Atelectasis,1,1,900,900"]))
    ann = vindr.Annotations(p)
    ann.set_image_size("a", 800, 1000)
    counts = ann.quality_issues()["counts"]
    assert counts == {"lesion_with_no_finding": 1, "no_image_label": 0, "reversed_corners": 0, "degenerate_box": 2,
                      "out_of_image": 3, "duplicate_row": 1, "missing_box": 0, "box_on_global_label": 0,
                      "no_global_label": 0, "train_reader_count": 0, "test_reading_count": 0}


# Hand-planted violations of the paper's labeling rules and of the dataset's shape. Line numbers
# are the CSV lines (header = 1); the expected flags below were counted by hand.
QC_ANNOTATIONS_TRAIN = """image_id,rad_id,class_name,x_min,y_min,x_max,y_max
t1,R1,Nodule/Mass,10,10,20,20
t1,R2,Cardiomegaly,30,30,80,60
t1,R3,No finding,,,,
t2,R4,Aortic enlargement,5,5,15,15
t2,R5,No finding,,,,
t2,R6,Pleural effusion,1,1,9,9
t3,R1,No finding,,,,
t3,R2,No finding,,,,
t4,R1,No finding,,,,
t4,R2,No finding,,,,
t4,R3,No finding,,,,
t4,R4,No finding,,,,
t5,R7,Consolidation,40,40,60,60
t5,R8,No finding,,,,
t5,R9,No finding,,,,
t6,R1,No finding,,,,
t6,R2,No finding,,,,
t6,R3,No finding,,,,
c3,R10,No finding,,,,
"""
# image_labels_train.csv rows: (image, reader, labels ticked); no row for t5/R7 nor c3/R10.
QC_IMAGE_LABELS_TRAIN = [
    ("t1", "R1", {"Nodule/Mass", "Lung tumor"}),        # line 2: fine
    ("t1", "R2", {"Cardiomegaly"}),                     # line 3: box, no global label
    ("t1", "R3", {"No finding"}),                       # line 4
    ("t2", "R4", {"Aortic enlargement", "No finding"}),  # line 5: lesion with No finding
    ("t2", "R5", {"No finding"}),                       # line 6
    ("t2", "R6", {"Pleural effusion", "Other diseases"}),  # line 7: fine
    ("t3", "R1", {"No finding"}), ("t3", "R2", {"No finding"}),  # lines 8-9: t3 has 2 readers
    ("t4", "R1", {"No finding"}), ("t4", "R2", {"No finding"}),  # lines 10-13: t4 has 4 readers
    ("t4", "R3", {"No finding"}), ("t4", "R4", {"No finding"}),
    ("t5", "R8", {"No finding"}), ("t5", "R9", {"No finding"}),  # lines 14-15 (t5/R7: box, no row)
    ("t6", "R1", {"No finding", "Pneumonia"}),          # line 16: No finding with a global label
    ("t6", "R2", {"No finding"}), ("t6", "R3", {"No finding"}),  # lines 17-18
]
QC_ANNOTATIONS_TEST = """image_id,class_name,x_min,y_min,x_max,y_max
c1,Nodule/Mass,10,10,20,20
c2,No finding,,,,
c3,No finding,,,,
"""
QC_IMAGE_LABELS_TEST = [("c1", {"Nodule/Mass"}), ("c2", {"No finding"}), ("c3", {"No finding"})]  # c1: no global
QC_EXPECTED = {
    "no_global_label": [("t1", "R2"), ("t5", "R7"), ("c1", None)],
    "lesion_with_no_finding": [("t2", "R4"), ("t6", "R1")],
    "train_reader_count": [("t3", None), ("t4", None)],
    "test_reading_count": [("c3", None)],
}


def qc_fixture(tmp_path) -> list[pathlib.Path]:
    header = "image_id,rad_id," + ",".join(PAPER_LABELS)
    labels_train = "\n".join([header] + [f"{i},{r}," + ",".join("1" if n in on else "0" for n in PAPER_LABELS)
                                         for i, r, on in QC_IMAGE_LABELS_TRAIN])
    test_header = "image_id," + ",".join(n if n != "Other diseases" else "Other disease" for n in PAPER_LABELS)
    labels_test = "\n".join([test_header] + [f"{i}," + ",".join("1" if n in on else "0" for n in PAPER_LABELS)
                                             for i, on in QC_IMAGE_LABELS_TEST])
    return [write(tmp_path, "annotations_train.csv", QC_ANNOTATIONS_TRAIN),
            write(tmp_path, "image_labels_train.csv", labels_train + "\n"),
            write(tmp_path, "annotations_test.csv", QC_ANNOTATIONS_TEST),
            write(tmp_path, "image_labels_test.csv", labels_test + "\n")]


def test_quality_rules_of_the_paper_on_planted_files(tmp_path):
    files = qc_fixture(tmp_path)
    qc = vindr.Annotations(*files).quality_issues()
    flagged = {rule: [(i["image_id"], i["rad_id"]) for i in qc["issues"] if i["rule"] == rule] for rule in QC_EXPECTED}
    assert flagged == QC_EXPECTED
    assert {rule: n for rule, n in qc["counts"].items() if n} == {rule: len(v) for rule, v in QC_EXPECTED.items()}
    assert qc["reader_count"] == 10 and qc["reader_ids"] == [f"R{k}" for k in range(1, 11)]
    ann, labels, ann_test, labels_test = files
    rows = {(i["rule"], i["image_id"], i["rad_id"]): i["rows"] for i in qc["issues"]}
    assert rows["no_global_label", "t1", "R2"] == [f"{ann}:3", f"{labels}:3"]
    assert rows["no_global_label", "t5", "R7"] == [f"{ann}:14"]
    assert rows["no_global_label", "c1", None] == [f"{ann_test}:2", f"{labels_test}:2"]
    assert rows["train_reader_count", "t3", None] == [f"{ann}:8", f"{ann}:9"]
    assert rows["test_reading_count", "c3", None] == [f"{ann}:20", f"{ann_test}:4"]
    # Without the image_labels files, global labels other than "No finding" are unknown: the
    # no_global_label rule is not applied; the others still are.
    alone = vindr.Annotations(ann, ann_test).quality_issues()
    assert alone["counts"]["no_global_label"] == 0 and alone["counts"]["train_reader_count"] == 2
    assert alone["counts"]["test_reading_count"] == 1 and alone["counts"]["lesion_with_no_finding"] == 0


def test_quality_shape_of_the_kaggle_release(train_index):
    """The released training set: 3 readers per image, 17 readers R1 to R17."""
    qc = train_index.quality_issues()
    assert qc["counts"]["train_reader_count"] == 0 and qc["counts"]["test_reading_count"] == 0
    assert qc["reader_count"] == 17 and qc["reader_ids"] == [f"R{k}" for k in range(1, 18)]
