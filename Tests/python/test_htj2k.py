"""High-Throughput JPEG 2000 (PS3.5 A.4.11; transfer syntaxes 1.2.840.10008.1.2.4.201, .202, .203)
decoded by OpenJPH. The files wrap ojph_compress codestreams (corpus.write_htj2k); the oracles
are the source image itself, pydicom with pylibjpeg-openjpeg, and OpenJPEG's opj_decompress, which
decode HTJ2K with OpenJPEG's own implementation."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import cv2
import numpy as np
import pydicom
import pytest

import corpus as corpus_module
import vindr
from conftest import oracle_pixels

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"
V = corpus_module.Variant

VARIANTS = {
    "u8": V("u8", 768, 640, bits_allocated=8, bits_stored=8),
    "s8": V("s8", 768, 640, bits_allocated=8, bits_stored=8, signed=True),
    "u12m1": V("u12m1", 1024, 896, photometric="MONOCHROME1", windows=[(2048, 4096)]),
    "s12": V("s12", 1024, 896, signed=True, rescale=(1.0, -100.0)),
    "u16": V("u16", 768, 640, bits_stored=16),
    "s16": V("s16", 768, 640, bits_stored=16, signed=True, windows=[(0, 40000)]),
    "cxr": V("cxr", corpus_module.CXR_ROWS, corpus_module.CXR_COLS, windows=[(2048, 4096)]),
}
LOSSLESS = ("htj2k201", "htj2k202")
QSTEP = 0.005  # irreversible 9/7 quantisation step of the lossy (.203) files


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, dict[str, pathlib.Path]]:
    """{variant: {"explicit", "htj2k201", "htj2k202", "htj2k203" (lossy): path}}."""
    out = tmp_path_factory.mktemp("htj2k")
    result = {}
    for seed, (name, v) in enumerate(VARIANTS.items()):
        paths = {key: corpus_module.write_htj2k(v, out, key, seed=seed) for key in LOSSLESS}
        paths["htj2k203"] = corpus_module.write_htj2k(v, out, "htj2k203", qstep=QSTEP, seed=seed)
        paths["explicit"] = out / f"{name}-explicit.dcm"
        result[name] = paths
    return result


def codestream(path: pathlib.Path) -> bytes:
    from pydicom.encaps import generate_frames

    return next(generate_frames(pydicom.dcmread(path).PixelData, number_of_frames=1))


def opj_decompress(path: pathlib.Path, tmp_path: pathlib.Path) -> np.ndarray:
    """The frame decoded by OpenJPEG's opj_decompress (raw little-endian output holds the low
    Bits Stored bits; they are sign-extended for signed images)."""
    ds = pydicom.dcmread(path)
    j2c, raw = tmp_path / "frame.j2c", tmp_path / "frame.rawl"
    j2c.write_bytes(codestream(path))
    subprocess.run(["opj_decompress", "-i", str(j2c), "-o", str(raw)], check=True, capture_output=True)
    values = np.fromfile(raw, "<u1" if ds.BitsAllocated == 8 else "<u2").astype(np.int64).reshape(ds.Rows, ds.Columns)
    bits = ds.BitsStored
    values &= (1 << bits) - 1
    if ds.PixelRepresentation:
        values = np.where(values >= 1 << (bits - 1), values - (1 << bits), values)
    return values


@pytest.mark.parametrize("syntax", LOSSLESS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_lossless_pixels_equal_the_source_and_both_oracles(files, variant, syntax, tmp_path):
    path = files[variant][syntax]
    source = pydicom.dcmread(files[variant]["explicit"]).pixel_array
    im = vindr.read_dicom(str(path))
    pixels = im.pixels()
    assert pixels.dtype == source.dtype
    if VARIANTS[variant].signed:
        assert pixels.min() < 0  # the stream really holds negative values
    np.testing.assert_array_equal(pixels, source)
    np.testing.assert_array_equal(pixels, oracle_pixels(path))
    np.testing.assert_array_equal(pixels.astype(np.int64), opj_decompress(path, tmp_path))
    assert vindr.read_dicom(path.read_bytes()).pixels().tobytes() == pixels.tobytes()  # from memory too


# OpenJPH (ours) and OpenJPEG (the oracles) run the irreversible 9/7 inverse transform in floating
# point in different orders; measured on these files, their reconstructions differ by at most 1,
# in 0.04% of the pixels at 8 bits, 0.5% at 12 and 9.7% at 16. Both clamp to the stream's range.
LOSSY_BOUND = 1


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_lossy_pixels_within_one_of_openjpeg(files, variant, tmp_path):
    path = files[variant]["htj2k203"]
    pixels = vindr.read_dicom(str(path)).pixels().astype(np.int64)
    oracle = oracle_pixels(path).astype(np.int64)
    np.testing.assert_array_equal(oracle, opj_decompress(path, tmp_path))
    assert np.abs(pixels - oracle).max() <= LOSSY_BOUND
    assert np.mean(pixels != oracle) < 0.15
    source = pydicom.dcmread(files[variant]["explicit"]).pixel_array.astype(np.int64)
    assert np.abs(pixels - source).max() > LOSSY_BOUND  # really lossy: the bound above says something
    v = VARIANTS[variant]
    lo, hi = (-(1 << (v.bits_stored - 1)), (1 << (v.bits_stored - 1)) - 1) if v.signed else (0, (1 << v.bits_stored) - 1)
    assert lo <= pixels.min() and pixels.max() <= hi


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_render_equals_the_uncompressed_render(files, variant):
    ht, plain = vindr.read_dicom(str(files[variant]["htj2k201"])), vindr.read_dicom(str(files[variant]["explicit"]))
    for kwargs in ({}, {"size": 512, "dtype": "float32"}, {"size": 300, "window": "auto", "dtype": "uint16"}):
        np.testing.assert_array_equal(ht.render(**kwargs), plain.render(**kwargs))


@pytest.mark.parametrize("variant", ["cxr", "u12m1", "s16"])
def test_fast_decode_uses_reduced_resolution_like_jpeg2000(files, variant, tmp_path):
    """decode="fast" takes a resolution level of the 5/3 wavelet, an integer transform: OpenJPH's
    level of the HTJ2K stream equals OpenJPEG's of a JPEG 2000 stream of the same image (gdcmconv
    -K, the same 5 decompositions), so the renders agree exactly; they differ from the exact
    render, and the exact render stays the default."""
    j2k = tmp_path / "j2k.dcm"
    subprocess.run(["gdcmconv", "-K", str(files[variant]["explicit"]), str(j2k)], check=True, capture_output=True)
    ht, ref = vindr.read_dicom(str(files[variant]["htj2k201"])), vindr.read_dicom(str(j2k))
    for size in (1024, 256, 64, 16):
        fast = ht.render(size=size, dtype="float32", decode="fast")
        np.testing.assert_array_equal(fast, ref.render(size=size, dtype="float32", decode="fast"))
        if size <= 256:
            assert not np.array_equal(fast, ht.render(size=size, dtype="float32"))
        np.testing.assert_array_equal(ht.render(size=size, dtype="float32"), ref.render(size=size, dtype="float32"))


BROKEN_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import vindr
out = {}
for path in json.loads(sys.argv[2]):
    try:
        vindr.read_dicom(path).pixels()
        out[path] = "decoded"
    except vindr.VinDrError as e:
        out[path] = type(e).__name__ + ": " + str(e)
    try:
        vindr.read_dicom(path).render(size=64, decode="fast")
    except vindr.VinDrError as e:
        out[path] += " | " + type(e).__name__
print(json.dumps(out))
"""


