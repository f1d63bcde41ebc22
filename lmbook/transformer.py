"""The Transformer: a decoder-only GPT, with a KV cache for generation.

Introduced in chapter 6, in the style of nanoGPT's `model.py`: `GPTConfig`, `MLP`,
`CausalSelfAttention` (chapter 5's `MultiHeadAttention` with a causal mask and a cache),
`Block` and `GPT`. A block is pre-LayerNorm (Xiong et al., 2020)::

    x = x + attn(ln_1(x))
    x = x + mlp(ln_2(x))

    >>> model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=2, n_embd=32))
    >>> idx = torch.randint(0, 65, (4, 64))                         # (B, T) token ids
    >>> logits, loss = model(idx[:, :-1], targets=idx[:, 1:])       # (B, T-1, V), scalar
    >>> new_ids = model.generate(idx[0, :10], max_new_tokens=20, top_k=5)   # list of 20 ids

`GPT` is the model; what a trained model is used for comes from three mixins that its
class statement names, each shown in the chapter where it is taught: `SizeAndCompute`
(`num_params`, `flops_per_token`: the scaling section), `SlidingWindowScoring`
(`nats_per_token`: the leaderboard) and `CachedGeneration` (`step` and `generate`: the
KV cache). Generation reads the prompt once and then feeds one token at a time, keeping
every layer's keys and values (the KV cache), so each new token costs one position, not
the whole prefix.

`nats_per_char(model, text, encode, decode)`, a function of a model rather than one
more method, scores a model that reads any tokens per character, the unit that compares
tokenizers (chapter 6, continued, beside subwords).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lmbook.attention import MultiHeadAttention, sinusoidal_positions
from lmbook.decoding import sample_next
from lmbook.validate import (
    check_choice,
    check_even,
    check_head_split,
    check_int,
    check_lossless_tokens,
    check_number,
    check_prompt,
    check_same_shape,
    check_step,
    check_str,
    check_temperature,
    check_token_ids,
    check_token_sequence,
    check_type,
)

POSITIONS = ("learned", "sinusoidal")


@dataclass
class GPTConfig:
    """A GPT's sizes; positions: 'learned' (GPT-2) or 'sinusoidal' (Vaswani et al.)."""

    vocab_size: int
    block_size: int = 256  # the longest context the model reads
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True  # in the Linear layers and the LayerNorms
    positions: str = "learned"
    tie_weights: bool = True  # lm_head shares the token embedding's weight

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            check_int(name, getattr(self, name))
        check_head_split("n_embd", self.n_embd, "n_head", self.n_head)
        check_number("dropout", self.dropout, low=0, high=1, high_open=True)
        check_type("bias", self.bias, bool, "True or False")
        check_type("tie_weights", self.tie_weights, bool, "True or False")
        check_choice("positions", self.positions, POSITIONS)
        if self.positions == "sinusoidal":
            check_even("n_embd", self.n_embd, "sine–cosine positions come in pairs")


class MLP(nn.Module):
    """The position-wise feed-forward network: C -> 4C -> GELU -> C, then dropout."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU()
        self.proj = nn.Linear(4 * n_embd, n_embd, bias=bias)  # a residual projection
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C), each position on its own."""
        return self.dropout(self.proj(self.gelu(self.fc(x))))


class Cache:
    """One layer's KV cache: the keys and values so far, (B, n_head, T_past, d_k) each.

    `append` writes the new positions after the cached ones into buffers allocated
    ahead, room for `capacity` positions (`step` asks for block_size), so a new token
    copies its own key and value, not the whole cache as `torch.cat` would. Out of room,
    it moves to buffers twice as large (geometric growth: moves stay rare). `k, v =
    cache` (or cache[0], cache[1]) gives the keys and values so far, views into them.
    """

    def __init__(self, capacity: int = 0) -> None:
        self.capacity, self.length = capacity, 0  # room asked for; positions held
        self.k: Tensor | None = None  # (B, n_head, room, d_k) after the first append
        self.v: Tensor | None = None

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Write k, v (B, n_head, T, d_k) after the cache -> all (B, n_head, T_past + T, d_k)."""
        t, T = self.length, k.size(2)
        if self.k is None and T >= self.capacity:  # no room asked beyond these: keep them
            self.k, self.v, self.length = k, v, T
            return k, v
        if self.k is None or t + T > self.k.size(2):  # allocate, or move to more room
            room = max(self.capacity, 2 * (t + T))
            self.k, self.v = self.moved(self.k, k, room), self.moved(self.v, v, room)
        self.k[:, :, t : t + T] = k  # in place: the cached positions stay where they are
        self.v[:, :, t : t + T] = v
        self.length = t + T
        return self.k[:, :, : t + T], self.v[:, :, : t + T]

    def moved(self, old: Tensor | None, new: Tensor, room: int) -> Tensor:
        """A buffer like `new` with `room` positions, holding old's cached ones."""
        buffer = new.new_empty(new.size(0), new.size(1), room, new.size(3))
        if old is not None:
            buffer[:, :, : self.length] = old[:, :, : self.length]
        return buffer

    def __getitem__(self, i: int) -> Tensor:  # 0: the keys, 1: the values so far
        return (self.k, self.v)[i][:, :, : self.length]


