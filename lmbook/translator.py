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

Decoding reads one token per step and caches what earlier steps computed
(`start_cache`, `cached_step`): each decoder layer's self-attention keys and values of
the tokens read so far, and its cross-attention keys and values, projected from the
memory once per source. `fast_step`, the model's `decode_step`, gives the same numbers
with the self-attention cache written in place into buffers allocated ahead
(`with_room`), where `cached_step` grows it with `torch.cat`. Every tensor of the
decoding state is batch-first, like chapters 4 and 5's, so `lmbook.decoding.select`
(beam search) reorders it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lmbook.attention import MultiHeadAttention, causal_mask, padding_mask, sinusoidal_positions
from lmbook.seq2seq import BOS, EOS, PAD, UNK, State
from lmbook.text import Vocab
from lmbook.transformer import MLP
from lmbook.validate import (
    check_distinct,
    check_divisible,
    check_index,
    check_int,
    check_not_stepped,
    check_number,
    check_positions,
    check_source_ids,
    check_step_owner,
    check_target_batch,
    check_token_ids,
    check_type,
    check_vocab_tokens,
)


@dataclass
class TransformerConfig:
    """The sizes and special ids of an encoder–decoder transformer."""

    src_vocab_size: int
    tgt_vocab_size: int
    src_pad_id: int
    tgt_pad_id: int
    bos_id: int
    eos_id: int
    d_model: int = 128  # the width of every layer; even (sine–cosine positions)
    n_heads: int = 4  # each head attends with d_k = d_model / n_heads dimensions
    n_layers: int = 2  # encoder layers, and as many decoder layers
    dropout: float = 0.1  # on embeddings, attention weights and residual branches
    max_len: int = 256  # the longest source or target the positions cover
    tie_weights: bool = True  # the output layer shares the target embedding's weights

    def __post_init__(self) -> None:
        sizes = ("src_vocab_size", "tgt_vocab_size", "d_model", "n_heads", "n_layers")
        for name in (*sizes, "max_len"):
            check_int(name, getattr(self, name))
        per_head = "each head gets d_model / n_heads dimensions"
        check_divisible("d_model", self.d_model, self.n_heads, "n_heads", per_head)
        check_divisible("d_model", self.d_model, 2, why="sine–cosine positions come in pairs")
        check_number("dropout", self.dropout, low=0, high=1, high_open=True)
        check_type("tie_weights", self.tie_weights, bool, "True or False")
        V_src, V_tgt = self.src_vocab_size, self.tgt_vocab_size
        check_index("src_pad_id", self.src_pad_id, V_src, "src_vocab_size")
        for name in ("tgt_pad_id", "bos_id", "eos_id"):
            check_index(name, getattr(self, name), V_tgt, "tgt_vocab_size")
        check_distinct(tgt_pad_id=self.tgt_pad_id, bos_id=self.bos_id, eos_id=self.eos_id)

    @classmethod
    def from_vocabs(cls, src_vocab: Vocab, tgt_vocab: Vocab, **sizes) -> TransformerConfig:
        """The config with the vocabularies' sizes and special ids, and `sizes`."""
        check_vocab_tokens("src_vocab", src_vocab, (PAD, BOS, EOS, UNK))
        check_vocab_tokens("tgt_vocab", tgt_vocab, (PAD, BOS, EOS, UNK))
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

    def forward(self, x: Tensor, src_mask: Tensor) -> Tensor:
        """x (B, S, d_model), src_mask (B, S) True at real tokens -> (B, S, d_model)."""
        h = self.ln_1(x)
        a, _ = self.attn(h, h, h, padding_mask=src_mask)  # no token attends to padding
        x = x + self.drop(a)
        return x + self.mlp(self.ln_2(x))


