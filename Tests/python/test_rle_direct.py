"""RLE Lossless (PS3.5 Annex G) stored values unpacked straight into the caller's array, lent
from the file's bytes when a frame is one fragment: pixels() and vdr_dicom_decode with a row
stride wider than the row, against pydicom (pylibjpeg-rle) and against the values encoded."""
from __future__ import annotations

import struct

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless

import corpus as corpus_module
import vindr
from conftest import oracle_pixels
from vindr._lib import check
from vindr.dicom import _decode


def packbits(plane: bytes) -> bytes:
    """PackBits (PS3.5 G.3.1) of a whole byte plane as one sequence: runs cross row boundaries,
    which the standard's encoder avoids but a decoder must accept."""
    out = bytearray()
    i, n = 0, len(plane)
    while i < n:
        j = i
        while j + 1 < n and plane[j + 1] == plane[i] and j + 1 - i < 127:
            j += 1
        if j > i:  # a replicate run of j - i + 1 bytes
            out += bytes([257 - (j - i + 1), plane[i]])
            i = j + 1
            continue
        j = i + 1
        while j < n and j - i < 128 and not (j + 1 < n and plane[j] == plane[j + 1]):
            j += 1
        out += bytes([j - i - 1]) + plane[i:j]
        i = j
    return bytes(out)


def rle_frame(values: np.ndarray) -> bytes:
    """One RLE frame (PS3.5 G.5) of a 2-D little-endian array, most significant plane first."""
    raw = values.astype(values.dtype.newbyteorder("<")).tobytes()
    size = values.dtype.itemsize
    segments = [packbits(raw[size - 1 - p::size]) for p in range(size)]
    offsets, at = [], 64
    for s in segments:
        offsets.append(at)
        at += len(s)
    header = struct.pack("<I", size) + b"".join(struct.pack("<I", o) for o in offsets)
    return header + b"\0" * (64 - len(header)) + b"".join(segments)


def write(path, frames: np.ndarray, bits_stored: int, signed: bool, encoded=None, fragments_per_frame: int = 1):
    """A monochrome RLE file of `frames` (frames, rows, columns), coded by `rle_frame` unless
    `encoded` gives the frames' bytes."""
    count, rows, columns = frames.shape
    variant = corpus_module.Variant("rle", rows, columns, bits_allocated=8 * frames.dtype.itemsize, bits_stored=bits_stored,
                                    signed=signed, frames=count)
    ds = corpus_module.base_dataset(variant, frames)
    ds.file_meta.TransferSyntaxUID = RLELossless
    encoded = encoded if encoded is not None else [rle_frame(f) for f in frames]
    ds.PixelData = encapsulate(encoded, fragments_per_frame=fragments_per_frame, has_bot=True)
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def stored(values: np.ndarray, bits_stored: int, signed: bool) -> np.ndarray:
    """Stored values proper (PS3.5 8.1.1): bits above Bits Stored cleared or sign copies."""
    bits = 8 * values.dtype.itemsize
    raw = values.view(f"u{values.dtype.itemsize}").astype(np.int64) & ((1 << bits) - 1)
    v = raw & ((1 << bits_stored) - 1)
    if signed:
        v = np.where(v >> (bits_stored - 1) & 1, v - (1 << bits_stored), v)
    return v.astype(values.dtype)


CASES = {  # name: (dtype, bits stored, rows, columns, frames)
    "u8": (np.uint8, 8, 37, 53, 1),
    "s8": (np.int8, 7, 20, 31, 2),
    "u16-12bit": (np.uint16, 12, 41, 67, 1),
    "s16-12bit": (np.int16, 12, 33, 29, 3),
    "s16": (np.int16, 16, 16, 17, 1),
}


