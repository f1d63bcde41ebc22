"""Chapter 7's fair experiment (issue 17): which model names a play's genre best, and
with how many labels, when every model reads the same text.

The task is chapter 7's: four spoken lines of a play, labelled with the play's genre,
split by play (`lmbook.data.genre_passages`). What makes the comparison fair:

- **the same text for every model**: each passage is cut once, to `Recipe.context`
  characters (the book's GPT's context, 256, holds every passage whole), and that text
  is what the bag-of-words baseline reads and what the GPT's ids encode;
- **the same labelled passages for every model**: for each label count n and seed, one
  draw of n training passages (stratified by genre), shared by all the methods;
- **settings chosen on the validation plays only**: every method has a small grid
  (`GRIDS`), scored on the validation plays with the first seed's draw; the best is
  kept for all seeds, and the test plays only report;
- **the head on standardised features** (`finetune.StandardisedLinear`) for the probe,
  fine-tuning and LP-FT alike;
- **several seeds**, with per-play scores and the predicted-class histogram kept.

The methods: `bow` (tf-idf words and a class-balanced logistic regression), `probe` (the
same logistic regression on the frozen GPT's standardised, mean-pooled final states),
`ft` (fine-tuning from a random head) and `lpft` (the probe's head first, then
fine-tuning: Kumar et al., 2022; the head is the probe's at the C the probe chooses on
validation for the same label count, so LP-FT's grid is over the rate alone). To fit a
CPU budget, `ft` and `lpft` train the top `Recipe.tune_blocks` block(s), the final
LayerNorm and the head, with the blocks below frozen and their output computed once per
passage (`body_states`, `TopClassifier`).
`scratch` is a GPT trained on the labels alone: a small one (`Recipe.scratch_*`, the
old chapter's size), randomly initialised, every part trained, by the same recipe
(standardised head, class-balanced loss, the same steps; its rate chosen on
validation); it reads the characters, not the book's GPT.

Run it: ``python -m lmbook.genre_experiment --out experiments/ch7`` (see `main`); it
writes `results.json` (every run, every choice, the machine, the code's hash, the
seconds) and `results_tables.md` after each step, so a stopped run keeps what it
finished. `--body random` probes the same GPT untrained: what pre-training adds.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lmbook import data
from lmbook.encoder import Encoder, EncoderBlock, masked_lm_nats
from lmbook.finetune import (
    PAD_ID,
    GPTClassifier,
    PassageBatches,
    StandardisedLinear,
    encode_passages,
    fine_tune_classifier,
    pool_states,
    predict,
    standardise_head,
)
from lmbook.metrics import accuracy, macro_f1
from lmbook.text import Vocab
from lmbook.training import param_groups, train, warmup_cosine_schedule
from lmbook.transformer import GPT, GPTConfig
from lmbook.validate import (
    check_choice,
    check_computed,
    check_int,
    check_label_count,
    check_number,
    check_predicted_classes,
    check_same_length,
    check_split_block,
    check_type,
)

METHODS = ("bow", "probe", "ft", "lpft", "scratch")
BODY_METHODS = ("probe", "ft", "lpft")  # the methods that read the book's GPT
GRIDS: dict[str, tuple[float, ...]] = {
    "bow": (0.1, 0.3, 1.0, 3.0, 10.0),  # C of the logistic regression
    "probe": (1e-4, 1e-3, 0.01, 0.1, 1.0),  # C of the logistic regression
    "ft": (3e-5, 1e-4, 3e-4, 1e-3, 3e-3),  # the blocks' rate; the head's: head_ratio ×
    "lpft": (3e-5, 1e-4, 3e-4, 1e-3, 3e-3),
    "scratch": (3e-4, 1e-3, 3e-3, 1e-2),
}
SETTING_NAMES = {"bow": "C", "probe": "C", "ft": "body_lr", "lpft": "body_lr", "scratch": "lr"}


@dataclass(frozen=True)
class Recipe:
    """The experiment's fixed settings (the grids in GRIDS are chosen on validation)."""

    context: int = 256  # characters every model reads of a passage
    batch_size: int = 16
    passes: int = 2  # over the n labelled passages ...
    min_steps: int = 50  # ... with at least this many steps
    head_ratio: float = 10.0  # the head's learning rate over the blocks'
    tune_blocks: int = 1  # top blocks trained by ft and lpft (the rest frozen)
    weight_decay: float = 0.1
    validation_every: int = 2  # score every k-th validation passage (cost)
    feature_batch: int = 64
    scratch_layers: int = 2  # the GPT trained on the labels alone ...
    scratch_heads: int = 4
    scratch_embd: int = 64  # ... the old chapter's size (about 0.12M parameters)


# --- the task: one text per passage, shared by every model -----------------------------


