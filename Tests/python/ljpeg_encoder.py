"""A lossless JPEG encoder (ITU-T T.81 Annex H, process 14, one component) for tests and fuzz
seeds: it writes what DCMTK's dcmcjpeg cannot, restart intervals, long Huffman codes, the 16-bit
difference category, fill bytes before markers, extra segments before the frame."""
from __future__ import annotations

import struct

import numpy as np


class Bits:
    """Entropy-coded data (T.81 F.1.2.3): bits most significant first, 0x00 stuffed after 0xFF."""

    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value: int, length: int):
        self.acc = self.acc << length | (value & ((1 << length) - 1))
        self.n += length
        while self.n >= 8:
            self.n -= 8
            b = self.acc >> self.n & 0xFF
            self.out.append(b)
            if b == 0xFF:
                self.out.append(0)
        self.acc &= (1 << self.n) - 1

    def flush(self):
        """Pads the last byte with 1-bits (T.81 F.1.2.3)."""
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)


def predict(sv: int, a: int, b: int, c: int) -> int:
    """T.81 Table H.1."""
    return [None, a, b, c, a + b - c, a + ((b - c) >> 1), b + ((a - c) >> 1), (a + b) >> 1][sv]


def differences(values: np.ndarray, precision: int, sv: int, pt: int, restart_lines: int) -> list[int]:
    """The differences of T.81 H.1.2.1 in coding order, modulo 2^16 in -32767..32768."""
    rows, cols = values.shape
    v = values.astype(np.int64)
    out = []
    for y in range(rows):
        first_line = y == 0 or (restart_lines and y % restart_lines == 0)
        for x in range(cols):
            if first_line:
                p = (1 << (precision - pt - 1)) if x == 0 else v[y, x - 1]
            elif x == 0:
                p = v[y - 1, 0]
            else:
                p = predict(sv, v[y, x - 1], v[y - 1, x], v[y - 1, x - 1])
            d = (int(v[y, x]) - int(p)) & 0xFFFF
            out.append(d - 65536 if d > 32768 else d)
    return out


def category(d: int) -> int:
    return 16 if d == 32768 else abs(d).bit_length()


def huffman_table(order: list[int]) -> tuple[list[int], list[int]]:
    """BITS and HUFFVAL for the 17 categories, `order` first: one 2-bit code, five of 3 bits,
    then one each of 4 to 14 bits (the later ones beyond the decoder's 11-bit lookup)."""
    counts = [0, 1, 5] + [1] * 11 + [0, 0]
    return counts, list(order)


def segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def dht(counts: list[int], values: list[int], th: int = 0) -> bytes:
    return segment(0xC4, bytes([th]) + bytes(counts) + bytes(values))


def encode(values: np.ndarray, precision: int, sv: int = 1, pt: int = 0, restart_lines: int = 0, order=None,
           extra: bytes = b"", fill: int = 0) -> bytes:
    """A lossless JPEG stream of `values` (rows x columns, unsigned P-bit patterns): SOI, `extra`
    segments, DHT, SOF3, DRI, SOS, data with RSTm every `restart_lines` lines (each preceded by
    `fill` 0xFF fill bytes), EOI. `order`: the categories from shortest code to longest (by
    default by frequency)."""
    rows, cols = values.shape
    coded = values.astype(np.int64) >> pt
    diffs = differences(coded, precision, sv, pt, restart_lines)
    cats = [category(d) for d in diffs]
    if order is None:
        freq = np.bincount(cats, minlength=17)
        order = sorted(range(17), key=lambda s: -freq[s])
    counts, huffval = huffman_table(order)
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            codes[huffval[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    data = bytearray()
    bits = Bits()
    per_interval = restart_lines * cols
    for i, (d, s) in enumerate(zip(diffs, cats)):
        if per_interval and i and i % per_interval == 0:
            bits.flush()
            data += bits.out + b"\xff" * fill + bytes([0xFF, 0xD0 + (i // per_interval - 1) % 8])
            bits.out = bytearray()
        bits.put(*codes[s])
        if 0 < s < 16:
            bits.put(d if d > 0 else d - 1, s)
    bits.flush()
    data += bits.out
    sof = segment(0xC3, struct.pack(">BHHB", precision, rows, cols, 1) + b"\x01\x11\x00")
    dri = segment(0xDD, struct.pack(">H", per_interval)) if restart_lines else b""
    sos = segment(0xDA, b"\x01\x01\x00" + bytes([sv, 0, pt]))
    return b"\xff\xd8" + extra + dht(counts, huffval) + sof + dri + sos + bytes(data) + b"\xff" * fill + b"\xff\xd9"
