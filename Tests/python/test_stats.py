"""`vindr stats` as the paper's Table 2 and Figure 4, checked against independent oracles: pydicom
reads the DICOM headers for the collection rows, pandas counts the label rows from the CSVs, the
SVG is parsed with xml.etree and the PNG decoded with OpenCV. Also: files that are not DICOM at all."""
from __future__ import annotations

import json
import re
import pathlib
import shutil
import statistics
import subprocess
import warnings
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pandas as pd
import pydicom
import pytest

import vindr

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"

# Table 2's rows in the paper's numbering (Methods, "Data labeling"), spelled as in the CSVs.
PAPER_ORDER = ["Aortic enlargement", "Atelectasis", "Cardiomegaly", "Calcification", "Clavicle fracture",
               "Consolidation", "Edema", "Emphysema", "Enlarged PA", "ILD", "Infiltration", "Lung cavity", "Lung cyst",
               "Lung Opacity", "Mediastinal shift", "Nodule/Mass", "Pulmonary fibrosis", "Pneumothorax",
               "Pleural thickening", "Pleural effusion", "Rib fracture", "Other lesion", "Lung tumor", "Pneumonia",
               "Tuberculosis", "Other diseases", "COPD", "No finding"]
LOCAL = set(PAPER_ORDER[:22])


def run(*args, check=True):
    out = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(out.stderr)
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """The built-in sample, its training folder varied so that every collection row has work:
    other image sizes, ages in months, weeks and days, missing and invalid ages, sex O and
    missing, and one truncated file."""
    root = tmp_path_factory.mktemp("stats")
    sample = root / "sample"
    vindr.write_sample(sample, train=12, test=5, size=128, seed=3)
    other = root / "other"
    vindr.write_sample(other, train=12, test=0, size=96, seed=4)
    for f in sorted((other / "train").glob("*.dicom")):
        shutil.copy(f, sample / "train" / f.name)
    files = sorted((sample / "train").glob("*.dicom"))
    edits = [("PatientAge", "006M"), ("PatientAge", "010W"), ("PatientAge", "020D"), ("PatientAge", None),
             ("PatientAge", ""), ("PatientAge", "abc"), ("PatientSex", "O"), ("PatientSex", None), ("PatientSex", "")]
    for f, (keyword, value) in zip(files, edits):
        ds = pydicom.dcmread(f)
        with warnings.catch_warnings():  # "abc" is meant to be an invalid Age String
            warnings.simplefilter("ignore")
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
            ds.save_as(f)
    truncated = sample / "train" / "truncated.dicom"
    truncated.write_bytes(files[-1].read_bytes()[:200])
    ann = sample / "annotations"
    return {"root": sample, "train": [ann / "annotations_train.csv", ann / "image_labels_train.csv"],
            "test": [ann / "annotations_test.csv", ann / "image_labels_test.csv"]}


def stats_args(d, *extra):
    args = ["stats"]
    for f in d["train"]:
        args += ["--annotations", f]
    args += ["--images", d["root"] / "train"]
    for f in d["test"]:
        args += ["--test-annotations", f]
    return [*args, "--test-images", d["root"] / "test", *extra]


def years(age: str) -> float | None:
    """PS3.5 Table 6.2-1 Age String, nnnD/W/M/Y, in years."""
    age = age.strip()
    if len(age) < 2 or not age[:-1].isdigit() or age[-1] not in "DWMY":
        return None
    n = int(age[:-1])
    return {"Y": n, "M": n / 12, "W": n * 7 / 365.25, "D": n / 365.25}[age[-1]]


def collection_oracle(folder: pathlib.Path) -> dict:
    files = sorted(folder.glob("*.dicom"))
    rows, cols, ages, sexes, unreadable = [], [], [], [], 0
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
            r, c = int(ds.Rows), int(ds.Columns)
        except Exception:
            unreadable += 1
            continue
        rows.append(r)
        cols.append(c)
        a = years(str(ds.get("PatientAge", "") or ""))
        if a is not None:
            ages.append(a)
        sexes.append(str(ds.get("PatientSex", "") or ""))
    male, female = sexes.count("M"), sexes.count("F")
    return {"images": len(files), "median_rows": statistics.median(rows), "median_columns": statistics.median(cols),
            "median_age": statistics.median(ages), "ages_known": len(ages), "male": male, "female": female,
            "male_percent": 100 * male / (male + female), "female_percent": 100 * female / (male + female),
            "data_bytes": sum(f.stat().st_size for f in files), "unreadable": unreadable}


