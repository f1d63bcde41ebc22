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
mask (B, T_k) becomes (B, 1, 1, T_k) to cover every head and query.
`torch.nn.MultiheadAttention` uses the opposite convention for its boolean masks
(True = masked out): pass it `~mask`.

A query whose keys are all masked gets zero weights and a zero output, as torch's
`scaled_dot_product_attention` gives (a plain softmax would give 0/0 = NaN;
`nn.MultiheadAttention` returns NaN there).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lmbook.seq2seq import Encoder, Seq2Seq, Seq2SeqConfig, State

# --- masks --------------------------------------------------------------------------


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) bool, True on and below the diagonal: position t may attend to positions 0..t.

    >>> causal_mask(3)
    tensor([[ True, False, False],
            [ True,  True, False],
            [ True,  True,  True]])
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an int >= 1, got {T!r}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(
    ids_or_lengths: torch.Tensor, pad_id: int | None = None, max_len: int | None = None
) -> torch.Tensor:
    """(B, T) bool, True at real tokens: from ids (B, T) and pad_id, or from lengths (B,).

    >>> padding_mask(torch.tensor([[5, 6, 1], [7, 1, 1]]), pad_id=1)
    tensor([[ True,  True, False],
            [ True, False, False]])
    >>> padding_mask(torch.tensor([2, 1]), max_len=3)  # the same mask, from the lengths
    tensor([[ True,  True, False],
            [ True, False, False]])
    """
    x = ids_or_lengths
    if not isinstance(x, torch.Tensor) or x.dtype.is_floating_point or x.dtype == torch.bool:
        raise TypeError(
            "ids_or_lengths must be an integer tensor: ids (B, T) or lengths (B,), got "
            + (f"{x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__)
        )
    if x.ndim == 2:
        if pad_id is None or max_len is not None:
            raise ValueError(
                f"for ids of shape {tuple(x.shape)} give pad_id (and no max_len), "
                f"got pad_id={pad_id!r}, max_len={max_len!r}"
            )
        return x != pad_id  # (B, T)
    if x.ndim == 1:
        if pad_id is not None:
            raise ValueError(f"lengths {tuple(x.shape)} take max_len, not pad_id={pad_id!r}")
        longest = int(x.max()) if x.numel() else 0
        if max_len is None:
            max_len = longest
        if bool((x < 0).any()) or longest > max_len:
            raise ValueError(f"lengths must lie in [0, max_len={max_len}], got {x.tolist()}")
        return torch.arange(max_len, device=x.device) < x[:, None]  # (B, T)
    raise ValueError(
        f"ids_or_lengths must be ids (B, T) or lengths (B,), got shape {tuple(x.shape)}"
    )


def _check_mask(mask: torch.Tensor, shape: torch.Size, what: str) -> None:
    """Raise unless mask is a bool tensor that broadcasts to shape (the scores' shape)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(
            "mask must be a bool tensor (True = may attend), got "
            + (f"{mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask).__name__)
        )
    try:
        broadcast = torch.broadcast_shapes(mask.shape, shape)
    except RuntimeError:
        broadcast = None
    if broadcast != shape:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to {what} {tuple(shape)}"
        )


# --- scaled dot-product attention -----------------------------------------------------


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """softmax over the last axis, with weight exactly 0 where mask is False.

    A row whose positions are all masked gets all-zero weights rather than 0/0 = NaN.

    >>> masked_softmax(torch.tensor([[1.0, 1.0, 5.0]]), torch.tensor([[True, True, False]]))
    tensor([[0.5000, 0.5000, 0.0000]])
    """
    if mask is None:
        return scores.softmax(dim=-1)
    _check_mask(mask, scores.shape, "the scores")
    weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    return weights.masked_fill(~mask, 0.0)  # also turns an all-masked row's NaN into 0


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k) v, written out: -> (output (…, T_q, d_v), weights (…, T_q, T_k)).

    q (…, T_q, d_k), k (…, T_k, d_k), v (…, T_k, d_v); mask (bool, True = may attend)
    broadcasts to (…, T_q, T_k). dropout_p drops weights before they multiply v (pass
    0.0 outside training); the weights returned are those before dropout.
    """
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor) or x.ndim < 2:
            raise ValueError(f"{name} must be a tensor (…, T, d) with at least 2 dims")
    shapes = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
    if q.size(-1) != k.size(-1):
        raise ValueError(f"q and k must share d_k (their last dim), got {shapes}")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"k and v must share T_k (their second-last dim), got {shapes}")
    try:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(f"the leading (batch, head) dims do not broadcast: {shapes}") from None
    if not 0 <= dropout_p < 1:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p!r}")
    if mask is not None:
        _check_mask(mask, batch + (q.size(-2), k.size(-2)), "the scores (…, T_q, T_k)")

    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (…, T_q, T_k)
    weights = masked_softmax(scores, mask)  # (…, T_q, T_k), each row sums to 1 (or is 0)
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights  # (…, T_q, d_v)


