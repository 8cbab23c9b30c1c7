"""IndexBatchLoader: every row once per epoch, equal step counts across DDP ranks, seeded order."""
from __future__ import annotations

import pytest
import torch

from privib.data.loader import IndexBatchLoader


def _rows(loader: IndexBatchLoader) -> list[int]:
    return [int(v) for (batch,) in loader for v in batch]


@pytest.mark.parametrize("n_rows,batch_size,world", [(1000, 64, 1), (1001, 64, 2), (24129, 256, 2), (129, 64, 2), (10, 3, 3)])
def test_each_row_once_per_epoch_across_ranks(n_rows, batch_size, world):
    data = (torch.arange(n_rows),)
    loaders = [IndexBatchLoader(data, batch_size, shuffle=True, seed=1, rank=r, world_size=world) for r in range(world)]
    seen = [_rows(loader) for loader in loaders]
    assert sorted(v for rank in seen for v in rank) == list(range(n_rows))
    steps = [sum(1 for _ in IndexBatchLoader(data, batch_size, shuffle=True, seed=1, rank=r, world_size=world)) for r in range(world)]
    assert len(set(steps)) == 1 and steps[0] == len(loaders[0])
    assert all(len(batch) <= batch_size for (batch,) in loaders[0])


def test_order_depends_on_seed_and_epoch_only():
    data = (torch.arange(100),)
    epoch = {"value": 0}
    loader = IndexBatchLoader(data, 10, shuffle=True, seed=5, epoch_fn=lambda: epoch["value"])
    first = _rows(loader)
    assert _rows(loader) == first
    epoch["value"] = 1
    assert _rows(loader) != first
    assert sorted(_rows(loader)) == list(range(100))


def test_sequential_evaluation_slices_in_order():
    data = (torch.arange(10), torch.arange(10) * 2)
    batches = list(IndexBatchLoader(data, 4))
    assert [b[0].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[1][1].tolist() == [8, 10, 12, 14]


def test_datamodule_shards_by_trainer_rank(adult_datamodule):
    class _Trainer:
        current_epoch = 0

        def __init__(self, rank: int) -> None:
            self.global_rank, self.world_size = rank, 2

    dm = adult_datamodule
    n_train = len(dm.splits["train"])
    indexed = torch.arange(n_train)
    shards = []
    for rank in range(2):
        dm.trainer = _Trainer(rank)
        loader = dm.train_dataloader()
        shards.append(loader.shard_indices(0))
    dm.trainer = None
    assert sorted(torch.cat(shards).tolist()) == indexed.tolist()
