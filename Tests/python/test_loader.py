"""The native loader: order and content independent of thread count, sharding, resume, boxes that
stay on the lesion through letterbox and flip, error policies, early close, bounded memory."""
from __future__ import annotations

import pathlib
import threading

import numpy as np
import pytest

import corpus as corpus_module
import vindr

ROWS, COLS = 300, 240


@pytest.fixture(scope="module")
def lesion_set(tmp_path_factory):
    """24 small DICOMs: dark background, one bright rectangle (the 'lesion') whose box is known."""
    out = tmp_path_factory.mktemp("lesions")
    rng = np.random.default_rng(5)
    samples = []
    for i in range(24):
        img = np.full((ROWS, COLS), 200, np.uint16)
        x0, y0 = int(rng.integers(5, COLS - 80)), int(rng.integers(5, ROWS - 100))
        x1, y1 = x0 + int(rng.integers(30, 70)), y0 + int(rng.integers(40, 90))
        img[y0:y1, x0:x1] = 3800
        v = corpus_module.Variant(f"l{i}", ROWS, COLS, windows=[(2000, 4000)],
                                  photometric="MONOCHROME1" if i % 5 == 0 else "MONOCHROME2")
        if v.photometric == "MONOCHROME1":
            img = 4095 - img
        path = out / f"l{i}.dcm"
        corpus_module.base_dataset(v, img).save_as(path, enforce_file_format=True)
        samples.append(vindr.Sample(f"img{i:02d}", str(path), boxes=np.array([[x0, y0, x1, y1]], np.float32),
                                    labels=np.array([i % 3]), global_labels=np.array([i % 2, 1 - i % 2], np.float32)))
    return samples


def epoch(loader, e=0, start=0):
    loader.epoch, loader.start_step = e, start
    return [(b.step, [t["image_id"] for t in b.targets], b.images.copy(), [t["boxes"] for t in b.targets]) for b in loader]


def test_same_batches_whatever_the_worker_count(lesion_set):
    # 0 is one worker per core, the default
    runs = [epoch(vindr.Loader(lesion_set, (128, 160), batch_size=5, seed=3, workers=w, flip=0.5)) for w in (1, 2, 3, 0)]
    with pytest.raises(vindr.InvalidArgumentError, match="workers"):
        vindr.Loader(lesion_set, 64, workers=-1)
    for other in runs[1:]:
        assert [r[1] for r in other] == [r[1] for r in runs[0]]
        for a, b in zip(other, runs[0]):
            np.testing.assert_array_equal(a[2], b[2])
            for x, y in zip(a[3], b[3]):
                np.testing.assert_array_equal(x, y)


def test_samples_not_batches_are_scheduled_yet_batches_are_identical_for_1_2_3_workers(lesion_set, tmp_path):
    """Workers take samples of the current or next batch, each into its own slot; with the same
    seed, 1, 2 and 3 workers give byte-identical batches and targets: a short last batch, images
    left out under on_error="skip" (the rest closed up in order), flips, every target field."""
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"\x00" * 500)
    broken = [vindr.Sample(f"broken{i}", str(bad), global_labels=np.zeros(2, np.float32)) for i in range(3)]
    samples = lesion_set[:10] + broken[:1] + lesion_set[10:17] + broken[1:] + lesion_set[17:]  # 27 samples

    def run(workers, prefetch):
        out = []
        loader = vindr.Loader(samples, (96, 80), batch_size=7, seed=11, workers=workers, prefetch=prefetch, flip=0.5,
                              on_error="skip", layout="NHWC", channels=3)
        for b in loader:
            targets = [(t["image_id"], t["boxes"].tobytes(), t["labels"].tobytes(), t["global_labels"].tobytes(),
                        t["transform"].tobytes()) for t in b.targets]
            out.append((b.step, b.images.tobytes(), targets, [s[0] for s in b.skipped]))
        return out

    runs = {(w, p): run(w, p) for w in (1, 2, 3) for p in (1, 2)}
    first = runs[(1, 1)]
    assert [len(r[2]) + len(r[3]) for r in first] == [7, 7, 7, 6]  # the last batch is partial
    assert sum(len(r[3]) for r in first) == 3
    for key, other in runs.items():
        assert other == first, key