# --- multi-head attention ------------------------------------------------------------


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al., 2017): n_heads heads of size d_k = d_model / n_heads.

    Each head projects the queries, keys and values with its own slice of W_q, W_k, W_v,
    attends, and the heads' outputs, concatenated, are mixed by W_o. forward takes query
    (B, T_q, d_model), key and value (B, T_k, d_model) and returns (output (B, T_q,
    d_model), weights (B, n_heads, T_q, T_k) if need_weights else None).

    Masks (bool, True = may attend): `mask` broadcasts to (B, n_heads, T_q, T_k), so a
    (T_q, T_k) causal mask works as it is; `padding_mask` (B, T_k), True at real keys,
    is the padding of key and value. Both may be given; a key must pass both. Padded
    queries are not masked: their outputs are computed and should be ignored.

    The core runs in torch's fused F.scaled_dot_product_attention, which never returns
    the weights; need_weights=True runs lmbook's explicit version instead (same numbers).
    `from_torch` and `to_torch` copy the weights from and to torch.nn.MultiheadAttention.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        for name, value in (("d_model", d_model), ("n_heads", n_heads)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if d_model % n_heads:
            divisors = [h for h in range(1, d_model + 1) if d_model % h == 0]
            raise ValueError(
                f"d_model={d_model} is not divisible by n_heads={n_heads}: each head gets "
                f"d_model / n_heads dimensions; n_heads may be one of {divisors[:12]}"
            )
        if isinstance(dropout, bool) or not (
            isinstance(dropout, (int, float)) and 0 <= dropout < 1
        ):
            raise ValueError(f"dropout must be a number in [0, 1), got {dropout!r}")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.dropout = float(dropout)  # on the attention weights, while training
        self.W_q = nn.Linear(d_model, d_model, bias=bias)  # all heads' W_q^i side by side
        self.W_k = nn.Linear(d_model, d_model, bias=bias)
        self.W_v = nn.Linear(d_model, d_model, bias=bias)
        self.W_o = nn.Linear(d_model, d_model, bias=bias)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, n_heads, T, d_k): head i holds dims i·d_k … (i+1)·d_k - 1."""
        B, T, _ = x.shape
        return x.view(B, T, self.n_heads, self.d_k).transpose(1, 2)

    def _check_inputs(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> None:
        shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
        for x in (query, key, value):
            if x.ndim != 3 or x.size(-1) != self.d_model:
                raise ValueError(
                    f"query, key and value must be (B, T, d_model={self.d_model}), got {shapes}"
                )
        if not query.size(0) == key.size(0) == value.size(0):
            raise ValueError(f"query, key and value must share the batch size B, got {shapes}")
        if key.size(1) != value.size(1):
            raise ValueError(f"key and value must share T_k, got {shapes}")

    def _combined_mask(
        self, mask: torch.Tensor | None, padding_mask: torch.Tensor | None, shape: torch.Size
    ) -> torch.Tensor | None:
        """mask and padding_mask as one bool mask that broadcasts to shape (B, h, T_q, T_k)."""
        B, _, _, T_k = shape
        if mask is not None:
            if isinstance(mask, torch.Tensor) and mask.ndim == 3:
                raise ValueError(
                    f"a 3-D mask {tuple(mask.shape)} is ambiguous: give (T_q, T_k) for every "
                    "sequence alike or (B, 1, T_q, T_k) for one mask per sequence"
                )
            _check_mask(mask, shape, "(B, n_heads, T_q, T_k)")
        if padding_mask is not None:
            if not isinstance(padding_mask, torch.Tensor) or padding_mask.shape != (B, T_k):
                raise ValueError(
                    f"padding_mask must be (B, T_k) = {(B, T_k)}, got "
                    + (
                        f"{tuple(padding_mask.shape)}"
                        if isinstance(padding_mask, torch.Tensor)
                        else type(padding_mask).__name__
                    )
                )
            keys = padding_mask[:, None, None, :]  # (B, 1, 1, T_k)
            _check_mask(keys, shape, "(B, n_heads, T_q, T_k)")
            mask = keys if mask is None else mask & keys
        return mask

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        need_weights: bool = False,
        *,
        padding_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """query (B, T_q, d_model), key and value (B, T_k, d_model) -> (output, weights or None)."""
        self._check_inputs(query, key, value)
        B, T_q, T_k = query.size(0), query.size(1), key.size(1)
        mask = self._combined_mask(mask, padding_mask, torch.Size((B, self.n_heads, T_q, T_k)))
        q = self._split_heads(self.W_q(query))  # (B, h, T_q, d_k)
        k = self._split_heads(self.W_k(key))  # (B, h, T_k, d_k)
        v = self._split_heads(self.W_v(value))  # (B, h, T_k, d_k)
        p = self.dropout if self.training else 0.0
        if need_weights:  # the explicit version, which has the weights to return
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p=p)
        else:  # torch's fused kernel: the same numbers, less memory, faster
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
            weights = None
        # the heads side by side again: (B, h, T_q, d_k) -> (B, T_q, d_model)
        out = out.transpose(1, 2).reshape(B, T_q, self.d_model)
        return self.W_o(out), weights  # weights: (B, h, T_q, T_k)

    # --- torch's nn.MultiheadAttention holds the same weights, differently packed ---

    def _torch_pairs(self, mha: nn.MultiheadAttention) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(our parameter, the same numbers in mha) pairs, after checking the layouts match."""
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(f"expected a torch.nn.MultiheadAttention, got {type(mha).__name__}")
        if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError(
                "only an nn.MultiheadAttention with kdim = vdim = embed_dim, add_bias_kv=False "
                "and add_zero_attn=False has the same parameters"
            )
        theirs = (mha.embed_dim, mha.num_heads, mha.in_proj_bias is not None)
        ours = (self.d_model, self.n_heads, self.W_q.bias is not None)
        if theirs != ours:
            raise ValueError(
                f"(d_model, n_heads, bias) differ: {ours} here, {theirs} in the torch module"
            )
        # in_proj_weight stacks W_q, W_k, W_v: (3·d_model, d_model)
        pairs = [
            (self.W_q.weight, mha.in_proj_weight[: self.d_model]),
            (self.W_k.weight, mha.in_proj_weight[self.d_model : 2 * self.d_model]),
            (self.W_v.weight, mha.in_proj_weight[2 * self.d_model :]),
            (self.W_o.weight, mha.out_proj.weight),
        ]
        if mha.in_proj_bias is not None:
            pairs += [
                (self.W_q.bias, mha.in_proj_bias[: self.d_model]),
                (self.W_k.bias, mha.in_proj_bias[self.d_model : 2 * self.d_model]),
                (self.W_v.bias, mha.in_proj_bias[2 * self.d_model :]),
                (self.W_o.bias, mha.out_proj.bias),
            ]
        return pairs

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """A MultiHeadAttention with the weights, dtype and device of torch's module.

        Remember the masks: torch's boolean masks mean True = masked out, ours True = may
        attend; and torch's module takes (T, B, d_model) unless batch_first=True.
        """
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(f"expected a torch.nn.MultiheadAttention, got {type(mha).__name__}")
        ours = cls(mha.embed_dim, mha.num_heads, mha.dropout, bias=mha.in_proj_bias is not None)
        ours.to(device=mha.out_proj.weight.device, dtype=mha.out_proj.weight.dtype)
        with torch.no_grad():
            for mine, theirs in ours._torch_pairs(mha):
                mine.copy_(theirs)
        return ours.train(mha.training)

    def to_torch(self) -> nn.MultiheadAttention:
        """A torch.nn.MultiheadAttention(batch_first=True) holding these weights."""
        W = self.W_q.weight
        mha = nn.MultiheadAttention(
            self.d_model,
            self.n_heads,
            dropout=self.dropout,
            bias=self.W_q.bias is not None,
            batch_first=True,
            device=W.device,
            dtype=W.dtype,
        )
        with torch.no_grad():
            for mine, theirs in self._torch_pairs(mha):
                theirs.copy_(mine)
        return mha.train(self.training)


