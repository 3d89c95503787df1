"""examples/: each one built and run on a small set of DICOMs, checking what it prints and writes."""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import cv2
import pytest

from vindr import _lib

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIBDIR = pathlib.Path(_lib.lib._name).parent


@pytest.fixture(scope="module")
def sample_dir(corpus, tmp_path_factory):
    d = tmp_path_factory.mktemp("sample")
    for variant, syntax in [("u12m2", "explicit"), ("u12m1rescale", "j2k90"), ("s16", "rle"), ("u8", "explicit"), ("u10nowin", "jpeg70")]:
        shutil.copy(corpus[variant][syntax], d / f"{variant}-{syntax}.dcm")
    return d


def compile_and_run(tmp_path, compiler, source, args):
    exe = tmp_path / pathlib.Path(source).stem
    subprocess.run(compiler + ["-I", str(ROOT / "include"), "-I", str(ROOT / "bindings" / "cpp"), str(ROOT / source), "-o", str(exe),
                               "-L", str(LIBDIR), "-lVinDrC", f"-Wl,-rpath,{LIBDIR}"], check=True, capture_output=True, text=True)
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, check=True).stdout


def test_c_example_writes_a_pgm(sample_dir, tmp_path):
    out = tmp_path / "x.pgm"
    text = compile_and_run(tmp_path, ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"], "examples/c/render_pgm.c",
                           [sample_dir / "u12m2-explicit.dcm", out])
    assert "2560x2304, 12 bits stored, MONOCHROME2" in text
    img = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert img.shape == (512, round(2304 * 512 / 2560))


def test_cpp_loader_example(sample_dir, tmp_path):
    text = compile_and_run(tmp_path, ["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror"], "examples/cpp/loader_loop.cpp", [sample_dir])
    assert text.splitlines()[0] == "5 images, 2 batches per epoch"
    assert sum(1 for line in text.splitlines() if line.startswith("epoch ")) == 4


def test_python_example_renders_pngs(sample_dir, tmp_path):
    out = tmp_path / "png"
    text = subprocess.run([sys.executable, str(ROOT / "examples/python/render_sample.py"), str(sample_dir), str(out), "--size", "256"],
                          capture_output=True, text=True, check=True).stdout
    assert "rendered 5 images" in text
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 5
    assert all(max(cv2.imread(str(p), cv2.IMREAD_UNCHANGED).shape) == 256 for p in pngs)


def test_swift_package_depends_on_the_sdk_by_path(sample_dir, tmp_path):
    build = tmp_path / "build"
    subprocess.run(["swift", "build", "--package-path", str(ROOT / "examples/swift"), "--scratch-path", str(build)],
                   check=True, capture_output=True, text=True)
    text = subprocess.run([str(build / "debug" / "RenderInfo"), str(sample_dir)], capture_output=True, text=True, check=True).stdout
    assert "u12m2-explicit.dcm: 2560x2304 MONOCHROME2 -> 512x461" in text
    assert text.strip().endswith("loader: 5 images in 2 batches")