def test_epochs_shuffle_and_cover_everything(lesion_set):
    loader = vindr.Loader(lesion_set, 64, batch_size=5, seed=1, workers=2)
    e0 = [i for _, ids, _, _ in epoch(loader, 0) for i in ids]
    e1 = [i for _, ids, _, _ in epoch(loader, 1) for i in ids]
    assert sorted(e0) == sorted(e1) == sorted(s.image_id for s in lesion_set)
    assert e0 != e1
    assert e0 == [i for _, ids, _, _ in epoch(loader, 0) for i in ids]
    assert len(loader) == 5
    assert [len(ids) for _, ids, _, _ in epoch(loader, 0)] == [5, 5, 5, 5, 4]
    dropped = vindr.Loader(lesion_set, 64, batch_size=5, drop_last=True)
    assert len(dropped) == 4 and len(epoch(dropped)) == 4


@pytest.mark.parametrize("world", [2, 3, 5])
def test_shards_are_disjoint_and_cover_the_data(lesion_set, world):
    """torch DistributedSampler semantics: ceil(n / world) per rank, padding repeats the start."""
    shards = []
    for rank in range(world):
        loader = vindr.Loader(lesion_set, 32, batch_size=4, seed=9, rank=rank, world_size=world)
        shards.append([i for _, ids, _, _ in epoch(loader, 2) for i in ids])
    n = len(lesion_set)
    per = -(-n // world)
    assert all(len(s) == per for s in shards)
    flat = [i for s in shards for i in s]
    assert set(flat) == {s.image_id for s in lesion_set}
    assert len(flat) - len(set(flat)) == per * world - n


def test_resume_from_a_step(lesion_set):
    loader = vindr.Loader(lesion_set, 64, batch_size=4, seed=4, workers=2)
    full = epoch(loader, 1)
    tail = epoch(loader, 1, start=3)
    assert [r[0] for r in tail] == [r[0] for r in full[3:]]
    assert [r[1] for r in tail] == [r[1] for r in full[3:]]


def expected_box(box, out_h, out_w, letterbox, flip):
    """Independent transform of a source box: scale to fit, centre, mirror."""
    x0, y0, x1, y1 = box
    if letterbox:
        s = min(out_w / COLS, out_h / ROWS)
        cw, ch = round(COLS * s), round(ROWS * s)
        sx, sy, ox, oy = cw / COLS, ch / ROWS, (out_w - cw) // 2, (out_h - ch) // 2
    else:
        sx, sy, ox, oy = out_w / COLS, out_h / ROWS, 0, 0
    b = [x0 * sx + ox, y0 * sy + oy, x1 * sx + ox, y1 * sy + oy]
    if flip:
        b = [out_w - b[2], b[1], out_w - b[0], b[3]]
    return np.array(b)


@pytest.mark.parametrize("letterbox", [True, False])
def test_boxes_stay_on_the_lesion(lesion_set, letterbox):
    out_h, out_w = 200, 256
    loader = vindr.Loader(lesion_set, (out_h, out_w), batch_size=6, letterbox=letterbox, flip=0.5, seed=2,
                          dtype="float32")
    by_id = {s.image_id: s for s in lesion_set}
    flips = 0
    for b in loader:
        for img, t in zip(b.images[:, 0], b.targets):
            flipped = bool(t["transform"][4])
            flips += flipped
            exp = expected_box(by_id[t["image_id"]].boxes[0], out_h, out_w, letterbox, flipped)
            np.testing.assert_allclose(t["boxes"][0], exp, atol=1e-3)
            x0, y0, x1, y1 = exp
            inner = img[int(np.ceil(y0)) + 1:int(y1) - 1, int(np.ceil(x0)) + 1:int(x1) - 1]
            assert inner.min() > 0.85, (t["image_id"], inner.min())
            outside = img.copy()
            outside[max(int(y0) - 1, 0):int(np.ceil(y1)) + 1, max(int(x0) - 1, 0):int(np.ceil(x1)) + 1] = 0
            assert outside.max() < 0.2
            assert t["labels"].tolist() == by_id[t["image_id"]].labels.tolist()
            np.testing.assert_array_equal(t["global_labels"], by_id[t["image_id"]].global_labels)
    assert 0 < flips < len(lesion_set)


def test_images_equal_single_renders_in_every_dtype_and_layout(lesion_set):
    s = lesion_set[3]
    ref = vindr.read_dicom(s.path).render(size=(96, 80), aspect="letterbox", dtype="float32")
    ref8 = vindr.read_dicom(s.path).render(size=(96, 80), aspect="letterbox")
    for dtype, layout, channels in [("uint8", "NCHW", 1), ("float32", "NHWC", 3), ("float16", "NCHW", 3), ("uint8", "NHWC", 3)]:
        loader = vindr.Loader([s], (96, 80), batch_size=1, dtype=dtype, layout=layout, channels=channels, copy=True)
        (b,) = list(loader)
        img = b.images[0]
        assert img.shape == ((channels, 96, 80) if layout == "NCHW" else (96, 80, channels))
        for c in range(channels):
            plane = img[c] if layout == "NCHW" else img[..., c]
            if dtype == "uint8":
                np.testing.assert_array_equal(plane, ref8)
            else:
                np.testing.assert_allclose(plane.astype(np.float32), ref, atol=1e-3 if dtype == "float16" else 0)


def test_error_policies_name_the_image(lesion_set, tmp_path):
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"\x00" * 500)
    samples = lesion_set[:6] + [vindr.Sample("broken-one", str(bad), global_labels=np.zeros(2, np.float32))] + lesion_set[6:9]
    with pytest.raises(vindr.FormatError, match="broken-one"):  # the image's own kind of error
        for _ in vindr.Loader(samples, 64, batch_size=4, shuffle=False):
            pass
    missing = [vindr.Sample("gone", str(tmp_path / "absent.dcm"), global_labels=np.zeros(2, np.float32))]
    with pytest.raises(vindr.VinDrIOError, match="gone"):
        for _ in vindr.Loader(missing, 64, batch_size=1):
            pass
    seen, skipped = [], []
    for b in vindr.Loader(samples, 64, batch_size=4, shuffle=False, on_error="skip"):
        seen += [t["image_id"] for t in b.targets]
        skipped += b.skipped
    assert [s[0] for s in skipped] == ["broken-one"]
    assert "broken.dcm" in skipped[0][1] and "not a readable DICOM file" in skipped[0][1]
    assert len(seen) == 9


