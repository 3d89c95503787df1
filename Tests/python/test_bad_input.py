"""Bad input: every broken file gives a VinDrError naming the file, and never crashes the host.

The corpus: truncations at many offsets (header, attributes, pixel data, inside codec streams),
empty and random bytes, text, a missing Pixel Data element, lengths that lie, corrupted codec
streams. Each case is opened from a path and from memory, then decoded and rendered.
"""
from __future__ import annotations

import os
import pathlib
import struct
import subprocess
import sys

import numpy as np
import pydicom
import pytest

import vindr


def attempt(source):
    """Opens, decodes and renders; returns the error raised (None when everything succeeded)."""
    try:
        im = vindr.read_dicom(source)
        im.pixels()
        im.render(size=256)
        im.render(dtype="float32", window="auto")
    except vindr.VinDrError as e:
        assert e.message, "errors carry a message"
        assert e.status != 0
        return e
    return None


def cases_truncated(corpus):
    for variant, syntax in [("u12m2", "explicit"), ("u12m2", "implicit"), ("u12m2", "big"), ("u12m2", "j2k90"),
                            ("u12m2", "rle"), ("u12m2", "jpeg70"), ("u12m2", "jpegls80"), ("u12m2", "deflated"),
                            ("u8", "jpeg50"), ("multiframe", "j2k90")]:
        data = corpus[variant][syntax].read_bytes()
        n = len(data)
        cuts = sorted({0, 1, 64, 128, 131, 132, 140, 200, 300, 500, 700, 900, n // 4, n // 2, 3 * n // 4, n - 100, n - 9, n - 2})
        for cut in cuts:
            if 0 <= cut < n - 1:
                yield f"{variant}-{syntax}-cut{cut}", data[:cut]


def test_truncated_files_fail_cleanly(corpus, tmp_path):
    failures = []
    for name, data in cases_truncated(corpus):
        path = tmp_path / f"{name}.dcm"
        path.write_bytes(data)
        for source in (path, data):
            err = attempt(source)
            if err is None:
                # A cut inside a trailing JPEG/J2K marker may still decode; only pixel-complete data may.
                if len(data) < 0.99 * len(path.read_bytes()):
                    failures.append(f"{name}: no error")
            elif isinstance(source, type(path)) and str(path) not in err.message:
                failures.append(f"{name}: message does not name the file: {err.message}")
    assert not failures, failures


@pytest.mark.parametrize("data", [b"", b"\x00" * 1000, b"DICM" * 10, b"hello, I am not a DICOM file\n" * 50,
                                  bytes(np.random.default_rng(7).integers(0, 256, 5000, dtype=np.uint8)),
                                  b"\x00" * 128 + b"DICM" + bytes(np.random.default_rng(8).integers(0, 256, 3000, dtype=np.uint8))])
def test_garbage_is_an_error(tmp_path, data):
    path = tmp_path / "garbage.dcm"
    path.write_bytes(data)
    err = attempt(path)
    assert isinstance(err, (vindr.FormatError, vindr.NoPixelDataError)), err
    assert "garbage.dcm" in err.message
    assert isinstance(attempt(data), (vindr.FormatError, vindr.NoPixelDataError))


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(vindr.VinDrIOError, match="nope.dcm"):
        vindr.read_dicom(tmp_path / "nope.dcm")
    with pytest.raises(vindr.VinDrError):
        vindr.read_dicom(tmp_path)


def test_a_file_read_after_a_larger_one_is_read_as_it_is(corpus, tmp_path):
    """A thread reuses its last file buffer (no zero fill): what a file reads as must not depend
    on a larger file read before it. Each cut copy gives the same outcome after the whole file
    as in a fresh process, and the whole file still reads exactly after its cut copies."""
    whole = corpus["u12m2"]["explicit"]
    data = whole.read_bytes()
    cuts = []
    for cut in (len(data) // 2, len(data) - 2, 600):
        cuts.append(tmp_path / f"cut{cut}.dcm")
        cuts[-1].write_bytes(data[:cut])
    code = ("import sys, vindr\n"
            "for p in sys.argv[1:]:\n"
            "    try:\n"
            "        print(vindr.read_dicom(p).pixels().sum())\n"
            "    except vindr.VinDrError as e:\n"
            "        print(type(e).__name__, e.message)\n")
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(vindr.__file__).parents[1])}
    fresh = [subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, check=True,
                            env=env).stdout.strip() for p in cuts]
    expected = pydicom.dcmread(whole).pixel_array
    for p, outcome in zip(cuts, fresh):
        assert np.array_equal(vindr.read_dicom(whole).pixels(), expected)
        try:
            here = str(vindr.read_dicom(p).pixels().sum())
        except vindr.VinDrError as e:
            here = f"{type(e).__name__} {e.message}"
        assert here == outcome, p.name
    assert np.array_equal(vindr.read_dicom(whole).pixels(), expected)


