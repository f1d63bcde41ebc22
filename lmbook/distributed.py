"""Data parallelism: several processes, one model each, gradients averaged by all-reduce.

Introduced in chapter 9. Each process (a *rank*) holds a full replica of the model, reads
its own shard of every batch, computes its gradients, and an **all-reduce** averages the
gradients across the ranks, so every replica takes the same optimiser step and the
replicas stay identical. `torch.nn.parallel.DistributedDataParallel` (DDP) does the
all-reduce for you, in buckets, while the backward pass is still running.

A script that trains with DDP is started by `torchrun`, once per process; torchrun sets
the environment variables RANK, LOCAL_RANK and WORLD_SIZE (and the address where the
ranks meet) that `setup` reads. The script reuses the book's one loop::

    rank, world_size, device = setup()                                  # doctest: +SKIP
    model = DistributedDataParallel(GPT(config).to(device))            # doctest: +SKIP
    batches = ShardedBatches(dataset, batch_size=16, rank=rank,
                             world_size=world_size, seed=0)             # doctest: +SKIP
    train(model, batches, optimizer, steps=100, device=device,
          progress=is_main_process())                                  # doctest: +SKIP
    save_on_main(model.module.state_dict(), "gpt.pt")                   # doctest: +SKIP
    cleanup()                                                           # doctest: +SKIP

and a notebook (or a test) starts it with `launch("script.py", nproc=2)`. On a CPU the
ranks talk through the gloo backend over the loopback interface; on a machine with two
or more CUDA GPUs `setup` picks NCCL and gives each rank its own GPU.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from lmbook.validate import (
    check_choice,
    check_file,
    check_gpu_for_rank,
    check_int,
    check_module,
    check_path,
    check_process_group,
    check_str_sequence,
    check_torchrun_env,
)

# Bytes per parameter for mixed-precision training with Adam (Rajbhandari et al., 2020):
# 16-bit weights and 16-bit gradients, then a 32-bit master copy of the weights and
# Adam's two 32-bit moments (the optimiser state, K = 12).
BYTES_WEIGHTS, BYTES_GRADIENTS, BYTES_OPTIMIZER = 2, 2, 12


def ranks_from_env(environ: Mapping[str, str] | None = None) -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from torchrun's variables (default: os.environ).

    >>> ranks_from_env({"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"})
    (1, 1, 2)
    """
    env = os.environ if environ is None else environ
    check_torchrun_env(env)
    return int(env["RANK"]), int(env["LOCAL_RANK"]), int(env["WORLD_SIZE"])


def choose_backend() -> str:
    """'nccl' with at least 2 CUDA GPUs (one per rank), else 'gloo' (CPU tensors)."""
    if torch.cuda.is_available() and torch.cuda.device_count() >= 2:
        return "nccl"
    return "gloo"


def setup(backend: str | None = None) -> tuple[int, int, torch.device]:
    """Join the process group torchrun started: return (rank, world_size, device).

    backend None picks with `choose_backend`. With NCCL, rank r computes on GPU
    LOCAL_RANK; with gloo, on the CPU.
    """
    rank, local_rank, world_size = ranks_from_env()
    backend = choose_backend() if backend is None else backend
    check_choice("backend", backend, ("gloo", "nccl"))
    if backend == "nccl":
        check_gpu_for_rank(local_rank)
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    dist.init_process_group(backend, rank=rank, world_size=world_size)
    return rank, world_size, device


