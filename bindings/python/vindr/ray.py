"""Building the WebDataset cache shards with Ray Data, on one machine or a cluster.

    import vindr.ray
    vindr.ray.build_cache("vindr-cxr/", ["vindr-cxr/annotations/annotations_train.csv",
                          "vindr-cxr/annotations/image_labels_train.csv"], "cache512", 512, format="jpeg")

The shards are the ones `vindr.build_cache` writes (the same shard names, the same members in
the same order with the same bytes), indexed by `vindr.merge_cache`, so
`Loader(..., cache=directory)` reads them.
This module needs the `ray[data]` package; `import vindr` does not import it.
"""
from __future__ import annotations

import io
import json
import os
import tarfile
from typing import Sequence

import numpy as np

import ray
import ray.data

import vindr

__all__ = ["build_cache"]


class _Render:
    """A Ray Data actor: opens the dataset once (its handles cannot be pickled) and turns a batch
    of sample indices into the shard members of those samples."""

    def __init__(self, root, annotation_files, dataset_options: dict, size, member_options: dict, shard_size: int):
        self.dataset = vindr.Dataset(root, list(annotation_files), **dataset_options)
        self.size, self.options, self.shard_size = size, member_options, shard_size

    def __call__(self, batch: dict) -> dict:
        rows = {"shard": [], "index": [], "key": [], "extension": [], "image": [], "json": [], "failed": []}
        for i in (int(i) for i in batch["id"]):
            try:
                m = vindr.cache_sample(self.dataset, i, self.size, **self.options)
                values = (m.key, m.extension, m.image, m.json, "")
            except vindr.VinDrError as e:  # left out of its shard, as vindr.build_cache does
                values = ("", "", b"", b"", str(e) or type(e).__name__)
            for column, value in zip(rows, (i // self.shard_size, i) + values):
                rows[column].append(value)
        return {k: np.array(v, np.int64 if k in ("shard", "index") else object) for k, v in rows.items()}


def _add(tar: tarfile.TarFile, name: str, data: bytes, modified: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, modified
    tar.addfile(info, io.BytesIO(data))


def _write_shard(group: dict, directory: str) -> dict:
    """Writes one shard's rows, in dataset order, as shard-k.tar.partial, then renames it."""
    shard = int(group["shard"][0])
    final = os.path.join(directory, f"shard-{shard:05d}.tar")
    partial = final + ".partial"
    written = 0
    with tarfile.open(partial, "w", format=tarfile.USTAR_FORMAT) as tar:
        for i in np.argsort(group["index"], kind="stable"):
            if group["failed"][i]:
                continue
            key, record = str(group["key"][i]), bytes(group["json"][i])
            modified = int(json.loads(record).get("source_mtime", 0))  # the tar time native shards carry
            _add(tar, f"{key}.{group['extension'][i]}", bytes(group["image"][i]), modified)
            _add(tar, f"{key}.json", record, modified)
            written += 1
    os.replace(partial, final)
    failed = [f"{int(group['index'][i])}: {group['failed'][i]}" for i in range(len(group["index"])) if group["failed"][i]]
    return {"shard": np.array([shard], np.int64), "samples": np.array([len(group["index"])], np.int64),
            "written": np.array([written], np.int64), "failed": np.array(["\n".join(failed)], object)}


def _remove_stale(directory: str, shards: int) -> None:
    """Removes index.json, part manifests, partial shards and shards past the plan."""
    for name in os.listdir(directory):
        stem = name[:-len(".partial")] if name.endswith(".partial") else name
        number = stem[len("shard-"):-len(".tar")] if stem.startswith("shard-") and stem.endswith(".tar") else ""
        if (name == "index.json" or (name.startswith("part-") and name.endswith(".json")) or name != stem
                or (number.isdigit() and int(number) >= shards)):
            os.remove(os.path.join(directory, name))


def _existing_settings(directory: str) -> dict | None:
    """The settings of a cache already in `directory`: its index, a part manifest or a record."""
    names = sorted(os.listdir(directory))
    for name in ["index.json"] + [n for n in names if n.startswith("part-") and n.endswith(".json")]:
        if name in names:
            with open(os.path.join(directory, name), "rb") as f:
                return json.load(f).get("settings")
    for name in (n for n in names if n.startswith("shard-") and n.endswith(".tar")):
        with tarfile.open(os.path.join(directory, name)) as tar:
            for m in tar:
                if m.isfile() and m.name.endswith(".json"):
                    return json.load(tar.extractfile(m)).get("settings")
    return None


def build_cache(root: str | os.PathLike, annotation_files: str | os.PathLike | Sequence[str | os.PathLike],
                directory: str | os.PathLike, size: int | tuple[int, int] = 512, *,
                policy: str = "fused", iou_thr: float = 0.4, min_readers: int = 2, reader: str | None = None,
                classes: str = "taxonomy", exclude: Sequence[str] = (), global_min_votes: int = 2,
                missing: str = "error", format: str = "jpeg", quality: int = 90, letterbox: bool = True,
                pad: float = 0.0, window: str = "dicom", decode: str = "exact", shard_size: int = 1000,
                batch_size: int = 16, concurrency: int | None = None):
    """Writes the shards of `vindr.Dataset(root, annotation_files, policy=..., ...)` rendered at
    `size` into `directory`, as `vindr.build_cache` with the same arguments does, using Ray Data:
    sample indices -> render actors (`batch_size` samples per call, up to `concurrency` actors,
    default one per CPU of the Ray cluster) -> rows grouped by shard -> one writer per shard
    (shard-k.tar.partial, renamed when complete) -> `vindr.merge_cache(directory)`. Returns a
    CacheReport (rendered, reused = 0: every shard is written anew, failed: samples that could not
    be rendered, left out of their shard as `vindr.build_cache` leaves them).

    Uses the running Ray context when there is one (`ray.init(address=...)` on a cluster); else
    starts a local one and shuts it down at the end. On a cluster, `root`, the annotation files and
    `directory` must be paths every node sees (shared storage), and vindr must be installed on
    every node. The rendered members pass through Ray's object store (spilled to disk when it is
    full) before their shard is written."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    files = [annotation_files] if isinstance(annotation_files, (str, os.PathLike)) else list(annotation_files)
    root, files, directory = os.path.abspath(root), [os.path.abspath(f) for f in files], os.path.abspath(directory)
    dataset_options = dict(policy=policy, iou_thr=iou_thr, min_readers=min_readers, reader=reader, classes=classes,
                           exclude=tuple(exclude), global_min_votes=global_min_votes, missing=missing)
    member_options = dict(format=format, quality=quality, letterbox=letterbox, pad=pad, window=window, decode=decode)
    dataset = vindr.Dataset(root, files, **dataset_options)  # also checks the arguments here, not in the actors
    count = len(dataset)
    shards = -(-count // shard_size)
    os.makedirs(directory, exist_ok=True)
    try:  # as the native build, refuse a directory built with other settings
        settings = json.loads(vindr.cache_sample(dataset, 0, size, **member_options).json)["settings"] if count else None
    except vindr.InvalidArgumentError:
        raise
    except vindr.VinDrError:  # sample 0 does not render: its shard leaves it out
        settings = None
    if settings is not None:
        old = _existing_settings(directory)
        if old is not None and old != settings:
            raise vindr.VinDrIOError(f"{directory}: a cache built with other settings ({old}); "
                                     f"use another directory for these settings ({settings})")
    _remove_stale(directory, shards)
    if count == 0:
        return vindr.merge_cache(directory)  # raises: nothing to index, as vindr.build_cache does
    started = not ray.is_initialized()
    if started:  # local workers import this same vindr package
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(vindr.__file__)))
        path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
        ray.init(runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        actors = concurrency or max(1, int(ray.cluster_resources().get("CPU", 1)))
        written = (ray.data.range(count)
                   .map_batches(_Render, batch_size=batch_size, batch_format="numpy",
                                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors),
                                fn_constructor_args=(root, files, dataset_options, size, member_options, shard_size))
                   .groupby("shard", num_partitions=max(1, min(shards, actors)))
                   .map_groups(_write_shard, batch_format="numpy", fn_kwargs={"directory": directory})
                   .take_all())
    finally:
        if started:
            ray.shutdown()
    done, samples = sorted(int(r["shard"]) for r in written), sum(int(r["samples"]) for r in written)
    if done != list(range(shards)) or samples != count:
        raise RuntimeError(f"Ray wrote shards {done} with {samples} samples; expected shards 0..{shards - 1} with {count}")
    vindr.merge_cache(directory)
    failures = [line for r in written for line in str(r["failed"]).split("\n") if line]
    return vindr.CacheReport(sum(int(r["written"]) for r in written), 0, len(failures))