def broken_copies(src: pathlib.Path, out: pathlib.Path) -> dict[str, pathlib.Path]:
    """`src` with its codestream truncated or with header fields a decoder must not trust."""
    from pydicom.encaps import encapsulate

    stream = codestream(src)
    sot = stream.index(b"\xff\x90\x00\x0a")
    cod = stream.index(b"\xff\x52", 45)  # after SOC and the one-component SIZ
    variants = {f"truncated{n}": stream[:n] for n in (3, 30, sot + 6, sot + 40, len(stream) // 2, len(stream) - 100)}
    variants["tile_index"] = stream[:sot + 4] + b"\x00\x01" + stream[sot + 6:]  # Isot 1 of 1 tile
    variants["decompositions"] = stream[:cod + 9] + b"\xff" + stream[cod + 10:]  # 255 levels in COD
    variants["progression"] = stream[:cod + 5] + b"\x0e" + stream[cod + 6:]
    variants["garbage"] = stream[:sot + 14] + bytes(range(256)) * ((len(stream) - sot) // 256)
    paths = {}
    for name, data in variants.items():
        ds = pydicom.dcmread(src)
        ds.PixelData = encapsulate([data])
        paths[name] = out / f"{name}.dcm"
        ds.save_as(paths[name], enforce_file_format=True, implicit_vr=False, little_endian=True)
    return paths


def test_broken_codestreams_are_decode_errors_naming_the_file(files, tmp_path):
    paths = broken_copies(files["u12m1"]["htj2k201"], tmp_path)
    r = subprocess.run([sys.executable, "-c", BROKEN_SCRIPT, str(ROOT / "bindings" / "python"),
                        json.dumps([str(p) for p in paths.values()])], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr  # no crash, no abort
    assert r.stderr == ""  # OpenJPH's own messages go nowhere
    results = json.loads(r.stdout)
    for name, path in paths.items():
        message = results[str(path)]
        if name == "garbage":  # coded data OpenJPH decodes to something: decoded, or an error
            assert message.startswith("decoded") or message.startswith("DecodeError"), message
            continue
        assert message.startswith("DecodeError: ") and message.endswith(" | DecodeError"), (name, message)
        assert str(path) in message, message
    assert "tile-part of tile 1 in a stream of 1 tiles" in results[str(paths["tile_index"])]


@pytest.mark.parametrize("name", ["htj2k-openjph-precinct-parse-segfault.dcm", "htj2k-openjph-precinct-parse-segfault-2.dcm"])
def test_a_codestream_that_crashes_openjph_ends_the_child_not_the_host(files, name):
    """Fuzz inputs on which OpenJPH 0.9 writes out of bounds (a memset in precinct::parse;
    Debian's own ojph_expand dies with SIGSEGV on their codestreams): the decoding child dies,
    the host gets a DecodeError naming the file and the signal, and goes on decoding."""
    path = ROOT / "Tests" / "fuzz-regressions" / "dicom" / name
    code = (
        "import sys, vindr\n"
        "try:\n"
        "    vindr.read_dicom(sys.argv[1]).pixels()\n"
        "    print('decoded')\n"
        "except vindr.DecodeError as e:\n"
        "    print('DecodeError', e.message)\n"
        "print(int(vindr.read_dicom(sys.argv[2]).pixels().sum()))\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(path), str(files["u8"]["htj2k201"])], capture_output=True,
                       text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT / "bindings" / "python")})
    assert r.returncode == 0, r.stderr[-2000:]
    first, second = r.stdout.splitlines()
    assert first.startswith("DecodeError") and str(path) in first, first
    assert "the decoder stopped on corrupt data (signal 11 SIGSEGV" in first, first
    expected = pydicom.dcmread(files["u8"]["explicit"]).pixel_array.astype(np.int64).sum()
    assert int(second) == expected


def test_the_child_process_leaves_no_descriptor_open(files, tmp_path):
    """Each frame decoded in the child process opens a pidfd and a memfd: both are closed again
    whether the child decodes or fails (one leaked per frame filled the host's descriptor table
    after about a thousand images)."""
    good = vindr.read_dicom(files["u12m1"]["htj2k201"])
    garbage = broken_copies(files["u12m1"]["htj2k201"], tmp_path)["garbage"]
    good.pixels()
    before = sorted(os.listdir("/proc/self/fd"))
    outcomes = set()
    for _ in range(20):
        good.pixels()
        try:
            vindr.read_dicom(garbage).pixels()
            outcomes.add("decoded")
        except vindr.DecodeError:
            outcomes.add("DecodeError")
    assert sorted(os.listdir("/proc/self/fd")) == before, outcomes


def test_an_ht_codestream_under_a_jpeg2000_syntax_takes_the_htj2k_path(files, tmp_path):
    """A JPEG 2000 Lossless (.90) file holding an HT codestream (CAP marker, ISO 15444-15 A.3) is
    decoded by the HTJ2K path, not by OpenJPEG in the calling process: equal to the source, and a
    stream cut short fails with the HTJ2K decoder's message."""
    ds = pydicom.dcmread(files["u12m1"]["htj2k201"])
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.90"
    whole = tmp_path / "ht-as-j2k.dcm"
    ds.save_as(whole, enforce_file_format=True, implicit_vr=False, little_endian=True)
    source = pydicom.dcmread(files["u12m1"]["explicit"]).pixel_array
    np.testing.assert_array_equal(vindr.read_dicom(str(whole)).pixels(), source)
    from pydicom.encaps import encapsulate

    ds.PixelData = encapsulate([codestream(whole)[:-200]])
    cut = tmp_path / "ht-as-j2k-cut.dcm"
    ds.save_as(cut, enforce_file_format=True, implicit_vr=False, little_endian=True)
    with pytest.raises(vindr.DecodeError, match="HTJ2K"):
        vindr.read_dicom(str(cut)).pixels()


def test_deidentification_keeps_the_codestream_and_the_syntax(files, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for syntax in ("htj2k201", "htj2k202", "htj2k203"):
        (src / f"{syntax}.dcm").write_bytes(files["u12m1"][syntax].read_bytes())
    result = vindr.deidentify(str(src), str(tmp_path / "out"), profile="basic", salt="s", min_size=1)
    assert result.failed == 0, result.files
    outputs = sorted((tmp_path / "out").rglob("*.dcm"))
    assert len(outputs) == 3
    by_syntax = {pydicom.dcmread(p).file_meta.TransferSyntaxUID: p for p in outputs}
    for syntax in ("htj2k201", "htj2k202", "htj2k203"):
        original = pydicom.dcmread(files["u12m1"][syntax])
        out = by_syntax[original.file_meta.TransferSyntaxUID]
        assert pydicom.dcmread(out).PixelData == original.PixelData
        np.testing.assert_array_equal(vindr.read_dicom(str(out)).pixels(), vindr.read_dicom(str(files["u12m1"][syntax])).pixels())


def test_cli_info_render_and_loader(files, tmp_path):
    path = files["cxr"]["htj2k201"]
    info = subprocess.run([str(CLI), "info", "--json", str(path)], capture_output=True, text=True, check=True)
    assert json.loads(info.stdout)["transfer_syntax_uid"] == "1.2.840.10008.1.2.4.201"
    human = subprocess.run([str(CLI), "info", str(path)], capture_output=True, text=True, check=True).stdout
    assert "HTJ2K Lossless" in human and "2560 x 2304" in human
    assert vindr.dicom.transfer_syntax_name("1.2.840.10008.1.2.4.201") == "HTJ2K Lossless"  # the Python table agrees
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "ht.dcm").write_bytes(path.read_bytes())
    for decode in ("exact", "fast"):
        r = subprocess.run([str(CLI), "render", str(tmp_path / "in"), "--out", str(tmp_path / decode), "--size", "300",
                            "--decode", decode], capture_output=True, text=True)
        assert r.returncode == 0 and "rendered 1 of 1" in r.stdout, r.stdout + r.stderr
        png = cv2.imread(str(tmp_path / decode / "ht.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(png, vindr.read_dicom(str(path)).render(size=300, decode=decode))
    boxes, labels = np.array([[10, 20, 200, 300]], np.float32), np.array([1], np.int64)
    batches = []
    for key in ("htj2k201", "explicit"):
        samples = [vindr.Sample(name, str(files[name][key]), boxes, labels) for name in ("u12m1", "s12", "cxr")]
        batches.append([b.images.copy() for b in vindr.Loader(samples, 128, batch_size=3, seed=3, flip=0.5, workers=2)])
    for a, b in zip(*batches):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("syntax", ["htj2k202", "htj2k203"])
def test_c_abi_decodes_and_renders(files, syntax, tmp_path):
    """Tests/abi/abi_test.c (a C program linked against libvindr) on an HTJ2K file: syntax, stored
    values (the lossless file's sum is the source's) and render as the Python route gives them."""
    from test_abi import build, parse

    exe = build(tmp_path, "abi_test.c", ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
    path = files["cxr"][syntax]
    out = subprocess.run([str(exe), str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr + out.stdout
    kv = parse(out.stdout)
    assert kv["ts"] == pydicom.dcmread(path).file_meta.TransferSyntaxUID
    im = vindr.read_dicom(str(path))
    assert int(kv["stored_sum"]) == int(im.pixels().astype(np.uint64).sum())
    if syntax == "htj2k202":
        assert int(kv["stored_sum"]) == int(pydicom.dcmread(files["cxr"]["explicit"]).pixel_array.astype(np.uint64).sum())
    py = im.render(size=(512, 512), aspect="letterbox", threads=2)
    assert int(kv["render_sum"]) == int(py.astype(np.uint64).sum())


def test_multiframe_one_fragment_per_frame(tmp_path):
    """Three frames, one codestream fragment each with a Basic Offset Table (PS3.5 A.4): every
    frame equals its source and pydicom's decode."""
    from pydicom.encaps import encapsulate

    v = V("mf", 384, 320, frames=3, signed=True)
    source = corpus_module.cxr_like(v.rows, v.cols, v.bits_stored, True, seed=5, frames=3)
    ds = corpus_module.base_dataset(v, source)
    ds.file_meta.TransferSyntaxUID = corpus_module.HTJ2K["htj2k201"]
    ds.PixelData = encapsulate([corpus_module.htj2k_codestream(f, v.bits_stored, True) for f in source], has_bot=True)
    ds["PixelData"].VR = "OB"
    path = tmp_path / "mf.dcm"
    ds.save_as(path, enforce_file_format=True, implicit_vr=False, little_endian=True)
    im = vindr.read_dicom(str(path))
    oracle = oracle_pixels(path)
    for f in range(3):
        np.testing.assert_array_equal(im.pixels(frame=f), source[f])
        np.testing.assert_array_equal(im.pixels(frame=f), oracle[f])


TILES_SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
import vindr
try:
    vindr.read_dicom(sys.argv[2]).pixels()
    print("decoded")
except vindr.VinDrError as e:
    print(type(e).__name__ + ": " + str(e))
"""


def test_tile_structures_count_against_the_decode_budget(tmp_path):
    """OpenJPH allocates structures for every tile before decoding (4096 tiles of 16 x 16 here:
    about 130 MB for a 2 MB image): a stream of many small tiles is refused under a budget below
    that, with the file named, and decodes under the default budget."""
    from pydicom.encaps import encapsulate

    v = V("tiles", 1024, 1024)
    source = corpus_module.cxr_like(v.rows, v.cols, v.bits_stored, False, seed=7)
    ds = corpus_module.base_dataset(v, source)
    ds.file_meta.TransferSyntaxUID = corpus_module.HTJ2K["htj2k201"]
    ds.PixelData = encapsulate([corpus_module.htj2k_codestream(source, v.bits_stored, False,
                                                               options=("-tile_size", "{16,16}", "-num_decomps", "1"))])
    ds["PixelData"].VR = "OB"
    path = tmp_path / "tiles.dcm"
    ds.save_as(path, enforce_file_format=True, implicit_vr=False, little_endian=True)
    np.testing.assert_array_equal(vindr.read_dicom(str(path)).pixels(), source)
    r = subprocess.run([sys.executable, "-c", TILES_SCRIPT, str(ROOT / "bindings" / "python"), str(path)],
                       capture_output=True, text=True, timeout=120, env={**os.environ, "VINDR_DECODE_BUDGET": "100000000"})
    assert r.stdout.startswith("OutOfMemoryError: ") and str(path) in r.stdout and "HTJ2K decoding" in r.stdout, r.stdout + r.stderr
