"""Pre-training and fine-tuning: a pre-trained GPT's body under a classification head.

Chapter 7 builds this module. `hidden_states` reads what a GPT computes before its
language-model head; chapter 10 reuses it for passage embeddings. `GPTClassifier` puts a
linear head on a GPT body for passage classification (from scratch, fine-tuned, or with
the body frozen), `encode_passages` and `PassageBatches` feed it, `predict` reads it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lmbook.text import Vocab
from lmbook.training import param_groups
from lmbook.transformer import GPT


def hidden_states(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The final LayerNorm's output (B, T, C) for idx (B, T): what the GPT's head reads.

    It runs the model's own forward and keeps the input of `lm_head`, so it is exactly
    what the language model uses to predict the next token, at every position.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be an lmbook GPT, got {type(model).__name__}")
    kept: list[torch.Tensor] = []
    hook = model.ln_f.register_forward_hook(lambda module, inputs, output: kept.append(output))
    try:
        model(idx)
    finally:
        hook.remove()
    return kept[0]  # (B, T, C)


# --- a classifier on a GPT body (chapter 7) ----------------------------------------------

PAD_ID = -1  # fills the positions after a passage's last character; never a token id
POOLINGS = ("mean", "last")


def encode_passages(
    texts: Sequence[str], vocab: Vocab, max_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Character ids of each text, cut to its first max_len, padded at the end with PAD_ID.

    Returns ids (N, T), T the longest cut text, and the lengths (N,). Characters the
    vocabulary does not know become its `<unk>`.

    >>> from lmbook.text import Vocab
    >>> ids, lengths = encode_passages(["abc", "a"], Vocab(list("abc")), max_len=2)
    >>> ids.tolist(), lengths.tolist()
    ([[1, 2], [1, -1]], [2, 1])
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of passages, got a str; wrap it: [text]")
    if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be an int >= 1, got {max_len!r}")
    if len(texts) == 0:
        raise ValueError("texts is empty: give at least one passage")
    rows = []
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text:
            raise ValueError(f"passage {i} must be a non-empty str, got {text!r}")
        rows.append(vocab.encode(list(text[:max_len])))
    lengths = torch.tensor([len(r) for r in rows])  # (N,)
    ids = torch.full((len(rows), int(lengths.max())), PAD_ID, dtype=torch.long)  # (N, T)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return ids, lengths


class PassageBatches:
    """Endless shuffled batches of labelled passages: (ids (B, T), labels (B,)).

    Each pass over the data is a new random order; the last incomplete batch of a pass
    is left out (its passages come back in the next order). Each batch is cut to its
    longest passage, T. Like `RandomWindows`, every iteration restarts a generator
    seeded with `seed`, so the stream is reproducible.
    """

    def __init__(
        self, ids: torch.Tensor, labels: torch.Tensor, batch_size: int, seed: int = 0
    ) -> None:
        if not isinstance(ids, torch.Tensor) or ids.ndim != 2 or ids.dtype != torch.long:
            raise TypeError("ids must be a (N, T) LongTensor, as encode_passages returns")
        labels = torch.as_tensor(labels)
        if labels.shape != (len(ids),) or labels.is_floating_point():
            raise ValueError(
                f"labels must be (N,) = ({len(ids)},) class ids, got {labels.dtype} "
                f"{tuple(labels.shape)}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if batch_size > len(ids):
            raise ValueError(f"batch_size={batch_size} is more than the {len(ids)} passages")
        self.ids, self.labels = ids, labels.long()
        self.lengths = (ids != PAD_ID).sum(dim=1)  # (N,)
        self.batch_size, self.seed = batch_size, seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed)  # anew: every pass is the same
        N, B = len(self.ids), self.batch_size
        while True:
            order = torch.randperm(N, generator=generator)
            for start in range(0, N - B + 1, B):
                rows = order[start : start + B]
                T = int(self.lengths[rows].max())
                yield self.ids[rows, :T], self.labels[rows]  # (B, T), (B,)


class GPTClassifier(nn.Module):
    """A GPT body with a classification head: pool its final hidden states, then Linear(C, K).

    pooling='mean' averages the hidden states over a passage's characters; 'last' takes
    the last character's, which in a causal model is the only one that has read the whole
    passage. Inputs are padded at the end with PAD_ID (see encode_passages); since the
    body is causal, padding after a passage cannot change its characters' states, and the
    pooling leaves the padded positions out, so padding changes no logit. class_weights
    (K,) weight each class's examples in the loss, against imbalanced classes.
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
        if not isinstance(body, GPT):
            raise TypeError(f"body must be an lmbook GPT, got {type(body).__name__}")
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
        self.body, self.pooling = body, pooling
        self.head = nn.Linear(body.config.n_embd, n_classes)
        if class_weights is not None:  # a buffer: it moves with .to(device) and is saved
            class_weights = torch.as_tensor(class_weights, dtype=torch.float)
            if class_weights.shape != (n_classes,) or not bool((class_weights > 0).all()):
                raise ValueError(
                    f"class_weights must be {n_classes} numbers > 0, one per class, got "
                    f"{class_weights.tolist()}"
                )
        self.register_buffer("class_weights", class_weights)
        if freeze_body:
            self.freeze_body()

    @classmethod
    def from_pretrained(cls, gpt: GPT, n_classes: int, **kwargs: Any) -> GPTClassifier:
        """A classifier whose body is a copy of the pre-trained gpt (which stays as it was).

        kwargs go to GPTClassifier: pooling, freeze_body, class_weights.
        """
        if not isinstance(gpt, GPT):
            raise TypeError(f"gpt must be an lmbook GPT, got {type(gpt).__name__}")
        return cls(copy.deepcopy(gpt), n_classes, **kwargs)

    def freeze_body(self, frozen: bool = True) -> GPTClassifier:
        """Stop (or restart) training the body: only the head learns, a linear probe."""
        for p in self.body.parameters():
            p.requires_grad_(not frozen)
        return self

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        """The pooled hidden state (B, C) of each padded passage in idx (B, T)."""
        if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.dtype != torch.long:
            raise TypeError("idx must be a (B, T) LongTensor, as encode_passages returns")
        real = idx != PAD_ID  # (B, T), True on the passage's characters
        lengths = real.sum(dim=1)  # (B,)
        if bool((lengths == 0).any()):
            raise ValueError("a passage in idx has no characters: every row needs at least one")
        if bool((real[:, 1:] & ~real[:, :-1]).any()):
            raise ValueError(
                f"padding must come after a passage's characters: a PAD_ID ({PAD_ID}) "
                "is followed by a character"
            )
        h = hidden_states(self.body, idx.masked_fill(~real, 0))  # (B, T, C); pads read any id
        if self.pooling == "last":
            return h[torch.arange(len(h), device=h.device), lengths - 1]  # (B, C)
        weights = real.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        return (h * weights).sum(dim=1) / lengths.unsqueeze(-1).to(h.dtype)  # (B, C)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits (B, K), mean cross-entropy over the batch, or None without targets)."""
        logits = self.head(self.features(idx))  # (B, K)
        if targets is None:
            return logits, None
        if not isinstance(targets, torch.Tensor) or targets.shape != (len(idx),):
            raise ValueError(
                f"targets must be (B,) = ({len(idx)},) class ids, got "
                + (f"{tuple(targets.shape)}" if isinstance(targets, torch.Tensor) else "none")
            )
        return logits, F.cross_entropy(logits, targets, weight=self.class_weights)


