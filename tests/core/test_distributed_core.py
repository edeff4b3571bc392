"""The distributed helpers: sharding covers every image once; gather restores rank order."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import given
from hypothesis import strategies as st

from ganaug.runtime import distributed
from ganaug.runtime.distributed import World


@given(st.integers(0, 500), st.integers(1, 9))
def test_shards_partition_the_range_in_order(n: int, size: int) -> None:
    shards = [World(rank, size).shard(n) for rank in range(size)]
    assert [i for shard in shards for i in shard] == list(range(n))
    assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1


def test_single_process_world_is_the_identity() -> None:
    world = distributed.world_from_env()
    x = torch.arange(5)
    assert world.is_main and not world.distributed
    assert world.gather(x) is x and world.broadcast("a") == "a" and world.all_ok(False) is False


def test_backend_by_device() -> None:
    assert distributed.backend_for(torch.device("cpu")) == "gloo"
    assert distributed.backend_for(torch.device("cuda", 0)) == "nccl"
    assert distributed.device_for(World(1, 2, 1), torch.device("cuda")) == torch.device("cuda", 1)
    assert distributed.device_for(World(1, 2, 1), torch.device("cpu")) == torch.device("cpu")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(rank: int, size: int, port: int, results: dict) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(size),
        LOCAL_RANK=str(rank),
    )
    world = distributed.world_from_env()
    distributed.init(world, torch.device("cpu"))
    try:
        shard = world.shard(7)
        local = torch.tensor(list(shard), dtype=torch.float32).unsqueeze(1) * 10
        gathered = world.gather(local)
        results[rank] = (
            gathered.squeeze(1).tolist(),
            world.broadcast(f"from-{rank}"),
            world.all_ok(rank != 1),
        )
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_processes_gather_and_broadcast() -> None:
    manager = mp.get_context("spawn").Manager()
    results = manager.dict()
    mp.spawn(_worker, args=(2, _free_port(), results), nprocs=2, join=True)
    for rank in (0, 1):
        gathered, broadcast, ok = results[rank]
        assert gathered == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
        assert broadcast == "from-0"
        assert ok is False  # rank 1 reported a failure: every rank sees it