def label_oracle(paths) -> tuple[int, dict[str, int]]:
    """Images per label from the CSVs: each reader's labels are the ticked image-label columns and
    the annotation rows' classes; a label holds with >= 2 readers (No finding with a strict
    majority, and then alone), a consensus file (no rad_id) is the answer itself."""
    marked: dict[tuple[str, str], set[str]] = {}
    for p in paths:
        df = pd.read_csv(p)
        reader = df["rad_id"] if "rad_id" in df else pd.Series(["consensus"] * len(df))
        if "class_name" in df:
            for image, r, name in zip(df.image_id, reader, df.class_name):
                marked.setdefault((image, r), set()).add(name)
        else:
            cols = [c for c in df.columns if c not in ("image_id", "rad_id")]
            for i, (image, r) in enumerate(zip(df.image_id, reader)):
                ticks = {("Other diseases" if c == "Other disease" else c) for c in cols if df[c].iloc[i] == 1}
                marked.setdefault((image, r), set()).update(ticks)
    by_image: dict[str, list[set[str]]] = {}
    for (image, r), labels in marked.items():
        by_image.setdefault(image, []).append(labels)
    counts = dict.fromkeys(PAPER_ORDER, 0)
    for image, readings in by_image.items():
        if len(readings) == 1 and any(r == "consensus" for (i, r) in marked if i == image):
            held = readings[0]
        else:
            votes = {l: sum(l in r for r in readings) for l in PAPER_ORDER}
            held = {"No finding"} if 2 * votes["No finding"] > len(readings) else {l for l, v in votes.items() if v >= 2}
        for l in held:
            counts[l] += 1
    return len(by_image), counts


def test_collection_rows_match_pydicom(dataset):
    doc = json.loads(run(*stats_args(dataset, "--json")).stdout)
    text = run(*stats_args(dataset)).stdout
    for split, column in (("train", doc["collection"]), ("test", doc["test"]["collection"])):
        want = collection_oracle(dataset["root"] / split)
        got = column
        assert got["images"] == want["images"]
        assert len(got["unreadable"]) == want["unreadable"]
        assert (got["median_rows"], got["median_columns"]) == (want["median_rows"], want["median_columns"])
        assert got["median_age"] == pytest.approx(want["median_age"], abs=1e-12)
        assert got["ages_known"] == want["ages_known"]
        assert (got["male"], got["female"]) == (want["male"], want["female"])
        assert got["male_percent"] == pytest.approx(want["male_percent"], abs=1e-12)
        assert got["data_bytes"] == want["data_bytes"]
    train, test = collection_oracle(dataset["root"] / "train"), collection_oracle(dataset["root"] / "test")
    assert doc["collection"]["ages_missing"] == 2 and doc["collection"]["ages_invalid"] == 1
    assert doc["collection"]["other_sex"] == 1 and doc["collection"]["sex_missing"] == 2
    assert train["unreadable"] == 1 and train["median_rows"] != test["median_rows"]  # the fixture's variety took
    lines = {l.strip().split("  ")[0]: l for l in text.splitlines()}
    assert lines["Number of scans"].split()[-2:] == [str(train["images"]), str(test["images"])]
    assert lines["Age (years, median)*"].split()[-2:] == [f"{train['median_age']:.2f}", f"{test['median_age']:.2f}"]
    assert lines["Male (%)*"].split()[-2:] == [f"{train['male_percent']:.2f}", f"{test['male_percent']:.2f}"]
    assert lines["Female (%)*"].split()[-2:] == [f"{train['female_percent']:.2f}", f"{test['female_percent']:.2f}"]
    assert "Number of human annotators per scan" in lines and lines["Number of human annotators per scan"].split()[-3:] == ["3", "5", "(consensus)"]
    size = lines["Image size (pixel×pixel, median)"]
    assert f"{train['median_rows']:g} × {train['median_columns']:g}" in size
    gb = float(lines["Data size (GB)"].split()[-2])
    assert gb == pytest.approx(train["data_bytes"] / 1e9, rel=5e-3)


def test_label_rows_match_pandas_in_the_paper_order(dataset):
    doc = json.loads(run(*stats_args(dataset, "--json")).stdout)
    text = run(*stats_args(dataset)).stdout.splitlines()
    for key, column in (("train", doc), ("test", doc["test"])):
        n, counts = label_oracle(dataset[key])
        assert column["images"] == n
        rows = column["table2_labels"]
        assert [r["label"] for r in rows] == PAPER_ORDER
        assert [r["number"] for r in rows] == list(range(1, 29))
        for r in rows:
            assert r["count"] == counts[r["label"]], r
            assert r["percent_text"] == f"{100 * counts[r['label']] / n:.2f}"
    assert sum(label_oracle(dataset["train"])[1].values()) > 0 and sum(label_oracle(dataset["test"])[1].values()) > 0
    # The printed rows: numbered in the paper's order, count (two-decimal %) for train then test.
    n_train, train = label_oracle(dataset["train"])
    n_test, test = label_oracle(dataset["test"])
    label_lines = [l for l in text if re.match(r"\s+\d+\. .* \(%\)", l)]
    assert len(label_lines) == 28
    for i, (line, name) in enumerate(zip(label_lines, PAPER_ORDER)):
        assert line.strip().startswith(f"{i + 1}. {name} (%)")
        assert line.split("(%)")[1].split() == [str(train[name]), f"({100 * train[name] / n_train:.2f}%)",
                                                 str(test[name]), f"({100 * test[name] / n_test:.2f}%)"]
    assert text.index("Local labels") < text.index(label_lines[0]) and "Global labels" in text


