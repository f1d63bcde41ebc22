"""Attention: scaled dot-product and additive attention, masks, multi-head attention, the
encoder–decoder with attention, and sinusoidal positions.

Introduced in chapter 5; chapter 6's transformer reuses the masks, `MultiHeadAttention`
and `sinusoidal_positions`::

    >>> q, k, v = torch.randn(2, 5, 16), torch.randn(2, 7, 16), torch.randn(2, 7, 32)
    >>> out, weights = scaled_dot_product_attention(q, k, v)
    >>> out.shape, weights.shape        # (B, T_q, d_v), (B, T_q, T_k)
    (torch.Size([2, 5, 32]), torch.Size([2, 5, 7]))
    >>> mha = MultiHeadAttention(d_model=64, n_heads=8)
    >>> x = torch.randn(2, 10, 64)                                     # (B, T, d_model)
    >>> y, _ = mha(x, x, x, mask=causal_mask(10))                      # (B, T, d_model)

Masks are boolean and True means "may attend" (a real key, a position not in the
future), the convention of `torch.nn.functional.scaled_dot_product_attention`. A mask
broadcasts against the scores, (…, T_q, T_k): a causal mask is (T_q, T_k), a padding
mask (B, T_k) becomes (B, 1, 1, T_k) to cover every head and query (`merge_masks`).
`torch.nn.MultiheadAttention` uses the opposite convention for its boolean masks
(True = masked out): pass it `~mask`. `from_torch_mha` and `to_torch_mha` copy weights
between the two modules.

A query whose keys are all masked gets zero weights and a zero output, as torch's
`scaled_dot_product_attention` gives (a plain softmax would give 0/0 = NaN;
`nn.MultiheadAttention` returns NaN there). The input checks are lmbook.validate's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lmbook.seq2seq import Encoder, Seq2Seq, Seq2SeqConfig, State
from lmbook.validate import (
    check_additive_inputs,
    check_attention_inputs,
    check_even_int,
    check_ids_or_lengths,
    check_int,
    check_mask,
    check_mha_config,
    check_mha_inputs,
    check_torch_mha,
    check_type,
)

# --- masks --------------------------------------------------------------------------


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) bool, True on and below the diagonal: position t may attend to 0 … t.

    >>> causal_mask(3)
    tensor([[ True, False, False],
            [ True,  True, False],
            [ True,  True,  True]])
    """
    check_int("T", T)
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(
    ids_or_lengths: torch.Tensor, pad_id: int | None = None, max_len: int | None = None
) -> torch.Tensor:
    """(B, T) bool, True at real tokens: from ids (B, T) and pad_id, or lengths (B,).

    >>> padding_mask(torch.tensor([[5, 6, 1], [7, 1, 1]]), pad_id=1)
    tensor([[ True,  True, False],
            [ True, False, False]])
    >>> padding_mask(torch.tensor([2, 1]), max_len=3)  # the same mask, from the lengths
    tensor([[ True,  True, False],
            [ True, False, False]])
    """
    x = ids_or_lengths
    check_ids_or_lengths(x, pad_id, max_len)
    if x.ndim == 2:
        return x != pad_id  # (B, T)
    if max_len is None:
        max_len = int(x.max()) if x.numel() else 0  # the longest
    return torch.arange(max_len, device=x.device) < x[:, None]  # (B, T)


def merge_masks(
    mask: torch.Tensor | None, padding_mask: torch.Tensor | None
) -> torch.Tensor | None:
    """mask (…, T_q, T_k) and padding_mask (B, T_k) as one mask for (B, h, T_q, T_k).

    A key must pass both; either may be None.
    """
    if padding_mask is None:
        return mask
    keys = padding_mask[:, None, None, :]  # (B, 1, 1, T_k): every head and query alike
    return keys if mask is None else mask & keys


# --- scaled dot-product attention -----------------------------------------------------


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax over the last axis, with weight exactly 0 where mask is False.

    A row whose positions are all masked gets all-zero weights rather than 0/0 = NaN.

    >>> mask = torch.tensor([[True, True, False]])
    >>> masked_softmax(torch.tensor([[1.0, 1.0, 5.0]]), mask)
    tensor([[0.5000, 0.5000, 0.0000]])
    """
    if mask is None:
        return scores.softmax(dim=-1)
    check_mask(mask, scores.shape, "the scores")
    weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    return weights.masked_fill(~mask, 0.0)  # also turns an all-masked row's NaN into 0


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k) v -> (output (…, T_q, d_v), weights (…, T_q, T_k)).

    q (…, T_q, d_k), k (…, T_k, d_k), v (…, T_k, d_v); mask (True = may attend)
    broadcasts to (…, T_q, T_k). The weights returned are those before dropout.
    """
    check_attention_inputs(q, k, v, mask, dropout_p)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (…, T_q, T_k)
    weights = masked_softmax(scores, mask)  # each row sums to 1 (or is all 0)
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights  # (…, T_q, d_v)


