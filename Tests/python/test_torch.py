"""PyTorch adapters with torchvision (both installed by scripts/setup): torchvision-native targets
from vindr.Dataset, label 0 kept for the background, v2 transforms that move and drop boxes,
set_epoch through persistent workers, and a detector that trains on the built-in sample."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision import tv_tensors
from torchvision.transforms import v2

import vindr
import vindr.torch as vt
from test_dataset import sample  # noqa: F401  (fixture: the built-in sample, 12 training images of 512 x 448)
from test_loader import lesion_set  # noqa: F401  (fixture)

SIZE = 256


def kaggle_dataset(sample, policy="fused"):  # noqa: F811
    ann = sample / "annotations"
    index = vindr.Annotations(ann / "annotations_train.csv", ann / "image_labels_train.csv")
    return vindr.Dataset(sample, index, policy=policy, classes="kaggle")


def test_detection_dataset_item(lesion_set):  # noqa: F811
    ds = vt.DetectionDataset(lesion_set, (128, 160))
    image, target = ds[2]
    assert image.shape == (3, 128, 160) and image.dtype == torch.float32
    ref, t = vindr.read_dicom(lesion_set[2].path).render(size=(128, 160), aspect="letterbox", dtype="float32",
                                                          return_transform=True)
    np.testing.assert_array_equal(image[0].numpy(), ref)
    np.testing.assert_allclose(target["boxes"].numpy(), t.apply(lesion_set[2].boxes), rtol=1e-6)
    # Label 0 is the background: class id c is label c + 1 (background=False keeps the ids).
    assert target["labels"].tolist() == [lesion_set[2].labels[0] + 1]
    assert vt.DetectionDataset(lesion_set, (128, 160), background=False)[2][1]["labels"].tolist() == [2]
    assert ds[-22][1]["image_id"] == "img02"
    with pytest.raises(IndexError):
        ds[24]


def test_from_vindr_dataset_torchvision_native(sample):  # noqa: F811
    dataset = kaggle_dataset(sample)
    ds = vt.DetectionDataset(dataset, SIZE)
    assert len(ds) == 12 and ds.num_classes == 15
    assert ds.label_names[0] == "__background__" and ds.label_names[1] == "Aortic enlargement"
    assert ds.label_names[1] == vindr.KAGGLE_CLASSES[0].name and len(ds.label_names) == 15
    reference = {t["image_id"]: (b.images[k], t) for b in vindr.Loader(dataset, SIZE, batch_size=3, shuffle=False,
                                                                        dtype="float32", channels=3, copy=True)
                 for k, t in enumerate(b.targets)}
    boxes_seen = 0
    for i in range(len(ds)):
        image, target = ds[i]
        assert type(image) is tv_tensors.Image and image.shape == (3, SIZE, SIZE) and image.stride(0) == 0  # one plane
        assert type(target["boxes"]) is tv_tensors.BoundingBoxes
        assert target["boxes"].format == tv_tensors.BoundingBoxFormat.XYXY
        assert tuple(target["boxes"].canvas_size) == (SIZE, SIZE)
        assert target["labels"].dtype == torch.int64
        ref_image, ref = reference[target["image_id"]]
        np.testing.assert_array_equal(image.numpy(), ref_image)
        np.testing.assert_array_equal(target["boxes"].numpy(), ref["boxes"])
        assert target["labels"].tolist() == (ref["labels"] + 1).tolist()
        np.testing.assert_array_equal(target["global_labels"].numpy(), ref["global_labels"])
        boxes_seen += len(target["boxes"])
    assert boxes_seen > 0
    # The taxonomy: 22 local findings + background.
    tax = vt.DetectionDataset(vindr.Dataset(sample, sample / "annotations" / "annotations_train.csv"), SIZE)
    assert tax.num_classes == 23 and tax.label_names[22] == vindr.LABELS[21].name


def test_decode_maps_predictions_back_to_classes(sample):  # noqa: F811
    ds = vt.DetectionDataset(kaggle_dataset(sample), SIZE)
    prediction = {"boxes": torch.zeros((2, 4)), "labels": torch.tensor([1, 15 - 1]), "scores": torch.tensor([0.9, 0.2])}
    out = ds.decode(prediction)
    assert out["class_ids"].tolist() == [0, 13]
    assert out["names"] == [vindr.KAGGLE_CLASSES[0].name, vindr.KAGGLE_CLASSES[13].name]
    assert out["scores"].tolist() == pytest.approx([0.9, 0.2])


def test_collate_fn_is_torchvision_detection_style(sample):  # noqa: F811
    ds = vt.DetectionDataset(kaggle_dataset(sample), SIZE)
    images, targets = next(iter(DataLoader(ds, batch_size=3, collate_fn=vt.collate_fn)))
    assert isinstance(images, list) and isinstance(targets, list) and len(images) == len(targets) == 3
    assert [t["image_id"] for t in targets] == [ds[i][1]["image_id"] for i in range(3)]


def test_v2_flip_moves_the_boxes(sample):  # noqa: F811
    plain = vt.DetectionDataset(kaggle_dataset(sample), SIZE)
    flipped = vt.DetectionDataset(kaggle_dataset(sample), SIZE, transforms=v2.RandomHorizontalFlip(p=1))
    moved = 0
    for i in range(len(plain)):
        (image, target), (fimage, ftarget) = plain[i], flipped[i]
        np.testing.assert_array_equal(fimage.numpy(), image.numpy()[:, :, ::-1])
        b, f = target["boxes"].numpy(), ftarget["boxes"].numpy()
        np.testing.assert_allclose(f[:, 0], SIZE - b[:, 2], atol=1e-4)
        np.testing.assert_allclose(f[:, 2], SIZE - b[:, 0], atol=1e-4)
        np.testing.assert_array_equal(f[:, [1, 3]], b[:, [1, 3]])
        assert ftarget["labels"].tolist() == target["labels"].tolist()
        moved += len(b)
    assert moved > 0


def test_crop_drops_boxes_with_their_labels(lesion_set):  # noqa: F811
    # Two boxes per image: the lesion's, and one in the bottom-right corner that the crop removes.
    samples = [vindr.Sample(s.image_id, s.path, boxes=np.vstack([s.boxes, [[200, 260, 235, 295]]]).astype(np.float32),
                            labels=np.array([s.labels[0], 2])) for s in lesion_set[:6]]
    crop = v2.Compose([v2.Lambda(lambda x: v2.functional.crop(x, 0, 0, 150, 100), tv_tensors.Image, tv_tensors.BoundingBoxes),
                       v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes()])
    plain = vt.DetectionDataset(samples, (300, 240), letterbox=False, background=False)
    ds = vt.DetectionDataset(samples, (300, 240), letterbox=False, background=False, transforms=crop)
    for i in range(len(ds)):
        image, target = ds[i]
        assert image.shape == (3, 150, 100) and tuple(target["boxes"].canvas_size) == (150, 100)
        full = plain[i][1]
        inside = (full["boxes"][:, 0] < 100 - 1) & (full["boxes"][:, 1] < 150 - 1)
        assert len(target["boxes"]) == len(target["labels"]) == int(inside.sum())
        assert target["labels"].tolist() == full["labels"][inside].tolist()
        assert 2 not in target["labels"].tolist() or samples[i].labels[0] == 2
    # RandomIoUCrop (always followed by SanitizeBoundingBoxes) keeps boxes and labels paired.
    torch.manual_seed(0)
    iou = vt.DetectionDataset(samples, (300, 240), letterbox=False,
                              transforms=v2.Compose([v2.RandomIoUCrop(), v2.SanitizeBoundingBoxes()]))
    for i in range(len(iou)):
        image, target = iou[i]
        assert len(target["boxes"]) == len(target["labels"]) >= 1
        assert tuple(target["boxes"].canvas_size) == tuple(image.shape[-2:])


def test_albumentations_style_callable(lesion_set):  # noqa: F811
    def hflip_drop_small(image, bboxes, labels):  # albumentations' calling convention
        w = image.shape[1]
        keep = [(b, l) for b, l in zip(bboxes, labels) if b[2] - b[0] >= 40]
        return {"image": image[:, ::-1], "bboxes": [(w - b[2], b[1], w - b[0], b[3]) for b, _ in keep],
                "labels": [l for _, l in keep]}

    plain = vt.DetectionDataset(lesion_set, (300, 240), letterbox=False)
    ds = vt.DetectionDataset(lesion_set, (300, 240), letterbox=False, transforms=vt.AlbumentationsAdapter(hflip_drop_small))
    for i in range(6):
        (image, target), (fimage, ftarget) = plain[i], ds[i]
        assert type(fimage) is tv_tensors.Image and fimage.shape == image.shape
        np.testing.assert_array_equal(fimage.numpy(), image.numpy()[:, :, ::-1])
        b = target["boxes"].numpy()
        big = (b[:, 2] - b[:, 0]) >= 40
        mirrored = np.stack([240 - b[big, 2], b[big, 1], 240 - b[big, 0], b[big, 3]], 1)
        np.testing.assert_allclose(ftarget["boxes"].numpy(), mirrored)
        assert ftarget["labels"].tolist() == target["labels"][torch.from_numpy(big)].tolist()


def test_loader_dataset_covers_an_epoch_across_workers(lesion_set):  # noqa: F811
    ds = vt.LoaderDataset(lesion_set, size=64, batch_size=4, seed=3, rank=0, world_size=1)
    dl = DataLoader(ds, batch_size=None, num_workers=2)
    ids = [t["image_id"] for _, targets in dl for t in targets]
    assert sorted(ids) == sorted(s.image_id for s in lesion_set)


def test_loader_dataset_takes_vindr_dataset_and_transforms(sample):  # noqa: F811
    dataset = kaggle_dataset(sample)
    ds = vt.LoaderDataset(dataset, size=SIZE, batch_size=3, dtype="float32", channels=3, shuffle=False, rank=0, world_size=1)
    assert ds.num_classes == 15
    images, targets = next(iter(ds))
    assert type(images) is tv_tensors.Image and images.shape == (3, 3, SIZE, SIZE)
    assert type(targets[0]["boxes"]) is tv_tensors.BoundingBoxes and tuple(targets[0]["boxes"].canvas_size) == (SIZE, SIZE)
    flipped = vt.LoaderDataset(dataset, size=SIZE, batch_size=3, dtype="float32", channels=3, shuffle=False, rank=0,
                               world_size=1, transforms=v2.RandomHorizontalFlip(p=1))
    fimages, ftargets = next(iter(flipped))
    assert isinstance(fimages, list) and len(fimages) == 3
    for k in range(3):
        np.testing.assert_array_equal(fimages[k].numpy(), images[k].numpy()[:, :, ::-1])
        b, f = targets[k]["boxes"].numpy(), ftargets[k]["boxes"].numpy()
        np.testing.assert_allclose(f[:, [2, 0]], SIZE - b[:, [0, 2]], atol=1e-4)
        assert ftargets[k]["labels"].tolist() == targets[k]["labels"].tolist()


def test_set_epoch_reaches_persistent_workers(lesion_set, sample):  # noqa: F811
    # The loader's shuffle: each epoch through persistent workers is that epoch's own order.
    ds = vt.LoaderDataset(lesion_set, size=32, batch_size=3, seed=4, rank=0, world_size=1)
    dl = DataLoader(ds, batch_size=None, num_workers=2, persistent_workers=True)
    orders = []
    for epoch in range(3):
        ds.set_epoch(epoch)
        orders.append([t["image_id"] for _, targets in dl for t in targets])
    assert len({tuple(o) for o in orders}) == 3
    for epoch, order in enumerate(orders):
        workers = []
        for w in range(2):  # what worker w of 2 yields (DataLoader interleaves them batch by batch)
            loader = vindr.Loader(lesion_set, 32, batch_size=3, seed=4, rank=w, world_size=2)
            loader.epoch = epoch
            workers.append([[t["image_id"] for t in b.targets] for b in loader])
        expected = [i for pair in zip(*workers) for ids in pair for i in ids]
        assert order == expected, epoch
    # policy="random": each epoch draws a reader per image in the workers as in the main process.
    det = vt.DetectionDataset(kaggle_dataset(sample, policy="random"), 64)
    dl = DataLoader(det, batch_size=4, num_workers=2, persistent_workers=True, collate_fn=vt.collate_fn)
    per_epoch = []
    for epoch in range(4):
        det.set_epoch(epoch)
        got = {t["image_id"]: t["boxes"].numpy().round(3).tolist() for _, targets in dl for t in targets}
        assert got == {det[i][1]["image_id"]: det[i][1]["boxes"].numpy().round(3).tolist() for i in range(len(det))}
        per_epoch.append(got)
    assert any(per_epoch[e] != per_epoch[0] for e in range(1, 4))


def test_a_detector_trains_on_the_sample(sample):  # noqa: F811
    """torchvision's Faster R-CNN from scratch through DataLoader(num_workers=2, persistent) with a
    random flip: finite losses that fall, and boxes that flip with their images."""
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_320_fpn

    torch.set_num_threads(1)
    torch.manual_seed(0)
    ds = vt.DetectionDataset(kaggle_dataset(sample), SIZE, transforms=v2.RandomHorizontalFlip(p=0.5))
    plain = {t["image_id"]: t for _, t in vt.DetectionDataset(kaggle_dataset(sample), SIZE)}
    # (fewer proposals and sampled boxes than the defaults: the same losses, a few times faster)
    model = fasterrcnn_mobilenet_v3_large_320_fpn(weights=None, weights_backbone=None, num_classes=ds.num_classes,
                                                  min_size=SIZE, max_size=SIZE, rpn_pre_nms_top_n_train=100,
                                                  rpn_post_nms_top_n_train=50, rpn_batch_size_per_image=32,
                                                  box_batch_size_per_image=32)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    dl = DataLoader(ds, batch_size=3, shuffle=True, num_workers=2, persistent_workers=True, collate_fn=vt.collate_fn,
                    generator=torch.Generator().manual_seed(0))
    losses, flipped, kept = [], 0, 0
    for epoch in range(2):
        ds.set_epoch(epoch)
        for images, targets in dl:
            for t in targets:
                b, ref = t["boxes"].numpy(), plain[t["image_id"]]["boxes"].numpy()
                assert t["labels"].tolist() == plain[t["image_id"]]["labels"].tolist()
                if len(b) and np.allclose(b, ref):
                    kept += 1
                elif len(b):
                    np.testing.assert_allclose(b[:, [2, 0]], SIZE - ref[:, [0, 2]], atol=1e-4)
                    flipped += 1
            loss_dict = model(images, targets)
            loss = sum(loss_dict.values())
            assert all(torch.isfinite(v) for v in loss_dict.values()), loss_dict
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    assert flipped > 0 and kept > 0
    assert len(losses) == 8
    assert np.mean(losses[-2:]) < 0.8 * np.mean(losses[:2]), losses
