"""Writes the committed seed files under Fuzz/seeds/: tiny DICOMs in every transfer syntax (via
the test corpus generator, Tests/python/corpus.py, and GDCM/DCMTK's converters), CSVs in every
layout, box inputs and a cache directory. Run once; the outputs are committed (keep them small).

Usage: python3 Fuzz/make_seeds.py
"""
from __future__ import annotations

import dataclasses
import io
import json
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "Tests" / "python"))
import corpus  # noqa: E402
import jpegls_streams  # noqa: E402
import ljpeg_encoder  # noqa: E402
import numpy as np  # noqa: E402
from pydicom.encaps import encapsulate  # noqa: E402

SEEDS = ROOT / "Fuzz" / "seeds"


def dicoms() -> list[bytes]:
    everything = tuple(corpus.LOSSLESS) + tuple(corpus.LOSSY)
    variants = [
        corpus.Variant("u12", 16, 12, windows=[(2048, 4096), (1500, 2000)], syntaxes=everything),
        corpus.Variant("m1", 9, 7, photometric="MONOCHROME1", rescale=(2.0, -1024.0), windows=[(2000, 5000)],
                       syntaxes=("explicit", "j2k90", "rle", "jpegls80")),
        corpus.Variant("s16", 8, 8, bits_stored=16, signed=True, rescale=(1.0, -100.0), windows=[(200, 30000)],
                       voi_function="SIGMOID", syntaxes=("explicit", "big", "rle", "j2k90")),
        corpus.Variant("u8", 8, 10, bits_allocated=8, bits_stored=8, syntaxes=("explicit", "jpeg50", "rle", "j2k90", "jpegls80")),
        corpus.Variant("frames", 6, 5, frames=3, windows=[(2000, 3000)], syntaxes=("explicit", "rle", "j2k90")),
    ]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, v in enumerate(variants):
            # One syntax at a time: a converter that fails on a tiny image (gdcmconv -K crashes
            # on 8x8 signed 16-bit) only drops that seed.
            for key in v.syntaxes:
                one = dataclasses.replace(v, syntaxes=(key,))
                try:
                    files = corpus.write_variant(one, pathlib.Path(tmp) / v.name, seed=i)
                except subprocess.CalledProcessError as e:
                    print(f"skipped {v.name}-{key}: {e}", file=sys.stderr)
                    continue
                out.append((f"{v.name}-{key}.dcm", files[key].read_bytes()))
        # High-Throughput JPEG 2000 (PS3.5 A.4.11): lossless, lossy, signed, 8-bit.
        for i, (v, syntax, qstep) in enumerate([(variants[0], "htj2k201", None), (variants[0], "htj2k203", 0.01),
                                                 (variants[2], "htj2k201", None), (variants[3], "htj2k202", None)]):
            path = corpus.write_htj2k(v, pathlib.Path(tmp) / f"ht{i}", syntax, qstep=qstep, seed=i)
            out.append((f"{v.name}-{syntax}{'-lossy' if qstep else ''}.dcm", path.read_bytes()))
        out += lossless_jpeg(variants, pathlib.Path(tmp))
    return out + jpegls_seeds(variants[0])


def lossless_jpeg(variants: list, tmp: pathlib.Path) -> list[tuple[str, bytes]]:
    """Lossless JPEG streams DCMTK's dcmcjpeg cannot write (Tests/python/ljpeg_encoder.py): restart
    intervals with fill bytes, predictors 6 and 7, a point transform, 16-bit differences."""
    out = []
    for name, v, bits, kw in [("u12-jpeg70-restarts", variants[0], 12, dict(sv=1, restart_lines=3, fill=1)),
                              ("s16-jpeg57-sv6-pt2", variants[2], 16, dict(sv=6, pt=2, restart_lines=2)),
                              ("u8-jpeg57-sv7", variants[3], 8, dict(sv=7))]:
        pixels = corpus.cxr_like(v.rows, v.cols, bits, v.signed, seed=len(name))
        ds = corpus.base_dataset(v, pixels)
        ds.file_meta.TransferSyntaxUID = corpus.LOSSLESS["jpeg70" if "jpeg70" in name else "jpeg57"]
        ds.PixelData = encapsulate([ljpeg_encoder.encode(pixels.astype(np.int64) & ((1 << bits) - 1), bits, **kw)])
        ds["PixelData"].VR = "OB"
        path = tmp / f"{name}.dcm"
        ds.save_as(path, enforce_file_format=True)
        out.append((f"{name}.dcm", path.read_bytes()))
    return out


def jpegls_seeds(variant: corpus.Variant) -> list[tuple[str, bytes]]:
    """JPEG-LS (T.87) with restart intervals, preset parameters (LSE id 1), NEAR 3."""
    out = []
    values = corpus.cxr_like(variant.rows, variant.cols, 12, False, seed=7)
    for name, uid, stream in [("jpegls80-restart", "1.2.840.10008.1.2.4.80", jpegls_streams.with_restarts(values, 12, 5)),
                              ("jpegls80-preset", "1.2.840.10008.1.2.4.80", jpegls_streams.charls_encode(values, 12, 0, (0, 5, 9, 30, 20))),
                              ("jpegls81-near3", "1.2.840.10008.1.2.4.81", jpegls_streams.charls_encode(values, 12, 3))]:
        ds = corpus.base_dataset(variant, values)
        ds.file_meta.TransferSyntaxUID = uid
        ds.PixelData = encapsulate([stream], has_bot=True)
        ds["PixelData"].VR = "OB"
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        out.append((f"u12-{name}.dcm", buffer.getvalue()))
    return out


