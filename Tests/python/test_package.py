"""The shipped artifacts as a user gets them (scripts/package): the wheel installed into a fresh
venv, and the C/C++ SDK tarball used through CMake find_package and pkg-config. Each runs a real
job in a child process that cannot see the Swift toolchain, the system GDCM, CharLS, OpenJPEG,
OpenJPH and TurboJPEG libraries, or this checkout (`unshare -m` with bind mounts), and must give the in-tree
build's results byte for byte."""
from __future__ import annotations

import glob
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIBRARY = ROOT / ".build" / "release" / "libVinDrC.so"
SYSTEM_LIBS = "/usr/lib/x86_64-linux-gnu"
HIDDEN_LIBS = ("libgdcm", "libcharls", "libopenjp2", "libopenjph", "libturbojpeg")
# What the shipped library may load from the system (glibc, libstdc++, libgcc_s).
ALLOWED_SYSTEM = re.compile(r"^(linux-vdso|libc|libm|libdl|libpthread|librt|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so")

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                                reason="hiding the toolchain needs root and unshare")


def version() -> str:
    h = (ROOT / "include" / "vindr.h").read_text()
    return re.search(r'#define VDR_VERSION_STRING "([^"]+)"', h).group(1)


@pytest.fixture(scope="module")
def artifacts() -> dict[str, pathlib.Path]:
    """dist/'s wheel and SDK tarball: scripts/test builds them before pytest; built here when
    missing or older than the library."""
    v = version()

    def find():
        wheels = glob.glob(str(ROOT / "dist" / f"vindr-{v}-py3-none-manylinux_2_*_x86_64.whl"))
        sdk = ROOT / "dist" / f"vindr-sdk-{v}-linux-x86_64.tar.gz"
        return (pathlib.Path(wheels[0]) if len(wheels) == 1 else None), sdk

    wheel, sdk = find()
    if wheel is None or not sdk.exists() or min(wheel.stat().st_mtime, sdk.stat().st_mtime) < LIBRARY.stat().st_mtime:
        subprocess.run([str(ROOT / "scripts" / "package")], check=True, capture_output=True)
        wheel, sdk = find()
    return {"wheel": wheel, "sdk": sdk}


def toolchain() -> pathlib.Path:
    """The Swift toolchain's root (/opt/swift for /opt/swift/usr/bin/swift)."""
    return pathlib.Path(shutil.which("swift")).resolve().parents[2]