def patch_pixel_length(data: bytes, new_length: int) -> bytes:
    at = data.rfind(b"\xe0\x7f\x10\x00OW\x00\x00")
    assert at > 0
    return data[:at + 8] + struct.pack("<I", new_length) + data[at + 12:]


def test_lengths_that_lie(corpus, tmp_path):
    data = corpus["u12m2"]["explicit"].read_bytes()
    cases = {
        "pixel-longer-than-file": patch_pixel_length(data, len(data) * 2),
        "pixel-shorter-than-image": patch_pixel_length(data, 1000),
        "pixel-odd-huge": patch_pixel_length(data, 0xFFFFFFF1),
    }
    # An attribute whose 16-bit length runs past the end of the data set.
    at = data.find(b"\x28\x00\x04\x00CS")
    cases["attribute-length-past-end"] = data[:at + 6] + b"\xff\xff" + data[at + 8:at + 40]
    for name, bad in cases.items():
        path = tmp_path / f"{name}.dcm"
        path.write_bytes(bad)
        err = attempt(path)
        assert err is not None, name
        assert name in err.message, err.message


def test_corrupted_codec_streams_do_not_crash(corpus, tmp_path):
    rng = np.random.default_rng(11)
    for syntax in ["j2k90", "rle", "jpeg70", "jpegls80"]:
        data = bytearray(corpus["u12m2"][syntax].read_bytes())
        for k in range(4):
            bad = bytearray(data)
            start = len(bad) // 2 + k * 997
            bad[start:start + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
            path = tmp_path / f"{syntax}-{k}.dcm"
            path.write_bytes(bytes(bad))
            attempt(path)  # an error or (for entropy-coded garbage) noise pixels; never a crash


def test_rle_header_lies(corpus, tmp_path):
    ds = pydicom.dcmread(corpus["multiframe"]["rle"])
    frames = list(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=3))
    bad = bytearray(frames[0])
    bad[4:8] = struct.pack("<I", 10_000_000)  # first segment offset beyond the frame
    ds.PixelData = pydicom.encaps.encapsulate([bytes(bad)] + frames[1:])
    out = tmp_path / "rle-lies.dcm"
    ds.save_as(out)
    with pytest.raises(vindr.DecodeError, match="rle-lies.dcm.*RLE segment"):
        vindr.read_dicom(out).pixels()
    np.testing.assert_array_equal(vindr.read_dicom(out).pixels(frame=1), pydicom.dcmread(corpus["multiframe"]["rle"]).pixel_array[1])


def test_bad_arguments_through_the_abi_raise(corpus):
    im = vindr.read_dicom(corpus["u8"]["explicit"])
    with pytest.raises(vindr.InvalidArgumentError):
        im.pixels(frame=-1)
    im.close()
    with pytest.raises(ValueError):
        im.pixels()


@pytest.mark.parametrize("rows,columns", [(0, 16), (16, 0), (0, 0)])
def test_zero_sized_images_are_errors_not_traps(tmp_path, rows, columns):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = rows, columns, 16, 12, 11
    ds.SamplesPerPixel, ds.PixelRepresentation, ds.PhotometricInterpretation = 1, 0, "MONOCHROME2"
    ds.PixelData = b"\x00\x00" * 4
    path = tmp_path / "zero.dcm"
    ds.save_as(path, enforce_file_format=True)
    im = vindr.read_dicom(path)
    for size in (None, 64, (32, 32)):
        with pytest.raises(vindr.VinDrError):
            im.render(size=size)
    with pytest.raises(vindr.VinDrError):
        im.pixels()
    samples = [vindr.Sample("zero", str(path))]
    with pytest.raises(vindr.VinDrError, match="zero"):
        for _ in vindr.Loader(samples, 32, batch_size=1):
            pass


