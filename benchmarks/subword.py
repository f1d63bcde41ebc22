"""Characters or subwords? Two GPTs of one shape, the same compute, scored per character.

    PYTHONPATH=. python benchmarks/subword.py                  # 2 × 300 s of training
    PYTHONPATH=. python benchmarks/subword.py --budget 20 --val-chars 20000   # a quick check

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
import platform
import time

import torch

import lmbook
from lmbook import data
from lmbook.bpe import BPE
from lmbook.text import Vocab, char_tokenize
from lmbook.training import RandomWindows, param_groups, train, warmup_cosine_schedule
from lmbook.transformer import GPT, GPTConfig


def fit(ids: torch.Tensor, vocab_size: int, args, steps: int | None, label: str):
    """Train one GPT; with steps None, train for args.budget seconds. -> (model, steps, s)."""
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
    start = time.perf_counter()
    train(
        model,
        RandomWindows(ids, args.batch, args.block, seed=0),
        optimizer,
        steps=steps,
        device="cpu",
        clip=1.0,
        scheduler=schedule,
        progress=False,
        log_every=max(1, steps // 5),
    )
    seconds = time.perf_counter() - start
    print(f"  {label}: {steps} steps in {seconds:.0f} s", flush=True)
    return model, steps, seconds


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
    args = parser.parse_args()
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

    char_model, steps, char_s = fit(char_train, len(chars), args, None, "characters")
    sub_model, _, sub_s = fit(sub_train, len(bpe), args, steps, f"BPE {len(bpe)}")
    flops = {
        "characters": char_model.flops_per_token(),
        "subwords": sub_model.flops_per_token(),
    }
    # nats per character: the total nats of the text's tokens over its characters
    char_nats = char_model.nats_per_token(char_valid)  # one token per character
    sub_total = sub_model.nats_per_token(sub_valid) * (len(sub_valid) - 1)
    scored_chars = len(valid_text) - len(bpe.decode(sub_valid[:1].tolist()))
    sub_nats = sub_total / scored_chars
    print()
    print(
        "| tokenizer | vocabulary | params | ops/token | context (chars) | steps | "
        "seconds | validation nats/char |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows = [
        ("characters", len(chars), char_model, args.block, char_s, char_nats),
        (f"BPE {len(bpe)}", len(bpe), sub_model, args.block * per_token, sub_s, sub_nats),
    ]
    for name, v, m, context, s, nats in rows:
        key = "characters" if name == "characters" else "subwords"
        print(
            f"| {name} | {v} | {m.num_params():,} | {flops[key]:.2e} | {context:.0f} | "
            f"{steps} | {s:.0f} | {nats:.3f} |"
        )
    winner = "subwords" if sub_nats < char_nats else "characters"
    print(
        f"\nat the same steps and shape, {winner} win by {abs(sub_nats - char_nats):.3f} nats/char"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
