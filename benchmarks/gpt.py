"""lmbook's GPT with chapter 6's recipe against a plain GPT of the same size, same budget.

    PYTHONPATH=. python benchmarks/gpt.py               # full: 2 × 120 s of training
    PYTHONPATH=. python benchmarks/gpt.py --runs 3      # median of 3 runs, order alternating
    PYTHONPATH=. python benchmarks/gpt.py --budget 10 --val-chars 5000   # a quick check
    PYTHONPATH=. python benchmarks/gpt.py --check       # exit 1: a measured target missed
    PYTHONPATH=. python benchmarks/gpt.py --generation-only   # no training: the KV cache

Both models are character-level GPTs of the same size (default: chapter 6's main model,
4 layers, 4 heads, n_embd 128, block 256, batch 16) with the same parameter count
(asserted), trained on the same `RandomWindows` batches of the Shakespeare training
plays for the same wall-clock time, one after the other (with `--runs` > 1 the order
alternates): the first trains for `--budget` seconds, the second for the seconds the
first took. Both are then scored on the validation plays by one function, in nats per
character.

- lmbook: `lmbook.transformer.GPT` (fused attention, GPT-2 initialisation) trained by
  `lmbook.training.train` with the recipe: AdamW on `param_groups(model, 0.1)`, betas
  (0.9, 0.95), lr 2e-3 with `warmup_cosine_schedule` (5% warm-up), clipping at 1.0, and
  16-bit autocast (`mixed_precision`) and `torch.compile` where `--amp` / `--compile`
  say (default: on for CUDA, off for the CPU, where compile gave no speed-up). The
  cosine needs a step count, so the seconds per step are measured first (2 untimed
  steps, then 10 timed, on the same model, whose weights are then restored) and
  steps = budget / seconds per step.
- reference: `NaiveGPT`, written below: the same layout (pre-LN, learned positions, GELU
  MLP, tied embedding) with attention written out as softmax(QKᵀ/√d)V under a
  `masked_fill` causal mask, N(0, 0.02) initialisation (without GPT-2's scaled residual
  projections), no dropout, trained by a
  plain loop: Adam at a constant lr 1e-3, no clipping, no weight decay, float32, no
  compile, until the budget's seconds are up.

Training loss: the mean batch loss of the last 10 steps. Tokens/s is steps × batch ×
block_size over the training time alone (scoring, and lmbook's step measurement and
compilation, excluded). Validation nats/char slides windows of block_size by
block_size / 2, as `GPT.nats_per_token` does (checked against it on lmbook's model).
Then generation: 256 new tokens with and without the KV cache, and as lmbook generated
before issue 18 (`ConcatGPT`: the same weights, a cache grown by `torch.cat`, ids checked
at every step, no_grad); the same seeded generator, identical tokens asserted. On a model
whose block_size holds prompt + new tokens (untrained weights: timing only), at this
size and at chapter 6's largest (4 layers × 192, 6 heads), and on a block_size model
whose cache fills, after which every way re-reads the window: the trained model, or
with `--generation-only` (no training) an untrained one.

Targets: validation loss lower than the reference's; tokens/s ≥ 1.0× the reference's on
the CPU (within 3% counts as a tie); on a GPU, model FLOPs utilisation ≥ 30% with bf16
and compile at the chapter's largest size; KV-cache generation ≥ 5× faster than
re-reading the prefix for 256 new tokens on the CPU at this size (chapter 6's main), and
no slower than before issue 18 at every size (within 3% counts as a tie).
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

import lmbook
from lmbook.data import shakespeare
from lmbook.decoding import sample_next
from lmbook.execute import cpu_name
from lmbook.text import Vocab, char_tokenize
from lmbook.training import (
    RandomWindows,
    mixed_precision,
    param_groups,
    train,
    warmup_cosine_schedule,
)
from lmbook.transformer import GPT, CausalSelfAttention, GPTConfig
from lmbook.validate import check_cache_batch, check_same_length, check_token_ids

TIE = 0.03  # tokens/s within 3%: neither is slower
MEASURE_UNTIMED, MEASURE_TIMED = 2, 10  # steps to size lmbook's run to the budget
LAST_STEPS = 10  # the training loss reported: the mean batch loss of the last 10 steps
# dense bf16 tensor-core peaks, TFLOP/s; H100 PCIe (756) is left out: its name says PCIe
PEAK_BF16_TFLOPS = {"A100": 312.0, "H100": 989.0, "H200": 989.0}
POSITIVE = "n_layer n_head n_embd block_size batch_size runs new_tokens gen_repeats".split()


class NaiveCausalSelfAttention(nn.Module):
    """Causal self-attention written out: softmax(q kᵀ / √d_k + mask) v, one fused qkv."""

    def __init__(self, n_embd: int, n_head: int, block_size: int) -> None:
        super().__init__()
        self.n_head, self.d_k = n_head, n_embd // n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.register_buffer(
            "mask", torch.tril(torch.ones(block_size, block_size, dtype=torch.bool))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # (B, T, C) each
        q, k, v = (t.view(B, T, self.n_head, self.d_k).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_k)  # (B, h, T, T)
        scores = scores.masked_fill(~self.mask[:T, :T], float("-inf"))
        out = scores.softmax(dim=-1) @ v  # (B, h, T, d_k)
        return self.proj(out.transpose(1, 2).reshape(B, T, C))  # (B, T, C)


class NaiveBlock(nn.Module):
    """x + attn(ln_1(x)), then x + mlp(ln_2(x)), the MLP C -> 4C -> GELU -> C."""

    def __init__(self, n_embd: int, n_head: int, block_size: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = NaiveCausalSelfAttention(n_embd, n_head, block_size)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NaiveGPT(nn.Module):
    """A straightforward GPT: lmbook's layout and sizes, N(0, 0.02) init, no dropout."""

    def __init__(self, vocab_size: int, block_size: int, n_layer: int, n_head: int, n_embd: int):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(
            *[NaiveBlock(n_embd, n_head, block_size) for _ in range(n_layer)]
        )
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # tied, as lmbook's
        # N(0, 0.02) weights and zero biases, the usual starting point of a GPT; without it
        # PyTorch's N(0, 1) tied embedding starts at a loss near 85 nats/char, and the
        # comparison would measure the initialisation rather than the training recipe
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        T = idx.size(1)
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))  # (B, T, C)
        logits = self.lm_head(self.ln_f(self.blocks(x)))  # (B, T, V)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def nats_per_char(
    model: nn.Module, ids: torch.Tensor, block_size: int, device: torch.device, batch_size: int = 32
) -> float:
    """Mean cross-entropy of every id after the first, as `GPT.nats_per_token` scores it.

    Windows of block_size ids slide by block_size // 2; the first scores all its
    predictions, each later one only those the previous did not; the last ends at the end.
    Only `model(x)[0]`, the logits, is used, so both models are scored by the same code.
    """
    L, stride, N = block_size, max(1, block_size // 2), len(ids) - 1
    ends = [min(L, N)]  # window k predicts ids[end - L + 1 : end + 1]
    while ends[-1] < N:
        ends.append(min(ends[-1] + stride, N))
    was_training = model.training
    model.eval()
    total = 0.0
    for b in range(0, len(ends), batch_size):
        x, y = [], []
        for k in range(b, min(b + batch_size, len(ends))):
            end, start = ends[k], max(0, ends[k] - L)
            target = ids[start + 1 : end + 1].clone()
            if k > 0:  # only the predictions the previous window did not score
                target[: len(target) - (end - ends[k - 1])] = -100
            x.append(ids[start:end])
            y.append(target)
        logits = model(torch.stack(x).to(device))[0]  # (windows, L, V)
        total += F.cross_entropy(
            logits.float().flatten(0, 1), torch.stack(y).to(device).flatten(), reduction="sum"
        ).item()
    model.train(was_training)
    return total / N


def train_lmbook(
    args: argparse.Namespace,
    vocab_size: int,
    batches: RandomWindows,
    device: torch.device,
    budget: float,
) -> dict:
    """lmbook's GPT and recipe, sized to `budget` seconds by a measured step time."""
    config = GPTConfig(
        vocab_size=vocab_size, block_size=args.block_size, n_layer=args.n_layer,
        n_head=args.n_head, n_embd=args.n_embd, dropout=args.dropout,
    )  # fmt: skip
    model = GPT(config).to(device)
    net = torch.compile(model) if args.compile else model
    # the GPU's 16-bit type (bfloat16, or float16 with loss scaling on a T4); bfloat16
    # when --amp is asked for on a CPU
    amp_dtype = (mixed_precision(device) or torch.bfloat16) if args.amp else None

    def optimizer() -> torch.optim.Optimizer:
        groups = param_groups(model, args.weight_decay)
        return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95), fused=device.type == "cuda")

    # measure the seconds per step on this model (compiling it on the way), then restore it
    initial = copy.deepcopy(model.state_dict())
    opt = optimizer()
    common = dict(device=device, clip=1.0, amp_dtype=amp_dtype, progress=False, log_every=10**9)
    start = time.perf_counter()
    train(net, batches, opt, steps=MEASURE_UNTIMED, **common)
    sync(device)
    warm_seconds = time.perf_counter() - start  # compilation shows here
    start = time.perf_counter()
    train(net, batches, opt, steps=MEASURE_TIMED, **common)
    sync(device)
    seconds_per_step = (time.perf_counter() - start) / MEASURE_TIMED
    model.load_state_dict(initial)  # copies in place: a compiled graph stays valid
    del opt

    steps = max(2, round(budget / seconds_per_step))
    warmup = min(steps - 1, max(1, round(args.warmup * steps)))
    opt = optimizer()
    schedule = warmup_cosine_schedule(opt, warmup_steps=warmup, total_steps=steps)
    print(
        f"  lmbook: {seconds_per_step:.3f} s/step measured ({warm_seconds:.1f} s for the first "
        f"{MEASURE_UNTIMED}), so {steps} steps ({warmup} warm-up) ...",
        flush=True,
    )
    sync(device)
    start = time.perf_counter()
    common["log_every"] = 1  # every step's loss, for the mean of the last LAST_STEPS
    history = train(net, batches, opt, steps=steps, scheduler=schedule, **common)
    sync(device)
    seconds = time.perf_counter() - start
    return {
        "model": model,
        "steps": steps,
        "seconds": seconds,
        "train_loss": statistics.mean([h["loss"] for h in history][-LAST_STEPS:]),
        "flops_per_token": model.flops_per_token(),
    }


