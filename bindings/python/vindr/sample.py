"""The built-in sample dataset: a synthetic VinDr-CXR in the PhysioNet layout, written by the
library (the same files as `vindr sample`), for trying everything without the real data.

    vindr.write_sample("sample/", train=16, test=4)
    ann = vindr.Annotations("sample/annotations/annotations_train.csv", "sample/annotations/image_labels_train.csv")
"""
from __future__ import annotations

import os

from ._checks import c_int, c_str
from ._lib import check, prototype

_write = prototype("vdr_sample_write")


def write_sample(directory: str | os.PathLike, train: int = 16, test: int = 4, size: int = 2048, seed: int = 1) -> None:
    """Writes `train` training and `test` test images (`size` rows, width 7/8 of it; 12-bit, some
    MONOCHROME1) under `directory`/train and /test, and annotations/{annotations,image_labels}_
    {train,test}.csv: three readers per training image, a consensus on test, obeying the
    labeling rules `vindr qc` checks. The same seed writes the same bytes."""
    check(_write(c_str("directory", directory), c_int("train", train, _write, 1), c_int("test", test, _write, 2),
                 c_int("size", size, _write, 3), c_int("seed", seed, _write, 4)))
