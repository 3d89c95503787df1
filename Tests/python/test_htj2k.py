"""High-Throughput JPEG 2000 (ISO 15444-15; PS3.6 Table A-1: .201 HTJ2K Lossless, .202 HTJ2K
Lossless RPCL, .203 HTJ2K), decoded by OpenJPH, against independent oracles: the source pixels
(lossless), OpenJPH's own ojph_expand tool and OpenJPEG through pydicom/pylibjpeg (lossy), and
OpenJPEG's reduced-resolution JPEG 2000 decode (decode="fast")."""
from __future__ import annotations

import json
import pathlib
import struct
import subprocess

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate, generate_frames

import corpus as corpus_module
import vindr
from conftest import oracle_pixels
from vindr.dicom import transfer_syntax_name

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"

HTJ2K_FILES = [(v.name, key) for v in corpus_module.VARIANTS for key in v.syntaxes if key in corpus_module.HTJ2K]
LOSSLESS_FILES = [(v, k) for v, k in HTJ2K_FILES if k in corpus_module.LOSSLESS]
LOSSY_FILES = [(v, k) for v, k in HTJ2K_FILES if k in corpus_module.LOSSY]


def source_pixels(corpus, variant) -> np.ndarray:
    """The pixels the corpus encoded: the native (explicit VR) file's, read by pydicom."""
    return pydicom.dcmread(corpus[variant]["explicit"]).pixel_array


def all_frames(im) -> np.ndarray:
    return np.stack([im.pixels(i) for i in range(im.frames)]) if im.frames > 1 else im.pixels()


def codestreams(path) -> list[bytes]:
    ds = pydicom.dcmread(path)
    return list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1))))


