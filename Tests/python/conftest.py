"""Makes the in-tree `vindr` package (bindings/python) importable for the Python tests."""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bindings" / "python"))
