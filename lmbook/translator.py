"""The encoder–decoder Transformer (Vaswani et al., 2017) for translation.

Introduced in chapter 6, which trains it on chapter 4's English → French corpus and
batches and compares it with chapter 5's RNN with attention (`AttentionSeq2Seq`)::

    >>> config = TransformerConfig.from_vocabs(src_vocab, tgt_vocab)  # doctest: +SKIP
    >>> model = TransformerSeq2Seq(config)  # d_model 128, 4 heads, 2 + 2 layers  # doctest: +SKIP
    >>> logits, loss = model(src, tgt)  # teacher forcing: (B, T-1, V), a scalar  # doctest: +SKIP
    >>> greedy_decode(model, src)  # chapter 4's decoding, unchanged  # doctest: +SKIP

The encoder reads the whole source at once: N layers of self-attention and a
feed-forward network. The decoder reads the target prefix with causal self-attention,
looks at the encoder's output (the "memory") with cross-attention, and has its own
feed-forward network. Every layer is pre-LN, x + sublayer(LayerNorm(x)), as in GPT-2
and nanoGPT, rather than the paper's post-LN LayerNorm(x + sublayer(x)), which needs a
careful learning-rate warm-up to train (Xiong et al., 2020). The attention is chapter 5's
`MultiHeadAttention`, the feed-forward network chapter 6's `MLP`.

Padding never changes a sentence's numbers: source padding is masked in the encoder's
self-attention and in the cross-attention; target padding comes after every real target
token, so the causal mask already hides it, and the loss ignores it.

The decoding state is batch-first like chapters 4 and 5's, so `lmbook.decoding.select`
(beam search) works on it: "memory" (B, S, d_model), "src_mask" (B, S), and "prefix"
(B, t), the target tokens read so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lmbook.attention import MultiHeadAttention, causal_mask, padding_mask, sinusoidal_positions
from lmbook.seq2seq import BOS, EOS, PAD, State, _check_vocab
from lmbook.text import Vocab
from lmbook.transformer import MLP


@dataclass
class TransformerConfig:
    """The sizes and special ids of an encoder–decoder Transformer; from_vocabs fills the ids."""

    src_vocab_size: int
    tgt_vocab_size: int
    src_pad_id: int
    tgt_pad_id: int
    bos_id: int
    eos_id: int
    d_model: int = 128  # the width of every layer; even (sine–cosine positions)
    n_heads: int = 4  # each head attends with d_k = d_model / n_heads dimensions
    n_layers: int = 2  # encoder layers, and as many decoder layers
    dropout: float = 0.1  # on embeddings, attention weights and every residual branch
    max_len: int = 256  # the longest source or target the positions cover
    tie_weights: bool = True  # the output layer shares the target embedding's weights

    def __post_init__(self) -> None:
        sizes = ("src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "n_layers", "max_len")
        for name in sizes:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}: "
                "each head gets d_model / n_heads dimensions"
            )
        if self.d_model % 2:
            raise ValueError(f"d_model must be even (sine–cosine positions), got {self.d_model}")
        if isinstance(self.dropout, bool) or not (
            isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1
        ):
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        if not isinstance(self.tie_weights, bool):
            raise TypeError(f"tie_weights must be True or False, got {self.tie_weights!r}")
        ids = [("src_pad_id", "src_vocab_size")] + [
            (name, "tgt_vocab_size") for name in ("tgt_pad_id", "bos_id", "eos_id")
        ]
        for name, size_name in ids:
            value, size = getattr(self, name), getattr(self, size_name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
                raise ValueError(f"{name} must be an int in [0, {size_name}={size}), got {value!r}")
        if len({self.tgt_pad_id, self.bos_id, self.eos_id}) < 3:
            raise ValueError(
                f"tgt_pad_id, bos_id and eos_id must differ, got {self.tgt_pad_id}, "
                f"{self.bos_id} and {self.eos_id}"
            )

    @classmethod
    def from_vocabs(
        cls, src_vocab: Vocab, tgt_vocab: Vocab, **sizes: int | float | bool
    ) -> TransformerConfig:
        """The config whose vocabulary sizes and special ids are those of the two vocabularies."""
        _check_vocab(src_vocab, "src_vocab")
        _check_vocab(tgt_vocab, "tgt_vocab")
        return cls(
            src_vocab_size=len(src_vocab),
            tgt_vocab_size=len(tgt_vocab),
            src_pad_id=src_vocab.stoi[PAD],
            tgt_pad_id=tgt_vocab.stoi[PAD],
            bos_id=tgt_vocab.stoi[BOS],
            eos_id=tgt_vocab.stoi[EOS],
            **sizes,
        )


class EncoderLayer(nn.Module):
    """One pre-LN encoder layer: x + SelfAttention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        d = config.d_model
        self.ln_1 = nn.LayerNorm(d)
        self.attn = MultiHeadAttention(d, config.n_heads, dropout=config.dropout)
        self.drop = nn.Dropout(config.dropout)  # on the attention's residual branch
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = MLP(d, config.dropout)

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """x (B, S, d_model), src_mask (B, S) True at real tokens -> (B, S, d_model)."""
        h = self.ln_1(x)
        a, _ = self.attn(h, h, h, padding_mask=src_mask)  # no token attends to padding
        x = x + self.drop(a)
        return x + self.mlp(self.ln_2(x))


