"""Characters or subwords? Two GPTs of one shape, the same compute, scored per character.

    PYTHONPATH=. python benchmarks/subword.py                  # 2 × 300 s of training
    PYTHONPATH=. python benchmarks/subword.py --budget 20 --val-chars 20000   # a quick check
    PYTHONPATH=. python benchmarks/subword.py --book --arms subwords \\
        --checkpoints checkpoints/subword_book     # the book's budget, about 95 minutes

`--book` sets the book's GPT's shape and recipe (`lmbook.pretrain.Recipe`: 6 layers × 160,
5 heads, context 256, batch 32, peak rate 2e-3, 4,000 steps, 200 warm-up steps); its
character arm is then the book's GPT itself (the same code path, seed and data), so
`--arms subwords` trains only the subword model and sets it beside the book's GPT's
recorded validation score (its seconds include its evaluations, at two threads; the
subword arm's do not). `--checkpoints DIR` saves each arm every 100 steps and resumes
from there: a run of hours may span several sittings (at another thread count, a resumed
run is not bit-identical to an unbroken one; the log prints each sitting's threads).

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
window (windows sliding by half a context), divided by the number of characters those
tokens spell (`lmbook.transformer.nats_per_char`). A subword model's context of 128
tokens covers more characters than the character model's 128; that is part of what a
tokenizer buys, and the script prints both.

Target (issue 16): use for the book's GPT whichever tokenizer wins at the same compute.
"""

from __future__ import annotations

import argparse
import hashlib
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
from lmbook.transformer import GPT, GPTConfig, nats_per_char
from lmbook.validate import check_lossless_tokens


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
    r = recipe_of(args, steps)
    optimizer = torch.optim.AdamW(
        param_groups(model, r["weight_decay"]), lr=args.lr, betas=r["betas"]
    )
    schedule = warmup_cosine_schedule(
        optimizer, warmup_steps=r["warmup"], total_steps=steps, min_ratio=r["min_ratio"]
    )
    history = train(
        model,
        RandomWindows(ids, args.batch, args.block, seed=0),
        optimizer,
        steps=steps,
        device="cpu",
        clip=r["clip"],
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


BOOK_SETS = ("layers", "heads", "width", "block", "batch", "lr", "steps")  # --book's


def book_arguments(args, parser: argparse.ArgumentParser) -> None:
    """Set args to the book's GPT's shape and recipe (lmbook.pretrain.Recipe)."""
    given = [k for k in BOOK_SETS if getattr(args, k) != parser.get_default(k)]
    if given:
        parser.error(f"--book sets {', '.join('--' + k for k in given)}: drop them")
    r = Recipe()
    args.layers, args.heads, args.width = r.n_layer, r.n_head, r.n_embd
    args.block, args.batch, args.lr, args.steps = r.block_size, r.batch_size, r.peak_lr, r.steps


def recipe_of(args, steps: int) -> dict:
    """The settings fit trains with besides the shape, rate and steps: the book's GPT's
    (lmbook.pretrain.Recipe) with --book, else chapter 6's."""
    if args.book:
        r = Recipe()
        return {"weight_decay": r.weight_decay, "betas": r.betas, "clip": r.clip,
                "warmup": r.warmup_steps, "min_ratio": r.min_ratio}  # fmt: skip
    return {"weight_decay": 0.1, "betas": (0.9, 0.95), "clip": 1.0,
            "warmup": max(1, steps // 20), "min_ratio": 0.1}  # fmt: skip


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
        book_arguments(args, parser)
    check_arms(args, parser)
    print(
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}, lmbook {lmbook.__version__}"
    )
    train_text, valid_text = data.shakespeare("train"), data.shakespeare("validation")
    valid_text = valid_text[: args.val_chars]
    if args.book and "characters" not in args.arms:
        check_book_record(args, parser, train_text, valid_text)

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

    check_lossless_tokens(valid_text, bpe.decode(sub_valid.tolist()))
    rows = []  # (tokenizer, vocabulary, params, ops/token, context chars, s, nats/char)
    steps = args.steps
    if "characters" in args.arms:
        char_model, steps, char_s = fit(char_train, len(chars), args, steps, "characters")
        char_nats = char_model.nats_per_token(char_valid)  # one token per character
        rows.append(("characters", len(chars), char_model, args.block, char_s, char_nats))
    if "subwords" in args.arms:
        sub_model, _, sub_s = fit(sub_train, len(bpe), args, steps, f"BPE {len(bpe)}")
        # nats per character: the total nats of the text's tokens over its characters
        sub_nats = nats_per_char(sub_model, valid_text, bpe.encode, bpe.decode)
        context = args.block * per_token
        rows.append((f"BPE {len(bpe)}", len(bpe), sub_model, context, sub_s, sub_nats))
    here = f"{cpu_name()}, {torch.get_num_threads()} torch threads (the last sitting)"
    table = [
        (name, v, m.num_params(), m.flops_per_token(), context, sec, nats, here)
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
    for name, v, n, ops, context, sec, nats, machine in table:
        print(
            f"| {name} | {v} | {n:,} | {ops:.2e} | {context:.0f} | {steps} | {sec:.0f} | "
            f"{nats:.3f} |"
        )
        if args.out:
            row = {"tokenizer": name, "vocabulary": v, "params": n, "ops/token": ops}
            row |= {"context chars": round(context), "steps": steps, "seconds": round(sec)}
            row |= {"validation nats/char": round(nats, 4), "args": vars(args)}
            row |= {"machine": machine}
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    if len(table) == 2:
        (a, *_, nats_a, _), (b, *_, nats_b, _) = table
        winner = a if nats_a < nats_b else b
        print(
            f"\nat the same steps and shape, {winner} wins by {abs(nats_a - nats_b):.3f} nats/char"
        )
    return 0


def check_arms(args, parser: argparse.ArgumentParser) -> None:
    """The arms are known, and a run without the character arm has its steps."""
    unknown = set(args.arms) - {"characters", "subwords"}
    if unknown:
        parser.error(f"--arms takes characters and/or subwords, got {sorted(unknown)}")
    if "characters" not in args.arms and args.steps is None:
        parser.error("without the character arm, give --steps (or --book)")


def check_book_record(args, parser, train_text: str, valid_text: str) -> None:
    """Before hours of training: the book's GPT's record is this recipe, on these plays."""
    record = book_gpt_record()
    if args.val_chars is not None:
        parser.error("the book's GPT was scored on the whole validation plays: drop --val-chars")
    if record["recipe"] != json.loads(json.dumps(asdict(Recipe()))):
        parser.error("the book's GPT's record is not lmbook.pretrain.Recipe(): re-make it")
    if record["data"]["train_sha256"] != hashlib.sha256(train_text.encode()).hexdigest():
        parser.error("the training plays differ from the ones the book's GPT read")
    if record["data"]["validation_characters"] != len(valid_text):
        parser.error("the validation plays differ from the ones the book's GPT was scored on")


def book_row(args) -> tuple:
    """The book's GPT's recorded row: the character arm of a --book run, already trained."""
    record = book_gpt_record()
    model, vocab = load_book_gpt()
    nats = record["validation_nats_per_char"]
    return ("characters (the book's GPT, recorded)", len(vocab), model.num_params(),
            model.flops_per_token(), args.block, record["seconds"], nats,
            record["device"])  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
