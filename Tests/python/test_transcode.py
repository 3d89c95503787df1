"""Lossless transcoding (`vindr transcode`, `vdr_transcode`, `vindr.transcode`) against
independent oracles: pydicom with pylibjpeg-openjpeg decodes every HTJ2K output to the input's
stored values; OpenJPH's ojph_expand decodes the extracted codestreams of unsigned images; pydicom
reads the encapsulation (one fragment per frame, the Basic Offset Table) and finds every other
attribute unchanged; explicit -> HTJ2K -> explicit gives the same Pixel Data bytes."""
from __future__ import annotations

import ctypes
import json
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from pydicom.encaps import generate_fragments, parse_basic_offsets

import corpus
import vindr
from conftest import oracle_pixels
from vindr import _lib
from vindr import _constants as C
from test_abi import build as build_program

HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"
EXPLICIT = "1.2.840.10008.1.2.1"

# Small images in the syntaxes the corpus writes (corpus.py's tools), each with its explicit twin.
VARIANTS = [
    corpus.Variant("u8", 64, 48, bits_allocated=8, bits_stored=8, syntaxes=("explicit", "rle", "j2k90", "jpeg50")),
    corpus.Variant("u12", 70, 50, windows=[(2048, 4096)], syntaxes=("explicit", "implicit", "jpegls80", "j2k90", "rle", "jpeg57")),
    corpus.Variant("u16", 64, 64, bits_stored=16, syntaxes=("explicit", "deflated")),
    corpus.Variant("s16", 40, 64, bits_stored=16, signed=True, rescale=(1.0, -100.0), syntaxes=("explicit", "rle")),
    corpus.Variant("s12", 40, 64, bits_stored=12, signed=True, syntaxes=("explicit", "j2k90")),
    corpus.Variant("s8", 30, 26, bits_allocated=8, bits_stored=8, signed=True, syntaxes=("explicit", "rle")),
    corpus.Variant("multiframe", 33, 31, frames=3, syntaxes=("explicit", "rle", "j2k90")),
    corpus.Variant("mono1", 32, 40, photometric="MONOCHROME1", rescale=(2.0, -1024.0), syntaxes=("explicit", "jpeg70")),
]
LOSSLESS_INPUTS = [(v.name, key) for v in VARIANTS for key in v.syntaxes if key not in corpus.LOSSY]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, dict[str, pathlib.Path]]:
    root = tmp_path_factory.mktemp("transcode-corpus")
    out = {v.name: corpus.write_variant(v, root, seed=i) for i, v in enumerate(VARIANTS)}
    # HTJ2K inputs (ojph_compress): lossless 12-bit, and irreversible signed 16-bit (.203, lossy).
    out["h12"] = {"htj2k201": corpus.write_htj2k(corpus.Variant("h12", 48, 56), root / "h", "htj2k201")}
    out["hs16"] = {"htj2k203": corpus.write_htj2k(corpus.Variant("hs16", 40, 52, bits_stored=16, signed=True),
                                                  root / "h", "htj2k203", qstep=0.01)}
    return out


def frames_of(path) -> np.ndarray:
    """Stored values decoded by pydicom + pylibjpeg, frames first."""
    ds = pydicom.dcmread(path)
    arr = oracle_pixels(path)
    return arr if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1 else arr[None]


def sdk_frames(path) -> np.ndarray:
    im = vindr.read_dicom(path)
    return np.stack([im.pixels(f) for f in range(im.frames)])


def other_elements(ds: pydicom.Dataset) -> dict:
    """Every top-level element but Pixel Data, as (VR-free) values."""
    return {e.tag: e.value for e in ds if e.tag != 0x7FE00010}


def meta_elements(ds: pydicom.Dataset) -> dict:
    return {e.tag: e.value for e in ds.file_meta if e.tag not in (0x00020000, 0x00020010)}