class DecoderLayer(nn.Module):
    """One pre-LN decoder layer: causal self-attention, cross-attention over the memory, MLP."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        d = config.d_model
        self.ln_1 = nn.LayerNorm(d)
        self.self_attn = MultiHeadAttention(d, config.n_heads, dropout=config.dropout)
        self.ln_2 = nn.LayerNorm(d)
        self.cross_attn = MultiHeadAttention(d, config.n_heads, dropout=config.dropout)
        self.drop = nn.Dropout(config.dropout)  # on both attentions' residual branches
        self.ln_3 = nn.LayerNorm(d)
        self.mlp = MLP(d, config.dropout)

    def forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor,
        src_mask: torch.Tensor,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """y (B, T, d_model), memory (B, S, d_model), src_mask (B, S) -> y (B, T, d_model),
        and the cross-attention weights (B, n_heads, T, S) if need_weights else None."""
        h = self.ln_1(y)
        a, _ = self.self_attn(h, h, h, mask=causal_mask(y.size(1), y.device))  # no peeking
        y = y + self.drop(a)
        a, weights = self.cross_attn(
            self.ln_2(y), memory, memory, need_weights=need_weights, padding_mask=src_mask
        )  # queries from the target, keys and values from the source
        y = y + self.drop(a)
        return y + self.mlp(self.ln_3(y)), weights


class TransformerSeq2Seq(nn.Module):
    """The encoder–decoder Transformer: forward(src, tgt) -> (logits, loss), and decoding.

    Tokens are embedded, scaled by √d_model (the embeddings start at std 1/√d_model, so
    the sum has unit scale), and added to sinusoidal positions. N encoder layers and a
    final LayerNorm turn the source into the memory; N decoder layers and a final
    LayerNorm turn the target prefix into a vector per position, which the output layer
    (tied to the target embedding when config.tie_weights) turns into logits.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"config must be a TransformerConfig, got {type(config).__name__}")
        self.config = config
        d = config.d_model
        self.src_embed = nn.Embedding(config.src_vocab_size, d)
        self.tgt_embed = nn.Embedding(config.tgt_vocab_size, d)
        for embed in (self.src_embed, self.tgt_embed):
            nn.init.normal_(embed.weight, std=d**-0.5)
        # fixed, so not saved in the state dict; .to() and .double() move and cast it
        self.register_buffer("pe", sinusoidal_positions(config.max_len, d), persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = nn.ModuleList(EncoderLayer(config) for _ in range(config.n_layers))
        self.ln_enc = nn.LayerNorm(d)
        self.decoder = nn.ModuleList(DecoderLayer(config) for _ in range(config.n_layers))
        self.ln_dec = nn.LayerNorm(d)
        self.out = nn.Linear(d, config.tgt_vocab_size, bias=False)
        if config.tie_weights:
            self.out.weight = self.tgt_embed.weight  # one (V, d_model) matrix, both ways

    def _embed(self, ids: torch.Tensor, embed: nn.Embedding, what: str) -> torch.Tensor:
        """ids (B, T) -> dropout(embedding · √d_model + positions) (B, T, d_model)."""
        T = ids.size(1)
        if T > self.config.max_len:
            raise ValueError(
                f"the {what} has {T} positions but config.max_len={self.config.max_len}; "
                "build the model with a larger max_len"
            )
        x = embed(ids) * math.sqrt(self.config.d_model) + self.pe[:T]  # (B, T, d_model)
        return self.drop(x)

    def encode(self, src: torch.Tensor) -> State:
        """src (B, S) -> the decoding state {"memory", "src_mask", "prefix" (B, 0)}."""
        if not isinstance(src, torch.Tensor) or src.ndim != 2 or src.dtype != torch.long:
            raise TypeError(
                "src must be a (B, S) LongTensor of source ids, got "
                + (
                    f"{src.dtype} {tuple(src.shape)}"
                    if torch.is_tensor(src)
                    else type(src).__name__
                )
            )
        src_mask = padding_mask(src, pad_id=self.config.src_pad_id)  # (B, S)
        lengths = src_mask.sum(1)  # (B,)
        if bool((lengths == 0).any()):
            raise ValueError(
                f"source row {int((lengths == 0).nonzero()[0])} is all <pad> "
                f"(id {self.config.src_pad_id}): every source needs a token "
                "(encode_pairs adds <eos>)"
            )
        if not torch.equal(src_mask, padding_mask(lengths, max_len=src.size(1))):
            # left padding would shift a sentence's positions, and so change its numbers
            raise ValueError(
                f"sources must be padded on the right only, with <pad> = {self.config.src_pad_id}"
            )
        x = self._embed(src, self.src_embed, "source")  # (B, S, d_model)
        for layer in self.encoder:
            x = layer(x, src_mask)
        memory = self.ln_enc(x)  # (B, S, d_model)
        return {"memory": memory, "src_mask": src_mask, "prefix": src.new_zeros(src.size(0), 0)}

    def decode(
        self, y: torch.Tensor, state: State, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Run the decoder over y (B, T) -> logits (B, T, V) at every position, and if
        need_weights the cross-attention weights (B, n_layers, n_heads, T, S), else None."""
        x = self._embed(y, self.tgt_embed, "target")  # (B, T, d_model)
        weights = []
        for layer in self.decoder:
            x, w = layer(x, state["memory"], state["src_mask"], need_weights)
            weights.append(w)
        logits = self.out(self.ln_dec(x))  # (B, T, V)
        return logits, torch.stack(weights, dim=1) if need_weights else None

    def decode_step(self, prev: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One decoding step: prev (B,) tokens -> logits (B, V) of the next, and the new state.

        The state keeps the prefix read so far, and each step runs the decoder over all of
        it again: simple and correct, but step t costs t positions. Chapter 6's GPT keeps
        a KV cache, the keys and values of earlier positions, to compute only the new one.
        """
        prefix = torch.cat([state["prefix"], prev[:, None]], dim=1)  # (B, t)
        logits, _ = self.decode(prefix, state)  # (B, t, V)
        return logits[:, -1], {**state, "prefix": prefix}

    def _check_tgt(self, src: torch.Tensor, tgt: torch.Tensor) -> None:
        if not isinstance(tgt, torch.Tensor) or tgt.ndim != 2 or tgt.size(1) < 2:
            raise ValueError(
                "tgt must be (B, T) with T >= 2: at least <bos> and <eos>, got "
                + (f"shape {tuple(tgt.shape)}" if torch.is_tensor(tgt) else type(tgt).__name__)
            )
        if tgt.size(0) != src.size(0):
            raise ValueError(
                f"src and tgt must hold the same number of sentences, got {src.size(0)} and "
                f"{tgt.size(0)}"
            )
        if bool((tgt[:, 0] != self.config.bos_id).any()):
            raise ValueError(
                f"every target must start with <bos> (id {self.config.bos_id}), got first ids "
                f"{tgt[:, 0].tolist()[:8]}; encode targets with encode_pairs"
            )

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S), tgt (B, T) = <bos> ... <eos> <pad>... -> logits (B, T-1, V), mean loss.

        Teacher forcing, as in chapter 4: the decoder reads tgt[:, :-1] and predicts
        tgt[:, 1:], all positions at once (the causal mask keeps each from seeing its
        answer); the loss is the mean cross-entropy over target positions that are not <pad>.
        """
        self._check_tgt(src, tgt)
        logits, _ = self.decode(tgt[:, :-1], self.encode(src))  # (B, T-1, V)
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)),
            tgt[:, 1:].reshape(-1),
            ignore_index=self.config.tgt_pad_id,  # padding adds nothing to the loss
        )
        return logits, loss

    def cross_attention_weights(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """(B, n_layers, n_heads, T-1, S) cross-attention under teacher forcing, in eval mode
        and without gradients: [b, l, h, j, i] is how much head h of decoder layer l, while
        producing tgt[b, j+1], looks at source token i.

        Each row sums to 1 over the real source tokens and is 0 on padding. For one heat map
        per sentence, comparable with chapter 5's `attention_weights` (B, T-1, S), average
        the heads of a layer, e.g. the last: `weights[:, -1].mean(1)`.
        """
        self._check_tgt(src, tgt)
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                _, weights = self.decode(tgt[:, :-1], self.encode(src), need_weights=True)
        finally:
            self.train(was_training)
        return weights