# --- multi-head attention ------------------------------------------------------------


class MultiHeadAttention(nn.Module):
    """n_heads attentions of width d_k = d_model / n_heads, side by side, then W_o."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        check_mha_config(d_model, n_heads, dropout)
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.dropout = float(dropout)  # on the attention weights, while training
        self.W_q = nn.Linear(d_model, d_model, bias=bias)  # all heads' W_q^i
        self.W_k = nn.Linear(d_model, d_model, bias=bias)
        self.W_v = nn.Linear(d_model, d_model, bias=bias)
        self.W_o = nn.Linear(d_model, d_model, bias=bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.n_heads, self.d_k)).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        need_weights: bool = False,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """query (B, T_q, C), key and value (B, T_k, C) -> (B, T_q, C), C = d_model."""
        check_mha_inputs(self, query, key, value, mask, padding_mask)
        mask = merge_masks(mask, padding_mask)  # broadcasts to (B, h, T_q, T_k)
        q = self._split_heads(self.W_q(query))  # (B, h, T_q, d_k)
        k = self._split_heads(self.W_k(key))  # (B, h, T_k, d_k)
        v = self._split_heads(self.W_v(value))  # (B, h, T_k, d_k)
        p = self.dropout if self.training else 0.0
        if need_weights:  # the explicit core, which has the weights (B, h, T_q, T_k)
            out, weights = scaled_dot_product_attention(q, k, v, mask, p)
        else:  # torch's fused kernel: the same numbers, faster, no weights kept
            out, weights = F.scaled_dot_product_attention(q, k, v, mask, p), None
        out = out.transpose(1, 2).flatten(2)  # heads side by side: (B, T_q, d_model)
        return self.W_o(out), weights


# --- torch's nn.MultiheadAttention: the same weights, packed differently ---------------


def torch_mha_pairs(
    ours: MultiHeadAttention, theirs: nn.MultiheadAttention
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(our parameter, the same numbers in torch's module), for every parameter."""
    check_torch_mha(theirs, ours.d_model, ours.n_heads, ours.W_q.bias is not None)
    d, pairs = ours.d_model, []
    for i, W in enumerate((ours.W_q, ours.W_k, ours.W_v)):  # in_proj: (3d, d)
        pairs.append((W.weight, theirs.in_proj_weight[i * d : (i + 1) * d]))
        if W.bias is not None:
            pairs.append((W.bias, theirs.in_proj_bias[i * d : (i + 1) * d]))
    pairs.append((ours.W_o.weight, theirs.out_proj.weight))
    if ours.W_o.bias is not None:
        pairs.append((ours.W_o.bias, theirs.out_proj.bias))
    return pairs


def from_torch_mha(mha: nn.MultiheadAttention) -> MultiHeadAttention:
    """A MultiHeadAttention with the weights, dtype, device and mode of torch's module.

    Mind the masks: torch's boolean masks mean True = masked out, ours True = may
    attend; and torch's module takes (T, B, d_model) unless batch_first=True.
    """
    check_type("mha", mha, nn.MultiheadAttention, "a torch.nn.MultiheadAttention")
    bias = mha.in_proj_bias is not None
    ours = MultiHeadAttention(mha.embed_dim, mha.num_heads, mha.dropout, bias=bias)
    ours.to(device=mha.out_proj.weight.device, dtype=mha.out_proj.weight.dtype)
    with torch.no_grad():
        for mine, theirs in torch_mha_pairs(ours, mha):
            mine.copy_(theirs)
    return ours.train(mha.training)