class CausalSelfAttention(MultiHeadAttention):
    """Chapter 5's multi-head attention with query = key = value = x and a causal mask.

    forward(x, cache) also appends x's keys and values to `cache`, a `Cache` (a new
    one when None), so that generation can feed one new token at a time.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True) -> None:
        # chapter 5's W_q, W_k, W_v and W_o
        super().__init__(n_embd, n_head, dropout=dropout, bias=bias)
        self.n_head = n_head
        self.dropout_p = dropout  # on the attention weights, while training
        self.resid_dropout = nn.Dropout(dropout)  # on the output

    def forward(self, x: Tensor, cache: Cache | None = None) -> tuple[Tensor, Cache]:
        """x (B, T, C) after the cache's T_past positions -> (y (B, T, C), cache)."""
        B, T, C = x.shape
        heads = (B, T, self.n_head, C // self.n_head)  # n_head heads of d_k channels
        q = self.W_q(x).view(heads).transpose(1, 2)  # (B, n_head, T, d_k)
        k = self.W_k(x).view(heads).transpose(1, 2)
        v = self.W_v(x).view(heads).transpose(1, 2)
        cache = Cache() if cache is None else cache
        T_past = cache.length
        k, v = cache.append(k, v)  # every position's: (B, n_head, T_past + T, d_k)
        p = self.dropout_p if self.training else 0.0
        if T_past == 0:  # the fused kernel masks the future without building a mask
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        elif T == 1:  # the newest position may see every key: no mask
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        else:  # new query i sits at position T_past + i and sees keys 0 … T_past + i
            mask = torch.ones(T, T_past + T, dtype=torch.bool, device=x.device)
            mask = mask.tril(diagonal=T_past)  # (T, T_past + T), True = may attend
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).reshape(B, T, C)  # the heads side by side: (B, T, C)
        return self.resid_dropout(self.W_o(y)), cache


class Block(nn.Module):
    """A pre-LayerNorm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        check_type("config", config, GPTConfig, "a GPTConfig")
        C = config.n_embd
        self.ln_1 = nn.LayerNorm(C, bias=config.bias)
        self.attn = CausalSelfAttention(C, config.n_head, config.dropout, config.bias)
        self.ln_2 = nn.LayerNorm(C, bias=config.bias)
        self.mlp = MLP(C, config.dropout, config.bias)

    def forward(self, x: Tensor, cache: Cache | None = None) -> tuple[Tensor, Cache]:
        """x (B, T, C) and this layer's cache -> (x (B, T, C), the cache, appended)."""
        a, cache = self.attn(self.ln_1(x), cache)
        x = x + a  # (B, T, C)
        x = x + self.mlp(self.ln_2(x))
        return x, cache


class SizeAndCompute:
    """A GPT's size and training compute (the scaling section); a mixin of GPT."""

    def num_params(self, non_embedding: bool = False) -> int:
        """The number of parameters, a tied weight counted once.

        non_embedding=True leaves out the token and position embeddings (Kaplan et al.,
        2020): with tied weights that leaves out lm_head too, which is the same tensor.
        """
        n = sum(p.numel() for p in self.parameters())  # yields a shared tensor once
        if non_embedding:
            n -= self.tok_emb.weight.numel()
            if self.config.positions == "learned":
                n -= self.pos_emb.weight.numel()
        return n

    def flops_per_token(self, T: int | None = None) -> float:
        """Training FLOPs per token, forward and backward: 6·N + 12·n_layer·n_embd·T.

        The estimate of PaLM's appendix (Chowdhery et al., 2022), as in nanoGPT: 6
        FLOPs per weight a token is multiplied by (N: every parameter except the
        embeddings, plus lm_head's weight, which multiplies even when tied) and the
        attention over T positions (default block_size).
        """
        T = self.config.block_size if T is None else T
        check_int("T", T)
        N = self.num_params(non_embedding=True)
        if self.config.tie_weights:
            N += self.lm_head.weight.numel()  # a lookup is free, the tied matmul not
        c = self.config
        return float(6 * N + 12 * c.n_layer * c.n_embd * T)