def cleanup() -> None:
    """Leave the process group (every rank calls it at the end of the script)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def is_main_process() -> bool:
    """True on rank 0, and in a program that is not distributed at all."""
    return not dist.is_initialized() or dist.get_rank() == 0


def print_in_turn(*args: Any) -> None:
    """print(*args) on every rank in turn, rank 0 first (a barrier between turns)."""
    if not dist.is_initialized():
        print(*args, flush=True)
        return
    for turn in range(dist.get_world_size()):
        if dist.get_rank() == turn:
            print(f"[rank {turn}]", *args, flush=True)
        dist.barrier()  # the next rank waits until this one has printed


def average_gradients(model: nn.Module) -> None:
    """Replace every gradient by its average over the ranks: what DDP does, by hand.

    One all-reduce per parameter (DDP packs them into buckets and overlaps them with the
    backward pass); after it, every rank holds the same gradients.
    """
    check_module("model", model)
    check_process_group()
    world_size = dist.get_world_size()
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)  # every rank gets the sum
            p.grad /= world_size  # the sum of the ranks' mean losses, made a mean


def shard_indices(
    n: int,
    rank: int,
    world_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    drop_last: bool = False,
) -> list[int]:
    """The indices rank `rank` reads in `epoch`: DistributedSampler's, written out.

    Shuffle 0 … n-1 with a generator seeded by seed + epoch (the same on every rank),
    pad by repeating the first indices (or, with drop_last, cut) to a multiple of
    world_size, then deal them out like cards: rank r takes positions r, r + world_size,
    r + 2 world_size, …::

        >>> [shard_indices(10, r, 3, shuffle=False) for r in range(3)]
        [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    """
    check_int("world_size", world_size)
    check_int("rank", rank, low=0, high=world_size - 1)
    check_int("epoch", epoch, low=0)
    least = world_size if drop_last else 1
    check_int("n", n, low=least, why="drop_last leaves no example")
    if shuffle:
        generator = torch.Generator().manual_seed(seed + epoch)
        order = torch.randperm(n, generator=generator).tolist()
    else:
        order = list(range(n))
    # ceil(n / world_size) without floats, unless drop_last cuts
    per_rank = n // world_size if drop_last else -(-n // world_size)
    total = per_rank * world_size
    while len(order) < total:  # pad: some examples are read twice in this epoch
        order += order[: total - len(order)]
    return order[:total][rank::world_size]


class ShardedBatches:
    """Re-iterable batches of one rank's shard of a dataset; each pass is a new epoch.

    A `DataLoader` over a `DistributedSampler`: the ranks read disjoint shards of a
    shuffled order that is the same on every rank. Each new pass calls
    `sampler.set_epoch` with the pass number, so every epoch is shuffled anew (the step
    that `train`, which only re-iterates its batches, would otherwise leave out).
    Incomplete last batches are dropped (by the sampler and the loader), so every
    step's global batch is exactly world_size × batch_size examples, none repeated.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        rank: int,
        world_size: int,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        check_int("world_size", world_size)
        check_int("rank", rank, low=0, high=world_size - 1)
        per_rank = len(dataset) // world_size
        why = f"{len(dataset)} examples over {world_size} ranks leave {per_rank} per rank"
        check_int("batch_size", batch_size, high=per_rank, why=why)
        self.sampler = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=True
        )
        self.loader = DataLoader(dataset, batch_size, sampler=self.sampler, drop_last=True)
        self.epoch = 0  # the epoch the next pass reads

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        self.sampler.set_epoch(self.epoch)  # a new shuffle, the same on every rank
        self.epoch += 1
        return iter(self.loader)


def save_on_main(obj: Any, path: str | Path) -> bool:
    """Rank 0 saves obj to path, then all ranks wait at a barrier; True where it wrote.

    One writer, because the replicas hold the same weights and two processes writing one
    file can corrupt it; the barrier, because no rank may read the file (or exit and
    end the job) before it is complete.
    """
    check_path("path", path)
    path = Path(path)
    wrote = is_main_process()
    if wrote:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        torch.save(obj, temporary)
        os.replace(temporary, path)  # whole or not at all
    if dist.is_initialized():
        dist.barrier()
    return wrote


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the operating system picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(
    script: str | Path,
    args: Sequence[str] = (),
    *,
    nproc: int = 2,
    threads: int = 1,
    timeout: float = 600.0,
) -> str:
    """Run `script` in nproc processes with torchrun here; return what they printed.

    The ranks meet at 127.0.0.1 on a free port (no network needed), each with `threads`
    intra-op threads. A failed run raises RuntimeError with the ranks' stderr.
    """
    check_file("script", script)
    check_int("nproc", nproc)
    check_int("threads", threads)
    check_str_sequence("args", args)
    command = [
        sys.executable,  # the same Python (and lmbook) as this one, also on Colab
        "-m",
        "torch.distributed.run",  # what the torchrun command runs
        "--nnodes=1",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",  # loopback: the ranks meet on this machine
        f"--master_port={free_port()}",
        str(script),
        *args,
    ]
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        raise RuntimeError(
            f"torchrun exited with {result.returncode}; the ranks' output:\n"
            f"{result.stdout[-3000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result.stdout


def bytes_per_device(n_params: int, n_devices: int, stage: int) -> float:
    """Bytes of model state per device for mixed-precision Adam under ZeRO stage 0 … 3.

    Stage 0 is plain data parallelism: every device holds 2 + 2 + 12 = 16 bytes per
    parameter. ZeRO shards over the n_devices the optimiser state (stage 1), then also
    the gradients (stage 2), then also the weights (stage 3, what FSDP does).
    Activations and buffers come on top. Rajbhandari et al. (2020)'s example, 7.5B
    parameters on 64 GPUs, in GB::

        >>> [round(bytes_per_device(7_500_000_000, 64, s) / 1e9, 2) for s in range(4)]
        [120.0, 31.41, 16.64, 1.88]
    """
    check_int("n_params", n_params)
    check_int("n_devices", n_devices)
    check_int("stage", stage, low=0, high=3, why="0 is plain DDP, 1 to 3 ZeRO's")
    shard = 1 / n_devices  # the share of a sharded part each device keeps
    weights = BYTES_WEIGHTS * (shard if stage >= 3 else 1)
    grads = BYTES_GRADIENTS * (shard if stage >= 2 else 1)
    optimizer_state = BYTES_OPTIMIZER * (shard if stage >= 1 else 1)
    return n_params * (weights + grads + optimizer_state)
