#!/usr/bin/env python3
"""Copies the license of every library that `auditwheel repair` bundled, plus the Swift runtime's
(linked in statically) and the SDK's own, into one folder, with BUNDLED.txt listing each bundled
file, the Debian package it came from and that package's version.

    python3 scripts/bundled_licenses.py LIBS_DIR OUT_DIR

LIBS_DIR is the repaired wheel's vindr.libs/ (files named <soname stem>-<hash>.so.N by auditwheel).
"""
import pathlib
import re
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SYSTEM_DIRS = [pathlib.Path("/usr/lib/x86_64-linux-gnu"), pathlib.Path("/lib/x86_64-linux-gnu")]
SWIFT_LICENSE = pathlib.Path("/opt/swift/usr/share/swift/LICENSE.txt")


def package_of(path: pathlib.Path) -> str:
    """The Debian package that installed `path` (dpkg -S), without the architecture."""
    real = path.resolve()
    # usrmerge: dpkg may have registered the file under /lib or under /usr/lib
    for candidate in (path, real, pathlib.Path(str(real).replace("/usr/lib/", "/lib/", 1))):
        out = subprocess.run(["dpkg", "-S", str(candidate)], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.split(":", 1)[0].strip()
    sys.exit(f"bundled_licenses: no Debian package owns {path}")


def main() -> int:
    libs, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for lib in sorted(libs.iterdir()):
        soname = re.sub(r"-[0-9a-f]{8}(?=\.so)", "", lib.name)
        system = next((d / soname for d in SYSTEM_DIRS if (d / soname).exists()), None)
        if system is None:
            sys.exit(f"bundled_licenses: {lib.name}: {soname} is not a system library")
        pkg = package_of(system)
        version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True,
                                 check=True).stdout
        shutil.copy(pathlib.Path("/usr/share/doc") / pkg / "copyright", out / f"{pkg}.copyright")
        rows.append(f"{lib.name}\t{soname}\t{pkg}\t{version}")
    shutil.copy(SWIFT_LICENSE, out / "swift-runtime.LICENSE.txt")
    shutil.copy(ROOT / "LICENSE", out / "vindr.LICENSE")
    (out / "BUNDLED.txt").write_text(
        "# Libraries inside this package: file, soname, Debian package, version. The Swift runtime\n"
        "# (libswiftCore, Dispatch, FoundationEssentials) is linked into libvindr statically.\n"
        + "\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
