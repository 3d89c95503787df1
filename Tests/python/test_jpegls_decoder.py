"""JPEG-LS (ITU-T T.87, PS3.5 A.4.3) through the library's own decoder: pixels() and
vdr_dicom_decode against the values encoded (lossless), CharLS's decoding of the same stream
(libcharls through ctypes: near-lossless, presets, restart intervals), DCMTK's dcmdjpls, and
streams from DCMTK's dcmcjpls and GDCM's gdcmconv. Cut, corrupted and lying streams raise
vindr's errors in a child process, promptly."""
from __future__ import annotations

import json
import pathlib
import struct
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, generate_frames

import corpus as corpus_module
from jpegls_streams import charls_decode, charls_encode, scan_data, with_restarts
import vindr
from vindr._lib import check
from vindr.dicom import _decode

LOSSLESS = "1.2.840.10008.1.2.4.80"
NEAR_LOSSLESS = "1.2.840.10008.1.2.4.81"


# ----------------------------------------------------------------------------- files
def write(path: pathlib.Path, frames: list[bytes], shape: tuple[int, int, int], dtype, bits_stored: int,
          syntax: str = LOSSLESS) -> pathlib.Path:
    count, rows, columns = shape
    dtype = np.dtype(dtype)
    variant = corpus_module.Variant("jpegls", rows, columns, bits_allocated=8 * dtype.itemsize, bits_stored=bits_stored,
                                    signed=dtype.kind == "i", frames=count)
    ds = corpus_module.base_dataset(variant, np.zeros(shape, dtype))
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate(frames, has_bot=True)
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def stored(raw: np.ndarray, dtype, bits_stored: int) -> np.ndarray:
    """The stream's samples as stored values (PS3.5 8.1.1) of `dtype`."""
    v = raw.astype(np.int64) & ((1 << bits_stored) - 1)
    if np.dtype(dtype).kind == "i":
        v = np.where(v >> (bits_stored - 1) & 1, v - (1 << bits_stored), v)
    return v.astype(dtype)


def decoded_both_ways(path: pathlib.Path, frame: int = 0) -> np.ndarray:
    """pixels(), checked equal to vdr_dicom_decode into rows wider than the image."""
    im = vindr.read_dicom(path)
    got = im.pixels(frame=frame)
    out = np.full((got.shape[0], got.shape[1] + 3), 0x55, got.dtype)
    check(_decode(im._handle(), frame, out.ctypes.data, out.nbytes, out.strides[0]))
    np.testing.assert_array_equal(out[:, :got.shape[1]], got)
    assert (out[:, got.shape[1]:] == np.array(0x55, got.dtype)).all()
    return got


