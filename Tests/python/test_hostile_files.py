"""Hostile files: header values that once took the host process down (overflow traps, GDCM
assertion aborts, multi-gigabyte allocations). Each must give a clear error naming the file and
the tag while the process lives.

Every case runs in a child process, so that a regression shows as a failed test rather than a
killed test runner; cases that once allocated gigabytes run the child under an address-space
limit. The files are written byte by byte (explicit VR little endian, PS3.5 7.1.2) so that any VR
can be put on any tag.
"""
from __future__ import annotations

import json
import os
import pathlib
import resource
import struct
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

EXPLICIT_LE = "1.2.840.10008.1.2.1"
RLE = "1.2.840.10008.1.2.5"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
JPEG2000_LOSSLESS = "1.2.840.10008.1.2.4.90"

# VRs with a 4-byte length after two reserved bytes (PS3.5 Table 7.1-1).
LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}

ROWS, COLUMNS, FRAMES = (0x0028, 0x0010), (0x0028, 0x0011), (0x0028, 0x0008)
SOP_INSTANCE = (0x0008, 0x0018)


def element(tag: tuple[int, int], vr: str, value: bytes) -> bytes:
    if len(value) % 2:
        value += b"\0" if vr in ("UI", "OB", "UN") else b" "
    g, e = tag
    if vr in LONG_VRS:
        return struct.pack("<HH2sHI", g, e, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", g, e, vr.encode(), len(value)) + value


def us(v: int) -> tuple[str, bytes]:
    return ("US", struct.pack("<H", v))


def text(vr: str, s: str) -> tuple[str, bytes]:
    return (vr, s.encode())


def encapsulated(fragments: list[bytes]) -> bytes:
    """Pixel Data of undefined length: an empty Basic Offset Table, then one item per fragment (PS3.5 A.4)."""
    body = struct.pack("<HHI", 0xFFFE, 0xE000, 0)
    for f in fragments:
        if len(f) % 2:
            f += b"\0"
        body += struct.pack("<HHI", 0xFFFE, 0xE000, len(f)) + f
    body += struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF) + body


def dicom_bytes(overrides: dict | None = None, *, syntax: str = EXPLICIT_LE, pixels: bytes | None = None) -> bytes:
    """A 4x4 16-bit MONOCHROME2 image; `overrides` maps a tag to (VR, value bytes), or to None to drop it.
    `pixels` replaces the whole Pixel Data element (e.g. encapsulated())."""
    attrs = {
        (0x0008, 0x0016): text("UI", "1.2.840.10008.5.1.4.1.1.1.1"),
        (0x0008, 0x0018): text("UI", "1.2.3.4.5.6.7"),
        (0x0008, 0x0060): text("CS", "DX"),
        (0x0010, 0x0010): text("PN", "Doe^John"),
        (0x0010, 0x0020): text("LO", "PID-1"),
        (0x0010, 0x0040): text("CS", "M"),
        (0x0010, 0x1010): text("AS", "045Y"),
        (0x0020, 0x000D): text("UI", "1.2.3.4.5.6.8"),
        (0x0020, 0x000E): text("UI", "1.2.3.4.5.6.9"),
        (0x0028, 0x0002): us(1),
        (0x0028, 0x0004): text("CS", "MONOCHROME2"),
        ROWS: us(4),
        COLUMNS: us(4),
        (0x0028, 0x0100): us(16),
        (0x0028, 0x0101): us(12),
        (0x0028, 0x0102): us(11),
        (0x0028, 0x0103): us(0),
        (0x7FE0, 0x0010): ("OW", bytes(range(32))),
    }
    for tag, v in (overrides or {}).items():
        if v is None:
            attrs.pop(tag, None)
        else:
            attrs[tag] = v
    if pixels is not None:
        attrs.pop((0x7FE0, 0x0010), None)
    body = b"".join(element(t, *attrs[t]) for t in sorted(attrs))
    if pixels is not None:
        body += pixels
    meta = (element((0x0002, 0x0001), "OB", b"\x00\x01")
            + element((0x0002, 0x0002), "UI", b"1.2.840.10008.5.1.4.1.1.1.1")
            + element((0x0002, 0x0003), "UI", b"1.2.3.4.5.6.7")
            + element((0x0002, 0x0010), "UI", syntax.encode()))
    meta = element((0x0002, 0x0000), "UL", struct.pack("<I", len(meta))) + meta
    return b"\0" * 128 + b"DICM" + meta + body


