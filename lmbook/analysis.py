"""Language models as analysis tools: surprisal, corrupted lines, passage embeddings, streams.

Chapter 10 builds this module on the chapter-6 GPT. A language model that predicts the
next character also measures how expected every character is: its **surprisal**, the
negative log-probability in nats (Hale, 2001; Levy, 2008). Averaged over a line, a
speaker or a play it says what is predictable; an unusually high score flags a line
that does not belong. The model's hidden states, averaged over a passage, are a vector
to cluster; and a corpus too large for memory is scored as a stream of windows::

    >>> nats = token_surprisal(model, ids)             # (len(ids) - 1,) nats per token
    >>> lines, labels, kinds = corrupt_lines(text_lines, rate=0.1, seed=0)
    >>> vectors = passage_embeddings(model, texts, vocab)   # (n, C)
    >>> labels, centroids = kmeans(vectors, k=6, seed=0)
"""

from __future__ import annotations

import html
import random
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import IterableDataset, get_worker_info
from tqdm import TqdmWarning

from lmbook.data import Line
from lmbook.finetune import PAD_ID, encode_passages, hidden_states
from lmbook.text import Vocab
from lmbook.transformer import GPT
from lmbook.validate import (
    check_finite,
    check_int,
    check_lines_scored,
    check_list_not_one,
    check_positive,
    check_probability,
    check_same_length,
    check_scorable_ids,
    check_shape,
    check_str,
    check_subset,
    check_tensor,
    check_text_lines,
    check_type,
)

with warnings.catch_warnings():  # without ipywidgets, tqdm.auto warns, then draws text bars
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put `model` in eval mode for a with-block; its previous mode comes back afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def window_spans(n_ids: int, block_size: int, stride: int) -> list[tuple[int, int, int]]:
    """The sliding windows that score every id of a text of n_ids after the first, once.

    Each span (start, end, keep) reads ids[start:end], predicts ids[start + 1 : end + 1]
    and scores only its last `keep` predictions (the first window scores all of them).

        >>> window_spans(10, block_size=4, stride=2)
        [(0, 4, 4), (2, 6, 2), (4, 8, 2), (5, 9, 1)]
    """
    check_int("block_size", block_size)
    check_int("stride", stride, high=block_size, why="windows must overlap or touch")
    check_int("n_ids", n_ids, low=2)
    N = n_ids - 1  # the number of predictions
    ends = [min(block_size, N)]
    while ends[-1] < N:
        ends.append(min(ends[-1] + stride, N))
    spans = [(0, ends[0], ends[0])]
    for previous, end in zip(ends, ends[1:], strict=False):
        spans.append((max(0, end - block_size), end, end - previous))
    return spans