@dataclass
class GenreTask:
    """The genre task at one context: per split, the texts, class ids and plays."""

    genres: tuple[str, ...]
    texts: dict[str, list[str]]
    labels: dict[str, np.ndarray]  # (N,) class ids into genres
    plays: dict[str, list[str]]


def task_from_passages(
    passages: dict[str, Sequence[data.Passage]],
    context: int,
    validation_every: int = 1,
) -> GenreTask:
    """Cut every passage to its first `context` characters, once, for every model.

    Validation keeps every `validation_every`-th passage; the genres are the sorted
    genres of the training passages.
    """
    check_int("context", context)
    check_int("validation_every", validation_every)
    genres = tuple(sorted({p.genre for p in passages["train"]}))
    task = GenreTask(genres, {}, {}, {})
    for split, ps in passages.items():
        ps = list(ps)[:: validation_every if split == "validation" else 1]
        task.texts[split] = [p.text[:context] for p in ps]
        task.labels[split] = np.array([genres.index(p.genre) for p in ps])
        task.plays[split] = [p.play for p in ps]
    return task


def genre_task(context: int = 256, validation_every: int = 2, every: int = 1) -> GenreTask:
    """Chapter 7's genre task (lmbook.data's split by play), cut to `context`; every
    k-th passage of each split only (a quick check), if `every` is k > 1."""
    check_int("every", every)
    splits = ("train", "validation", "test")
    return task_from_passages(
        {s: data.genre_passages(s)[::every] for s in splits}, context, validation_every
    )


