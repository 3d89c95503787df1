"""Burned-in text removal (TextScrubber; the VinDr-CXR paper's automatic removal of "textual
information appearing on the image data") against a labelled benchmark generated here: CXR-like
12-bit images (gradients, dark lungs, bright curved rib bands, mediastinum, collimator steps,
saturated regions, noise) with names, dates, IDs and L/R markers drawn by Pillow's FreeType
renderer (not by the code under test) at varied fonts, sizes, polarities, anti-aliasing and
positions. Ground truth is the glyph coverage of the drawing (every pixel the text touched).

Measures: text-pixel recall (glyph pixels inside the returned mask), the fraction of non-glyph
pixels whose value changed at all, and the fraction changed by more than 5 noise sigmas (beyond
what the image's own noise could explain). Then de-identification end to end through Python,
the C ABI and the CLI."""
from __future__ import annotations

import ctypes
import glob
import hashlib
import json
import pathlib
import subprocess

import numpy as np
import pydicom
import pytest
from PIL import Image, ImageDraw, ImageFont
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

import corpus
import vindr
from vindr import _constants as C
from vindr import _lib

FONT_FILES = sorted(glob.glob("/usr/share/fonts/truetype/dejavu/*.ttf"))
NAMES = ["NGUYEN VAN AN", "Tran Thi Bich", "LE HOANG MINH", "Pham Quoc Dung", "VO THI HUONG", "Dang Van Khoa"]
WORDS = ["PA ERECT", "AP SUPINE", "CHEST", "Portable", "HOSPITAL 108", "Dept. Radiology"]
MAX = 4095


def font(rng, size):
    if FONT_FILES:
        return ImageFont.truetype(FONT_FILES[rng.integers(len(FONT_FILES))], size)
    return ImageFont.load_default(size=size)


def text_strings(rng):
    d = f"{rng.integers(1, 29):02d}/{rng.integers(1, 13):02d}/{rng.integers(2010, 2021)}"
    iso = f"{rng.integers(2010, 2021)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d} {rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}"
    pid = f"ID: {rng.integers(10**7, 10**9)}"
    acc = f"ACC#{rng.integers(10**5, 10**7)}"
    age = f"{rng.choice(['M', 'F'])} {rng.integers(18, 90)}Y"
    return [str(rng.choice(NAMES)), d, iso, pid, acc, age, str(rng.choice(WORDS))]


