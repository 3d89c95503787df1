"""examples/python/train_ddp.py under torchrun with two CPU processes (gloo): how the ranks share
each epoch, resuming mid-epoch, a cache built by rank 0, and gradients averaged across ranks."""
from __future__ import annotations

import json
import math
import os
import pathlib
import socket
import subprocess
import sys

import pytest

import vindr

pytest.importorskip("torch.distributed")

ROOT = pathlib.Path(__file__).resolve().parents[2]
WORLD = 2


def write_sample(directory: pathlib.Path, train: int) -> list[str]:
    """The built-in sample with `train` training images; returns their image ids."""
    vindr.write_sample(directory, train=train, test=0, size=256, seed=5)
    return sorted(p.stem for p in (directory / "train").glob("*.dicom"))


@pytest.fixture(scope="module")
def even(tmp_path_factory):
    d = tmp_path_factory.mktemp("even")
    return d, write_sample(d, 10)


@pytest.fixture(scope="module")
def odd(tmp_path_factory):
    d = tmp_path_factory.mktemp("odd")
    return d, write_sample(d, 11)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(root, log, *args) -> list[dict]:
    """Runs the example on two processes; returns its log's records."""
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={WORLD}", f"--master_port={free_port()}",
           str(ROOT / "examples/python/train_ddp.py"), str(root), "--size", "128", "--log-file", str(log), *map(str, args)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return [json.loads(line) for line in log.read_text().splitlines()]


def batches(records, epoch) -> dict[int, list[tuple[int, list[str]]]]:
    """{rank: [(step, image ids)]} of `epoch`, in step order."""
    out: dict[int, list] = {r: [] for r in range(WORLD)}
    for r in records:
        if r.get("epoch") == epoch:
            out[r["rank"]].append((r["step"], r["image_ids"]))
    return {rank: sorted(b) for rank, b in out.items()}


def check_epoch(per_rank, ids, batch, drop_last):
    """The DistributedSampler division: the epoch's order padded to a multiple of the world size by
    repeating its start, rank r taking positions r, r + world, ...; then batches per rank."""
    n = len(ids)
    share = -(-n // WORLD)
    steps = share // batch if drop_last else -(-share // batch)
    served = steps * batch if drop_last else share
    for rank in range(WORLD):
        assert [s for s, _ in per_rank[rank]] == list(range(steps)), rank
        assert [len(i) for _, i in per_rank[rank]] == [min(batch, served - s * batch) for s in range(steps)], rank
    flat = {rank: [i for _, b in per_rank[rank] for i in b] for rank in range(WORLD)}
    order = [flat[p % WORLD][p // WORLD] for p in range(served * WORLD)]  # the epoch's order, interleaved back
    distinct = min(len(order), n)
    assert len(set(order[:distinct])) == distinct and set(order) <= set(ids)
    if not drop_last:
        assert sorted(order[:n]) == ids  # every image once ...
        assert order[n:] == order[:len(order) - n]  # ... then the padding repeats the start
    return flat


@pytest.fixture(scope="module")
def full_run(even, tmp_path_factory):
    root, _ = even
    return torchrun(root, tmp_path_factory.mktemp("full") / "log.jsonl", "--epochs", 2, "--batch", 2, "--seed", 7)


def test_ranks_split_every_epoch_and_share_the_gradients(even, full_run):
    _, ids = even
    orders = []
    for epoch in range(2):
        flat = check_epoch(batches(full_run, epoch), ids, batch=2, drop_last=False)
        assert not set(flat[0]) & set(flat[1])  # 10 images, 2 ranks: no padding, disjoint halves
        assert sorted(flat[0] + flat[1]) == ids
        orders.append(flat)
    assert orders[0] != orders[1]  # shuffled anew each epoch
    losses = [r["loss"] for r in full_run if "loss" in r]
    assert len(losses) == 2 * 2 * 3 and all(math.isfinite(x) for x in losses)
    weights = {r["rank"]: r["weights"] for r in full_run if "weights" in r}
    # Different images on each rank yet the same weights: DDP averaged the gradients.
    assert len(weights) == WORLD and weights[0] == weights[1] and math.isfinite(weights[0])
    assert {r["cache_status"] for r in full_run if "cache_status" in r} == {""}


def test_resume_mid_epoch_replays_the_rest_of_the_epoch(even, full_run, tmp_path):
    root, _ = even
    resumed = torchrun(root, tmp_path / "log.jsonl", "--epochs", 2, "--batch", 2, "--seed", 7,
                       "--resume-epoch", 1, "--resume-step", 1)
    assert batches(resumed, 0) == {r: [] for r in range(WORLD)}
    whole = batches(full_run, 1)
    for rank, rest in batches(resumed, 1).items():
        assert rest == whole[rank][1:] and len(rest) == 2
    assert all(math.isfinite(r["loss"]) for r in resumed if "loss" in r)


def test_drop_last_drops_each_ranks_partial_batch(even, tmp_path):
    root, ids = even
    records = torchrun(root, tmp_path / "log.jsonl", "--epochs", 1, "--batch", 3, "--drop-last")
    flat = check_epoch(batches(records, 0), ids, batch=3, drop_last=True)
    assert [len(flat[r]) for r in range(WORLD)] == [3, 3]


def test_rank_0_builds_the_cache_and_both_ranks_read_it(odd, tmp_path):
    root, ids = odd
    cache = tmp_path / "cache"
    records = torchrun(root, tmp_path / "log.jsonl", "--epochs", 1, "--batch", 4, "--cache", cache)
    built = [r for r in records if "cache_built" in r]
    assert [(r["rank"], r["cache_built"]) for r in built] == [(0, {"rendered": len(ids), "reused": 0, "failed": 0})]
    status = {r["rank"]: r["cache_status"] for r in records if "cache_status" in r}
    assert status == {r: f"using cache {cache}: {len(ids)} of {len(ids)} images cached (jpeg)" for r in range(WORLD)}
    # 11 images: each rank gets 6, the padding repeating the epoch's first image on rank 1.
    flat = check_epoch(batches(records, 0), ids, batch=4, drop_last=False)
    assert flat[1][-1] == flat[0][0]
    again = torchrun(root, tmp_path / "again.jsonl", "--epochs", 1, "--batch", 4, "--cache", cache)
    assert [r["cache_built"] for r in again if "cache_built" in r] == [{"rendered": 0, "reused": len(ids), "failed": 0}]
