"""vindr.ray: WebDataset shards built with Ray Data (a local two-CPU Ray) are the shards the native
vindr.build_cache writes, member for member; the webdataset package reads the native shards alone."""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import ray
import webdataset as wds

import vindr
import vindr.ray
from test_dataset import sample  # noqa: F401  (fixture: the built-in sample, 12 training images of 512 x 448)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SIZE, SHARD = 128, 5  # 12 images: shards of 5, 5 and 2


@pytest.fixture(scope="module")
def ray_context():
    ray.init(num_cpus=2, include_dashboard=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT / "bindings" / "python")}})
    yield
    ray.shutdown()


def annotation_files(root: pathlib.Path) -> list[pathlib.Path]:
    return [root / "annotations" / "annotations_train.csv", root / "annotations" / "image_labels_train.csv"]


def members(shard: pathlib.Path) -> list[tuple[str, bytes]]:
    with tarfile.open(shard) as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]


def rendered(dataset) -> tuple[list[str], np.ndarray]:
    """Image ids in dataset order and the loader's uint8 rendering of each (no cache)."""
    batches = list(vindr.Loader(dataset, SIZE, batch_size=4, shuffle=False, copy=True))
    return [t["image_id"] for b in batches for t in b.targets], np.concatenate([b.images[:, 0] for b in batches])


def test_import_vindr_does_not_import_ray():
    code = "import sys, vindr; assert 'ray' not in sys.modules and 'webdataset' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT / "bindings" / "python")


def assert_same_shards(native: pathlib.Path, distributed: pathlib.Path, ext: str) -> list[str]:
    """Same shard names; per shard the same member names in the same order, images byte for byte
    equal, records equal field for field. Returns the shard names."""
    names = sorted(p.name for p in native.glob("shard-*.tar"))
    assert sorted(p.name for p in distributed.glob("shard-*")) == names
    for name in names:
        ours, theirs = members(distributed / name), members(native / name)
        assert [n for n, _ in ours] == [n for n, _ in theirs]
        assert {n.rsplit(".", 1)[1] for n, _ in ours} <= {ext, "json"}
        for (n, a), (_, b) in zip(ours, theirs):
            if n.endswith(".json"):
                assert json.loads(a) == json.loads(b), n
            else:
                assert a == b, n
    return names


@pytest.mark.parametrize("fmt", ["jpeg", "raw16"])
def test_ray_shards_equal_native_shards(sample, ray_context, tmp_path, fmt):  # noqa: F811
    dataset = vindr.Dataset(sample, annotation_files(sample))
    native, distributed = tmp_path / "native", tmp_path / "ray"
    vindr.build_cache(dataset, native, SIZE, format=fmt, shard_size=SHARD)
    report = vindr.ray.build_cache(sample, annotation_files(sample), distributed, SIZE, format=fmt, shard_size=SHARD)
    assert (report.rendered, report.reused, report.failed) == (12, 0, 0)
    names = assert_same_shards(native, distributed, "jpg" if fmt == "jpeg" else "npy")
    assert names == ["shard-00000.tar", "shard-00001.tar", "shard-00002.tar"]
    assert all((native / n).read_bytes() == (distributed / n).read_bytes() for n in names)  # whole files, headers too
    again = vindr.ray.build_cache(sample, annotation_files(sample), distributed, SIZE, format=fmt, shard_size=SHARD)
    assert (again.rendered, again.reused, again.failed) == (0, 12, 0)
    assert sum(len(members(native / n)) for n in names) == 2 * 12
    index = json.loads((distributed / "index.json").read_text())
    assert index["samples"] == 12 and [s["samples"] for s in index["shards"]] == [5, 5, 2]
    # A loader reads the Ray-built cache, and gives what it gives from the native one.
    cached = [vindr.Loader(dataset, SIZE, batch_size=4, shuffle=False, cache=d) for d in (native, distributed)]
    assert all(c.cache_status.startswith("using cache") for c in cached), [c.cache_status for c in cached]
    a, b = ([x.images.copy() for x in c] for c in cached)
    assert len(a) == 3 and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_sample_that_fails_is_left_out_of_its_shard_by_both(sample, ray_context, tmp_path):  # noqa: F811
    root = tmp_path / "sample"
    shutil.copytree(sample, root)
    ids, _ = rendered(vindr.Dataset(root, annotation_files(root)))
    broken = root / "train" / f"{ids[6]}.dicom"
    broken.write_bytes(broken.read_bytes()[:4096])  # header kept, pixel data cut
    native, distributed = tmp_path / "native", tmp_path / "ray"
    assert vindr.build_cache(vindr.Dataset(root, annotation_files(root)), native, SIZE, shard_size=SHARD).failed == 1
    report = vindr.ray.build_cache(root, annotation_files(root), distributed, SIZE, shard_size=SHARD)
    assert (report.rendered, report.failed) == (11, 1)
    assert_same_shards(native, distributed, "jpg")
    assert f"{ids[6]}.jpg" not in [n for n, _ in members(distributed / "shard-00001.tar")]
    assert len(members(distributed / "shard-00001.tar")) == 2 * 4


def test_a_directory_built_with_other_settings_is_refused(sample, tmp_path):  # noqa: F811
    vindr.build_cache(vindr.Dataset(sample, annotation_files(sample)), tmp_path, SIZE, format="jpeg", shard_size=SHARD)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(vindr.VinDrIOError, match="another directory"):
        vindr.ray.build_cache(sample, annotation_files(sample), tmp_path, SIZE, format="raw16", shard_size=SHARD)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize("fmt", ["jpeg", "raw", "raw16"])
def test_webdataset_reads_native_shards(sample, tmp_path, fmt):  # noqa: F811
    dataset = vindr.Dataset(sample, annotation_files(sample))
    vindr.build_cache(dataset, tmp_path, SIZE, format=fmt, shard_size=SHARD)
    urls = [str(p) for p in sorted(tmp_path.glob("shard-*.tar"))]
    items = list(wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode("pill"))
    ids, pixels = rendered(dataset)
    assert [x["__key__"] for x in items] == ids and len(items) == len(dataset) == 12
    for item, expected in zip(items, pixels):
        assert isinstance(item["json"], dict) and item["json"]
        if fmt == "jpeg":
            image = item["jpg"]
            assert image.mode == "L" and image.size == (SIZE, SIZE)
            assert np.abs(np.asarray(image).astype(int) - expected.astype(int)).mean() < 1.5
        else:
            image = item["npy"]
            assert isinstance(image, np.ndarray) and image.shape == (SIZE, SIZE)
            assert image.dtype == (np.uint8 if fmt == "raw" else np.uint16)
            if fmt == "raw":
                assert np.array_equal(image, expected)
