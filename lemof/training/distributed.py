"""Training on several GPUs or machines with torch's own ``torchrun``.

``torchrun --standalone --nproc_per_node N -m lemof train …`` starts N processes with RANK,
WORLD_SIZE and LOCAL_RANK set. Each process trains a replica wrapped in
``DistributedDataParallel``; every global batch is split across the ranks (the same global
shuffle on every rank, each taking its share), so one step of N ranks equals one step of one
process on the whole batch, up to float reduction order, dropout draws and per-rank batch-norm
statistics. Validation losses are summed across ranks, so every rank stops at the same epoch.
Stage 2's per-stay Shapley values are computed on a shard of the stays per rank and gathered.
Rank 0 alone writes the run directory and the progress file; the run records ``world_size``.
Backend: NCCL on CUDA, gloo on CPU (used by the tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """This rank's device: its own GPU on CUDA."""
        return torch.device("cuda", self.local_rank) if device.type == "cuda" and self.active else device

    def shard(self, items: np.ndarray) -> np.ndarray:
        """This rank's share of ``items`` (every rank a contiguous, near-equal slice)."""
        return np.array_split(np.asarray(items), self.size)[self.rank] if self.active else np.asarray(items)

    def batch_share(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's part of a global batch of indices."""
        return batch[self.rank :: self.size] if self.active else batch

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        """Sum over ranks (in place on every rank)."""
        if self.active:
            torch.distributed.all_reduce(value)
        return value

    def gather_rows(self, part: np.ndarray, n_total: int) -> np.ndarray:
        """Concatenate every rank's ``shard`` result (in rank order) into the full (n_total, ...) array."""
        if not self.active:
            return part
        parts: list = [None] * self.size
        torch.distributed.all_gather_object(parts, part)
        out = np.concatenate(parts)
        assert len(out) == n_total
        return out

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()


_WORLD = World()


def world() -> World:
    return _WORLD


def init_from_env(device: torch.device) -> World:
    """Join the process group that ``torchrun`` set up (a no-op for a single process)."""
    global _WORLD
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        _WORLD = World()
        return _WORLD
    if not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group(backend=backend)
    _WORLD = World(rank=torch.distributed.get_rank(), size=size, local_rank=int(os.environ.get("LOCAL_RANK", "0")))
    return _WORLD