def test_break_mid_epoch_returns_and_restarts(corpus):
    files = [p for v in corpus.values() for k, p in v.items() if k in ("explicit", "j2k90")]
    samples = [vindr.Sample(f"f{i}", str(p)) for i, p in enumerate(files * 4)]
    loader = vindr.Loader(samples, 256, batch_size=2, workers=2, prefetch=2)
    done = threading.Event()

    def consume():
        for i, _ in enumerate(loader):
            if i == 1:
                break
        done.set()

    t = threading.Thread(target=consume)
    t.start()
    t.join(timeout=60)
    assert done.is_set(), "breaking out of an epoch hung"
    assert len(next(iter(loader)).targets) == 2  # usable again after the early exit
    loader.close()
    with pytest.raises(ValueError):
        next(iter(loader))


def rss_mb() -> float:
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_five_epochs_without_memory_growth(lesion_set):
    loader = vindr.Loader(lesion_set * 4, 256, batch_size=8, workers=2, flip=0.5)
    for b in loader:
        pass
    start = rss_mb()
    for e in range(1, 6):
        loader.epoch = e
        for b in loader:
            pass
    assert rss_mb() - start < 15, (start, rss_mb())


def test_cache_raw_equals_rendering_and_resumes(lesion_set, tmp_path):
    import dataclasses
    import pydicom

    copies = []
    for s in lesion_set:
        path = tmp_path / pathlib.Path(s.path).name
        path.write_bytes(pathlib.Path(s.path).read_bytes())
        copies.append(dataclasses.replace(s, path=str(path)))
    lesion_set = copies
    cache = tmp_path / "cache"
    seen = []
    report = vindr.build_cache(lesion_set, cache, (96, 128), format="raw", workers=2, progress=lambda d, t: seen.append((d, t)))
    assert (report.rendered, report.reused, report.failed) == (24, 0, 0)
    assert seen[-1] == (24, 24)
    direct = vindr.Loader(lesion_set, (96, 128), batch_size=6, seed=8, flip=0.5)
    cached = vindr.Loader(lesion_set, (96, 128), batch_size=6, seed=8, flip=0.5, cache=cache)
    assert cached.cache_status.startswith("using cache") and "24 of 24" in cached.cache_status
    for a, b in zip(epoch(direct), epoch(cached)):
        assert a[1] == b[1]
        np.testing.assert_array_equal(a[2], b[2])
        for x, y in zip(a[3], b[3]):
            np.testing.assert_allclose(x, y, atol=1e-4)
    again = vindr.build_cache(lesion_set, cache, (96, 128), format="raw")
    assert (again.rendered, again.reused) == (0, 24)
    # A changed source renders its shard again (shards of 5: the first holds samples 0-4).
    vindr.build_cache(lesion_set, tmp_path / "small", (96, 128), format="raw", shard_size=5)
    ds = pydicom.dcmread(lesion_set[0].path)
    ds.WindowCenter = 1900
    ds.save_as(lesion_set[0].path)
    assert vindr.build_cache(lesion_set, cache, (96, 128), format="raw").rendered == 24
    again = vindr.build_cache(lesion_set, tmp_path / "small", (96, 128), format="raw", shard_size=5)
    assert (again.rendered, again.reused) == (5, 19)
    other = vindr.Loader(lesion_set, (64, 64), cache=cache)
    assert other.cache_status.startswith("not using cache") and "size" in other.cache_status
    with pytest.raises(vindr.VinDrError, match="other|settings|jpeg"):
        vindr.build_cache(lesion_set, cache, (96, 128), format="jpeg")


