"""The book's GPT: one character-level GPT trained once, longer than a notebook may run.

Chapter 6 ("where attention wins") loads it to study a *trained* transformer, the way
other books load GPT-2's weights. It ships with the package as a safetensors file next
to a JSON record of the run that made it (recipe, data, code, steps, characters read,
time, device, validation nats/char), so every chapter, Colab and the wheel have it
offline::

    >>> from lmbook.pretrain import load_book_gpt
    >>> model, vocab = load_book_gpt()                               # doctest: +SKIP

One command makes it again (and resumes an interrupted run from its checkpoint)::

    python -m lmbook.pretrain                  # the recipe below, into lmbook/weights/
    python -m lmbook.pretrain --steps 40 --out /tmp/try   # a short try

The same command with `--model encoder` trains "the book's encoder" (chapter 7): a
BERT-style `lmbook.encoder.Encoder` of the same shape, on the same plays, by the same
recipe and budget (steps × batch × context), with BERT's masked-LM objective instead of
the next character, so that chapter 7 can ask which pre-training serves
classification better at equal compute. Its vocabulary is the GPT's plus a `[MASK]`
id, and its validation score is its masked-LM loss (`masked_lm_nats`), which is not
comparable with the GPT's nats per next character: the encoder sees both sides.

`--model subword` trains "the book's subword GPT": the GPT's shape, recipe and budget
in steps, reading `lmbook.bpe.BPE` tokens (SUBWORD_TOKENS, trained on the training
plays; about two characters a token) instead of characters. It is scored in nats per
character (`transformer.nats_per_char`), the one unit fair across tokenizers, so it sets
beside the character GPT's score: issue 16's question of which tokenizer wins at the
same compute. Its record keeps the tokenizer (`BPE.to_record`).

The recipe is chapter 6's (AdamW with decoupled weight decay on the matrices, warm-up
and cosine decay, clipping) at a larger size and a longer budget. Its size was chosen
by measurement: the training throughput of five candidate sizes was measured on the
2-core CPU that trained it (about 85 billion model operations per second, whatever the
size), which gives the budget of the planned run in operations, C; the parameter count
N follows the compute-optimal rule of Hoffmann et al. (2022), about 20 training tokens
per parameter, so C ≈ 6·N·20N. The record keeps the measurement. Two caveats: the rule
was fitted on much larger models reading their data once (this run reads the training
plays eight times), so here it is a rule of thumb; and 6·N leaves out attention's
12·n_layer·C·T operations per token (`flops_per_token`), a quarter more at this size
and context, which is most of why the run took 92 minutes rather than the planned 75.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

import lmbook
from lmbook import attention, bpe, data, encoder, runtime, text, training, transformer
from lmbook.bpe import BPE
from lmbook.encoder import Encoder, MaskedWindows, masked_lm_nats
from lmbook.execute import cpu_name
from lmbook.text import Vocab, char_tokenize
from lmbook.transformer import GPT, GPTConfig, nats_per_char
from lmbook.validate import (
    check_choice,
    check_device_available,
    check_int,
    check_type,
    check_weights_record,
)

WEIGHTS_DIR = Path(__file__).with_name("weights")
NAME = "book_gpt"
NAMES = {"gpt": NAME, "encoder": "book_encoder", "subword": "book_subword_gpt"}  # files
TITLES = {
    "gpt": "the book's GPT",
    "encoder": "the book's encoder",
    "subword": "the book's subword GPT",
}
MODELS = {"gpt": GPT, "encoder": Encoder, "subword": GPT}  # each kind's model class
SCORES = {  # validation_<score>
    "gpt": "nats_per_char",
    "encoder": "masked_nats_per_char",
    "subword": "nats_per_char",
}
COMMANDS = {
    "gpt": "python -m lmbook.pretrain",
    "encoder": "python -m lmbook.pretrain --model encoder",
    "subword": "python -m lmbook.pretrain --model subword",
}
SUBWORD_TOKENS = 512  # the subword GPT's BPE vocabulary (benchmarks/subword.py's)
SLICE = 20_000  # the first validation characters, scored again by tests and smoke runs


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the book's GPT, besides the code and the data."""

    n_layer: int = 6
    n_head: int = 5
    n_embd: int = 160
    block_size: int = 256
    batch_size: int = 32
    steps: int = 4_000
    peak_lr: float = 2e-3
    warmup_steps: int = 200
    min_ratio: float = 0.1
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    clip: float = 1.0
    dropout: float = 0.0
    seed: int = 0
    eval_every: int = 250
    eval_characters: int = 50_000  # the validation slice scored during training