def test_json_keeps_its_keys_and_footer_names_the_rule(dataset):
    ann = vindr.Annotations(*dataset["train"])
    old = ann.statistics()
    doc = json.loads(run("stats", "--annotations", dataset["train"][0], "--annotations", dataset["train"][1], "--json").stdout)
    for key in ("images", "rows", "boxes", "minimum_votes", "iou_threshold", "kappa_readers", "kappa_images", "labels", "readers"):
        assert doc[key] == old[key], key
    assert set(doc["labels"]["Cardiomegaly"]) >= {"kind", "kaggle_class_id", "majority", "percent", "any", "rows", "boxes",
                                                   "box_f1", "fleiss_kappa"}
    assert doc["collection"] is None and "test" not in doc
    text = run(*stats_args(dataset)).stdout
    assert "majority = at least" not in text
    assert "Training set: majority vote, at least 2 readers per label" in text
    assert "Test set: consensus labels" in text
    one = run(*stats_args(dataset, "--min-votes", "1")).stdout
    assert "at least 1 reader per label" in one
    consensus_only = run("stats", "--annotations", dataset["test"][0], "--annotations", dataset["test"][1]).stdout
    assert "labels: consensus labels" in consensus_only and "Test set" in consensus_only.splitlines()[0]


def test_label_rows_without_annotations_print_a_dash(dataset):
    text = run("stats", "--images", dataset["root"] / "train", "--test-images", dataset["root"] / "test").stdout
    row = next(l for l in text.splitlines() if l.strip().startswith("3. Cardiomegaly"))
    assert row.split("(%)")[1].split() == ["-", "-"]


def test_python_and_c_give_the_cli_output(dataset, tmp_path):
    train, test = vindr.Annotations(*dataset["train"]), vindr.Annotations(*dataset["test"])
    kwargs = dict(train_images=dataset["root"] / "train", test_images=dataset["root"] / "test")
    assert vindr.table2(train, test, **kwargs) == json.loads(run(*stats_args(dataset, "--json")).stdout)
    assert vindr.table2(train, test, format="text", **kwargs) + "\n" == run(*stats_args(dataset)).stdout
    run(*stats_args(dataset, "--plot", tmp_path / "cli.svg"))
    assert vindr.table2(train, test, format="svg") == (tmp_path / "cli.svg").read_text()
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.table2(train, format="csv")
    with pytest.raises(vindr.InvalidArgumentError, match="Figure 4 needs annotations"):
        vindr.table2(None, None, train_images=dataset["root"] / "test", format="svg")
    with pytest.raises(vindr.InvalidArgumentError, match=r"\.png or \.svg"):
        vindr.plot_label_distribution(tmp_path / "figure.pdf", train)


def svg_bars(path: pathlib.Path) -> list[dict]:
    ns = {"s": "http://www.w3.org/2000/svg"}
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iterfind(".//s:text", ns)]
    for i, name in enumerate(PAPER_ORDER):
        assert f"{i + 1}. {name}" in texts
    return [dict(r.attrib) for r in root.iterfind(".//s:rect", ns) if r.get("class") == "bar"], root


def test_figure4_svg_has_one_bar_per_label_proportional_to_counts(dataset, tmp_path):
    out = tmp_path / "figure4.svg"
    run(*stats_args(dataset, "--plot", out))
    bars, _ = svg_bars(out)
    for split, key in (("Training set", "train"), ("Test set", "test")):
        _, counts = label_oracle(dataset[key])
        panel = [b for b in bars if b["data-split"] == split]
        assert [b["data-label"] for b in panel] == PAPER_ORDER
        assert [int(b["data-count"]) for b in panel] == [counts[l] for l in PAPER_ORDER]
        top = max(counts.values())
        full = max(float(b["width"]) for b in panel)
        for b in panel:
            assert float(b["width"]) == pytest.approx(full * counts[b["data-label"]] / top, abs=1e-3)
        assert len({b["x"] for b in panel}) == 1
        assert {b["fill"] for b in panel if b["data-label"] in LOCAL} != {b["fill"] for b in panel if b["data-label"] not in LOCAL}