def run_hidden(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Runs argv in a mount namespace where the toolchain and the checkout are empty folders and
    every GDCM/CharLS/OpenJPEG/OpenJPH/TurboJPEG system library reads as /dev/null."""
    empty = pathlib.Path("/tmp/vindr-empty")
    empty.mkdir(exist_ok=True)
    mounts = [f"mount --bind {empty} {shlex.quote(str(toolchain()))}", f"mount --bind {empty} {shlex.quote(str(ROOT))}"]
    for name in sorted(os.listdir(SYSTEM_LIBS)):
        path = os.path.join(SYSTEM_LIBS, name)
        if name.startswith(HIDDEN_LIBS) and ".so" in name and os.path.isfile(path) and not os.path.islink(path):
            mounts.append(f"mount --bind /dev/null {shlex.quote(path)}")
    script = "set -e\n" + "\n".join(mounts) + "\nexec " + " ".join(shlex.quote(a) for a in argv)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VINDR_LIBRARY", "LD_LIBRARY_PATH")}
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], env=env,
                          capture_output=True, text=True, **kwargs)


# The job a user runs: every transfer syntax opened and rendered, boxes fused, one loader epoch.
# It first checks that the hidden things really are out of reach.
JOB = r"""
import ctypes, json, os, sys
import numpy as np
import vindr

files, out, hidden = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
for name in ["libgdcmMSFF.so.3.0", "libcharls.so.2", "libopenjp2.so.7", "libopenjph.so.0.9", "libturbojpeg.so.0"]:
    try:
        ctypes.CDLL(name)
    except OSError:
        continue
    if hidden:
        sys.exit(name + " is visible")
if hidden:
    assert not os.path.exists(hidden["swift"]), "the toolchain is visible"
    assert not os.path.exists(hidden["checkout"]), "the checkout is visible"
results = {"library": np.frombuffer(vindr._lib.lib._name.encode(), np.uint8)}
for key, path in sorted(files.items()):
    im = vindr.read_dicom(path)
    results["pixels-" + key] = im.pixels()
    results["render-" + key] = im.render(size=256)
    results["float-" + key] = im.render(size=(200, 300), aspect="letterbox", dtype="float32")
rng = np.random.default_rng(7)
boxes = [np.sort(rng.random((20, 4)), axis=1)[:, [0, 2, 1, 3]] for _ in range(3)]
scores = [rng.random(20) for _ in range(3)]
labels = [rng.integers(0, 4, 20) for _ in range(3)]
for name, value in zip(("boxes", "scores", "labels"), vindr.weighted_boxes_fusion(boxes, scores, labels, iou_thr=0.5)):
    results["wbf-" + name] = value
samples = [vindr.Sample(key, path, np.array([[10, 20, 200, 300]], np.float32), np.array([1], np.int64))
           for key, path in sorted(files.items())]
loader = vindr.Loader(samples, 128, batch_size=4, seed=3, flip=0.5, workers=2)
for batch in loader:
    results["batch-%d" % batch.step] = batch.images.copy()  # a view, valid until the next batch
    results["boxes-%d" % batch.step] = np.concatenate([t["boxes"] for t in batch.targets])
np.savez(out, **results)
print("version", vindr.__version__, vindr.version_number())
"""


@pytest.fixture(scope="module")
def job_inputs(corpus, tmp_path_factory) -> dict[str, str]:
    """One CXR-sized file per transfer syntax, copied outside the checkout, and an HTJ2K one."""
    import corpus as corpus_module

    d = tmp_path_factory.mktemp("package-inputs")
    files = {}
    for key, path in corpus["u12m2"].items():  # 12-bit, every transfer syntax the corpus has
        files[key] = str(shutil.copy(path, d / f"{key}.dcm"))
    v = corpus_module.Variant("ht", corpus_module.CXR_ROWS, corpus_module.CXR_COLS, windows=[(2048, 4096)])
    files["htj2k201"] = str(corpus_module.write_htj2k(v, d / "ht", "htj2k201"))
    return files


def test_wheel_is_a_platform_wheel_with_everything_inside(artifacts):
    wheel = artifacts["wheel"]
    assert re.fullmatch(rf"vindr-{re.escape(version())}-py3-none-manylinux_2_\d+_x86_64\.whl", wheel.name)
    show = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True,
                          check=True).stdout
    floor = re.search(r"manylinux_2_(\d+)_x86_64", wheel.name).group(1)
    assert f'"manylinux_2_{floor}_x86_64"' in show  # the tag is auditwheel's own verdict
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    major = version().split(".")[0]
    assert f"vindr/libvindr.so.{major}" in names
    bundled = [n for n in names if n.startswith("vindr.libs/")]
    assert any(os.path.basename(n).startswith("libopenjph") for n in bundled), bundled
    licenses = zipfile.ZipFile(wheel).read("vindr/licenses/BUNDLED.txt").decode()
    for n in bundled:  # every bundled file has its license and is listed
        assert os.path.basename(n) in licenses, n
    for pkg in re.findall(r"^\S+\t\S+\t(\S+)\t", licenses, re.M):
        assert f"vindr/licenses/{pkg}.copyright" in names
    assert "vindr/licenses/swift-runtime.LICENSE.txt" in names and "vindr/licenses/vindr.LICENSE" in names


def test_sdk_layout_exports_and_dependencies(artifacts, tmp_path):
    major = version().split(".")[0]
    with tarfile.open(artifacts["sdk"]) as tar:
        tar.extractall(tmp_path)
    sdk = tmp_path / f"vindr-sdk-{version()}-linux-x86_64"
    for rel in ("include/vindr.h", "include/vindr.hpp", f"lib/libvindr.so.{major}", "lib/pkgconfig/vindr.pc",
                "lib/cmake/vindr/vindrConfig.cmake", "lib/cmake/vindr/vindrConfigVersion.cmake", "README.md",
                "share/licenses/vindr/BUNDLED.txt"):
        assert (sdk / rel).is_file(), rel
    assert os.readlink(sdk / "lib" / "libvindr.so") == f"libvindr.so.{major}"
    assert (sdk / "include" / "vindr.h").read_bytes() == (ROOT / "include" / "vindr.h").read_bytes()
    lib = sdk / "lib" / f"libvindr.so.{major}"
    dynamic = subprocess.run(["readelf", "-d", "-W", str(lib)], capture_output=True, text=True, check=True).stdout
    assert f"Library soname: [libvindr.so.{major}]" in dynamic
    assert "[$ORIGIN/vindr.libs]" in dynamic
    # Exports: vdr_* only, each under the symbol version VINDR_<major>.
    syms = subprocess.run(["readelf", "--dyn-syms", "-W", str(lib)], capture_output=True, text=True, check=True).stdout
    exported = [line.split()[7] for line in syms.splitlines()
                if len(line.split()) >= 8 and line.split()[4] in ("GLOBAL", "WEAK") and line.split()[6] not in ("UND", "ABS")]
    assert exported and all(re.fullmatch(rf"vdr_\w+@@VINDR_{major}", s) for s in exported), exported[:5]
    # No Foundation or ICU inside: the Swift runtime is the standard library, Dispatch and
    # FoundationEssentials only.
    symbols = subprocess.run(["nm", "-D", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "swift" not in dynamic.lower()
    assert not re.search(r"\$s10Foundation|ucol_open|u_strToUpper", symbols)
    # ldd: glibc, libstdc++, libgcc_s and files inside the artifact, nothing else.
    ldd = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, check=True).stdout
    for line in ldd.splitlines():
        name = os.path.basename(line.split()[0])
        target = line.split("=>")[1].split("(")[0].strip() if "=>" in line else ""
        assert ALLOWED_SYSTEM.match(name) or target.startswith(str(sdk)), line


def test_library_has_no_foundation_or_icu():
    """The in-tree library itself (not only the stripped copy) carries no Foundation or ICU code."""
    symbols = subprocess.run(["nm", str(LIBRARY)], capture_output=True, text=True, check=True).stdout
    assert "FoundationEssentials" in symbols  # linked statically, as intended
    assert not re.search(r"\$s10Foundation|FoundationInternationalization|_FoundationICU|ucol_open", symbols)


def test_wheel_runs_without_toolchain_gdcm_or_checkout(artifacts, job_inputs, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(artifacts["wheel"])], check=True,
                   capture_output=True)
    job = tmp_path / "job.py"
    job.write_text(JOB)
    hidden = {"swift": str(toolchain() / "usr" / "bin" / "swift"), "checkout": str(ROOT / "Package.swift")}
    shipped = run_hidden([py, str(job), json.dumps(job_inputs), str(tmp_path / "shipped.npz"), json.dumps(hidden)],
                         cwd=tmp_path, timeout=300)
    assert shipped.returncode == 0, shipped.stderr[-3000:]
    assert f"version {version()}" in shipped.stdout
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bindings" / "python"), "VINDR_LIBRARY": str(LIBRARY)}
    subprocess.run([sys.executable, str(job), json.dumps(job_inputs), str(tmp_path / "tree.npz"), "{}"], env=env,
                   cwd=tmp_path, check=True, capture_output=True, timeout=300)
    got, want = np.load(tmp_path / "shipped.npz"), np.load(tmp_path / "tree.npz")
    assert bytes(got["library"]).decode().startswith(str(venv))
    assert set(got.files) == set(want.files) and len(got.files) > 10
    for name in got.files:
        if name != "library":
            assert got[name].dtype == want[name].dtype and got[name].tobytes() == want[name].tobytes(), name


def test_sdk_runs_with_cmake_and_pkg_config_without_toolchain_or_gdcm(artifacts, job_inputs, tmp_path):
    with tarfile.open(artifacts["sdk"]) as tar:
        tar.extractall(tmp_path)
    sdk = tmp_path / f"vindr-sdk-{version()}-linux-x86_64"
    # C with pkg-config against the tarball; the same program against the in-tree build.
    env = {**os.environ, "PKG_CONFIG_PATH": str(sdk / "lib" / "pkgconfig")}
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "vindr"], env=env, capture_output=True, text=True,
                           check=True).stdout.split()
    c_sdk, c_tree = tmp_path / "render_pgm_sdk", tmp_path / "render_pgm_tree"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", str(ROOT / "examples/c/render_pgm.c"), "-o", str(c_sdk), *flags],
                   check=True)
    subprocess.run(["gcc", "-std=c99", str(ROOT / "examples/c/render_pgm.c"), "-o", str(c_tree), f"-I{ROOT}/include",
                    f"-L{LIBRARY.parent}", "-lvindr", f"-Wl,-rpath,{LIBRARY.parent}"], check=True)
    # C++ with CMake find_package against the tarball.
    src = tmp_path / "cmake-src"
    src.mkdir()
    shutil.copy(ROOT / "examples/cpp/loader_loop.cpp", src)
    (src / "CMakeLists.txt").write_text(f"""cmake_minimum_required(VERSION 3.16)
project(consumer CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(vindr {'.'.join(version().split('.')[:2])} REQUIRED)
add_executable(loader_loop loader_loop.cpp)
target_link_libraries(loader_loop PRIVATE vindr::vindr)
""")
    build = tmp_path / "cmake-build"
    subprocess.run(["cmake", "-S", str(src), "-B", str(build), f"-DCMAKE_PREFIX_PATH={sdk}"], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    cpp_tree = tmp_path / "loader_loop_tree"
    subprocess.run(["g++", "-std=c++17", str(ROOT / "examples/cpp/loader_loop.cpp"), "-o", str(cpp_tree),
                    f"-I{ROOT}/include", f"-I{ROOT}/bindings/cpp", f"-L{LIBRARY.parent}", "-lvindr",
                    f"-Wl,-rpath,{LIBRARY.parent}"], check=True)
    images = tmp_path / "images"
    images.mkdir()
    for key, path in job_inputs.items():
        shutil.copy(path, images / f"{key}.dcm")

    for key, path in sorted(job_inputs.items()):
        shipped = run_hidden([str(c_sdk), path, str(tmp_path / f"{key}-sdk.pgm")], timeout=120)
        assert shipped.returncode == 0, (key, shipped.stderr)
        subprocess.run([str(c_tree), path, str(tmp_path / f"{key}-tree.pgm")], check=True, capture_output=True)
        assert (tmp_path / f"{key}-sdk.pgm").read_bytes() == (tmp_path / f"{key}-tree.pgm").read_bytes(), key
    shipped = run_hidden([str(build / "loader_loop"), str(images)], timeout=300)
    assert shipped.returncode == 0, shipped.stderr
    tree = subprocess.run([str(cpp_tree), str(images)], check=True, capture_output=True, text=True)
    assert shipped.stdout == tree.stdout and "batches per epoch" in shipped.stdout
    # The hiding is real: the in-tree program cannot start in the same namespace.
    broken = run_hidden([str(c_tree), next(iter(job_inputs.values())), str(tmp_path / "x.pgm")], timeout=60)
    assert broken.returncode != 0