def ojph_expand(stream: bytes, rows: int, cols: int, tmp_path, skip: int = 0) -> np.ndarray:
    """OpenJPH's command-line decoder. Debian's ojph_expand writes negative samples as 0, so a
    signed stream goes in with its Ssiz sign bit cleared and 2^(bits-1) is subtracted from the
    output: signed and unsigned components differ only in the DC level shift (ISO 15444-1
    G.1.2), which is exact for the reversible path. (The irreversible path converts with
    different float rounding in the two cases, so this is no exact oracle for signed lossy.)"""
    s = bytearray(stream)
    bits, signed = (s[42] & 0x7F) + 1, bool(s[42] & 0x80)
    s[42] &= 0x7F
    (tmp_path / "in.j2c").write_bytes(bytes(s))
    args = ["ojph_expand", "-i", str(tmp_path / "in.j2c"), "-o", str(tmp_path / "out.raw")]
    if skip:
        args += ["-skip_res", f"{skip},{skip}"]
    subprocess.run(args, check=True, capture_output=True)
    f = 1 << skip
    out = np.fromfile(tmp_path / "out.raw", "<u2" if bits > 8 else "u1").astype(np.int64)
    out = out.reshape((rows + f - 1) // f, (cols + f - 1) // f)
    return out - (1 << (bits - 1)) if signed else out


@pytest.mark.parametrize("variant,syntax", LOSSLESS_FILES)
def test_lossless_is_bit_exact_to_the_source(corpus, variant, syntax):
    im = vindr.read_dicom(corpus[variant][syntax])
    assert im.transfer_syntax_uid == corpus_module.LOSSLESS[syntax]
    got = all_frames(im)
    source = source_pixels(corpus, variant)
    assert got.dtype == source.dtype and got.shape == source.shape
    np.testing.assert_array_equal(got, source)
    np.testing.assert_array_equal(got, oracle_pixels(corpus[variant][syntax]))  # OpenJPEG agrees


@pytest.mark.parametrize("variant,syntax", LOSSY_FILES)
def test_lossy_equals_openjph_and_openjpeg(corpus, variant, syntax, tmp_path):
    """Unsigned: equal to ojph_expand sample for sample. The 9/7 inverse is floating point and
    decoders round differently (ISO 15444-4 allows it): ojph_expand's unsigned path for signed
    data is within 1 at under 1% of the samples (measured: 0.12% at 16 bits), OpenJPEG within 1
    at under 10% (measured: 8.2% at 16 bits, 0.5% at 12, 0.01% at 8)."""
    path = corpus[variant][syntax]
    im = vindr.read_dicom(path)
    pixels = im.pixels()
    signed, got = pixels.dtype.kind == "i", pixels.astype(np.int64)
    assert np.abs(got - source_pixels(corpus, variant)).max() > 0, "not lossy"
    expanded = ojph_expand(codestreams(path)[0], im.rows, im.columns, tmp_path)
    if not signed:
        np.testing.assert_array_equal(got, expanded)
    for oracle, share in ((expanded, 0.01), (oracle_pixels(path).astype(np.int64), 0.1)):
        diff = np.abs(got - oracle)
        assert diff.max() <= 1 and np.count_nonzero(diff) < share * diff.size, (diff.max(), np.count_nonzero(diff))


@pytest.mark.parametrize("variant", ["u12m2", "s16", "s12sigmoid", "s8"])
@pytest.mark.parametrize("size", [1024, 512, 256])
def test_fast_render_decodes_the_same_reduced_resolution_as_openjpeg(corpus, variant, size):
    """decode="fast" skips resolution levels (ISO 15444-1 B.5): the reduced image is the 5/3 low
    band, the same for every conforming decoder of a lossless stream of the same image, so the
    render equals the one from OpenJPEG's reduced decode of the JPEG 2000 file (both coded with
    5 decomposition levels; these images have no saturated edges, where OpenJPEG, given the
    JPEG 2000 files' 16-bit precision for 12-bit data, does not clamp the low band's overshoot)."""
    key = next(k for k in ("htj2k201", "htj2k202") if k in corpus[variant])
    ht = vindr.read_dicom(corpus[variant][key])
    j2k = vindr.read_dicom(corpus[variant]["j2k90"])
    fast = ht.render(size=size, dtype="float32", decode="fast")
    np.testing.assert_array_equal(fast, j2k.render(size=size, dtype="float32", decode="fast"))
    np.testing.assert_array_equal(ht.render(size=size, dtype="float32"), j2k.render(size=size, dtype="float32"))


def test_fast_render_resamples_ojph_expands_reduced_image(corpus, tmp_path):
    """ojph_expand -skip_res 2 as the oracle of the reduced decode: rendering 2560 x 2304 to
    640 x 576 with decode="fast" decodes 4x smaller, at the output size, and the renderer then
    samples that grid a 3/8 pixel further along each axis (SourceGrid: the low band sample i is
    centred on source pixel 4i, the output pixel on 4i + 1.5), bilinearly."""
    path = corpus["u12m2"]["htj2k201"]
    im = vindr.read_dicom(path)
    reduced = ojph_expand(codestreams(path)[0], im.rows, im.columns, tmp_path, skip=2)
    assert reduced.shape == (640, 576)
    # The file's first window (2048, 4096), LINEAR (PS3.3 C.11.2.1.2.1).
    display = np.clip((reduced - 2047.5) / 4095 + 0.5, 0, 1)
    for axis in (0, 1):
        d = np.moveaxis(display, axis, 0).copy()
        d[:-1] = 0.625 * d[:-1] + 0.375 * d[1:]
        display = np.moveaxis(d, 0, axis)
    fast = im.render(size=640, dtype="float32", decode="fast")
    np.testing.assert_allclose(fast, display, atol=1e-5)


def test_multiframe_uses_the_basic_offset_table(corpus):
    im = vindr.read_dicom(corpus["multiframe"]["htj2k201"])
    assert im.frames == 3
    np.testing.assert_array_equal(all_frames(im), source_pixels(corpus, "multiframe"))


def test_cli_info_and_render(corpus, tmp_path):
    path = corpus["s16"]["htj2k201"]
    info = json.loads(subprocess.run([str(CLI), "info", "--json", str(path)], capture_output=True, text=True,
                                     check=True).stdout)
    assert info["transfer_syntax_uid"] == "1.2.840.10008.1.2.4.201"
    human = subprocess.run([str(CLI), "info", str(path)], capture_output=True, text=True, check=True).stdout
    assert "HTJ2K Lossless (1.2.840.10008.1.2.4.201)" in human
    (tmp_path / "in").mkdir()
    for key in ("htj2k201", "htj2k203"):
        (tmp_path / "in" / f"{key}.dcm").write_bytes(corpus["s16"][key].read_bytes())
    out = subprocess.run([str(CLI), "render", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--size", "512"],
                         capture_output=True, text=True, check=True)
    assert "rendered 2 of 2" in out.stdout
    for key in ("htj2k201", "htj2k203"):
        png = cv2.imread(str(tmp_path / "out" / f"{key}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(png, vindr.read_dicom(corpus["s16"][key]).render(size=512))
    assert transfer_syntax_name("1.2.840.10008.1.2.4.202") == "HTJ2K Lossless RPCL"


def test_deidentification_keeps_the_codestreams_verbatim(tmp_path):
    from test_deid import PHI, phi_dataset

    ds = phi_dataset()
    stream = corpus_module.htj2k_codestream(ds.pixel_array, 12, corpus_module.HTJ2K["htj2k201"], tmp_path)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.201"
    ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    src = tmp_path / "in" / "ht.dcm"
    src.parent.mkdir()
    ds.save_as(src, enforce_file_format=True)
    result = vindr.deidentify(src.parent, tmp_path / "out", profile="vindr", min_size=512, workers=1)
    assert result.failed == 0 and result.written == 1, result.files
    out = pathlib.Path(result.files[0]["output"])
    written = pydicom.dcmread(out)
    assert written.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.201"
    assert written.PixelData == ds.PixelData  # fragments and Basic Offset Table byte for byte
    data = out.read_bytes()
    assert not [t for t in PHI if t.encode() in data]
    np.testing.assert_array_equal(vindr.read_dicom(out).pixels(), ds.pixel_array)


def retag(path, uid: str, target) -> pathlib.Path:
    """A copy of `path` whose (0002,0010) says `uid`, with the meta group length adjusted (pydicom
    refuses to write a syntax it does not know)."""
    data = path.read_bytes()
    at = data.index(b"\x02\x00\x10\x00UI", 132)
    old_len = struct.unpack_from("<H", data, at + 6)[0]
    value = uid.encode() + (b"\0" if len(uid) % 2 else b"")
    group = data.index(b"\x02\x00\x00\x00UL", 132)
    length = struct.unpack_from("<I", data, group + 8)[0] + len(value) - old_len
    data = data[:group + 8] + struct.pack("<I", length) + data[group + 12:at] + b"\x02\x00\x10\x00UI" \
        + struct.pack("<H", len(value)) + value + data[at + 8 + old_len:]
    target.write_bytes(data)
    assert pydicom.dcmread(target, stop_before_pixels=True).file_meta.TransferSyntaxUID == uid
    return target


@pytest.mark.parametrize("source", ["htj2k201", "explicit"])
def test_unknown_transfer_syntax_is_unsupported_naming_the_uid(corpus, tmp_path, source):
    """A syntax neither GDCM nor this SDK knows (JPEG XL, PS3.6 Table A-1) opens, since every
    such syntax encodes the data set in Explicit VR Little Endian, but its pixels are refused as
    unsupported, never as a format error."""
    uid = "1.2.840.10008.1.2.4.110"
    path = retag(corpus["u12m2"][source], uid, tmp_path / "jxl.dcm")
    im = vindr.read_dicom(path)
    assert im.transfer_syntax_uid == uid and (im.rows, im.columns) == (2560, 2304)
    for call in (im.pixels, lambda: im.render(size=256)):
        with pytest.raises(vindr.UnsupportedError, match=uid.replace(".", r"\.")):
            call()
    out = subprocess.run([str(CLI), "render", str(path), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert out.returncode != 0 and uid in out.stderr and "not supported" in out.stderr


@pytest.mark.filterwarnings("ignore:Expected explicit VR")  # pydicom, checking the rewritten meta
def test_unknown_syntax_that_is_not_explicit_vr_is_unsupported(corpus, tmp_path):
    """An implicit VR data set under an unknown UID cannot be parsed: the error is the syntax."""
    uid = "1.2.3.4.5.6.7"
    path = retag(corpus["u12m2"]["implicit"], uid, tmp_path / "private.dcm")
    with pytest.raises(vindr.UnsupportedError, match=r"1\.2\.3\.4\.5\.6\.7.*not supported"):
        vindr.read_dicom(path)
    out = subprocess.run([str(CLI), "info", str(path)], capture_output=True, text=True)
    assert out.returncode == 1 and uid in out.stderr


def marker(code: int, body: bytes) -> bytes:
    return struct.pack(">HH", code, len(body) + 2) + body


def htj2k_header(rows: int, cols: int, levels: int = 5, bits: int = 12, extra: bytes = b"", psot: int | None = None,
                 end: bytes = b"\xff\xd9") -> bytes:
    """SOC, SIZ (Rsiz bit 14: HTJ2K), CAP, COD (HT code-blocks), QCD, then `extra`, one tile-part
    of empty packets and EOC (ISO 15444-1 A.4, ISO 15444-15 A.2-A.4)."""
    siz = struct.pack(">HIIIIIIIIH", 0x4000, cols, rows, 0, 0, cols, rows, 0, 0, 1) + bytes([bits - 1, 1, 1])
    cod = bytes([0, 0]) + struct.pack(">H", 1) + bytes([0, levels, 4, 4, 0x40, 1])
    qcd = bytes([0x20]) + bytes([0x60] * (1 + 3 * levels))
    head = b"\xff\x4f" + marker(0xFF51, siz) + marker(0xFF50, struct.pack(">IH", 0x00020000, 0)) + marker(0xFF52, cod)
    head += marker(0xFF5C, qcd) + extra
    # One empty packet per resolution level: a zero bit, padded to a byte (ISO 15444-1 B.10).
    length = 14 + levels + 1 if psot is None else psot
    tile = struct.pack(">HHHIBB", 0xFF90, 10, 0, length, 0, 1) + b"\xff\x93" + bytes(levels + 1)
    return head + tile + end


def htj2k_file(tmp_path, name, stream, rows=64, cols=64) -> pathlib.Path:
    v = corpus_module.Variant(name, rows, cols)
    ds = corpus_module.base_dataset(v, np.zeros((rows, cols), np.uint16))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.201"
    ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    path = tmp_path / f"{name}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("case,stream,message", [
    ("no-soc", b"\x00" * 64, "no SOC marker"),
    ("part1", htj2k_header(64, 64).replace(b"\x40\x00", b"\x00\x00", 1), "Rsiz bit 14"),
    ("size", htj2k_header(65535, 65535), "65535x65535"),
    ("levels", htj2k_header(64, 64, levels=40), "COD"),
    ("poc", htj2k_header(64, 64, extra=marker(0xFF5F, b"\x00" * 7)), "POC"),
    ("precision", htj2k_header(64, 64, bits=17), "precision 17"),
    ("tile", htj2k_header(64, 64).replace(struct.pack(">HHH", 0xFF90, 10, 0), struct.pack(">HHH", 0xFF90, 10, 1)),
     "tile index 1"),
    ("truncated", htj2k_header(64, 64)[:60], "HTJ2K"),
    ("psot0", htj2k_header(64, 64, psot=0), "Psot 0"),
])
def test_malformed_codestreams_are_clear_errors(tmp_path, case, stream, message):
    """Headers OpenJPH 0.9 would trust (fixed-size arrays indexed by COD/QCD fields, tile
    indices) or misread are refused before it sees them, naming what is wrong."""
    path = htj2k_file(tmp_path, case, stream)
    im = vindr.read_dicom(path)
    with pytest.raises((vindr.DecodeError, vindr.FormatError)) as e:
        im.pixels()
    assert message in str(e.value) and path.name in str(e.value)


@pytest.mark.parametrize("end", [b"\xff\xd9", b"", b"\x00"], ids=["eoc", "no-eoc", "padding"])
def test_empty_tile_decodes_to_the_dc_level(tmp_path, end):
    """A well-formed stream with no coded data: every code-block is empty, the image is 2^(B-1)
    after the DC level shift (ISO 15444-1 G.1.2), as OpenJPEG decodes it too; with or without
    EOC, and with the zero byte that pads an odd-length fragment (PS3.5 A.4)."""
    path = htj2k_file(tmp_path, "empty", htj2k_header(64, 64, end=end))
    got = vindr.read_dicom(path).pixels()
    if end:
        np.testing.assert_array_equal(got, oracle_pixels(path))
    assert (got == 2048).all()


def test_corrupt_code_block_data_is_a_decode_error(corpus, tmp_path):
    """Garbage in the middle of the coded data (valid headers): OpenJPH's failure, which carries
    no text of its own, becomes a DecodeError naming the file and the codec."""
    data = bytearray(corpus["s12sigmoid"]["htj2k202"].read_bytes())
    at = len(data) // 2
    data[at:at + 256] = b"\x5a" * 256
    path = tmp_path / "corrupt.dcm"
    path.write_bytes(bytes(data))
    with pytest.raises(vindr.DecodeError, match=r"corrupt\.dcm: HTJ2K: OpenJPH could not decode"):
        vindr.read_dicom(path).pixels()


@pytest.mark.parametrize("rows,cols", [(12, 16), (8, 8), (5, 6), (1, 64), (64, 1), (17, 3)])
def test_tiny_images_round_trip(tmp_path, rows, cols):
    """Small images with as many levels as OpenJPH 0.9 reconstructs (corpus.htj2k_codestream)."""
    pixels = np.random.default_rng(rows * cols).integers(0, 4096, (rows, cols)).astype(np.uint16)
    stream = corpus_module.htj2k_codestream(pixels, 12, corpus_module.HTJ2K["htj2k201"], tmp_path)
    path = htj2k_file(tmp_path, "tiny", stream, rows, cols)
    np.testing.assert_array_equal(vindr.read_dicom(path).pixels(), pixels)


@pytest.mark.parametrize("rows,cols,options,refused", [
    (12, 16, [], "16x12 tile is a single sample at decomposition levels 4 and 5"),
    (97, 131, ["-tile_size", "{64,48}"], "3x1 tile is a single sample at decomposition levels 2 and 3"),
    (256, 200, ["-tile_size", "{64,48}"], None),  # an 8x16 corner tile whose single sample goes to a high band
    (256, 200, ["-tile_size", "{64,48}", "-prog_order", "PCRL"], None),
])
def test_a_single_sample_kept_by_the_next_level_is_refused(tmp_path, rows, cols, options, refused):
    """5 levels where a tile's resolution level stays one sample in the next level's low band: the
    stream is valid (OpenJPEG decodes it losslessly) but OpenJPH 0.9 reconstructs it wrongly, so
    it is refused; a tile whose single sample moves to a high band decodes exactly."""
    pixels = np.random.default_rng(0).integers(0, 4096, (rows, cols)).astype("<u2")
    pixels.tofile(tmp_path / "in.raw")
    subprocess.run(["ojph_compress", "-i", str(tmp_path / "in.raw"), "-o", str(tmp_path / "out.j2c"), "-dims",
                    f"{{{cols},{rows}}}", "-num_comps", "1", "-signed", "false", "-bit_depth", "12", "-downsamp", "{1,1}",
                    "-reversible", "true", "-num_decomps", "5", *options], check=True, capture_output=True)
    path = htj2k_file(tmp_path, "deep", (tmp_path / "out.j2c").read_bytes(), rows, cols)
    np.testing.assert_array_equal(oracle_pixels(path), pixels)
    if refused:
        with pytest.raises(vindr.DecodeError, match=refused):
            vindr.read_dicom(path).pixels()
    else:
        np.testing.assert_array_equal(vindr.read_dicom(path).pixels(), pixels)
