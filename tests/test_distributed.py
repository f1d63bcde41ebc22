"""Tests of lmbook.distributed: two real gloo processes train exactly like one process on
batches twice as large, only rank 0 writes a checkpoint, the manual all-reduce equals DDP's,
the shards equal DistributedSampler's, the ZeRO memory formula matches the paper, and bad
inputs fail clearly."""

import json

import pytest
import torch
from torch.utils.data import DistributedSampler

from lmbook.distributed import (
    ShardedBatches,
    bytes_per_device,
    is_main_process,
    launch,
    ranks_from_env,
    save_on_main,
    shard_indices,
)

# Started by torchrun twice (2 ranks): trains a float64 GPT with DDP for 10 steps (over an
# epoch boundary, so set_epoch matters) with SGD and AdamW; rank 0 also trains the same
# model alone on batches twice as large and writes the largest weight difference.
SCRIPT = """
import json, sys
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import TensorDataset

from lmbook.distributed import (
    ShardedBatches, average_gradients, cleanup, is_main_process, save_on_main, setup,
)
from lmbook.training import train
from lmbook.transformer import GPT, GPTConfig

out = Path(sys.argv[1])
rank, world_size, device = setup("gloo")
torch.set_default_dtype(torch.float64)
config = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16)
data = torch.randint(11, (64, 9), generator=torch.Generator().manual_seed(0))
dataset = TensorDataset(data[:, :-1], data[:, 1:])
B, steps, result = 4, 10, {}


def run(optimizer_name, model, batch_size, rank, world_size):
    optimizer = (
        torch.optim.SGD(model.parameters(), lr=0.5)
        if optimizer_name == "sgd"
        else torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    )
    batches = ShardedBatches(dataset, batch_size, rank=rank, world_size=world_size, seed=1)
    train(model, batches, optimizer, steps=steps, device=device, clip=1.0, progress=False)


for name in ("sgd", "adamw"):
    torch.manual_seed(0)
    ddp = DistributedDataParallel(GPT(config))
    run(name, ddp, B, rank, world_size)
    if is_main_process():
        torch.manual_seed(0)
        alone = GPT(config)
        run(name, alone, world_size * B, 0, 1)
        result[name] = max(
            (a - b).abs().max().item()
            for a, b in zip(ddp.module.parameters(), alone.parameters())
        )

# the manual all-reduce gives the gradients DDP gives
torch.manual_seed(0)
plain, wrapped = GPT(config), DistributedDataParallel(GPT(config))
wrapped.module.load_state_dict(plain.state_dict())
inputs, targets = dataset[rank * B : (rank + 1) * B]  # a different batch on each rank
plain(inputs, targets)[1].backward()
average_gradients(plain)
wrapped(inputs, targets)[1].backward()
result["manual_vs_ddp"] = max(
    (a.grad - b.grad).abs().max().item()
    for a, b in zip(plain.parameters(), wrapped.module.parameters())
)
result["wrote"] = save_on_main(wrapped.module.state_dict(), out / "model.pt")
result["file_complete_after_barrier"] = (out / "model.pt").exists()
(out / f"rank{rank}.json").write_text(json.dumps(result))
cleanup()
"""


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    script = folder / "ddp_check.py"
    script.write_text(SCRIPT)
    launch(script, [str(folder)], nproc=2, timeout=120)
    return folder, [json.loads((folder / f"rank{r}.json").read_text()) for r in range(2)]


def test_two_processes_train_like_one_process_on_twice_the_batch(two_ranks):
    _, (rank0, _) = two_ranks
    assert rank0["sgd"] < 1e-12
    assert rank0["adamw"] < 1e-12


def test_average_gradients_equals_ddp(two_ranks):
    _, ranks = two_ranks
    assert all(r["manual_vs_ddp"] < 1e-14 for r in ranks)


def test_only_rank_0_writes_and_the_file_is_complete_after_the_barrier(two_ranks):
    folder, ranks = two_ranks
    assert [r["wrote"] for r in ranks] == [True, False]
    assert all(r["file_complete_after_barrier"] for r in ranks)
    state = torch.load(folder / "model.pt", weights_only=True)
    assert state["tok_emb.weight"].dtype == torch.float64
    assert not list(folder.glob("*.tmp"))