class DecoderLayer(nn.Module):
    """One pre-LN decoder layer: causal self-attention, cross-attention, then an MLP."""

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
        self, y: Tensor, memory: Tensor, src_mask: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """y (B, T, d_model), memory (B, S, d_model), src_mask (B, S) -> y (B, T,
        d_model), and the cross-attention weights (B, n_heads, T, S) or None."""
        h = self.ln_1(y)
        a, _ = self.self_attn(h, h, h, mask=causal_mask(y.size(1), y.device))  # no peeking
        y = y + self.drop(a)
        h = self.ln_2(y)  # queries from the target; keys and values from the source
        a, w = self.cross_attn(h, memory, memory, need_weights=need_weights, padding_mask=src_mask)
        y = y + self.drop(a)
        return y + self.mlp(self.ln_3(y)), w


class TransformerSeq2Seq(nn.Module):
    """The encoder–decoder transformer: forward(src, tgt) -> (logits, loss); encode and
    decode_step for chapter 4's greedy and beam search."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        check_type("config", config, TransformerConfig, "a TransformerConfig")
        self.config, d, L = config, config.d_model, config.n_layers
        self.src_embed = nn.Embedding(config.src_vocab_size, d)
        self.tgt_embed = nn.Embedding(config.tgt_vocab_size, d)
        for table in (self.src_embed, self.tgt_embed):
            nn.init.normal_(table.weight, std=d**-0.5)  # times √d_model: unit scale
        pe = sinusoidal_positions(config.max_len, d)  # fixed: not in the state dict
        self.register_buffer("pe", pe, persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = nn.ModuleList(EncoderLayer(config) for _ in range(L))
        self.ln_enc = nn.LayerNorm(d)
        self.decoder = nn.ModuleList(DecoderLayer(config) for _ in range(L))
        self.ln_dec = nn.LayerNorm(d)
        self.out = nn.Linear(d, config.tgt_vocab_size, bias=False)
        if config.tie_weights:
            self.out.weight = self.tgt_embed.weight  # one (V, d_model) matrix, both ways

    def embed(self, ids: Tensor, table: nn.Embedding, start: int = 0) -> Tensor:
        """ids (B, T) at positions start … start+T-1 -> (B, T, d_model)."""
        x = table(ids) * math.sqrt(self.config.d_model)
        return self.drop(x + self.pe[start : start + ids.size(1)])

    def encode(self, src: Tensor) -> State:
        """src (B, S) -> {"memory": (B, S, d_model), "src_mask": (B, S)}."""
        check_source_ids(src, self.config.src_pad_id, self.config.max_len)
        check_token_ids(src, self.config.src_vocab_size, name="src")
        src_mask = padding_mask(src, pad_id=self.config.src_pad_id)  # True at tokens
        x = self.embed(src, self.src_embed)  # (B, S, d_model)
        for layer in self.encoder:
            x = layer(x, src_mask)
        return {"memory": self.ln_enc(x), "src_mask": src_mask}

    def decode(self, y: Tensor, state: State) -> Tensor:
        """Target ids y (B, T) -> logits (B, T, V) of each position's next token."""
        check_positions("target", y.size(1), self.config.max_len)
        check_token_ids(y, self.config.tgt_vocab_size, name="y")
        x = self.embed(y, self.tgt_embed)  # (B, T, d_model)
        for layer in self.decoder:
            x, _ = layer(x, state["memory"], state["src_mask"])
        return self.out(self.ln_dec(x))  # (B, T, V)

    def decode_step(self, prev: Tensor, state: State) -> tuple[Tensor, State]:
        """prev (B,) -> logits (B, V) of the next token, the new state (fast_step)."""
        return fast_step(self, prev, state)

    def forward(self, src: Tensor, tgt: Tensor) -> tuple[Tensor, Tensor]:
        """src (B, S), tgt (B, T) = <bos> … <eos> <pad>… -> logits (B, T-1, V), and the
        mean cross-entropy over the target positions that are not <pad>."""
        check_target_batch(tgt, src.size(0), self.config.bos_id)
        logits = self.decode(tgt[:, :-1], self.encode(src))  # teacher forcing
        targets, pad = tgt[:, 1:].flatten(), self.config.tgt_pad_id  # <pad>: no loss
        return logits, F.cross_entropy(logits.flatten(0, 1), targets, ignore_index=pad)


