"""Characters or subwords? Two GPTs of one shape, the same compute, scored per character.

    PYTHONPATH=. python benchmarks/subword.py                  # 2 × 300 s of training
    PYTHONPATH=. python benchmarks/subword.py --budget 20 --val-chars 20000   # a quick check
    PYTHONPATH=. python benchmarks/subword.py --book --arms subwords --checkpoints ckpt

`--book` sets the book's GPT's shape and recipe (`lmbook.pretrain.Recipe`: 6 layers × 160,
5 heads, context 256, batch 32, peak rate 2e-3, 4,000 steps, 200 warm-up steps); its
character arm is then the book's GPT itself (the same code path, seed and data), so
`--arms subwords` trains only the subword model and sets it beside the book's GPT's
recorded validation score. `--checkpoints DIR` saves each arm every 100 steps and resumes
from there (a run of hours may span several sittings, at any thread count).

Both models are chapter 6's GPT at one shape (default: 4 layers, 4 heads, width 128,
context 128, batch 32) trained with chapter 6's recipe (AdamW on `param_groups`,
warm-up and cosine decay, clipping) on the training plays, one after the other, for the
same number of steps: as many as the character model takes in `--budget` seconds. The
only change is the tokenizer: characters (chapter 1's vocabulary), or `lmbook.bpe.BPE`
trained on the training plays to `--vocab` tokens. Per step both read B × T tokens, and
their operations per token differ only by the output layer's size (printed), so equal
steps are equal compute up to that difference.

Scored on the validation plays in **nats per character**, the one unit fair across
tokenizers: the sum of -ln p over every token of the text, each predicted from its
window (`GPT.nats_per_token`, windows sliding by half a context), divided by the number
of characters those tokens spell. A subword model's context of 128 tokens covers more
characters than the character model's 128; that is part of what a tokenizer buys, and
the script prints both.

Target (issue 16): use for the book's GPT whichever tokenizer wins at the same compute.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict
from pathlib import Path

import torch

import lmbook
from lmbook import data
from lmbook.bpe import BPE
from lmbook.execute import cpu_name
from lmbook.pretrain import Recipe, book_gpt_record, load_book_gpt
from lmbook.text import Vocab, char_tokenize
from lmbook.training import RandomWindows, param_groups, train, warmup_cosine_schedule
from lmbook.transformer import GPT, GPTConfig


def fit(ids: torch.Tensor, vocab_size: int, args, steps: int | None, label: str):
    """Train one GPT; with steps None, train for args.budget seconds. -> (model, steps, s).

    With args.checkpoints, the run saves a checkpoint every 100 steps and resumes from
    it; its fingerprint (arm, vocabulary size, steps, every argument) refuses another run's.
    """
    lmbook.seed(0)
    config = GPTConfig(vocab_size, args.block, args.layers, args.heads, args.width)
    model = GPT(config)
    if steps is None:  # measure the step time, then size the cosine to the budget
        probe = GPT(config)
        optimizer = torch.optim.AdamW(probe.parameters(), lr=1e-3)
        batches = iter(RandomWindows(ids, args.batch, args.block, seed=1))
        for i in range(12):
            if i == 2:
                start = time.perf_counter()
            _, loss = probe(*next(batches))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        steps = max(20, int(args.budget / ((time.perf_counter() - start) / 10)))
    optimizer = torch.optim.AdamW(param_groups(model, 0.1), lr=args.lr, betas=(0.9, 0.95))
    schedule = warmup_cosine_schedule(
        optimizer, warmup_steps=max(1, steps // 20), total_steps=steps
    )
    history = train(
        model,
        RandomWindows(ids, args.batch, args.block, seed=0),
        optimizer,
        steps=steps,
        device="cpu",
        clip=1.0,
        scheduler=schedule,
        progress=False,
        log_every=max(1, steps // 20),
        **saving(args, label, vocab_size, steps),
    )
    seconds = history[-1]["seconds"]  # over every sitting, when resumed
    print(f"  {label}: {steps} steps in {seconds:.0f} s", flush=True)
    return model, steps, seconds


def saving(args, label: str, vocab_size: int, steps: int) -> dict:
    """train's checkpoint arguments for one arm (none without args.checkpoints)."""
    if not args.checkpoints:
        return {}
    folder = Path(args.checkpoints)
    folder.mkdir(parents=True, exist_ok=True)
    fingerprint = {"arm": label, "vocab_size": vocab_size, "steps": steps}
    unused = {"checkpoints", "out", "arms", "val_chars"}  # they change no weight
    fingerprint["args"] = {k: v for k, v in vars(args).items() if k not in unused}
    return {
        "checkpoint": folder / f"{label.replace(' ', '_')}.ckpt",
        "checkpoint_every": 100,
        "resume": True,
        "fingerprint": fingerprint,
    }


