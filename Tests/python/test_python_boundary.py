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


# -- strings -------------------------------------------------------------------------------

def test_nul_in_dicom_path_does_not_open_the_prefix(dicom):
    with pytest.raises(vindr.InvalidArgumentError, match="NUL"):
        vindr.read_dicom(str(dicom) + "\x00.junk")  # before: opened `dicom`
    with pytest.raises(vindr.InvalidArgumentError, match="NUL"):
        vindr.read_dicom(pathlib.Path(str(dicom) + "\x00"))
