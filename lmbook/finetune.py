"""Pre-training and fine-tuning: a pre-trained GPT's body under a classification head.

Chapter 7 builds this module. `hidden_states` reads what a GPT computes before its
language-model head; chapter 10 reuses it for passage embeddings. `GPTClassifier` puts a
linear head on a GPT body for passage classification (from scratch, fine-tuned, or with
the body frozen), `encode_passages` and `PassageBatches` feed it, `predict` reads it.

For the chapter's rebuild (issue 17): `standardise_head` puts the head on features
standardised on the training passages (`StandardisedLinear`), `fine_tune_classifier` is
the chapter's recipe as one call, and `probe_then_fine_tune` is LP-FT (Kumar et al.,
2022): the head fitted with the body frozen, then body and head fine-tuned together.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lmbook.text import Vocab
from lmbook.training import param_groups, train, warmup_cosine_schedule
from lmbook.transformer import GPT
from lmbook.validate import (
    check_choice,
    check_class_ids,
    check_class_weights,
    check_features,
    check_int,
    check_number,
    check_padded_ids,
    check_passages,
    check_tensor,
    check_type,
)


def hidden_states(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The final LayerNorm's output (B, T, C) for idx (B, T): what the GPT's head reads.

    It runs the model's own forward and keeps the input of `lm_head`, so it is exactly
    what the language model uses to predict the next token, at every position.
    """
    check_type("model", model, GPT, "an lmbook GPT")
    kept: list[torch.Tensor] = []
    hook = model.ln_f.register_forward_hook(lambda module, inputs, output: kept.append(output))
    try:
        model(idx)
    finally:
        hook.remove()  # even if the forward fails
    return kept[0]  # (B, T, C)


# --- a classifier on a GPT body (chapter 7) ----------------------------------------------

POOLINGS = ("mean", "last")


def pool_states(h: torch.Tensor, real: torch.Tensor, pooling: str = "mean") -> torch.Tensor:
    """One vector (B, C) per passage from its states h (B, T, C).

    real (B, T) is True on each passage's characters, which end where its padding
    begins. pooling='mean' averages their states; 'last' takes the last one's.
    """
    check_tensor("h", h, ndim=3, integer=False, shape="(B, T, C)")
    check_choice("pooling", pooling, POOLINGS)
    lengths = real.sum(dim=1)  # (B,)
    if pooling == "last":
        return h[torch.arange(len(h), device=h.device), lengths - 1]  # (B, C)
    mask = real.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
    return (h * mask).sum(dim=1) / lengths.unsqueeze(-1).to(h.dtype)  # (B, C)


PAD_ID = -1  # fills the positions after a passage's last character; never a token id


