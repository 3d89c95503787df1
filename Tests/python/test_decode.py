"""Decoded stored values and attributes against pydicom (+ pylibjpeg), the independent oracle."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pydicom
import pytest

import corpus as corpus_module
import vindr
from conftest import oracle_pixels

LOSSLESS = [(v.name, key) for v in corpus_module.VARIANTS for key in v.syntaxes if key in corpus_module.LOSSLESS]
LOSSY = [(v.name, key) for v in corpus_module.VARIANTS for key in v.syntaxes if key in corpus_module.LOSSY]
# Largest difference allowed between two conforming decoders of a lossy stream: JPEG's IDCT is
# not bit-exact across implementations (ITU-T T.81 A.3.3 tolerance); the other codecs are exact.
LOSSY_TOLERANCE = {"jpeg50": 1, "jpeg51": 1, "jpegls81": 0, "j2k91": 0}
# On saturated edges (the corpus's edges* images) the 12-bit IDCTs of libjpeg (pydicom's oracle)
# and of GDCM's IJG build round the ringing differently: measured up to 3.
EDGE_TOLERANCE = {"jpeg51": 3}


def frames_of(path):
    expected = oracle_pixels(path)
    return expected if expected.ndim == 3 else expected[None]


@pytest.mark.parametrize("variant,syntax", LOSSLESS)
def test_lossless_decode_equals_pydicom(corpus, variant, syntax):
    path = corpus[variant][syntax]
    im = vindr.read_dicom(path)
    assert im.transfer_syntax_uid == corpus_module.LOSSLESS[syntax]
    for f, expected in enumerate(frames_of(path)):
        got = im.pixels(frame=f)
        assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("variant,syntax", LOSSY)
def test_lossy_decode_matches_pydicom(corpus, variant, syntax):
    path = corpus[variant][syntax]
    got = vindr.read_dicom(path).pixels()
    expected = frames_of(path)[0]
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    if ds.PixelRepresentation == 0:  # a lossy codec's overshoot saturates at the stored range
        expected = np.minimum(expected, (1 << ds.BitsStored) - 1)
    diff = np.abs(got.astype(np.int64) - expected.astype(np.int64))
    tolerance = EDGE_TOLERANCE.get(syntax, LOSSY_TOLERANCE[syntax]) if variant.startswith("edges") else LOSSY_TOLERANCE[syntax]
    assert diff.max() <= tolerance, diff.max()


def test_jpeg_decoding_writes_nothing_to_stderr(corpus):
    """A library must not print: every JPEG flavour (8/12-bit DCT, lossless) decodes silently."""
    paths = [str(p) for v in corpus.values() for key, p in v.items() if key.startswith("jpeg") and "ls" not in key]
    assert any("jpeg51" in p for p in paths)
    script = "import sys, vindr\nfor p in sys.argv[1:]: vindr.read_dicom(p).pixels()"
    r = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert r.returncode == 0, r.stderr
    assert r.stderr == "" and r.stdout == ""


@pytest.mark.parametrize("variant", [v.name for v in corpus_module.VARIANTS])
def test_attributes_match_pydicom(corpus, variant):
    path = corpus[variant]["explicit"]
    ds = pydicom.dcmread(path)
    im = vindr.read_dicom(path)
    assert (im.rows, im.columns) == (ds.Rows, ds.Columns)
    assert im.frames == int(ds.get("NumberOfFrames", 1))
    assert (im.bits_allocated, im.bits_stored, im.high_bit) == (ds.BitsAllocated, ds.BitsStored, ds.HighBit)
    assert im.pixel_representation == ds.PixelRepresentation
    assert im.photometric_interpretation == ds.PhotometricInterpretation
    assert im.sop_instance_uid == ds.SOPInstanceUID
    assert im.patient_sex == ds.PatientSex and im.patient_age == ds.PatientAge
    assert im.pixel_spacing == tuple(float(x) for x in ds.PixelSpacing)
    assert im.rescale_slope == (float(ds.RescaleSlope) if "RescaleSlope" in ds else None)
    assert im.rescale_intercept == (float(ds.RescaleIntercept) if "RescaleIntercept" in ds else None)
    centers = ds.get("WindowCenter")
    if centers is None:
        assert im.windows == []
    else:
        centers = list(centers) if isinstance(centers, pydicom.multival.MultiValue) else [centers]
        widths = ds.WindowWidth
        widths = list(widths) if isinstance(widths, pydicom.multival.MultiValue) else [widths]
        assert im.windows == [(float(c), float(w)) for c, w in zip(centers, widths)]
    assert im.voi_lut_function == ds.get("VOILUTFunction", "LINEAR")


def test_open_from_bytes_equals_open_from_path(corpus):
    path = corpus["u12m2"]["j2k90"]
    a = vindr.read_dicom(path.read_bytes()).pixels()
    np.testing.assert_array_equal(a, vindr.read_dicom(path).pixels())


@pytest.mark.parametrize("syntax", ["explicit", "implicit", "j2k90", "rle", "jpeg70", "jpegls80"])
def test_missing_transfer_syntax_is_inferred(corpus, tmp_path, syntax):
    """Some released VinDr-CXR files lack (0002,0010): the syntax is inferred from the data."""
    variant = "u12m2" if syntax in corpus["u12m2"] else "u12m1rescale"
    src = corpus[variant][syntax]
    ds = pydicom.dcmread(src)
    expected = oracle_pixels(src)
    ts = ds.file_meta.TransferSyntaxUID
    del ds.file_meta.TransferSyntaxUID
    out = tmp_path / "nots.dcm"
    ds.save_as(out, enforce_file_format=False, implicit_vr=ts.is_implicit_VR, little_endian=True)
    assert b"\x02\x00\x10\x00" not in out.read_bytes()[:400]
    im = vindr.read_dicom(out)
    assert im.transfer_syntax_inferred
    np.testing.assert_array_equal(im.pixels(), expected)


def test_j2k_precision_disagreeing_with_bits_stored(corpus, tmp_path):
    """A J2K stream of 12-bit precision in a file that says Bits Stored 16 (seen in the release):
    the stream's values are returned unchanged."""
    src = corpus["u12m2"]["j2k90"]
    expected = oracle_pixels(src)
    ds = pydicom.dcmread(src)
    ds.BitsStored = 16
    ds.HighBit = 15
    out = tmp_path / "prec.dcm"
    ds.save_as(out)
    np.testing.assert_array_equal(vindr.read_dicom(out).pixels(), expected)


