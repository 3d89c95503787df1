#!/usr/bin/env python3
"""Cold start of the shipped wheel against pydicom, side by side in one run.

    python3 benchmarks/bench_import.py [--rounds 15] [--wheel dist/vindr-*.whl]

Installs the wheel (default: the one scripts/package left in dist/) into a temporary venv that
sees this interpreter's site-packages (numpy, pydicom), then alternates fresh interpreters that
run `import vindr` and `import pydicom`, and reports the median wall time of the import and the
process's peak RSS (ru_maxrss), each also above a bare interpreter's, with the ratios. Also prints
the sizes of the wheel, the installed native library and what the wheel bundles.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
PROBE = """
import resource, sys, time, json
t = time.perf_counter()
if sys.argv[1]:
    __import__(sys.argv[1])
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def measure(python: str, module: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VINDR_LIBRARY")}
    out = subprocess.run([python, "-c", PROBE, module], capture_output=True, text=True, check=True, env=env, cwd="/")
    return json.loads(out.stdout)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--wheel", default=None)
    args = ap.parse_args()
    wheels = [args.wheel] if args.wheel else glob.glob(str(ROOT / "dist" / "vindr-*-manylinux_*.whl"))
    if len(wheels) != 1:
        sys.exit("bench_import: run scripts/package first (or pass --wheel)")
    wheel = pathlib.Path(wheels[0])
    with tempfile.TemporaryDirectory() as tmp:
        venv = pathlib.Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
        python = str(venv / "bin" / "python")
        subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
        site = pathlib.Path(subprocess.run([python, "-c", "import vindr, os; print(os.path.dirname(vindr.__file__))"],
                                           capture_output=True, text=True, check=True).stdout.strip())
        samples: dict[str, list[dict]] = {"": [], "vindr": [], "pydicom": []}
        for module in samples:  # warm the page cache once
            measure(python, module)
        for _ in range(args.rounds):
            for module in samples:
                samples[module].append(measure(python, module))
        med = {m: {k: statistics.median(s[k] for s in v) for k in ("seconds", "rss_kib")} for m, v in samples.items()}
        base = med[""]
        print(f"wheel {wheel.name}: {wheel.stat().st_size / 2**20:.1f} MiB")
        lib = next(site.glob("libvindr.so.*"))
        libs = site.parent / "vindr.libs"
        bundled = sum(p.stat().st_size for p in libs.iterdir())
        print(f"installed: {lib.name} {lib.stat().st_size / 2**20:.1f} MiB, vindr.libs/ {bundled / 2**20:.1f} MiB "
              f"({len(list(libs.iterdir()))} files)")
        print(f"{'import':<10}{'time ms':>10}{'above bare':>12}{'peak RSS MiB':>15}{'above bare':>12}   ({args.rounds} rounds, medians)")
        for m in ("", "vindr", "pydicom"):
            r = med[m]
            print(f"{m or '(bare)':<10}{r['seconds'] * 1e3:>10.1f}{(r['seconds'] - base['seconds']) * 1e3:>12.1f}"
                  f"{r['rss_kib'] / 1024:>15.1f}{(r['rss_kib'] - base['rss_kib']) / 1024:>12.1f}")
        v, p = med["vindr"], med["pydicom"]
        print(f"ratio vindr/pydicom: time {v['seconds'] / p['seconds']:.2f}x, peak RSS {v['rss_kib'] / p['rss_kib']:.2f}x "
              f"(above bare: {(v['rss_kib'] - base['rss_kib']) / max(p['rss_kib'] - base['rss_kib'], 1):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