def to_torch_mha(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    """A torch.nn.MultiheadAttention(batch_first=True) holding ours's weights."""
    check_type("ours", ours, MultiHeadAttention, "an lmbook MultiHeadAttention")
    W, bias = ours.W_q.weight, ours.W_q.bias is not None
    mha = nn.MultiheadAttention(
        ours.d_model,
        ours.n_heads,
        dropout=ours.dropout,
        bias=bias,
        batch_first=True,
        device=W.device,
        dtype=W.dtype,
    )
    with torch.no_grad():
        for mine, theirs in torch_mha_pairs(ours, mha):
            theirs.copy_(mine)
    return mha.train(ours.training)


# --- additive attention and the encoder–decoder with attention -------------------------


class AdditiveAttention(nn.Module):
    """Bahdanau et al.'s (2015) attention: score(s, h_j) = vᵀ tanh(W_s s + W_h h_j).

    A query s (B, d_query) attends over h (B, S, d_key), the keys and the values ->
    context Σ_j α_j h_j (B, d_key) and weights α (B, S); mask (B, S) is True at real
    tokens. keys = project_keys(h), if given, saves recomputing W_h h at every step.
    """

    def __init__(self, d_query: int, d_key: int, d_attn: int) -> None:
        super().__init__()
        for name, size in (("d_query", d_query), ("d_key", d_key), ("d_attn", d_attn)):
            check_int(name, size)
        self.W_s = nn.Linear(d_query, d_attn, bias=False)
        self.W_h = nn.Linear(d_key, d_attn)  # the score's one bias lives here
        self.v = nn.Linear(d_attn, 1, bias=False)

    def project_keys(self, h: torch.Tensor) -> torch.Tensor:
        """h (B, S, d_key) -> W_h h (B, S, d_attn), the half of the score without s."""
        return self.W_h(h)

    def forward(
        self,
        s: torch.Tensor,
        h: torch.Tensor,
        mask: torch.Tensor | None = None,
        keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """s (B, d_query), h (B, S, d_key) -> context (B, d_key), weights (B, S)."""
        check_additive_inputs(s, h)
        if keys is None:
            keys = self.project_keys(h)  # (B, S, d_attn)
        # e_j = vᵀ tanh(W_s s + W_h h_j) for every j at once: (B, S)
        scores = self.v(torch.tanh(self.W_s(s).unsqueeze(1) + keys)).squeeze(-1)
        weights = masked_softmax(scores, mask)  # (B, S)
        context = (weights.unsqueeze(1) @ h).squeeze(1)  # Σ_j α_j h_j: (B, d_key)
        return context, weights


class BidirectionalEncoder(Encoder):
    """Chapter 4's encoder with a GRU reading each way, H/2 units per direction.

    src (B, S) -> outputs h_j = [→h_j; ←h_j] (B, S, H), zero at padding, and the
    decoder's first state s_0 = tanh(W [→h_S; ←h_1]) (n_layers, B, H), as in chapter 4.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__(config)
        E, H = config.n_embd, config.n_hidden
        check_even_int("n_hidden", H, "H/2 units each way")
        self.rnn = nn.GRU(  # replaces chapter 4's one-way GRU; forward is chapter 4's
            E,
            H // 2,
            config.n_layers,
            batch_first=True,
            dropout=config.dropout if config.n_layers > 1 else 0.0,
            bidirectional=True,
        )
        self.bridge = nn.Linear(H, H)

    def forward(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S) -> outputs (B, S, H), zero at padding, s_0 (n_layers, B, H)."""
        outputs, hidden = super().forward(src)  # (B, S, H), (2·n_layers, B, H/2)
        L2, B, H_half = hidden.shape
        hidden = hidden.view(L2 // 2, 2, B, H_half)  # (n_layers, direction, B, H/2)
        both = torch.cat([hidden[:, 0], hidden[:, 1]], dim=-1)  # (n_layers, B, H)
        return outputs, torch.tanh(self.bridge(both))


class AttentionDecoder(nn.Module):
    """Chapter 4's GRU decoder with a new context c_t at every step (Bahdanau et al.).

    Step t: s_{t-1} (the top layer's) attends over h_1 … h_S, giving α_t and c_t; the
    GRU reads [e(y_{t-1}); c_t]; one linear layer scores the next token from
    [s_t; e(y_{t-1}); c_t].
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        E, H = config.n_embd, config.n_hidden
        self.embed = nn.Embedding(config.tgt_vocab_size, E, padding_idx=config.tgt_pad_id)
        self.drop = nn.Dropout(config.dropout)
        self.attention = AdditiveAttention(d_query=H, d_key=H, d_attn=H)
        dropout = config.dropout if config.n_layers > 1 else 0.0  # between GRU layers
        self.rnn = nn.GRU(E + H, H, config.n_layers, batch_first=True, dropout=dropout)
        self.out = nn.Linear(H + E + H, config.tgt_vocab_size)

    def forward(
        self,
        y: torch.Tensor,
        hidden: torch.Tensor,
        outputs: torch.Tensor,
        mask: torch.Tensor,
        keys: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """y (B, T), hidden (n_layers, B, H), outputs and keys (B, S, H), mask (B, S)
        -> logits (B, T, V), the hidden state after y, and the weights α (B, T, S)."""
        e = self.drop(self.embed(y))  # (B, T, E)
        states, contexts, weights = [], [], []
        for t in range(y.size(1)):  # step by step: c_t needs s_{t-1}
            c, alpha = self.attention(hidden[-1], outputs, mask, keys)  # (B, H), (B, S)
            x = torch.cat([e[:, t], c], dim=-1).unsqueeze(1)  # (B, 1, E + H)
            s, hidden = self.rnn(x, hidden)  # s: (B, 1, H)
            states.append(s)
            contexts.append(c)
            weights.append(alpha)
        s = torch.cat(states, dim=1)  # (B, T, H)
        c = torch.stack(contexts, dim=1)  # (B, T, H)
        logits = self.out(self.drop(torch.cat([s, e, c], dim=-1)))  # (B, T, V)
        return logits, hidden, torch.stack(weights, dim=1)  # weights: (B, T, S)


class AttentionSeq2Seq(Seq2Seq):
    """Chapter 4's encoder–decoder with a BidirectionalEncoder and an AttentionDecoder.

    The config (n_hidden even), loss, forward and decode_step are chapter 4's. The state
    holds "hidden" (B, n_layers, H), "outputs" h_j (B, S, H), "keys" W_h h_j (B, S, H),
    "src_mask" (B, S) and, after decode, "weights" α (B, T, S).
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__(config)
        self.encoder = BidirectionalEncoder(config)  # in place of chapter 4's encoder
        self.decoder = AttentionDecoder(config)  # and decoder

    def encode(self, src: torch.Tensor) -> State:
        """src (B, S) -> the state: "hidden", "outputs", "keys" and "src_mask"."""
        outputs, hidden = self.encoder(src)  # (B, S, H), (n_layers, B, H)
        return {
            "hidden": hidden.transpose(0, 1),  # (B, n_layers, H)
            "outputs": outputs,  # (B, S, H)
            "keys": self.decoder.attention.project_keys(outputs),  # (B, S, H)
            "src_mask": src != self.config.src_pad_id,  # (B, S)
        }

    def decode(self, y: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """y (B, T) from state -> logits (B, T, V), the state after y with "weights"."""
        hidden = state["hidden"].transpose(0, 1).contiguous()  # (n_layers, B, H)
        logits, hidden, weights = self.decoder(
            y, hidden, state["outputs"], state["src_mask"], state["keys"]
        )
        return logits, {**state, "hidden": hidden.transpose(0, 1), "weights": weights}

    def attention_weights(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """α (B, T-1, S) by teacher forcing, in eval mode: row t produces tgt[:, t+1].

        For src = English <eos> and tgt = <bos> French <eos>, weights[b, j, i] is how
        much French token j looks at English token i (lmbook.parallel's link (i, j)).
        """
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                _, state = self.decode(tgt[:, :-1], self.encode(src))
        finally:
            self.train(was_training)
        return state["weights"]


# --- positions -----------------------------------------------------------------------


def sinusoidal_positions(
    T: int,
    d_model: int,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(T, d_model) positional encodings (Vaswani et al., 2017), computed in float64.

    PE[pos, 2i] = sin(pos / 10000^(2i/d_model)), PE[pos, 2i+1] = cos(the same angle):
    dims 2i and 2i+1 are one sine–cosine pair, so d_model must be even.

    >>> sinusoidal_positions(2, 4)
    tensor([[0.0000, 1.0000, 0.0000, 1.0000],
            [0.8415, 0.5403, 0.0100, 0.9999]])
    """
    check_int("T", T)
    check_even_int("d_model", d_model, "sine–cosine pairs")
    pos = torch.arange(T, dtype=torch.float64)[:, None]  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d_model/2,): 0, 2, …
    angles = pos / 10000 ** (two_i / d_model)  # (T, d_model/2)
    pe = torch.empty(T, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe.to(dtype=dtype, device=device)
