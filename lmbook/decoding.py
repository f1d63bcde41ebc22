"""Decoding an encoder–decoder: greedy search, beam search, scoring, and `translate`.

Introduced in chapter 4 and reused by chapter 5's attention model::

    >>> translate(model, "The cat sleeps.", src_vocab, tgt_vocab, beam_size=4)  # doctest: +SKIP
    ['le', 'chat', 'dort', '.']

Any model with this interface can be decoded (see `Decodable`):

- `model.encode(src)` maps source ids (B, S) to a state: a dict of tensors, each with
  the batch in dim 0;
- `model.decode_step(prev, state)` maps the previous tokens (B,) and a state to the
  logits (B, V) of the next token and the next state;
- `model.config.bos_id` and `model.config.eos_id` are the ids that start and end a
  target.

Because every tensor in a state has the batch in dim 0, beam search copies and reorders
hypotheses with `select(state, idx)`, whatever the model keeps in its state. Search
runs without gradients and in eval mode (the model's mode is restored afterwards).

Chapter 6 adds sampling for language models: `sample_next` draws the next token from
logits, after temperature, `top_k_filter` and `top_p_filter` (nucleus sampling)::

    >>> logits = torch.tensor([2.0, 1.0, 0.5, -1.0])
    >>> top_k_filter(logits, 2)
    tensor([2., 1., -inf, -inf])
    >>> sample_next(logits, top_k=1)   # top_k=1 is greedy: always the argmax
    tensor(0)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, Protocol

import torch
import torch.nn.functional as F

from lmbook.seq2seq import BOS, EOS, PAD, State
from lmbook.text import Vocab, word_tokenize
from lmbook.validate import (
    check_decodable,
    check_int,
    check_logits,
    check_not_nan,
    check_number,
    check_source_batch,
    check_str,
    check_temperature,
)


class Decodable(Protocol):
    """What decoding needs of a model: encode, decode_step and config.bos_id / eos_id."""

    config: Any

    def encode(self, src: torch.Tensor) -> State: ...

    def decode_step(self, prev: torch.Tensor, state: State) -> tuple[torch.Tensor, State]: ...


class Hypothesis(NamedTuple):
    """A decoded target: its ids (no <bos>, no <eos>), its log-probability and its score."""

    tokens: list[int]
    log_prob: float  # sum of log p over the tokens, <eos> included when finished
    score: float  # log_prob / length**length_penalty, what beam search ranks by
    finished: bool  # False when max_len ran out before <eos>


def select(state: State, idx: torch.Tensor) -> State:
    """The state of the rows idx (copies and reorders allowed): index_select along dim 0."""
    return {k: v.index_select(0, idx) for k, v in state.items()}


@contextlib.contextmanager
def evaluating(model: Decodable) -> Iterator[None]:
    """Eval mode and no gradients for the duration; the model's mode is restored after.

    >>> with evaluating(model):  # doctest: +SKIP
    ...     state = model.encode(src)
    """
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training is not None:
            model.train(was_training)


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def greedy_decode(model: Decodable, src: torch.Tensor, max_len: int = 50) -> list[list[int]]:
    """The most likely next token at every step, for a batch of sources (B, S).

    Each row stops at <eos> (not returned) or after max_len tokens; decoding stops
    when every row has ended.
    """
    check_source_batch(src)
    check_int("max_len", max_len)
    check_decodable(model)
    bos, eos = model.config.bos_id, model.config.eos_id
    B = src.size(0)
    with evaluating(model):
        state = model.encode(src)
        prev = torch.full((B,), bos, dtype=torch.long, device=src.device)  # (B,)
        finished = torch.zeros(B, dtype=torch.bool, device=src.device)  # (B,)
        steps = []
        for _ in range(max_len):
            logits, state = model.decode_step(prev, state)  # (B, V)
            # the most likely token; rows that have ended write <eos> again
            prev = logits.argmax(-1).masked_fill(finished, eos)  # (B,)
            steps.append(prev)
            finished |= prev == eos
            if bool(finished.all()):
                break
    out = []
    for row in torch.stack(steps, 1).tolist():  # (B, t)
        out.append(row[: row.index(eos)] if eos in row else row)
    return out


def beam_search(
    model: Decodable,
    src: torch.Tensor,
    beam_size: int = 4,
    max_len: int = 50,
    length_penalty: float = 1.0,
    return_all: bool = False,
) -> list[list[int]] | list[list[Hypothesis]]:
    """Beam search for a batch of sources (B, S): the best target ids of each source.

    Every sentence keeps beam_size (K) live hypotheses, all B*K of them decoded as one
    batch. At each step the K·V extensions are ranked by log-probability; those among
    the best K that end in <eos> are finished, and the best K that do not stay live.
    A sentence stops when it has K finished hypotheses; after max_len steps its live
    ones count too (finished=False). The best is the one with the highest score =
    log_prob / length**length_penalty, length counting <eos>: length_penalty=0 ranks
    by log-probability alone, which favours short outputs; 1 ranks by log-probability
    per token. return_all=True gives every sentence's hypotheses, best first.
    Beam search with K = 1 is greedy search; a larger K usually, but not always, finds
    a more probable target. beam_size may exceed the vocabulary: the extra rows start
    at -inf and never finish.
    """
    check_source_batch(src)
    check_int("beam_size", beam_size)
    check_int("max_len", max_len)
    check_number("length_penalty", length_penalty, low=0)
    check_decodable(model)
    bos, eos = model.config.bos_id, model.config.eos_id
    B, K, device = src.size(0), beam_size, src.device
    done: list[list[Hypothesis]] = [[] for _ in range(B)]

    def finish(b: int, tokens: list[int], log_prob: float, length: int, ended: bool) -> None:
        score = log_prob / length**length_penalty
        done[b].append(Hypothesis(tokens, log_prob, score, ended))

    with evaluating(model):
        state = select(model.encode(src), torch.arange(B, device=device).repeat_interleave(K))
        prev = torch.full((B * K,), bos, dtype=torch.long, device=device)  # (B*K,)
        history = torch.zeros(B * K, 0, dtype=torch.long, device=device)  # (B*K, t)
        scores = torch.full((B, K), -torch.inf, device=device)  # (B, K)
        scores[:, 0] = 0.0  # at first only one live hypothesis: <bos>
        for t in range(1, max_len + 1):
            logits, state = model.decode_step(prev, state)  # (B*K, V)
            V = logits.size(-1)
            if V < 2:
                raise ValueError(f"the model scores {V} token; beam search needs at least 2")
            log_p = F.log_softmax(logits, dim=-1).view(B, K, V)
            cand = (scores.to(log_p.dtype).unsqueeze(-1) + log_p).view(B, K * V)  # (B, K*V)
            # 2K candidates hold at least K that do not end in <eos>: one <eos> per beam
            top, idx = cand.topk(min(2 * K, K * V), dim=-1)  # (B, 2K), best first
            beam, token = idx // V, idx % V
            is_eos = token == eos
            ends = is_eos[:, :K] & top[:, :K].isfinite()
            for b, j in ends.nonzero().tolist():
                if len(done[b]) < K:
                    row = history[b * K + beam[b, j]].tolist()
                    finish(b, row, float(top[b, j]), t, ended=True)
            # the best K candidates not ending in <eos> go on (-inf ones, from dead rows, stay dead)
            rank = is_eos.long() * idx.size(1) + torch.arange(idx.size(1), device=device)
            keep = rank.argsort(dim=-1)[:, :K]  # (B, K)
            scores = top.gather(1, keep)
            rows = (torch.arange(B, device=device)[:, None] * K + beam.gather(1, keep)).view(-1)
            prev = token.gather(1, keep).view(-1)  # (B*K,)
            history = torch.cat([history.index_select(0, rows), prev[:, None]], dim=1)
            state = select(state, rows)
            if all(len(d) >= K for d in done):
                break
        else:  # max_len ran out: live hypotheses compete too
            for b in range(B):
                for j in range(K):
                    if len(done[b]) < K and bool(scores[b, j].isfinite()):
                        finish(b, history[b * K + j].tolist(), float(scores[b, j]), t, ended=False)
    for d in done:
        d.sort(key=lambda h: h.score, reverse=True)
    return done if return_all else [d[0].tokens for d in done]


def sequence_log_probs(
    model: Decodable, src: torch.Tensor, targets: Sequence[Sequence[int]]
) -> list[float]:
    """log p(target | source) of each given target (ids after <bos>; add <eos> to count it)."""
    check_source_batch(src)
    if len(targets) != src.size(0):
        raise ValueError(f"{len(targets)} targets for {src.size(0)} sources: give one each")
    check_decodable(model)
    bos = model.config.bos_id
    T = max(len(t) for t in targets)
    y = torch.full((len(targets), T), bos, dtype=torch.long, device=src.device)  # (B, T)
    for i, t in enumerate(targets):
        y[i, : len(t)] = torch.as_tensor(t, dtype=torch.long)
    total = torch.zeros(len(targets), device=src.device)
    with evaluating(model):
        state = model.encode(src)
        prev = torch.full((len(targets),), bos, dtype=torch.long, device=src.device)
        for i in range(T):
            logits, state = model.decode_step(prev, state)  # (B, V)
            log_p = F.log_softmax(logits, dim=-1).gather(1, y[:, i : i + 1])[:, 0]  # (B,)
            real = torch.tensor([i < len(t) for t in targets], device=src.device)
            total = total.to(log_p.dtype) + log_p.where(real, 0.0)
            prev = y[:, i]
    return total.tolist()


def translate(
    model: Decodable,
    sentence: str,
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    *,
    beam_size: int = 1,
    max_len: int = 50,
    length_penalty: float = 1.0,
) -> list[str]:
    """Translate one sentence: its target tokens, without <bos>, <eos> or <pad>.

    The sentence is tokenised (lower-cased) with word_tokenize; words the source
    vocabulary lacks become <unk>. beam_size=1 is greedy search.
    """
    check_str("sentence", sentence)
    tokens = word_tokenize(sentence)
    if not tokens:
        raise ValueError(f"sentence {sentence!r} holds no words to translate")
    config = getattr(model, "config", None)
    expected = {
        "src_vocab_size": len(src_vocab),
        "tgt_vocab_size": len(tgt_vocab),
        "src_pad_id": src_vocab.stoi.get(PAD),
        "bos_id": tgt_vocab.stoi.get(BOS),
        "eos_id": tgt_vocab.stoi.get(EOS),
    }
    for name, value in expected.items():
        if getattr(config, name, value) != value:
            raise ValueError(
                f"the vocabularies do not fit the model: model.config.{name} is "
                f"{getattr(config, name)} but the vocabularies give {value}; "
                "build the config with Seq2SeqConfig.from_vocabs(src_vocab, tgt_vocab)"
            )
    try:
        device = next(model.parameters()).device
    except (AttributeError, StopIteration):  # a model without parameters runs on the CPU
        device = torch.device("cpu")
    src = torch.tensor([src_vocab.encode(tokens) + [src_vocab.stoi[EOS]]], device=device)
    if beam_size == 1:
        ids = greedy_decode(model, src, max_len)[0]
    else:
        ids = beam_search(model, src, beam_size, max_len, length_penalty)[0]
    return [t for t in tgt_vocab.decode(ids) if t not in (BOS, EOS, PAD)]


# --- sampling from a language model (chapter 6) ----------------------------------------


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """logits (…, V) with all but the k largest of each row set to -inf.

    Ties at the boundary are all kept: a logit equal to the k-th largest survives, so
    a row may keep more than k tokens (as nanoGPT's filter does). k >= V keeps all.

    >>> top_k_filter(torch.tensor([1.0, 3.0, 2.0, 3.0]), 2)
    tensor([-inf, 3., -inf, 3.])
    """
    check_int("k", k)
    if k >= logits.size(-1):
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]  # (…, 1): the k-th largest of each row
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """logits (…, V) with only the nucleus kept: the fewest most probable tokens whose
    probabilities sum to at least p (Holtzman et al., 2020); the rest are set to -inf.

    The most probable token is always kept, and p = 1 keeps every token. A sum that
    misses p only by rounding (0.5 + 0.3 against p = 0.8) counts as reaching it. Of
    tokens tied in probability, the sort decides which enter the nucleus first.

    >>> probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    >>> top_p_filter(probs.log(), 0.8).exp()
    tensor([0.5000, 0.3000, 0.0000, 0.0000])
    """
    check_number("p", p, low=0, high=1, low_open=True)
    if p == 1:
        return logits
    work = logits if logits.dtype == torch.float64 else logits.float()
    # rounding in the softmax and in the running sum may miss p by a few ulps
    slack = 16 * torch.finfo(work.dtype).eps
    # (…, V) each, the most probable first
    probs, order = work.softmax(dim=-1).sort(dim=-1, descending=True)
    before = probs.cumsum(dim=-1) - probs  # the mass of the more probable tokens
    outside = before >= p - slack  # the tokens before it already reach p
    outside[..., 0] = False  # the most probable token is always kept
    return logits.masked_fill(outside.scatter(-1, order, outside), float("-inf"))


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token id per row of logits (…, V) -> LongTensor (…,).

    The logits are divided by the temperature (< 1 sharpens, > 1 flattens), then
    filtered by top_k and top_p, in that order, before the softmax. For greedy
    decoding use top_k=1 (temperature 0 would divide by zero). Draws from torch's
    global generator unless a `generator` on the logits' device is given.
    """
    check_temperature(temperature)
    check_logits(logits)
    check_int("top_k", top_k, allow_none=True)
    check_number("top_p", top_p, low=0, high=1, low_open=True, allow_none=True)
    check_not_nan("logits", logits)  # what a diverged training produces
    # shifted so that the largest logit is 0: a tiny temperature then sends the others
    # to -inf, never to inf - inf = NaN
    logits = (logits - logits.amax(dim=-1, keepdim=True)) / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = logits.softmax(dim=-1).reshape(-1, logits.size(-1))  # (rows, V)
    ids = torch.multinomial(probs, 1, generator=generator)  # (rows, 1)
    return ids.reshape(logits.shape[:-1])  # (…,)