def test_cache_jpeg_is_close_and_checksummed(lesion_set, tmp_path):
    cache = tmp_path / "jpeg"
    vindr.build_cache(lesion_set, cache, 128, format="jpeg", quality=95)
    direct = np.concatenate([b.images.copy() for b in vindr.Loader(lesion_set, 128, batch_size=8, shuffle=False)])
    cached = np.concatenate([b.images.copy() for b in vindr.Loader(lesion_set, 128, batch_size=8, shuffle=False, cache=cache)])
    assert np.abs(direct.astype(int) - cached.astype(int)).mean() < 1.0
    shard = next(cache.glob("shard-*.tar"))
    data = bytearray(shard.read_bytes())
    data[512 + 300] ^= 0xFF  # inside the first sample's JPEG
    shard.write_bytes(bytes(data))
    with pytest.raises(vindr.VinDrError, match="CRC-32"):
        for _ in vindr.Loader(lesion_set, 128, batch_size=8, shuffle=False, cache=cache):
            pass


def test_malformed_cache_record_or_index_is_an_error(lesion_set, tmp_path):
    import io
    import json
    import tarfile
    cache = tmp_path / "c"
    vindr.build_cache(lesion_set[:2], cache, 32, format="raw")
    shard = cache / "shard-00000.tar"
    members = []
    with tarfile.open(shard) as t:
        for m in t.getmembers():
            members.append((m.name, t.extractfile(m).read()))
    name, record = members[1]
    bad = json.loads(record)
    bad["transform"] = [1.0]
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as t:
        for n, data in [members[0], (name, json.dumps(bad).encode())] + members[2:]:
            info = tarfile.TarInfo(n)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    with pytest.raises(vindr.FormatError, match="malformed"):
        vindr.Loader(lesion_set[:2], 32, cache=cache)
    (cache / "index.json").write_text("{not json")
    with pytest.raises(vindr.FormatError, match="index"):
        vindr.Loader(lesion_set[:2], 32, cache=cache)
    shard.write_bytes(shard.read_bytes()[:700])  # cut inside the first member
    (cache / "index.json").unlink()
    with pytest.raises(vindr.FormatError, match="shard-00000.tar.*(past the end|end marker)"):
        vindr.Loader(lesion_set[:2], 32, cache=cache)


# Host safety (issue "Never take the host down"): fork() and memory. Each case runs in its own
# interpreter with a timeout or an address-space limit, so a regression fails the test instead of
# hanging the suite or exhausting the machine.