def encode_passages(
    texts: Sequence[str], vocab: Vocab, max_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Character ids of each text, cut to its first max_len and padded with PAD_ID.

    Returns ids (N, T), T the longest cut text, and the lengths (N,). Characters the
    vocabulary does not know become its `<unk>`; the padding comes at the end.

    >>> from lmbook.text import Vocab
    >>> ids, lengths = encode_passages(["abc", "a"], Vocab(list("abc")), max_len=2)
    >>> ids.tolist(), lengths.tolist()
    ([[1, 2], [1, -1]], [2, 1])
    """
    check_passages(texts)
    check_int("max_len", max_len)
    rows = [vocab.encode(list(text[:max_len])) for text in texts]
    lengths = torch.tensor([len(r) for r in rows])  # (N,)
    T = int(lengths.max())
    ids = torch.full((len(rows), T), PAD_ID, dtype=torch.long)  # (N, T)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return ids, lengths


class GPTClassifier(nn.Module):
    """A GPT body, its final hidden states pooled over each passage, then Linear(C, K).

    Passages come padded at their end with PAD_ID; pooling is 'mean' or 'last' (see
    pool_states); class_weights (K,) weight each class's examples in the loss.
    """

    def __init__(
        self,
        body: GPT,
        n_classes: int,
        pooling: str = "mean",
        freeze_body: bool = False,
        class_weights: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        check_type("body", body, GPT, "an lmbook GPT")
        check_int("n_classes", n_classes, low=2)
        check_choice("pooling", pooling, POOLINGS)
        check_class_weights(class_weights, n_classes)
        self.body, self.pooling = body, pooling
        self.head = nn.Linear(body.config.n_embd, n_classes)
        if class_weights is not None:
            class_weights = torch.as_tensor(class_weights, dtype=torch.float)
        self.register_buffer("class_weights", class_weights)  # moves with .to(device)
        if freeze_body:
            self.freeze_body()

    @classmethod
    def from_pretrained(cls, gpt: GPT, n_classes: int, **kwargs: Any) -> GPTClassifier:
        """A classifier on a copy of the pre-trained gpt (which stays as it was)."""
        check_type("gpt", gpt, GPT, "an lmbook GPT")
        return cls(copy.deepcopy(gpt), n_classes, **kwargs)

    def freeze_body(self, frozen: bool = True) -> GPTClassifier:
        """Stop (or restart) training the body: only the head learns, a linear probe."""
        for p in self.body.parameters():
            p.requires_grad_(not frozen)
        return self

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        """The pooled hidden state (B, C) of each passage in idx (B, T)."""
        check_padded_ids("idx", idx, PAD_ID)
        real = idx != PAD_ID  # (B, T): True on the passage's characters
        h = hidden_states(self.body, idx.masked_fill(~real, 0))  # (B, T, C)
        return pool_states(h, real, self.pooling)  # (B, C)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits (B, K), the mean cross-entropy, or None without targets (B,))."""
        logits = self.head(self.features(idx))  # (B, K)
        if targets is None:
            return logits, None
        check_class_ids("targets", targets, len(idx), dim="B")
        return logits, F.cross_entropy(logits, targets, weight=self.class_weights)


@torch.no_grad()
def passage_features(model: GPTClassifier, ids: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The pooled hidden states (N, C) of the passages ids (N, T), read in batches.

    In eval mode (restored afterwards), on the model's device; returns a CPU tensor.
    """
    check_type("model", model, GPTClassifier, "a GPTClassifier")
    check_int("batch_size", batch_size)
    device = model.head.weight.device
    lengths = (ids != PAD_ID).sum(dim=1)  # (N,)
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(ids), batch_size):
            rows = slice(start, start + batch_size)
            T = max(1, int(lengths[rows].max()))  # cut the batch to its longest passage
            out.append(model.features(ids[rows, :T].to(device)).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)  # (N, C)


@torch.no_grad()
def predict(model: GPTClassifier, ids: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The most probable class (N,) of each passage in ids (N, T), in batches (CPU)."""
    features = passage_features(model, ids, batch_size)  # (N, C)
    return model.head(features.to(model.head.weight.device)).argmax(dim=-1).cpu()


# --- fine-tuning: labelled batches and two learning rates (chapter 7) ------------------


class PassageBatches:
    """Endless shuffled batches of labelled passages: (ids (B, T), labels (B,)).

    Every pass over the N passages is a new random order, without its last incomplete
    batch; each batch is cut to its longest passage. Reproducible, like RandomWindows:
    each iteration restarts a generator seeded with `seed`.
    """

    def __init__(
        self, ids: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int = 0
    ) -> None:
        check_padded_ids("ids", ids, PAD_ID, shape="(N, T)")
        labels = torch.as_tensor(labels)
        check_class_ids("labels", labels, len(ids))
        check_int("batch_size", batch_size, high=len(ids))
        self.ids, self.labels = ids, labels.long()
        self.lengths = (ids != PAD_ID).sum(dim=1)  # (N,)
        self.batch_size, self.seed = batch_size, seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed)
        N, B = len(self.ids), self.batch_size
        while True:
            order = torch.randperm(N, generator=generator)
            for start in range(0, N - B + 1, B):
                rows = order[start : start + B]
                T = int(self.lengths[rows].max())
                yield self.ids[rows, :T], self.labels[rows]  # (B, T), (B,)


def classifier_param_groups(
    model: GPTClassifier, weight_decay: float, body_lr: float, head_lr: float
) -> list[dict[str, Any]]:
    """AdamW groups: `lmbook.training.param_groups` of the body and of the head, each
    part with its own "lr"; frozen parameters and empty groups are left out."""
    check_type("model", model, GPTClassifier, "a GPTClassifier")
    check_number("body_lr", body_lr, low=0, low_open=True)
    check_number("head_lr", head_lr, low=0, low_open=True)
    return [
        group | {"lr": float(lr)}
        for part, lr in ((model.body, body_lr), (model.head, head_lr))
        for group in param_groups(part, weight_decay)
        if group["params"]
    ]


# --- the rebuild of chapter 7: a head on standardised features, LP-FT -----------------


class StandardisedLinear(nn.Linear):
    """Linear(C, K) on standardised features: W (x - mean) / std + b.

    mean and std (C,) are buffers, not parameters: `fit(x)` sets them from training
    features x (N, C), so that what the weights read has mean 0 and standard deviation
    1 on those features (as the chapter's probe standardises before its logistic
    regression). Unfitted, mean = 0 and std = 1: a plain Linear.
    """

    def __init__(self, in_features: int, out_features: int, eps: float = 1e-5) -> None:
        super().__init__(in_features, out_features)
        self.eps = eps  # keeps a feature that never varies from dividing by 0
        self.register_buffer("mean", torch.zeros(in_features))
        self.register_buffer("std", torch.ones(in_features))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> StandardisedLinear:
        """Set mean and std (C,) to those of the training features x (N, C)."""
        check_features("x", x, self.in_features)
        self.mean.copy_(x.mean(dim=0))
        self.std.copy_(x.std(dim=0) + self.eps)
        return self

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        """(x - mean) / std, feature by feature: (..., C) -> (..., C)."""
        return (x - self.mean) / self.std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., C) -> logits (..., K)."""
        return super().forward(self.standardise(x))


def standardise_head(
    model: GPTClassifier, ids: torch.Tensor, batch_size: int = 64
) -> GPTClassifier:
    """Put model's head on standardised features, fitted on the passages ids (N, T).

    The new head is a StandardisedLinear with the old head's weight and bias, and the
    mean and std of the pooled features that the body computes for ids now (fit it on
    the training passages only). Returns the model, changed in place.
    """
    check_type("model", model, GPTClassifier, "a GPTClassifier")
    old = model.head
    head = StandardisedLinear(old.in_features, old.out_features)
    head = head.to(device=old.weight.device, dtype=old.weight.dtype)
    head.load_state_dict(old.state_dict(), strict=False)  # weight and bias
    model.head = head.fit(passage_features(model, ids, batch_size))
    return model


def fine_tune_classifier(
    model: GPTClassifier,
    batches: Iterable,
    *,
    steps: int,
    body_lr: float,
    head_lr: float,
    device: torch.device | str,
    weight_decay: float = 0.1,
    clip: float | None = 1.0,
    warmup: float = 0.1,
    log_every: int = 10,
) -> list[dict[str, float]]:
    """Train model's trainable parts for `steps` on batches; return the history.

    The chapter's recipe: AdamW (betas 0.9, 0.95) on `classifier_param_groups` (the
    body at body_lr, the head at head_lr; a frozen body is left out), a warm-up over
    the first `warmup` share of the steps, then a cosine decay, clipping at `clip`.
    The history has an entry every `log_every` steps (`lmbook.training.train`'s).
    """
    check_number("warmup", warmup, low=0, high=1, high_open=True)
    groups = classifier_param_groups(model, weight_decay, body_lr, head_lr)
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.95))
    schedule = warmup_cosine_schedule(
        optimizer, warmup_steps=max(1, int(warmup * steps)), total_steps=steps
    )
    return train(
        model,
        batches,
        optimizer,
        steps=steps,
        device=device,
        clip=clip,
        scheduler=schedule,
        log_every=log_every,
        progress=False,
    )


def probe_then_fine_tune(
    model: GPTClassifier,
    batches: Iterable,
    *,
    probe_steps: int,
    tune_steps: int,
    probe_lr: float,
    body_lr: float,
    head_lr: float,
    device: torch.device | str,
    **recipe: Any,
) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """LP-FT (Kumar et al., 2022): a linear probe first, then fine-tune everything.

    Phase 1 freezes the body and trains the head alone (probe_steps at probe_lr), so
    the body's weights stay exactly as they were; phase 2 unfreezes it and trains body
    and head together (tune_steps, the body at body_lr, lower than the head's head_lr),
    starting from a head that already fits, so its first gradients do not distort the
    pre-trained features. Both phases are `fine_tune_classifier` (recipe: its keyword
    settings). Returns the two histories; the body is left trainable.
    """
    check_type("model", model, GPTClassifier, "a GPTClassifier")
    check_int("probe_steps", probe_steps)
    check_int("tune_steps", tune_steps)
    model.freeze_body()
    probe = fine_tune_classifier(
        model,
        batches,
        steps=probe_steps,
        body_lr=body_lr,
        head_lr=probe_lr,
        device=device,
        **recipe,
    )
    model.freeze_body(False)
    tune = fine_tune_classifier(
        model,
        batches,
        steps=tune_steps,
        body_lr=body_lr,
        head_lr=head_lr,
        device=device,
        **recipe,
    )
    return probe, tune
