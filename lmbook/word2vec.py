"""Word vectors: skip-gram with negative sampling (SGNS) in PyTorch, and its evaluation.

Introduced in chapter 2::

    >>> sentences = [["the", "king", "is", "dead"], ["long", "live", "the", "king"]]
    >>> words, counts = build_vocab(sentences, min_count=1)
    >>> ids, sentence_ids = encode(sentences, words)
    >>> model = SkipGramNS(len(words), dim=16)
    >>> config = Word2VecConfig(dim=16, epochs=1)
    >>> g = torch.Generator().manual_seed(0)
    >>> history = train_sgns(model, ids, sentence_ids, counts, config, g, progress=False)
    >>> vectors = WordVectors(words, model.vectors())
    >>> vectors.most_similar("king", topn=2)  # doctest: +SKIP

The chapter shows every definition here except the plumbing: `TrainingLog` (the
progress bar and the loss history of `train_sgns`) and the readers of the test-set files
(`read_word_pairs`, `read_analogies`).
"""

import math
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from lmbook.text import word_tokenize
from lmbook.validate import (
    check_corpus_ids,
    check_counts,
    check_in_vocabulary,
    check_int,
    check_min_count,
    check_multiple,
    check_nonzero,
    check_number,
    check_one_vector_per_word,
    check_same_length,
    check_sentence_ids,
    check_sentences,
    check_shared_negatives,
    check_str,
)

# --- the corpus --------------------------------------------------------------------------


def speeches(text: str) -> list[list[str]]:
    """The speeches of a play's text as lists of lower-case words.

    Speakers' names and punctuation are dropped:

    >>> speeches("HAMLET:\\nTo be, or not to be.\\n\\nOPHELIA:\\nGood my lord,")
    [['to', 'be', 'or', 'not', 'to', 'be'], ['good', 'my', 'lord']]
    """
    check_str("text", text)
    out = []
    for block in text.split("\n\n"):
        lines = block.strip().split("\n")
        if lines and lines[0].endswith(":"):  # the speaker's name
            lines = lines[1:]
        words = [w for w in word_tokenize("\n".join(lines)) if w[0].isalpha()]
        if words:
            out.append(words)
    return out


def build_vocab(
    sentences: Sequence[Sequence[str]], min_count: int = 5
) -> tuple[list[str], np.ndarray]:
    """Words seen at least `min_count` times, most frequent first, and their counts."""
    check_sentences(sentences)
    check_int("min_count", min_count)
    counts = Counter(w for s in sentences for w in s)
    check_min_count(counts, min_count)
    kept = [(w, c) for w, c in counts.most_common() if c >= min_count]
    return [w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64)


def encode(
    sentences: Sequence[Sequence[str]], words: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The corpus as one flat array of word ids, and each token's sentence index.

    Words not in `words` are dropped.
    """
    check_sentences(sentences)
    index = {w: i for i, w in enumerate(words)}
    ids, sentence_ids = [], []
    for s, sentence in enumerate(sentences):
        known = [index[w] for w in sentence if w in index]
        ids.extend(known)
        sentence_ids.extend([s] * len(known))
    check_corpus_ids(ids)
    return np.array(ids, dtype=np.int64), np.array(sentence_ids, dtype=np.int64)


# --- pairs, subsampling, noise -------------------------------------------------------------


def skipgram_pairs(
    ids: np.ndarray,
    sentence_ids: np.ndarray,
    window: int,
    keep: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All (center, context) id pairs at most `window` apart in the same sentence.

    Without rng, every such pair. With rng, each token is first kept with probability
    keep[id] (subsampling), then each center draws its own window b ~ U{1..window}.
    """
    check_int("window", window)
    check_sentence_ids(ids, sentence_ids)
    ids, sentence_ids = np.asarray(ids), np.asarray(sentence_ids)
    if keep is not None and rng is not None:
        kept = rng.random(len(ids)) < keep[ids]
        ids, sentence_ids = ids[kept], sentence_ids[kept]
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n) if rng is not None else np.full(n, window)
    centers, contexts = [], []
    for d in range(1, min(window, n - 1) + 1):
        same = sentence_ids[:-d] == sentence_ids[d:]  # tokens i and i + d share a sentence
        right = same & (reach[:-d] >= d)  # center i sees i + d
        left = same & (reach[d:] >= d)  # center i + d sees i
        centers += [ids[:-d][right], ids[d:][left]]
        contexts += [ids[d:][right], ids[:-d][left]]
    if not centers:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(centers), np.concatenate(contexts)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """P(keep) of each word under word2vec's subsampling: (√(f/t) + 1)·t/f, capped at 1.

    f is the word's share of the corpus and t = sample; sample=0 keeps every word.
    """
    check_number("sample", sample, low=0)
    counts = np.asarray(counts, dtype=np.float64)
    if sample == 0:
        return np.ones_like(counts)
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1) * sample / f)


