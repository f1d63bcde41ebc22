"""Word vectors: skip-gram with negative sampling (SGNS) in PyTorch, and its evaluation.

Introduced in chapter 2::

    >>> sentences = [["the", "king", "is", "dead"], ["long", "live", "the", "king"]]
    >>> words, counts = build_vocab(sentences, min_count=1)
    >>> ids, sentence_ids = encode(sentences, words)
    >>> model = SkipGramNS(len(words), dim=16)
    >>> history = train_sgns(model, ids, sentence_ids, counts, Word2VecConfig(dim=16, epochs=1),
    ...                 generator=torch.Generator().manual_seed(0))
    >>> vectors = WordVectors(words, model.vectors())
    >>> vectors.most_similar("king", topn=2)  # doctest: +SKIP
"""

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from lmbook.text import word_tokenize


def speeches(text: str) -> list[list[str]]:
    """The speeches of lmbook.data text as lists of lower-case words (no speakers, no punctuation).

    >>> speeches("HAMLET:\\nTo be, or not to be.\\n\\nOPHELIA:\\nGood my lord,")
    [['to', 'be', 'or', 'not', 'to', 'be'], ['good', 'my', 'lord']]
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    out = []
    for block in text.split("\n\n"):
        lines = block.strip().split("\n")
        if lines and lines[0].endswith(":"):  # the speaker's name
            lines = lines[1:]
        words = [w for w in word_tokenize("\n".join(lines)) if w[0].isalpha()]
        if words:
            out.append(words)
    return out


def _check_sentences(sentences: Sequence[Sequence[str]]) -> None:
    if isinstance(sentences, str) or (len(sentences) > 0 and isinstance(sentences[0], str)):
        raise TypeError(
            "sentences must be a list of token lists, e.g. [['to', 'be'], ['or', 'not']], "
            f"got a {'str' if isinstance(sentences, str) else 'list of str'}: tokenize first"
        )


def build_vocab(
    sentences: Sequence[Sequence[str]], min_count: int = 5
) -> tuple[list[str], np.ndarray]:
    """The words seen at least min_count times, most frequent first, and their counts."""
    _check_sentences(sentences)
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
    counts = Counter(w for s in sentences for w in s)
    if not counts:
        raise ValueError("the corpus is empty: no sentence holds a word")
    kept = [(w, c) for w, c in counts.most_common() if c >= min_count]
    if not kept:
        raise ValueError(
            f"no word occurs min_count={min_count} times; the most frequent occurs "
            f"{counts.most_common(1)[0][1]} times"
        )
    return [w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64)


def encode(
    sentences: Sequence[Sequence[str]], words: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """One flat array of word ids (words not in `words` dropped) and each token's sentence index."""
    _check_sentences(sentences)
    index = {w: i for i, w in enumerate(words)}
    ids, sentence_ids = [], []
    for s, sentence in enumerate(sentences):
        known = [index[w] for w in sentence if w in index]
        ids.extend(known)
        sentence_ids.extend([s] * len(known))
    if not ids:
        raise ValueError("the corpus is empty: no sentence holds a word of the vocabulary")
    return np.array(ids, dtype=np.int64), np.array(sentence_ids, dtype=np.int64)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """P(keep) of each word under word2vec's subsampling: (√(f/t) + 1)·t/f, capped at 1.

    f is the word's share of the corpus and t = sample; sample=0 keeps every word.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample < 0:
        raise ValueError(f"sample must be >= 0 (0 turns subsampling off), got {sample}")
    if sample == 0:
        return np.ones_like(counts)
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1) * sample / f)


def noise_distribution(counts: np.ndarray, exponent: float = 0.75) -> torch.Tensor:
    """The negative-sampling distribution P_n(w) ∝ count(w)^exponent, as float64 probabilities."""
    counts = torch.as_tensor(np.asarray(counts), dtype=torch.float64)
    if counts.ndim != 1 or len(counts) == 0 or bool((counts <= 0).any()):
        raise ValueError("counts must be a non-empty 1-D array of positive word counts")
    weights = counts**exponent
    return weights / weights.sum()


def skipgram_pairs(
    ids: np.ndarray,
    sentence_ids: np.ndarray,
    window: int,
    keep: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All (center, context) id pairs within `window` words, never across a sentence boundary.

    With rng, each center draws its own window b ~ U{1..window} (word2vec's dynamic window)
    and each token is kept with probability keep[id] (subsampling) before windows are
    taken; without rng, every pair within `window` of the full corpus is returned.
    One NumPy operation per offset, none per pair.
    """
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window must be an int >= 1, got {window!r}")
    ids, sentence_ids = np.asarray(ids), np.asarray(sentence_ids)
    if ids.shape != sentence_ids.shape or ids.ndim != 1:
        raise ValueError(
            f"ids and sentence_ids must be 1-D of equal length, got shapes {ids.shape} "
            f"and {sentence_ids.shape}"
        )
    if keep is not None and rng is not None:
        kept = rng.random(len(ids)) < keep[ids]
        ids, sentence_ids = ids[kept], sentence_ids[kept]
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n) if rng is not None else np.full(n, window)
    centers, contexts = [], []
    for d in range(1, min(window, n - 1) + 1):
        same = sentence_ids[:-d] == sentence_ids[d:]  # token i and token i+d share a sentence
        right = same & (reach[:-d] >= d)  # center i sees i+d
        left = same & (reach[d:] >= d)  # center i+d sees i
        centers += [ids[:-d][right], ids[d:][left]]
        contexts += [ids[d:][right], ids[:-d][left]]
    if not centers:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(centers), np.concatenate(contexts)