CSVS = {
    "annotations.csv": b"image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\n"
                       b"a1,Aortic enlargement,0,R9,691,1375,1653,1831\n"
                       b"a1,No finding,14,R10,,,,\n"
                       b"a2,Cardiomegaly,3,R9,10.5,20,300,400\n",
    "image_labels.csv": b"image_id,rad_ID,Aortic enlargement,Atelectasis,Cardiomegaly,Calcification,Clavicle fracture,"
                        b"Consolidation,Edema,Emphysema,Enlarged PA,ILD,Infiltration,Lung Opacity,Lung cavity,Lung cyst,"
                        b"Mediastinal shift,Nodule/Mass,Pleural effusion,Pleural thickening,Pneumothorax,Pulmonary fibrosis,"
                        b"Rib fracture,Other lesion,COPD,Lung tumor,Pneumonia,Tuberculosis,Other disease,No finding\n"
                        b"a1,R9,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n",
    "local.csv": b"\xef\xbb\xbfimage_id,rad_id,label_name,x_min,y_min,x_max,y_max\r\n"
                 b"\"a,1\",R1,Nodule/Mass,1,2,3,4\r\na2,R2,\"Lung \"\"Opacity\"\"\",5,6,7,8\r\n",
    "submission.csv": b"image_id,PredictionString\na1,0 0.9 10 20 30 40 3 0.5 1 1 5 5\na2,14 1 0 0 1 1\n",
}


def boxes() -> dict[str, bytes]:
    # Layout read by Fuzz/boxes.swift: 1 op byte, 1 model-count byte, 4 parameter doubles, then
    # per box: model byte, label byte, 5 doubles (score, x1, y1, x2, y2).
    def make(op, models, params, items):
        b = bytes([op, models]) + struct.pack("<4d", *params)
        for m, label, *vals in items:
            b += bytes([m, label]) + struct.pack("<5d", *vals)
        return b
    items = [(0, 1, 0.9, 0.1, 0.1, 0.5, 0.5), (1, 1, 0.8, 0.12, 0.1, 0.52, 0.48), (0, 2, 0.3, 0.6, 0.6, 0.9, 0.95),
             (1, 2, 0.7, 0.9, 0.9, 0.6, 0.6), (0, 1, 0.2, -0.1, 0.2, 1.3, 0.4)]
    return {f"op{op}.bin": make(op, 2, (0.5, 0.5, 0.001, 1.0), items) for op in range(6)}


def cache() -> dict[str, bytes]:
    # Inputs of Fuzz/cache.swift: one WebDataset shard (ustar) per cache format, 8x8 images.
    import tarfile

    import cv2
    import numpy as np

    img = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = {}
    for fmt in ("raw", "raw16", "jpeg"):
        if fmt == "jpeg":
            member, ext = cv2.imencode(".jpg", img)[1].tobytes(), "jpg"
        else:
            buf = io.BytesIO()
            np.save(buf, img.astype(np.uint16) * 1000 if fmt == "raw16" else img)
            member, ext = buf.getvalue(), "npy"
        settings = {"height": 8, "width": 8, "letterbox": True, "pad": 0, "window": "dicom", "format": fmt,
                    "quality": 90 if fmt == "jpeg" else 0, "decode": "exact"}
        record = {"image_id": "a1", "source": "/x/a1.dcm", "source_size": 10, "source_mtime": 1.5, "source_crc32": 0,
                  "source_width": 8, "source_height": 8, "crc32": zlib.crc32(member), "transform": [1, 1, 0, 0],
                  "boxes": [[1, 1, 4, 4]], "labels": [0], "global_labels": [], "readers": [], "reader_ids": ["R1"],
                  "settings": settings}
        if fmt == "raw16":
            record.update(values=[-1024, 3000], window={"center": 40, "width": 400, "function": "LINEAR"}, invert=False)
        shard = io.BytesIO()
        with tarfile.open(fileobj=shard, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name, data in ((f"a1.{ext}", member), ("a1.json", json.dumps(record).encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        out[f"{fmt}.tar"] = shard.getvalue()
    return out


def write(target: str, files) -> None:
    d = SEEDS / target
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for name, data in files:
        (d / name).write_bytes(data)


if __name__ == "__main__":
    dcm = dicoms()
    write("dicom", dcm)
    write("deid", [(n, b) for n, b in dcm if "explicit" in n or "rle" in n or "big" in n])
    write("csv", CSVS.items())
    write("boxes", boxes().items())
    write("cache", cache().items())
    total = sum(f.stat().st_size for f in SEEDS.rglob("*") if f.is_file())
    print(f"{total} bytes of seeds")
