"""Lossless JPEG (ITU-T T.81 Annex H, process 14; PS3.5 A.4.1, transfer syntaxes .57 and .70)
decoded by the library's own decoder: bit-exact against the values coded and against two
independent decoders, pydicom with pylibjpeg-libjpeg and DCMTK's dcmdjpeg, on streams from
DCMTK's dcmcjpeg and from the encoder below (which writes what dcmcjpeg cannot: restart
intervals, long Huffman codes, 16-bit difference category, fill bytes, table redefinition).
Corrupt and truncated streams must give a DecodeError (or FormatError for a frame header that
disagrees with Rows/Columns) naming the file, in a child process so that a crash fails the test
rather than the runner."""
from __future__ import annotations

import json
import os
import pathlib
import struct
import subprocess
import sys

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate

import corpus as corpus_module
import vindr
from ljpeg_encoder import dht, encode, segment
from conftest import oracle_pixels
from vindr._lib import check
from vindr.dicom import _decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
SV1 = "1.2.840.10008.1.2.4.70"
PROCESS14 = "1.2.840.10008.1.2.4.57"


# ------------------------------------------------------------------------------------ files
def dtype_for(bits_allocated: int, signed: bool):
    return {(8, False): np.uint8, (8, True): np.int8, (16, False): np.uint16, (16, True): np.int16}[(bits_allocated, signed)]


def image(rows: int, cols: int, bits: int, signed: bool, seed: int, frames: int = 1) -> np.ndarray:
    """Smooth CXR-like content with noise and a few full-range jumps, `bits` stored bits."""
    if rows >= 8 and cols >= 8:
        img = corpus_module.cxr_like(rows, cols, bits, signed, seed, frames)
    else:
        rng = np.random.default_rng(seed)
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        img = rng.integers(lo, hi, (frames, rows, cols) if frames > 1 else (rows, cols), endpoint=True)
        img = img.astype(dtype_for(8 if bits <= 8 else 16, signed))
    img = img.reshape(frames, rows, cols).copy()
    rng = np.random.default_rng(seed + 1)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    for f in range(frames):
        ys, xs = rng.integers(0, rows, 6), rng.integers(0, cols, 6)
        img[f, ys, xs] = np.where(np.arange(6) % 2, lo, hi)
    return img


def patterns(values: np.ndarray, bits: int) -> np.ndarray:
    """The P-bit unsigned patterns a lossless JPEG stream codes for stored values."""
    return values.astype(np.int64) & ((1 << bits) - 1)


def stored(values: np.ndarray, bits_stored: int, signed: bool) -> np.ndarray:
    v = patterns(values, bits_stored)
    if signed:
        v = np.where(v >> (bits_stored - 1) & 1, v - (1 << bits_stored), v)
    return v.astype(values.dtype)


def dataset(frames: np.ndarray, bits_stored: int, signed: bool):
    count, rows, cols = frames.shape
    variant = corpus_module.Variant("ljpeg", rows, cols, bits_allocated=8 * frames.dtype.itemsize, bits_stored=bits_stored,
                                    signed=signed, frames=count)
    return corpus_module.base_dataset(variant, frames if count > 1 else frames[0])


def write_encoded(path, frames: np.ndarray, bits_stored: int, signed: bool, streams: list[bytes], syntax: str = SV1,
                  fragments_per_frame: int = 1):
    ds = dataset(frames, bits_stored, signed)
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate(streams, fragments_per_frame=fragments_per_frame, has_bot=True)
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def dcmcjpeg(tmp_path, name: str, frames: np.ndarray, bits_stored: int, signed: bool, options: list[str]) -> pathlib.Path:
    native = tmp_path / f"{name}-native.dcm"
    dataset(frames, bits_stored, signed).save_as(native, enforce_file_format=True)
    out = tmp_path / f"{name}.dcm"
    subprocess.run(["dcmcjpeg", *options, str(native), str(out)], check=True, capture_output=True)
    return out


