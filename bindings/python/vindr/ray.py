"""Building the WebDataset cache shards with Ray Data, on one machine or a cluster.

    import vindr.ray
    vindr.ray.build_cache("vindr-cxr/", ["vindr-cxr/annotations/annotations_train.csv",
                          "vindr-cxr/annotations/image_labels_train.csv"], "cache512", 512, format="jpeg")

Ray schedules the shards; each is built by the native `vindr.build_cache` with `part=(k, n)`
(k the shard, n the number of shards), so the shard files are byte for byte the ones a single
`vindr.build_cache` writes, a rerun keeps every complete unchanged shard, and the images never
pass through Ray's object store. `vindr.merge_cache` then checks them and writes index.json.
This module needs the `ray[data]` package; `import vindr` does not import it.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

import ray
import ray.data

import vindr
from vindr.errors import raise_for_status

__all__ = ["build_cache"]


class _BuildShards:
    """A Ray Data actor: opens the dataset once (its handles cannot be pickled), then builds each
    shard number it is given with the native build on one thread."""

    def __init__(self, root, annotation_files, dataset_options: dict, directory, size, cache_options: dict, shards: int):
        self.dataset = vindr.Dataset(root, list(annotation_files), **dataset_options)
        self.directory, self.size, self.options, self.shards = directory, size, cache_options, shards

    def __call__(self, batch: dict) -> dict:
        rows = {"rendered": [], "reused": [], "failed": [], "status": [], "message": []}
        for k in batch["id"]:
            try:  # an error goes back as a row: Ray would wrap the exception and lose its type
                r, status, message = vindr.build_cache(self.dataset, self.directory, self.size, workers=1,
                                                       part=(int(k), self.shards), **self.options), 0, ""
            except vindr.VinDrError as e:
                r, status, message = vindr.CacheReport(0, 0, 0), e.status, e.message
            for field, value in (("rendered", r.rendered), ("reused", r.reused), ("failed", r.failed), ("status", status),
                                 ("message", message)):
                rows[field].append(value)
        return {k: np.array(v, object if k == "message" else np.int64) for k, v in rows.items()}


def build_cache(root: str | os.PathLike, annotation_files: str | os.PathLike | Sequence[str | os.PathLike],
                directory: str | os.PathLike, size: int | tuple[int, int] = 512, *, format: str = "jpeg", quality: int = 90,
                letterbox: bool = True, pad: float = 0.0, window: str = "dicom", decode: str = "exact",
                shard_size: int = 1000, concurrency: int | None = None, **dataset_options) -> vindr.CacheReport:
    """Writes the shards of `vindr.Dataset(root, annotation_files, **dataset_options)` rendered at
    `size` into `directory`, as `vindr.build_cache` with the same arguments does, with Ray Data:
    shard numbers -> `map_batches` on `concurrency` actors of one CPU each (default and at most:
    the Ray cluster's CPUs), each building its shards natively -> `vindr.merge_cache`. Returns
    the summed CacheReport (complete unchanged shards count as reused).

    Uses the running Ray context when there is one (`ray.init(address=...)` on a cluster), else
    starts a local one and shuts it down at the end. On a cluster, `root`, the annotation files and
    `directory` must be paths every node sees (shared storage), and vindr must be installed on
    every node."""
    files = [annotation_files] if isinstance(annotation_files, (str, os.PathLike)) else list(annotation_files)
    root, files, directory = os.path.abspath(root), [os.path.abspath(f) for f in files], os.path.abspath(directory)
    count = len(vindr.Dataset(root, files, **dataset_options))  # checks the arguments here, not in the actors
    if not isinstance(shard_size, int) or shard_size < 1:
        raise vindr.InvalidArgumentError(f"shard_size must be a positive integer, got {shard_size!r}")
    shards = -(-count // shard_size)
    cache_options = dict(format=format, quality=quality, letterbox=letterbox, pad=pad, window=window, decode=decode,
                         shard_size=shard_size)
    started = not ray.is_initialized()
    if started:  # local workers import this same vindr package
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(vindr.__file__)))
        path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
        ray.init(runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        actors = min(concurrency or cpus, cpus, max(shards, 1))  # an actor beyond the CPUs would wait forever
        # from_items: the shard numbers start in the object store, so no read task competes with
        # the actors for CPUs and a pool of fixed size (all actors from the start) cannot deadlock.
        rows = (ray.data.from_items([{"id": k} for k in range(shards)])
                .map_batches(_BuildShards, batch_size=1, batch_format="numpy", num_cpus=1,
                             compute=ray.data.ActorPoolStrategy(size=actors),
                             fn_constructor_args=(root, files, dataset_options, directory, size, cache_options, shards))
                .take_all())
    finally:
        if started:
            ray.shutdown()
    for r in rows:
        if r["status"]:
            raise_for_status(int(r["status"]), str(r["message"]))
    vindr.merge_cache(directory)
    return vindr.CacheReport(*(sum(int(r[f]) for r in rows) for f in ("rendered", "reused", "failed")))