def no_leftovers(folder: pathlib.Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp") or ".partial" in p.name]


@pytest.mark.parametrize("name,key", LOSSLESS_INPUTS, ids=[f"{n}-{k}" for n, k in LOSSLESS_INPUTS])
def test_htj2k_output_decodes_to_the_original_stored_values(tmp_path, files, name, key):
    src = files[name][key]
    out = tmp_path / "out.dcm"
    r = vindr.transcode(src, out, to="htj2k")
    assert (r.written, r.failed, r.not_dicom) == (1, 0, 0), r.files
    f = r.files[0]
    assert f["status"] == "written" and f["verified"] and f["output"] == str(out) and f["frames"] >= 1
    ds = pydicom.dcmread(out)
    assert ds.file_meta.TransferSyntaxUID == HTJ2K_LOSSLESS
    want = frames_of(files[name]["explicit"])
    got = frames_of(out)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    # PS3.5 A.4: undefined length, one fragment per frame, a Basic Offset Table with each
    # frame's offset; every fragment an HTJ2K codestream (SOC, SIZ, then CAP for Part 15).
    elem = ds["PixelData"]
    assert elem.VR == "OB" and elem.is_undefined_length
    raw = ds.PixelData
    offsets = parse_basic_offsets(raw)
    fragments = list(generate_fragments(raw))[1:]  # the first item is the Basic Offset Table
    assert len(fragments) == len(want) == len(offsets)
    assert offsets == list(np.cumsum([0] + [8 + len(x) for x in fragments[:-1]]))
    assert all(x[:4] == b"\xff\x4f\xff\x51" and b"\xff\x50" in x[:200] for x in fragments)
    # Every other attribute as it was (values; an implicit input's become explicit VRs).
    source = pydicom.dcmread(src)
    assert other_elements(ds) == other_elements(source)
    assert meta_elements(ds) == meta_elements(source)


@pytest.mark.parametrize("name", [v.name for v in VARIANTS if not v.signed])
def test_ojph_expand_decodes_the_unsigned_codestreams(tmp_path, files, name):
    """OpenJPH's own decoder (Debian's 0.9 ojph_expand writes negative values as 0, hence
    unsigned images only) reads each fragment to the input frame."""
    out = tmp_path / "out.dcm"
    vindr.transcode(files[name]["explicit"], out, to="htj2k")
    want = frames_of(files[name]["explicit"])
    for i, stream in enumerate(list(generate_fragments(pydicom.dcmread(out).PixelData))[1:]):
        j2c, pgm = tmp_path / f"{i}.j2c", tmp_path / f"{i}.pgm"
        j2c.write_bytes(stream.rstrip(b"\0") if stream.endswith(b"\xff\xd9\0") else stream)
        subprocess.run(["ojph_expand", "-i", str(j2c), "-o", str(pgm)], check=True, capture_output=True)
        data = pgm.read_bytes()
        header = data.split(maxsplit=4)  # P5 width height maxval pixels
        width, height, maxval = int(header[1]), int(header[2]), int(header[3])
        pixels = data[len(data) - width * height * (2 if maxval > 255 else 1):]
        got = np.frombuffer(pixels, dtype=">u2" if maxval > 255 else np.uint8).reshape(height, width)
        assert np.array_equal(got, want[i])


@pytest.mark.parametrize("name,key", [("u12", "explicit"), ("u8", "explicit"), ("s16", "explicit"), ("s12", "explicit"),
                                      ("multiframe", "explicit"), ("mono1", "explicit"), ("u16", "explicit"),
                                      ("s8", "explicit")])
def test_explicit_to_htj2k_to_explicit_is_byte_identical(tmp_path, files, name, key):
    src = files[name][key]
    vindr.transcode(src, tmp_path / "h.dcm", to="htj2k")
    r = vindr.transcode(tmp_path / "h.dcm", tmp_path / "e.dcm", to="explicit-le")
    assert r.written == 1 and r.files[0]["source_syntax"] == HTJ2K_LOSSLESS
    a, b = pydicom.dcmread(src), pydicom.dcmread(tmp_path / "e.dcm")
    assert b.file_meta.TransferSyntaxUID == EXPLICIT
    assert a.PixelData == b.PixelData and a["PixelData"].VR == b["PixelData"].VR
    assert other_elements(a) == other_elements(b)
    assert meta_elements(a) == meta_elements(b)


@pytest.mark.parametrize("name,key", [("u12", "jpegls80"), ("u12", "rle"), ("u12", "implicit"), ("multiframe", "j2k90"),
                                      ("s12", "j2k90"), ("h12", "htj2k201"), ("u8", "jpeg50"), ("hs16", "htj2k203")])
def test_explicit_le_from_compressed_and_lossy_inputs(tmp_path, files, name, key):
    """Native output holds the stored values the SDK decodes from the input; for lossless inputs
    those are pydicom's too. A lossy input (JPEG baseline, irreversible HTJ2K) keeps its Lossy
    Image Compression (0028,2110), also when rewritten as HTJ2K Lossless Only."""
    src = files[name][key]
    r = vindr.transcode(src, tmp_path / "e.dcm", to="explicit-le")
    assert r.written == 1, r.files
    out = pydicom.dcmread(tmp_path / "e.dcm")
    assert out.file_meta.TransferSyntaxUID == EXPLICIT and not out["PixelData"].is_undefined_length
    assert np.array_equal(frames_of(tmp_path / "e.dcm"), sdk_frames(src))
    if key not in corpus.LOSSY and key != "htj2k203":
        assert np.array_equal(frames_of(tmp_path / "e.dcm"), frames_of(src))
    vindr.transcode(src, tmp_path / "h.dcm", to="htj2k")
    h = pydicom.dcmread(tmp_path / "h.dcm")
    assert np.array_equal(frames_of(tmp_path / "h.dcm"), sdk_frames(src))
    source = pydicom.dcmread(src)
    assert h.get("LossyImageCompression") == out.get("LossyImageCompression") == source.get("LossyImageCompression")
    if key == "htj2k203":
        assert h.LossyImageCompression == "01"


def test_a_tree_is_mirrored_with_non_dicom_and_corrupt_files_reported(tmp_path, files):
    src = tmp_path / "in"
    (src / "sub" / "deeper").mkdir(parents=True)
    shutil.copy(files["u12"]["rle"], src / "a.dcm")
    shutil.copy(files["multiframe"]["j2k90"], src / "sub" / "b.dcm")
    shutil.copy(files["s16"]["explicit"], src / "sub" / "deeper" / "c.dcm")
    (src / "README.txt").write_text("not a DICOM file\n")
    good = files["u8"]["explicit"].read_bytes()
    (src / "sub" / "corrupt.dcm").write_bytes(good[:len(good) - 500])  # Pixel Data cut short
    out = tmp_path / "out"
    r = vindr.transcode(src, out, to="htj2k", workers=2)
    status = {pathlib.Path(f["input"]).relative_to(src).as_posix(): f for f in r.files}
    assert (r.written, r.failed, r.not_dicom) == (3, 1, 1)
    assert status["README.txt"]["status"] == "not_dicom"
    bad = status["sub/corrupt.dcm"]
    assert bad["status"] == "failed" and str(src / "sub" / "corrupt.dcm") in bad["error"] and bad["output"] is None
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["a.dcm", "sub/b.dcm", "sub/deeper/c.dcm"]
    assert not no_leftovers(out)
    for rel in written:
        assert pydicom.dcmread(out / rel).file_meta.TransferSyntaxUID == HTJ2K_LOSSLESS
        assert np.array_equal(frames_of(out / rel), frames_of(src / rel))


def test_a_corrupt_file_given_alone_fails_naming_it_and_leaves_nothing(tmp_path, files):
    data = bytearray(files["h12"]["htj2k201"].read_bytes())
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(data[:len(data) - 40] + b"\0" * 40)  # the codestream's tail (and EOC) zeroed
    out = tmp_path / "out"
    out.mkdir()
    r = vindr.transcode(bad, out / "x.dcm", to="explicit-le")
    assert (r.written, r.failed) == (0, 1)
    assert str(bad) in r.files[0]["error"]
    assert list(out.iterdir()) == []


def cli() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("VINDR_CLI", pathlib.Path(_lib.lib._name).parent / "vindr"))
    if not path.exists():
        pytest.skip(f"vindr command-line tool not built at {path} (set VINDR_CLI)")
    return path