def dcmdjpeg_pixels(path: pathlib.Path) -> np.ndarray:
    """DCMTK's decoder (IJG 6b with the lossless patch), read back as native pixel data."""
    out = path.with_name(path.stem + "-dcmdjpeg.dcm")
    subprocess.run(["dcmdjpeg", str(path), str(out)], check=True, capture_output=True)
    return pydicom.dcmread(out).pixel_array


def vindr_frames(path) -> np.ndarray:
    im = vindr.read_dicom(path)
    return np.stack([im.pixels(frame=f) for f in range(im.frames)])


def check_against_oracles(path, expected: np.ndarray, bits_stored: int, signed: bool, pydicom_oracle: bool = True):
    """vindr's stored values equal `expected` (frames x rows x columns stored values), pydicom's
    and dcmdjpeg's values do too (both leave bits above Bits Stored as the stream has them), and
    vdr_dicom_decode into rows wider than the image gives them as well. pylibjpeg-libjpeg 2.5
    returns saturated samples for a point transform above 0, so those are checked against
    dcmdjpeg only (`pydicom_oracle` False)."""
    got = vindr_frames(path)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    oracles = [oracle_pixels(path)] if pydicom_oracle else []
    for oracle in oracles + [dcmdjpeg_pixels(pathlib.Path(path))]:
        np.testing.assert_array_equal(stored(oracle.reshape(expected.shape), bits_stored, signed), expected)
    im = vindr.read_dicom(path)
    frames, rows, cols = expected.shape
    for f in range(frames):
        out = np.full((rows, cols + 3), 0x55, expected.dtype)
        check(_decode(im._handle(), f, out.ctypes.data, out.nbytes, out.strides[0]))
        np.testing.assert_array_equal(out[:, :cols], expected[f])
        assert (out[:, cols:] == np.array(0x55, expected.dtype)).all()


# ------------------------------------------------------------------------------------ dcmcjpeg streams
DCMCJPEG_CASES = {  # name: (bits allocated, bits stored, signed, rows, columns, frames)
    "u8": (8, 8, False, 67, 45, 1),
    "u12": (16, 12, False, 257, 131, 1),
    "u16": (16, 16, False, 64, 50, 1),
    "s16": (16, 16, True, 50, 64, 1),
    "s12": (16, 12, True, 40, 33, 1),
    "u12-multiframe": (16, 12, False, 31, 29, 3),
    "1x1": (16, 12, False, 1, 1, 1),
    "1xN": (16, 12, False, 1, 97, 1),
    "Nx1": (16, 12, False, 97, 1, 1),
}


@pytest.mark.parametrize("name", sorted(DCMCJPEG_CASES))
@pytest.mark.parametrize("options", [["+e1"], ["+el", "+sv", "1"], ["+el", "+sv", "4"], ["+el", "+sv", "7"]],
                         ids=["sv1-70", "sv1-57", "sv4-57", "sv7-57"])
def test_dcmcjpeg_streams(tmp_path, name, options):
    bits_allocated, bits_stored, signed, rows, cols, count = DCMCJPEG_CASES[name]
    values = image(rows, cols, bits_stored, signed, seed=rows * cols + count, frames=count)
    path = dcmcjpeg(tmp_path, name, values, bits_stored, signed, options)
    assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == (SV1 if options == ["+e1"] else PROCESS14)
    check_against_oracles(path, stored(values, bits_stored, signed), bits_stored, signed)


@pytest.mark.parametrize("sv", range(1, 8))
@pytest.mark.parametrize("pt", [0, 3])
def test_dcmcjpeg_predictors_and_point_transform(tmp_path, sv, pt):
    bits_stored = 12
    values = image(57, 83, bits_stored, False, seed=sv)
    path = dcmcjpeg(tmp_path, f"sv{sv}-pt{pt}", values, bits_stored, False, ["+el", "+sv", str(sv), "+pt", str(pt)])
    expected = (stored(values, bits_stored, False) >> pt) << pt
    check_against_oracles(path, expected.astype(values.dtype), bits_stored, False, pydicom_oracle=pt == 0)