# --- additive attention and the encoder–decoder with attention -------------------------


class AdditiveAttention(nn.Module):
    """Additive attention (Bahdanau et al., 2015): score(s, h_j) = vᵀ tanh(W_s s + W_h h_j).

    One query s (B, d_query) per row attends over the annotations h (B, S, d_key), which
    are the keys and the values; forward returns the context Σ_j α_j h_j (B, d_key) and
    the weights α (B, S). mask (B, S) is True at real source tokens; padding gets α = 0.
    W_h h does not depend on the query, so a decoder computes it once per source with
    `project_keys(h)` and passes it to every step as `keys`: without it, each of the
    T target steps would redo that (B, S, d_key) × (d_key, d_attn) product.
    """

    def __init__(self, d_query: int, d_key: int, d_attn: int) -> None:
        super().__init__()
        self.W_s = nn.Linear(d_query, d_attn, bias=False)
        self.W_h = nn.Linear(d_key, d_attn)  # the score's one bias lives here
        self.v = nn.Linear(d_attn, 1, bias=False)

    def project_keys(self, h: torch.Tensor) -> torch.Tensor:
        """h (B, S, d_key) -> W_h h (B, S, d_attn), the query-independent half of the score."""
        return self.W_h(h)

    def forward(
        self,
        s: torch.Tensor,
        h: torch.Tensor,
        mask: torch.Tensor | None = None,
        keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """s (B, d_query), h (B, S, d_key) -> context (B, d_key), weights (B, S)."""
        if s.ndim != 2 or h.ndim != 3 or s.size(0) != h.size(0):
            raise ValueError(
                f"s must be (B, d_query) and h (B, S, d_key), got s {tuple(s.shape)}, "
                f"h {tuple(h.shape)}"
            )
        if keys is None:
            keys = self.project_keys(h)  # (B, S, d_attn)
        scores = self.v(torch.tanh(self.W_s(s).unsqueeze(1) + keys)).squeeze(-1)  # (B, S)
        weights = masked_softmax(scores, mask)  # (B, S)
        context = (weights.unsqueeze(1) @ h).squeeze(1)  # (B, 1, S) @ (B, S, d_key) -> (B, d_key)
        return context, weights


class BidirectionalEncoder(Encoder):
    """Chapter 4's encoder with a GRU reading each way: outputs (B, S, H), zero at padding.

    Output j is h_j = [→h_j; ←h_j], the forward state after x_1 … x_j next to the
    backward state after x_S … x_j, H/2 units each: both halves have just read x_j, so
    h_j is about word j in its context on both sides (Bahdanau et al., 2015; they give
    each direction H units, which measured 1.5× slower here for a small gain). The final
    states become the decoder's initial ones, one per layer, by s_0 = tanh(W [→h_S; ←h_1])
    (Bahdanau et al. use ←h_1 alone). So forward returns what chapter 4's encoder does:
    outputs (B, S, H) and s_0 (n_layers, B, H).
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__(config)
        E, H = config.n_embd, config.n_hidden
        if H % 2:
            raise ValueError(f"n_hidden must be even (H/2 units each way), got {H}")
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
        """src (B, S) -> outputs (B, S, H), zero at padding, and s_0 (n_layers, B, H)."""
        outputs, hidden = super().forward(src)  # (B, S, H), (2·n_layers, B, H/2)
        L2, B, H_half = hidden.shape
        hidden = hidden.view(L2 // 2, 2, B, H_half)  # (n_layers, direction, B, H/2)
        both = torch.cat([hidden[:, 0], hidden[:, 1]], dim=-1)  # (n_layers, B, H): →h_S, ←h_1
        return outputs, torch.tanh(self.bridge(both))


class AttentionDecoder(nn.Module):
    """The GRU decoder with additive attention (Bahdanau et al., 2015), one step at a time.

    Step t: the previous state s_{t-1} (the top layer's) attends over the encoder outputs
    h_1 … h_S, giving weights α_t and the context c_t = Σ_j α_tj h_j; the GRU reads
    [e(y_{t-1}); c_t] and updates s_t; one linear layer scores the next token from
    [s_t; e(y_{t-1}); c_t]. Unlike chapter 4's decoder, the context changes every step.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        E, H = config.n_embd, config.n_hidden
        self.embed = nn.Embedding(config.tgt_vocab_size, E, padding_idx=config.tgt_pad_id)
        self.drop = nn.Dropout(config.dropout)
        self.attention = AdditiveAttention(d_query=H, d_key=H, d_attn=H)
        self.rnn = nn.GRU(
            E + H,
            H,
            config.n_layers,
            batch_first=True,
            dropout=config.dropout if config.n_layers > 1 else 0.0,
        )
        self.out = nn.Linear(H + E + H, config.tgt_vocab_size)

    def forward(
        self,
        y: torch.Tensor,
        hidden: torch.Tensor,
        outputs: torch.Tensor,
        mask: torch.Tensor,
        keys: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """y (B, T), hidden (n_layers, B, H), encoder outputs (B, S, H), mask (B, S), keys.

        Returns the logits (B, T, V), the hidden state after y, and the weights (B, T, S).
        """
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
        logits = self.out(self.drop(torch.cat([s, e, c], dim=-1)))  # (B, T, V), all steps at once
        return logits, hidden, torch.stack(weights, dim=1)  # weights: (B, T, S)


class AttentionSeq2Seq(Seq2Seq):
    """An encoder–decoder with additive attention (Bahdanau et al., 2015), on chapter 4's.

    A BidirectionalEncoder and an AttentionDecoder; the config (n_hidden even), the
    masked loss, teacher forcing (forward) and decoding (decode_step, lmbook.decoding)
    are chapter 4's. The state that `encode` returns and `decode` updates, batch first
    like chapter 4's: "hidden" (B, n_layers, H) the decoder state, "outputs" (B, S, H)
    the encoder outputs h_j, "keys" (B, S, H) = W_h h_j computed once per source,
    "src_mask" (B, S) True at real source tokens, and after decode "weights" (B, T, S),
    the attention at each step decoded. For heat maps, `attention_weights(src, tgt)`.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__(config)
        self.encoder = BidirectionalEncoder(config)  # in place of chapter 4's encoder
        self.decoder = AttentionDecoder(config)  # and decoder

    def encode(self, src: torch.Tensor) -> State:
        """src (B, S) -> the decoding state: "hidden", "outputs", "keys" and "src_mask"."""
        outputs, hidden = self.encoder(src)  # (B, S, H), (n_layers, B, H)
        return {
            "hidden": hidden.transpose(0, 1),  # (B, n_layers, H)
            "outputs": outputs,  # (B, S, H)
            "keys": self.decoder.attention.project_keys(outputs),  # (B, S, H)
            "src_mask": src != self.config.src_pad_id,  # (B, S)
        }

    def decode(self, y: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Run the decoder over y (B, T) from state -> logits (B, T, V), the state after y.

        The new state's "weights" (B, T, S) are the attention while reading each token of y.
        """
        hidden = state["hidden"].transpose(0, 1).contiguous()  # (n_layers, B, H)
        logits, hidden, weights = self.decoder(
            y, hidden, state["outputs"], state["src_mask"], state["keys"]
        )
        return logits, {**state, "hidden": hidden.transpose(0, 1), "weights": weights}

    def attention_weights(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """(B, T-1, S) attention under teacher forcing: row t is the attention over the
        source while producing tgt[:, t+1], in eval mode and without gradients.

        For tgt = <bos> French <eos> and src = English <eos>, weights[b, j, i] is how much
        producing French token j looks at English token i (lmbook.parallel's (i, j)). For
        the model's own translation, pass tgt = <bos> + its output + <eos>.
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

    PE[pos, 2i] = sin(pos / 10000^(2i/d_model)) and PE[pos, 2i+1] = cos(pos / 10000^(2i/d_model)):
    dims 2i and 2i+1 are one sine–cosine pair, so d_model must be even.

    >>> sinusoidal_positions(2, 4)
    tensor([[0.0000, 1.0000, 0.0000, 1.0000],
            [0.8415, 0.5403, 0.0100, 0.9999]])
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be an int >= 1, got {T!r}")
    if isinstance(d_model, bool) or not isinstance(d_model, int) or d_model < 2 or d_model % 2:
        raise ValueError(f"d_model must be an even int >= 2 (sine–cosine pairs), got {d_model!r}")
    pos = torch.arange(T, dtype=torch.float64)[:, None]  # (T, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (d_model/2,): 0, 2, 4, …
    angles = pos / 10000 ** (two_i / d_model)  # (T, d_model/2)
    pe = torch.empty(T, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe.to(dtype=dtype, device=device)
