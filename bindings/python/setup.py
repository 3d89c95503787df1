"""Bundles the native library into the package: the checkout's release build
(../../.build/release/libVinDrC.so, made by scripts/build), or VINDR_LIBRARY."""
import os
import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        source = pathlib.Path(os.environ.get("VINDR_LIBRARY", HERE.parents[1] / ".build" / "release" / "libVinDrC.so"))
        if not source.exists():
            raise SystemExit(f"{source} not found: run scripts/build first (or set VINDR_LIBRARY)")
        target = pathlib.Path(self.build_lib) / "vindr" / "libVinDrC.so"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


setup(cmdclass={"build_py": BuildWithLibrary})