# How the size was chosen (module docstring): measured before the run, kept in the record.
SIZE_CHOICE = {
    "machine": "2-core AMD EPYC (2 vCPUs), torch 2.13.0+cpu, 2 threads",
    "throughput, tokens/s (params)": {
        "4x128, T=128, B=32": [16_472, 820_000],
        "4x128, T=256, B=16": [15_241, 840_000],
        "6x192, T=256, B=16": [5_504, 2_730_000],
        "6x256, T=256, B=16": [3_291, 4_820_000],
        "8x256, T=256, B=16": [2_311, 6_400_000],
    },
    "model operations per second (6·N·tokens/s)": "76e9 to 95e9",
    "planned budget": "75 minutes at 85e9 operations/s: C = 3.8e14",
    "rule": "N = sqrt(C / 120) (20 tokens per parameter): 1.8M parameters, 36M tokens",
    "chosen": "6 layers of width 160, 1.9M parameters, 4,000 steps of 32 x 256 (33M)",
}


def train_and_validation() -> tuple[str, str]:
    """The training plays and the validation plays, as every chapter splits them."""
    return data.shakespeare("train"), data.shakespeare("validation")


def config_for(recipe: Recipe, vocab_size: int) -> GPTConfig:
    """The GPTConfig a recipe builds for a vocabulary of vocab_size characters."""
    return GPTConfig(
        vocab_size=vocab_size,
        block_size=recipe.block_size,
        n_layer=recipe.n_layer,
        n_head=recipe.n_head,
        n_embd=recipe.n_embd,
        dropout=recipe.dropout,
    )