CHILD = r"""
import json, sys
import vindr
action, path = sys.argv[1], sys.argv[2]
out = {}
try:
    if action == "open":
        im = vindr.read_dicom(path)
        out["frames"] = im.frames
    elif action == "pixels":
        vindr.read_dicom(path).pixels()
    elif action == "render":
        vindr.read_dicom(path).render(size=64)
    elif action == "abi-decode":  # vdr_dicom_decode straight, with a buffer smaller than the image
        import ctypes
        from vindr import dicom
        im = vindr.read_dicom(path)
        buf = ctypes.create_string_buffer(1 << 16)
        dicom.check(dicom._decode(im._handle(), 0, ctypes.addressof(buf), len(buf), 64))
    elif action == "loader":
        good = sys.argv[3]
        samples = [vindr.Sample("bad", path), vindr.Sample("good", good)]
        seen = []
        for batch in vindr.Loader(samples, 32, batch_size=1, on_error="skip", workers=2):
            seen += [t["image_id"] for t in batch.targets]
            out["skipped"] = out.get("skipped", []) + [list(s) for s in batch.skipped]
        out["seen"] = seen
    elif action == "deid":
        result = vindr.deidentify(path, sys.argv[3], min_size=1)
        out["files"] = [{"input": f["input"], "status": f["status"], "error": f["error"]} for f in result.files]
    out["ok"] = True
except vindr.VinDrError as e:
    out["error"] = type(e).__name__
    out["message"] = e.message
print(json.dumps(out))
"""

GIB = 1 << 30


