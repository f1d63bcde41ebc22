"""A BERT-style encoder: chapter 6's blocks without the causal mask, trained to fill in.

Chapter 7's rebuild pre-trains it on the same plays at the same budget as the GPT, to
compare the two bodies under the same classifier. Everything but the attention mask is
chapter 6's: `SelfAttention` is chapter 5's multi-head attention with query = key =
value = x and no causal mask, `EncoderBlock` is chapter 6's `Block` with it, and
`Encoder` is the `GPT` with those blocks, so its embeddings, final LayerNorm and tied
head are the GPT's, and `lmbook.finetune.hidden_states` reads it as it reads a GPT.

The objective is BERT's masked language model (Devlin et al., 2019): choose 15% of the
positions; replace 80% of them by a `[MASK]` id, 10% by a random id, leave 10% as they
are; predict the original id at the chosen positions only. `mask_tokens` corrupts a
batch, `MaskedWindows` serves corrupted random windows of a text, with the targets of
unchosen positions set to `IGNORE_INDEX`, so `lmbook.training.train` trains it
unchanged. The `[MASK]` id is one past the ordinary ids: for a `Vocab` of V tokens,
`GPTConfig(vocab_size=V + 1, ...)` and `mask_id=V`::

    >>> from lmbook.transformer import GPTConfig
    >>> text = torch.randint(0, 20, (1_000,))                       # ids of a corpus
    >>> model = Encoder(GPTConfig(vocab_size=21, block_size=16, n_layer=2, n_head=2,
    ...                           n_embd=16))
    >>> batches = MaskedWindows(text, batch_size=4, block_size=16, mask_id=20,
    ...                         vocab_size=20)
    >>> inputs, targets = next(iter(batches))                        # (B, T) each
    >>> logits, loss = model(inputs, targets)        # scored where targets != -100

`EncoderClassifier` is chapter 7's `GPTClassifier` on an encoder: since every position
reads every other, it keeps the padding out of the attention, not only out of the
pooling. An encoder reads the whole text at once: it neither generates nor scores
next tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lmbook.attention import MultiHeadAttention
from lmbook.finetune import PAD_ID, GPTClassifier, pool_states
from lmbook.training import RandomWindows
from lmbook.transformer import GPT, Block, GPTConfig
from lmbook.validate import (
    check_fill_in,
    check_int,
    check_mask_convention,
    check_mask_id,
    check_masking_split,
    check_padded_ids,
    check_probability,
    check_same_shape,
    check_tensor,
    check_token_ids,
    check_token_sequence,
    check_type,
)

IGNORE_INDEX = -100  # a target cross-entropy skips (torch's default ignore_index)


class SelfAttention(MultiHeadAttention):
    """Chapter 5's multi-head attention with query = key = value = x, unmasked.

    Every position reads every position, before and after it, except padding: `real`
    (B, T) is False where a passage has ended. Dropout on the output, as in chapter 6.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        dropout: float = 0.0,
        bias: bool = True,
    ) -> None:
        # chapter 5's W_q, W_k, W_v and W_o
        super().__init__(n_embd, n_head, dropout=dropout, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, real: Tensor | None = None) -> Tensor:
        """x (B, T, C) -> (B, T, C); no query reads a key where real (B, T) is False."""
        y, _ = super().forward(x, x, x, padding_mask=real)
        return self.resid_dropout(y)


