"""Builds the `vindr` wheel around the native library: the checkout's release build
(../../.build/release/libVinDrC.so, made by scripts/build) or VINDR_LIBRARY, installed in the
package as libvindr.so.<major>. The version is the one scripts/gen_header.py wrote into
include/vindr.h. The wheel is tagged py3-none-<platform>: ctypes needs no CPython ABI, but the
library is native code; scripts/package then bundles its dependencies with auditwheel."""
import os
import pathlib
import re
import shutil

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py
try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = pathlib.Path(__file__).resolve().parent
HEADER = HERE.parents[1] / "include" / "vindr.h"


def version() -> tuple[int, int, int]:
    text = HEADER.read_text()
    return tuple(int(re.search(rf"#define VDR_VERSION_{k} (\d+)", text).group(1)) for k in ("MAJOR", "MINOR", "PATCH"))


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        source = pathlib.Path(os.environ.get("VINDR_LIBRARY", HERE.parents[1] / ".build" / "release" / "libVinDrC.so"))
        if not source.exists():
            raise SystemExit(f"{source} not found: run scripts/build first (or set VINDR_LIBRARY)")
        package = pathlib.Path(self.build_lib) / "vindr"
        package.mkdir(parents=True, exist_ok=True)
        for old in package.glob("libvindr.so.*"):
            old.unlink()
        shutil.copy2(source, package / f"libvindr.so.{version()[0]}")


class NativeDistribution(Distribution):
    """Carries native code (the library), so the wheel is not pure and installs as platlib."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """py3-none-<platform>: any Python 3, no CPython ABI, this machine's platform."""

    def get_tag(self):
        return "py3", "none", super().get_tag()[2]


setup(version="%d.%d.%d" % version(), distclass=NativeDistribution,
      cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel})
