"""The render cache as WebDataset shards: tar members checked with tarfile, numpy, OpenCV and
zlib; parts of a split build equal the whole build; a killed build keeps its finished shards;
raw16 values against pydicom + OpenCV's area resize and its windowing against PS3.3's formula."""
from __future__ import annotations

import io
import json
import os
import pathlib
import signal
import subprocess
import tarfile
import time
import zlib

import cv2
import numpy as np
import pydicom
import pytest

import vindr
from test_abi import build as build_program

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """10 training images of 512 x 448 (some MONOCHROME1) with their annotations."""
    root = tmp_path_factory.mktemp("sample")
    vindr.write_sample(root, train=10, test=0, size=512)
    return root


@pytest.fixture(scope="module")
def dataset(sample):
    ann = vindr.Annotations(sample / "annotations" / "annotations_train.csv", sample / "annotations" / "image_labels_train.csv")
    return vindr.Dataset(sample, ann, policy="union")


def synthetic(sample) -> list[vindr.Sample]:
    """The sample's images with made-up boxes (known here, independent of the annotations)."""
    out = []
    for i, path in enumerate(sorted((sample / "train").glob("*.dicom"))):
        boxes = np.array([[10 + i, 20, 200, 300 + i], [50, 60, 70, 80]], np.float32)
        out.append(vindr.Sample(path.stem, str(path), boxes=boxes, labels=[i % 3, 7], global_labels=np.eye(3, dtype=np.float32)[i % 3]))
    return out