def test_figure4_png_bars_have_the_svg_lengths(dataset, tmp_path):
    train, test = vindr.Annotations(*dataset["train"]), vindr.Annotations(*dataset["test"])
    vindr.plot_label_distribution(tmp_path / "f.png", train, test)
    vindr.plot_label_distribution(tmp_path / "f.svg", train, test)
    bars, root = svg_bars(tmp_path / "f.svg")
    img = cv2.imread(str(tmp_path / "f.png"), cv2.IMREAD_COLOR)[:, :, ::-1]
    assert img.shape == (int(root.get("height")), int(root.get("width")), 3)
    white = np.array([255, 255, 255])
    assert len(bars) == 56
    for b in bars:
        x, y, h = int(b["x"]), int(b["y"]), int(b["height"])
        row = img[y + h // 2]
        run_length = 0
        while x + run_length < row.shape[0] and not (row[x + run_length] == white).all():
            run_length += 1
        assert run_length == round(float(b["width"])), b
        if run_length:
            colour = "#" + "".join(f"{v:02x}" for v in row[x])
            assert colour == b["fill"]
    counts = label_oracle(dataset["train"])[1]
    longest = max(counts, key=counts.get)
    assert round(float(next(b for b in bars if b["data-label"] == longest and b["data-split"] == "Training set")["width"])) > 0


# -- files that are not DICOM at all ---------------------------------------------------------------

NOT_DICOM = "not a DICOM file (no DICM prefix at byte 128)"


def test_files_without_the_dicm_prefix_are_not_dicom(tmp_path, corpus):
    readme = tmp_path / "README.dcm"
    readme.write_text("# A dataset\n\nThese are chest X-rays.\n" * 20)
    archive = tmp_path / "images.dcm"
    archive.write_bytes(b"PK\x03\x04\x14\x00\x00\x08" + bytes(range(256)) * 8)
    for f in (readme, archive):
        with pytest.raises(vindr.FormatError) as e:
            vindr.read_dicom(f)
        assert NOT_DICOM in e.value.message and str(f) in e.value.message
        assert "runs past the end" not in e.value.message
    # A truncated DICOM is still reported as truncated, not as "not DICOM".
    good = corpus["u12m2"]["explicit"].read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(vindr.VinDrError) as e:
        vindr.read_dicom(cut)
    assert NOT_DICOM not in e.value.message
    # A raw data set without preamble (group 0008 first) is not refused by the prefix rule.
    ds = pydicom.dcmread(corpus["u12m2"]["explicit"])
    raw = tmp_path / "raw.dcm"
    pydicom.filewriter.write_dataset(pydicom.filebase.DicomFileLike(open(raw, "wb")), ds)
    try:
        vindr.read_dicom(raw)
    except vindr.VinDrError as err:
        assert NOT_DICOM not in err.message


def test_deid_tree_lists_non_dicom_files_apart_from_failures(tmp_path, corpus):
    tree = tmp_path / "export"
    tree.mkdir()
    shutil.copy(corpus["u12m2"]["explicit"], tree / "image.dcm")
    (tree / "README").write_text("exported from PACS\n")
    (tree / "bundle.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (tree / "broken.dcm").write_bytes(corpus["u12m2"]["explicit"].read_bytes()[:700])
    out = run("deid", tree, tmp_path / "out", "--report-json", tmp_path / "report.json", "--min-size", "0", check=False)
    assert out.returncode == 1  # broken.dcm is a DICOM that failed
    assert "written 1, rejected 0, failed 1, not DICOM 2" in out.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    status = {pathlib.Path(f["input"]).name: f for f in report["files"]}
    assert status["README"]["status"] == "not_dicom" and NOT_DICOM in status["README"]["error"]
    assert status["bundle.zip"]["status"] == "not_dicom"
    assert status["broken.dcm"]["status"] == "failed" and NOT_DICOM not in status["broken.dcm"]["error"]
    assert status["image.dcm"]["status"] == "written"
    # Without the broken file the run succeeds: stray files are not failures.
    (tree / "broken.dcm").unlink()
    assert run("deid", tree, tmp_path / "out2", "--min-size", "0").returncode == 0
    # A non-DICOM file given as the input itself fails, with the same message.
    single = run("deid", tree / "README", tmp_path / "out3", check=False)
    assert single.returncode == 1 and NOT_DICOM in single.stderr


def test_cpp_wrappers_give_the_python_results(dataset, tmp_path):
    from test_abi import build

    exe = build(tmp_path, "stats_test.cpp", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror"])
    figure = tmp_path / "cpp.svg"
    out = subprocess.run([str(exe), *map(str, dataset["train"]), str(dataset["root"] / "train"), str(dataset["test"][1]),
                          str(figure)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "needs annotations or a DICOM folder" in out.stderr
    train, test = vindr.Annotations(*dataset["train"]), vindr.Annotations(dataset["test"][1])
    assert json.loads(out.stdout) == vindr.table2(train, test, train_images=dataset["root"] / "train")
    assert figure.read_text() == vindr.table2(train, test, format="svg")