FORK_SCRIPT = r'''
import json, os, sys, time, warnings
sys.path.insert(0, sys.argv[1])
warnings.simplefilter("ignore", DeprecationWarning)  # fork() while native threads run is the point
import vindr

samples = [vindr.Sample(i, p) for i, p in json.loads(sys.argv[3])]
ids = sorted(s.image_id for s in samples)


def epoch_ids(loader, e):
    loader.epoch = e
    return sorted(i for b in loader for i in (t["image_id"] for t in b.targets))


def wait(pid, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return "hung"


loader = vindr.Loader(samples, 64, batch_size=2, workers=3, prefetch=4, seed=1)
if sys.argv[2] == "mid-epoch":
    it = iter(loader)
    first = next(it)  # the workers are rendering ahead
    pids = [os.fork()]
    if pids[0] == 0:
        try:
            next(it)
            sys.exit("the inherited epoch delivered a batch")
        except vindr.InvalidArgumentError:
            pass
        it.close()  # closes the inherited epoch: no workers to wait for
        assert epoch_ids(loader, 1) == ids  # a new epoch on new threads
        loader.close()
        sys.exit(0)
    pids.append(os.fork())
    if pids[1] == 0:
        sys.exit(0)  # exits with the loader mid-epoch: the interpreter releases it
    rest = [first] + list(it)  # the parent's epoch is unaffected
    assert sorted(i for b in rest for i in (t["image_id"] for t in b.targets)) == ids
else:  # DataLoader style: workers forked from a parent that made the loader iterate their own epochs
    pids = []
    for w in range(2):
        pid = os.fork()
        if pid == 0:
            assert epoch_ids(loader, w) == ids and epoch_ids(loader, w + 2) == ids
            sys.exit(0)
        pids.append(pid)
    assert epoch_ids(loader, 5) == ids
print(json.dumps([wait(pid) for pid in pids]))
'''


@pytest.mark.parametrize("mode", ["mid-epoch", "workers"])
def test_forked_children_close_and_restart_inherited_loaders(lesion_set, mode):
    import json
    import subprocess
    import sys

    paths = json.dumps([(s.image_id, s.path) for s in lesion_set[:12]])
    out = subprocess.run([sys.executable, "-c", FORK_SCRIPT, str(pathlib.Path(vindr.__file__).parents[1]), mode, paths],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == [0, 0], out.stderr


BUDGET_SCRIPT = r'''
import resource, sys
sys.path.insert(0, sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
import vindr

samples = [vindr.Sample("a", sys.argv[2])]
big = dict(channels=3, dtype="float32", batch_size=16, workers=1)
try:
    loader = vindr.Loader(samples, 16384, **big)
    next(iter(loader))
    sys.exit("16384 x 16384 x 3 float32 x 16 was accepted")
except vindr.InvalidArgumentError as e:
    print(e.message)
# Within a budget raised past what the system gives: the refused allocation is an out-of-memory error.
try:
    next(iter(vindr.Loader(samples, 16384, max_batch_bytes=1 << 40, **big)))
    sys.exit("51 GB of batch buffers under a 4 GiB address space limit")
except vindr.OutOfMemoryError as e:
    print(e.message)
'''


def test_batch_buffers_over_the_memory_budget_are_an_error(lesion_set):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", BUDGET_SCRIPT, str(pathlib.Path(vindr.__file__).parents[1]),
                          lesion_set[0].path], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    budget, oom = out.stdout.splitlines()[-2:]
    assert "max_batch_bytes = 4294967296" in budget
    assert "3 x 16 x 16384 x 16384 x 3 x 4 = 154618822656 bytes" in budget
    assert "cannot allocate 51539607552 bytes" in oom and "out of memory" in oom


def test_memory_budget_option(lesion_set):
    with pytest.raises(vindr.InvalidArgumentError, match="max_batch_bytes"):
        vindr.Loader(lesion_set, 64, batch_size=4, prefetch=1, max_batch_bytes=2 * 4 * 64 * 64 - 1)
    assert len(epoch(vindr.Loader(lesion_set[:8], 64, batch_size=4, prefetch=1, max_batch_bytes=2 * 4 * 64 * 64))) == 2
    with pytest.raises(vindr.InvalidArgumentError, match="max_batch_bytes"):
        vindr.Loader(lesion_set, 64, max_batch_bytes=0)


# -- window adjustment and the loader's window jitter ---------------------------------------------

def linear_window(x, c, w):
    """PS3.3 C.11.2.1.2.1 LINEAR, written out with numpy (the oracle)."""
    y = (x - (c - 0.5)) / (w - 1) + 0.5
    return np.where(x <= c - 0.5 - (w - 1) / 2, 0.0, np.where(x > c - 0.5 + (w - 1) / 2, 1.0, y))