class SkipGramPairs(Dataset):
    """(center, context) pairs as a map-style Dataset; an index may be an int or a batch of them.

    Indexing with a whole batch makes a DataLoader fast: pass
    sampler=BatchSampler(RandomSampler(pairs), batch_size, drop_last=False), batch_size=None.
    """

    def __init__(self, centers: np.ndarray, contexts: np.ndarray) -> None:
        if len(centers) != len(contexts):
            raise ValueError(f"{len(centers)} centers but {len(contexts)} contexts")
        self.centers = torch.as_tensor(centers, dtype=torch.long)
        self.contexts = torch.as_tensor(contexts, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.centers)

    def __getitem__(self, index: int | Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(index)
        return self.centers[index], self.contexts[index]


def sgns_loss(center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c).

    center v_c: (B, d), context u_o: (B, d), negatives u_k: (B, K, d) -> a scalar.
    """
    pos = (context * center).sum(-1)  # (B,)
    neg = (negatives * center.unsqueeze(1)).sum(-1)  # (B, K)
    return (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)).mean()


class SkipGramNS(nn.Module):
    """Skip-gram with negative sampling: a center vector v_w and a context vector u_w per word."""

    def __init__(self, vocab_size: int, dim: int = 100) -> None:
        super().__init__()
        if vocab_size < 1 or dim < 1:
            raise ValueError(f"vocab_size and dim must be >= 1, got {vocab_size} and {dim}")
        self.v = nn.Embedding(vocab_size, dim)  # center ("input") vectors
        self.u = nn.Embedding(vocab_size, dim)  # context ("output") vectors
        # word2vec's initialisation: small random center vectors, zero context vectors
        nn.init.uniform_(self.v.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.u.weight)

    def forward(
        self, center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """center (B,), context (B,) and negatives (B, K) word ids -> the SGNS loss, a scalar."""
        return sgns_loss(self.v(center), self.u(context), self.u(negatives))

    @torch.no_grad()
    def sgd_step(
        self, center: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor, lr: float
    ) -> float:
        """One SGD step (lr per pair) on the summed SGNS loss, gradient by hand; returns the mean.

        With s = u·v, d/ds [-log σ(s)] = σ(s) - 1 and d/ds [-log σ(-s)] = σ(s). Like
        word2vec, only the rows in the batch change (index_add_), so a step costs O(B K d)
        whatever the vocabulary size; autograd would build a dense (V, d) gradient.
        """
        V, U = self.v.weight, self.u.weight
        B, K = negatives.shape
        v_c = V.index_select(0, center)  # (B, d)
        u_o = U.index_select(0, context)  # (B, d)
        u_k = U.index_select(0, negatives.reshape(-1)).view(B, K, -1)  # (B, K, d)
        pos = (u_o * v_c).sum(-1)  # (B,)
        neg = (u_k * v_c.unsqueeze(1)).sum(-1)  # (B, K)
        loss = (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)).mean()
        g_pos = torch.sigmoid(pos) - 1  # (B,)
        g_neg = torch.sigmoid(neg)  # (B, K)
        grad_v = g_pos.unsqueeze(1) * u_o + (g_neg.unsqueeze(-1) * u_k).sum(1)  # (B, d)
        U.index_add_(0, context, g_pos.unsqueeze(1) * v_c, alpha=-lr)
        U.index_add_(
            0,
            negatives.reshape(-1),
            (g_neg.unsqueeze(-1) * v_c.unsqueeze(1)).view(B * K, -1),
            alpha=-lr,
        )
        V.index_add_(0, center, grad_v, alpha=-lr)
        return float(loss)

    def vectors(self) -> np.ndarray:
        """The word vectors readers use: the center vectors v_w, (V, d), as float32 NumPy."""
        return self.v.weight.detach().cpu().numpy().copy()


@dataclass
class Word2VecConfig:
    """The settings of SGNS training; the defaults are gensim's, plus a batch size."""

    dim: int = 100
    window: int = 5  # the largest window; each center draws b ~ U{1..window}
    negative: int = 5  # K, noise words per pair
    sample: float = 1e-3  # subsampling threshold t (0: off)
    ns_exponent: float = 0.75
    epochs: int = 5
    batch_size: int = 4096
    lr: float = 0.025  # per pair, decayed linearly to lr * 1e-4 as in word2vec

    def __post_init__(self) -> None:
        for name in ("dim", "window", "negative", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.sample < 0 or self.lr <= 0:
            raise ValueError(f"need sample >= 0 and lr > 0, got {self.sample} and {self.lr}")


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
    """Train model with SGNS on the encoded corpus; one history entry every 200 batches.

    Each epoch draws fresh subsampling and windows (NumPy, seeded from generator), then
    walks the shuffled pairs in batches, with K noise words per pair drawn from P_n.
    """
    if len(ids) == 0:
        raise ValueError("the corpus is empty: no word ids to train on")
    if len(counts) != model.v.num_embeddings:
        raise ValueError(f"{len(counts)} counts but the model has {model.v.num_embeddings} words")
    model.to(device)
    keep = keep_probabilities(counts, config.sample)
    noise = noise_distribution(counts, config.ns_exponent).float()
    rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator)))
    history, step, running, seen, words_done = [], 0, 0.0, 0, 0.0
    total_words = len(ids) * config.epochs
    start = time.perf_counter()
    bar = tqdm(total=total_words, unit="word", unit_scale=True, disable=not progress, mininterval=2)
    for epoch in range(config.epochs):
        pairs = SkipGramPairs(*skipgram_pairs(ids, sentence_ids, config.window, keep, rng))
        # The same batches as DataLoader(pairs, sampler=BatchSampler(RandomSampler(pairs), …)),
        # without turning every index into a Python int: 15% faster on a CPU.
        order = torch.randperm(len(pairs), generator=generator)
        batches = order.split(config.batch_size)
        words_per_batch = len(ids) / max(len(batches), 1)
        for batch in batches:
            center, context = pairs[batch]
            lr = config.lr * max(1.0 - words_done / total_words, 1e-4)  # linear decay
            negatives = torch.multinomial(
                noise, center.numel() * config.negative, replacement=True, generator=generator
            ).view(-1, config.negative)  # (B, K)
            loss = model.sgd_step(center.to(device), context.to(device), negatives.to(device), lr)
            running, seen, step = running + loss, seen + 1, step + 1
            words_done += words_per_batch
            bar.update(words_per_batch)
            if step % 200 == 0 or words_done >= (epoch + 1) * len(ids) - 1e-6:
                elapsed = time.perf_counter() - start
                history.append(
                    {
                        "step": step,
                        "epoch": words_done / len(ids),
                        "loss": running / max(seen, 1),
                        "lr": lr,
                        "words/s": words_done / elapsed,
                    }
                )
                running, seen = 0.0, 0
    bar.close()
    return history


