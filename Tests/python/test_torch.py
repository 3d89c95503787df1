"""PyTorch adapters; skipped where PyTorch is not installed (it is not in CI: its wheels carry
gigabytes of CUDA libraries)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import vindr  # noqa: E402
import vindr.torch as vt  # noqa: E402
from test_loader import lesion_set  # noqa: E402,F401  (fixture)


def test_detection_dataset_item(lesion_set):  # noqa: F811
    ds = vt.DetectionDataset(lesion_set, (128, 160))
    image, target = ds[2]
    assert image.shape == (3, 128, 160) and image.dtype == torch.float32
    ref, t = vindr.read_dicom(lesion_set[2].path).render(size=(128, 160), aspect="letterbox", dtype="float32",
                                                          return_transform=True)
    np.testing.assert_array_equal(image[0].numpy(), ref)
    np.testing.assert_allclose(target["boxes"].numpy(), t.apply(lesion_set[2].boxes), rtol=1e-6)


def test_loader_dataset_covers_an_epoch_across_workers(lesion_set):  # noqa: F811
    ds = vt.LoaderDataset(lesion_set, size=64, batch_size=4, seed=3, rank=0, world_size=1)
    dl = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
    ids = [t["image_id"] for _, targets in dl for t in targets]
    assert sorted(ids) == sorted(s.image_id for s in lesion_set)