def draw_labelled(labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """n training rows drawn at random, stratified by class; None: every row.

    Each class k gets its share of n (largest remainders, at least one passage), drawn
    from a permutation of its rows seeded with `seed`. Returns sorted row indices.

    One seed's draws nest (the draw of n is inside the draw of m > n) wherever no
    class's share shrinks from n to m. Largest remainders do not promise that (on the
    genre task's training labels a share shrinks from n - 1 to n at 123 counts below
    4,000, 300 among them); the counts the experiment uses, 30, 100, 300, 1,000 and
    3,000, nest (tested).
    """
    labels = np.asarray(labels)
    if n is None:
        return np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    check_label_count(n, len(classes), len(labels))
    exact = n * counts / counts.sum()
    quota = np.maximum(1, np.floor(exact).astype(int))
    for k in np.argsort(-(exact - np.floor(exact))):  # largest remainders first
        if quota.sum() >= n:
            break
        quota[k] += 1
    while quota.sum() > n:  # the at-least-one rule overshot: take from the largest
        quota[np.argmax(quota)] -= 1
    rng = np.random.default_rng(seed)
    rows = [
        rng.permutation(np.flatnonzero(labels == c))[:q]
        for c, q in zip(classes, quota, strict=True)
    ]
    return np.sort(np.concatenate(rows))


def inverse_frequency_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    """N / (K N_k) for class k (scikit-learn's 'balanced'); absent classes weigh 1."""
    counts = np.bincount(labels, minlength=n_classes).astype(float)
    weights = np.where(counts > 0, len(labels) / (n_classes * np.maximum(counts, 1)), 1.0)
    return torch.tensor(weights, dtype=torch.float)


# --- scores: macro-F1, accuracy, per play, the predicted-class histogram --------------


def score(task: GenreTask, split: str, predicted: Sequence[int]) -> dict[str, Any]:
    """Macro-F1, accuracy and the predicted-class histogram of predictions on a split,
    and per play: its genre, passages, correct answers, recall and histogram."""
    y = task.labels[split]
    predicted = np.asarray(predicted)
    check_same_length(predicted=predicted, labels=y)
    check_predicted_classes(predicted, len(task.genres))

    def names(rows: np.ndarray) -> dict[str, int]:  # the histogram, by genre name
        return dict(sorted(Counter(task.genres[int(k)] for k in predicted[rows]).items()))

    plays = task.plays[split]
    per_play = {}
    for play in dict.fromkeys(plays):  # in order of appearance
        rows = np.array([p == play for p in plays])
        correct = int((predicted[rows] == y[rows]).sum())
        per_play[play] = {
            "genre": task.genres[int(y[rows][0])],
            "passages": int(rows.sum()),
            "correct": correct,
            "recall": correct / int(rows.sum()),
            "predicted": names(rows),
        }
    classes = list(range(len(task.genres)))
    return {
        "macro_f1": macro_f1(y.tolist(), predicted.tolist(), labels=classes),
        "accuracy": accuracy(y.tolist(), predicted.tolist()),
        "predicted": names(np.ones(len(y), dtype=bool)),
        "per_play": per_play,
    }


# --- the baseline and the probe: logistic regressions ----------------------------------


def bow_fit(texts: Sequence[str], labels: np.ndarray, C: float) -> tuple[Any, Any]:
    """tf-idf words of `texts` and a class-balanced logistic regression at C on them."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=2_000)
    return vectorizer, model.fit(vectorizer.fit_transform(texts), labels)


def bow_predict(fitted: tuple[Any, Any], texts: Sequence[str]) -> np.ndarray:
    """The class ids (N,) that a fitted baseline predicts for texts."""
    vectorizer, model = fitted
    return model.predict(vectorizer.transform(texts))


def probe_head(
    features: torch.Tensor, labels: np.ndarray, C: float, n_classes: int
) -> StandardisedLinear:
    """A StandardisedLinear head: standardised on `features` (n, C), then the weights of
    a class-balanced logistic regression at C fitted to convergence on them."""
    from sklearn.linear_model import LogisticRegression

    head = StandardisedLinear(features.size(1), n_classes).fit(features)
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=2_000)
    with torch.no_grad():
        model.fit(head.standardise(features).double().numpy(), labels)
        weight = torch.zeros(n_classes, features.size(1), dtype=torch.float64)
        bias = torch.full((n_classes,), -1e4, dtype=torch.float64)  # a class never seen
        weight[model.classes_] = torch.tensor(model.coef_)
        bias[model.classes_] = torch.tensor(model.intercept_)
        if len(model.classes_) == 2:  # scikit-learn's binary case: one row
            weight[model.classes_] = torch.tensor(np.vstack([-model.coef_, model.coef_]))
            bias[model.classes_] = torch.tensor([-model.intercept_[0], model.intercept_[0]])
        head.weight.copy_(weight.float())
        head.bias.copy_(bias.float())
    return head


@torch.no_grad()
def probe_predict(head: nn.Module, features: torch.Tensor) -> np.ndarray:
    """The class ids (N,) a head predicts from features (N, C)."""
    check_computed("features", features)
    return head(features).argmax(dim=-1).numpy()


# --- the GPT's body, run once; its top block(s) trained ---------------------------------


@torch.no_grad()
def body_states(
    gpt: GPT,
    ids: torch.Tensor,
    split: int,
    keep: np.ndarray | None = None,
    batch_size: int = 64,
) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """The frozen GPT's mean-pooled final states (N, C) of the passages ids (N, T), and
    the input of block `split` (T_i, C) of the rows in `keep` (a dict by row).

    The pooled states equal `GPTClassifier(gpt, ...).features` (for an
    `lmbook.encoder.Encoder`, `EncoderClassifier`'s: the padding kept out of its
    attention); the block inputs are what `TopClassifier` reads, so the blocks below
    `split` run once per passage.
    """
    check_type("gpt", gpt, GPT, "an lmbook GPT")
    check_split_block(split, gpt.config.n_layer)
    was_training = gpt.training
    gpt.eval()
    kept = set() if keep is None else {int(i) for i in keep}
    lengths = (ids != PAD_ID).sum(dim=1)  # (N,)
    pooled, inputs = [], {}
    device = next(gpt.parameters()).device
    try:
        for start in range(0, len(ids), batch_size):
            T = int(lengths[start : start + batch_size].max())
            idx = ids[start : start + batch_size, :T].to(device)  # (B, T)
            real = idx != PAD_ID
            x = gpt.embed(idx.masked_fill(~real, 0))  # (B, T, C)
            for i, block in enumerate(gpt.blocks):
                if i == split:
                    for b in range(len(idx)):
                        if start + b in kept:
                            inputs[start + b] = x[b, : lengths[start + b]].cpu().clone()
                x = run_block(block, x, real)
            pooled.append(pool_states(gpt.ln_f(x), real).cpu())
    finally:
        gpt.train(was_training)
    return torch.cat(pooled), inputs


def run_block(block: nn.Module, x: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """One block of a GPT or of an encoder, x (B, T, C) -> (B, T, C). An encoder's block
    reads both ways, so it is told where the padding is (real (B, T) False); a GPT's
    causal block never reads the positions after a passage's end."""
    if isinstance(block, EncoderBlock):
        return block(x, real)
    x, _ = block(x)  # and the cache, not kept
    return x


def pad_states(states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack states (T_i, C) into x (B, T, C), zero after each end, and real (B, T)."""
    T = max(len(s) for s in states)
    x = torch.zeros(len(states), T, states[0].size(1))
    real = torch.zeros(len(states), T, dtype=torch.bool)
    for b, s in enumerate(states):
        x[b, : len(s)], real[b, : len(s)] = s, True
    return x, real


class TopClassifier(nn.Module):
    """The top blocks of a GPT (from block `split`), its final LayerNorm, mean pooling
    and a head: a GPTClassifier whose frozen lower blocks have already run.

    forward(x, real, targets) reads the input x (B, T, C) of block `split` and real
    (B, T), True on each passage's characters.
    """

    def __init__(
        self,
        gpt: GPT,
        split: int,
        head: nn.Linear,
        class_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        check_split_block(split, gpt.config.n_layer)
        self.body = nn.ModuleDict(
            {"blocks": copy.deepcopy(gpt.blocks[split:]), "ln_f": copy.deepcopy(gpt.ln_f)}
        )
        self.head = copy.deepcopy(head)
        self.register_buffer("class_weights", class_weights)

    def forward(
        self, x: torch.Tensor, real: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits (B, K), the class-weighted cross-entropy or None) from the input x
        (B, T, C) of block `split`; real (B, T) is True on the passages' characters."""
        for block in self.body["blocks"]:
            x = run_block(block, x, real)  # (B, T, C)
        logits = self.head(pool_states(self.body["ln_f"](x), real))  # (B, K)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits, targets, weight=self.class_weights)


class StateBatches:
    """Endless shuffled batches (x, real, labels) of cached block inputs, reproducible:
    each iteration restarts a generator seeded with `seed` (as PassageBatches)."""

    def __init__(
        self, states: Sequence[torch.Tensor], labels: np.ndarray, batch_size: int, seed: int
    ) -> None:
        check_int("batch_size", batch_size, high=len(states))
        check_same_length(states=states, labels=labels)
        self.states, self.labels = list(states), torch.as_tensor(labels).long()
        self.batch_size, self.seed = batch_size, seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed)
        N, B = len(self.states), self.batch_size
        while True:
            order = torch.randperm(N, generator=generator).tolist()
            for start in range(0, N - B + 1, B):
                rows = order[start : start + B]
                yield (*pad_states([self.states[i] for i in rows]), self.labels[rows])


@torch.no_grad()
def top_predict(
    model: TopClassifier, states: Sequence[torch.Tensor], batch_size: int = 64
) -> np.ndarray:
    """The predicted class ids (N,) of cached block inputs, in eval mode, in batches."""
    was_training = model.training
    model.eval()
    out = []
    order = np.argsort([len(s) for s in states])  # similar lengths share a batch
    try:
        for start in range(0, len(states), batch_size):
            rows = order[start : start + batch_size]
            logits, _ = model(*pad_states([states[i] for i in rows]))
            out.append(logits.argmax(dim=-1))
    finally:
        model.train(was_training)
    predicted = np.empty(len(states), dtype=np.int64)
    predicted[order] = torch.cat(out).numpy()
    return predicted


def tune_top(
    model: TopClassifier,
    states: Sequence[torch.Tensor],
    labels: np.ndarray,
    body_lr: float,
    recipe: Recipe,
    seed: int,
) -> list[dict[str, float]]:
    """Fine-tune model's blocks (body_lr) and head (head_ratio × body_lr) on the cached
    inputs: AdamW, warm-up over a tenth of the steps, cosine decay, clipping at 1."""
    pass_steps = math.ceil(recipe.passes * len(states) / recipe.batch_size)
    steps = max(recipe.min_steps, pass_steps)
    rates = ((model.body, body_lr), (model.head, recipe.head_ratio * body_lr))
    groups = [
        group | {"lr": lr}
        for part, lr in rates
        for group in param_groups(part, recipe.weight_decay)
        if group["params"]
    ]
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.95))
    schedule = warmup_cosine_schedule(
        optimizer, warmup_steps=max(1, steps // 10), total_steps=steps
    )
    batch_size = min(recipe.batch_size, len(states))
    batches = StateBatches(states, labels, batch_size, seed)
    return train(
        model,
        batches,
        optimizer,
        steps=steps,
        device="cpu",
        clip=1.0,
        scheduler=schedule,
        progress=False,
    )


def train_scratch(
    ids: torch.Tensor,
    labels: np.ndarray,
    n_classes: int,
    vocab_size: int,
    lr: float,
    recipe: Recipe,
    seed: int,
) -> GPTClassifier:
    """A small GPT classifier (recipe.scratch_*) trained from random weights on the
    labelled passages ids (N, T) alone: everything at `lr`, the head at head_ratio ×
    lr, on standardised features (fitted at initialisation), with tune_top's loss,
    steps and schedule. Returns it in eval mode."""
    torch.manual_seed(seed)  # the weights; the batches draw from `seed` too
    config = GPTConfig(
        vocab_size=vocab_size,
        block_size=recipe.context,
        n_layer=recipe.scratch_layers,
        n_head=recipe.scratch_heads,
        n_embd=recipe.scratch_embd,
    )
    weights = inverse_frequency_weights(labels, n_classes)
    model = GPTClassifier(GPT(config), n_classes, class_weights=weights)
    standardise_head(model, ids, recipe.feature_batch)
    steps = max(recipe.min_steps, math.ceil(recipe.passes * len(ids) / recipe.batch_size))
    batch = min(recipe.batch_size, len(ids))
    batches = PassageBatches(ids, torch.as_tensor(labels), batch, seed)
    fine_tune_classifier(
        model,
        batches,
        steps=steps,
        body_lr=lr,
        head_lr=recipe.head_ratio * lr,
        device="cpu",
        weight_decay=recipe.weight_decay,
    )
    return model.eval()


# --- the experiment ------------------------------------------------------------------


@dataclass
class Inputs:
    """What the GPT-based methods read: pooled states and cached block inputs by split;
    for `scratch`, every split's padded ids and the vocabulary's size."""

    pooled: dict[str, torch.Tensor]
    states: dict[str, dict[int, torch.Tensor]]
    ids: dict[str, torch.Tensor] = field(default_factory=dict)
    vocab_size: int = 0


def gpt_inputs(
    task: GenreTask,
    gpt: GPT,
    vocab: Vocab,
    recipe: Recipe,
    train_rows: np.ndarray | None,
    pooled_rows: np.ndarray | None = None,
) -> Inputs:
    """Encode every split's texts (the task cut them to the context) and run the frozen
    body once; block inputs are kept for all held-out rows and train_rows. Training
    rows outside pooled_rows (None: all) are not read: their pooled states are NaN."""
    split = gpt.config.n_layer - recipe.tune_blocks
    pooled, states = {}, {}
    for name, texts in task.texts.items():
        ids, _ = encode_passages(texts, vocab, recipe.context)
        rows = np.arange(len(ids))
        if name == "train" and pooled_rows is not None:
            rows = np.union1d(pooled_rows, [] if train_rows is None else train_rows).astype(int)
        keep = rows if name != "train" else [] if train_rows is None else train_rows
        local = np.flatnonzero(np.isin(rows, keep))  # kept rows, as positions in rows
        part, kept = body_states(gpt, ids[rows], split, local, recipe.feature_batch)
        pooled[name] = torch.full((len(ids), part.size(1)), math.nan)
        pooled[name][rows] = part
        states[name] = {int(rows[i]): v for i, v in kept.items()}
    return Inputs(pooled, states)


Predictor = Callable[[str], np.ndarray]  # a split's name -> its predicted class ids


def run_method(
    method: str,
    setting: float,
    task: GenreTask,
    rows: np.ndarray,
    seed: int,
    gpt: GPT | None,
    inputs: Inputs | None,
    recipe: Recipe,
    head_C: float | None = None,
) -> Predictor:
    """Train one method at one setting on the labelled training rows; return what
    predicts a split's class ids. The only labels it reads are those of `rows`.

    lpft starts from the probe's head at C = head_C (`probe_choice`), its setting being
    the blocks' rate; the other methods ignore it.
    """
    check_choice("method", method, METHODS)
    if method == "lpft":
        check_number("head_C", head_C, low=0, low_open=True)
    y = task.labels["train"][rows]
    if method == "bow":
        texts = [task.texts["train"][i] for i in rows]
        fitted = bow_fit(texts, y, setting)
        return lambda split: bow_predict(fitted, task.texts[split])
    K = len(task.genres)
    if method in BODY_METHODS:
        check_computed("the pooled states of the labelled rows", inputs.pooled["train"][rows])
    if method == "scratch":
        model = train_scratch(
            inputs.ids["train"][rows], y, K, inputs.vocab_size, setting, recipe, seed
        )
        return lambda split: predict(model, inputs.ids[split], recipe.feature_batch).numpy()
    if method == "ft":
        torch.manual_seed(seed)  # the random head
        head = StandardisedLinear(gpt.config.n_embd, K).fit(inputs.pooled["train"][rows])
    else:  # the probe at its C; LP-FT's head: the probe's, at the probe's C
        C = setting if method == "probe" else head_C
        head = probe_head(inputs.pooled["train"][rows], y, C, K)
    if method == "probe":
        return lambda split: probe_predict(head, inputs.pooled[split])
    split = gpt.config.n_layer - recipe.tune_blocks
    model = TopClassifier(gpt, split, head, inverse_frequency_weights(y, K))
    train_states = [inputs.states["train"][int(i)] for i in rows]
    torch.manual_seed(seed)  # the top's dropout, if it has any (the book's GPT: none)
    tune_top(model, train_states, y, setting, recipe, seed)
    return lambda name: top_predict(
        model, [inputs.states[name][i] for i in range(len(task.labels[name]))]
    )


def choose(val_scores: dict[float, float]) -> float:
    """The setting with the highest validation score (the first, on a tie)."""
    best = max(val_scores.values())
    return next(s for s, v in val_scores.items() if v == best)


def probe_choice(
    task: GenreTask,
    rows: np.ndarray,
    seed: int,
    inputs: Inputs,
    recipe: Recipe,
    grid: Sequence[float],
) -> float:
    """The probe's C on the labelled rows: the grid point with the best validation
    macro-F1 (what the probe's own cell chooses on the same draw and grid)."""
    val = {
        C: score(
            task,
            "validation",
            run_method("probe", C, task, rows, seed, None, inputs, recipe)("validation"),
        )["macro_f1"]
        for C in grid
    }
    return choose(val)


def run_experiment(
    task: GenreTask,
    gpt: GPT | None,
    vocab: Vocab | None,
    sizes: Sequence[int | None],
    seeds: Sequence[int],
    methods: Sequence[str] = METHODS,
    tune_sizes: Sequence[int | None] | None = None,
    recipe: Recipe = Recipe(),
    grids: dict[str, tuple[float, ...]] = GRIDS,
    save: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every method at every label count (None: all) and seed; returns the results.

    For each (method, n), every setting of the method's grid is trained on the first
    seed's draw and scored on the validation plays; the best is run with the other
    seeds; the chosen runs are then scored on validation and test. ft and lpft run
    only at tune_sizes (default: all sizes); lpft's head is the probe's at the C chosen
    from grids["probe"] on the same draw. `save(results)` runs after each (method, n).
    """
    for method in methods:
        check_choice("method", method, METHODS)
    tune_sizes = list(sizes if tune_sizes is None else tune_sizes)
    labels = task.labels["train"]
    draws = {(n, s): draw_labelled(labels, n, s) for n in sizes for s in seeds}
    draws |= {(n, s): draw_labelled(labels, n, s) for n in tune_sizes for s in seeds}
    results: dict[str, Any] = {"runs": [], "choices": [], "seconds": {}}
    inputs = None
    if set(methods) & set(BODY_METHODS):
        start = time.perf_counter()
        tuned = {"ft", "lpft"} & set(methods)
        rows = [draws[n, s] for n in tune_sizes for s in seeds] if tuned else []
        keep = np.unique(np.concatenate(rows)) if rows else None
        drawn = None if None in sizes else np.unique(np.concatenate(list(draws.values())))
        inputs = gpt_inputs(task, gpt, vocab, recipe, keep, drawn)
        results["seconds"]["body_states"] = time.perf_counter() - start
        count = sum(int((~v.isnan().any(dim=1)).sum()) for v in inputs.pooled.values())
        log(f"body states of {count:,} passages: {time.perf_counter() - start:.0f} s")
    if "scratch" in methods:
        check_type("vocab", vocab, Vocab, "a lmbook Vocab (the scratch GPT's characters)")
        inputs = inputs or Inputs({}, {})
        inputs.ids = {
            s: encode_passages(t, vocab, recipe.context)[0] for s, t in task.texts.items()
        }
        inputs.vocab_size = len(vocab)
    cells = [(m, n) for m in methods if m in ("bow", "probe", "scratch") for n in sizes]
    cells += [(m, n) for n in tune_sizes for m in methods if m in ("ft", "lpft")]
    for method, n in cells:  # the cheap methods first; then by label count
        results = run_cell(
            method,
            n,
            task,
            draws,
            seeds,
            gpt,
            inputs,
            recipe,
            grids[method],
            results,
            log,
            grids.get("probe", GRIDS["probe"]),
        )
        if save is not None:
            save(results)
    return results


def run_cell(
    method: str,
    n: int | None,
    task: GenreTask,
    draws: dict[tuple[int | None, int], np.ndarray],
    seeds: Sequence[int],
    gpt: GPT | None,
    inputs: Inputs | None,
    recipe: Recipe,
    grid: Sequence[float],
    results: dict[str, Any],
    log: Callable[[str], None],
    probe_grid: Sequence[float] = GRIDS["probe"],
) -> dict[str, Any]:
    """One method at one label count: the grid on the first seed, then every seed.

    For lpft, the probe's C is chosen first (`probe_choice`, from probe_grid on the
    first seed's draw) and its head starts every run; it is recorded as head_C."""
    began = time.perf_counter()
    first = seeds[0]
    head = {}
    if method == "lpft":
        head["head_C"] = probe_choice(task, draws[n, first], first, inputs, recipe, probe_grid)
    fitted = {
        setting: run_method(
            method, setting, task, draws[n, first], first, gpt, inputs, recipe, **head
        )
        for setting in grid
    }
    val = {s: score(task, "validation", f("validation"))["macro_f1"] for s, f in fitted.items()}
    chosen = choose(val)
    name, count = SETTING_NAMES[method], n or "all"
    results["choices"].append(
        {
            "method": method,
            "label_count": count,
            name: chosen,
            **head,
            "validation_macro_f1": {f"{s:g}": v for s, v in val.items()},
        }
    )
    for seed in seeds:
        predictor = (
            fitted[chosen]
            if seed == first
            else run_method(method, chosen, task, draws[n, seed], seed, gpt, inputs, recipe, **head)
        )
        results["runs"].append(
            {
                "method": method,
                "label_count": count,
                "n": len(draws[n, seed]),
                "seed": seed,
                name: chosen,
                **head,
                "rows_sha256": hashlib.sha256(draws[n, seed].tobytes()).hexdigest()[:16],
                "validation": score(task, "validation", predictor("validation")),
                "test": score(task, "test", predictor("test")),
            }
        )
    seconds = time.perf_counter() - began
    results["seconds"][f"{method}@{count}"] = seconds
    f1 = [r["test"]["macro_f1"] for r in results["runs"][-len(seeds) :]]
    over = f"mean of {len(seeds)} seeds" if len(seeds) > 1 else "one fit"
    log(
        f"{method} at {count} labels: {name}={chosen:g}, test macro-F1 "
        f"{np.mean(f1):.3f} ({over}), {seconds:.0f} s"
    )
    return results


# --- the record: tables, the machine, the code's hash, the command ------------------


def summary_table(results: dict[str, Any], split: str = "test") -> str:
    """A markdown table: label counts × methods, macro-F1 mean ± sample std over seeds
    (and the number of runs)."""
    runs = results["runs"]
    methods = list(dict.fromkeys(r["method"] for r in runs))
    counts = list(dict.fromkeys(r["label_count"] for r in runs))
    counts.sort(key=lambda c: math.inf if c == "all" else c)
    lines = ["| labels | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for c in counts:
        cells = []
        for m in methods:
            f1 = [r[split]["macro_f1"] for r in runs if r["method"] == m and r["label_count"] == c]
            cells.append(
                f"{np.mean(f1):.3f} ± {np.std(f1, ddof=1) if len(f1) > 1 else 0:.3f} ({len(f1)})"
                if f1
                else "—"
            )
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_play_table(results: dict[str, Any], label_count: int | str) -> str:
    """A markdown table: test plays × methods, recall mean over seeds, at one count."""
    runs = [r for r in results["runs"] if r["label_count"] == label_count]
    methods = list(dict.fromkeys(r["method"] for r in runs))
    plays = list(runs[0]["test"]["per_play"]) if runs else []
    lines = ["| play (genre) | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for play in plays:
        genre = runs[0]["test"]["per_play"][play]["genre"]
        cells = []
        for m in methods:
            recall = [r["test"]["per_play"][play]["recall"] for r in runs if r["method"] == m]
            cells.append(
                f"{np.mean(recall):.2f} ± {np.std(recall, ddof=1) if len(recall) > 1 else 0:.2f}"
            )
        lines.append(f"| {play} ({genre}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def histogram_table(results: dict[str, Any], label_count: int | str, genres: Sequence[str]) -> str:
    """A markdown table: methods × predicted genre, test passages summed over seeds."""
    runs = [r for r in results["runs"] if r["label_count"] == label_count]
    methods = list(dict.fromkeys(r["method"] for r in runs))
    lines = ["| method | " + " | ".join(genres) + " |", "|---" * (len(genres) + 1) + "|"]
    for m in methods:
        total = Counter()
        for r in runs:
            if r["method"] == m:
                total.update(r["test"]["predicted"])
        lines.append(f"| {m} | " + " | ".join(str(total[g]) for g in genres) + " |")
    return "\n".join(lines)


CODE_FILES = ("genre_experiment.py", "finetune.py", "transformer.py", "training.py")
CODE_FILES += ("encoder.py", "attention.py", "data.py", "metrics.py", "text.py")


def code_sha256() -> str:
    """sha256 of the code the results depend on: CODE_FILES, in lmbook (this module, the
    models, their training, the data, the scores). Records made before the encoder body
    hashed the first four files only."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for name in CODE_FILES:
        digest.update((here / name).read_bytes())
    return digest.hexdigest()


@torch.no_grad()
def pretraining_overlap(gpt: GPT, vocab: Vocab, characters: int = 20_000) -> dict[str, Any]:
    """Which held-out genre plays the book's GPT (or encoder: the same plays) read
    while pre-training, and its nats/char on the first `characters` of each genre test
    play (a read play scores lower: what it memorised); for an encoder, its masked-LM
    nats per scored character (`masked_lm_nats`, seed 0)."""
    read = set(data.split_plays("train"))
    out: dict[str, Any] = {
        split: {p: p in read for p in data.genre_split_plays(split)}
        for split in ("validation", "test")
    }
    scored = "test_masked_nats_per_char" if isinstance(gpt, Encoder) else "test_nats_per_char"
    out[scored] = {}
    for play in data.genre_split_plays("test"):
        ids = torch.tensor(vocab.encode(list(data.play(play)[:characters])))
        if isinstance(gpt, Encoder):  # its [MASK] id is one past the characters'
            nats = masked_lm_nats(gpt, ids, len(vocab), len(vocab))
        else:
            nats = gpt.nats_per_token(ids, stride=gpt.config.block_size)
        out[scored][play] = round(nats, 4)
    return out


def body_weights_sha256(body: str) -> str | None:
    """The sha256 of the weights a --body reads (from their record; None: untrained)."""
    from lmbook.pretrain import book_gpt_record

    check_choice("body", body, BODIES)
    if body == "random":
        return None
    return book_gpt_record(kind="gpt" if body == "book" else "encoder")["weights_sha256"]


BODIES = {"book": "the book's GPT", "random": "untrained (seed 0)", "encoder": "the book's encoder"}


def main(argv: list[str] | None = None) -> int:
    from lmbook.execute import cpu_name
    from lmbook.pretrain import load_book_encoder, load_book_gpt

    parser = argparse.ArgumentParser(
        prog="python -m lmbook.genre_experiment",
        description="Chapter 7's fair experiment on the book's GPT (issue 17).",
    )
    parser.add_argument("--out", default="experiments/ch7")
    parser.add_argument("--sizes", nargs="+", default=["30", "100", "300", "1000", "3000", "all"])
    parser.add_argument("--tune-sizes", nargs="+", default=["30", "100", "300", "1000"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--every", type=int, default=1, help="k: every k-th passage (check)")
    parser.add_argument(
        "--body",
        choices=("book", "random", "encoder"),
        default="book",
        help="the book's GPT; the same shape untrained (seed 0): what pre-training adds; "
        "or the book's encoder (masked-LM pre-training at the GPT's budget)",
    )
    parser.add_argument("--name", default="results", help="the files' stem in --out")
    parser.add_argument(
        "--tune-blocks", type=int, default=Recipe.tune_blocks, help="top blocks ft trains"
    )
    parser.add_argument(
        "--grid",
        nargs="+",
        type=float,
        default=None,
        help="one grid for every method in --methods (lpft's head: the probe's grid)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    size = lambda x: None if x == "all" else int(x)  # noqa: E731
    sizes, tune_sizes = [size(x) for x in args.sizes], [size(x) for x in args.tune_sizes]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    recipe = Recipe(tune_blocks=args.tune_blocks)
    given = {} if args.grid is None else {m: tuple(args.grid) for m in args.methods}
    grids = GRIDS | given
    gpt, vocab = load_book_encoder("cpu") if args.body == "encoder" else load_book_gpt("cpu")
    if args.body == "random":
        torch.manual_seed(0)
        gpt = GPT(gpt.config).eval()
    task = genre_task(recipe.context, recipe.validation_every, args.every)
    record: dict[str, Any] = {
        "command": "python -m lmbook.genre_experiment " + " ".join(argv or sys.argv[1:]),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch thread(s)",
        "torch": torch.__version__,
        "code_sha256": code_sha256(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "recipe": asdict(recipe),
        "grids": {m: list(grids[m]) for m in dict.fromkeys(args.methods) if m in METHODS}
        | ({"lpft head_C (the probe's)": list(grids["probe"])} if "lpft" in args.methods else {}),
        "genres": list(task.genres),
        "passages": {s: len(t) for s, t in task.texts.items()},
        "longest_passage": max(len(t) for ts in task.texts.values() for t in ts),
        "body": BODIES[args.body],
        "body_weights_sha256": body_weights_sha256(args.body),
        "pretraining_overlap": pretraining_overlap(gpt, vocab) if args.body != "random" else None,
    }

    def save(results: dict[str, Any]) -> None:
        record.update(results)
        record["seconds_total"] = round(time.perf_counter() - started, 1)
        (out / f"{args.name}.json").write_text(json.dumps(record, indent=1) + "\n")
        tables = [
            "## Test macro-F1, mean ± sample std over seeds (runs)\n",
            summary_table(record),
            "\n\n## Validation macro-F1 of the chosen settings\n",
            summary_table(record, "validation"),
        ]
        for count in dict.fromkeys(r["label_count"] for r in record["runs"]):
            tables += [
                f"\n\n## {count} labels: test recall per play (mean ± std over seeds)\n",
                per_play_table(record, count),
                f"\n\n## {count} labels: predicted genres of the test passages "
                "(summed over seeds)\n",
                histogram_table(record, count, task.genres),
            ]
        (out / f"{args.name}_tables.md").write_text("".join(tables) + "\n")

    run_experiment(
        task, gpt, vocab, sizes, args.seeds, args.methods, tune_sizes, recipe, grids, save
    )
    print(f"done in {time.perf_counter() - started:.0f} s; results in {out / args.name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