def run_child(action: str, *args, memory_limit: int | None = None) -> dict:
    """Runs `action` on the files in a child process; fails (instead of dying) when the child dies."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bindings" / "python"), env.get("PYTHONPATH", "")])

    def limit():
        if memory_limit:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    p = subprocess.run([sys.executable, "-c", CHILD, action, *map(str, args)], env=env, capture_output=True,
                       text=True, timeout=300, preexec_fn=limit)
    assert p.returncode == 0, f"child died with status {p.returncode}: {p.stderr[-2000:]}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def write(tmp_path: pathlib.Path, name: str, data: bytes) -> pathlib.Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def expect_error(result: dict, path: pathlib.Path, *words: str, kind: str = "FormatError") -> None:
    assert "error" in result, f"expected an error, got {result}"
    assert result["error"] == kind, result
    for w in (path.name, *words):
        assert w in result["message"], f"{w!r} not in {result['message']!r}"


# -- 1. overflowing frame sizes (PS3.3 C.7.6.3: Rows x Columns x Number of Frames samples) ----------

HUGE_FRAMES = {ROWS: us(65535), COLUMNS: us(65535), FRAMES: text("IS", "999999999999")}


@pytest.mark.parametrize("action", ["open", "pixels", "render"])
def test_huge_number_of_frames_is_an_error(tmp_path, action):
    path = write(tmp_path, "frames.dcm", dicom_bytes(HUGE_FRAMES))
    result = run_child(action, path)
    if action == "open" and "error" not in result:
        return  # opening may succeed; decoding must not
    expect_error(result, path, "(0028,0008)")


def test_huge_number_of_frames_is_skipped_by_the_loader(tmp_path):
    bad = write(tmp_path, "frames.dcm", dicom_bytes(HUGE_FRAMES))
    good = write(tmp_path, "good.dcm", dicom_bytes())
    result = run_child("loader", bad, good)
    assert result.get("ok"), result
    assert result["seen"] == ["good"]
    assert result["skipped"][0][0] == "bad" and "(0028,0008)" in result["skipped"][0][1], result


@pytest.mark.parametrize("columns", [("SS", struct.pack("<h", -1)), ("IS", b"99999999999"), ("UL", struct.pack("<I", 0xFFFFFFFF))],
                         ids=["SS-minus-1", "IS-huge", "UL-huge"])
def test_columns_out_of_range_is_an_error(tmp_path, columns):
    path = write(tmp_path, "columns.dcm", dicom_bytes({COLUMNS: columns}))
    for action in ("open", "abi-decode"):
        result = run_child(action, path)
        expect_error(result, path, "(0028,0011)")


# -- 2. attributes the SDK reads, stored with a VR GDCM's string filter asserts on (PS3.5 6.2) ---------

ODD_VRS = {"SV": struct.pack("<q", 4), "UV": struct.pack("<Q", 4), "OV": struct.pack("<Q", 4),
           "OD": struct.pack("<d", 4.0), "OL": struct.pack("<I", 4)}
READ_TAGS = {
    "Rows": ROWS, "Columns": COLUMNS, "BitsAllocated": (0x0028, 0x0100), "BitsStored": (0x0028, 0x0101),
    "PatientSex": (0x0010, 0x0040), "WindowCenter": (0x0028, 0x1050), "WindowWidth": (0x0028, 0x1051),
    "RescaleSlope": (0x0028, 0x1053), "NumberOfFrames": FRAMES,
}


@pytest.mark.parametrize("vr", sorted(ODD_VRS))
@pytest.mark.parametrize("name", sorted(READ_TAGS))
def test_unexpected_vr_is_a_format_error(tmp_path, name, vr):
    g, e = READ_TAGS[name]
    path = write(tmp_path, f"{name}-{vr}.dcm", dicom_bytes({(g, e): (vr, ODD_VRS[vr])}))
    expect_error(run_child("open", path), path, f"({g:04X},{e:04X})", vr)


def test_unexpected_vr_inside_a_lut_sequence_is_a_format_error(tmp_path):
    item = (element((0x0028, 0x3002), "SV", struct.pack("<qqq", 4, 0, 16))
            + element((0x0028, 0x3006), "OW", struct.pack("<4H", 0, 1, 2, 3)))
    seq = struct.pack("<HHI", 0xFFFE, 0xE000, len(item)) + item
    path = write(tmp_path, "voi-lut-sv.dcm", dicom_bytes({(0x0028, 0x3010): ("SQ", seq)}))
    expect_error(run_child("open", path), path, "(0028,3002)", "SV")


def test_unexpected_vr_is_skipped_by_the_loader(tmp_path):
    bad = write(tmp_path, "rows-sv.dcm", dicom_bytes({ROWS: ("SV", ODD_VRS["SV"])}))
    good = write(tmp_path, "good.dcm", dicom_bytes())
    result = run_child("loader", bad, good)
    assert result.get("ok"), result
    assert result["seen"] == ["good"]
    assert "(0028,0010)" in result["skipped"][0][1], result


def test_unexpected_vr_fails_one_file_of_a_deidentification_tree(tmp_path):
    tree = tmp_path / "in"
    tree.mkdir()
    write(tree, "a-rows-uv.dcm", dicom_bytes({ROWS: ("UV", ODD_VRS["UV"]), SOP_INSTANCE: text("UI", "1.2.3.4.5.6.10")}))
    write(tree, "b-good.dcm", dicom_bytes())
    result = run_child("deid", tree, tmp_path / "out")
    assert result.get("ok"), result
    files = {pathlib.Path(f["input"]).name: f for f in result["files"]}
    assert files["b-good.dcm"]["status"] == "written", files
    bad = files["a-rows-uv.dcm"]
    assert bad["status"] != "written" and "(0028,0010)" in (bad["error"] or "") and "UV" in bad["error"], files


# -- 2a. implicit VR attributes whose dictionary VR is a choice (PS3.6 "US or SS", "US or OW"): GDCM's
#        DataSetHelper::ComputeVR asserts on "US or SS" before Pixel Representation or without one -----

def implicit_vr_file(path: pathlib.Path, extra: dict[int, tuple[str, object]], pixel_representation: bool = True) -> pathlib.Path:
    from pydicom.dataset import Dataset, FileMetaDataset

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = "1.2.3.4.5.6.7"
    ds.PatientName, ds.PatientID, ds.Modality = "Doe^John", "PID-1", "DX"
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.SamplesPerPixel = 16, 12, 11, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    if pixel_representation:
        ds.PixelRepresentation = 0
    for tag, (vr, value) in extra.items():
        ds.add_new(tag, vr, value)
    ds.PixelData = bytes(range(32))
    ds.save_as(path, enforce_file_format=True, implicit_vr=True, little_endian=True)
    return path


CHOICE_OF_VRS = {
    "zero-velocity-before-pixel-representation": ({0x00189810: ("US", 5)}, True),  # "US or SS"
    "smallest-value-without-pixel-representation": ({0x00280106: ("US", 0)}, False),  # "US or SS"
    "lut-data": ({0x00283006: ("US", [0, 1, 2, 3])}, True),  # "US or OW"
}


@pytest.mark.parametrize("case", CHOICE_OF_VRS)
def test_implicit_attributes_with_a_choice_of_vrs_are_opened_and_deidentified(tmp_path, case):
    extra, pixel_representation = CHOICE_OF_VRS[case]
    tree = tmp_path / "in"
    tree.mkdir()
    path = implicit_vr_file(tree / f"{case}.dcm", extra, pixel_representation)
    assert run_child("open", path).get("ok")
    result = run_child("deid", tree, tmp_path / "out")
    assert result.get("ok") and [f["status"] for f in result["files"]] == ["written"], result


# -- 2b. structures GDCM asserts on or misreads: undefined lengths outside SQ, UN and encapsulated OB/OW
#        Pixel Data (PS3.5 7.1.2, A.4), and VRs outside PS3.5 Table 6.2-1 ------------------------------

ITEM = struct.pack("<HHI", 0xFFFE, 0xE000, 12) + element((0x0008, 0x0100), "SH", b"ABCD")


NESTED_SQ = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"SQ", 0, len(ITEM)) + ITEM


def undefined_length(tag: tuple[int, int], vr: str, items: bytes) -> bytes:
    return struct.pack("<HH2sHI", *tag, vr.encode(), 0, 0xFFFFFFFF) + items + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


GDCM_CASES = {
    # a private OB element of undefined length holding an item
    "ob-element": (dict(pixels=undefined_length((0x0011, 0x1010), "OB", ITEM)
                        + element((0x7FE0, 0x0010), "OW", bytes(range(32)))), "(0011,1010)", "OB"),
    # encapsulated Pixel Data with VR OF
    "pixel-data-of": (dict(pixels=undefined_length((0x7FE0, 0x0010), "OF", struct.pack("<HHI", 0xFFFE, 0xE000, 0))),
                      "(7FE0,0010)", "OF"),
    # a Pixel Data element of VR SQ inside an item of a sequence
    # a VR no edition of the standard defines: GDCM reads a 4-byte length from the value (hundreds of MB)
    "unknown-vr": (dict(overrides={(0x0020, 0x000D): ("TI", b"1.2.3.4.5.6.8")}), "(0020,000D)", "TI"),
    "nested-pixel-data-sq": (dict(overrides={(0x0008, 0x1140): ("SQ", struct.pack("<HHI", 0xFFFE, 0xE000, len(NESTED_SQ))
                                                               + NESTED_SQ)}),
                             "(7FE0,0010)", "SQ"),
}


@pytest.mark.parametrize("case", sorted(GDCM_CASES))
def test_gdcm_assertion_structures_are_format_errors(tmp_path, case):
    kwargs, tag, vr = GDCM_CASES[case]
    path = write(tmp_path, f"{case}.dcm", dicom_bytes(**kwargs))
    expect_error(run_child("open", path), path, tag, vr)
    tree = tmp_path / "in"
    tree.mkdir()
    (tree / path.name).write_bytes(path.read_bytes())
    write(tree, "good.dcm", dicom_bytes())
    result = run_child("deid", tree, tmp_path / "out")
    files = {pathlib.Path(f["input"]).name: f for f in result["files"]}
    assert files["good.dcm"]["status"] == "written", files
    assert files[path.name]["status"] != "written" and tag in (files[path.name]["error"] or ""), files


# -- 3. negative LUT descriptors (PS3.3 C.11.1.1, C.11.2.1.1) ------------------------------------

@pytest.mark.parametrize("sequence", [(0x0028, 0x3000), (0x0028, 0x3010)], ids=["modality", "voi"])
def test_negative_lut_descriptor_is_a_format_error(tmp_path, sequence):
    item = (element((0x0028, 0x3002), "SS", struct.pack("<hhh", -1, 0, 8))
            + element((0x0028, 0x3006), "OW", struct.pack("<4H", 0, 1, 2, 3)))
    seq = struct.pack("<HHI", 0xFFFE, 0xE000, len(item)) + item
    path = write(tmp_path, "lut.dcm", dicom_bytes({sequence: ("SQ", seq)}))
    expect_error(run_child("open", path), path, "(0028,3002)")


# -- 4. codec headers claiming 65535 x 65535 with a few bytes of data -------------------------------

BIG = {ROWS: us(65535), COLUMNS: us(65535)}


def rle_fragment(segments: int) -> bytes:
    header = struct.pack("<I", segments) + b"".join(struct.pack("<I", 64 + 2 * i) for i in range(segments))
    header += b"\0" * (64 - len(header))
    return header + b"\x01\x00" * segments


def jpeg_ls_header(rows: int, columns: int) -> bytes:
    """SOI, SOF55 (ISO 14495-1 C.2.2) for one 16-bit component, SOS, a few bytes, EOI."""
    sof = struct.pack(">BHHB", 16, rows, columns, 1) + b"\x01\x11\x00"
    sos = b"\x01" + b"\x01\x00" + b"\x00\x00\x00"
    return (b"\xff\xd8" + b"\xff\xf7" + struct.pack(">H", len(sof) + 2) + sof
            + b"\xff\xda" + struct.pack(">H", len(sos) + 2) + sos + b"\x00" * 8 + b"\xff\xd9")


def jpeg_lossless_header(rows: int, columns: int) -> bytes:
    """SOI, DHT, SOF3 (ITU-T T.81 B.2.2) for one 16-bit component, SOS, a few bytes, EOI."""
    sof = struct.pack(">BHHB", 16, rows, columns, 1) + b"\x01\x11\x00"
    dht = b"\x00" + bytes([1] + [0] * 15) + b"\x00"
    sos = b"\x01" + b"\x01\x00" + b"\x01\x00\x00"
    return (b"\xff\xd8" + b"\xff\xc4" + struct.pack(">H", len(dht) + 2) + dht
            + b"\xff\xc3" + struct.pack(">H", len(sof) + 2) + sof
            + b"\xff\xda" + struct.pack(">H", len(sos) + 2) + sos + b"\x00" * 8 + b"\xff\xd9")


def j2k_header(rows: int, columns: int) -> bytes:
    """A lossless JPEG 2000 codestream of a 64 x 64 zero image (OpenJPEG, via pylibjpeg-openjpeg)
    whose SIZ marker (ISO 15444-1 A.5.1) is rewritten to claim rows x columns in one tile."""
    import openjpeg

    stream = bytearray(openjpeg.encode(np.zeros((64, 64), np.uint16), bits_stored=16, codec_format=0))
    siz = stream.index(b"\xff\x51")
    struct.pack_into(">IIIIII", stream, siz + 6, columns, rows, 0, 0, columns, rows)  # Xsiz, Ysiz, offsets, XTsiz, YTsiz
    return bytes(stream)


def test_jpeg2000_claiming_more_than_the_decode_budget_is_refused_before_decoding(tmp_path, monkeypatch):
    """A few-byte JPEG 2000 stream may legitimately code a huge constant image, so no size bound
    can reject it; the decode budget refuses its 65535 x 65535 x (4 + 2) bytes of working memory."""
    path = write(tmp_path, "j2k-bomb.dcm", dicom_bytes(BIG, syntax=JPEG2000_LOSSLESS, pixels=encapsulated([j2k_header(65535, 65535)])))
    monkeypatch.setenv("VINDR_DECODE_BUDGET", str(1 << 30))
    expect_error(run_child("render", path), path, "65535x65535", "decode budget of 1073741824", kind="OutOfMemoryError")
    small = write(tmp_path, "j2k-small.dcm", dicom_bytes({ROWS: us(64), COLUMNS: us(64)}, syntax=JPEG2000_LOSSLESS,
                                                         pixels=encapsulated([j2k_header(64, 64)])))
    assert "error" not in run_child("render", small), "a frame within the budget decodes"


CODEC_BOMBS = {
    "rle": (RLE, lambda: rle_fragment(2)),
    "jpeg-ls": (JPEG_LS_LOSSLESS, lambda: jpeg_ls_header(65535, 65535)),
    "jpeg": (JPEG_LOSSLESS_SV1, lambda: jpeg_lossless_header(65535, 65535)),
}


@pytest.mark.parametrize("codec", sorted(CODEC_BOMBS))
def test_tiny_fragment_claiming_a_huge_image_is_rejected_without_allocating(tmp_path, codec):
    syntax, fragment = CODEC_BOMBS[codec]
    path = write(tmp_path, f"{codec}-bomb.dcm", dicom_bytes(BIG, syntax=syntax, pixels=encapsulated([fragment()])))
    # render: pixels() would itself allocate the 8 GiB output array the header asks for.
    result = run_child("render", path, memory_limit=2 * GIB)
    assert "error" in result, result
    assert result["error"] in ("DecodeError", "FormatError"), result
    assert path.name in result["message"], result


@pytest.mark.parametrize("codec", ["jpeg-ls", "jpeg"])
def test_codec_frame_header_must_match_rows_and_columns(tmp_path, codec):
    syntax, _ = CODEC_BOMBS[codec]
    header = jpeg_ls_header if codec == "jpeg-ls" else jpeg_lossless_header
    path = write(tmp_path, f"{codec}-mismatch.dcm", dicom_bytes(syntax=syntax, pixels=encapsulated([header(65535, 65535)])))
    expect_error(run_child("render", path, memory_limit=2 * GIB), path, "65535x65535", "(0028,0010)")


# -- 5. allocation failures: a frame too large for the process's address-space limit ----------------

OOM_CHILD = r"""
import json, resource, sys
import numpy as np
import vindr
path, action = sys.argv[1], sys.argv[2]
im = vindr.read_dicom(path)
frame = im.rows * im.columns * 2
vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:"))
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
# Room for the caller's output array (pixels: a whole frame; render: 64 x 64) and half of the
# frame buffer the library needs to decode RLE.
resource.setrlimit(resource.RLIMIT_AS, (vm + (0 if action == "render" else frame) + frame // 2, hard))
out = {}
try:
    im.render(size=64, threads=1) if action == "render" else im.pixels()
    out["limited"] = "no error"
except vindr.OutOfMemoryError as e:
    out["limited"] = [type(e).__name__, isinstance(e, MemoryError), e.message]
resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
pixels = im.pixels()
out["after"] = [int(pixels[0, 1]), int(pixels[-1, -1])]
print(json.dumps(out))
"""


def run_under_address_space_limit(tmp_path, action: str, rle: bool) -> tuple[dict, np.ndarray]:
    side = 4096
    values = (np.arange(side * side, dtype=np.uint32) % 4096).astype("<u2")
    path = write(tmp_path, "big.dcm", dicom_bytes({ROWS: us(side), COLUMNS: us(side), (0x7FE0, 0x0010): ("OW", values.tobytes())}))
    if rle:  # a native frame is read from the file's own bytes: decoding RLE needs a buffer
        native, path = path, tmp_path / "big-rle.dcm"
        subprocess.run(["gdcmconv", "-R", str(native), str(path)], check=True, capture_output=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bindings" / "python"), env.get("PYTHONPATH", "")])
    p = subprocess.run([sys.executable, "-c", OOM_CHILD, str(path), action], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"child died with status {p.returncode}: {p.stderr[-2000:]}"
    return json.loads(p.stdout.strip().splitlines()[-1]), values


@pytest.mark.parametrize("rle", [False, True])
def test_stored_values_need_no_buffer_beyond_the_callers_array(tmp_path, rle):
    """pixels() of a native frame copies the file's bytes once, into the caller's array; an RLE
    frame of one fragment is unpacked from the file's bytes straight into it: under a limit that
    leaves room for that array and half a frame more, both succeed."""
    result, values = run_under_address_space_limit(tmp_path, "pixels", rle=rle)
    assert result["limited"] == "no error", result
    assert result["after"] == [int(values[1]), int(values[-1])]


def test_a_frame_beyond_the_address_space_limit_is_an_out_of_memory_error(tmp_path):
    """render() needs the decoded RLE frame in a buffer of its own."""
    result, values = run_under_address_space_limit(tmp_path, "render", rle=True)
    name, is_memory_error, message = result["limited"]
    assert name == "OutOfMemoryError" and is_memory_error, result
    assert "big-rle.dcm" in message and "cannot allocate" in message, message
    # The process is unharmed: with the limit lifted the same handle decodes.
    assert result["after"] == [int(values[1]), int(values[-1])]
