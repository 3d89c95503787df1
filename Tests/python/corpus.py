"""Generator of CXR-sized test DICOMs in every transfer syntax the SDK reads.

A base file is written in Explicit VR Little Endian (pydicom as a writer only), then converted
with GDCM's and DCMTK's command-line tools, which are independent of the code under test:

    gdcmconv -M (implicit), dcmconv +tb (big endian), dcmconv +td (deflated),
    dcmcjpeg +eb/+ee/+el/+e1 (JPEG baseline/extended/lossless/SV1), gdcmconv -L (JPEG-LS),
    gdcmconv -Y -L -e 2 (JPEG-LS near-lossless), gdcmconv -K (J2K lossless),
    gdcmconv -Y -K (J2K lossy), gdcmconv -R (RLE).

High-Throughput JPEG 2000 files (`write_htj2k`) wrap a codestream from OpenJPH's ojph_compress
into the data set with pydicom's encapsulate (GDCM and DCMTK on Debian 12 write no HTJ2K).

Usage: python3 Tests/python/corpus.py OUTDIR [--small]
"""
from __future__ import annotations

import dataclasses
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

LOSSLESS = {
    "explicit": "1.2.840.10008.1.2.1",
    "implicit": "1.2.840.10008.1.2",
    "big": "1.2.840.10008.1.2.2",
    "deflated": "1.2.840.10008.1.2.1.99",
    "jpeg57": "1.2.840.10008.1.2.4.57",
    "jpeg70": "1.2.840.10008.1.2.4.70",
    "jpegls80": "1.2.840.10008.1.2.4.80",
    "j2k90": "1.2.840.10008.1.2.4.90",
    "rle": "1.2.840.10008.1.2.5",
}
LOSSY = {
    "jpeg50": "1.2.840.10008.1.2.4.50",
    "jpeg51": "1.2.840.10008.1.2.4.51",
    "jpegls81": "1.2.840.10008.1.2.4.81",
    "j2k91": "1.2.840.10008.1.2.4.91",
}

CONVERT = {
    "implicit": ["gdcmconv", "-M", "{i}", "{o}"],
    "big": ["dcmconv", "+tb", "{i}", "{o}"],
    "deflated": ["dcmconv", "+td", "{i}", "{o}"],
    "jpeg50": ["dcmcjpeg", "+eb", "{i}", "{o}"],
    "jpeg51": ["dcmcjpeg", "+ee", "{i}", "{o}"],
    "jpeg57": ["dcmcjpeg", "+el", "{i}", "{o}"],
    "jpeg70": ["dcmcjpeg", "+e1", "{i}", "{o}"],
    "jpegls80": ["gdcmconv", "-L", "{i}", "{o}"],
    "jpegls81": ["gdcmconv", "-Y", "-L", "-e", "2", "{i}", "{o}"],
    "j2k90": ["gdcmconv", "-K", "{i}", "{o}"],
    "j2k91": ["gdcmconv", "-Y", "-K", "-r", "10", "{i}", "{o}"],
    "rle": ["gdcmconv", "-R", "{i}", "{o}"],
}


@dataclasses.dataclass
class Variant:
    name: str
    rows: int
    cols: int
    bits_allocated: int = 16
    bits_stored: int = 12
    signed: bool = False
    photometric: str = "MONOCHROME2"
    rescale: tuple[float, float] | None = None  # (slope, intercept)
    windows: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    voi_function: str | None = None
    frames: int = 1
    syntaxes: tuple[str, ...] = ("explicit",)
    edges: bool = False  # collimation bands, burned-in markers and saturated regions on top