# ------------------------------------------------------------------------------------ own streams
@pytest.mark.parametrize("sv", range(1, 8))
@pytest.mark.parametrize("restart_lines", [0, 1, 5])
def test_predictors_with_restart_intervals(tmp_path, sv, restart_lines):
    bits_stored = 12
    values = image(23, 41, bits_stored, False, seed=10 + sv)
    stream = encode(values[0], bits_stored, sv=sv, restart_lines=restart_lines)
    path = write_encoded(tmp_path / "restart.dcm", values, bits_stored, False, [stream])
    check_against_oracles(path, values, bits_stored, False)


def test_sixteen_bit_differences_and_long_codes(tmp_path):
    """Jumps of 2^15 (category 16: no extra bits, T.81 H.1.2.2), codes of up to 14 bits for the
    frequent categories (beyond the 11-bit lookup), restarts, fill bytes before each marker."""
    rng = np.random.default_rng(5)
    values = rng.integers(0, 65535, (1, 19, 37), endpoint=True).astype(np.uint16)
    values[0, ::3, ::2] = 0
    values[0, 1::3, 1::2] = 32768
    values[0, 2] = np.arange(37) * 1800
    stream = encode(values[0], 16, sv=1, restart_lines=2, order=list(range(16, -1, -1)), fill=3)
    path = write_encoded(tmp_path / "sixteen.dcm", values, 16, False, [stream])
    check_against_oracles(path, values, 16, False)


@pytest.mark.parametrize("pt", [1, 4])
def test_point_transform_with_restarts(tmp_path, pt):
    values = image(16, 24, 16, True, seed=pt)
    stream = encode(patterns(values[0], 16), 16, sv=6, pt=pt, restart_lines=3)
    path = write_encoded(tmp_path / "pt.dcm", values, 16, True, [stream])
    expected = stored((patterns(values, 16) >> pt) << pt, 16, True).astype(values.dtype)
    check_against_oracles(path, expected, 16, True, pydicom_oracle=False)


def test_skipped_segments_and_a_redefined_table(tmp_path):
    """APP0, COM and a first DHT for the same destination (replaced by the second, T.81 B.2.4.2)
    before the frame; multi-frame, each frame in two fragments, process 14 syntax."""
    values = image(29, 31, 8, False, seed=3, frames=2)
    extra = segment(0xE0, b"JFIF\0" + b"\1\1\0\0\1\0\1\0\0") + segment(0xFE, b"a comment") + dht([0, 0, 0, 0, 0, 0, 0, 0, 2] + [0] * 7, [1, 2])
    streams = [encode(f, 8, sv=2, order=list(range(17)), extra=extra) for f in values]
    path = write_encoded(tmp_path / "segments.dcm", values, 8, False, streams, syntax=PROCESS14, fragments_per_frame=2)
    check_against_oracles(path, values, 8, False)


def test_render_of_a_corpus_sized_file_matches_the_stored_values(tmp_path):
    """A CXR-sized 12-bit SV1 file (dcmcjpeg, as the corpus makes them): stored values against pydicom."""
    values = corpus_module.cxr_like(1024, 896, 12, False, seed=7)[None]
    path = dcmcjpeg(tmp_path, "cxr", values, 12, False, ["+e1"])
    np.testing.assert_array_equal(vindr.read_dicom(path).pixels(), oracle_pixels(path))


# ------------------------------------------------------------------------------------ hostile streams
CHILD = r"""
import json, sys
import vindr
results = []
for path in sys.argv[1:]:
    out = {"path": path}
    try:
        vindr.read_dicom(path).pixels()
        vindr.read_dicom(path).render(size=16)
        out["ok"] = True
    except vindr.VinDrError as e:
        out["error"] = type(e).__name__
        out["message"] = e.message
    results.append(out)
print(json.dumps(results))
"""