COUNTS_SCRIPT = r'''
import ctypes, math, sys
sys.path.insert(0, sys.argv[1])
from vindr import boxes, metrics

dp, i64p, szp = ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_size_t)
huge = 1 << 33
mean = ctypes.c_double()
# A huge label count with out_ap NULL (optional): nothing to write, so nothing to loop over.
print(metrics._evaluate(None, None, None, 0, None, None, None, None, 0, 1, huge, 0.4, 0, ctypes.byref(mean), None),
      math.isnan(mean.value))
# A label count no caller buffer can hold.
print(metrics._evaluate(None, None, None, 0, None, None, None, None, 0, 1, 1 << 60, 0.4, 0, ctypes.byref(mean), None))
# Huge counts over a small input with a NULL output: refused before reading the input.
few = (ctypes.c_double * 16)()
print(boxes._convert(few, huge, 0, 1, 1.0, 1.0, None))
sizes = (ctypes.c_size_t * 1)(huge)
print(boxes._nms(few, few, few, sizes, 1, None, 0.5, None, None, None, None, None, None))
print(boxes._wbf(few, few, ctypes.cast(few, i64p), sizes, 1, None, 0.5, 0.0, 0, False, True, None, None, None, None, None))
print(boxes._soft_nms(few, few, few, sizes, 1, None, 1, 0.5, 0.5, 0.001, None, None, None, None, None, None, None))
'''


def test_huge_counts_with_null_pointers_fail_at_once():
    """A count with a NULL or too small buffer is VDR_ERR_ARGUMENT before any loop over it."""
    import pathlib
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", COUNTS_SCRIPT, str(pathlib.Path(vindr.__file__).parents[1])],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:-1] == ["0 True", "1", "1", "1", "1", "1"]


@pytest.mark.parametrize("uid,name", [("1.2.840.10008.1.2.4.110", "JPEG XL Lossless"),
                                      ("1.2.840.10008.1.2.4.111", "JPEG XL JPEG Recompression"),
                                      ("1.2.840.10008.1.2.4.112", "JPEG XL"),
                                      ("1.2.826.0.1.3680043.9.9999.1", None)])
def test_a_transfer_syntax_gdcm_does_not_know_is_unsupported_not_malformed(uid, name, tmp_path):
    """A well-formed file (pydicom reads it back) whose syntax GDCM 3.0 does not know: an
    UnsupportedError naming the syntax, from open (path and memory) and de-identification alike; it
    used to read "not a readable DICOM file (GDCM could not parse it)"."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import UID
    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = "1.2.3.4"
    # pydicom 3.0 refuses to write the JPEG XL UIDs: the file is written under HTJ2K's .201, a UID
    # of the same length and encoding, which is then overwritten.
    stand_in = "1.2.840.10008.1.2.4.201" if len(uid) == 23 else uid
    ds.file_meta.TransferSyntaxUID = UID(stand_in)
    ds.SOPClassUID, ds.Modality, ds.Rows, ds.Columns = "1.2.840.10008.5.1.4.1.1.1.1", "DX", 8, 8
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = encapsulate([b"\xff\x0a" + bytes(62)])  # a JPEG XL codestream's signature
    ds["PixelData"].VR = "OB"
    path = tmp_path / "syntax.dcm"
    ds.save_as(path, enforce_file_format=True, implicit_vr=False, little_endian=True)  # as PS3.5 A.4 encodes them
    path.write_bytes(path.read_bytes().replace(stand_in.encode(), uid.encode(), 1))
    assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == uid  # the oracle: a valid file
    expected = f"transfer syntax {uid}" + (f" ({name})" if name else "") + " in (0002,0010) is not supported"
    for source in (str(path), path.read_bytes()):
        with pytest.raises(vindr.UnsupportedError) as e:
            vindr.read_dicom(source)
        assert expected in str(e.value)
    result = vindr.deidentify(str(path), str(tmp_path / "out"), profile="basic", salt="s")
    assert result.failed == 1 and expected in result.files[0]["error"]


FIFO_SCRIPT = """
import os, sys, vindr
fifo, out = sys.argv[1], sys.argv[2]
for name, call in [("read_dicom", lambda: vindr.read_dicom(fifo)),
                   ("deidentify", lambda: vindr.deidentify(fifo, out))]:
    try:
        r = call()
        print(name, "returned", getattr(r, "files", r))
    except vindr.VinDrError as e:
        print(name, type(e).__name__, e.message)
"""


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    """Opening a FIFO for reading blocks until something writes to it; the library opens without
    blocking and refuses what is not a regular file, naming it."""
    fifo = tmp_path / "scan.dcm"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(vindr.__file__).parents[1])}
    r = subprocess.run([sys.executable, "-c", FIFO_SCRIPT, str(fifo), str(tmp_path / "out")], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert lines[0] == f"read_dicom VinDrIOError {fifo}: cannot read file (not a regular file)", lines
    assert lines[1].startswith("deidentify"), lines
    assert "not a regular file" in lines[1], lines
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
