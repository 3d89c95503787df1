"""The `vindr` command line as a user runs it: output, files written, exit codes, messages."""
from __future__ import annotations

import json
import pathlib
import re
import subprocess
import tarfile

import cv2
import numpy as np
import pydicom
import pytest

import vindr

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"


def run(*args, check=True):
    out = subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(out.stderr)
    return out


def test_info_json_matches_pydicom(corpus):
    path = corpus["u12m1rescale"]["j2k90"]
    info = json.loads(run("info", "--json", path).stdout)
    ds = pydicom.dcmread(path)
    assert (info["rows"], info["columns"], info["bits_stored"]) == (ds.Rows, ds.Columns, ds.BitsStored)
    assert info["photometric_interpretation"] == "MONOCHROME1"
    assert info["transfer_syntax_uid"] == ds.file_meta.TransferSyntaxUID
    assert info["rescale_slope"] == 2.0 and info["windows"] == [[2000.0, 5000.0]]
    human = run("info", path).stdout
    assert "JPEG 2000 Lossless" in human and "2560 x 2304" in human


def test_info_error_names_the_file_and_exits_1(tmp_path):
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"not dicom at all")
    out = run("info", bad, check=False)
    assert out.returncode == 1
    assert "broken.dcm" in out.stderr


def test_render_tree_to_png_equals_python_render(corpus, tmp_path):
    src = tmp_path / "in" / "nested"
    src.mkdir(parents=True)
    for key in ("explicit", "rle"):
        (src / f"{key}.dicom").write_bytes(corpus["u12m2"][key].read_bytes())
    out = run("render", tmp_path / "in", "--out", tmp_path / "out", "--size", "300", "--workers", "2")
    assert "rendered 2 of 2" in out.stdout
    png = tmp_path / "out" / "nested" / "rle.png"
    img = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(img, vindr.read_dicom(corpus["u12m2"]["rle"]).render(size=300))


def test_render_usage_errors_exit_64():
    out = run("render", "x.dcm", "--out", "o", "--window", "bogus", check=False)
    assert out.returncode == 64 and "--window" in out.stderr