class EncoderBlock(Block):
    """Chapter 6's pre-LayerNorm block with SelfAttention: no causal mask, no cache."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        c = config
        self.attn = SelfAttention(c.n_embd, c.n_head, c.dropout, c.bias)

    def forward(self, x: Tensor, real: Tensor | None = None) -> Tensor:
        """x (B, T, C) -> (B, T, C): x + attn(ln_1(x)), then x + mlp(ln_2(x))."""
        x = x + self.attn(self.ln_1(x), real)
        return x + self.mlp(self.ln_2(x))


class Encoder(GPT):
    """A bidirectional transformer (BERT-style): the GPT with EncoderBlocks.

    forward(idx, targets) -> (logits (B, T, V), the mean cross-entropy over the
    positions whose target is not IGNORE_INDEX, or None without targets).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        blocks = [EncoderBlock(config) for _ in range(config.n_layer)]
        self.blocks = nn.ModuleList(blocks)  # in place of the GPT's causal ones
        self.init_weights()  # GPT-2's initialisation, for the new blocks too

    def hidden(self, idx: Tensor, real: Tensor | None = None) -> Tensor:
        """The final LayerNorm's output (B, T, C) for idx (B, T).

        No position reads the positions where real (B, T) is False (the padding).
        """
        check_token_ids(idx, self.config.vocab_size, self.config.block_size)
        x = self.embed(idx)  # (B, T, C)
        for block in self.blocks:
            x = block(x, real)
        return self.ln_f(x)  # (B, T, C)

    def forward(
        self,
        idx: Tensor,
        targets: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """idx (B, T) -> (logits (B, T, V), cross-entropy at the scored positions)."""
        logits = self.lm_head(self.hidden(idx))  # (B, T, V)
        if targets is None:
            return logits, None
        check_same_shape("targets", targets, "idx", idx)
        flat = logits.flatten(0, 1)  # (B * T, V)
        loss = F.cross_entropy(flat, targets.flatten(), ignore_index=IGNORE_INDEX)
        return logits, loss

    def step(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("an Encoder reads every position at once: it has no KV cache")

    def generate(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("an Encoder reads both directions: it does not generate text")

    def nats_per_token(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(
            "an Encoder sees the token it would predict: score it with its masked-LM "
            "loss (model(inputs, targets) on MaskedWindows), not nats per next token"
        )


def mask_tokens(
    ids: Tensor,
    mask_id: int,
    vocab_size: int,
    mask_prob: float = 0.15,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's corruption of ids (B, T) -> (inputs, targets), each (B, T).

    Each position is chosen with probability mask_prob (at least one per row, so every
    row is scored); of the chosen, a share split[0] become mask_id, split[1] a random
    id in [0, vocab_size), split[2] stay as they are. targets holds the original id at
    the chosen positions and IGNORE_INDEX elsewhere. Draws from `generator` (CPU).
    """
    check_tensor("ids", ids, ndim=2, integer=True, shape="(B, T)")
    check_mask_id(mask_id, vocab_size)
    check_probability("mask_prob", mask_prob)
    check_masking_split(split)
    B, T = ids.shape
    draw = torch.rand(B, T, generator=generator).to(ids.device)  # (B, T)
    chosen = draw < mask_prob
    first = draw.argmin(dim=1, keepdim=True)  # each row's lowest draw: chosen if any is
    chosen.scatter_(1, first, True)
    how = torch.rand(B, T, generator=generator).to(ids.device)  # which change, (B, T)
    to_mask = chosen & (how < split[0])
    to_random = chosen & (how >= split[0]) & (how < split[0] + split[1])
    random_ids = torch.randint(vocab_size, (B, T), generator=generator).to(ids.device)
    inputs = ids.masked_fill(to_mask, mask_id)
    inputs = torch.where(to_random, random_ids, inputs)
    targets = ids.masked_fill(~chosen, IGNORE_INDEX)
    return inputs, targets  # (B, T) each


class MaskedWindows(RandomWindows):
    """Endless batches of random windows of a text, corrupted by `mask_tokens`.

    Yields (inputs, targets), each (batch_size, block_size): what `Encoder` and
    `lmbook.training.train` take. Reproducible like RandomWindows: every pass starts
    the windows' generator from `seed` and the masks' from `seed + 1`.
    """

    def __init__(
        self,
        ids: Sequence[int] | Tensor,
        batch_size: int,
        block_size: int,
        mask_id: int,
        vocab_size: int,
        mask_prob: float = 0.15,
        seed: int = 0,
    ) -> None:
        super().__init__(ids, batch_size, block_size, seed)
        check_mask_id(mask_id, vocab_size)
        check_probability("mask_prob", mask_prob)
        self.mask_id, self.vocab_size, self.mask_prob = mask_id, vocab_size, mask_prob

    def __repr__(self) -> str:
        return (
            f"MaskedWindows(batch_size={self.batch_size}, "
            f"block_size={self.block_size}, windows={self.n_windows}, "
            f"mask_id={self.mask_id}, vocab_size={self.vocab_size}, "
            f"mask_prob={self.mask_prob}, seed={self.seed})"
        )

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        masks = torch.Generator().manual_seed(self.seed + 1)  # the masks' own draws
        for window, _ in super().__iter__():  # (B, T); the next-token targets unused
            yield mask_tokens(
                window, self.mask_id, self.vocab_size, self.mask_prob, generator=masks
            )


def masked_windows(
    ids: Sequence[int] | Tensor,
    block_size: int,
    mask_id: int,
    vocab_size: int,
    seed: int = 0,
    split: Sequence[float] = (0.8, 0.1, 0.1),
) -> tuple[Tensor, Tensor, Tensor]:
    """A text cut for masked-LM scoring -> (windows, inputs, targets), each (n, T).

    ids (N,) is cut into n windows of block_size that do not overlap (the last partial
    one left out); `mask_tokens`, drawing from a generator seeded `seed`, chooses 15% of
    their positions and corrupts them by `split`, so every call on the same text chooses
    the same positions (whatever the split). windows holds the true ids, inputs the
    corrupted ones, targets the true id at the chosen positions and IGNORE_INDEX
    elsewhere.
    """
    check_int("block_size", block_size)
    check_token_sequence("ids", ids, at_least=block_size, why=f"for one window of {block_size}")
    windows = torch.as_tensor(ids).long()[: len(ids) // block_size * block_size]
    windows = windows.reshape(-1, block_size)  # (n, T)
    check_token_ids(windows, vocab_size, name="ids")  # ordinary ids, never the [MASK] id
    draws = torch.Generator().manual_seed(seed)
    inputs, targets = mask_tokens(windows, mask_id, vocab_size, split=split, generator=draws)
    return windows, inputs, targets


def masked_lm_nats(
    model: Encoder,
    ids: Tensor,
    mask_id: int,
    vocab_size: int,
    seed: int = 0,
    batch_size: int = 32,
) -> float:
    """An encoder's masked-LM loss on a text: nats per scored character.

    `masked_windows` cuts ids (N,) into windows of the model's block_size and chooses
    and corrupts their positions by BERT's rule from a generator seeded `seed`, so
    every call on the same text scores the same positions the same way. The mean is
    over the scored positions of all windows, not of each window. Runs without
    gradients, in eval mode, on the model's device.
    """
    check_type("model", model, Encoder, "an lmbook Encoder")
    check_mask_convention(mask_id, vocab_size, model.config.vocab_size)
    check_int("batch_size", batch_size)
    block = model.config.block_size
    _, inputs, targets = masked_windows(ids, block, mask_id, vocab_size, seed)
    device = next(model.parameters()).device
    total, scored = 0.0, 0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for x, y in zip(inputs.split(batch_size), targets.split(batch_size), strict=True):
                logits, _ = model(x.to(device))  # (b, T, V)
                y = y.to(device)
                flat, chosen = logits.flatten(0, 1), y.flatten()  # unchosen: IGNORE_INDEX
                loss = F.cross_entropy(flat, chosen, ignore_index=IGNORE_INDEX, reduction="sum")
                total += loss.item()
                scored += int((y != IGNORE_INDEX).sum())
    finally:
        model.train(was_training)
    return total / scored


def fill_blanks(text: str, hidden: Sequence[bool] | Tensor, guesses: Sequence[str]) -> str:
    """text with its hidden characters replaced, in order, by guesses.

    hidden holds one bool per character of text (a list, or a bool tensor); guesses one
    character per True flag (a str, or a list of characters such as `Vocab.decode`
    returns). Line breaks, given or guessed, show as ↵, so the line stays on one line.
    """
    check_fill_in(text, hidden, guesses)
    flags = hidden.tolist() if isinstance(hidden, Tensor) else hidden
    filled = iter(guesses)
    line = "".join(next(filled) if h else c for c, h in zip(text, flags, strict=True))
    return line.replace("\n", "↵")


class EncoderClassifier(GPTClassifier):
    """Chapter 7's GPTClassifier on an Encoder: the padding is kept out of attention.

    A GPT's positions never read the padding after them; an encoder's would, so its
    features pass which positions are real to the encoder as well as to the pooling.
    """

    def __init__(self, body: Encoder, n_classes: int, **kwargs: Any) -> None:
        check_type("body", body, Encoder, "an lmbook Encoder")
        super().__init__(body, n_classes, **kwargs)

    def features(self, idx: Tensor) -> Tensor:
        """The pooled hidden state (B, C) of each passage in idx (B, T)."""
        check_padded_ids("idx", idx, PAD_ID)
        real = idx != PAD_ID  # (B, T): True on the passage's characters
        h = self.body.hidden(idx.masked_fill(~real, 0), real)  # (B, T, C)
        return pool_states(h, real, self.pooling)  # (B, C)