@pytest.mark.parametrize("scale,shift", [(1.0, 0.0), (0.6, 0.1), (1.4, -0.2), (0.3, 0.45)])
def test_window_adjustment_rewindows_the_files_window(lesion_set, scale, shift):
    import pydicom
    s = lesion_set[5]  # MONOCHROME1: inverted after the window
    ds = pydicom.dcmread(s.path)
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    y = linear_window(ds.pixel_array.astype(np.float64), c + shift * w, max(1.0, w * scale))
    if ds.PhotometricInterpretation == "MONOCHROME1":
        y = 1 - y
    ours = vindr.read_dicom(s.path).render(dtype="float32", window_adjustment=(scale, shift))
    np.testing.assert_allclose(ours, y, atol=1e-6)
    # The same as naming the adjusted window explicitly.
    explicit = vindr.read_dicom(s.path).render(window=(c + shift * w, max(1.0, w * scale)))
    np.testing.assert_array_equal(vindr.read_dicom(s.path).render(window_adjustment=(scale, shift)), explicit)


def test_window_adjustment_of_a_data_range_and_of_a_recipe_output(lesion_set):
    import pydicom
    s = lesion_set[2]
    x = pydicom.dcmread(s.path).pixel_array.astype(np.float64)
    lo, hi = x.min(), x.max()
    c, w = (lo + hi) / 2 + 0.1 * (hi - lo), (hi - lo) * 0.5
    expected = np.clip((x - (c - w / 2)) / w, 0, 1)
    ours = vindr.read_dicom(s.path).render(window="auto", dtype="float32", window_adjustment=(0.5, 0.1))
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    # The Kaggle recipe's bytes, re-windowed as a window of center 0.5 and width 1.
    k = vindr.read_dicom(s.path).render(window="kaggle", dtype="float32")
    adjusted = vindr.read_dicom(s.path).render(window="kaggle", dtype="float32", window_adjustment=(0.8, -0.05))
    np.testing.assert_allclose(adjusted, np.clip((k - 0.5 + 0.05) / 0.8 + 0.5, 0, 1), atol=1e-6)
    for bad in [(0.0, 0.0), (17.0, 0.0), (1.0, 5.0), (float("nan"), 0.0)]:
        with pytest.raises(vindr.InvalidArgumentError, match="window adjustment"):
            vindr.read_dicom(s.path).render(window_adjustment=bad)


def test_window_jitter_draws_per_sample_and_epoch_and_renders_each_draw(lesion_set, tmp_path):
    samples = lesion_set[:8]
    loader = vindr.Loader(samples, (64, 48), batch_size=4, dtype="float32", window_jitter=0.3, seed=11, copy=True)
    draws = {}
    for e in (0, 1):
        loader.epoch = e
        for b in loader:
            for img, t in zip(b.images, b.targets):
                scale, shift = t["window"]
                assert 0.7 <= scale <= 1.3 and -0.15 <= shift <= 0.15
                path = next(s.path for s in samples if s.image_id == t["image_id"])
                ref = vindr.read_dicom(path).render(size=(64, 48), aspect="letterbox", dtype="float32",
                                                    window_adjustment=(scale, shift))
                np.testing.assert_allclose(img[0], ref, atol=0)
                draws[(e, t["image_id"])] = (scale, shift)
    assert len(set(draws.values())) == len(draws)  # a new draw per sample and epoch
    again = vindr.Loader(samples, (64, 48), batch_size=4, dtype="float32", window_jitter=0.3, seed=11)
    again.epoch = 1
    assert {t["image_id"]: tuple(t["window"]) for b in again for t in b.targets} == \
        {i: d for (e, i), d in draws.items() if e == 1}
    plain = vindr.Loader(samples, (64, 48), batch_size=4)
    assert all(tuple(t["window"]) == (1.0, 0.0) for b in plain for t in b.targets)
    # An 8-bit cache cannot serve jittered windows (a raw16 one can: test_shards.py).
    vindr.build_cache(samples, tmp_path / "c", (64, 48), format="raw")
    cached = vindr.Loader(samples, (64, 48), batch_size=4, window_jitter=0.1, cache=tmp_path / "c")
    assert "window jitter" in cached.cache_status
    with pytest.raises(vindr.InvalidArgumentError, match="window_jitter"):
        vindr.Loader(samples, (64, 48), window_jitter=0.6)