def book_arguments(args) -> None:
    """Set args to the book's GPT's shape and recipe (lmbook.pretrain.Recipe)."""
    r = Recipe()
    args.layers, args.heads, args.width = r.n_layer, r.n_head, r.n_embd
    args.block, args.batch, args.lr, args.steps = r.block_size, r.batch_size, r.peak_lr, r.steps
    # the recipe's other settings are fit's: weight decay, betas, clipping, no dropout,
    # the decay to a tenth, and steps // 20 warm-up steps (200 of 4,000, the recipe's)
    assert (r.weight_decay, r.betas, r.clip, r.dropout, r.min_ratio, r.seed) == (
        0.1, (0.9, 0.95), 1.0, 0.0, 0.1, 0,
    ) and r.warmup_steps == r.steps // 20, "the book's recipe changed: update fit"  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=300.0, help="seconds, char model")
    parser.add_argument("--vocab", type=int, default=512)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--val-chars", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="fixed steps (no --budget)")
    parser.add_argument("--book", action="store_true", help="the book's GPT's recipe")
    parser.add_argument("--arms", nargs="+", default=["characters", "subwords"])
    parser.add_argument("--checkpoints", default="", help="save and resume here")
    parser.add_argument("--out", default="", help="append the rows as JSON lines here")
    args = parser.parse_args()
    if args.book:
        book_arguments(args)
    print(
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, lmbook {lmbook.__version__}"
    )
    train_text, valid_text = data.shakespeare("train"), data.shakespeare("validation")
    valid_text = valid_text[: args.val_chars]

    chars = Vocab(char_tokenize(train_text))
    char_train = torch.tensor(chars.encode(char_tokenize(train_text)))
    char_valid = torch.tensor(chars.encode(char_tokenize(valid_text)))
    start = time.perf_counter()
    bpe = BPE.train(train_text, args.vocab)
    bpe_seconds = time.perf_counter() - start
    sub_train = torch.tensor(bpe.encode(train_text))
    sub_valid = torch.tensor(bpe.encode(valid_text))
    per_token = len(valid_text) / len(sub_valid)
    print(
        f"BPE: {len(bpe)} tokens, trained in {bpe_seconds:.0f} s; "
        f"{per_token:.2f} characters per token on the validation plays"
    )

    check_arms(args)
    rows = []  # (tokenizer, vocabulary, params, ops/token, context chars, s, nats/char)
    steps = args.steps
    if "characters" in args.arms:
        char_model, steps, char_s = fit(char_train, len(chars), args, steps, "characters")
        char_nats = char_model.nats_per_token(char_valid)  # one token per character
        rows.append(("characters", len(chars), char_model, args.block, char_s, char_nats))
    if "subwords" in args.arms:
        sub_model, _, sub_s = fit(sub_train, len(bpe), args, steps, f"BPE {len(bpe)}")
        # nats per character: the total nats of the text's tokens over its characters
        sub_total = sub_model.nats_per_token(sub_valid) * (len(sub_valid) - 1)
        scored_chars = len(valid_text) - len(bpe.decode(sub_valid[:1].tolist()))
        context = args.block * per_token
        rows.append(
            (f"BPE {len(bpe)}", len(bpe), sub_model, context, sub_s, sub_total / scored_chars)
        )
    table = [
        (name, v, m.num_params(), m.flops_per_token(), context, sec, nats)
        for name, v, m, context, sec, nats in rows
    ]
    if args.book and "characters" not in args.arms:  # the book's GPT is this arm, trained
        table.insert(0, book_row(args))
    print()
    print(
        "| tokenizer | vocabulary | params | ops/token | context (chars) | steps | "
        "seconds | validation nats/char |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, v, n, ops, context, sec, nats in table:
        print(
            f"| {name} | {v} | {n:,} | {ops:.2e} | {context:.0f} | {steps} | {sec:.0f} | "
            f"{nats:.3f} |"
        )
        if args.out:
            row = {"tokenizer": name, "vocabulary": v, "params": n, "ops/token": ops}
            row |= {"context chars": round(context), "steps": steps, "seconds": round(sec)}
            row |= {"validation nats/char": round(nats, 4), "args": vars(args)}
            row |= {"machine": f"{cpu_name()}, {torch.get_num_threads()} torch threads"}
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    if len(table) == 2:
        (a, *_, nats_a), (b, *_, nats_b) = table
        winner = a if nats_a < nats_b else b
        print(
            f"\nat the same steps and shape, {winner} wins by {abs(nats_a - nats_b):.3f} nats/char"
        )
    return 0


def check_arms(args) -> None:
    """The arms are known, and a run without the character arm has its steps."""
    unknown = set(args.arms) - {"characters", "subwords"}
    if unknown:
        raise SystemExit(f"--arms takes characters and/or subwords, got {sorted(unknown)}")
    if "characters" not in args.arms and args.steps is None:
        raise SystemExit("without the character arm, give --steps (or --book)")


def book_row(args) -> tuple:
    """The book's GPT's recorded row: the character arm of a --book run, already trained."""
    record = book_gpt_record()
    if record["recipe"] != json.loads(json.dumps(asdict(Recipe()))) or args.val_chars:
        raise SystemExit("the book's record is not this recipe on the whole validation plays")
    model, vocab = load_book_gpt()
    nats = record["validation_nats_per_char"]
    return ("characters (the book's GPT, recorded)", len(vocab), model.num_params(),
            model.flops_per_token(), args.block, record["seconds"], nats)  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
