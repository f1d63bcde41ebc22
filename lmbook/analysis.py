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
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import IterableDataset, get_worker_info
from tqdm import TqdmWarning

from lmbook.data import Line
from lmbook.finetune import PAD_ID, encode_passages, hidden_states
from lmbook.text import Vocab
from lmbook.transformer import GPT

with warnings.catch_warnings():  # without ipywidgets, tqdm.auto warns, then draws text bars
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

CORRUPTIONS = ("shuffle", "swap", "foreign")


def _check_int(name: str, value: object, low: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def window_spans(n_ids: int, block_size: int, stride: int) -> list[tuple[int, int, int]]:
    """The sliding windows that score every id of a text of n_ids after the first, once.

    Each span (start, end, keep) reads ids[start:end] and predicts ids[start + 1 : end + 1];
    only its last `keep` predictions are scored (the first window scores all of them).
    Windows hold block_size ids and move by stride, so a scored id past the first window
    sees at least block_size - stride earlier ids; the last window ends at the text's end.

        >>> window_spans(10, block_size=4, stride=2)
        [(0, 4, 4), (2, 6, 2), (4, 8, 2), (5, 9, 1)]
    """
    _check_int("block_size", block_size)
    _check_int("stride", stride)
    if stride > block_size:
        raise ValueError(f"stride must be at most block_size = {block_size}, got {stride}")
    _check_int("n_ids", n_ids, low=2)
    N = n_ids - 1  # the number of predictions
    ends = [min(block_size, N)]
    while ends[-1] < N:
        ends.append(min(ends[-1] + stride, N))
    spans = [(0, ends[0], ends[0])]
    for previous, end in zip(ends, ends[1:], strict=False):
        spans.append((max(0, end - block_size), end, end - previous))
    return spans


def _as_ids(ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
    if isinstance(ids, str):
        raise TypeError("ids must be token ids, got a str; encode it with a Vocab first")
    ids = torch.as_tensor(ids)
    if ids.ndim != 1 or ids.dtype.is_floating_point or ids.dtype == torch.bool:
        raise TypeError(f"ids must be a 1-D sequence of ints, got {ids.dtype} {tuple(ids.shape)}")
    if len(ids) < 2:
        raise ValueError(f"need at least 2 ids to score a prediction, got {len(ids)}")
    return ids.long()


@torch.no_grad()
def token_surprisal(
    model: GPT,
    ids: Sequence[int] | torch.Tensor,
    batch_size: int = 32,
    stride: int | None = None,
) -> torch.Tensor:
    """The surprisal -log p(id_t | ids before t) in nats of every id after the first: (N - 1,).

    The windows of `window_spans` (stride: default block_size // 2) are read in batches,
    so each id is predicted from up to block_size earlier ids, as `GPT.nats_per_token`
    does: token_surprisal(model, ids).mean() equals model.nats_per_token(ids). Returned
    in float32 on the CPU. Eval mode, restored afterwards.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be an lmbook GPT, got {type(model).__name__}")
    _check_int("batch_size", batch_size)
    L = model.config.block_size
    stride = max(1, L // 2) if stride is None else stride
    ids = _as_ids(ids)
    spans = window_spans(len(ids), L, stride)
    device = model.lm_head.weight.device
    was_training = model.training
    model.eval()
    out = []
    try:
        for b in range(0, len(spans), batch_size):
            batch = spans[b : b + batch_size]
            x = torch.stack([ids[start:end] for start, end, _ in batch]).to(device)  # (W, T)
            y = torch.stack([ids[start + 1 : end + 1] for start, end, _ in batch]).to(device)
            logits, _ = model(x)  # (W, T, V)
            nats = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (W, T)
            out += [
                row[len(row) - keep :]
                for row, (_, _, keep) in zip(nats.float().cpu(), batch, strict=True)
            ]
    finally:
        model.train(was_training)
    return torch.cat(out)  # (N - 1,)


def line_scores(lines: Sequence[Line], nats: torch.Tensor) -> torch.Tensor:
    """Each line's mean surprisal in nats per character, its closing newline included: (n,).

    nats[i] must be the surprisal of the play's character i (score '\\n' + text and the
    result lines up); the newline counts because ending a line is a prediction too.
    """
    nats = torch.as_tensor(nats)
    if nats.ndim != 1:
        raise ValueError(f"nats must be 1-D, one value per character, got {tuple(nats.shape)}")
    sums = torch.cumsum(
        torch.cat([torch.zeros(1, dtype=torch.float64), nats.double()]), 0
    )  # prefix sums
    scores = []
    for line in lines:
        end = line.start + len(line.text) + 1  # past the newline
        if end > len(nats):
            raise ValueError(
                f"line {line.text!r} ends at character {end}, past the {len(nats)} scored ones"
            )
        scores.append((sums[end] - sums[line.start]) / (end - line.start))
    return torch.stack(scores).float() if scores else torch.zeros(0)


def _shuffle_words(line: str, rng: random.Random) -> str:
    words = line.split()
    for _ in range(10):  # a shuffle may give the same order back: try again
        rng.shuffle(words)
        if " ".join(words) != line:
            break
    return " ".join(words)


def _swap_letters(line: str, rng: random.Random) -> str:
    chars = list(line)
    places = [i for i in range(len(chars) - 1) if chars[i].isalpha() and chars[i + 1].isalpha()]
    places = [i for i in places if chars[i] != chars[i + 1]]
    for i in rng.sample(places, min(len(places), max(1, len(line) // 20))):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def corrupt_lines(
    lines: Sequence[str], rate: float, kinds: Sequence[str] = CORRUPTIONS, seed: int = 0
) -> tuple[list[str], list[bool], list[str | None]]:
    """Corrupt round(rate · n) lines of at least three words: (lines, is_corrupted, kind or None).

    Kinds, drawn at random for each chosen line: 'shuffle' puts its words in a random
    order; 'swap' swaps adjacent letters, once per 20 characters; 'foreign' replaces it
    with another line of `lines`, from at least 100 lines away (a well-formed line in the
    wrong place). Reproducible: the same seed gives the same corruptions.
    """
    if isinstance(lines, str) or not all(isinstance(line, str) for line in lines):
        raise TypeError("lines must be a sequence of str, one line each")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise ValueError(f"rate must be a number in [0, 1], got {rate!r}")
    unknown = [kind for kind in kinds if kind not in CORRUPTIONS]
    if unknown or not kinds or isinstance(kinds, str):
        raise ValueError(f"kinds must be a non-empty list of {CORRUPTIONS}, got {kinds!r}")
    eligible = [i for i, line in enumerate(lines) if len(line.split()) >= 3]
    n = round(rate * len(lines))
    if n > len(eligible):
        raise ValueError(
            f"rate={rate} asks for {n} corrupted lines, but only {len(eligible)} of "
            f"{len(lines)} have the three or more words a corruption needs"
        )
    if "foreign" in kinds and len(lines) <= 200:
        raise ValueError(
            f"'foreign' lines come from 100+ lines away: need > 200 lines, got {len(lines)}"
        )
    rng = random.Random(seed)
    out, labels, used = list(lines), [False] * len(lines), [None] * len(lines)
    for i in sorted(rng.sample(eligible, n)):
        kind = rng.choice(list(kinds))
        if kind == "shuffle":
            out[i] = _shuffle_words(lines[i], rng)
        elif kind == "swap":
            out[i] = _swap_letters(lines[i], rng)
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

    Each text is cut to its first block_size characters and padded on the right, as
    chapter 7's `encode_passages` does; the causal mask keeps the padding from changing
    the real positions, and the padding is left out of the mean. Eval mode, restored
    afterwards; float32 on the CPU.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be an lmbook GPT, got {type(model).__name__}")
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of str, got one str: wrap it in a list")
    _check_int("batch_size", batch_size)
    if len(texts) == 0:
        return torch.zeros(0, model.config.n_embd)
    ids, lengths = encode_passages(texts, vocab, max_len=model.config.block_size)  # (n, T)
    device = model.lm_head.weight.device
    was_training = model.training
    model.eval()
    out = []
    try:
        for b in range(0, len(ids), batch_size):
            n = lengths[b : b + batch_size]  # (B,)
            real = ids[b : b + batch_size, : int(n.max())] != PAD_ID  # (B, T)
            x = ids[b : b + batch_size, : real.size(1)].masked_fill(~real, 0)  # pads read id 0
            h = hidden_states(model, x.to(device)).float().cpu()  # (B, T, C)
            out.append((h * real.unsqueeze(-1)).sum(1) / n.unsqueeze(-1))  # (B, C)
    finally:
        model.train(was_training)
    return torch.cat(out)


def kmeans(
    x: torch.Tensor, k: int, seed: int = 0, iters: int = 100, init: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on the rows of x (n, d): (labels (n,), centroids (k, d)).

    Starts from `init` (k, d), or from k-means++ seeds drawn with a generator seeded by
    `seed` (Arthur & Vassilvitskii, 2007); then alternates assigning each point to its
    nearest centroid and moving each centroid to the mean of its points, until nothing
    changes or after `iters` rounds. A centroid that loses all its points stays put.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or not x.is_floating_point():
        raise TypeError("x must be a 2-D float tensor (n, d): one point per row")
    _check_int("k", k)
    _check_int("iters", iters)
    if k > len(x):
        raise ValueError(f"k = {k} clusters need at least {k} points, got {len(x)}")
    if init is not None:
        if init.shape != (k, x.size(1)):
            raise ValueError(
                f"init must have shape (k, d) = {(k, x.size(1))}, got {tuple(init.shape)}"
            )
        centroids = init.to(x).clone()
    else:
        generator = torch.Generator().manual_seed(seed)
        chosen = [int(torch.randint(len(x), (1,), generator=generator))]
        d2 = ((x - x[chosen[0]]) ** 2).sum(1)  # squared distance to the nearest seed
        for _ in range(k - 1):  # the next seed: a point drawn with probability ∝ d2
            p = d2.double().cpu() if d2.sum() > 0 else torch.ones(len(x), dtype=torch.float64)
            chosen.append(int(torch.multinomial(p, 1, generator=generator)))
            d2 = torch.minimum(d2, ((x - x[chosen[-1]]) ** 2).sum(1))
        centroids = x[chosen].clone()  # (k, d)
    labels = None
    for _ in range(iters):
        new = torch.cdist(x, centroids).argmin(1)  # (n,) the nearest centroid
        if labels is not None and torch.equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                centroids[j] = members.mean(0)
    return labels, centroids


class TextWindows(IterableDataset):
    """A stream of scoring windows over text files, read one file at a time.

    Each file's text, after `bos` ('\\n': so that its first character is predicted too),
    is encoded with `vocab` and cut into the windows of `window_spans`; each item is
    (file index, inputs (block_size,), targets (block_size,)), with the targets a window
    does not score set to -100 (cross-entropy's ignore_index) and short windows padded.
    With DataLoader workers, worker w of W reads files w, w + W, …, so every window is
    produced exactly once; memory holds one file, never the corpus.
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        vocab: Vocab,
        block_size: int,
        stride: int | None = None,
        bos: str = "\n",
    ) -> None:
        if isinstance(paths, (str, Path)):
            raise TypeError("paths must be a list of files, got one path: wrap it in a list")
        _check_int("block_size", block_size)
        stride = max(1, block_size // 2) if stride is None else stride
        _check_int("stride", stride)
        if stride > block_size:
            raise ValueError(f"stride must be at most block_size = {block_size}, got {stride}")
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
    if not isinstance(model, GPT):
        raise TypeError(f"model must be an lmbook GPT, got {type(model).__name__}")
    totals: dict[int, tuple[float, int]] = {}
    was_training = model.training
    model.eval()
    try:
        for index, x, y in tqdm(batches, desc="windows", disable=not progress, mininterval=2):
            logits, _ = model(x.to(device))  # (B, T, V)
            nats = F.cross_entropy(logits.transpose(1, 2), y.to(device), reduction="none")
            per_window = nats.double().sum(1).cpu()  # ignored targets give 0
            counts = (y != -100).sum(1)
            for i, total, count in zip(
                index.tolist(), per_window.tolist(), counts.tolist(), strict=True
            ):
                old = totals.get(i, (0.0, 0))
                totals[i] = (old[0] + total, old[1] + count)
    finally:
        model.train(was_training)
    return totals


def surprisal_html(chars: Sequence[str], nats: Sequence[float], vmax: float = 8.0) -> str:
    """Characters as HTML, each on a background from white (0 nats) to red (vmax or more).

    Hovering shows each character's surprisal; newlines stay line breaks.
    """
    if len(chars) != len(nats):
        raise ValueError(
            f"chars and nats must have the same length, got {len(chars)} and {len(nats)}"
        )
    if not vmax > 0:
        raise ValueError(f"vmax must be > 0, got {vmax!r}")
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
