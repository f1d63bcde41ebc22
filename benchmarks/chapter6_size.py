"""Which GPT size is best for chapter 6's main run, at its time budget?

    PYTHONPATH=. python benchmarks/chapter6_size.py                       # all sizes
    PYTHONPATH=. python benchmarks/chapter6_size.py --sizes 4x96 --reference-steps 1500

Chapter 6 trains a 4 × 128 GPT (context 128) for 1,500 steps of 32 × 128 characters,
about 640 s on one thread of this project's 2-core CPU, and reaches 1.626 nats/char on
the validation plays, behind the Kneser–Ney 7-gram's 1.512 (issue 16). This script
asks whether another size, trained with the same recipe (AdamW on `param_groups`,
warm-up then cosine decay to 0.1, clipping 1.0, peak lr 3e-3, batches of 32 × 128)
for the same time, does better. The time of a step of each size is measured first
(the median of 5 steps after 2 warm-up steps, one thread), and each size gets the steps
that take as long as chapter 6's 1,500 steps of 4 × 128: steps = 1,500 × t(4 × 128) /
t(size). A ratio of step times moves less with the machine's load than the times do,
and the steps are then fixed, so the result does not depend on what else runs while
the models train. The score is `nats_per_token` on the whole validation plays,
as chapter 6's leaderboard row.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

import lmbook
from lmbook import data
from lmbook.execute import cpu_name
from lmbook.text import Vocab, char_tokenize
from lmbook.training import RandomWindows, param_groups, train, warmup_cosine_schedule
from lmbook.transformer import GPT, GPTConfig


def config(name: str, vocab_size: int) -> GPTConfig:
    n_layer, n_embd = (int(x) for x in name.split("x"))
    n_head = 4 if n_embd % 4 == 0 else 2
    return GPTConfig(vocab_size, block_size=128, n_layer=n_layer, n_head=n_head, n_embd=n_embd)


def step_seconds(cfg: GPTConfig, train_ids: torch.Tensor) -> float:
    lmbook.seed(0)
    model = GPT(cfg)
    opt = torch.optim.AdamW(param_groups(model, 0.1), lr=3e-3, betas=(0.9, 0.95))
    batches = iter(RandomWindows(train_ids, batch_size=32, block_size=128, seed=0))
    times = []
    for _ in range(7):
        x, y = next(batches)
        start = time.perf_counter()
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["4x128", "4x96", "3x96", "2x128", "4x64"])
    parser.add_argument("--reference-steps", type=int, default=1500, help="steps of 4x128")
    parser.add_argument("--out", default="", help="append the results as JSON lines here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    train_text, valid_text = data.shakespeare("train"), data.shakespeare("validation")
    vocab = Vocab(char_tokenize(train_text))
    train_ids = torch.tensor(vocab.encode(char_tokenize(train_text)))
    valid_ids = torch.tensor(vocab.encode(char_tokenize(valid_text)))
    print(f"{cpu_name()}, 1 torch thread, torch {torch.__version__}")
    plans = {}
    for name in ["4x128"] + [s for s in args.sizes if s != "4x128"]:
        cfg = config(name, len(vocab))
        plans[name] = (cfg, step_seconds(cfg, train_ids))
        print(f"{name}: {GPT(cfg).num_params():,} parameters, {plans[name][1]:.3f} s/step")
    for name, (cfg, seconds) in plans.items():
        if name not in args.sizes:
            continue
        steps = round(args.reference_steps * plans["4x128"][1] / seconds)
        lmbook.seed(0)
        model = GPT(cfg)
        opt = torch.optim.AdamW(param_groups(model, 0.1), lr=3e-3, betas=(0.9, 0.95))
        start = time.perf_counter()
        train(
            model,
            RandomWindows(train_ids, batch_size=32, block_size=128, seed=0),
            opt,
            steps=steps,
            device="cpu",
            clip=1.0,
            scheduler=warmup_cosine_schedule(
                opt, warmup_steps=max(1, steps // 15), total_steps=steps
            ),
            progress=False,
        )
        wall = time.perf_counter() - start
        val = model.nats_per_token(valid_ids)
        row = {
            "size": name, "parameters": model.num_params(), "s/step (measured)": round(seconds, 4),
            "steps": steps, "characters read": steps * 32 * 128,
            "validation nats/char": round(val, 4),
            "wall s (this run)": round(wall), "cpu": cpu_name(),
        }  # fmt: skip
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    print("the Kneser–Ney 7-gram: 1.512 nats/char on the validation plays (chapter 1)")


if __name__ == "__main__":
    main()