def noise_distribution(counts: np.ndarray, exponent: float = 0.75) -> torch.Tensor:
    """The noise distribution P_n(w) ∝ count(w)^exponent, as float64 probabilities."""
    check_counts(counts)
    check_number("exponent", exponent)
    weights = torch.as_tensor(np.asarray(counts), dtype=torch.float64) ** exponent
    return weights / weights.sum()


class SkipGramPairs(Dataset):
    """(center, context) pairs as a Dataset; an index may be one int or a whole batch.

    A DataLoader that indexes with whole batches asks Python once per batch: pass
    sampler=BatchSampler(RandomSampler(pairs), batch_size, False), batch_size=None.
    """

    def __init__(self, centers: np.ndarray, contexts: np.ndarray) -> None:
        check_same_length(centers=centers, contexts=contexts)
        self.centers = torch.as_tensor(centers, dtype=torch.long)
        self.contexts = torch.as_tensor(contexts, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.centers)

    def __getitem__(self, index: int | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(index)
        return self.centers[index], self.contexts[index]


# --- the model -----------------------------------------------------------------------------


def sgns_loss(center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c).

    center v_c: (B, d), context u_o: (B, d), negatives u_k: (B, K, d) -> a scalar.
    """
    pos = (context * center).sum(-1)  # (B,)
    neg = (negatives * center.unsqueeze(1)).sum(-1)  # (B, K)
    return (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)).mean()


class SkipGramNS(nn.Module):
    """Skip-gram with negative sampling: center vectors v_w, context vectors u_w."""

    def __init__(self, vocab_size: int, dim: int = 100) -> None:
        super().__init__()
        check_int("vocab_size", vocab_size)
        check_int("dim", dim)
        self.v = nn.Embedding(vocab_size, dim)  # center ("input") vectors
        self.u = nn.Embedding(vocab_size, dim)  # context ("output") vectors
        # word2vec's initialisation: small random center vectors, zero context vectors
        nn.init.uniform_(self.v.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.u.weight)

    def forward(
        self, center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """center (B,), context (B,) and negatives (B, K) word ids -> the SGNS loss."""
        return sgns_loss(self.v(center), self.u(context), self.u(negatives))

    def vectors(self) -> np.ndarray:
        """The word vectors: the center vectors v_w, (V, d), as float32 NumPy."""
        return self.v.weight.detach().cpu().numpy().copy()


@torch.no_grad()
def sgd_step(
    model: SkipGramNS,
    center: torch.Tensor,
    context: torch.Tensor,
    negatives: torch.Tensor,
    lr: float,
) -> float:
    """One SGD step on the summed SGNS loss, gradient by hand; returns the mean loss.

    center (B,), context (B,), negatives (B, K) word ids; `lr` is per pair. Only the
    rows in the batch change, so a step costs O(B K d) whatever the vocabulary size.
    """
    v, u = model.v.weight, model.u.weight
    B, K = negatives.shape
    v_c = v.index_select(0, center)  # (B, d)
    u_o = u.index_select(0, context)  # (B, d)
    u_k = u.index_select(0, negatives.reshape(-1)).view(B, K, -1)  # (B, K, d)
    pos = (u_o * v_c).sum(-1)  # (B,)
    neg = (u_k * v_c.unsqueeze(1)).sum(-1)  # (B, K)
    loss = (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)).mean()
    g_pos = torch.sigmoid(pos) - 1  # dℓ/d(u_o·v_c), (B,)
    g_neg = torch.sigmoid(neg)  # dℓ/d(u_k·v_c), (B, K)
    grad_v = g_pos.unsqueeze(1) * u_o + (g_neg.unsqueeze(-1) * u_k).sum(1)  # (B, d)
    grad_u_k = (g_neg.unsqueeze(-1) * v_c.unsqueeze(1)).view(B * K, -1)  # (B K, d)
    u.index_add_(0, context, g_pos.unsqueeze(1) * v_c, alpha=-lr)
    u.index_add_(0, negatives.reshape(-1), grad_u_k, alpha=-lr)
    v.index_add_(0, center, grad_v, alpha=-lr)
    return float(loss)


@torch.no_grad()
def sgd_step_shared(
    model: SkipGramNS,
    center: torch.Tensor,
    context: torch.Tensor,
    negatives: torch.Tensor,
    lr: float,
) -> float:
    """sgd_step where each group of G consecutive pairs shares its K noise words.

    center (B,), context (B,) and negatives (B/G, K) word ids. The update is sgd_step's
    with negatives.repeat_interleave(G, 0), but the noise words are gathered once per
    group and their scores and gradients are batched matrix products.
    """
    check_shared_negatives(center, negatives)
    v, u = model.v.weight, model.u.weight
    n, K = negatives.shape  # n groups
    B, d = len(center), v.size(1)
    v_c = v.index_select(0, center)  # (B, d)
    u_o = u.index_select(0, context)  # (B, d)
    u_k = u.index_select(0, negatives.reshape(-1)).view(n, K, d)  # (n, K, d)
    v_g = v_c.view(n, B // n, d)  # (n, G, d): the centers, group by group
    pos = (u_o * v_c).sum(-1)  # (B,)
    neg = torch.bmm(v_g, u_k.transpose(1, 2))  # (n, G, K): every center, its K
    loss = (-F.logsigmoid(pos).sum() - F.logsigmoid(-neg).sum()) / B
    g_pos = torch.sigmoid(pos) - 1  # (B,)
    g_neg = torch.sigmoid(neg)  # (n, G, K)
    grad_v = g_pos.unsqueeze(1) * u_o + torch.bmm(g_neg, u_k).view(B, d)  # (B, d)
    grad_u_k = torch.bmm(g_neg.transpose(1, 2), v_g).view(n * K, d)  # summed over G
    u.index_add_(0, context, g_pos.unsqueeze(1) * v_c, alpha=-lr)
    u.index_add_(0, negatives.reshape(-1), grad_u_k, alpha=-lr)
    v.index_add_(0, center, grad_v, alpha=-lr)
    return float(loss)


# --- training ------------------------------------------------------------------------------


@dataclass
class Word2VecConfig:
    """SGNS training settings: gensim's defaults, plus a batch size and a group size."""

    dim: int = 100
    window: int = 5  # the largest window; each center draws b ~ U{1..window}
    negative: int = 5  # K, noise words per pair
    sample: float = 1e-3  # subsampling threshold t (0: off)
    ns_exponent: float = 0.75
    epochs: int = 5
    batch_size: int = 4096
    lr: float = 0.025  # per pair, decayed linearly to lr * 1e-4 as in word2vec
    group: int = 16  # G, consecutive pairs that share their K noise words (1: none)

    def __post_init__(self) -> None:
        for name in ("dim", "window", "negative", "epochs", "batch_size", "group"):
            check_int(name, getattr(self, name))
        check_number("sample", self.sample, low=0)
        check_number("lr", self.lr, low=0, low_open=True)
        check_multiple("batch_size", self.batch_size, "group", self.group)


class TrainingLog:
    """The bookkeeping of train_sgns: a progress bar, and a record every `every` batches.

    A record holds the step, the epoch (a fraction), the mean loss of the last `every`
    batches (fewer only before the first record), the learning rate and the throughput
    (corpus words per second); one is also made at the end of each epoch, so its loss is
    not that of a short last batch alone.
    """

    def __init__(self, corpus_words: int, epochs: int, progress: bool = True, every: int = 200):
        self.corpus_words, self.every, self.history = corpus_words, every, []
        self.words, self.step, self.recent = 0.0, 0, deque(maxlen=every)
        self.start = time.perf_counter()
        self.bar = tqdm(
            total=corpus_words * epochs,
            unit="word",
            unit_scale=True,
            disable=not progress,
            mininterval=2,
        )

    def update(self, loss: float, lr: float, words: float, epoch: int) -> None:
        """Count one batch of epoch `epoch` (from 0) that covered `words` corpus words."""
        self.recent.append(loss)
        self.step += 1
        self.words += words
        self.bar.update(words)
        end_of_epoch = self.words >= (epoch + 1) * self.corpus_words - 1e-6
        if self.step % self.every == 0 or end_of_epoch:
            elapsed = time.perf_counter() - self.start
            self.history.append(
                {
                    "step": self.step,
                    "epoch": self.words / self.corpus_words,
                    "loss": sum(self.recent) / len(self.recent),
                    "lr": lr,
                    "words/s": self.words / elapsed,
                }
            )

    def close(self) -> list[dict]:
        """Close the progress bar; return the history."""
        self.bar.close()
        return self.history


def train_sgns(
    model: SkipGramNS,
    ids: np.ndarray,
    sentence_ids: np.ndarray,
    counts: np.ndarray,
    config: Word2VecConfig,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[dict]:
    """Train `model` by SGNS on the encoded corpus; returns the loss history.

    Each epoch draws a fresh subsample and fresh windows (NumPy, seeded from
    `generator`), then walks the shuffled pairs in batches, K noise words per pair,
    shared by each group of G pairs.
    """
    check_corpus_ids(ids)
    check_same_length(counts=counts, model_words=model.v.weight)
    model.to(device)
    keep = keep_probabilities(counts, config.sample)
    noise = noise_distribution(counts, config.ns_exponent).float()
    rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator)))
    total = len(ids) * config.epochs  # corpus words over all epochs, for the lr decay
    log = TrainingLog(len(ids), config.epochs, progress)
    K, G = config.negative, config.group
    for epoch in range(config.epochs):
        centers, contexts = skipgram_pairs(ids, sentence_ids, config.window, keep, rng)
        pairs = SkipGramPairs(centers, contexts)
        # a DataLoader's random batches, each indexed in one go (see SkipGramPairs)
        order = torch.randperm(len(pairs), generator=generator)
        batches = order.split(config.batch_size)
        for batch in batches:
            center, context = pairs[batch]  # (B,), (B,)
            lr = config.lr * max(1.0 - log.words / total, 1e-4)  # linear decay
            groups = -(-len(batch) // G)  # the last batch may end in a shorter group
            negatives = torch.multinomial(noise, groups * K, replacement=True, generator=generator)
            negatives = negatives.view(groups, K)  # (B/G, K): one row a group
            step = sgd_step_shared
            if len(batch) % G:  # the same update, each pair given its group's row
                negatives = negatives.repeat_interleave(G, 0)[: len(batch)]
                step = sgd_step
            on_device = [t.to(device) for t in (center, context, negatives)]
            loss = step(model, *on_device, lr)
            log.update(loss, lr, len(ids) / len(batches), epoch)
    return log.close()


# --- looking at the vectors, and scoring them --------------------------------------------


class VectorSpace:
    """Words and their vectors, compared by cosine: neighbours and 3CosAdd analogies."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray | torch.Tensor) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        check_one_vector_per_word(words, vectors)
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.vectors = vectors  # (V, d)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.unit = vectors / np.maximum(norms, 1e-12)  # rows of length 1: dot = cosine

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def similarity(self, a: str, b: str) -> float:
        """The cosine of the angle between the vectors of a and b."""
        return float(self.unit[self._id(a)] @ self.unit[self._id(b)])

    def most_similar(self, word: str, topn: int = 10) -> list[tuple[str, float]]:
        """The topn words most similar (by cosine) to `word`, itself excluded."""
        check_int("topn", topn)
        i = self._id(word)
        return self._nearest(self.unit[i], {i}, topn)

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> list[tuple[str, float]]:
        """a is to b as c is to ? (3CosAdd): the x ∉ {a, b, c} nearest to b - a + c."""
        check_int("topn", topn)
        i, j, k = self._id(a), self._id(b), self._id(c)
        query = self.unit[j] - self.unit[i] + self.unit[k]  # b - a + c
        return self._nearest(query, {i, j, k}, topn)

    def _id(self, word: str) -> int:
        check_in_vocabulary(word, self.index)
        return self.index[word]

    def _nearest(self, query: np.ndarray, exclude: set[int], topn: int) -> list:
        scores = self.unit @ (query / max(np.linalg.norm(query), 1e-12))  # (V,) cosines
        scores[list(exclude)] = -np.inf
        best = np.argsort(-scores)[:topn]
        return [(self.words[i], float(scores[i])) for i in best]


def read_word_pairs(path: str) -> list[tuple[str, str, float]]:
    """(word, word, human score) from a WordSim-353-style file, words lower-cased."""
    pairs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, b, score = line.strip().split("\t")[:3]
            pairs.append((a.lower(), b.lower(), float(score)))
    return pairs


def read_analogies(path: str) -> list[list[str]]:
    """The questions [a, b, c, d] of questions-words.txt, lower-cased, sections dropped."""
    with open(path, encoding="utf-8") as f:
        return [line.lower().split() for line in f if not line.startswith(":") and line.strip()]


class WordVectors(VectorSpace):
    """A VectorSpace scored on the standard test sets; wraps gensim's vectors too."""

    @classmethod
    def from_gensim(cls, keyed_vectors) -> "WordVectors":
        """Wrap gensim's KeyedVectors (model.wv), to score both with the same code."""
        return cls(keyed_vectors.index_to_key, keyed_vectors.vectors)

    def evaluate_word_pairs(self, path: str) -> dict[str, float]:
        """Spearman ρ between cosines and human scores on a WordSim-353-style file.

        Pairs with an unknown word are skipped and counted in 'oov'; with fewer than
        two pairs covered, 'spearman' is NaN.
        """
        from scipy.stats import spearmanr  # imported here: only evaluation needs SciPy

        pairs = read_word_pairs(path)
        check_nonzero(pairs, f"path {path!r} holds no word pairs")
        known = [(a, b, score) for a, b, score in pairs if a in self and b in self]
        ours = [self.similarity(a, b) for a, b, _ in known]
        human = [score for _, _, score in known]
        rho = float(spearmanr(ours, human).statistic) if len(known) >= 2 else math.nan
        n, total = len(known), len(pairs)
        return {"spearman": rho, "pairs": total, "covered": n, "oov": 1 - n / total}

    def evaluate_analogies(self, path: str, batch_size: int = 4096) -> dict[str, float]:
        """3CosAdd accuracy on questions-words.txt, over questions of known words."""
        questions = read_analogies(path)
        check_nonzero(questions, f"path {path!r} holds no analogy questions")
        known = [q for q in questions if all(w in self for w in q)]
        n = len(known)
        total = len(questions)
        counts = {"questions": total, "covered": n, "oov": 1 - n / total}
        if n == 0:
            return {"accuracy": math.nan, **counts}
        # (N, 4) word ids: "a is to b as c is to d"
        q = np.array([[self.index[w] for w in question] for question in known])
        correct = 0
        for s in range(0, n, batch_size):
            a, b, c, d = q[s : s + batch_size].T
            query = self.unit[b] - self.unit[a] + self.unit[c]  # (n, d)
            scores = query @ self.unit.T  # (n, V)
            for col in (a, b, c):  # the answer is none of the question's words
                scores[np.arange(len(a)), col] = -np.inf
            correct += int((scores.argmax(1) == d).sum())
        return {"accuracy": correct / n, **counts}


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Project row vectors onto their first two principal components, (n, 2)."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T
