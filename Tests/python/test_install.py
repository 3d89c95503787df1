"""Installing the SDK as a user would: scripts/install with pkg-config and CMake consumers, and
`pip install ./bindings/python` (a source build against the checkout's library) used from outside
the checkout. test_package.py covers the shipped artifacts on a machine without the toolchain."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    p = tmp_path_factory.mktemp("prefix")
    subprocess.run([str(ROOT / "scripts" / "install"), str(p)], check=True, capture_output=True, text=True)
    return p


def test_pkg_config_builds_a_consumer(prefix, tmp_path, corpus):
    env = {**os.environ, "PKG_CONFIG_PATH": str(prefix / "lib" / "pkgconfig")}
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "vindr"], env=env, capture_output=True, text=True, check=True).stdout.split()
    include = next(f[2:] for f in flags if f.startswith("-I"))
    assert pathlib.Path(include).resolve() == prefix.resolve() / "include" and "-lvindr" in flags
    exe = tmp_path / "render_pgm"
    subprocess.run(["gcc", "-std=c99", str(ROOT / "examples/c/render_pgm.c"), "-o", str(exe), *flags], check=True)
    out = subprocess.run([str(exe), str(corpus["u8"]["explicit"]), str(tmp_path / "x.pgm")], capture_output=True, text=True, check=True)
    assert "wrote" in out.stdout


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
def test_cmake_find_package(prefix, tmp_path, corpus):
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(f"""cmake_minimum_required(VERSION 3.16)
project(consumer CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(vindr REQUIRED)
add_executable(loader_loop {ROOT}/examples/cpp/loader_loop.cpp)
target_link_libraries(loader_loop PRIVATE vindr::vindr)
""")
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(src), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    d = tmp_path / "images"
    d.mkdir()
    shutil.copy(corpus["u8"]["explicit"], d / "a.dcm")
    out = subprocess.run([str(build / "loader_loop"), str(d)], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("1 images, 1 batches per epoch")


def test_pip_install_carries_the_library(tmp_path, corpus):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--target", str(target),
                    str(ROOT / "bindings" / "python")], check=True, capture_output=True, text=True)
    for leftover in ("build", "vindr.egg-info"):
        shutil.rmtree(ROOT / "bindings" / "python" / leftover, ignore_errors=True)
    code = ("import vindr, sys; im = vindr.read_dicom(sys.argv[1]); "
            "print(vindr._lib.lib._name, im.render(size=64).shape)")
    env = {k: v for k, v in os.environ.items() if k not in ("VINDR_LIBRARY", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-c", code, str(corpus["u8"]["explicit"])], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith(str(target / "vindr" / "libvindr.so.")) and "(64, 64)" in out
