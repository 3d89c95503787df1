"""The Python boundary never crashes or silently corrupts: output buffers, integer ranges, NUL
characters in strings and non-integral labels are checked before ctypes sees them, and raise
InvalidArgumentError naming the argument. Cases that crashed the process run in a child."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import corpus
import vindr

ROWS, COLS = 64, 48
PACKAGE = str(pathlib.Path(__file__).resolve().parents[2] / "bindings" / "python")


@pytest.fixture(scope="module")
def dicom(tmp_path_factory) -> pathlib.Path:
    """A small two-frame file with one window (explicit VR little endian, written by pydicom)."""
    v = corpus.Variant("boundary", ROWS, COLS, windows=[(2048, 4096)], frames=2)
    return corpus.write_variant(v, tmp_path_factory.mktemp("boundary"))["explicit"]


@pytest.fixture(scope="module")
def csv(tmp_path_factory) -> pathlib.Path:
    p = tmp_path_factory.mktemp("csv") / "annotations.csv"
    p.write_text("image_id,rad_id,class_name,x_min,y_min,x_max,y_max\n"
                 "a,R1,Nodule/Mass,1,2,3,4\na,R2,Nodule/Mass,1,2,3,4\nb,R1,No finding,,,,\n")
    return p


def run_child(code: str, dicom: pathlib.Path) -> str:
    """Runs `code` in a fresh interpreter (with `im` the opened test file) and returns its output;
    fails unless the child exits 0, so a crash of the child cannot take pytest down."""
    prelude = f"import numpy as np, vindr\nim = vindr.read_dicom({str(dicom)!r})\n"
    env = dict(os.environ, PYTHONPATH=PACKAGE, SWIFT_BACKTRACE="enable=no")
    r = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, f"child exited {r.returncode}: {r.stdout}{r.stderr}"
    return r.stdout


# -- output buffers ------------------------------------------------------------------------

def test_read_only_memory_map_out_is_rejected(dicom, tmp_path):
    # Before: a segmentation fault (the library wrote into a read-only mapping).
    path = tmp_path / "ro.bin"
    path.write_bytes(bytes(ROWS * COLS))
    out = run_child(f"""
        out = np.memmap({str(path)!r}, dtype=np.uint8, mode="r", shape=({ROWS}, {COLS}))
        try:
            im.render(out=out)
        except vindr.InvalidArgumentError as e:
            print(e)
    """, dicom)
    assert "out" in out and "writable" in out
    assert path.read_bytes() == bytes(ROWS * COLS)


def test_out_over_immutable_bytes_is_rejected(dicom):
    # Before: the rendered image was written into an immutable bytes object.
    out = run_child(f"""
        data = bytes({ROWS * COLS})
        try:
            im.render(out=np.frombuffer(data, dtype=np.uint8).reshape({ROWS}, {COLS}))
        except vindr.InvalidArgumentError as e:
            print(e)
        print("intact" if not any(data) else "written")
    """, dicom)
    assert "out" in out and "writable" in out and "intact" in out


def test_out_flagged_read_only_is_rejected(dicom):
    out = np.zeros((ROWS, COLS), np.uint8)
    out.flags.writeable = False
    with pytest.raises(vindr.InvalidArgumentError, match="out"):
        vindr.read_dicom(dicom).render(out=out)
    assert not out.any()


@pytest.mark.parametrize("make", [
    lambda: np.zeros((ROWS, COLS), np.uint16),  # dtype
    lambda: np.zeros((ROWS, COLS + 1), np.uint8),  # shape
    lambda: np.zeros((ROWS, 2 * COLS), np.uint8)[:, ::2],  # columns not adjacent
    lambda: np.zeros((ROWS, COLS), np.uint8)[::-1],  # rows backwards
    lambda: np.zeros((ROWS, COLS), np.int64).tolist(),  # not an array
], ids=["dtype", "shape", "column-stride", "negative-row-stride", "list"])
def test_bad_out_is_rejected_naming_it(dicom, make):
    with pytest.raises(vindr.InvalidArgumentError, match="out"):
        vindr.read_dicom(dicom).render(out=make())


def test_unaligned_float_out_is_rejected(dicom):
    raw = np.zeros(ROWS * COLS * 4 + 1, np.uint8)
    out = raw[1:].view(np.float32).reshape(ROWS, COLS)
    assert not out.flags.aligned
    with pytest.raises(vindr.InvalidArgumentError, match="out"):
        vindr.read_dicom(dicom).render(dtype="float32", out=out)


def test_out_with_padded_rows_is_filled(dicom):
    im = vindr.read_dicom(dicom)
    big = np.full((ROWS, COLS + 16), 7, np.uint8)
    result = im.render(out=big[:, :COLS])
    assert np.array_equal(result, im.render())
    assert (big[:, COLS:] == 7).all()


# -- integer ranges ------------------------------------------------------------------------

def test_frame_beyond_int32_is_not_frame_zero(dicom):
    im = vindr.read_dicom(dicom)
    with pytest.raises(vindr.InvalidArgumentError, match=r"frame.*\[-2147483648, 2147483647\]"):
        im.pixels(2**32)  # before: frame 0
    assert np.array_equal(im.pixels(np.int64(1)), im.pixels(1))
    assert np.array_equal(im.pixels(True), im.pixels(1))


@pytest.mark.parametrize("kwargs, name", [
    ({"size": (2**32 + ROWS, COLS)}, "size"),  # before: rendered at (64, 48)
    ({"size": 2**32 + 32}, "size"),
    ({"window": "file", "index": 2**32}, "index"),  # before: window 0
    ({"frame": 2**64 + 1}, "frame"),  # before: frame 1
    ({"threads": -2**64 + 1}, "threads"),
    ({"frame": 1.5}, "frame"),  # before: frame 1
    ({"size": 32.0}, "size"),
    ({"size": (32.7, 20)}, "size"),  # before: 32 x 20
], ids=["height", "longest", "index", "frame", "threads", "float-frame", "float-size", "float-height"])
def test_render_integers_are_range_checked(dicom, kwargs, name):
    with pytest.raises(vindr.InvalidArgumentError, match=name):
        vindr.read_dicom(dicom).render(**kwargs)


def test_render_accepts_numpy_integers_and_bools(dicom):
    im = vindr.read_dicom(dicom)
    expected = im.render(size=(32, 24), frame=1)
    assert np.array_equal(im.render(size=(np.int32(32), np.uint16(24)), frame=np.int8(1)), expected)
    assert np.array_equal(im.render(size=(32, 24), frame=True), expected)
    assert im.render(size=np.uint64(32)).shape == (32, 24)


def test_annotation_integers_are_range_checked(csv):
    ann = vindr.Annotations(csv)
    with pytest.raises(vindr.InvalidArgumentError, match="min_votes"):
        ann.labels(min_votes=2**32 + 1)  # before: 1, the union
    with pytest.raises(vindr.InvalidArgumentError, match="min_votes"):
        ann.statistics(min_votes=2**32 + 2)
    with pytest.raises(vindr.InvalidArgumentError, match="width"):
        ann.set_image_size("a", 2**32 + 10, 5)  # before: 10
    with pytest.raises(vindr.InvalidArgumentError, match="height"):
        ann.set_image_size("a", 10, 5.5)
    # b's one reader is its majority: "No finding" holds whatever min_votes; a's nodule has 2 votes.
    assert ann.labels(min_votes=np.int64(3)).sum() == 1
    assert ann.labels(min_votes=True).sum() == 2


def test_average_precision_counts_are_range_checked():
    boxes = np.array([[0, 0, 10, 10]], float)
    args = (boxes, [0], [0], boxes, [1.0], [0], [0])
    with pytest.raises(vindr.InvalidArgumentError, match="num_images"):
        vindr.average_precision(*args, num_images=2**64 + 1)  # before: 1 image
    with pytest.raises(vindr.InvalidArgumentError, match="num_classes"):
        vindr.average_precision(*args, num_classes=-1)
    assert vindr.average_precision(*args, num_images=np.uint8(1), num_classes=np.int16(1))[0] == 1.0


def test_average_precision_labels_must_be_finite():
    boxes = np.array([[0, 0, 10, 10]], float)
    with pytest.raises(vindr.InvalidArgumentError, match="gt_labels"):
        vindr.average_precision(boxes, [np.nan], [0], boxes, [1.0], [0], [0])
    with pytest.raises(vindr.InvalidArgumentError, match="det_images"):
        vindr.average_precision(boxes, [0], [0], boxes, [1.0], [0], [2.0**64])


def test_loader_integers_are_range_checked(dicom, tmp_path):
    samples = [vindr.Sample("a", str(dicom))]
    with pytest.raises(vindr.InvalidArgumentError, match="seed"):
        vindr.Loader(samples, 32, seed=2**53 + 1)  # before: seed 2**53
    with pytest.raises(vindr.InvalidArgumentError, match="batch_size"):
        vindr.Loader(samples, 32, batch_size=2.5)
    with pytest.raises(vindr.InvalidArgumentError, match="batch_size"):
        vindr.Loader(samples, 32, batch_size=10**6)  # in range for the call, not for the option
    with pytest.raises(vindr.InvalidArgumentError, match=r"size\[1\]"):
        vindr.Loader(samples, (32, 2**60))
    with pytest.raises(vindr.InvalidArgumentError, match="quality"):
        vindr.build_cache(samples, tmp_path / "cache", 32, quality=2**32 + 90)  # before: 90
    loader = vindr.Loader(samples, 32, batch_size=np.int64(1), workers=np.int32(1), seed=True)
    loader.epoch = 2**64  # before: epoch 0
    with pytest.raises(vindr.InvalidArgumentError, match="epoch"):
        next(iter(loader))
    loader.epoch = np.int64(1)
    batches = iter(loader)
    assert next(batches).images.shape == (1, 1, 32, 32)
    batches.close()
    loader.close()
    assert not (tmp_path / "cache").exists()


def test_deid_integers_are_range_checked(dicom, tmp_path):
    with pytest.raises(vindr.InvalidArgumentError, match="min_age"):
        vindr.deidentify(dicom, tmp_path / "out", min_age=2**64 + 18)  # before: 18
    with pytest.raises(vindr.InvalidArgumentError, match="min_size"):
        vindr.deidentify(dicom, tmp_path / "out", min_size=(1.5, 2))
    assert not (tmp_path / "out").exists()
    assert vindr.deidentify(dicom, tmp_path / "out", min_size=np.int64(16)).written == 1


# -- strings -------------------------------------------------------------------------------

def test_nul_in_dicom_path_does_not_open_the_prefix(dicom):
    with pytest.raises(vindr.InvalidArgumentError, match="NUL"):
        vindr.read_dicom(str(dicom) + "\x00.junk")  # before: opened `dicom`
    with pytest.raises(vindr.InvalidArgumentError, match="NUL"):
        vindr.read_dicom(pathlib.Path(str(dicom) + "\x00"))


NUL_CASES = [
    (lambda d, c, t: vindr.Annotations(str(c) + "\x00x"), "path"),
    (lambda d, c, t: vindr.Annotations(c).add(str(c) + "\x00"), "path"),
    (lambda d, c, t: vindr.Annotations(c).join_image_sizes(str(t) + "\x00"), "root"),
    (lambda d, c, t: vindr.Annotations(c).set_image_size("a\x00b", 10, 10), "image_id"),
    (lambda d, c, t: vindr.Annotations(c).labels(reader="R1\x00"), "reader"),
    (lambda d, c, t: vindr.Annotations(c).labels(exclude=["R2\x00"]), "exclude"),
    (lambda d, c, t: vindr.Annotations(c).targets(reader="R1\x00"), "reader"),
    (lambda d, c, t: vindr.label("Cardiomegaly\x00junk"), "name"),
    (lambda d, c, t: vindr.evaluate(str(c) + "\x00", c), "gt"),
    (lambda d, c, t: vindr.evaluate(c, c, gt_readers="R1\x00"), "gt_readers"),
    (lambda d, c, t: vindr.deidentify(str(d) + "\x00", t / "o"), "input"),
    (lambda d, c, t: vindr.deidentify(d, str(t / "o") + "\x00"), "output"),
    (lambda d, c, t: vindr.deidentify(d, t / "o", salt="s\x00alt"), "salt"),
    (lambda d, c, t: vindr.deidentify(d, t / "o", report_csv=str(t / "r.csv") + "\x00"), "report_csv"),
    (lambda d, c, t: vindr.Loader([vindr.Sample("a", str(d) + "\x00")], 32), "path"),
    (lambda d, c, t: vindr.Loader([vindr.Sample("a\x00", d)], 32), "image_id"),
    (lambda d, c, t: vindr.Loader([vindr.Sample("a", d)], 32, cache=str(t) + "\x00"), "cache"),
    (lambda d, c, t: vindr.build_cache([vindr.Sample("a", d)], str(t / "c") + "\x00", 32), "directory"),
    (lambda d, c, t: vindr.Dataset(str(t) + "\x00", c), "root"),
    (lambda d, c, t: vindr.Dataset(t, c, policy="reader", reader="R1\x00"), "reader"),
]


@pytest.mark.parametrize("call, name", NUL_CASES, ids=[name for _, name in NUL_CASES])
def test_nul_in_strings_is_rejected(dicom, csv, tmp_path, call, name):
    with pytest.raises(vindr.InvalidArgumentError, match=f"{name}.*NUL"):
        call(dicom, csv, tmp_path)
    assert not (tmp_path / "o").exists() and not (tmp_path / "c").exists()


# -- box labels ------------------------------------------------------------------------------

BOXES = [np.array([[0.1, 0.1, 0.5, 0.5], [0.2, 0.2, 0.6, 0.6]])]
SCORES = [np.array([0.9, 0.8])]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e30])
def test_wbf_rejects_labels_without_an_int64_value(bad):
    # Before: the label came back as -9.2e18.
    with pytest.raises(vindr.InvalidArgumentError, match="labels"):
        vindr.weighted_boxes_fusion(BOXES, SCORES, [np.array([bad, 1.0])])
    with pytest.raises(vindr.InvalidArgumentError, match="labels"):
        vindr.weighted_boxes_fusion(BOXES, SCORES, [[bad, 1.0]])  # the per-model path


@pytest.mark.parametrize("fn", [vindr.nms, vindr.soft_nms])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nms_rejects_non_finite_labels(fn, bad):
    with pytest.raises(vindr.InvalidArgumentError, match="labels"):
        fn(BOXES, SCORES, [np.array([bad, 1.0])])


def test_wbf_truncates_fractional_labels_as_ensemble_boxes_does():
    ensemble_boxes = pytest.importorskip("ensemble_boxes")
    labels = [np.array([1.7, -0.5])]
    got = vindr.weighted_boxes_fusion(BOXES, SCORES, labels)
    want = ensemble_boxes.weighted_boxes_fusion(BOXES, SCORES, labels)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w)
