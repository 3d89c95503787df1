#!/usr/bin/env python3
"""Multi-process training with torchrun on a VinDr-CXR root (the real one, or `vindr sample`'s):
each process reads its own share of every epoch through `vindr.Loader(rank=, world_size=)` and
DistributedDataParallel averages the gradients of a tiny classifier of the 28 global labels
(CPU, gloo backend).

    torchrun --nproc_per_node=2 examples/python/train_ddp.py sample/ [--epochs 2] [--size 256]
        [--batch 4] [--drop-last] [--cache DIR] [--resume-epoch E --resume-step S] [--log-file FILE]

--cache DIR: rank 0 renders the images into DIR (vindr.build_cache; reused when already there)
    while the other ranks wait, then every rank reads from it.
--resume-epoch E --resume-step S: start at batch S of epoch E (a real job would also restore the
    model and optimizer from its checkpoint); later epochs start at batch 0.
--log-file FILE: each rank appends JSON lines: {"rank", "epoch", "step", "image_ids", "loss"} per batch,
    then {"rank", "cache_status"} and {"rank", "weights"} (the sum of the model's parameters).
"""
from __future__ import annotations

import argparse
import gc
import json
import pathlib
import sys

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bindings" / "python"))

import vindr  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=pathlib.Path)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--drop-last", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=pathlib.Path)
    ap.add_argument("--resume-epoch", type=int, default=0)
    ap.add_argument("--resume-step", type=int, default=0)
    ap.add_argument("--log-file", type=pathlib.Path)  # not --log: torchrun takes it for its own --log-* options
    args = ap.parse_args()

    dist.init_process_group("gloo")  # rank and world size from torchrun's environment
    rank, world = dist.get_rank(), dist.get_world_size()
    log = args.log_file.open("a", buffering=1) if args.log_file else None  # one write per line: ranks interleave lines only

    def record(**fields):
        if log:
            log.write(json.dumps({"rank": rank, **fields}) + "\n")

    annotations = args.root / "annotations"
    index = vindr.Annotations(annotations / "annotations_train.csv", annotations / "image_labels_train.csv")
    dataset = vindr.Dataset(args.root, index)
    if args.cache:
        if rank == 0:
            report = vindr.build_cache(dataset, args.cache, args.size)
            record(cache_built={"rendered": report.rendered, "reused": report.reused, "failed": report.failed})
        dist.barrier()
    loader = vindr.Loader(dataset, args.size, batch_size=args.batch, drop_last=args.drop_last, seed=args.seed,
                          rank=rank, world_size=world, cache=args.cache)
    record(cache_status=loader.cache_status)

    torch.manual_seed(args.seed)  # the same initial weights on every rank
    model = DistributedDataParallel(nn.Sequential(nn.Conv2d(1, 8, 5, stride=4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                                  nn.Flatten(), nn.Linear(8, 28)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(args.resume_epoch, args.epochs):
        loader.epoch = epoch
        loader.start_step = args.resume_step if epoch == args.resume_epoch else 0
        losses = []
        for batch in loader:
            images = torch.from_numpy(batch.images).float() / 255  # a copy: the batch memory is reused
            targets = torch.from_numpy(np.stack([t["global_labels"] for t in batch.targets]))
            loss = loss_fn(model(images), targets)
            optimizer.zero_grad()
            loss.backward()  # gradients are all-reduced across the ranks here
            optimizer.step()
            losses.append(loss.item())
            record(epoch=epoch, step=batch.step, image_ids=[t["image_id"] for t in batch.targets], loss=losses[-1])
        if rank == 0:
            print(f"epoch {epoch}: {len(losses)} of {len(loader)} batches per rank, mean loss {np.mean(losses or [np.nan]):.4f}")
    record(weights=sum(p.detach().double().sum().item() for p in model.parameters()))
    loader.close()
    # DDP's reducer holds the process group and sits in reference cycles: left to the interpreter's
    # exit, gloo's threads outlive Python and abort the process. Free both while Python is alive.
    del model, optimizer
    gc.collect()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