def image(kind: str, rows: int, columns: int, bits: int, seed: int = 0) -> np.ndarray:
    """Unsigned test content below 2^bits: flat (run mode), noise (regular mode), a CXR-like
    picture with sharp edges (both, and run interruptions at the edges)."""
    rng = np.random.default_rng(seed + rows * 31 + columns + bits)
    top = (1 << bits) - 1
    if kind == "flat":
        v = np.full((rows, columns), top // 3, np.int64)
        v[rows // 2:, columns // 2:] = top
    elif kind == "noise":
        v = rng.integers(0, top, (rows, columns), endpoint=True)
    else:
        h, w = max(rows, 160), max(columns, 240)  # drawn at a size the edges fit in, then cropped
        v = corpus_module.cxr_like(h, w, 12, False, seed=seed)
        v = corpus_module.sharp_edges(v, 12).astype(np.int64)[h - rows:, :columns]
        v = v >> 4 if bits < 12 else v
        v = np.clip(v, 0, top)
    return v.astype(np.uint8 if bits <= 8 else np.uint16)


# ----------------------------------------------------------------------------- decoding
SIZES = [(1, 1), (1, 37), (29, 1), (131, 257)]


@pytest.mark.parametrize("bits", [2, 5, 8, 10, 12, 16])
@pytest.mark.parametrize("kind", ["flat", "noise", "cxr"])
@pytest.mark.parametrize("near", [0, 1, 2, 5])
def test_decodes_as_charls_and_lossless_as_the_values(tmp_path, bits, kind, near):
    if near > ((1 << bits) - 1) // 2:
        pytest.skip("NEAR above MAXVAL / 2")
    for rows, columns in SIZES:
        values = image(kind, rows, columns, bits)
        stream = charls_encode(values, bits, near)
        dtype = np.uint8 if bits <= 8 else np.uint16
        path = write(tmp_path / f"{rows}x{columns}.dcm", [stream], (1, rows, columns), dtype, bits,
                     LOSSLESS if near == 0 else NEAR_LOSSLESS)
        got = decoded_both_ways(path)
        expected = charls_decode(stream, dtype)
        np.testing.assert_array_equal(got, expected, err_msg=f"{rows}x{columns}")
        if near == 0:
            np.testing.assert_array_equal(got, values)
        else:
            assert np.abs(got.astype(np.int64) - values).max() <= near


@pytest.mark.parametrize("preset", [(0, 2, 5, 9, 32), (0, 10, 40, 200, 7), (2047, 0, 0, 0, 0), (1023, 17, 18, 900, 300),
                                    (511, 0, 0, 0, 64), (4095, 1, 1, 1, 3), (4095, 0, 0, 0, 4000)])
@pytest.mark.parametrize("near", [0, 3])
def test_preset_parameters(tmp_path, preset, near):
    """LSE id 1 (T.87 C.2.4.1.1): MAXVAL, T1, T2, T3, RESET given, 0 for a default. CharLS
    codes RANGE and LIMIT from P whatever MAXVAL says, so a MAXVAL below 2^P - 1 is left to
    it (the same values as before); the rest is decoded here."""
    maxval = preset[0] or 4095
    if preset[1] and preset[1] < near + 1:
        pytest.skip("T1 below NEAR + 1")
    values = np.minimum(image("cxr", 131, 257, 12), maxval).astype(np.uint16)
    values[:5] = image("noise", 5, 257, 12)[:5] % (maxval + 1)
    stream = charls_encode(values, 12, near, preset)
    assert b"\xff\xf8\x00\x0d\x01" in stream
    path = write(tmp_path / "preset.dcm", [stream], (1, 131, 257), np.uint16, 12, LOSSLESS if near == 0 else NEAR_LOSSLESS)
    got = decoded_both_ways(path)
    np.testing.assert_array_equal(got, np.minimum(charls_decode(stream, np.uint16), 4095))
    if near == 0:
        np.testing.assert_array_equal(got, values)


@pytest.mark.parametrize("interval", [1, 2, 7, 64])
@pytest.mark.parametrize("near", [0, 2])
def test_restart_intervals(tmp_path, interval, near):
    values = image("cxr", 131, 257, 12)
    stream = with_restarts(values, 12, interval, near)
    path = write(tmp_path / "restart.dcm", [stream], (1, 131, 257), np.uint16, 12, LOSSLESS if near == 0 else NEAR_LOSSLESS)
    got = decoded_both_ways(path)
    np.testing.assert_array_equal(got, charls_decode(stream, np.uint16))
    if near == 0:
        np.testing.assert_array_equal(got, values)


def test_restart_marker_out_of_sequence_is_an_error(tmp_path):
    stream = bytearray(with_restarts(image("cxr", 40, 50, 12), 12, 8))
    stream[stream.index(b"\xff\xd1") + 1] = 0xD3
    path = write(tmp_path / "rst.dcm", [bytes(stream)], (1, 40, 50), np.uint16, 12)
    with pytest.raises(vindr.DecodeError, match="rst.dcm.*RST1"):
        vindr.read_dicom(path).pixels()


@pytest.mark.parametrize("dtype,bits", [(np.int16, 12), (np.int16, 16), (np.int8, 8), (np.int8, 6)])
def test_signed_values(tmp_path, dtype, bits):
    """Signed data is coded as its two's complement bit pattern (PS3.5 8.1.1 sign extension)."""
    signed = (image("cxr", 131, 257, bits).astype(np.int64) - (1 << (bits - 1)))
    raw = (signed & ((1 << bits) - 1)).astype(np.uint8 if bits <= 8 else np.uint16)
    stream = charls_encode(raw, bits)
    path = write(tmp_path / "signed.dcm", [stream], (1, 131, 257), dtype, bits)
    np.testing.assert_array_equal(decoded_both_ways(path), signed.astype(dtype))


def test_near_lossless_overshoot_saturates_at_bits_stored(tmp_path):
    """A 16-bit near-lossless stream of 12-bit data may reconstruct 4095 + NEAR: saturated, not masked."""
    values = np.full((20, 30), 4095, np.uint16)
    values[::3, ::2] = 4090
    stream = charls_encode(values, 16, 5)
    path = write(tmp_path / "over.dcm", [stream], (1, 20, 30), np.uint16, 12, NEAR_LOSSLESS)
    expected = np.minimum(charls_decode(stream, np.uint16), 4095)
    np.testing.assert_array_equal(decoded_both_ways(path), expected)


def test_multi_frame(tmp_path):
    frames = [image(kind, 67, 45, 12, seed=i) for i, kind in enumerate(["cxr", "noise", "flat"])]
    path = write(tmp_path / "multi.dcm", [charls_encode(f, 12) for f in frames], (3, 67, 45), np.uint16, 12)
    for i, f in enumerate(frames):
        np.testing.assert_array_equal(decoded_both_ways(path, i), f)


@pytest.mark.parametrize("near,dtype,bits", [(0, np.uint16, 12), (3, np.uint16, 12), (0, np.int16, 16), (0, np.uint8, 8),
                                             (2, np.uint16, 10)])
def test_decoded_into_a_new_array_as_into_the_callers(tmp_path, near, dtype, bits):
    """The path that decodes into the library's own array (withPixels: rendering, transcoding),
    seen through a transcode to Explicit VR Little Endian, gives what pixels() gives."""
    frames = [image(kind, 37, 53, bits, seed=i) for i, kind in enumerate(["cxr", "noise"])]
    path = write(tmp_path / "src.dcm", [charls_encode(f, bits, near) for f in frames], (2, 37, 53), dtype, bits,
                 LOSSLESS if near == 0 else NEAR_LOSSLESS)
    result = vindr.transcode(path, tmp_path / "native.dcm", to="explicit-le")
    assert result.written == 1, result.files
    native = pydicom.dcmread(tmp_path / "native.dcm").pixel_array
    for i in range(2):
        np.testing.assert_array_equal(native[i], decoded_both_ways(path, i))


def dcmtk_decoded(path: pathlib.Path, tmp_path: pathlib.Path) -> np.ndarray:
    out = tmp_path / "dcmdjpls.dcm"
    subprocess.run(["dcmdjpls", str(path), str(out)], check=True)
    return pydicom.dcmread(out).pixel_array


@pytest.mark.parametrize("options", [["+el"], ["+en", "+md", "1"], ["+en", "+md", "5"], ["+el", "+t1", "5", "+t2", "9", "+t3", "30", "+rs", "20"],
                                     ["+en", "+md", "2", "+t1", "8", "+t2", "20", "+t3", "50", "+rs", "100"]])
@pytest.mark.parametrize("variant", ["u12", "u8", "u16", "s12"])
def test_dcmtk_streams(tmp_path, options, variant):
    bits, dtype = {"u12": (12, np.uint16), "u8": (8, np.uint8), "u16": (16, np.uint16), "s12": (12, np.int16)}[variant]
    if variant == "s12" and options[0] == "+en":
        pytest.skip("dcmcjpls refuses near-lossless coding of signed data")
    values = image("cxr", 131, 257, bits)
    if dtype == np.uint16 and bits == 16:
        values = (values.astype(np.int64) * 16 + 7).astype(np.uint16)
    if np.dtype(dtype).kind == "i":
        values = (values.astype(np.int64) - 2048).astype(dtype)
    v = corpus_module.Variant(variant, 131, 257, bits_allocated=8 * np.dtype(dtype).itemsize, bits_stored=bits,
                              signed=np.dtype(dtype).kind == "i")
    src = tmp_path / "native.dcm"
    corpus_module.base_dataset(v, values).save_as(src, enforce_file_format=True)
    path = tmp_path / "dcmtk.dcm"
    subprocess.run(["dcmcjpls", *options, str(src), str(path)], check=True)
    got = decoded_both_ways(path)
    np.testing.assert_array_equal(got, dcmtk_decoded(path, tmp_path))
    stream = next(generate_frames(pydicom.dcmread(path).PixelData, number_of_frames=1))
    np.testing.assert_array_equal(got, stored(charls_decode(stream, np.uint16), dtype, bits))
    if options[0] == "+el":
        np.testing.assert_array_equal(got, values)


@pytest.mark.parametrize("variant,syntax", [("u12m2", "jpegls80"), ("u12m2", "jpegls81"), ("s16", "jpegls80"), ("u8", "jpegls80"),
                                            ("edges12", "jpegls80"), ("edges12", "jpegls81"), ("u12m1rescale", "jpegls80")])
def test_gdcm_streams_of_the_corpus(corpus, tmp_path, variant, syntax):
    path = corpus[variant][syntax]
    got = decoded_both_ways(path)
    ds = pydicom.dcmread(path)
    stream = next(generate_frames(ds.PixelData, number_of_frames=1))
    charls = stored(charls_decode(stream, np.uint16), got.dtype, ds.BitsStored)
    if syntax == "jpegls80":
        np.testing.assert_array_equal(got, dcmtk_decoded(path, tmp_path))
        np.testing.assert_array_equal(got, pydicom.dcmread(corpus[variant]["explicit"]).pixel_array)
        np.testing.assert_array_equal(got, charls)
    else:  # GDCM codes 12-bit data near-losslessly as 16-bit samples: 4095 + NEAR saturates, where dcmdjpls wraps it
        np.testing.assert_array_equal(got, np.minimum(charls_decode(stream, np.uint16), (1 << ds.BitsStored) - 1))


# ----------------------------------------------------------------------------- hostile streams
CHILD = r"""
import json, sys, time
import vindr
out = []
for path in sys.argv[1:]:
    t = time.monotonic()
    try:
        vindr.read_dicom(path).pixels()
        out.append([path, None, "", time.monotonic() - t])
    except vindr.VinDrError as e:
        out.append([path, type(e).__name__, str(e), time.monotonic() - t])
print(json.dumps(out))
"""


def attempt_in_child(paths: list[pathlib.Path]) -> list[tuple[str, str | None, str, float]]:
    """Decodes each file in a child process (a crash fails the test, not the run)."""
    r = subprocess.run([sys.executable, "-c", CHILD, *map(str, paths)], capture_output=True, text=True, timeout=600,
                       env={**__import__("os").environ, "PYTHONPATH": ":".join(sys.path)})
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def test_cut_streams_raise_promptly(tmp_path):
    values = image("cxr", 131, 257, 12)
    stream = charls_encode(values, 12)
    _, data = scan_data(stream)
    header = len(stream) - len(data) - 2
    cuts = sorted(set(list(range(2, header + 3)) + list(range(header, len(stream) - 2, 97)) + [len(stream) - 3]))
    paths = []
    for i, cut in enumerate(cuts):
        for eoi in (False, True):
            part = stream[:cut] + (b"\xff\xd9" if eoi else b"")
            paths.append(write(tmp_path / f"cut{i}-{int(eoi)}.dcm", [part], (1, 131, 257), np.uint16, 12))
    results = attempt_in_child(paths)
    for path, error, message, seconds in results:
        assert error in ("DecodeError", "FormatError"), (path, error, message)
        assert pathlib.Path(path).name in message, message
        assert seconds < 1, (path, seconds)
    assert sum("truncated" in message for _, _, message, _ in results) > len(cuts), "a cut scan is named as such"


def test_garbage_scans_raise_or_decode_without_crashing(tmp_path):
    values = image("cxr", 131, 257, 12)
    stream = charls_encode(values, 12)
    header = len(stream) - len(scan_data(stream)[1]) - 2
    rng = np.random.default_rng(5)
    paths = []
    for i in range(60):
        bad = bytearray(stream)
        at = int(rng.integers(header, len(stream) - 2))
        n = int(rng.integers(1, 200))
        bad[at:at + n] = rng.integers(0, 256, len(bad[at:at + n]), dtype=np.uint8).tobytes()
        if i % 3 == 0:  # garbage of all-FF or all-zero runs: markers everywhere, or endless unary codes
            bad[at:at + n] = (b"\xff" if i % 2 else b"\x00") * len(bad[at:at + n])
        paths.append(write(tmp_path / f"garbage{i}.dcm", [bytes(bad)], (1, 131, 257), np.uint16, 12))
    paths.append(write(tmp_path / "random.dcm", [rng.integers(0, 256, 5000, dtype=np.uint8).tobytes()], (1, 131, 257), np.uint16, 12))
    results = attempt_in_child(paths)
    for path, error, message, seconds in results:
        assert error in (None, "DecodeError", "FormatError"), (path, error, message)
        assert seconds < 1, (path, seconds)
    assert results[-1][1] == "DecodeError", results[-1]


def frame_header(stream: bytes, **fields) -> bytes:
    """`stream` with SOF55 fields (precision, rows, columns) replaced."""
    b = bytearray(stream)
    sof = b.index(b"\xff\xf7")
    if "precision" in fields:
        b[sof + 4] = fields["precision"]
    if "rows" in fields:
        b[sof + 5:sof + 7] = struct.pack(">H", fields["rows"])
    if "columns" in fields:
        b[sof + 7:sof + 9] = struct.pack(">H", fields["columns"])
    return bytes(b)


@pytest.mark.parametrize("fields,words", [({"precision": 1}, ["precision 1"]), ({"precision": 17}, ["precision 17"]),
                                          ({"rows": 130}, ["257x130", "(0028,0010)"]), ({"columns": 258}, ["258x131"]),
                                          ({"rows": 65535, "columns": 65535}, ["65535x65535"]),
                                          ({"columns": 0}, ["width 0"])])
def test_frame_header_lies(tmp_path, fields, words):
    stream = frame_header(charls_encode(image("cxr", 131, 257, 12), 12), **fields)
    path = write(tmp_path / "lies.dcm", [stream], (1, 131, 257), np.uint16, 12)
    [(_, error, message, seconds)] = attempt_in_child([path])
    assert error in ("DecodeError", "FormatError"), message
    assert "lies.dcm" in message and all(w in message for w in words), message


def test_stream_wider_than_the_samples_is_an_error(tmp_path):
    stream = charls_encode(image("cxr", 20, 30, 12), 12)
    path = write(tmp_path / "wide.dcm", [stream], (1, 20, 30), np.uint8, 8)
    with pytest.raises(vindr.DecodeError, match="wide.dcm.*12-bit"):
        vindr.read_dicom(path).pixels()


@pytest.mark.parametrize("preset", [b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02", b"\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                                    b"\x00\x00\x00\x09\x00\x05\x00\x00\x00\x00"])
def test_invalid_preset_parameters_are_errors(tmp_path, preset):
    """RESET 2, MAXVAL 4096 for 12 bits, T2 below T1."""
    stream = charls_encode(image("cxr", 20, 30, 12), 12)
    sof = stream.index(b"\xff\xf7")
    stream = stream[:sof] + b"\xff\xf8\x00\x0d\x01" + preset + stream[sof:]
    path = write(tmp_path / "preset.dcm", [stream], (1, 20, 30), np.uint16, 12)
    with pytest.raises(vindr.DecodeError, match="preset.dcm.*(MAXVAL|RESET)"):
        vindr.read_dicom(path).pixels()