def run_child(paths: list[pathlib.Path]) -> list[dict]:
    """pixels() and render() of each file in one child process; fails (instead of dying) when it dies."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bindings" / "python"), env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, "-c", CHILD, *map(str, paths)], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"child died with status {p.returncode}: {p.stderr[-2000:]}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def good_stream(values: np.ndarray, **kw) -> bytes:
    return encode(values[0], 12, **kw)


def hostile(tmp_path, name: str, stream: bytes, values: np.ndarray) -> pathlib.Path:
    return write_encoded(tmp_path / f"{name}.dcm", values, 12, False, [stream])


def expect_errors(results: list[dict], kind: str = "DecodeError", words: str = ""):
    for r in results:
        assert r.get("error") == kind, r
        assert pathlib.Path(r["path"]).name in r["message"], r
        assert words in r["message"], r


def test_truncated_streams_are_errors(tmp_path):
    """Cut at every few bytes of the scan (then an EOI, or nothing): an error, never zeros."""
    values = image(32, 48, 12, False, seed=1)
    stream = good_stream(values, restart_lines=4)
    start = stream.index(b"\xff\xda") + 10
    paths = []
    for cut in range(start, len(stream) - 2, max(1, (len(stream) - start) // 60)):
        for tail in (b"", b"\xff\xd9"):
            paths.append(hostile(tmp_path, f"cut{cut}-{len(tail)}", stream[:cut] + tail, values))
    expect_errors(run_child(paths), words="truncated or corrupt")


def frame_header(stream: bytes) -> int:
    return stream.index(b"\xff\xc3")


def with_byte(stream: bytes, at: int, value: int) -> bytes:
    return stream[:at] + bytes([value]) + stream[at + 1:]


def test_corrupt_headers_are_errors(tmp_path):
    values = image(32, 48, 12, False, seed=2)
    s = good_stream(values)
    sof, sos, dht_at = frame_header(s), s.index(b"\xff\xda"), s.index(b"\xff\xc4")
    cases = {
        "precision0": (with_byte(s, sof + 4, 0), "precision 0"),
        "precision1": (with_byte(s, sof + 4, 1), "precision 1"),
        "precision17": (with_byte(s, sof + 4, 17), "precision 17"),
        "no-sos": (s[:sos] + b"\xff\xd9", "SOS"),
        "no-sos-no-eoi": (s[:sos + 1], "marker"),
        "no-table": (s[:dht_at] + s[dht_at + 4 + 1 + 16 + 17:], "Huffman table 0"),
        "over-subscribed": (with_byte(s, dht_at + 5 + 1, 5), "over-subscribed"),
        "category-17": (with_byte(s, dht_at + 5 + 16, 17), "category 17"),
        "empty-table": (s[:dht_at] + dht([0] * 16, []) + s[dht_at + 4 + 1 + 16 + 17:], "Huffman code"),
        "predictor0": (with_byte(s, sos + 7, 0), "predictor"),
        "predictor8": (with_byte(s, sos + 7, 8), "predictor"),
        "point-transform": (with_byte(s, sos + 9, 12), "point transform"),
        "scan-component": (with_byte(s, sos + 5, 9), "component"),
        "two-components": (with_byte(s, sos + 4, 2), "components"),
        "huge-dri": (s[:sof] + segment(0xDD, b"\xff\xff") + s[sof:], "restart interval 65535"),
        "dri-not-lines": (s[:sof] + segment(0xDD, b"\x00\x05") + s[sof:], "restart interval 5"),
        "dri-length": (s[:sof] + segment(0xDD, b"\x00\x05\x00") + s[sof:], "DRI"),
        "garbage-before-frame": (s[:sof] + b"\x12\x34" + s[sof:], "marker"),
        "segment-past-end": (s[:sof] + b"\xff\xfe\xff\xf0", "length"),
        "dht-cut": (s[:dht_at + 2] + struct.pack(">H", 10) + s[dht_at + 4:], "DHT"),
        "sof-length": (with_byte(s, sof + 3, 14), "SOF3"),
        "missing-rst": (good_stream(values, restart_lines=4).replace(b"\xff\xd1", b"\xff\xd5"), "RST1"),
        "unexpected-rst": (s[:s.index(b"\xff\xda") + 30] + b"\xff\xd0" + s[s.index(b"\xff\xda") + 30:], "marker"),
        "garbage-scan": (s[:sos + 14] + np.random.default_rng(0).integers(0, 256, (len(s) - sos) // 3, dtype=np.uint8).tobytes() + b"\xff\xd9", ""),
    }
    paths = [hostile(tmp_path, name, data, values) for name, (data, _) in cases.items()]
    for (name, (_, words)), r in zip(cases.items(), run_child(paths)):
        assert r.get("error") == "DecodeError", (name, r)
        assert f"{name}.dcm" in r["message"] and words in r["message"], (name, r)


def test_invalid_huffman_code_is_an_error(tmp_path):
    """A table leaving the all-ones codes unassigned, then 0xFE bytes: no code matches."""
    values = image(8, 8, 12, False, seed=3)
    s = good_stream(values)
    sos_end = s.index(b"\xff\xda") + 10
    table = dht([0, 1] + [0] * 14, [0])  # one 2-bit code, 00
    data = s[:s.index(b"\xff\xc4")] + table + s[frame_header(s):sos_end] + b"\xfe" * 40 + b"\xff\xd9"
    expect_errors(run_child([hostile(tmp_path, "bad-code", data, values)]), words="Huffman code")


def test_frame_size_must_match_rows_and_columns(tmp_path):
    values = image(32, 48, 12, False, seed=4)
    s = good_stream(values)
    sof = frame_header(s)
    paths = [hostile(tmp_path, "taller", s[:sof + 5] + struct.pack(">H", 33) + s[sof + 7:], values),
             hostile(tmp_path, "narrower", s[:sof + 7] + struct.pack(">H", 47) + s[sof + 9:], values)]
    expect_errors(run_child(paths), kind="FormatError", words="(0028,0010)")


def test_precision_beyond_bits_allocated_is_an_error(tmp_path):
    values = image(16, 16, 8, False, seed=5)
    s = encode(values[0], 8)
    path = write_encoded(tmp_path / "p12in8.dcm", values, 8, False, [with_byte(s, frame_header(s) + 4, 12)])
    expect_errors(run_child([path]), words="Bits Allocated")


def test_other_frames_in_a_lossless_syntax_go_to_gdcm(tmp_path):
    """A DCT stream labelled lossless is GDCM's to decode (as before); a three-component SOF3
    frame is refused as not monochrome."""
    values = image(24, 40, 8, False, seed=6)
    baseline = dcmcjpeg(tmp_path, "baseline", values, 8, False, ["+eb"])
    expected = vindr.read_dicom(baseline).pixels()
    ds = pydicom.dcmread(baseline)
    ds.file_meta.TransferSyntaxUID = SV1
    ds.save_as(tmp_path / "relabelled.dcm")
    np.testing.assert_array_equal(vindr.read_dicom(tmp_path / "relabelled.dcm").pixels(), expected)
    s = encode(values[0], 8)
    sof = frame_header(s)
    three = s[:sof] + segment(0xC3, struct.pack(">BHHB", 8, 24, 40, 3) + b"\x01\x11\x00\x02\x11\x00\x03\x11\x00") + s[sof + 13:]
    path = write_encoded(tmp_path / "three.dcm", values, 8, False, [three])
    expect_errors(run_child([path]), kind="UnsupportedError", words="3 components")