@torch.no_grad()
def token_surprisal(
    model: GPT,
    ids: Sequence[int] | torch.Tensor,
    batch_size: int = 32,
    stride: int | None = None,
) -> torch.Tensor:
    """Surprisal -ln p(id_t | earlier ids) in nats of each id after the first: (N - 1,).

    Reads the windows of `window_spans` (stride: default block_size // 2) in batches, so
    its mean equals model.nats_per_token(ids). float32, on the CPU.
    """
    check_type("model", model, GPT, "an lmbook GPT")
    check_int("batch_size", batch_size)
    check_scorable_ids("ids", ids)
    ids = torch.as_tensor(ids).long()  # (N,)
    L = model.config.block_size
    spans = window_spans(len(ids), L, max(1, L // 2) if stride is None else stride)
    device = model.lm_head.weight.device
    out = []
    with eval_mode(model):
        for b in range(0, len(spans), batch_size):
            batch = spans[b : b + batch_size]
            x = torch.stack([ids[start:end] for start, end, _ in batch])  # (W, T)
            y = torch.stack([ids[start + 1 : end + 1] for start, end, _ in batch])  # (W, T)
            logits, _ = model(x.to(device))  # (W, T, V)
            nats = F.cross_entropy(logits.transpose(1, 2), y.to(device), reduction="none")
            for row, (_, _, keep) in zip(nats.float().cpu(), batch, strict=True):
                out.append(row[len(row) - keep :])  # the window's newly scored ids
    return torch.cat(out)  # (N - 1,)


def line_scores(lines: Sequence[Line], nats: torch.Tensor) -> torch.Tensor:
    """Each line's mean surprisal in nats/char, its closing newline included: (n,).

    nats[i] must be the surprisal of the play's character i (score '\\n' + text and the
    result lines up).
    """
    nats = torch.as_tensor(nats)
    check_tensor("nats", nats, ndim=1, shape="(N,), one value per character,")
    check_lines_scored(lines, len(nats))
    zero = torch.zeros(1, dtype=torch.float64)
    sums = torch.cumsum(torch.cat([zero, nats.double()]), 0)  # sums[i] = nats[:i].sum()
    scores = []
    for line in lines:
        end = line.start + len(line.text) + 1  # past the newline
        scores.append((sums[end] - sums[line.start]) / (end - line.start))
    return torch.stack(scores).float() if scores else torch.zeros(0)


CORRUPTIONS = ("shuffle", "swap", "foreign")


def shuffle_words(line: str, rng: random.Random) -> str:
    """The line's words in a random order (a different one, unless none exists)."""
    check_type("rng", rng, random.Random, "a random.Random")
    words = line.split()
    for _ in range(10):  # a shuffle may give the same order back: try again
        rng.shuffle(words)
        if " ".join(words) != line:
            break
    return " ".join(words)


def swap_letters(line: str, rng: random.Random) -> str:
    """The line with adjacent distinct letters swapped, once per 20 characters."""
    check_str("line", line)
    chars = list(line)
    places = [
        i
        for i in range(len(chars) - 1)
        if chars[i].isalpha() and chars[i + 1].isalpha() and chars[i] != chars[i + 1]
    ]
    for i in rng.sample(places, min(len(places), max(1, len(line) // 20))):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def corrupt_lines(
    lines: Sequence[str], rate: float, kinds: Sequence[str] = CORRUPTIONS, seed: int = 0
) -> tuple[list[str], list[bool], list[str | None]]:
    """Corrupt round(rate · n) lines of >= 3 words: (lines, is_corrupted, kind or None).

    Each chosen line gets a random kind: 'shuffle' (`shuffle_words`), 'swap'
    (`swap_letters`) or 'foreign' (another line, from at least 100 lines away).
    The same seed gives the same corruptions.
    """
    check_text_lines("lines", lines)
    check_probability("rate", rate)
    check_subset("kinds", kinds, CORRUPTIONS)
    eligible = [i for i, line in enumerate(lines) if len(line.split()) >= 3]
    n = round(rate * len(lines))
    why = f"rate={rate} of {len(lines)} lines; {len(eligible)} have the three or more"
    why += " words a corruption needs"
    check_int("the number of corrupted lines", n, low=0, high=len(eligible), why=why)
    if "foreign" in kinds:
        check_int("len(lines)", len(lines), low=201, why="'foreign' lines come from 100+ away")
    rng = random.Random(seed)
    out, labels, used = list(lines), [False] * len(lines), [None] * len(lines)
    for i in sorted(rng.sample(eligible, n)):
        kind = rng.choice(list(kinds))
        if kind == "shuffle":
            out[i] = shuffle_words(lines[i], rng)
        elif kind == "swap":
            out[i] = swap_letters(lines[i], rng)
        else:
            far = [j for j in eligible if abs(j - i) >= 100]
            out[i] = lines[rng.choice(far)]
        labels[i], used[i] = True, kind
    return out, labels, used


@torch.no_grad()
def passage_embeddings(
    model: GPT, texts: Sequence[str], vocab: Vocab, batch_size: int = 64
) -> torch.Tensor:
    """The mean of the GPT's final hidden states over each text's characters: (n, C).

    Texts are cut to block_size characters and padded on the right (`encode_passages`);
    the causal mask keeps the padding out of the real positions, and out of the mean.
    """
    check_type("model", model, GPT, "an lmbook GPT")
    check_list_not_one("texts", texts, str, "str")
    check_int("batch_size", batch_size)
    if len(texts) == 0:
        return torch.zeros(0, model.config.n_embd)
    ids, lengths = encode_passages(texts, vocab, max_len=model.config.block_size)  # (n, T)
    device = model.lm_head.weight.device
    out = []
    with eval_mode(model):
        for b in range(0, len(ids), batch_size):
            n = lengths[b : b + batch_size]  # (B,)
            real = ids[b : b + batch_size, : int(n.max())] != PAD_ID  # (B, T)
            x = ids[b : b + batch_size, : real.size(1)].masked_fill(~real, 0)  # pads read 0
            h = hidden_states(model, x.to(device)).float().cpu()  # (B, T, C)
            out.append((h * real.unsqueeze(-1)).sum(1) / n.unsqueeze(-1))  # (B, C)
    return torch.cat(out)


def kmeans_plus_plus(x: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """k starting centroids (k, d), far apart, drawn from the rows of x (n, d).

    The first is uniform; each next one is a point drawn with probability proportional
    to its squared distance to the nearest centroid so far.
    """
    check_int("k", k, high=len(x))
    generator = torch.Generator().manual_seed(seed)
    chosen = [int(torch.randint(len(x), (1,), generator=generator))]
    d2 = ((x - x[chosen[0]]) ** 2).sum(1)  # (n,) squared distance to the nearest seed
    for _ in range(k - 1):
        p = d2.double().cpu() if d2.sum() > 0 else torch.ones(len(x), dtype=torch.float64)
        chosen.append(int(torch.multinomial(p, 1, generator=generator)))
        d2 = torch.minimum(d2, ((x - x[chosen[-1]]) ** 2).sum(1))
    return x[chosen].clone()  # (k, d)


def kmeans(
    x: torch.Tensor, k: int, seed: int = 0, iters: int = 100, init: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on the rows of x (n, d): (labels (n,), centroids (k, d)).

    Starts from `init` (k, d) or `kmeans_plus_plus(x, k, seed)`; stops when no label
    changes or after `iters` rounds. A centroid that loses all its points stays put.
    """
    check_tensor("x", x, ndim=2, integer=False, shape="(n, d), one point per row,")
    check_finite("x", x)  # one NaN point would make a NaN centroid
    check_int("k", k, high=len(x), why=f"{k} clusters need at least {k} points, x has {len(x)}")
    check_int("iters", iters)
    if init is not None:
        check_shape("init", init, (k, x.size(1)), "(k, d)")
    centroids = kmeans_plus_plus(x, k, seed) if init is None else init.to(x).clone()
    labels = None
    for _ in range(iters):
        new = torch.cdist(x, centroids).argmin(1)  # (n,) each point's nearest centroid
        if labels is not None and torch.equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                centroids[j] = members.mean(0)  # move to the mean of its points
    return labels, centroids


class TextWindows(IterableDataset):
    """A stream of scoring windows over text files, read one file at a time.

    Items: (file index, inputs (L,), targets (L,)), the `window_spans` of `bos` ('\\n')
    + the file's text; targets not scored are -100 (ignore_index). With DataLoader
    workers, worker w of W reads files w, w + W, …: every window comes exactly once.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        vocab: Vocab,
        block_size: int,
        stride: int | None = None,
        bos: str = "\n",
    ) -> None:
        check_list_not_one("paths", paths, (str, Path), "path")
        check_int("block_size", block_size)
        stride = max(1, block_size // 2) if stride is None else stride
        check_int("stride", stride, high=block_size, why="windows must overlap or touch")
        self.paths, self.vocab, self.bos = [Path(p) for p in paths], vocab, bos
        self.block_size, self.stride = block_size, stride

    def file_windows(self, index: int) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """The windows of file `index`: (index, inputs (L,), targets (L,)), in order."""
        L = self.block_size
        text = self.bos + self.paths[index].read_text(encoding="utf-8")
        ids = torch.tensor(self.vocab.encode(list(text)))
        for start, end, keep in window_spans(len(ids), L, self.stride):
            x = torch.zeros(L, dtype=torch.long)  # padding: id 0, never scored
            y = torch.full((L,), -100, dtype=torch.long)
            x[: end - start] = ids[start:end]
            y[end - start - keep : end - start] = ids[end - keep + 1 : end + 1]
            yield index, x, y

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        worker = get_worker_info()  # None in the main process
        first, step = (0, 1) if worker is None else (worker.id, worker.num_workers)
        for index in range(first, len(self.paths), step):  # this worker's files only
            yield from self.file_windows(index)


@torch.no_grad()
def stream_surprisal(
    model: GPT, batches: Iterable, device: torch.device | str, progress: bool = True
) -> dict[int, tuple[float, int]]:
    """Total surprisal and scored tokens per file, from batches of `TextWindows` items.

    Memory holds one batch and one running total per file, whatever the corpus size:
    {file index: (total nats, tokens)}. Eval mode, restored afterwards.
    """
    check_type("model", model, GPT, "an lmbook GPT")
    totals: dict[int, tuple[float, int]] = {}
    with eval_mode(model):
        for index, x, y in tqdm(batches, desc="windows", disable=not progress, mininterval=2):
            logits, _ = model(x.to(device))  # (B, T, V)
            nats = F.cross_entropy(logits.transpose(1, 2), y.to(device), reduction="none")
            per_window = nats.double().sum(1).cpu()  # (B,) ignored targets add 0
            counts = (y != -100).sum(1)  # (B,) scored targets per window
            for i, total, count in zip(
                index.tolist(), per_window.tolist(), counts.tolist(), strict=True
            ):
                old = totals.get(i, (0.0, 0))
                totals[i] = (old[0] + total, old[1] + count)
    return totals


def surprisal_html(chars: Sequence[str], nats: Sequence[float], vmax: float = 8.0) -> str:
    """Characters as HTML, each on a background from white (0 nats) to red (>= vmax).

    Hovering shows each character's surprisal; newlines stay line breaks.
    """
    check_same_length(chars=chars, nats=nats)
    check_positive("vmax", vmax)
    spans = []
    for char, value in zip(chars, nats, strict=True):
        level = min(max(float(value) / vmax, 0.0), 1.0)
        g = round(255 * (1 - level))
        shown = "↵<br>" if char == "\n" else html.escape(char).replace(" ", "&nbsp;")
        spans.append(
            f'<span style="background-color:rgb(255,{g},{g})" '
            f'title="{html.escape(repr(char))}: {float(value):.2f} nats">{shown}</span>'
        )
    style = "font-family:monospace;line-height:1.6;color:#000;background:#fff"
    return f'<div style="{style}">' + "".join(spans) + "</div>"