def test_decode_option_of_render_cache_and_bench(corpus, tmp_path):
    """--decode exact (the default) or fast, as decode= in Python; a cache records it."""
    src = tmp_path / "in"
    src.mkdir()
    (src / "j2k.dcm").write_bytes(corpus["edges12"]["j2k90"].read_bytes())
    im = vindr.read_dicom(src / "j2k.dcm")
    for mode in ("exact", "fast"):
        run("render", src, "--out", tmp_path / mode, "--size", "512", "--decode", mode)
        img = cv2.imread(str(tmp_path / mode / "j2k.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(img, im.render(size=512, decode=mode))
    run("render", src, "--out", tmp_path / "default", "--size", "512")
    assert (tmp_path / "default" / "j2k.png").read_bytes() == (tmp_path / "exact" / "j2k.png").read_bytes()
    run("cache", "build", src, "--out", tmp_path / "c", "--size", "128", "--decode", "fast")
    assert json.loads((tmp_path / "c" / "index.json").read_text())["settings"]["decode"] == "fast"
    assert "JPEG 2000" in run("bench", src, "--size", "256", "--passes", "1", "--decode", "fast").stdout
    for command in (["render", "x.dcm", "--out", "o"], ["cache", "build", "x.dcm", "--out", "o"], ["bench", "x.dcm"]):
        out = run(*command, "--decode", "bogus", check=False)
        assert out.returncode == 64 and "--decode" in out.stderr


def test_cache_build_is_resumable(corpus, tmp_path):
    src = tmp_path / "imgs"
    src.mkdir()
    for key in ("explicit", "j2k90"):
        (src / f"{key}.dcm").write_bytes(corpus["u8"][key].read_bytes())
    assert "2 rendered, 0 already cached" in run("cache", "build", src, "--out", tmp_path / "c", "--size", "128").stdout
    assert "0 rendered, 2 already cached" in run("cache", "build", src, "--out", tmp_path / "c", "--size", "128").stdout
    index = json.loads((tmp_path / "c" / "index.json").read_text())
    assert (index["samples"], [s["name"] for s in index["shards"]]) == (2, ["shard-00000.tar"])
    with tarfile.open(tmp_path / "c" / "shard-00000.tar") as t:
        assert t.getnames() == ["explicit.jpg", "explicit.json", "j2k90.jpg", "j2k90.json"]


def test_draw_writes_pictures_and_a_sheet(tmp_path):
    sample = tmp_path / "sample"
    run("sample", sample, "--train", "3", "--test", "1", "--size", "400")
    ann = sample / "annotations"
    out = run("draw", sample / "train", "--annotations", ann / "annotations_train.csv", "--annotations",
              ann / "image_labels_train.csv", "--boxes", "fused", "--size", "300", "--sheet", "2", "--out", tmp_path / "drawn")
    assert "drew 3 of 3" in out.stdout
    pictures = sorted((tmp_path / "drawn").glob("*.png"))
    assert len(pictures) == 4  # three images and the sheet
    one = cv2.imread(str(next(p for p in pictures if p.name != "sheet.png")))
    assert one.shape[1] == int(350 * 300 / 400 + 0.5) and one.shape[0] > 300 and one.shape[2] == 3
    sheet = cv2.imread(str(tmp_path / "drawn" / "sheet.png"))
    assert sheet.shape[1] == 2 * one.shape[1] and sheet.shape[0] == 2 * one.shape[0]
    bad = run("draw", sample / "train", "--annotations", tmp_path / "missing.csv", "--out", tmp_path / "x", check=False)
    assert bad.returncode == 1 and "missing.csv" in bad.stderr


def test_qc_flags_the_planted_rule_violations(tmp_path):
    from test_annotations import QC_EXPECTED, qc_fixture
    files = qc_fixture(tmp_path)
    args = [a for f in files for a in ("--annotations", f)]
    report = json.loads(run("qc", *args, "--json").stdout)
    assert report == vindr.Annotations(*files).quality_issues()
    text = run("qc", *args).stdout.splitlines()
    flagged: dict[str, list] = {}
    for line in text:
        m = re.match(r"^(.+): ([a-z_]+): image (\S+)(?: reader (\S+))?: (.+)$", line)
        if m and m.group(2) in QC_EXPECTED:
            reader = m.group(4)
            flagged.setdefault(m.group(2), []).append((m.group(3), None if reader in (None, "consensus") else reader))
    assert flagged == QC_EXPECTED
    for rule, hits in QC_EXPECTED.items():
        assert f"{rule}: {len(hits)}" in text
    assert "reader_count: 10 (R1, R2, R3, R4, R5, R6, R7, R8, R9, R10)" in text
    assert f"{files[0]}:8, {files[0]}:9: train_reader_count: image t3: 2 readers (R1, R2); a training image has 3" in text
    assert run("qc", *args, "--strict", check=False).returncode == 1


def test_built_in_sample_obeys_every_qc_rule(tmp_path):
    for seed in ("1", "5"):
        sample = tmp_path / f"sample{seed}"
        run("sample", sample, "--size", "96", "--seed", seed)
        files = [sample / "annotations" / f"{kind}_{split}.csv"
                 for kind in ("annotations", "image_labels") for split in ("train", "test")]
        args = [a for f in files for a in ("--annotations", f)]
        report = json.loads(run("qc", *args, "--images", sample, "--json", "--strict").stdout)
        assert report["issues"] == [] and set(report["counts"].values()) == {0}
        assert vindr.Annotations(*files).quality_issues()["issues"] == []
        assert 3 <= report["reader_count"] <= 17
        assert set(report["reader_ids"]) <= {f"R{k}" for k in range(1, 18)}
        text = run("qc", *args, "--strict").stdout.splitlines()
        assert len(text) == 1 and text[0].startswith(f"reader_count: {report['reader_count']} (")


def test_qc_reads_image_sizes_from_the_dicoms(tmp_path):
    sample = tmp_path / "sample"
    run("sample", sample, "--train", "2", "--test", "0", "--size", "256")
    csv = sample / "annotations" / "annotations_train.csv"
    image_id = next((sample / "train").glob("*.dicom")).stem
    with open(csv, "a") as f:
        f.write(f"{image_id},R99,Nodule/Mass,10,10,5000,20\n")
    out = json.loads(run("qc", "--annotations", csv, "--images", sample, "--json").stdout)
    outside = [i for i in out["issues"] if i["rule"] == "out_of_image"]
    assert [(i["image_id"], i["rad_id"]) for i in outside] == [(image_id, "R99")]
    assert "image 224 x 256" in outside[0]["message"]
    for command in ("stats", "eval", "fuse", "qc", "export", "render", "draw", "cache build", "sample", "bench", "info", "deid"):
        assert "Examples:" in run(*command.split(), "--help").stdout, command

    # The CLI and the Python layer print the same report: one library function makes it.
    ann = vindr.Annotations(csv)
    ann.join_image_sizes(sample)
    assert ann.quality_issues() == out