def classifier_param_groups(
    model: GPTClassifier, weight_decay: float, body_lr: float, head_lr: float
) -> list[dict[str, Any]]:
    """AdamW groups with one learning rate for the body and another for the head.

    `lmbook.training.param_groups` (decay on weight matrices only) of each part, each
    group with its part's "lr"; frozen parameters and empty groups are left out.
    """
    if not isinstance(model, GPTClassifier):
        raise TypeError(f"model must be a GPTClassifier, got {type(model).__name__}")
    for name, lr in (("body_lr", body_lr), ("head_lr", head_lr)):
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise ValueError(f"{name} must be a number > 0, got {lr!r}")
    return [
        group | {"lr": float(lr)}
        for part, lr in ((model.body, body_lr), (model.head, head_lr))
        for group in param_groups(part, weight_decay)
        if group["params"]
    ]


@torch.no_grad()
def passage_features(model: GPTClassifier, ids: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The pooled hidden state (N, C) of each padded passage in ids (N, T), in batches.

    What the head reads. Runs in eval mode (restored afterwards) on the model's device;
    returns a CPU tensor.
    """
    if not isinstance(model, GPTClassifier):
        raise TypeError(f"model must be a GPTClassifier, got {type(model).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    device = model.head.weight.device
    lengths = (ids != PAD_ID).sum(dim=1)  # (N,)
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(ids), batch_size):
            T = max(1, int(lengths[start : start + batch_size].max()))  # cut the batch's padding
            out.append(model.features(ids[start : start + batch_size, :T].to(device)).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)  # (N, C)


@torch.no_grad()
def predict(model: GPTClassifier, ids: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The most probable class (N,) of each padded passage in ids (N, T), in batches (CPU)."""
    features = passage_features(model, ids, batch_size)  # (N, C)
    return model.head(features.to(model.head.weight.device)).argmax(dim=-1).cpu()