class SlidingWindowScoring:
    """A GPT's cross-entropy on a text longer than its context; a mixin of GPT."""

    @torch.no_grad()
    def nats_per_token(
        self, ids: Sequence[int] | Tensor, batch_size: int = 32, stride: int | None = None
    ) -> float:
        """Cross-entropy of a long text in nats per token; each id after the first once.

        Windows of block_size ids slide by `stride` (default block_size // 2): the first
        scores all its predictions, each later one only its last `stride`, so a scored
        token past the first window sees at least block_size - stride ids of context.
        The last window ends at the end of the text. Eval mode, restored afterwards.
        """
        L = self.config.block_size
        stride = max(1, L // 2) if stride is None else stride
        check_int("batch_size", batch_size)
        check_int("stride", stride, high=L)
        check_token_sequence("ids", ids, at_least=2, why="to score a prediction")
        ids = torch.as_tensor(ids).long()
        N = len(ids) - 1  # the number of predictions
        ends = [min(L, N)]  # window k predicts targets ids[end - L + 1 : end + 1]
        while ends[-1] < N:
            ends.append(min(ends[-1] + stride, N))
        device, was_training = self.lm_head.weight.device, self.training
        self.eval()
        total = 0.0
        try:
            for b in range(0, len(ends), batch_size):
                x, y = [], []
                for k in range(b, min(b + batch_size, len(ends))):
                    end, start = ends[k], max(0, ends[k] - L)
                    target = ids[start + 1 : end + 1].clone()  # (≤ L,)
                    if k > 0:  # score only the predictions the previous window did not
                        target[: len(target) - (end - ends[k - 1])] = -100  # ignore_index
                    x.append(ids[start:end])
                    y.append(target)
                logits, _ = self(torch.stack(x).to(device))  # (windows, L, V)
                y = torch.stack(y).to(device).flatten()
                total += F.cross_entropy(logits.flatten(0, 1), y, reduction="sum").item()
        finally:
            self.train(was_training)
        return total / N


def nats_per_char(
    model: SlidingWindowScoring,
    text: str,
    encode: Callable[[str], list[int]],
    decode: Callable[[list[int]], str],
    batch_size: int = 32,
    stride: int | None = None,
) -> float:
    """Cross-entropy of text in nats per CHARACTER, for a model that reads the
    tokens `encode` makes (characters, BPE subwords, GPT-2's tokens).

    Nats per token would favour long tokens; per character, models with different
    tokenizers compare fairly: the tokens after the first are scored by
    `model.nats_per_token` (same windows and stride), and the sum of their nats is
    divided by the number of characters they spell. `decode` must spell the tokens
    back as text exactly.
    """
    check_type("model", model, SlidingWindowScoring, "a GPT")
    check_str("text", text)
    ids = encode(text)
    check_lossless_tokens(text, decode(ids))  # a lost character would go uncounted
    per_token = model.nats_per_token(ids, batch_size=batch_size, stride=stride)
    characters = len(text) - len(decode(ids[:1]))  # nothing predicts the first token
    return per_token * (len(ids) - 1) / characters


class CachedStep:
    """A GPT's forward pass that keeps every layer's keys and values (the KV cache)."""

    def step(
        self, idx: Tensor, caches: list[Cache] | None = None, check_ids: bool = True
    ) -> tuple[Tensor, list[Cache]]:
        """Read idx (B, T) after the positions in caches -> (logits (B, T, V), caches).

        caches: one Cache per layer, as the previous call returned them (it appends to
        them); None starts at position 0 with room for block_size. check_ids=False skips
        reading the ids to check their range, for ids the model drew itself (on a GPU,
        the read waits for the device); the shapes and the room are checked still.
        """
        check_step(idx, caches, self.blocks, self.config, read_ids=check_ids)
        if caches is None:
            caches = [Cache(self.config.block_size) for _ in self.blocks]
        x = self.embed(idx, caches[0].length)  # (B, T, C), after the T_past cached
        for i, block in enumerate(self.blocks):
            x, _ = block(x, caches[i])  # appends x's keys and values to layer i's cache
        return self.lm_head(self.ln_f(x)), caches  # (B, T, V)


class CachedGeneration(CachedStep):
    """A GPT's sampling loop, one token per step through the KV cache (a mixin)."""

    @torch.inference_mode()  # no autograd bookkeeping at all: faster than no_grad
    def generate(
        self,
        idx: Sequence[int] | Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
    ) -> list[int]:
        """Sample max_new_tokens ids after the prompt idx ((T,) or (1, T)); return them.

        use_cache=False re-reads the context at every step (the naive way). The context
        is the last block_size ids: once the cache is full, each step re-reads them, so
        both ways give the same tokens. Sampling is `lmbook.decoding.sample_next`, on
        the CPU, from `generator` if given. Eval mode, restored afterwards.
        """
        check_prompt(idx, self.config.block_size)
        check_int("max_new_tokens", max_new_tokens, low=0)
        check_temperature(temperature)
        ids = torch.as_tensor(idx).flatten().tolist()
        device, L = self.lm_head.weight.device, self.config.block_size
        was_training = self.training
        self.eval()
        try:
            out: list[int] = []
            logits, caches = self.step(torch.tensor([ids], device=device))  # the prompt
            # every later id is the prompt's (checked just now) or one the model drew
            while len(out) < max_new_tokens:
                next_logits = logits[0, -1].cpu().double()  # (V,)
                token = sample_next(next_logits, temperature, top_k, top_p, generator)
                out.append(int(token))
                ids.append(int(token))
                if len(out) == max_new_tokens:
                    break
                if use_cache and caches[0].length < L:  # one new position
                    new = torch.tensor([ids[-1:]], device=device)  # (1, 1)
                    logits, caches = self.step(new, caches, check_ids=False)
                else:  # re-read the context: the last block_size ids
                    context = torch.tensor([ids[-L:]], device=device)
                    logits, caches = self.step(context, check_ids=False)
        finally:
            self.train(was_training)
        return out


class GPT(SizeAndCompute, SlidingWindowScoring, CachedGeneration, nn.Module):
    """A decoder-only transformer (GPT-2): idx (B, T) token ids -> logits (B, T, V)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        check_type("config", config, GPTConfig, "a GPTConfig")
        self.config = config
        C, V, T = config.n_embd, config.vocab_size, config.block_size
        self.tok_emb = nn.Embedding(V, C)
        if config.positions == "learned":
            self.pos_emb = nn.Embedding(T, C)
        else:  # fixed, so a buffer, and recomputed rather than saved
            pe = sinusoidal_positions(T, C)  # (T, C)
            self.register_buffer("pos_enc", pe, persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(C, bias=config.bias)
        self.lm_head = nn.Linear(C, V, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.tok_emb.weight  # one tensor, two uses
        self.init_weights()

    def init_weights(self) -> None:
        """GPT-2's: N(0, 0.02²) weights, zero biases, residual projections / √(2L)."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        std = 0.02 / math.sqrt(2 * self.config.n_layer)  # 2L branches add to the stream
        for block in self.blocks:
            for proj in (block.attn.W_o, block.mlp.proj):
                nn.init.normal_(proj.weight, mean=0.0, std=std)

    def embed(self, idx: Tensor, start: int = 0) -> Tensor:
        """idx (B, T) at positions start, start + 1, … -> (B, T, C), with dropout."""
        x = self.tok_emb(idx)  # (B, T, C)
        pos = torch.arange(start, start + idx.size(1), device=idx.device)  # (T,)
        if self.config.positions == "learned":
            return self.drop(x + self.pos_emb(pos))
        return self.drop(x * math.sqrt(self.config.n_embd) + self.pos_enc[pos])

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """idx (B, T) -> (logits (B, T, V), mean cross-entropy in nats, or None)."""
        check_token_ids(idx, self.config.vocab_size, self.config.block_size)
        x = self.embed(idx)  # (B, T, C)
        for block in self.blocks:
            x, _ = block(x)  # the keys and values are for generation (`step`)
        logits = self.lm_head(self.ln_f(x))  # (B, T, V)
        if targets is None:
            return logits, None
        check_same_shape("targets", targets, "idx", idx)
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())
