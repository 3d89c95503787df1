"""window="kaggle" against the public VinDr-CXR Kaggle notebooks' read_xray run with pydicom:
equal bytes at the native size on the sample, every corpus file, and files built here with VOI
LUT sequences, a Modality LUT, a negative rescale slope and windows at their edge cases."""
from __future__ import annotations

import pathlib
import subprocess
import warnings

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_voi_lut
from pydicom.sequence import Sequence

import corpus as corpus_module
import vindr
from conftest import oracle_pixels
from test_dataset import sample  # noqa: F401  (shared fixture)

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI = ROOT / ".build" / "release" / "vindr"
# Baseline JPEG's IDCT may differ by 1 between conforming decoders (test_decode.py): for these the
# recipe runs on our decoded stored values, so the comparison is of the transform alone.
OWN_DECODE = {"jpeg50", "jpeg51"}


def read_xray(path, voi_lut=True, fix_monochrome=True, pixels=None):
    """The notebooks' recipe, verbatim but for the pixel source (pydicom with pylibjpeg)."""
    dicom = pydicom.dcmread(path)
    arr = oracle_pixels(path) if pixels is None else pixels
    if voi_lut:
        data = apply_voi_lut(arr, dicom)
    else:
        data = arr
    if fix_monochrome and dicom.PhotometricInterpretation == "MONOCHROME1":
        data = np.amax(data) - data
    data = data - np.min(data)
    data = data / np.max(data)
    data = (data * 255).astype(np.uint8)
    return data


def kaggle(path, **kw):
    return vindr.read_dicom(path).render(window="kaggle", **kw)


def corpus_files(corpus):
    return [(name, key, path) for name, files in corpus.items() for key, path in files.items()]


def test_corpus_equals_read_xray(corpus):
    """Every syntax of every variant: windows LINEAR / LINEAR_EXACT / SIGMOID, none, MONOCHROME1,
    signed, 8 to 16 bits, rescale; the first frame of multi-frame files (read_xray gives all)."""
    checked = 0
    for name, key, path in corpus_files(corpus):
        im = vindr.read_dicom(path)
        pixels = im.pixels() if key in OWN_DECODE else oracle_pixels(path)
        if im.frames > 1:
            pixels = pixels[0]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no NaN or overflow in the recipe on these files
            expected = read_xray(path, pixels=pixels)
        got = im.render(window="kaggle")
        assert got.dtype == np.uint8 and got.shape == expected.shape, (name, key)
        np.testing.assert_array_equal(got, expected, err_msg=f"{name}-{key}")
        checked += 1
    assert checked == sum(len(v.syntaxes) for v in corpus_module.VARIANTS)


def test_fix_monochrome_false_is_invert_monochrome1_false(corpus):
    path = corpus["u12m1rescale"]["explicit"]
    np.testing.assert_array_equal(kaggle(path, invert_monochrome1=False), read_xray(path, fix_monochrome=False))
    assert not np.array_equal(kaggle(path), kaggle(path, invert_monochrome1=False))


def test_window_on_stored_values_differs_from_ps33(corpus):
    """pydicom windows the stored values (the rescale only sets the output range), PS3.3 the
    rescaled ones: on a rescaled file the recipe is far from window="dicom"."""
    path = corpus["u12m1rescale"]["explicit"]
    assert np.abs(kaggle(path).astype(int) - vindr.read_dicom(path).render().astype(int)).mean() > 10


def small_file(path, *, bits=12, signed=False, photometric="MONOCHROME2", rescale=None, windows=(), function=None,
               voi_lut=None, modality_lut=None, pixels=None, rows=64, cols=80):
    """A small Explicit VR file; voi_lut / modality_lut are (descriptor, data) items."""
    v = corpus_module.Variant("k", rows, cols, bits_allocated=8 if bits == 8 else 16, bits_stored=bits, signed=signed, photometric=photometric,
                              rescale=rescale, windows=list(windows), voi_function=function)
    if pixels is None:
        pixels = corpus_module.cxr_like(rows, cols, bits, signed, seed=7)
    ds = corpus_module.base_dataset(v, pixels)
    for keyword, lut in (("ModalityLUTSequence", modality_lut), ("VOILUTSequence", voi_lut)):
        if lut is None:
            continue
        item = Dataset()
        item.LUTDescriptor = list(lut[0])
        item.LUTData = list(lut[1])
        if keyword == "ModalityLUTSequence":
            item.ModalityLUTType = "US"
        setattr(ds, keyword, Sequence([item]))
        ds[keyword][0]["LUTData"].VR = "US"
    ds.save_as(path, enforce_file_format=True)
    return path


def gamma(n, bits, power):
    top = (1 << bits) - 1
    return [int(round(top * (i / (n - 1)) ** power)) for i in range(n)]


