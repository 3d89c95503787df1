"""Inputs that once crashed a libFuzzer target (Tests/fuzz-regressions/TARGET/*), each run in a
child process through the target's own code path: the fuzz binary (scripts/fuzz, ASan) given a
file runs the target on it once and fails on any crash or sanitizer report. DICOM inputs also go
through the Python package in a child process."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
REGRESSIONS = ROOT / "Tests" / "fuzz-regressions"
KNOWN = ROOT / "Tests" / "fuzz-known-crashes"


def cases(root: pathlib.Path) -> list[tuple[str, pathlib.Path]]:
    return sorted((d.name, f) for d in root.iterdir() if d.is_dir() for f in d.iterdir() if f.is_file()) \
        if root.is_dir() else []


CASES = cases(REGRESSIONS)
KNOWN_CASES = cases(KNOWN)


@pytest.fixture(scope="session")
def fuzz_binaries() -> pathlib.Path:
    """Builds the targets that have regressions (incremental: scripts/sanitize built them)."""
    targets = sorted({t for t, _ in CASES + KNOWN_CASES})
    subprocess.run([str(ROOT / "scripts" / "fuzz"), "--build", *targets], cwd=ROOT, check=True,
                   capture_output=True, timeout=1800)
    return ROOT / ".build-fuzz" / "bin"


@pytest.mark.parametrize("target,path", CASES, ids=[f"{t}/{p.name}" for t, p in CASES])
def test_fuzz_regression_input_runs_cleanly(target, path, fuzz_binaries):
    replay(fuzz_binaries / target, path)


@pytest.mark.xfail(strict=True, reason="known crash, not fixed yet (Tests/fuzz-known-crashes/README.md)")
@pytest.mark.parametrize("target,path", KNOWN_CASES, ids=[f"{t}/{p.name}" for t, p in KNOWN_CASES])
def test_known_fuzz_crash_still_crashes(target, path, fuzz_binaries):
    replay(fuzz_binaries / target, path)


def replay(binary: pathlib.Path, path: pathlib.Path) -> None:
    """Runs one input as scripts/fuzz does (decode budget 1 GiB); fails on a crash, a sanitizer
    report or a peak RSS over 2 GB (libFuzzer does not enforce -rss_limit_mb when it runs a single
    file)."""
    with subprocess.Popen([str(binary), "-timeout=120", str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, env={**os.environ, "SWIFT_BACKTRACE": "enable=no", "VINDR_DECODE_BUDGET": str(1 << 30),
                               "LSAN_OPTIONS": f"suppressions={ROOT / 'Fuzz' / 'lsan.supp'}"}) as proc:
        stderr = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, stderr[-4000:]
    assert usage.ru_maxrss < 2 << 20, f"peak RSS {usage.ru_maxrss >> 10} MB"


DICOM_CASES = [p for t, p in CASES if t in ("dicom", "deid")]


@pytest.mark.parametrize("path", DICOM_CASES, ids=[p.name for p in DICOM_CASES])
def test_fuzz_regression_dicom_through_the_python_package(path):
    """The same files opened, decoded and rendered through the Python package (the C ABI) in a
    child process: an error is fine, a dead process is not."""
    code = (
        "import sys, vindr\n"
        "try:\n"
        "    im = vindr.read_dicom(open(sys.argv[1], 'rb').read())\n"
        "    im.pixels()\n"
        "    im.render(size=64)\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "bindings" / "python")})
    assert out.returncode == 0, out.stderr[-4000:]


@pytest.mark.parametrize("profile", ["vindr", "basic"])
def test_a_uid_of_binary_vr_fails_its_file_naming_the_tag(profile, tmp_path):
    """(0002,0003) written as UV: GDCM's StringFilter asserted on it (the deid fuzz target), and a
    UID the basic profile could not read used to be kept as it was. Now the file fails, its error
    naming the tag, and nothing is written; checked in a child process since the old code aborted."""
    code = (
        "import json, sys, vindr\n"
        "r = vindr.deidentify(sys.argv[1], sys.argv[2], profile=sys.argv[3], salt='s')\n"
        "print(json.dumps([r.failed, r.written, r.files[0]['error']]))\n"
    )
    src = REGRESSIONS / "deid" / "meta-sop-instance-uid-of-vr-uv.dcm"
    out = subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "out"), profile], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT / "bindings" / "python")})
    assert out.returncode == 0, out.stderr[-4000:]
    failed, written, error = json.loads(out.stdout.splitlines()[-1])
    assert (failed, written) == (1, 0)
    assert "(0002,0003) has VR UV, which is not read as text" in error and src.name in error
    assert not any(p.is_file() for p in (tmp_path / "out").rglob("*"))
