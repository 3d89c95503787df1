"""JPEG-LS (ITU-T T.87) streams for the tests and the fuzz seeds, coded by the system's CharLS
through ctypes: any precision, NEAR and preset parameters, and restart intervals spliced from
separately coded strips."""
from __future__ import annotations

import ctypes
import struct

import numpy as np

class FrameInfo(ctypes.Structure):
    _fields_ = [("width", ctypes.c_uint32), ("height", ctypes.c_uint32), ("bits_per_sample", ctypes.c_int32),
                ("component_count", ctypes.c_int32)]


class PresetParameters(ctypes.Structure):
    _fields_ = [("maximum_sample_value", ctypes.c_int32), ("threshold1", ctypes.c_int32), ("threshold2", ctypes.c_int32),
                ("threshold3", ctypes.c_int32), ("reset_value", ctypes.c_int32)]


CHARLS = ctypes.CDLL("libcharls.so.2")
CHARLS.charls_jpegls_encoder_create.restype = ctypes.c_void_p
CHARLS.charls_jpegls_decoder_create.restype = ctypes.c_void_p


def charls_ok(rc: int, what: str) -> None:
    assert rc == 0, f"CharLS {what}: error {rc}"


def charls_encode(values: np.ndarray, bits: int, near: int = 0, preset: tuple[int, int, int, int, int] | None = None) -> bytes:
    """One grey frame (rows x columns of uint8/uint16 values < 2^bits) as a JPEG-LS stream."""
    values = np.ascontiguousarray(values)
    rows, columns = values.shape
    enc = ctypes.c_void_p(CHARLS.charls_jpegls_encoder_create())
    try:
        charls_ok(CHARLS.charls_jpegls_encoder_set_frame_info(enc, ctypes.byref(FrameInfo(columns, rows, bits, 1))), "frame info")
        charls_ok(CHARLS.charls_jpegls_encoder_set_near_lossless(enc, ctypes.c_int32(near)), "near")
        if preset:
            charls_ok(CHARLS.charls_jpegls_encoder_set_preset_coding_parameters(enc, ctypes.byref(PresetParameters(*preset))), "preset")
        out = ctypes.create_string_buffer(values.nbytes * 2 + 4096)
        charls_ok(CHARLS.charls_jpegls_encoder_set_destination_buffer(enc, out, ctypes.c_size_t(len(out))), "destination")
        charls_ok(CHARLS.charls_jpegls_encoder_encode_from_buffer(enc, values.ctypes.data_as(ctypes.c_void_p),
                                                                  ctypes.c_size_t(values.nbytes), ctypes.c_uint32(0)), "encode")
        n = ctypes.c_size_t()
        charls_ok(CHARLS.charls_jpegls_encoder_get_bytes_written(enc, ctypes.byref(n)), "bytes written")
        return out.raw[:n.value]
    finally:
        CHARLS.charls_jpegls_encoder_destroy(enc)


def charls_decode(stream: bytes, dtype) -> np.ndarray:
    dec = ctypes.c_void_p(CHARLS.charls_jpegls_decoder_create())
    try:
        charls_ok(CHARLS.charls_jpegls_decoder_set_source_buffer(dec, stream, ctypes.c_size_t(len(stream))), "source")
        charls_ok(CHARLS.charls_jpegls_decoder_read_header(dec), "header")
        info = FrameInfo()
        charls_ok(CHARLS.charls_jpegls_decoder_get_frame_info(dec, ctypes.byref(info)), "frame info")
        out = np.zeros((info.height, info.width), np.uint8 if info.bits_per_sample <= 8 else np.uint16)
        charls_ok(CHARLS.charls_jpegls_decoder_decode_to_buffer(dec, out.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(out.nbytes),
                                                                ctypes.c_uint32(0)), "decode")
        return out.astype(dtype)
    finally:
        CHARLS.charls_jpegls_decoder_destroy(dec)


def scan_data(stream: bytes) -> tuple[bytes, bytes]:
    """(headers up to and including SOS, entropy-coded data up to EOI) of a CharLS stream."""
    sos = stream.index(b"\xff\xda")
    start = sos + 2 + struct.unpack(">H", stream[sos + 2:sos + 4])[0]
    assert stream.endswith(b"\xff\xd9")
    return stream[:start], stream[start:-2]


def with_restarts(values: np.ndarray, bits: int, interval: int, near: int = 0) -> bytes:
    """A stream with restart interval `interval` lines (T.87 D.3): each interval is coded from a
    fresh state (A.2.1) above a zero line, as a separate image of its lines, so the intervals'
    scans are CharLS's own, joined by RST0..7 after a DRI segment."""
    parts = [charls_encode(values[y:y + interval], bits, near) for y in range(0, values.shape[0], interval)]
    head, _ = scan_data(parts[0])
    rows = values.shape[0]
    sof = head.index(b"\xff\xf7")
    head = head[:sof + 5] + struct.pack(">H", rows) + head[sof + 7:]  # the whole height, not the first interval's
    dri = b"\xff\xdd" + struct.pack(">HH", 4, interval)
    sos = head.index(b"\xff\xda")
    data = b"".join(scan_data(p)[1] + (bytes([0xFF, 0xD0 + i % 8]) if i + 1 < len(parts) else b"") for i, p in enumerate(parts))
    return head[:sos] + dri + head[sos:] + data + b"\xff\xd9"