def test_cli_transcodes_a_file_and_a_tree_with_and_without_verification(tmp_path, files):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(files["u12"]["jpegls80"], src / "a.dcm")
    shutil.copy(files["s12"]["j2k90"], src / "b.dcm")
    (src / "notes.md").write_text("# notes\n")
    proc = subprocess.run([str(cli()), "transcode", str(src), str(tmp_path / "h"), "--to", "htj2k", "--no-verify",
                           "--workers", "2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "written 2" in proc.stdout and "not verified" in proc.stdout and "not DICOM 1" in proc.stdout
    assert f"not DICOM: {src / 'notes.md'}" in proc.stderr
    # A file into an existing directory keeps its name; back to native, verified.
    (tmp_path / "e").mkdir()
    proc = subprocess.run([str(cli()), "transcode", str(tmp_path / "h" / "a.dcm"), str(tmp_path / "e"), "--to", "explicit-le"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert ", verified" in proc.stdout
    assert np.array_equal(frames_of(tmp_path / "e" / "a.dcm"), frames_of(files["u12"]["explicit"]))
    # A failed file: exit status 1, its name on standard error, nothing written.
    (tmp_path / "bad.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\x40\x00")
    proc = subprocess.run([str(cli()), "transcode", str(tmp_path / "bad.dcm"), str(tmp_path / "bad-out.dcm"), "--to", "htj2k"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and f"failed: {tmp_path / 'bad.dcm'}" in proc.stderr
    assert not (tmp_path / "bad-out.dcm").exists() and not no_leftovers(tmp_path)
    proc = subprocess.run([str(cli()), "transcode", str(src), str(tmp_path / "x"), "--to", "jpeg"], capture_output=True, text=True)
    assert proc.returncode == 64 and "unknown --to 'jpeg'" in proc.stderr
    assert "Examples:" in subprocess.run([str(cli()), "transcode", "--help"], capture_output=True, text=True, check=True).stdout


def test_c_abi_counts_report_and_argument_errors(tmp_path, files):
    fn = _lib.prototype("vdr_transcode")
    counts = (ctypes.c_size_t * 4)()
    report = ctypes.c_void_p()
    src, out = str(files["mono1"]["explicit"]).encode(), str(tmp_path / "m.dcm").encode()
    assert fn(src, out, C.VDR_TRANSCODE_HTJ2K, 1, 1, counts, ctypes.byref(report)) == C.VDR_OK
    try:
        doc = json.loads(ctypes.string_at(report.value).decode())
    finally:
        _lib.string_destroy(report)
    assert list(counts) == [1, 1, 0, 0]
    assert doc["target"] == "htj2k" and doc["files"][0]["status"] == "written" and doc["files"][0]["verified"] is True
    assert doc["files"][0]["output_bytes"] == (tmp_path / "m.dcm").stat().st_size
    # counts and report may be NULL; an unknown target or negative workers is VDR_ERR_ARGUMENT.
    assert fn(src, str(tmp_path / "n.dcm").encode(), C.VDR_TRANSCODE_EXPLICIT_LE, 0, 0, None, None) == C.VDR_OK
    assert pydicom.dcmread(tmp_path / "n.dcm").file_meta.TransferSyntaxUID == EXPLICIT
    assert fn(src, out, 7, 1, 0, None, None) == C.VDR_ERR_ARGUMENT
    assert "unknown transcode target 7" in _lib._last_error().decode()
    assert fn(src, out, C.VDR_TRANSCODE_HTJ2K, 1, -1, None, None) == C.VDR_ERR_ARGUMENT
    assert fn(b"/nonexistent/in.dcm", out, C.VDR_TRANSCODE_HTJ2K, 1, 0, None, None) == C.VDR_ERR_IO
    with pytest.raises(ValueError):
        vindr.transcode(src.decode(), out.decode(), to="jpeg")


def test_cpp_wrapper(tmp_path, files):
    exe = build_program(tmp_path, "wrappers_test.cpp", ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror"])
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(files["s16"]["rle"], src / "s.dcm")
    (src / "x.txt").write_text("text")
    proc = subprocess.run([str(exe), "transcode", str(src), str(tmp_path / "out"), "htj2k"], capture_output=True, text=True,
                          check=True)
    first, doc = proc.stdout.split("\n", 1)
    assert first.split() == ["2", "1", "0", "1"]
    assert {f["status"] for f in json.loads(doc)["files"]} == {"written", "not_dicom"}
    assert np.array_equal(frames_of(tmp_path / "out" / "s.dcm"), frames_of(files["s16"]["explicit"]))


def test_implicit_vr_with_private_elements_sequences_and_an_early_us_or_ss(tmp_path, files):
    """An Implicit VR data set becomes Explicit VR: public VRs from the dictionary, private data
    elements UN with their bytes kept, sequences kept; Zero Velocity Pixel Value (0018,9810), a US
    or SS attribute before Pixel Representation on which GDCM's VR lookup asserts, gets US."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(files["s12"]["explicit"])
    ds.private_block(0x0009, "ACME", create=True).add_new(0x01, "LO", "vendor value")
    ds.ReferencedImageSequence = Sequence([Dataset()])
    ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID = "1.2.3.4"
    ds.add_new(0x00189810, "SS", -5)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    src = tmp_path / "implicit.dcm"
    ds.save_as(src, enforce_file_format=True)
    for to, syntax in (("htj2k", HTJ2K_LOSSLESS), ("explicit-le", EXPLICIT)):
        r = vindr.transcode(src, tmp_path / f"{to}.dcm", to=to)
        assert r.written == 1, r.files
        out = pydicom.dcmread(tmp_path / f"{to}.dcm")
        assert out.file_meta.TransferSyntaxUID == syntax
        assert out[0x00189810].VR == "SS" and out[0x00189810].value == -5  # Pixel Representation 1
        assert out[0x00091001].VR == "UN" and out[0x00091001].value.rstrip(b" ") == b"vendor value"
        assert out.ReferencedImageSequence[0].ReferencedSOPInstanceUID == "1.2.3.4"
        assert np.array_equal(frames_of(tmp_path / f"{to}.dcm"), frames_of(files["s12"]["explicit"]))


def test_big_endian_and_overwriting_the_input_are_refused(tmp_path, files):
    big = tmp_path / "big.dcm"
    subprocess.run([a.format(i=files["u12"]["explicit"], o=big) for a in corpus.CONVERT["big"]], check=True, capture_output=True)
    r = vindr.transcode(big, tmp_path / "out.dcm", to="htj2k")
    assert r.failed == 1 and "Explicit VR Big Endian" in r.files[0]["error"] and str(big) in r.files[0]["error"]
    assert not (tmp_path / "out.dcm").exists()
    copy = tmp_path / "same.dcm"
    shutil.copy(files["u12"]["explicit"], copy)
    r = vindr.transcode(copy, copy, to="htj2k")
    assert r.failed == 1 and "would overwrite the input" in r.files[0]["error"]
    assert copy.read_bytes() == files["u12"]["explicit"].read_bytes() and not no_leftovers(tmp_path)


def test_python_arguments_are_checked_before_the_call(tmp_path, files):
    src = files["u8"]["explicit"]
    with pytest.raises(vindr.InvalidArgumentError, match="workers"):
        vindr.transcode(src, tmp_path / "o.dcm", workers=1 << 40)
    with pytest.raises(vindr.InvalidArgumentError, match="NUL"):
        vindr.transcode(str(src) + "\0x", tmp_path / "o.dcm")
    with pytest.raises(vindr.InvalidArgumentError, match="workers must be 0 or more"):
        vindr.transcode(src, tmp_path / "o.dcm", workers=-1)
    with pytest.raises(vindr.VinDrIOError):
        vindr.transcode(tmp_path / "missing", tmp_path / "o")
    assert not list(tmp_path.iterdir())