def test_launch_raises_with_the_ranks_stderr(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("import os, sys\nsys.exit('rank ' + os.environ['RANK'] + ' gives up')\n")
    with pytest.raises(RuntimeError, match="gives up"):
        launch(script, nproc=1, timeout=60)


def test_launch_rejects_bad_inputs(tmp_path):
    script = tmp_path / "ok.py"
    script.write_text("")
    with pytest.raises(ValueError, match="not a file"):
        launch(tmp_path / "missing.py")
    with pytest.raises(ValueError, match="nproc must be an int >= 1"):
        launch(script, nproc=0)
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        launch(script, threads=0)
    with pytest.raises(TypeError, match="sequence of str"):
        launch(script, "--flag")


@pytest.mark.parametrize(
    ("n", "world_size", "shuffle", "drop_last", "epoch"),
    [
        (10, 3, False, False, 0),
        (10, 3, True, False, 2),
        (10, 3, True, True, 1),
        (2, 5, True, False, 0),
        (12, 4, True, True, 0),
        (7, 1, True, False, 3),
    ],
)
def test_shard_indices_equal_distributed_sampler(n, world_size, shuffle, drop_last, epoch):
    shards = []
    for rank in range(world_size):
        sampler = DistributedSampler(
            range(n),
            num_replicas=world_size,
            rank=rank,
            shuffle=shuffle,
            seed=5,
            drop_last=drop_last,
        )
        sampler.set_epoch(epoch)
        mine = shard_indices(
            n, rank, world_size, shuffle=shuffle, seed=5, epoch=epoch, drop_last=drop_last
        )
        assert mine == list(sampler)
        shards.append(mine)
    if drop_last or n % world_size == 0:  # no padding: disjoint shards
        flat = [i for s in shards for i in s]
        assert len(flat) == len(set(flat))


def test_set_epoch_reshuffles_and_sharded_batches_call_it():
    assert shard_indices(20, 0, 2, epoch=0) != shard_indices(20, 0, 2, epoch=1)
    dataset = torch.utils.data.TensorDataset(torch.arange(20))
    batches = ShardedBatches(dataset, 5, rank=1, world_size=2, seed=3)
    first, second = [torch.cat([b[0] for b in batches]).tolist() for _ in range(2)]
    assert first == shard_indices(20, 1, 2, seed=3, epoch=0)
    assert second == shard_indices(20, 1, 2, seed=3, epoch=1)
    assert len(batches) == 2


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"RANK": "0", "WORLD_SIZE": "2"}, "LOCAL_RANK not set"),
        ({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "0"}, "WORLD_SIZE must be >= 1"),
        ({"RANK": "2", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}, r"RANK must be in 0 … 1"),
        ({"RANK": "-1", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}, r"RANK must be in 0 … 1"),
        ({"RANK": "x", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}, "RANK must be an integer"),
        ({"RANK": "0", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}, "LOCAL_RANK must be in"),
    ],
)
def test_ranks_from_env_rejects_bad_values(environ, message):
    with pytest.raises(ValueError, match=message):
        ranks_from_env(environ)


def test_ranks_from_env_reads_torchrun_variables():
    assert ranks_from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"}) == (3, 1, 4)


def test_shard_and_batch_inputs_are_checked():
    with pytest.raises(ValueError, match="world_size must be an int >= 1"):
        shard_indices(10, 0, 0)
    with pytest.raises(ValueError, match="n must be an int >= 3, got 2: drop_last leaves no"):
        shard_indices(2, 0, 3, drop_last=True)
    with pytest.raises(ValueError, match=r"rank must be an int in \[0, 1\], got"):
        shard_indices(10, 2, 2)
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        shard_indices(10, 0, 2, epoch=-1)
    dataset = torch.utils.data.TensorDataset(torch.arange(6))
    with pytest.raises(
        ValueError, match="batch_size must be an int in .*examples over .* ranks leave"
    ):
        ShardedBatches(dataset, 4, rank=0, world_size=2)
    with pytest.raises(ValueError, match=r"rank must be an int in \[0, 1\], got"):
        ShardedBatches(dataset, 1, rank=3, world_size=2)


def test_save_on_main_without_a_process_group(tmp_path):
    assert is_main_process()
    assert save_on_main({"w": torch.ones(2)}, tmp_path / "sub" / "x.pt") is True
    assert torch.equal(torch.load(tmp_path / "sub" / "x.pt")["w"], torch.ones(2))
    with pytest.raises(TypeError, match="path must be a str or a Path"):
        save_on_main({}, 3)


def test_bytes_per_device_matches_the_zero_paper():
    # Rajbhandari et al. (2020), Figure 1: 7.5B parameters, N_d = 64, K = 12
    gb = [bytes_per_device(7_500_000_000, 64, stage) / 1e9 for stage in range(4)]
    assert gb == pytest.approx([120, 31.40625, 16.640625, 1.875])
    assert bytes_per_device(1000, 1, 3) == bytes_per_device(1000, 1, 0) == 16_000
    with pytest.raises(
        ValueError, match=r"stage must be an int in \[0, 3\], got .*: 0 is plain DDP, 1 to 3 ZeRO"
    ):
        bytes_per_device(10, 2, 4)
    with pytest.raises(ValueError, match="n_devices must be an int >= 1"):
        bytes_per_device(10, 0, 1)