def members(path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as t:
        return [(m.name, t.extractfile(m).read()) for m in t.getmembers()]


def test_shards_are_plain_tar_with_npy_and_json_members(sample, tmp_path):
    samples = synthetic(sample)
    report = vindr.build_cache(samples, tmp_path / "raw", 128, format="raw", shard_size=4)
    assert (report.rendered, report.reused, report.failed) == (10, 0, 0)
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["index.json", "shard-00000.tar", "shard-00001.tar",
                                                                     "shard-00002.tar"]
    index = json.loads((tmp_path / "raw" / "index.json").read_text())
    assert index["samples"] == 10 and [s["samples"] for s in index["shards"]] == [4, 4, 2]
    got = [m for k in range(3) for m in members(tmp_path / "raw" / f"shard-0000{k}.tar")]
    assert [n for n, _ in got] == [f"{s.image_id}.{ext}" for s in samples for ext in ("npy", "json")]
    for s, (_, npy), (_, text) in zip(samples, got[::2], got[1::2]):
        record = json.loads(text)
        image = np.load(io.BytesIO(npy))
        buf = io.BytesIO()
        np.save(buf, image)
        assert buf.getvalue() == npy  # numpy's own .npy bytes
        np.testing.assert_array_equal(image, vindr.read_dicom(s.path).render(size=(128, 128), aspect="letterbox"))
        source = pathlib.Path(s.path).read_bytes()
        assert record["image_id"] == s.image_id and record["source"] == s.path
        assert (record["source_size"], record["source_crc32"], record["crc32"]) == (len(source), zlib.crc32(source), zlib.crc32(npy))
        ds = pydicom.dcmread(s.path)
        assert (record["source_width"], record["source_height"]) == (ds.Columns, ds.Rows)
        scale = 128 / max(ds.Rows, ds.Columns)
        offset = ((128 - round(ds.Columns * scale)) // 2, (128 - round(ds.Rows * scale)) // 2)
        assert record["transform"] == [scale, scale, offset[0], offset[1]]
        want = s.boxes.astype(np.float64) * scale + np.array(offset * 2)
        np.testing.assert_allclose(record["boxes"], want, rtol=0, atol=1e-9)
        assert record["labels"] == list(s.labels) and record["global_labels"] == list(s.global_labels)
        assert record["settings"] == {"height": 128, "width": 128, "letterbox": True, "pad": 0, "window": "dicom",
                                      "format": "raw", "quality": 0, "decode": "exact"}
    # JPEG members decode (OpenCV) to what the loader serves from them.
    vindr.build_cache(samples, tmp_path / "jpeg", 128, format="jpeg", quality=95, shard_size=4)
    loader = vindr.Loader(samples, 128, batch_size=10, shuffle=False, cache=tmp_path / "jpeg", copy=True)
    assert loader.cache_status.startswith("using cache") and "10 of 10" in loader.cache_status
    batch = next(iter(loader))
    jpgs = [cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_GRAYSCALE)
            for k in range(3) for n, b in members(tmp_path / "jpeg" / f"shard-0000{k}.tar") if n.endswith(".jpg")]
    np.testing.assert_array_equal(batch.images[:, 0], np.stack(jpgs))
    # cache_sample gives the very members a build writes.
    one = vindr.cache_sample(samples, 5, 128, format="raw")
    assert (one.key, one.extension) == (samples[5].image_id, "npy")
    assert [(f"{one.key}.npy", one.image), (f"{one.key}.json", one.json)] == members(tmp_path / "raw" / "shard-00001.tar")[2:4]


def test_loader_reads_a_directory_a_shard_list_or_one_shard(dataset, tmp_path):
    vindr.build_cache(dataset, tmp_path / "c", 96, format="raw", shard_size=3)
    shards = sorted((tmp_path / "c").glob("shard-*.tar"))
    whole = [b.images.copy() for b in vindr.Loader(dataset, 96, batch_size=4, shuffle=False, cache=tmp_path / "c")]
    listed = vindr.Loader(dataset, 96, batch_size=4, shuffle=False, cache=shards)
    assert f"using cache {len(shards)} shards: 10 of 10" in listed.cache_status
    for a, b in zip(whole, listed):
        np.testing.assert_array_equal(a, b.images)
    direct = [b.images.copy() for b in vindr.Loader(dataset, 96, batch_size=4, shuffle=False)]
    for a, b in zip(whole, direct):
        np.testing.assert_array_equal(a, b)
    assert "3 of 10" in vindr.Loader(dataset, 96, cache=shards[0]).cache_status
    (tmp_path / "c" / "index.json").unlink()  # without the manifest, the directory's shard files
    assert "10 of 10" in vindr.Loader(dataset, 96, cache=tmp_path / "c").cache_status
    with pytest.raises(vindr.FormatError, match="also in"):
        vindr.Loader(dataset, 96, cache=[shards[0], shards[0]])
    old = tmp_path / "old"
    old.mkdir()
    (old / "index.json").write_text(json.dumps({"version": 1, "settings": {}, "entries": []}))
    with pytest.raises(vindr.FormatError, match="rebuild"):
        vindr.Loader(dataset, 96, cache=old)


def test_parts_build_the_same_shards_and_merge_checks_them(sample, tmp_path):
    def cli(*args, check=True):
        return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, check=check)

    train = sample / "train"
    cli("cache", "build", train, "--out", tmp_path / "whole", "--size", "64", "--shard-size", "3")
    for i in (0, 2):
        cli("cache", "build", train, "--out", tmp_path / "parts", "--size", "64", "--shard-size", "3", "--shard", f"{i}/3")
    out = cli("cache", "merge", tmp_path / "parts", check=False)
    assert out.returncode == 1 and "parts 1/3 not finished" in out.stderr
    assert not (tmp_path / "parts" / "index.json").exists()
    cli("cache", "build", train, "--out", tmp_path / "parts", "--size", "64", "--shard-size", "3", "--shard", "1/3")
    assert "10 samples in 4 shards" in cli("cache", "merge", tmp_path / "parts").stdout
    for k in range(4):
        name = f"shard-0000{k}.tar"
        assert (tmp_path / "parts" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    assert (tmp_path / "parts" / "index.json").read_bytes() == (tmp_path / "whole" / "index.json").read_bytes()
    (tmp_path / "parts" / "shard-00002.tar").unlink()
    out = cli("cache", "merge", tmp_path / "parts", check=False)
    assert out.returncode == 1 and "1 of 4 shards missing" in out.stderr
    bad = cli("cache", "build", train, "--out", tmp_path / "x", "--shard", "3/3", check=False)
    assert bad.returncode == 64 and "--shard" in bad.stderr
    other = cli("cache", "build", train, "--out", tmp_path / "whole", "--size", "96", check=False)
    assert other.returncode == 1 and "another directory" in other.stderr


def test_cpp_builds_parts_merges_and_loads_raw16_with_jitter(dataset, sample, tmp_path):
    exe = build_program(tmp_path, "wrappers_test.cpp", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror"])
    out = subprocess.run([str(exe), "cache", str(sample), str(sample / "annotations" / "annotations_train.csv"),
                          str(tmp_path / "cpp"), "2"], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "rendered 10 merged 10"
    assert out[1:-1] == [t["image_id"] for b in vindr.Loader(dataset, 64, batch_size=16, shuffle=False) for t in b.targets]
    ann = vindr.Annotations(sample / "annotations" / "annotations_train.csv")
    vindr.build_cache(vindr.Dataset(sample, ann), tmp_path / "py", 64, format="raw16", shard_size=3)
    for k in range(4):
        name = f"shard-0000{k}.tar"
        assert (tmp_path / "cpp" / name).read_bytes() == (tmp_path / "py" / name).read_bytes()


def test_a_killed_build_keeps_its_finished_shards(sample, tmp_path):
    out = tmp_path / "c"
    proc = subprocess.Popen([str(CLI), "cache", "build", str(sample / "train"), "--out", str(out), "--size", "1024",
                             "--format", "raw16", "--shard-size", "1", "--workers", "1"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "shard-00002.tar").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = sorted(out.glob("shard-*.tar"))
    if len(finished) == 10:
        pytest.skip("the build finished before it could be killed")
    assert len(finished) >= 3 and not (out / "index.json").exists()
    for shard in finished:  # every finished shard is whole: both members, checksums right
        (image_name, image), (record_name, record) = members(shard)
        assert json.loads(record)["crc32"] == zlib.crc32(image)
    again = subprocess.run([str(CLI), "cache", "build", str(sample / "train"), "--out", str(out), "--size", "1024",
                            "--format", "raw16", "--shard-size", "1"], capture_output=True, text=True, check=True).stdout
    assert f"{10 - len(finished)} rendered, {len(finished)} already cached" in again
    assert not list(out.glob("*.partial")) and (out / "index.json").exists()


def test_raw16_holds_modality_values_and_windows_them_per_sample(sample, dataset, tmp_path):
    vindr.build_cache(dataset, tmp_path / "c", 128, format="raw16", shard_size=4)
    records = {}
    for k in range(3):
        shard = members(tmp_path / "c" / f"shard-0000{k}.tar")
        for (_, npy), (_, text) in zip(shard[::2], shard[1::2]):
            r = json.loads(text)
            records[r["image_id"]] = (r, np.load(io.BytesIO(npy)))
    for image_id, (r, q) in records.items():
        assert q.dtype == np.uint16 and q.shape == (128, 128)
        ds = pydicom.dcmread(r["source"])
        modality = ds.pixel_array * float(getattr(ds, "RescaleSlope", 1)) + float(getattr(ds, "RescaleIntercept", 0))
        lo, hi = r["values"]
        assert (lo, hi) == (modality.min(), modality.max())
        assert r["invert"] == (ds.PhotometricInterpretation == "MONOCHROME1")
        assert (r["window"]["center"], r["window"]["width"]) == (float(ds.WindowCenter), float(ds.WindowWidth))
        sx, _, ox, oy = r["transform"]
        w, h = round(ds.Columns * sx), round(ds.Rows * sx)
        want = cv2.resize(modality, (w, h), interpolation=cv2.INTER_AREA)  # integer factor: box means
        got = lo + (hi - lo) * q[int(oy):int(oy) + h, int(ox):int(ox) + w].astype(np.float64) / 65535
        np.testing.assert_allclose(got, want, rtol=0, atol=(hi - lo) * (0.5 / 65535 + 1e-6))

    def ps33_linear(x, c, w):  # PS3.3 C.11.2.1.2.1
        return np.clip((x - (c - 0.5)) / (w - 1) + 0.5, 0, 1)

    loader = vindr.Loader(dataset, 128, batch_size=5, dtype="float32", window_jitter=0.3, seed=3, cache=tmp_path / "c")
    assert loader.cache_status.startswith("using cache") and "(raw16)" in loader.cache_status
    seen = 0
    for batch in loader:
        for img, t in zip(batch.images, batch.targets):
            r, q = records[t["image_id"]]
            scale, shift = t["window"]
            assert (scale, shift) != (1.0, 0.0)
            c, w = r["window"]["center"], r["window"]["width"]
            lo, hi = r["values"]
            y = ps33_linear(lo + (hi - lo) * q.astype(np.float64) / 65535, c + shift * w, max(1.0, w * scale))
            if r["invert"]:
                y = 1 - y
            sx, _, ox, oy = r["transform"]
            content = np.zeros_like(y, bool)
            content[int(oy):int(oy) + round(r["source_height"] * sx), int(ox):int(ox) + round(r["source_width"] * sx)] = True
            np.testing.assert_allclose(img[0], np.where(content, y, 0.0), rtol=0, atol=2e-6)
            seen += 1
    assert seen == 10
    # Without jitter, the raw16 cache windows after resizing, a DICOM render before: they differ
    # only where the window clips inside a pixel's footprint.
    cached = np.concatenate([b.images for b in vindr.Loader(dataset, 128, batch_size=10, shuffle=False, cache=tmp_path / "c", copy=True)])
    direct = np.concatenate([b.images for b in vindr.Loader(dataset, 128, batch_size=10, shuffle=False, copy=True)])
    diff = np.abs(cached.astype(int) - direct.astype(int))
    print(f"raw16 vs DICOM render, 10 images at 128: mean |diff| {diff.mean():.4f}, max {diff.max()}")
    assert diff.mean() < 0.01 and diff.max() <= 4
    with pytest.raises(vindr.InvalidArgumentError, match="raw16"):
        vindr.build_cache(dataset, tmp_path / "k", 128, format="raw16", window="kaggle")
    assert not os.path.exists(tmp_path / "k" / "shard-00000.tar")


def test_shards_rewritten_by_other_tar_writers_still_load(dataset, tmp_path):
    """Shards re-packed by Python's tarfile as GNU and as pax archives (with extended headers, as
    `webdataset.TarWriter` may write) are read the same as the originals."""
    vindr.build_cache(dataset, tmp_path / "c", 64, format="raw", shard_size=10)
    original = members(tmp_path / "c" / "shard-00000.tar")
    want = np.concatenate([b.images for b in vindr.Loader(dataset, 64, batch_size=10, shuffle=False, cache=tmp_path / "c",
                                                          copy=True)])
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        path = tmp_path / f"shard-{fmt}.tar"
        with tarfile.open(path, "w", format=fmt) as t:
            for name, data in original:
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), 1.5
                if fmt == tarfile.PAX_FORMAT:
                    info.pax_headers = {"comment": "x" * 600, "path": name}
                t.addfile(info, io.BytesIO(data))
        got = np.concatenate([b.images for b in vindr.Loader(dataset, 64, batch_size=10, shuffle=False, cache=path, copy=True)])
        np.testing.assert_array_equal(got, want)