CASES = {
    # 12-bit VOI LUT starting at 200: inputs below and above its range clamp.
    "voi_lut12": dict(voi_lut=((3500, 200, 12), gamma(3500, 12, 0.7)), windows=[(2048, 4096)]),
    # 8-bit entries, 4096 of them: pydicom computes the index in uint8 (wrapping).
    "voi_lut8_wide": dict(voi_lut=((4096, 0, 8), gamma(4096, 8, 1.3))),
    # Signed pixels, first mapped value negative (LUT Descriptor written as SS).
    "voi_lut_signed": dict(voi_lut=((2000, -1000, 16), gamma(2000, 16, 0.8)), signed=True),
    "voi_lut8_m1": dict(voi_lut=((256, 0, 8), gamma(256, 8, 0.5)), bits=8, photometric="MONOCHROME1"),
    # The window's output range is the Modality LUT's (0 .. 2^bits - 1), not the pixels'.
    "modality_lut_window": dict(modality_lut=((4096, 0, 16), gamma(4096, 12, 0.5)), windows=[(1800, 2500)]),
    # A negative slope flips the window's output range: the recipe's bytes invert.
    "negative_slope": dict(rescale=(-1.0, 4095.0), windows=[(1000, 1500)]),
    "linear_width_1": dict(windows=[(2000.5, 1)]),
    "linear_exact_narrow": dict(windows=[(2000, 0.5)], function="LINEAR_EXACT"),
    "sigmoid_m1_rescale": dict(windows=[(1500, 900)], function="SIGMOID", rescale=(0.5, -10.0), photometric="MONOCHROME1"),
    "signed_window_rescale": dict(signed=True, windows=[(-100, 1200), (0, 10)], rescale=(2.0, 50.0)),
    "signed_m1_no_window": dict(signed=True, photometric="MONOCHROME1"),
    "u16_no_window": dict(bits=16),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_built_files_equal_read_xray(tmp_path, case):
    kw = dict(CASES[case])
    path = small_file(tmp_path / f"{case}.dcm", **kw)
    got = kaggle(path)
    np.testing.assert_array_equal(got, read_xray(path))
    assert got.min() == 0 and got.max() == 255  # min-max normalised


def test_constant_image_is_zeros(tmp_path):
    """max == min: the recipe divides 0 by 0 (NaN, cast to 0 on x86-64 and arm64); ours is zeros."""
    flat = np.full((16, 24), 1234, np.uint16)
    for photometric in ("MONOCHROME2", "MONOCHROME1"):
        path = small_file(tmp_path / f"flat-{photometric}.dcm", pixels=flat, rows=16, cols=24, windows=[(1000, 100)],
                          photometric=photometric)
        got = kaggle(path)
        assert got.shape == (16, 24) and not got.any()
        assert not kaggle(path, dtype="float32").any()


def test_resized_render_resamples_the_recipe_image(corpus):
    """Resizing: the recipe's uint8 image as byte / 255, resampled by the renderer's area filter
    (OpenCV's INTER_AREA); uint16 and float32 at the native size are byte x 257 and byte / 255."""
    path = corpus["u12m1rescale"]["explicit"]
    expected = read_xray(path)
    np.testing.assert_array_equal(kaggle(path, dtype="uint16"), expected.astype(np.uint16) * 257)
    np.testing.assert_array_equal(kaggle(path, dtype="float32"), (expected / 255).astype(np.float32))
    got = kaggle(path, size=(640, 576), dtype="float32")
    area = cv2.resize((expected / 255).astype(np.float32), (576, 640), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(got, area, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(kaggle(path, size=(640, 576)), np.round(got * 255).astype(np.uint8))


def test_fast_decode_still_sees_the_whole_image(corpus):
    """The recipe's min and max are of the full image, so decode="fast" decodes in full."""
    path = corpus["u12m2"]["j2k90"]
    np.testing.assert_array_equal(kaggle(path, size=512, decode="fast"), kaggle(path, size=512))


def test_sample_loader_and_cache_equal_read_xray(sample, tmp_path):
    files = sorted((sample / "train").glob("*.dicom")) + sorted((sample / "test").glob("*.dicom"))
    assert len(files) == 15
    expected = {}
    for path in files:
        expected[path.stem] = read_xray(path)
        np.testing.assert_array_equal(kaggle(path), expected[path.stem])
    shape = next(iter(expected.values())).shape
    samples = [vindr.Sample(p.stem, str(p)) for p in files]
    loader = vindr.Loader(samples, shape, batch_size=4, letterbox=False, window="kaggle", shuffle=False)
    batches = [(b.images.copy(), [t["image_id"] for t in b.targets]) for b in loader]
    cache = tmp_path / "cache"
    assert vindr.build_cache(samples, cache, shape, format="raw", letterbox=False, window="kaggle").rendered == 15
    cached = vindr.Loader(samples, shape, batch_size=4, letterbox=False, window="kaggle", shuffle=False, cache=cache)
    for (images, ids), b in zip(batches, cached):
        np.testing.assert_array_equal(b.images, images)
        for img, image_id in zip(images[:, 0], ids):
            np.testing.assert_array_equal(img, expected[image_id])


def test_cli_renders_the_recipe(corpus, tmp_path):
    path = corpus["s12sigmoid"]["explicit"]
    subprocess.run([str(CLI), "render", str(path), "--out", str(tmp_path), "--size", "0", "--window", "kaggle"],
                   check=True, capture_output=True)
    png = cv2.imread(str(next(tmp_path.rglob("*.png"))), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(png, read_xray(path))