def pretrain(
    recipe: Recipe = Recipe(),
    out_dir: str | Path = WEIGHTS_DIR,
    device: torch.device | str = "cpu",
    progress: bool = True,
    kind: str = "gpt",
) -> dict[str, Any]:
    """Train the book's GPT (kind "gpt") or encoder ("encoder") by `recipe`; write
    NAMES[kind].safetensors and .json to out_dir.

    A checkpoint (.ckpt in out_dir, not shipped) is written every eval_every steps and
    resumed from, so an interrupted run goes on where it stopped. Returns the record.
    """
    check_type("recipe", recipe, Recipe, "a lmbook.pretrain.Recipe")
    check_device_available("device", device)
    check_choice("kind", kind, NAMES)
    name = NAMES[kind]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    code = code_sha256(kind)  # now: the files may change while it trains
    train_text, valid_text = train_and_validation()
    vocab = Vocab(char_tokenize(train_text))
    train_ids = torch.tensor(vocab.encode(char_tokenize(train_text)))
    valid_ids = torch.tensor(vocab.encode(char_tokenize(valid_text)))
    tokenizer = None  # below, score(n) scores the first n validation characters

    runtime.seed(recipe.seed)
    if kind == "gpt":
        model = GPT(config_for(recipe, len(vocab))).to(device)
        batches = training.RandomWindows(
            train_ids, recipe.batch_size, recipe.block_size, seed=recipe.seed
        )

        def score(n: int | None) -> float:
            return model.nats_per_token(valid_ids[:n])

    elif kind == "subword":  # the same GPT, reading BPE tokens; scored per character
        tokenizer = BPE.train(train_text, SUBWORD_TOKENS)
        train_ids = torch.tensor(tokenizer.encode(train_text))
        model = GPT(config_for(recipe, len(tokenizer))).to(device)
        batches = training.RandomWindows(
            train_ids, recipe.batch_size, recipe.block_size, seed=recipe.seed
        )

        def score(n: int | None) -> float:
            return nats_per_char(model, valid_text[:n], tokenizer.encode, tokenizer.decode)

    else:  # the [MASK] id is one past the characters'
        mask_id = len(vocab)
        model = Encoder(config_for(recipe, len(vocab) + 1)).to(device)
        batches = MaskedWindows(
            train_ids, recipe.batch_size, recipe.block_size, mask_id, len(vocab), seed=recipe.seed
        )

        def score(n: int | None) -> float:
            return masked_lm_nats(model, valid_ids[:n], mask_id, len(vocab))

    optimizer = torch.optim.AdamW(
        training.param_groups(model, recipe.weight_decay),
        lr=recipe.peak_lr,
        betas=recipe.betas,
    )
    schedule = training.warmup_cosine_schedule(
        optimizer,
        warmup_steps=recipe.warmup_steps,
        total_steps=recipe.steps,
        min_ratio=recipe.min_ratio,
    )
    start = time.perf_counter()
    history = training.train(
        model,
        batches,
        optimizer,
        steps=recipe.steps,
        device=device,
        clip=recipe.clip,
        scheduler=schedule,
        evaluate=lambda: {"val_loss": score(recipe.eval_characters)},
        eval_every=recipe.eval_every,
        log_every=50,
        progress=progress,
        desc=TITLES[kind],
        checkpoint=out_dir / f"{name}.ckpt",
        checkpoint_every=recipe.eval_every,
        resume=True,
        fingerprint={"recipe": repr(recipe), "kind": kind},
    )
    seconds_this_session = time.perf_counter() - start
    validation, on_slice = score(None), score(SLICE)
    weights = out_dir / f"{name}.safetensors"
    _save_weights(model, weights)
    scored = SCORES[kind]
    read = recipe.steps * recipe.batch_size * recipe.block_size  # tokens
    record = {
        "name": TITLES[kind],
        "kind": kind,
        "lmbook": lmbook.__version__,
        "recipe": asdict(recipe),
        "config": asdict(model.config),
        "params": model.num_params(),
        "vocab": tokenizer.tokens if tokenizer else vocab.itos,
        **({"tokenizer": tokenizer.to_record()} if tokenizer else {}),
        "data": {
            "train": "data.shakespeare('train'): the 32 training plays",
            "train_characters": len(train_text),
            "train_sha256": _sha256(train_text.encode()),
            "validation": "data.shakespeare('validation'): "
            + ", ".join(data.split_plays("validation")),
            "validation_characters": len(valid_ids),
        },
        "steps": recipe.steps,
        "characters_read": round(read * len(train_text) / len(train_ids)),
        **({"tokens_read": read} if tokenizer else {}),
        "seconds": round(history[-1]["seconds"], 1),
        "seconds_this_session": round(seconds_this_session, 1),
        "device": _describe(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "code_sha256": code,
        f"validation_{scored}": round(validation, 4),
        f"validation_first_{SLICE}": round(on_slice, 4),
        "validation_scoring": VALIDATION_SCORING[kind],
        "curve": [
            {"step": h["step"], "val_loss": round(h["val_loss"], 4)}
            for h in history
            if "val_loss" in h
        ],
        "size_choice": SIZE_CHOICE,
        "weights_sha256": _sha256(weights.read_bytes()),
        "command": COMMANDS[kind]
        + (f" --steps {recipe.steps}" if recipe.steps != Recipe.steps else ""),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


VALIDATION_SCORING = {
    "gpt": "nats_per_token: windows of block_size, stride block_size/2",
    "encoder": "masked_lm_nats: windows of block_size that do not overlap, 15% of the "
    "positions chosen and corrupted by BERT's rule with seed 0; nats per chosen position",
    "subword": "nats_per_char: the text's BPE tokens, windows of block_size tokens, stride "
    "block_size/2; the nats of every token after the first over the characters they spell",
}


def code_modules(kind: str = "gpt") -> list[Any]:
    """The modules whose code defines and trains the model of `kind`, and reads its data:
    transformer, training, here, attention (the blocks' attention), data and text (the
    plays and their characters), lmbook.encoder for the encoder, lmbook.bpe for the
    subword GPT."""
    check_choice("kind", kind, NAMES)
    here = sys.modules[__name__]
    modules = [transformer, training, here, attention, data, text]
    return modules + {"gpt": [], "encoder": [encoder], "subword": [bpe]}[kind]


def code_sha256(kind: str = "gpt") -> str:
    """A hash of the source of `code_modules(kind)`. Records made before 2026-12-07
    hashed transformer, training and this module (and the encoder) only."""
    sources = [inspect.getsource(m) for m in code_modules(kind)]
    return _sha256("\n".join(sources).encode())


def book_gpt_record(folder: str | Path = WEIGHTS_DIR, kind: str = "gpt") -> dict[str, Any]:
    """The record of the run that made the shipped weights of `kind` (a dict)."""
    check_choice("kind", kind, NAMES)
    path = Path(folder) / f"{NAMES[kind]}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: {TITLES[kind]} ships with lmbook (reinstall it), or "
            f"make it with `{COMMANDS[kind]}`"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is damaged (not JSON: {error}); reinstall lmbook") from None


def load_book_gpt(
    device: torch.device | str = "cpu", folder: str | Path = WEIGHTS_DIR
) -> tuple[GPT, Vocab]:
    """The book's GPT in eval mode on `device`, and its character vocabulary.

    The weights file must be the one its record describes (same sha256): a damaged or
    replaced file is refused by name, never half-used.
    """
    return _load("gpt", device, folder)


def load_book_encoder(
    device: torch.device | str = "cpu", folder: str | Path = WEIGHTS_DIR
) -> tuple[Encoder, Vocab]:
    """The book's encoder in eval mode on `device`, and its character vocabulary (the
    GPT's); its `[MASK]` id is len(vocab). Checked against its record like the GPT."""
    return _load("encoder", device, folder)


def load_book_subword_gpt(
    device: torch.device | str = "cpu", folder: str | Path = WEIGHTS_DIR
) -> tuple[GPT, BPE]:
    """The book's subword GPT in eval mode on `device`, and its BPE tokenizer (rebuilt
    from the record, which must match the recorded tokens). Checked like the GPT."""
    return _load("subword", device, folder)


def _load(kind: str, device: torch.device | str, folder: str | Path) -> tuple[Any, Any]:
    from safetensors.torch import load_file

    check_device_available("device", device)
    record = book_gpt_record(folder, kind)
    check_weights_record(Path(folder) / f"{NAMES[kind]}.json", record, kind)
    command = record.get("command", COMMANDS[kind])
    path = Path(folder) / f"{NAMES[kind]}.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall lmbook")
    found = _sha256(path.read_bytes())
    if found != record["weights_sha256"]:
        raise ValueError(
            f"{path} is not the file its record describes (sha256 {found[:12]}…, "
            f"recorded {record['weights_sha256'][:12]}…): damaged or replaced; "
            f"reinstall lmbook or re-run `{command}`"
        )
    if kind == "subword":
        vocab = BPE.from_record(record["tokenizer"], f"{path.with_suffix('.json')}'s tokenizer")
        rebuilt = vocab.tokens
    else:
        vocab = Vocab(record["vocab"][1:])  # itos[0] is <unk>, which Vocab puts first
        rebuilt = vocab.itos
    if rebuilt != record["vocab"]:
        raise ValueError(f"{path}: the recorded vocabulary does not rebuild; reinstall lmbook")
    model = MODELS[kind](GPTConfig(**record["config"]))
    try:
        model.load_state_dict(_untie(load_file(str(path))))
    except (RuntimeError, KeyError) as error:
        raise ValueError(f"{path} does not fit its record's model: {error}") from None
    return model.to(device).eval(), vocab


def _save_weights(model: GPT, path: Path) -> None:
    """Write the weights (the tied output layer once) to a temporary file, then rename."""
    from safetensors.torch import save_file

    state = {
        k: v.detach().cpu().contiguous()
        for k, v in model.state_dict().items()
        if k != "lm_head.weight"  # the token embedding, tied
    }
    temporary = path.with_suffix(".tmp")
    save_file(state, str(temporary), metadata={"format": "pt", "lmbook": lmbook.__version__})
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def _untie(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {**state, "lm_head.weight": state["tok_emb.weight"]}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _describe(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lmbook.pretrain", description="Train the book's GPT (or encoder)."
    )
    parser.add_argument("--model", choices=sorted(NAMES), default="gpt")
    parser.add_argument("--steps", type=int, default=Recipe.steps)
    parser.add_argument("--out", default=str(WEIGHTS_DIR))
    parser.add_argument("--device", default=None, help="default: lmbook.device()")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    check_int("steps", args.steps)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else runtime.device()
    warmup = min(Recipe.warmup_steps, max(1, args.steps // 10))
    recipe = Recipe(steps=args.steps, warmup_steps=warmup, eval_every=min(250, args.steps))
    record = pretrain(recipe, args.out, device, kind=args.model)
    scored = SCORES[args.model]
    print(
        f"{record['name']}: {record['params']:,} parameters, {record['steps']:,} steps, "
        f"{record['seconds']:,.0f} s on {record['device']}: "
        f"{record[f'validation_{scored}']:.3f} {scored.replace('_', ' ')} on the "
        "validation plays"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
