"""The README's main-job command, run as a new user would in this checkout (CI runs the suite in a
fresh clone): what it prints and writes."""
from __future__ import annotations

import pathlib
import re
import subprocess

import cv2

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_names_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "scripts/demo" in text and "scripts/test" in text
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_demo_runs_the_main_job_on_the_sample():
    out = subprocess.run([str(ROOT / "scripts" / "demo")], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "wrote 32 training and 8 test images" in text
    assert re.search(r"^Characteristics\s+Training set\s+Test set$", text, re.M), "Table 2 header"
    assert re.search(r"^  Number of scans\s+32\s+8$", text, re.M)
    assert re.search(r"^  28\. No finding \(%\)\s+\d+ \(\d+\.\d\d%\)\s+\d+ \(\d+\.\d\d%\)$", text, re.M)
    assert (ROOT / "sample" / "figure4.svg").read_text().count('class="bar"') == 56
    assert "rendered 32 images" in text
    epochs = re.findall(r"^epoch \d: 32 images, \d+ boxes in [\d.]+ s \(([\d.]+) images/s\)$", text, re.M)
    assert len(epochs) == 2 and all(float(e) > 0 for e in epochs)
    pngs = sorted((ROOT / "out").glob("*.png"))
    assert len(pngs) == 32
    assert cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED).shape == (1024, 896)
    assert len(list((ROOT / "sample" / "train").glob("*.dicom"))) == 32