# --- decoding one token per step, with a cache --------------------------------------------


def split_heads(x: Tensor, n_heads: int) -> Tensor:
    """(B, T, d_model) -> (B, n_heads, T, d_k), the split MultiHeadAttention makes."""
    B, T, d_model = x.shape
    check_divisible("d_model", d_model, n_heads, "n_heads")
    return x.view(B, T, n_heads, d_model // n_heads).transpose(1, 2)


def start_cache(model: TransformerSeq2Seq, state: State) -> State:
    """encode's state, and every decoder layer's cross-attention keys and values
    "cross_k", "cross_v" (B, n_layers, n_heads, S, d_k), projected from the memory
    once, and its self-attention keys and values "self_k", "self_v", none yet."""
    memory, h = state["memory"], model.config.n_heads
    k = [split_heads(layer.cross_attn.W_k(memory), h) for layer in model.decoder]
    v = [split_heads(layer.cross_attn.W_v(memory), h) for layer in model.decoder]
    cross_k, cross_v = torch.stack(k, dim=1), torch.stack(v, dim=1)
    none = cross_k[:, :, :, :0]  # (B, n_layers, n_heads, 0, d_k): nothing read yet
    return {**state, "cross_k": cross_k, "cross_v": cross_v, "self_k": none, "self_v": none}


def attend(
    attn: MultiHeadAttention, x: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, p: float
) -> Tensor:
    """attn's heads with queries from x (B, T, d_model), over keys and values already
    projected, k and v (B, n_heads, T_k, d_k); p: dropout -> (B, T, d_model)."""
    q = split_heads(attn.W_q(x), k.size(1))  # (B, n_heads, T, d_k)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
    return attn.W_o(out.transpose(1, 2).flatten(2))  # heads side by side again


def cached_step(model: TransformerSeq2Seq, prev: Tensor, state: State) -> tuple[Tensor, State]:
    """Read prev (B,) at position t, the number of tokens cached -> logits (B, V) of the
    next token, and the state with prev's keys and values added to every layer's cache.
    The numbers of model.decode over the whole prefix, at the cost of one position."""
    check_step_owner(state, "cached_step")
    if "self_k" not in state:
        state = start_cache(model, state)
    t, h = state["self_k"].size(3), model.config.n_heads
    check_positions("target", t + 1, model.config.max_len)
    p = model.config.dropout if model.training else 0.0
    src_mask = state["src_mask"][:, None, None, :]  # (B, 1, 1, S)
    y = model.embed(prev[:, None], model.tgt_embed, start=t)  # (B, 1, d_model)
    keys, values = [], []
    for i, layer in enumerate(model.decoder):  # DecoderLayer.forward, for one position
        x = layer.ln_1(y)
        k = torch.cat([state["self_k"][:, i], split_heads(layer.self_attn.W_k(x), h)], 2)
        v = torch.cat([state["self_v"][:, i], split_heads(layer.self_attn.W_v(x), h)], 2)
        y = y + layer.drop(attend(layer.self_attn, x, k, v, None, p))  # sees 0 … t
        k_src, v_src = state["cross_k"][:, i], state["cross_v"][:, i]
        y = y + layer.drop(attend(layer.cross_attn, layer.ln_2(y), k_src, v_src, src_mask, p))
        y = y + layer.mlp(layer.ln_3(y))
        keys.append(k)  # (B, n_heads, t + 1, d_k)
        values.append(v)
    logits = model.out(model.ln_dec(y))[:, 0]  # (B, V)
    return logits, {**state, "self_k": torch.stack(keys, 1), "self_v": torch.stack(values, 1)}


# --- the same step, faster: the cache written in place -----------------------------------


def with_room(state: State, room: int) -> State:
    """The state with self-attention buffers "self_k", "self_v" of `room` positions,
    (B, n_layers, n_heads, room, d_k), holding the t cached ones, t = "read".size(1),
    and "filled" (B,), the positions they hold, shared by every state they are in."""
    t, (B, L, h, _, d_k) = state["read"].size(1), state["cross_k"].shape
    moved = {"filled": state["read"].new_full((B,), t)}
    for name in ("self_k", "self_v"):
        moved[name] = state["cross_k"].new_empty(B, L, h, room, d_k)
        moved[name][:, :, :, :t] = state[name][:, :, :, :t]  # the cached positions
    return {**state, **moved}


def fast_step(model: TransformerSeq2Seq, prev: Tensor, state: State) -> tuple[Tensor, State]:
    """cached_step's numbers, with each layer's self-attention cache written in place:
    prev's keys and values go into position t of buffers allocated ahead (twice the
    room when full), so a step writes one position where torch.cat copies the whole
    cache (beam search's select still copies whole buffers). "read" (B, t) holds the
    ids read. The buffers are shared with the state passed in, so a state can be
    stepped once ("filled" counts the positions written; a second step is refused):
    to branch, select (copy) it first. No backward through several steps."""
    check_step_owner(state, "fast_step")
    if "read" not in state:  # nothing read yet: room for 16 positions
        state = with_room({**start_cache(model, state), "read": prev[:, None][:, :0]}, 16)
    t, h = state["read"].size(1), model.config.n_heads
    check_positions("target", t + 1, model.config.max_len)
    check_not_stepped(state["filled"], t)
    if t == state["self_k"].size(3):
        state = with_room(state, 2 * t)
    state["filled"].add_(1)  # in place: the state passed in is now stepped
    p = model.config.dropout if model.training else 0.0
    src_mask = state["src_mask"][:, None, None, :]  # (B, 1, 1, S)
    y = model.embed(prev[:, None], model.tgt_embed, start=t)  # (B, 1, d_model)
    for i, layer in enumerate(model.decoder):  # cached_step's loop, in place
        x = layer.ln_1(y)
        k, v = state["self_k"][:, i], state["self_v"][:, i]  # (B, n_heads, room, d_k)
        k[:, :, t : t + 1] = split_heads(layer.self_attn.W_k(x), h)  # position t
        v[:, :, t : t + 1] = split_heads(layer.self_attn.W_v(x), h)
        a = attend(layer.self_attn, x, k[:, :, : t + 1], v[:, :, : t + 1], None, p)
        y = y + layer.drop(a)  # sees 0 … t
        k_src, v_src = state["cross_k"][:, i], state["cross_v"][:, i]
        y = y + layer.drop(attend(layer.cross_attn, layer.ln_2(y), k_src, v_src, src_mask, p))
        y = y + layer.mlp(layer.ln_3(y))
    logits = model.out(model.ln_dec(y))[:, 0]  # (B, V)
    return logits, {**state, "read": torch.cat([state["read"], prev[:, None]], 1)}


# --- reading the cross-attention -----------------------------------------------------------


def cross_attention_weights(model: TransformerSeq2Seq, src: Tensor, tgt: Tensor) -> Tensor:
    """(B, n_layers, n_heads, T-1, S) cross-attention under teacher forcing, in eval
    mode, without gradients: [b, l, h, j, i] is how much head h of decoder layer l,
    producing tgt[b, j+1], looks at source token i. Rows sum to 1; <pad> gets 0."""
    check_target_batch(tgt, src.size(0), model.config.bos_id)
    was_training, weights = model.training, []
    model.eval()
    try:
        with torch.no_grad():
            state = model.encode(src)
            y = model.embed(tgt[:, :-1], model.tgt_embed)  # (B, T-1, d_model)
            for layer in model.decoder:
                y, w = layer(y, state["memory"], state["src_mask"], need_weights=True)
                weights.append(w)  # (B, n_heads, T-1, S)
    finally:
        model.train(was_training)
    return torch.stack(weights, dim=1)