class WordVectors:
    """Words and their vectors, with cosine neighbours, 3CosAdd analogies and evaluations."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray | torch.Tensor) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(words) != len(vectors):
            raise ValueError(
                f"need one vector per word: {len(words)} words, vectors {vectors.shape}"
            )
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.vectors = vectors
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.unit = vectors / np.maximum(norms, 1e-12)  # rows of length 1: dot product = cosine

    @classmethod
    def from_gensim(cls, keyed_vectors) -> "WordVectors":
        """Wrap gensim's KeyedVectors (model.wv) so both are evaluated by the same code."""
        return cls(keyed_vectors.index_to_key, keyed_vectors.vectors)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def _id(self, word: str) -> int:
        if word not in self.index:
            raise ValueError(
                f"{word!r} is not in the vocabulary of {len(self)} words; "
                "check `word in vectors` first"
            )
        return self.index[word]

    def similarity(self, a: str, b: str) -> float:
        """The cosine of the angle between the vectors of a and b."""
        return float(self.unit[self._id(a)] @ self.unit[self._id(b)])

    def most_similar(self, word: str, topn: int = 10) -> list[tuple[str, float]]:
        """The topn words with the largest cosine similarity to word (word itself excluded)."""
        return self._nearest(self.unit[self._id(word)], {self._id(word)}, topn)

    def analogy(self, a: str, b: str, c: str, topn: int = 1) -> list[tuple[str, float]]:
        """a is to b as c is to ?: 3CosAdd, argmax over x ∉ {a, b, c} of cos(x, b - a + c)."""
        i, j, k = self._id(a), self._id(b), self._id(c)
        return self._nearest(self.unit[j] - self.unit[i] + self.unit[k], {i, j, k}, topn)

    def _nearest(self, query: np.ndarray, exclude: set[int], topn: int) -> list[tuple[str, float]]:
        scores = self.unit @ (query / max(np.linalg.norm(query), 1e-12))
        scores[list(exclude)] = -np.inf
        best = np.argsort(-scores)[:topn]
        return [(self.words[i], float(scores[i])) for i in best]

    def evaluate_word_pairs(self, path: str) -> dict[str, float]:
        """Spearman ρ between cosines and human scores on a word-pair file (WordSim-353 style).

        Pairs with a word outside the vocabulary are skipped and counted in 'oov'; with
        fewer than two pairs covered, spearman is NaN.
        """
        from scipy.stats import spearmanr  # imported here: only evaluation needs SciPy

        ours, human, total = [], [], 0
        for line in open(path, encoding="utf-8"):
            if line.startswith("#") or not line.strip():
                continue
            a, b, score = line.strip().split("\t")[:3]
            total += 1
            a, b = a.lower(), b.lower()
            if a in self and b in self:
                ours.append(self.similarity(a, b))
                human.append(float(score))
        if len(ours) < 2:  # no correlation to compute
            return {
                "spearman": math.nan,
                "pairs": total,
                "covered": len(ours),
                "oov": 1 - len(ours) / total,
            }
        return {
            "spearman": float(spearmanr(ours, human).statistic),
            "pairs": total,
            "covered": len(ours),
            "oov": 1 - len(ours) / total,
        }

    def evaluate_analogies(self, path: str, batch_size: int = 4096) -> dict[str, float]:
        """3CosAdd accuracy on questions-words.txt, over questions whose four words are known."""
        questions, total = [], 0
        for line in open(path, encoding="utf-8"):
            if line.startswith(":") or not line.strip():
                continue
            total += 1
            quad = line.lower().split()
            if all(w in self for w in quad):
                questions.append([self.index[w] for w in quad])
        if not questions:
            return {"accuracy": math.nan, "questions": total, "covered": 0, "oov": 1.0}
        q = np.array(questions)  # (N, 4): a b c d, "a is to b as c is to d"
        correct = 0
        for s in range(0, len(q), batch_size):
            a, b, c, d = q[s : s + batch_size].T
            scores = (self.unit[b] - self.unit[a] + self.unit[c]) @ self.unit.T  # (n, V)
            for col in (a, b, c):
                scores[np.arange(len(a)), col] = -np.inf
            correct += int((scores.argmax(1) == d).sum())
        return {
            "accuracy": correct / len(q),
            "questions": total,
            "covered": len(q),
            "oov": 1 - len(q) / total,
        }


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Project row vectors onto their first two principal components, (n, 2)."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:2].T