def test_missing_pixel_data_is_a_clear_error(corpus, tmp_path):
    ds = pydicom.dcmread(corpus["u8"]["explicit"])
    del ds.PixelData
    out = tmp_path / "nopixels.dcm"
    ds.save_as(out)
    im = vindr.read_dicom(out)
    assert not im.has_pixel_data
    with pytest.raises(vindr.NoPixelDataError, match=r"nopixels\.dcm.*\(7FE0,0010\)"):
        im.pixels()
    with pytest.raises(vindr.NoPixelDataError):
        im.render(size=256)


SPARE_SCRIPT = """
import sys, threading, vindr
path, count = sys.argv[1], int(sys.argv[2])
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
before = rss()
opened, done = threading.Barrier(count + 1), threading.Event()
def work():
    vindr.read_dicom(path).pixels()
    opened.wait()
    done.wait()  # the thread stays alive, and with it any spare buffer it keeps
threads = [threading.Thread(target=work) for _ in range(count)]
for t in threads:
    t.start()
opened.wait()
print(rss() - before)
done.set()
for t in threads:
    t.join()
"""


def test_threads_keep_spare_file_buffers_within_512_mib(corpus, tmp_path):
    """Each thread keeps its last file buffer for its next file, but all threads together keep at
    most 512 MiB: 96 live threads that each read a 13 MB file do not hold 96 of them."""
    whole = corpus["u12m2"]["explicit"].read_bytes()
    assert len(whole) > 10 << 20, len(whole)
    # Blocks of 1 MiB and more are mapped and unmapped by malloc (no dynamic threshold, no arena
    # caching), so resident memory counts the blocks still held.
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(vindr.__file__).parents[1]), "OPENBLAS_NUM_THREADS": "1",
           "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
    grown = {}
    for count in (4, 96):
        r = subprocess.run([sys.executable, "-c", SPARE_SCRIPT, str(corpus["u12m2"]["explicit"]), str(count)],
                           capture_output=True, text=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr[-2000:]
        grown[count] = int(r.stdout.split()[-1])
    # 4 threads keep their buffers; 96 would keep 96 x 13 MB = 1.3 GB without the cap.
    assert grown[4] >= 3 * len(whole), grown
    assert grown[96] <= (512 << 20) + (128 << 20), grown