def sample(name: str) -> np.ndarray:
    dtype, _, rows, columns, frames = CASES[name]
    rng = np.random.default_rng(len(name) * 7 + rows)
    info = np.iinfo(dtype)
    noise = rng.integers(info.min, info.max, (frames, rows, columns), endpoint=True).astype(dtype)
    flat = np.full((frames, rows, columns), info.max // 3, dtype)
    flat[:, rows // 2:, : columns // 3] = noise[:, rows // 2:, : columns // 3]  # runs across rows, then literals
    flat[:, :2, :] = noise[:, :2, :]
    return flat


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("fragments_per_frame", [1, 2])
def test_pixels_equal_the_stored_values(tmp_path, name, fragments_per_frame):
    dtype, bits_stored, *_ = CASES[name]
    values = sample(name)
    signed = np.issubdtype(dtype, np.signedinteger)
    path = write(tmp_path / f"{name}.dcm", values, bits_stored, signed, fragments_per_frame=fragments_per_frame)
    expected = stored(values, bits_stored, signed)
    im = vindr.read_dicom(path)
    for f in range(values.shape[0]):
        got = im.pixels(frame=f)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected[f])
    if bits_stored == 8 * np.dtype(dtype).itemsize:  # pydicom leaves bits above Bits Stored alone
        oracle = oracle_pixels(path)
        np.testing.assert_array_equal(oracle.reshape(values.shape), expected)


@pytest.mark.parametrize("name", ["u8", "s16-12bit"])
def test_decode_into_rows_wider_than_the_image(tmp_path, name):
    """vdr_dicom_decode with a row stride beyond the row: the rows land at the stride and the
    bytes between them are left alone."""
    dtype, bits_stored, rows, columns, frames = CASES[name]
    values = sample(name)
    signed = np.issubdtype(dtype, np.signedinteger)
    im = vindr.read_dicom(write(tmp_path / "wide.dcm", values, bits_stored, signed))
    expected = stored(values, bits_stored, signed)
    for f in range(frames):
        out = np.full((rows, columns + 5), 0x55, dtype)
        check(_decode(im._handle(), f, out.ctypes.data, out.nbytes, out.strides[0]))
        np.testing.assert_array_equal(out[:, :columns], expected[f])
        assert (out[:, columns:] == np.array(0x55, dtype)).all()


def test_the_standard_encoders_rows_decode_too(tmp_path):
    """pydicom's encoder codes each row separately (PS3.5 G.3.1)."""
    values = sample("u16-12bit") & 0x0FFF
    path = tmp_path / "pydicom-rle.dcm"
    write(path, values, 12, False)
    ds = pydicom.dcmread(path)
    ds.PixelData = encapsulate([pydicom.pixels.encoders.RLELosslessEncoder.encode(values[0], encoding_plugin="pydicom",
                                                                                   rows=values.shape[1], columns=values.shape[2],
                                                                                   samples_per_pixel=1, bits_allocated=16,
                                                                                   bits_stored=12, pixel_representation=0,
                                                                                   photometric_interpretation="MONOCHROME2",
                                                                                   number_of_frames=1)],
                               has_bot=True)
    ds.save_as(path)
    np.testing.assert_array_equal(vindr.read_dicom(path).pixels(), values[0])
    np.testing.assert_array_equal(oracle_pixels(path), values[0])


def packbits_length(segment: bytes, limit: int) -> int:
    i = o = 0
    while i < len(segment) and o < limit:
        n = struct.unpack("b", segment[i:i + 1])[0]
        i += 1
        if n >= 0:
            k = min(n + 1, limit - o, len(segment) - i)
            i += n + 1
            o += k
            if k < n + 1:
                break
        elif n != -128:
            if i >= len(segment):
                break
            o += min(1 - n, limit - o)
            i += 1
    return o


@pytest.mark.parametrize("fragments_per_frame", [1, 2])
def test_truncated_segment_is_an_error_naming_the_file(tmp_path, fragments_per_frame):
    values = sample("u16-12bit") & 0x0FFF
    frame = rle_frame(values[0])
    cut = frame[: len(frame) - 40]
    cut += b"\0" * (len(cut) % 2)  # fragments have even lengths (PS3.5 A.4)
    low_start = struct.unpack("<I", frame[8:12])[0]
    pixels = values.shape[1] * values.shape[2]
    written = packbits_length(cut[low_start:], pixels)
    assert written < pixels
    path = write(tmp_path / "cut.dcm", values, 12, False, encoded=[cut],
                 fragments_per_frame=fragments_per_frame)
    with pytest.raises(vindr.DecodeError, match=f"cut.dcm.*RLE segment 2 decodes to {written} bytes, {pixels} expected"):
        vindr.read_dicom(path).pixels()
    with pytest.raises(vindr.DecodeError, match="cut.dcm.*RLE segment 2"):
        vindr.read_dicom(path).render(size=16)