def smooth_noise(rng, h, w, scale):
    small = rng.normal(size=(max(2, h // scale), max(2, w // scale)))
    img = Image.fromarray(small.astype(np.float32), mode="F").resize((w, h), Image.BICUBIC)
    return np.asarray(img, dtype=np.float64)


def background(rng, h, w, noise=None):
    """A CXR-like 12-bit image: gradient, two dark lungs, bright curved rib bands, mediastinum,
    collimator steps, a saturated region, Gaussian noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = 1500 + 500 * x / w + 350 * y / h + 120 * smooth_noise(rng, h, w, 64)
    for cx in (0.3, 0.7):
        cx = cx * w + rng.normal(0, 0.02 * w)
        cy, ax, ay = 0.5 * h + rng.normal(0, 0.02 * h), 0.17 * w, 0.3 * h
        r = np.sqrt(((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2)
        img -= (700 + rng.uniform(-100, 200)) * np.clip((1.15 - r) / 0.3, 0, 1)
        # rib-like bands across each lung: curved, 18-40 px wide, soft edges
        for k in range(7):
            y0 = cy - ay + (k + 0.7) * 2 * ay / 8
            curve = y0 + 0.25 * ay * ((x - cx) / ax) ** 2 + 0.1 * ay * (x - cx) / ax * (1 if cx < w / 2 else -1)
            half = rng.uniform(9, 20)
            prof = np.clip(1 - np.abs(y - curve) / half, 0, 1) ** 0.7
            img += rng.uniform(200, 420) * prof * (r < 1.2)
    # mediastinum / spine: bright vertical band, soft
    img += 600 * np.exp(-((x - w / 2) / (0.07 * w)) ** 2)
    # a saturated region (e.g. a shoulder outside the detector's range)
    sx, sy = rng.uniform(0.75, 0.95) * w, rng.uniform(0.0, 0.15) * h
    img[((x - sx) / (0.2 * w)) ** 2 + ((y - sy) / (0.12 * h)) ** 2 < 1] = MAX
    sigma = rng.uniform(6, 25) if noise is None else noise
    img += rng.normal(0, sigma, size=img.shape)
    # collimator: sharp steps to a flat shutter value on some sides
    shutter = rng.choice([80.0, 3950.0])
    for side in rng.permutation(4)[: rng.integers(1, 4)]:
        m = int(rng.uniform(0.02, 0.08) * (h if side < 2 else w))
        if side == 0:
            img[:m] = shutter
        elif side == 1:
            img[h - m:] = shutter
        elif side == 2:
            img[:, :m] = shutter
        else:
            img[:, w - m:] = shutter
    return np.clip(np.rint(img), 0, MAX).astype(np.uint16), float(sigma)


def anchors(rng, h, w, tw, th, where):
    m = int(rng.uniform(0.01, 0.04) * min(h, w))
    xs = {"left": m, "right": w - tw - m, "center": (w - tw) // 2 + int(rng.integers(-w // 8, w // 8))}
    ys = {"top": m, "bottom": h - th - m, "middle": (h - th) // 2 + int(rng.integers(-h // 6, h // 6))}
    corners = {"tl": ("left", "top"), "tr": ("right", "top"), "bl": ("left", "bottom"), "br": ("right", "bottom"),
               "t": ("center", "top"), "b": ("center", "bottom"), "l": ("left", "middle"), "r": ("right", "middle"),
               "mid": ("center", "middle")}
    ax, ay = corners[where]
    return xs[ax], ys[ay]


def draw_text(rng, img, n_items=8):
    """Burns `n_items` strings and markers into `img` (in place); returns the glyph mask."""
    h, w = img.shape
    truth = np.zeros((h, w), bool)
    out = img.astype(np.float64)
    taken = []
    places = ["tl", "tr", "bl", "br", "t", "b", "l", "r", "mid"]
    strings = text_strings(rng)
    for k in range(n_items * 6):
        if len(taken) >= n_items:
            break
        marker = k % 4 == 3
        s = str(rng.choice(["L", "R"])) if marker else str(strings[rng.integers(len(strings))])
        size = int(rng.integers(36, 110)) if marker else int(rng.integers(11, 56))
        f = font(rng, size)
        layer = Image.new("L", (w, h), 0)
        d = ImageDraw.Draw(layer)
        if rng.random() < 0.3:
            d.fontmode = "1"  # no anti-aliasing, as many consoles burn text
        x0, y0, x1, y1 = d.textbbox((0, 0), s, font=f)
        tw, th = x1 - x0, y1 - y0
        if tw + 8 >= w or th + 8 >= h:
            continue
        px, py = anchors(rng, h, w, tw, th, places[rng.integers(len(places))])
        px, py = int(np.clip(px, 2, w - tw - 2)), int(np.clip(py, 2, h - th - 2))
        box = (px - 6, py - 6, px + tw + 6, py + th + 6)
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in taken):
            continue
        d.text((px - x0, py - y0), s, fill=255, font=f)
        a = np.asarray(layer, dtype=np.float64) / 255
        under = out[box[1]:box[3], box[0]:box[2]]
        lo, hi = float(np.percentile(under, 5)), float(np.percentile(under, 95))
        # polarity: bright or dark, with at least 700 levels of contrast to the background
        options = []
        if hi <= MAX - 700:
            options.append(rng.uniform(max(hi + 700, 3300), MAX))
        if lo >= 700:
            options.append(rng.uniform(0, min(lo - 700, 500)))
        if not options:
            continue
        value = options[rng.integers(len(options))]
        out = out * (1 - a) + value * a
        truth |= a > 0
        taken.append(box)
    img[:] = np.clip(np.rint(out), 0, MAX).astype(np.uint16)
    return truth


def make_case(seed, h=1024, w=1024, n_items=8):
    rng = np.random.default_rng(seed)
    img, sigma = background(rng, h, w)
    clean = img.copy()
    truth = draw_text(rng, img, n_items)
    return clean, img, truth, sigma


def measure(clean, original, scrubbed, mask, truth, tolerance):
    """Recall of glyph pixels (covered by the mask), the fractions of non-glyph pixels changed
    at all and by more than `tolerance`, and the glyph pixels that differed from the clean image
    by more than `tolerance` (visible text) and are back within `tolerance` of it (removed)."""
    other = ~truth
    diff = np.abs(scrubbed.astype(np.int64) - original.astype(np.int64))
    recall = float((mask & truth).sum() / max(truth.sum(), 1))
    changed_any = float(((diff > 0) & other).sum() / other.sum())
    changed_tol = float(((diff > tolerance) & other).sum() / other.sum())
    visible = truth & (np.abs(original.astype(np.int64) - clean.astype(np.int64)) > tolerance)
    removed = visible & (np.abs(scrubbed.astype(np.int64) - clean.astype(np.int64)) <= tolerance)
    return recall, changed_any, changed_tol, int(visible.sum()), int(removed.sum())


# -- the benchmark -------------------------------------------------------------------------------

SEEDS = range(10)
# The goal of the issue: recall >= 0.99 of glyph pixels and <= 0.2% of the other pixels changed.
GOAL_RECALL, GOAL_OTHER = 0.99, 0.002
# Measured on SEEDS: 0.14% of the other pixels changed at all, 0.067% beyond 5 noise sigmas; 95.1%
# of the glyph pixels that stood out from the clean image by more than 5 sigmas are back within 5
# sigmas of it after scrubbing (the rest: glyphs the detector misses, and fills across a shutter
# edge or rib band that differ from the clean image there). The removal bound is the level
# reached, so that a regression fails.
BOUND_REMOVED = 0.945


@pytest.fixture(scope="module")
def scrub_benchmark():
    rows = []
    for seed in SEEDS:
        clean, img, truth, sigma = make_case(seed)
        out, mask = vindr.scrub_text(img)
        recall, any_change, beyond_noise, visible, removed = measure(clean, img, out, mask, truth, 5 * sigma)
        clean_out, _ = vindr.scrub_text(clean)
        rows.append(dict(seed=seed, glyph_pixels=int(truth.sum()), covered=int((mask & truth).sum()), recall=recall,
                         other_changed=any_change, other_beyond_noise=beyond_noise, visible=visible, removed=removed,
                         clean_changed=float((clean_out != clean).mean())))
    total = sum(r["glyph_pixels"] for r in rows)
    summary = dict(recall=sum(r["covered"] for r in rows) / total,
                   other_changed=float(np.mean([r["other_changed"] for r in rows])),
                   other_beyond_noise=float(np.mean([r["other_beyond_noise"] for r in rows])),
                   clean_changed=float(np.mean([r["clean_changed"] for r in rows])),
                   worst_recall=min(r["recall"] for r in rows),
                   removed=sum(r["removed"] for r in rows) / sum(r["visible"] for r in rows))
    print("\ntext scrubbing benchmark:", json.dumps(summary))
    for r in rows:
        print("  ", json.dumps(r))
    return summary, rows


def test_generator_draws_visible_text_of_every_kind():
    """The benchmark is what it claims: text in every image, both polarities, several sizes."""
    brighter = darker = 0
    for seed in SEEDS:
        clean, img, truth, _ = make_case(seed)
        assert truth.sum() > 2000
        change = img.astype(int) - clean.astype(int)
        assert np.all(change[~truth] == 0)
        brighter += int((change > 500).sum())
        darker += int((change < -500).sum())
    assert brighter > 10000 and darker > 10000


def test_benchmark_text_recall(scrub_benchmark):
    summary, rows = scrub_benchmark
    assert summary["recall"] >= GOAL_RECALL, summary
    assert summary["worst_recall"] >= 0.97, rows  # reached: 0.972 (seed 5)
    assert summary["removed"] >= BOUND_REMOVED, summary


def test_benchmark_non_text_changes(scrub_benchmark):
    """Non-glyph pixels changed, at all and by more than the noise (what matters for reading
    the image)."""
    summary, rows = scrub_benchmark
    assert summary["other_beyond_noise"] <= GOAL_OTHER, summary
    assert summary["other_changed"] <= GOAL_OTHER, summary


def test_images_without_text_stay_within_the_bound(scrub_benchmark):
    summary, rows = scrub_benchmark
    assert summary["clean_changed"] <= GOAL_OTHER, summary


def test_collimator_edges_gradients_and_noise_are_untouched():
    """Sharp shutter steps, gradients, saturated areas and noise, no anatomy and no text: nothing
    is text, nothing changes."""
    rng = np.random.default_rng(7)
    h, w = 900, 800
    y, x = np.mgrid[0:h, 0:w]
    img = 1200 + 900 * x / w + 400 * y / h + rng.normal(0, 15, (h, w))
    img[:60] = 80
    img[:, 740:] = 3950
    img[((x - 600) / 150) ** 2 + ((y - 700) / 90) ** 2 < 1] = MAX
    img[300:310, 100:500] += 0  # (no lines: wires are not in this image)
    img = np.clip(np.rint(img), 0, MAX).astype(np.uint16)
    out, mask = vindr.scrub_text(img)
    assert not mask.any()
    assert np.array_equal(out, img)


def test_scrub_text_is_deterministic_and_only_touches_the_mask():
    clean, img, truth, _ = make_case(3)
    a, ma = vindr.scrub_text(img)
    b, mb = vindr.scrub_text(img.copy())
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    assert np.array_equal(a[~ma], img[~ma])
    assert ma.dtype == bool and a.dtype == np.uint16 and a.shape == img.shape


def test_scrub_text_checks_its_argument():
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.scrub_text(np.zeros((4, 4, 3), np.uint16))
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.scrub_text(np.zeros((4, 4), np.float32))
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.scrub_text(np.full((4, 4), -1, np.int32))
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.scrub_text(np.zeros((4, 4), np.int32) + 70000)


def test_c_function_checks_buffers():
    fn = _lib.prototype("vdr_scrub_text")
    buf = (ctypes.c_uint16 * 16)()
    changed = ctypes.c_size_t()
    assert fn(None, 32, 4, 4, 8, None, 0, 0, ctypes.byref(changed)) == C.VDR_ERR_ARGUMENT
    assert fn(buf, 31, 4, 4, 8, None, 0, 0, ctypes.byref(changed)) == C.VDR_ERR_BUFFER_TOO_SMALL
    assert fn(buf, 32, 4, 4, 6, None, 0, 0, ctypes.byref(changed)) == C.VDR_ERR_ARGUMENT
    mask = (ctypes.c_uint8 * 15)()
    assert fn(buf, 32, 4, 4, 8, mask, 15, 4, ctypes.byref(changed)) == C.VDR_ERR_BUFFER_TOO_SMALL
    assert fn(buf, 32, 4, 4, 8, None, 0, 0, ctypes.byref(changed)) == C.VDR_OK and changed.value == 0


# -- de-identification ---------------------------------------------------------------------------

def text_dataset(seed: int, with_text: bool = True, frames: int = 1):
    """A DX file whose pixels are a benchmark case (the text burned in when `with_text`)."""
    cases = [make_case(seed + f, h=1040, w=1024) for f in range(frames)]
    pixels = np.stack([c[1] if with_text else c[0] for c in cases])
    v = corpus.Variant("scrub", 1040, 1024, windows=[(2048, 4096)], rescale=(1.0, 0.0), frames=frames)
    ds = corpus.base_dataset(v, pixels[0] if frames == 1 else pixels)
    ds.PatientName, ds.PatientID = "DOE^JANE", "PID-1234"
    ds.BurnedInAnnotation = "YES" if with_text else "NO"
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.astype("<u2").tobytes()
    return ds, pixels


def write(ds, path: pathlib.Path, syntax: str = "explicit") -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    base = path.with_name(path.stem + "-base.dcm") if syntax != "explicit" else path
    ds.save_as(base, enforce_file_format=True)
    if syntax != "explicit":
        subprocess.run([a.format(i=base, o=path) for a in corpus.CONVERT[syntax]], check=True, capture_output=True)
        base.unlink()
    return path


def output_of(root: pathlib.Path, ds) -> pathlib.Path:
    return root / f"{hashlib.md5(ds.SOPInstanceUID.encode()).hexdigest()}.dicom"


@pytest.mark.parametrize("syntax", ["explicit", "implicit", "rle", "jpegls80"])
def test_deidentify_scrubs_text_and_keeps_clean_files_verbatim(tmp_path, syntax):
    text_ds, text_px = text_dataset(1)
    clean_ds, clean_px = text_dataset(2, with_text=False)
    assert not vindr.scrub_text(clean_px[0])[1].any(), "this text-free image must have no false detection"
    write(text_ds, tmp_path / "in" / "text.dcm", syntax)
    write(clean_ds, tmp_path / "in" / "clean.dcm", syntax)
    plain = vindr.deidentify(tmp_path / "in", tmp_path / "plain", min_size=512)
    result = vindr.deidentify(tmp_path / "in", tmp_path / "out", min_size=512, scrub_text=True, review_dir=tmp_path / "review")
    assert result.written == 2 and result.failed == 0 and result.scrubbed == 1, result.files
    by_input = {pathlib.Path(f["input"]).name: f for f in result.files}
    assert by_input["text.dcm"]["text_regions"] > 0
    assert by_input["clean.dcm"]["text_regions"] == 0 and by_input["clean.dcm"]["review"] is None
    # The scrubbed file: pydicom reads it, native pixels, equal to scrub_text of the original.
    out = pydicom.dcmread(output_of(tmp_path / "out", text_ds))
    expected_syntax = ImplicitVRLittleEndian if syntax == "implicit" else ExplicitVRLittleEndian
    assert out.file_meta.TransferSyntaxUID == expected_syntax
    expected, mask = vindr.scrub_text(text_px[0])
    assert np.array_equal(out.pixel_array, expected)
    assert mask.sum() > 1000
    assert out.PatientSex == "F" and "PatientName" not in out
    # The review sheet: a PNG wider than tall per region pair, written under the new id.
    review = pathlib.Path(by_input["text.dcm"]["review"])
    assert review.parent == tmp_path / "review" and review.suffix == ".png"
    sheet = np.asarray(Image.open(review))
    assert sheet.ndim == 3 and sheet.shape[2] == 3 and sheet.shape[0] > 20
    assert sorted(p.name for p in (tmp_path / "review").iterdir()) == [review.name]
    # The clean file: byte for byte what a run without scrubbing writes.
    assert output_of(tmp_path / "out", clean_ds).read_bytes() == output_of(tmp_path / "plain", clean_ds).read_bytes()
    assert plain.files[0]["text_regions"] is None


def test_every_frame_is_scrubbed(tmp_path):
    ds, px = text_dataset(4, frames=2)
    write(ds, tmp_path / "in" / "two.dcm")
    result = vindr.deidentify(tmp_path / "in", tmp_path / "out", min_size=512, scrub_text=True)
    assert result.scrubbed == 1, result.files
    out = pydicom.dcmread(output_of(tmp_path / "out", ds))
    assert out.NumberOfFrames == 2
    for f in range(2):
        assert np.array_equal(out.pixel_array[f], vindr.scrub_text(px[f])[0])


def test_review_directory_needs_scrubbing(tmp_path):
    with pytest.raises(vindr.InvalidArgumentError):
        vindr.deidentify(tmp_path, tmp_path / "out", review_dir=tmp_path / "r")
    opts = ctypes.c_void_p()
    assert _lib.prototype("vdr_deid_options_create")(ctypes.byref(opts)) == C.VDR_OK
    try:
        set_string = _lib.prototype("vdr_deid_options_set_string")
        set_int = _lib.prototype("vdr_deid_options_set_int")
        assert set_string(opts, C.VDR_DEID_REVIEW_DIR, b"/tmp/r") == C.VDR_ERR_ARGUMENT
        assert b"scrubbing" in _lib.prototype("vdr_last_error")()
        assert set_int(opts, C.VDR_DEID_SCRUB_TEXT, 1) == C.VDR_OK
        assert set_string(opts, C.VDR_DEID_REVIEW_DIR, b"/tmp/r") == C.VDR_OK
    finally:
        _lib.prototype("vdr_deid_options_destroy")(opts)


def test_colour_images_are_refused_by_name(tmp_path):
    rgb = np.zeros((600, 600, 3), np.uint8)
    v = corpus.Variant("rgb", 600, 600, bits_allocated=8, bits_stored=8, photometric="RGB")
    ds = corpus.base_dataset(v, rgb)
    ds.SamplesPerPixel, ds.PlanarConfiguration, ds.PixelData = 3, 0, rgb.tobytes()
    write(ds, tmp_path / "in" / "rgb.dcm")
    result = vindr.deidentify(tmp_path / "in", tmp_path / "out", min_size=512, scrub_text=True)
    assert result.failed == 1
    error = result.files[0]["error"]
    assert "rgb.dcm" in error and "monochrome" in error and "(0028,0004)" in error
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def cli() -> pathlib.Path:
    path = pathlib.Path(_lib.lib._name).parent / "vindr"
    if not path.exists():
        pytest.skip(f"vindr command-line tool not built at {path}")
    return path


def test_cli_scrub_text_with_review(tmp_path):
    text_ds, text_px = text_dataset(5)
    clean_ds, clean_px = text_dataset(6, with_text=False)
    # A false detection in the text-free image would be scrubbed too (reported, not verbatim).
    false_detection = bool(vindr.scrub_text(clean_px[0])[1].any())
    write(text_ds, tmp_path / "in" / "a.dcm", "rle")
    write(clean_ds, tmp_path / "in" / "b.dcm")
    proc = subprocess.run([str(cli()), "deid", str(tmp_path / "in"), str(tmp_path / "out"), "--min-size", "512",
                           "--scrub-text", "--review", str(tmp_path / "review")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"written 2, rejected 0, failed 0, not DICOM 0, burned-in annotation 1, scrubbed {1 + false_detection}" in proc.stdout
    assert "scrubbed" in proc.stdout and "a.dcm" in proc.stdout and "review" in proc.stdout
    out = pydicom.dcmread(output_of(tmp_path / "out", text_ds))
    assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(out.pixel_array, vindr.scrub_text(text_px[0])[0])
    assert len(list((tmp_path / "review").glob("*.png"))) == 1 + false_detection
    if false_detection:
        return
    plain = subprocess.run([str(cli()), "deid", str(tmp_path / "in"), str(tmp_path / "plain"), "--min-size", "512"],
                           capture_output=True, text=True)
    assert plain.returncode == 0, plain.stderr
    assert output_of(tmp_path / "out", clean_ds).read_bytes() == output_of(tmp_path / "plain", clean_ds).read_bytes()
    bad = subprocess.run([str(cli()), "deid", str(tmp_path / "in"), str(tmp_path / "x"), "--review", str(tmp_path / "r")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "--review needs --scrub-text" in bad.stderr


def test_cpp_wrapper(tmp_path):
    root = pathlib.Path(__file__).resolve().parents[2]
    src = tmp_path / "scrub.cpp"
    src.write_text('''#include "vindr.hpp"
#include <cstdio>
int main() {
    const std::size_t w = 200, h = 120;
    std::vector<uint16_t> px(w * h, 1000);
    for (std::size_t y = 40; y < 80; ++y) { px[y * w + 50] = px[y * w + 51] = 4000; px[y * w + 70] = px[y * w + 71] = 4000; }
    for (std::size_t x = 50; x < 72; ++x) { px[60 * w + x] = px[61 * w + x] = 4000; }
    for (std::size_t y = 40; y < 80; ++y) { px[y * w + 90] = px[y * w + 91] = 4000; }
    std::size_t changed = 0;
    std::vector<uint8_t> mask = vindr::scrub_text(px, w, h, &changed);
    std::size_t masked = 0, left = 0;
    for (std::size_t i = 0; i < mask.size(); ++i) { masked += mask[i]; left += px[i] > 2000; }
    std::printf("%zu %zu %zu\\n", changed, masked, left);
    return 0;
}
''')
    exe = tmp_path / "scrub"
    lib = pathlib.Path(_lib.lib._name).parent
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", f"-I{root / 'include'}", f"-I{root / 'bindings/cpp'}",
                    str(src), f"-L{lib}", "-lvindr", f"-Wl,-rpath,{lib}", "-o", str(exe)], check=True)
    changed, masked, left = map(int, subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split())
    assert changed > 0 and masked >= changed and left == 0
