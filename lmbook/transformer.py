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

Generation reads the prompt once and then feeds one token at a time, keeping every
layer's keys and values (the KV cache), so each new token costs one position, not the
whole prefix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lmbook.attention import MultiHeadAttention, sinusoidal_positions
from lmbook.decoding import sample_next

POSITIONS = ("learned", "sinusoidal")

# One layer's cache: keys and values of every position read so far, (B, n_head, T_past, d_k).
Cache = tuple[torch.Tensor, torch.Tensor]


def _check_size(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


@dataclass
class GPTConfig:
    """The sizes of a GPT; positions is 'learned' (GPT-2) or 'sinusoidal' (Vaswani et al.)."""

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
            _check_size(name, getattr(self, name))
        if self.n_embd % self.n_head:
            divisors = [h for h in range(1, self.n_embd + 1) if self.n_embd % h == 0]
            raise ValueError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: each head "
                f"gets n_embd / n_head dimensions; n_head may be one of {divisors[:12]}"
            )
        if isinstance(self.dropout, bool) or not (
            isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1
        ):
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        for name in ("bias", "tie_weights"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.positions not in POSITIONS:
            raise ValueError(
                f"unknown positions {self.positions!r}; choose one of {', '.join(POSITIONS)}"
            )
        if self.positions == "sinusoidal" and self.n_embd % 2:
            raise ValueError(
                f"sinusoidal positions come in sine–cosine pairs: n_embd must be even, "
                f"got {self.n_embd}"
            )


class MLP(nn.Module):
    """The position-wise feed-forward network: Linear(C, 4C) -> GELU -> Linear(4C, C) -> Dropout."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU()
        self.proj = nn.Linear(4 * n_embd, n_embd, bias=bias)  # a residual projection
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C), each position on its own."""
        return self.dropout(self.proj(self.gelu(self.fc(x))))


class CausalSelfAttention(MultiHeadAttention):
    """Multi-head self-attention in which position t sees positions 0 … t only.

    Chapter 5's `MultiHeadAttention` (its W_q, W_k, W_v, W_o and heads) with query = key
    = value = x, a causal mask, and a cache: forward(x, cache) appends the keys and
    values of x to those in cache (B, n_head, T_past, d_k) and returns the longer pair,
    so that generation can feed one new token at a time. Dropout acts on the attention
    weights and on the output (the residual dropout), while training.
    """

    def __init__(self, n_embd: int, n_head: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__(n_embd, n_head, dropout=dropout, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: Cache | None = None) -> tuple[torch.Tensor, Cache]:
        """x (B, T_new, C) and the cache of T_past earlier positions -> (y (B, T_new, C), cache)."""
        B, T_new, C = x.shape
        q = self._split_heads(self.W_q(x))  # (B, h, T_new, d_k)
        k = self._split_heads(self.W_k(x))
        v = self._split_heads(self.W_v(x))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # (B, h, T_past + T_new, d_k)
            v = torch.cat([cache[1], v], dim=2)
        p = self.dropout if self.training else 0.0
        if cache is None:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        elif T_new == 1:  # the newest position may see every key: no mask
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        else:  # new query i sits at position T_past + i and sees keys 0 … T_past + i
            T_past = k.size(2) - T_new
            mask = torch.ones(T_new, T_past + T_new, dtype=torch.bool, device=x.device)
            mask = mask.tril(diagonal=T_past)  # (T_new, T_past + T_new), True = may attend
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        out = out.transpose(1, 2).reshape(B, T_new, C)  # heads side by side: (B, T_new, C)
        return self.resid_dropout(self.W_o(out)), (k, v)


class Block(nn.Module):
    """A pre-LayerNorm transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        C = config.n_embd
        self.ln_1 = nn.LayerNorm(C, bias=config.bias)
        self.attn = CausalSelfAttention(C, config.n_head, config.dropout, config.bias)
        self.ln_2 = nn.LayerNorm(C, bias=config.bias)
        self.mlp = MLP(C, config.dropout, config.bias)

    def forward(self, x: torch.Tensor, cache: Cache | None = None) -> tuple[torch.Tensor, Cache]:
        """x (B, T, C) and this layer's cache -> (x (B, T, C), the cache with x's keys added)."""
        a, cache = self.attn(self.ln_1(x), cache)
        x = x + a  # (B, T, C)
        x = x + self.mlp(self.ln_2(x))
        return x, cache


class GPT(nn.Module):
    """A decoder-only transformer language model (GPT-2's layout, pre-LayerNorm).

    Token embedding + positions -> dropout -> n_layer blocks -> LayerNorm -> lm_head.
    With tie_weights, lm_head.weight is the token embedding's weight (Press & Wolf,
    2017). Sinusoidal positions follow Vaswani et al. (2017), who multiply the token
    embeddings by √n_embd so that they are not drowned by the fixed positions.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        C = config.n_embd
        self.tok_emb = nn.Embedding(config.vocab_size, C)
        if config.positions == "learned":
            self.pos_emb = nn.Embedding(config.block_size, C)
        else:  # fixed, so a buffer; not saved in the state dict, since it is recomputed
            pe = sinusoidal_positions(config.block_size, C)  # (block_size, C)
            self.register_buffer("pos_enc", pe, persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(C, bias=config.bias)
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        if config.tie_weights:
            self.lm_head.weight = self.tok_emb.weight  # one tensor, two uses
        self.apply(self._init_weights)
        # GPT-2: each residual branch's last layer is scaled down, so that the residual
        # stream's variance does not grow with the 2·n_layer branches added to it
        for block in self.blocks:
            for proj in (block.attn.W_o, block.mlp.proj):
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2's initialisation: N(0, 0.02²) weights, zero biases (LayerNorms keep 1, 0)."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _check_idx(self, idx: torch.Tensor, start_pos: int = 0) -> None:
        if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.dtype != torch.long:
            raise TypeError(
                "idx must be a (B, T) LongTensor of token ids, got "
                + (
                    f"{idx.dtype} of shape {tuple(idx.shape)}"
                    if isinstance(idx, torch.Tensor)
                    else type(idx).__name__
                )
            )
        T, block_size = idx.size(1), self.config.block_size
        if idx.numel() == 0:
            raise ValueError(f"idx holds no tokens: shape {tuple(idx.shape)}")
        if start_pos + T > block_size:
            where = f"{start_pos} cached + {T} new = {start_pos + T}" if start_pos else f"{T}"
            raise ValueError(
                f"sequence length T = {where} exceeds block_size = {block_size}, the longest "
                "context this model has positions for; crop the input to its last block_size ids"
            )
        low, high = torch.stack(torch.aminmax(idx)).tolist()  # one device sync, not two
        if low < 0 or high >= self.config.vocab_size:
            raise ValueError(
                f"idx holds ids from {low} to {high}; this model knows ids "
                f"0 … {self.config.vocab_size - 1}"
            )

    def _run(
        self, idx: torch.Tensor, caches: list[Cache] | None, start_pos: int
    ) -> tuple[torch.Tensor, list[Cache]]:
        """Logits (B, T, V) for idx (B, T) at positions start_pos …, and every layer's cache."""
        T = idx.size(1)
        x = self.tok_emb(idx)  # (B, T, C)
        if self.config.positions == "learned":
            pos = torch.arange(start_pos, start_pos + T, device=idx.device)
            x = x + self.pos_emb(pos)  # (T, C) broadcast over the batch
        else:
            x = x * math.sqrt(self.config.n_embd) + self.pos_enc[start_pos : start_pos + T]
        x = self.drop(x)
        new_caches = []
        for i, block in enumerate(self.blocks):
            x, cache = block(x, None if caches is None else caches[i])
            new_caches.append(cache)
        return self.lm_head(self.ln_f(x)), new_caches  # (B, T, V)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(logits (B, T, V), mean cross-entropy in nats per token, or None without targets)."""
        self._check_idx(idx)
        logits, _ = self._run(idx, None, 0)
        if targets is None:
            return logits, None
        if not isinstance(targets, torch.Tensor) or targets.shape != idx.shape:
            raise ValueError(
                f"targets must have the shape of idx, {tuple(idx.shape)}, got "
                + (f"{tuple(targets.shape)}" if isinstance(targets, torch.Tensor) else "none")
            )
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def step(
        self, idx: torch.Tensor, caches: list[Cache] | None = None
    ) -> tuple[torch.Tensor, list[Cache]]:
        """Read idx (B, T_new) after the positions in caches -> (logits (B, T_new, V), caches).

        caches holds one (k, v) pair per layer, each (B, n_head, T_past, d_k), as a
        previous call returned them; None starts at position 0. The new tokens take
        positions T_past …, which must stay below block_size.
        """
        if caches is not None and len(caches) != self.config.n_layer:
            raise ValueError(f"caches must hold one (k, v) per layer: {self.config.n_layer}")
        start_pos = 0 if caches is None else caches[0][0].size(2)
        self._check_idx(idx, start_pos)
        return self._run(idx, caches, start_pos)

    def _prompt(self, idx: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """The prompt as a 1-D LongTensor on the CPU, checked."""
        if isinstance(idx, str):
            raise TypeError("idx must be token ids, got a str; encode it with a Vocab first")
        idx = torch.as_tensor(idx)
        if idx.ndim == 2 and idx.size(0) == 1:
            idx = idx[0]
        if idx.numel() == 0:
            raise ValueError("the prompt is empty: give at least one id to start from")
        if idx.ndim != 1 or idx.dtype.is_floating_point or idx.dtype == torch.bool:
            raise TypeError(
                "idx must be prompt ids, 1-D (T,) or (1, T) ints, got "
                f"{idx.dtype} of shape {tuple(idx.shape)}"
            )
        if len(idx) > self.config.block_size:
            raise ValueError(
                f"the prompt has {len(idx)} ids, more than block_size = "
                f"{self.config.block_size}; give only its last {self.config.block_size}"
            )
        return idx.long().cpu()

    @torch.no_grad()
    def generate(
        self,
        idx: Sequence[int] | torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
    ) -> list[int]:
        """Sample max_new_tokens ids after the prompt idx ((T,) or (1, T)); returns the new ids.

        use_cache=True reads the prompt once, then one token per step through the KV
        cache; use_cache=False re-reads the whole context every step (the naive way, for
        comparison). The context is the last block_size ids: once the cache is full, each
        further step re-reads the last block_size ids, as use_cache=False does, so both
        give the same tokens. Sampling (`lmbook.decoding.sample_next`: temperature, top_k,
        top_p; top_k=1 is greedy) runs on the CPU, from `generator` if given. Eval mode,
        restored afterwards.
        """
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
            raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        if isinstance(temperature, (int, float)) and temperature == 0:
            raise ValueError("temperature must be > 0, got 0; for greedy decoding use top_k=1")
        ids = self._prompt(idx).tolist()
        device = self.lm_head.weight.device
        block_size = self.config.block_size
        was_training = self.training
        self.eval()
        try:
            out: list[int] = []
            logits, caches = self.step(torch.tensor([ids], device=device))  # read the prompt
            for _ in range(max_new_tokens):
                next_logits = logits[0, -1].cpu().double()  # (V,)
                token = int(sample_next(next_logits, temperature, top_k, top_p, generator))
                ids.append(token)
                out.append(token)
                if len(out) == max_new_tokens:
                    break
                if use_cache and caches[0][0].size(2) < block_size:
                    new = torch.tensor([[token]], device=device)  # (1, 1)
                    logits, caches = self.step(new, caches)  # one position
                else:  # re-read the context: the last block_size ids
                    logits, caches = self.step(torch.tensor([ids[-block_size:]], device=device))
        finally:
            self.train(was_training)
        return out

    @torch.no_grad()
    def nats_per_token(
        self, ids: Sequence[int] | torch.Tensor, batch_size: int = 32, stride: int | None = None
    ) -> float:
        """Cross-entropy on a long text, in nats per token: every id after the first is scored once.

        Windows of block_size ids slide by `stride` (default block_size // 2): the first
        scores all its predictions, each later one only its last `stride`, so a scored
        token past the first window sees at least block_size - stride ids of context.
        The last window ends at the end of the text. Eval mode, restored afterwards.
        """
        _check_size("batch_size", batch_size)
        L = self.config.block_size
        stride = max(1, L // 2) if stride is None else stride
        _check_size("stride", stride)
        if stride > L:
            raise ValueError(f"stride must be at most block_size = {L}, got {stride}")
        if isinstance(ids, str):
            raise TypeError("ids must be token ids, got a str; encode it with a Vocab first")
        ids = torch.as_tensor(ids)
        if ids.ndim != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
            raise TypeError(f"ids must be a 1-D sequence of ints, got {ids.dtype} {ids.shape}")
        N = len(ids) - 1  # the number of predictions
        if N < 1:
            raise ValueError(f"need at least 2 ids to score a prediction, got {len(ids)}")
        ids = ids.long()
        ends = [min(L, N)]  # window k predicts targets ids[end - L + 1 : end + 1]
        while ends[-1] < N:
            ends.append(min(ends[-1] + stride, N))
        device = self.lm_head.weight.device
        was_training = self.training
        self.eval()
        total = 0.0
        try:
            for b in range(0, len(ends), batch_size):
                x, y = [], []
                for k in range(b, min(b + batch_size, len(ends))):
                    end, start = ends[k], max(0, ends[k] - L)
                    target = ids[start + 1 : end + 1].clone()  # (≤ L,)
                    if k > 0:  # score only the predictions the previous window did not
                        target[: len(target) - (end - ends[k - 1])] = -100
                    x.append(ids[start:end])
                    y.append(target)
                logits, _ = self(torch.stack(x).to(device))  # (windows, L, V)
                total += F.cross_entropy(
                    logits.flatten(0, 1), torch.stack(y).to(device).flatten(), reduction="sum"
                ).item()  # ignore_index=-100 is the default
        finally:
            self.train(was_training)
        return total / N

    def num_params(self, non_embedding: bool = False) -> int:
        """The number of parameters, a tied weight counted once.

        non_embedding=True leaves out the token and position embeddings (Kaplan et al.,
        2020): with tied weights that leaves out lm_head too, which is the same tensor.
        """
        n = sum(p.numel() for p in self.parameters())  # parameters() yields a shared one once
        if non_embedding:
            n -= self.tok_emb.weight.numel()
            if self.config.positions == "learned":
                n -= self.pos_emb.weight.numel()
        return n

    def flops_per_token(self, T: int | None = None) -> float:
        """Training FLOPs per token, forward and backward: 6·N + 12·n_layer·n_embd·T.

        The estimate of PaLM (Chowdhery et al., 2022) and nanoGPT: 6 FLOPs per weight a
        token is multiplied by (N: every parameter except the embeddings, plus lm_head's
        weight, which multiplies even when tied) and the attention over T positions
        (default block_size). Model FLOPs utilisation = flops_per_token · tokens/s / peak.
        """
        T = self.config.block_size if T is None else T
        _check_size("T", T)
        N = self.num_params(non_embedding=True)
        if self.config.tie_weights:
            N += self.lm_head.weight.numel()  # the tied weight's lookup is free, its matmul not
        c = self.config
        return float(6 * N + 12 * c.n_layer * c.n_embd * T)
