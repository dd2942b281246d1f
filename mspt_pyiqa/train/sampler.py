"""A distributed, resumable sampler: the order depends only on (seed, epoch), not on history."""
from __future__ import annotations

import math
from typing import Iterator

import torch
from torch.utils.data import Sampler


class ResumableSampler(Sampler[int]):
    """Seeded per-epoch permutation, padded to a multiple of ``world_size`` and sharded by rank.

    ``set_epoch(epoch, skip_batches)`` restarts inside an epoch: the first
    ``skip_batches * batch_size`` indices of this rank's shard are skipped, so a resumed run
    sees exactly the samples an uninterrupted one would.
    """

    def __init__(self, length: int, batch_size: int, world_size: int = 1, rank: int = 0, seed: int = 0, shuffle: bool = True) -> None:
        self.length, self.batch_size = length, batch_size
        self.world_size, self.rank, self.seed, self.shuffle = world_size, rank, seed, shuffle
        self.per_rank = math.ceil(length / world_size)
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip = epoch, skip_batches

    def batches_per_epoch(self) -> int:
        """Full batches per rank and epoch (the loader drops the last partial batch)."""
        return self.per_rank // self.batch_size

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed * 100003 + self.epoch)
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        order += order[: self.per_rank * self.world_size - self.length]  # pad so every rank gets as many
        shard = order[self.rank :: self.world_size]
        return iter(shard[self.skip * self.batch_size :])

    def __len__(self) -> int:
        return max(0, self.per_rank - self.skip * self.batch_size)