def train_reference(
    args: argparse.Namespace,
    vocab_size: int,
    batches: RandomWindows,
    device: torch.device,
    budget: float,
) -> dict:
    """The plain GPT and a plain loop: Adam at a constant rate until `budget` seconds are up."""
    model = NaiveGPT(vocab_size, args.block_size, args.n_layer, args.n_head, args.n_embd)
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=args.ref_lr)
    print(f"  reference: training for {budget:.1f} s ...", flush=True)
    steps, losses = 0, []
    sync(device)
    start = time.perf_counter()
    for x, y in batches:
        _, loss = model(x.to(device), y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())  # a plain loop watches its loss; this also syncs
        steps += 1
        if time.perf_counter() - start >= budget:
            break
    sync(device)
    seconds = time.perf_counter() - start
    return {
        "model": model,
        "steps": steps,
        "seconds": seconds,
        "train_loss": statistics.mean(losses[-LAST_STEPS:]),
    }


class ConcatCausalSelfAttention(CausalSelfAttention):
    """lmbook's attention before issue 18, verbatim: the cache (k, v) grows by torch.cat."""

    def forward(
        self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        B, T, C = x.shape
        heads = (B, T, self.n_head, C // self.n_head)
        q = self.W_q(x).view(heads).transpose(1, 2)  # (B, n_head, T, d_k)
        k = self.W_k(x).view(heads).transpose(1, 2)
        v = self.W_v(x).view(heads).transpose(1, 2)
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # (B, n_head, T_past + T, d_k)
            v = torch.cat([cache[1], v], dim=2)
        p = self.dropout_p if self.training else 0.0
        if cache is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        elif T == 1:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        else:
            T_past = k.size(2) - T
            mask = torch.ones(T, T_past + T, dtype=torch.bool, device=x.device)
            mask = mask.tril(diagonal=T_past)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_dropout(self.W_o(y)), (k, v)


class ConcatGPT(GPT):
    """lmbook's GPT as it generated before issue 18 (the reference for "no slower").

    The same modules and weights (load them with load_state_dict), with the attention,
    `step` and `generate` of before, verbatim: every step checks its ids (reading them),
    each layer's keys and values grow by `torch.cat` (every token copies the whole
    cache), and generation runs under no_grad.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        c = config
        for block in self.blocks:
            block.attn = ConcatCausalSelfAttention(c.n_embd, c.n_head, c.dropout, c.bias)

    def step(self, idx: torch.Tensor, caches: list | None = None) -> tuple[torch.Tensor, list]:
        if caches is not None:
            check_same_length(caches=caches, blocks=self.blocks)
        start = 0 if caches is None else caches[0][0].size(2)  # T_past
        check_token_ids(idx, self.config.vocab_size, self.config.block_size, start)
        check_cache_batch(caches, idx.size(0))
        x = self.embed(idx, start)  # (B, T, C)
        new_caches = []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, None if caches is None else caches[i])
            new_caches.append(cache)
        return self.lm_head(self.ln_f(x)), new_caches  # (B, T, V)

    @torch.no_grad()
    def generate(
        self, idx: list[int], max_new_tokens: int, generator: torch.Generator | None = None
    ) -> list[int]:
        ids = list(idx)
        device, L = self.lm_head.weight.device, self.config.block_size
        self.eval()
        out: list[int] = []
        logits, caches = self.step(torch.tensor([ids], device=device))  # the prompt
        while len(out) < max_new_tokens:
            next_logits = logits[0, -1].cpu().double()  # (V,)
            token = sample_next(next_logits, 1.0, None, None, generator)
            out.append(int(token))
            ids.append(int(token))
            if len(out) == max_new_tokens:
                break
            if caches[0][0].size(2) < L:  # one new position
                new = torch.tensor([ids[-1:]], device=device)  # (1, 1)
                logits, caches = self.step(new, caches)
            else:  # re-read the context: the last block_size ids
                logits, caches = self.step(torch.tensor([ids[-L:]], device=device))
        return out


def time_generation(
    model: GPT, prompt: list[int], new_tokens: int, seed: int
) -> tuple[float, float, float, list[int]]:
    """Seconds to generate with the cache, without it and as lmbook did before issue 18
    (`ConcatGPT`, the same weights), one warm-up each; and the tokens (all the same)."""
    before = ConcatGPT(model.config).to(model.lm_head.weight.device)
    before.load_state_dict(model.state_dict())
    ways = {
        "cache": lambda n, g: model.generate(prompt, n, use_cache=True, generator=g),
        "no cache": lambda n, g: model.generate(prompt, n, use_cache=False, generator=g),
        "before": lambda n, g: before.generate(prompt, n, generator=g),
    }
    out, seconds = {}, {}
    for name, generate in ways.items():
        generate(4, torch.Generator().manual_seed(0))
        start = time.perf_counter()
        out[name] = generate(new_tokens, torch.Generator().manual_seed(seed))
        seconds[name] = time.perf_counter() - start
    if not out["cache"] == out["no cache"] == out["before"]:
        raise AssertionError("generation with and without the KV cache gave different tokens")
    return seconds["cache"], seconds["no cache"], seconds["before"], out["cache"]


def peak_tflops(args: argparse.Namespace, device: torch.device) -> float | None:
    """The GPU's peak for MFU: --peak-tflops, else the bf16 peak known for its name."""
    if device.type != "cuda":
        return None
    if args.peak_tflops is not None:
        return args.peak_tflops
    name = torch.cuda.get_device_name(device)
    if "PCIe" not in name:
        for key, tflops in PEAK_BF16_TFLOPS.items():
            if key in name:
                return tflops
    raise SystemExit(
        f"no known peak for {name!r}: give --peak-tflops (the dense bf16 tensor-core peak, "
        f"TFLOP/s); known: {', '.join(f'{k} {v:g}' for k, v in PEAK_BF16_TFLOPS.items())}"
    )


def met(ok: bool) -> str:
    return "met" if ok else "not met"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_argument_group("model and batch (both models)")
    size.add_argument("--n-layer", type=int, default=4, help="blocks (default 4)")
    size.add_argument("--n-head", type=int, default=4, help="heads (default 4)")
    size.add_argument("--n-embd", type=int, default=128, help="width C (default 128)")
    size.add_argument("--block-size", type=int, default=256, help="context T (default 256)")
    size.add_argument("--batch-size", type=int, default=16, help="windows B (default 16)")
    run = parser.add_argument_group("training")
    run.add_argument(
        "--budget", type=float, default=120.0, help="training seconds per model (default 120)"
    )
    run.add_argument("--runs", type=int, default=1, help="runs, order alternating (default 1)")
    run.add_argument("--lr", type=float, default=2e-3, help="lmbook's peak lr (default 2e-3)")
    run.add_argument(
        "--weight-decay", type=float, default=0.1, help="lmbook's AdamW decay (default 0.1)"
    )
    run.add_argument(
        "--warmup", type=float, default=0.05, help="lmbook's warm-up fraction (default 0.05)"
    )
    run.add_argument(
        "--dropout", type=float, default=0.0, help="lmbook's dropout (default 0; reference: none)"
    )
    run.add_argument(
        "--ref-lr", type=float, default=1e-3, help="the reference's constant lr (default 1e-3)"
    )
    run.add_argument(
        "--amp", action=argparse.BooleanOptionalAction, default=None,
        help="bf16 autocast for lmbook (default: on for CUDA, off otherwise)",
    )  # fmt: skip
    run.add_argument(
        "--compile", action=argparse.BooleanOptionalAction, default=None,
        help="torch.compile lmbook's model (default: on for CUDA, off otherwise)",
    )  # fmt: skip
    run.add_argument("--seed", type=int, default=0, help="run r uses seed + r (default 0)")
    run.add_argument("--device", default=None, help="default: lmbook.device()")
    run.add_argument(
        "--peak-tflops", type=float, default=None,
        help="GPU peak TFLOP/s for MFU (default: the bf16 peak of an A100, H100 SXM or H200)",
    )  # fmt: skip
    ev = parser.add_argument_group("evaluation and generation")
    ev.add_argument(
        "--val-chars", type=int, default=100_000,
        help="score the first N characters of the validation plays (default 100000; 0: all)",
    )  # fmt: skip
    ev.add_argument("--new-tokens", type=int, default=256, help="to generate (default 256)")
    ev.add_argument("--prompt-chars", type=int, default=16, help="prompt length (default 16)")
    ev.add_argument(
        "--gen-repeats", type=int, default=3, help="timings of each, the median (default 3)"
    )
    ev.add_argument("--gen-device", default="cpu", help="for the generation timing (default cpu)")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a measured target is missed"
    )
    parser.add_argument(
        "--generation-only", action="store_true",
        help="skip training: time generation only (the block-size model is untrained)",
    )  # fmt: skip
    args = parser.parse_args()
    for name in POSITIVE:
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.budget <= 0 or args.val_chars < 0 or args.prompt_chars < 1:
        parser.error("--budget must be > 0, --val-chars >= 0, --prompt-chars >= 1")
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd {args.n_embd} must be divisible by --n-head {args.n_head}")
    device = torch.device(args.device) if args.device else lmbook.device()
    gen_device = torch.device(args.gen_device)
    args.amp = device.type == "cuda" if args.amp is None else args.amp
    args.compile = device.type == "cuda" if args.compile is None else args.compile
    peak = peak_tflops(args, device)

    hardware = f"{cpu_name()}, {os.cpu_count()} cores"
    if device.type == "cuda":
        hardware = f"{torch.cuda.get_device_name(device)} (host: {hardware})"
    print(
        f"{hardware}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}; device {device}, lmbook "
        f"{'16-bit autocast' if args.amp else 'float32'}{', compiled' if args.compile else ''}, "
        f"reference float32; load average {os.getloadavg()[0]:.2f}"
    )

    train_text, val_text = shakespeare("train"), shakespeare("validation")
    vocab = Vocab(char_tokenize(train_text))
    train_ids = torch.tensor(vocab.encode(char_tokenize(train_text)))
    val_part = val_text[: args.val_chars] if args.val_chars else val_text
    val_ids = torch.tensor(vocab.encode(char_tokenize(val_part)))
    unknown = int((val_ids == vocab.unk_id).sum())
    print(
        f"data: vocabulary {len(vocab)} characters; {len(train_ids):,} training characters; "
        f"validation: the first {len(val_ids):,} of {len(val_text):,} characters "
        f"({unknown} unknown); B={args.batch_size}, T={args.block_size}, "
        f"{args.n_layer} layers, {args.n_head} heads, n_embd {args.n_embd}"
    )

    missed, trained = False, None
    if args.generation_only:
        print("training: skipped (--generation-only)\n")
    else:
        results = []
        for r in range(args.runs):
            seed = args.seed + r
            batches = RandomWindows(train_ids, args.batch_size, args.block_size, seed=seed)
            order = ("lmbook", "reference") if r % 2 == 0 else ("reference", "lmbook")
            print(f"run {r + 1}: {order[0]} first, seed {seed}", flush=True)
            res = {}
            for name in order:
                # the second gets the seconds the first took: the same wall-clock
                budget = res[order[0]]["seconds"] if res else args.budget
                torch.manual_seed(seed)
                trainer = train_lmbook if name == "lmbook" else train_reference
                res[name] = trainer(args, len(vocab), batches, device, budget)
            n_lmbook = res["lmbook"]["model"].num_params()
            n_ref = sum(p.numel() for p in res["reference"]["model"].parameters())
            assert n_lmbook == n_ref, (
                f"parameter counts differ: lmbook {n_lmbook}, reference {n_ref}"
            )
            if r == 0:  # the script's scorer gives what GPT.nats_per_token gives
                few = val_ids[: 4 * args.block_size + 1]
                ours = nats_per_char(res["lmbook"]["model"], few, args.block_size, device)
                theirs = res["lmbook"]["model"].nats_per_token(few)
                assert abs(ours - theirs) < 1e-4, f"scorers differ: {ours} vs {theirs}"
            for name in order:
                x = res[name]
                x["tokens_per_s"] = x["steps"] * args.batch_size * args.block_size / x["seconds"]
                x["val"] = nats_per_char(x["model"], val_ids, args.block_size, device)
                if peak is not None:
                    flops = res["lmbook"]["flops_per_token"]  # same sizes: the same FLOPs per token
                    x["mfu"] = flops * x["tokens_per_s"] / (peak * 1e12)
            ratio = res["lmbook"]["tokens_per_s"] / res["reference"]["tokens_per_s"]
            print(
                f"run {r + 1}: "
                + "; ".join(
                    f"{name} {res[name]['steps']} steps in {res[name]['seconds']:.1f} s, "
                    f"{res[name]['tokens_per_s']:,.0f} tokens/s, "
                    f"val {res[name]['val']:.3f} nats/char"
                    for name in ("lmbook", "reference")
                )
                + f"; tokens/s ratio {ratio:.2f}×, val difference "
                f"{res['lmbook']['val'] - res['reference']['val']:+.3f}",
                flush=True,
            )
            results.append(res)

        def median(name: str, key: str) -> float:
            return statistics.median(res[name][key] for res in results)

        print(f"\nmedian of {args.runs} run(s), budget {args.budget:g} s each:")
        header = f"{'':<10}{'steps':>7}{'train s':>9}{'tokens/s':>10}{'last-10 loss':>14}"
        header += f"{'val nats/char':>15}"
        print(header + (f"{'MFU':>8}" if peak else ""))
        for name in ("lmbook", "reference"):
            print(
                f"{name:<10}{median(name, 'steps'):>7.0f}{median(name, 'seconds'):>9.1f}"
                f"{median(name, 'tokens_per_s'):>10,.0f}{median(name, 'train_loss'):>14.3f}"
                f"{median(name, 'val'):>15.3f}"
                + (f"{100 * median(name, 'mfu'):>7.1f}%" if peak else "")
            )
        speed = statistics.median(
            res["lmbook"]["tokens_per_s"] / res["reference"]["tokens_per_s"] for res in results
        )
        val_diff = statistics.median(
            res["lmbook"]["val"] - res["reference"]["val"] for res in results
        )
        print(f"lmbook / reference: tokens/s {speed:.2f}×, val nats/char {val_diff:+.3f}")
        if peak:
            flops = results[0]["lmbook"]["flops_per_token"]
            print(f"MFU: {flops:,.0f} training FLOPs per token, peak {peak:g} TFLOP/s")
        print(f"load average {os.getloadavg()[0]:.2f}\n")
        trained = results[-1]["lmbook"]["model"]

    # generation: models whose block holds prompt + new tokens (untrained: timing only),
    # and a block-size model, whose cache fills (the trained one, if there was training)
    prompt = vocab.encode(char_tokenize(val_text[: args.prompt_chars]))
    long_block = max(args.block_size, len(prompt) + args.new_tokens)
    torch.manual_seed(args.seed)
    timing_model = GPT(
        GPTConfig(
            vocab_size=len(vocab), block_size=long_block, n_layer=args.n_layer,
            n_head=args.n_head, n_embd=args.n_embd,
        )
    ).to(gen_device)  # fmt: skip
    largest = GPT(
        GPTConfig(vocab_size=len(vocab), block_size=long_block, n_layer=4, n_head=6, n_embd=192)
    ).to(gen_device)  # chapter 6's largest model: the cache's share grows with the width
    if trained is None:
        filling = GPT(replace(timing_model.config, block_size=args.block_size)).to(gen_device)
    else:
        filling = copy.deepcopy(trained).to(gen_device)
    long_label, large_label, filling_label = (
        f"{args.n_layer}×{args.n_embd}, block {long_block}, untrained",
        f"4×192, block {long_block}, untrained",
        f"{args.n_layer}×{args.n_embd}, block {args.block_size}, "
        + ("untrained" if trained is None else "trained"),
    )
    cases = {long_label: timing_model, large_label: largest, filling_label: filling}
    print(
        f"generation on {gen_device}: {args.new_tokens} new tokens after a {len(prompt)}-token "
        f"prompt, median of {args.gen_repeats} repeat(s); 'before' is lmbook "
        "before issue 18 (torch.cat cache, ids checked every step, no_grad)"
    )
    print(
        f"{'model':<32}{'cache s':>9}{'no cache s':>12}{'speed-up':>10}{'before s':>10}"
        f"{'before / now':>14}"
    )
    speedups, vs_before, samples = {}, {}, {}
    for label, model in cases.items():
        times = [
            time_generation(model, prompt, args.new_tokens, args.seed + r)
            for r in range(args.gen_repeats)
        ]
        speedups[label] = statistics.median(b / a for a, b, _, _ in times)
        vs_before[label] = statistics.median(c / a for a, _, c, _ in times)
        samples[label] = times[0][3]
        print(
            f"{label:<32}{statistics.median(t[0] for t in times):>9.2f}"
            f"{statistics.median(t[1] for t in times):>12.2f}{speedups[label]:>9.2f}×"
            f"{statistics.median(t[2] for t in times):>10.2f}{vs_before[label]:>13.2f}×"
        )
    if trained is not None:
        sample = val_text[: args.prompt_chars] + "".join(vocab.decode(samples[filling_label][:80]))
        print(f"the trained model's first 80 new characters: {sample!r}")
    print(f"load average {os.getloadavg()[0]:.2f}\n")

    if args.generation_only:
        for target in (
            "validation loss lower than the reference's",
            "CPU: tokens/s ≥ 1.0× the reference's",
            "GPU: MFU ≥ 30% with bf16 and compile",
        ):
            print(f"{target} — unmeasured (--generation-only)")
    else:
        lower = val_diff < 0
        missed |= not lower
        print(
            f"validation loss lower than the reference's — {met(lower)} "
            f"(lmbook {median('lmbook', 'val'):.3f}, reference {median('reference', 'val'):.3f})"
        )
        if device.type == "cpu":
            fast = speed >= 1 - TIE
            missed |= not fast
            tie = " (a tie, within 3%)" if abs(speed - 1) <= TIE else ""
            print(f"CPU: tokens/s ≥ 1.0× the reference's — {met(fast)} ({speed:.2f}×{tie})")
        else:
            print(f"CPU: tokens/s ≥ 1.0× the reference's — unmeasured ({device} run: {speed:.2f}×)")
        if device.type != "cuda":
            print("GPU: MFU ≥ 30% with bf16 and compile — unmeasured (no GPU in this run)")
        elif not (args.amp and args.compile):
            print("GPU: MFU ≥ 30% with bf16 and compile — unmeasured (needs --amp --compile)")
        else:
            mfu = median("lmbook", "mfu")
            missed |= mfu < 0.30
            print(
                f"GPU: MFU ≥ 30% with bf16 and compile — {met(mfu >= 0.30)} ({100 * mfu:.1f}%; "
                "the target is for the chapter's largest size)"
            )
    if gen_device.type == "cpu" and args.new_tokens == 256:
        cached = speedups[long_label] >= 5
        missed |= not cached
        print(
            f"CPU: KV cache ≥ 5× re-reading the prefix, 256 new tokens — {met(cached)} "
            f"({long_label}: {speedups[long_label]:.2f}×)"
        )
        print(
            f"  (4×192: {speedups[large_label]:.2f}×; the block-{args.block_size} model, whose "
            f"cache fills: {speedups[filling_label]:.2f}×)"
        )
    else:
        print("CPU: KV cache ≥ 5× for 256 new tokens — unmeasured (needs --gen-device cpu, 256)")
    no_slower = min(vs_before.values()) >= 1 - TIE
    missed |= not no_slower
    ratios = "; ".join(f"{label}: {ratio:.2f}×" for label, ratio in vs_before.items())
    print(
        f"KV cache no slower than before issue 18 at every size — {met(no_slower)} "
        f"(time before / now, with the cache: {ratios}; within 3% is a tie)"
    )
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