def cxr_like(rows: int, cols: int, bits: int, signed: bool, seed: int = 0, frames: int = 1) -> np.ndarray:
    """A chest-radiograph-like image: bright mediastinum and body, dark lungs, ribs, noise,
    filling the range of `bits` stored bits."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    yn, xn = y / rows, x / cols
    body = np.exp(-(((xn - 0.5) / 0.42) ** 6 + ((yn - 0.55) / 0.5) ** 6))
    lungs = sum(np.exp(-(((xn - cx) / 0.15) ** 2 + ((yn - 0.45) / 0.28) ** 2)) for cx in (0.32, 0.68))
    ribs = 0.08 * np.sin(yn * 60 + 4 * np.abs(xn - 0.5)) * (lungs > 0.3)
    img = 0.15 + 0.7 * body - 0.45 * lungs + ribs
    out = []
    for f in range(frames):
        frame = img + 0.03 * rng.standard_normal(img.shape).astype(np.float32) + 0.02 * f
        frame = (frame - frame.min()) / (frame.max() - frame.min())
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        out.append(np.round(lo + frame * (hi - lo)))
    arr = np.stack(out) if frames > 1 else out[0]
    dtype = {(8, False): np.uint8, (8, True): np.int8, (16, False): np.uint16, (16, True): np.int16}
    return arr.astype(dtype[(8 if bits <= 8 else 16, signed)])


def sharp_edges(img: np.ndarray, bits: int) -> np.ndarray:
    """Draws what resampling shortcuts get wrong on `img` (rows x cols, unsigned, `bits` stored
    bits): collimation (saturated bands along the top and right, next to a near-black strip of
    unattenuated air, with hard edges at odd offsets that no 2^r grid matches), burned-in
    markers (saturated 1-, 2- and 3-pixel strokes: an "L", a ruler of ticks, a crosshair) and
    saturated blocks (a metal marker, a clipped shoulder)."""
    out = img.copy()
    rows, cols = out.shape[-2:]
    top, high = 0, (1 << bits) - 1
    dark = max(1, high // 50)
    band_y, band_x = rows // 11 + 3, cols - cols // 9 - 5
    out[..., band_y:band_y + rows // 25, :band_x] = dark  # air just inside the field edge
    out[..., :, band_x - cols // 30 + 1:band_x] = dark
    out[..., :band_y, :] = high  # collimator leaves: nothing reaches the detector
    out[..., :, band_x:] = high
    y0, x0 = rows // 5 + 7, cols // 9 + 3  # an "L" marker, 3 px strokes
    out[..., y0:y0 + rows // 12, x0:x0 + 3] = high
    out[..., y0 + rows // 12 - 3:y0 + rows // 12, x0:x0 + cols // 20] = high
    for i in range(40):  # ruler: 1- and 2-pixel ticks on near-black
        x = cols // 4 + 13 * i + 1
        out[..., rows - rows // 14 - 20:rows - rows // 14, x:x + 1 + (i % 2)] = high if i % 5 else top
    out[..., rows - rows // 14 - 21:rows - rows // 14 + 1, cols // 4 - 5:cols // 4 + 13 * 40 + 5][..., :2, :] = high
    cy, cx = rows // 2 + 5, cols // 2 - 3  # crosshair, 1 px
    out[..., cy, cx - 40:cx + 41] = high
    out[..., cy - 40:cy + 41, cx] = high
    out[..., rows // 3 + 1:rows // 3 + rows // 16, cols // 5 + 2:cols // 5 + cols // 18] = high  # metal
    out[..., rows // 2 + rows // 8:rows // 2 + rows // 4, 5:cols // 7] = high  # clipped shoulder
    return out


def base_dataset(v: Variant, pixels: np.ndarray) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image for Presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "DX"
    ds.PatientSex = "F"
    ds.PatientAge = "045Y"
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "PA"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = v.photometric
    ds.Rows = v.rows
    ds.Columns = v.cols
    ds.BitsAllocated = v.bits_allocated
    ds.BitsStored = v.bits_stored
    ds.HighBit = v.bits_stored - 1
    ds.PixelRepresentation = 1 if v.signed else 0
    ds.PixelSpacing = [0.139, 0.139]
    if v.frames > 1:
        ds.NumberOfFrames = v.frames
    if v.rescale:
        ds.RescaleSlope = f"{v.rescale[0]:g}"
        ds.RescaleIntercept = f"{v.rescale[1]:g}"
        ds.RescaleType = "US"
    if v.windows:
        ds.WindowCenter = [f"{c:g}" for c, _ in v.windows] if len(v.windows) > 1 else f"{v.windows[0][0]:g}"
        ds.WindowWidth = [f"{w:g}" for _, w in v.windows] if len(v.windows) > 1 else f"{v.windows[0][1]:g}"
    if v.voi_function:
        ds.VOILUTFunction = v.voi_function
    ds.PixelData = pixels.tobytes()
    ds["PixelData"].VR = "OB" if v.bits_allocated == 8 else "OW"
    return ds


def write_variant(v: Variant, out: pathlib.Path, seed: int = 0) -> dict[str, pathlib.Path]:
    """Writes `v` in each of its syntaxes; returns {syntax key: path}."""
    out.mkdir(parents=True, exist_ok=True)
    pixels = cxr_like(v.rows, v.cols, v.bits_stored, v.signed, seed, v.frames)
    if v.edges:
        pixels = sharp_edges(pixels, v.bits_stored)
    base = out / f"{v.name}-explicit.dcm"
    base_dataset(v, pixels).save_as(base, enforce_file_format=True)
    files = {"explicit": base}
    for key in v.syntaxes:
        if key == "explicit":
            continue
        target = out / f"{v.name}-{key}.dcm"
        cmd = [a.format(i=base, o=target) for a in CONVERT[key]]
        subprocess.run(cmd, check=True, capture_output=True)
        files[key] = target
    return files


HTJ2K = {
    "htj2k201": "1.2.840.10008.1.2.4.201",
    "htj2k202": "1.2.840.10008.1.2.4.202",
    "htj2k203": "1.2.840.10008.1.2.4.203",
}


def htj2k_codestream(pixels: np.ndarray, bits: int, signed: bool, qstep: float | None = None,
                     options: tuple[str, ...] = ()) -> bytes:
    """ISO 15444-15 codestream of `pixels` (rows x cols) from ojph_compress: reversible 5/3
    (lossless), or irreversible 9/7 with quantisation step `qstep`; 5 decompositions, RPCL, one
    tile, unless ojph_compress `options` (e.g. ("-tile_size", "{16,16}")) say otherwise.

    ojph_compress 0.9 reads raw samples as unsigned, so a signed image is encoded as its values +
    2^(bits-1) and the SIZ Ssiz sign bit (ISO 15444-1 A.5.1) set afterwards: an unsigned sample
    is coded after subtracting 2^(bits-1) (DC level shift, G.1.2) and a signed one as it is, so
    the coded data are the same and the stream decodes to the negative values."""
    import tempfile

    rows, cols = pixels.shape
    raw = pixels.astype(np.int64) + ((1 << (bits - 1)) if signed else 0)
    with tempfile.TemporaryDirectory() as d:
        src, out = pathlib.Path(d) / "in.raw", pathlib.Path(d) / "out.j2c"
        raw.astype("<u1" if bits <= 8 else "<u2").tofile(src)
        mode = ["-reversible", "true"] if qstep is None else ["-reversible", "false", "-qstep", str(qstep)]
        subprocess.run(["ojph_compress", "-i", str(src), "-o", str(out), "-dims", f"{{{cols},{rows}}}", "-num_comps", "1",
                        "-signed", "false", "-bit_depth", str(bits), "-downsamp", "{1,1}", *mode, *options],
                       check=True, capture_output=True)
        stream = bytearray(out.read_bytes())
    assert stream[:4] == b"\xff\x4f\xff\x51" and stream[42] == bits - 1, "SOC, SIZ, one component"
    if signed:
        stream[42] |= 0x80
    return bytes(stream)


def write_htj2k(v: Variant, out: pathlib.Path, syntax: str, qstep: float | None = None, seed: int = 0) -> pathlib.Path:
    """`v` (one frame) as `{v.name}-{syntax}.dcm` in the HTJ2K syntax `syntax` (a key of HTJ2K),
    Explicit VR Little Endian with encapsulated Pixel Data as PS3.5 A.4 encodes it, beside the
    same image uncompressed (`{v.name}-explicit.dcm`)."""
    out.mkdir(parents=True, exist_ok=True)
    pixels = cxr_like(v.rows, v.cols, v.bits_stored, v.signed, seed)
    ds = base_dataset(v, pixels)
    ds.save_as(out / f"{v.name}-explicit.dcm", enforce_file_format=True)
    from pydicom.encaps import encapsulate

    ds.file_meta.TransferSyntaxUID = HTJ2K[syntax]
    ds.PixelData = encapsulate([htj2k_codestream(pixels, v.bits_stored, v.signed, qstep)])
    ds["PixelData"].VR = "OB"
    if qstep is not None:
        ds.LossyImageCompression = "01"
    path = out / f"{v.name}-{syntax}.dcm"
    ds.save_as(path, enforce_file_format=True, implicit_vr=False, little_endian=True)
    return path


CXR_ROWS, CXR_COLS = 2560, 2304  # CXR-sized, as in the dataset (2500-3000 px)

VARIANTS = [
    Variant("u12m2", CXR_ROWS, CXR_COLS, windows=[(2048, 4096), (1500, 2000)],
            syntaxes=tuple(LOSSLESS) + ("jpeg51", "jpegls81", "j2k91")),
    Variant("u12m1rescale", CXR_ROWS, CXR_COLS, photometric="MONOCHROME1", rescale=(2.0, -1024.0),
            windows=[(2000, 5000)], syntaxes=("explicit", "j2k90", "rle", "jpeg70", "jpegls80", "implicit", "big")),
    Variant("s16", 2500, 2500, bits_stored=16, signed=True, rescale=(1.0, -100.0), windows=[(200, 30000)],
            voi_function="LINEAR_EXACT", syntaxes=("explicit", "implicit", "big", "j2k90", "rle", "jpegls80")),
    Variant("s12sigmoid", 1024, 896, bits_stored=12, signed=True, windows=[(0, 2500)], voi_function="SIGMOID",
            syntaxes=("explicit", "rle", "j2k90")),
    Variant("u8", 2048, 2048, bits_allocated=8, bits_stored=8, syntaxes=("explicit", "jpeg50", "rle", "j2k90", "jpegls80")),
    Variant("u10nowin", 1536, 1280, bits_stored=10, syntaxes=("explicit", "j2k90", "jpeg70")),
    Variant("multiframe", 512, 448, frames=3, windows=[(2000, 3000)], syntaxes=("explicit", "j2k90", "rle")),
    # Sharp edges in every syntax the corpus covers (8-bit for baseline JPEG, which carries 8
    # bits only), with a file window so renders may take the fast paths when asked to.
    Variant("edges12", 2048, 1792, windows=[(2048, 4096)], edges=True,
            syntaxes=tuple(LOSSLESS) + ("jpeg51", "jpegls81", "j2k91")),
    Variant("edges8", 2048, 1792, bits_allocated=8, bits_stored=8, windows=[(128, 256)], edges=True,
            syntaxes=("explicit", "jpeg50", "j2k90", "rle")),
]


def build(out: pathlib.Path, variants=VARIANTS) -> dict[str, dict[str, pathlib.Path]]:
    return {v.name: write_variant(v, out, seed=i) for i, v in enumerate(variants)}


if __name__ == "__main__":
    target = pathlib.Path(sys.argv[1])
    if target.exists():
        shutil.rmtree(target)
    corpus = build(target)
    for name, files in corpus.items():
        for key, path in files.items():
            print(name, key, path)
