"""Byte-pair encoding (Sennrich et al., 2016): subword tokens learnt by merging pairs.

Training starts from single characters and repeats one step: count every pair of
adjacent tokens inside the words of the corpus, and merge the most frequent pair into
a new token, until the vocabulary has `vocab_size` tokens. Encoding replays the merges,
in the order they were learnt, on each word of a new text; decoding joins the tokens'
strings. Words come from a regular expression (`PATTERN`, GPT-2's idea: a word carries
the space before it), so merges never cross a word boundary::

    >>> bpe = BPE.train("low lower lowest " * 20, vocab_size=14)
    >>> [bpe.tokens[i] for i in bpe.encode("lowest")]
    ['low', 'e', 'st']
    >>> bpe.decode(bpe.encode("slow owls")) == "slow owls"
    True

It works on characters (the book's unit), not bytes: a character the training text
never had encodes as `<unk>` (id 0), as `lmbook.text.Vocab` does. Ties between pairs
of the same count go to the pair whose tokens have the smaller ids, as in the
`tokenizers` package's trainer, which the tests check it against.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from itertools import pairwise

from lmbook.validate import check_bpe_record, check_int, check_str, check_vocab_ids

# A word: an optional space and letters, or digits, or punctuation; runs of white space
# stay whole except the last space before a word, which the word takes.
PATTERN = r" ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+|_+"
UNK = "<unk>"


class BPE:
    """A trained byte-pair encoding: tokens (id -> string) and merges (in order)."""

    def __init__(self, alphabet: list[str], merges: list[tuple[str, str]]) -> None:
        self.alphabet = list(alphabet)
        self.tokens = [UNK, *alphabet]
        self.ids = {t: i for i, t in enumerate(self.tokens)}
        self.merges = list(merges)
        self.ranks: dict[tuple[int, int], int] = {}  # encoding applies the lowest first
        for rank, (a, b) in enumerate(merges):
            if a + b not in self.ids:  # two merges may spell the same token: one id
                self.ids[a + b] = len(self.tokens)
                self.tokens.append(a + b)
            self.ranks[self.ids[a], self.ids[b]] = rank
        self._cache: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"BPE(tokens={len(self)}, merges={len(self.merges)})"

    def to_record(self) -> dict:
        """What rebuilds this BPE (JSON-ready): its word pattern, alphabet and merges,
        and its size as a check."""
        merges = [list(m) for m in self.merges]
        return {"pattern": PATTERN, "alphabet": self.alphabet, "merges": merges,
                "tokens": len(self)}  # fmt: skip

    @classmethod
    def from_record(cls, record: object, where: str = "the tokenizer record") -> BPE:
        """The BPE that `to_record` wrote; a record of another pattern, or a damaged
        one, is refused by `where`."""
        check_bpe_record(where, record, PATTERN)
        bpe = cls(record["alphabet"], [tuple(m) for m in record["merges"]])
        if len(bpe) != record["tokens"]:
            raise ValueError(f"{where} is damaged: it rebuilds {len(bpe)} tokens, "
                             f"not its recorded {record['tokens']}; reinstall lmbook")  # fmt: skip
        return bpe

    @classmethod
    def train(cls, text: str, vocab_size: int) -> BPE:
        """Learn merges from text until there are vocab_size tokens (<unk> included)."""
        check_str("text", text)
        words = Counter(re.findall(PATTERN, text))
        alphabet = sorted({c for w in words for c in w})
        check_int("vocab_size", vocab_size, low=len(alphabet) + 1)
        tokens = [UNK, *alphabet]
        ids = {t: i for i, t in enumerate(tokens)}
        seqs = [[ids[c] for c in w] for w in words]  # each distinct word as token ids
        counts = list(words.values())
        pairs: Counter[tuple[int, int]] = Counter()  # pair -> occurrences in the corpus
        where: defaultdict[tuple[int, int], set[int]] = defaultdict(set)  # -> words
        for w, seq in enumerate(seqs):
            for pair in pairwise(seq):
                pairs[pair] += counts[w]
                where[pair].add(w)
        merges = []
        while len(tokens) < vocab_size and pairs:
            # the most frequent pair; among equals, the smallest ids
            best = max(pairs, key=lambda p: (pairs[p], -p[0], -p[1]))
            if pairs[best] < 1:
                break
            merged = tokens[best[0]] + tokens[best[1]]
            if merged not in ids:  # another merge may have spelt it already
                ids[merged] = len(tokens)
                tokens.append(merged)
            new = ids[merged]
            merges.append((tokens[best[0]], tokens[best[1]]))
            for w in where.pop(best):
                seq = seqs[w]
                for pair in pairwise(seq):  # take the word's pairs out ...
                    pairs[pair] -= counts[w]
                seqs[w] = seq = _merge(seq, best, new)
                for pair in pairwise(seq):  # ... and put its new pairs in
                    pairs[pair] += counts[w]
                    where[pair].add(w)
            pairs = +pairs  # drop the pairs whose count fell to zero
        return cls(alphabet, merges)

    def encode(self, text: str) -> list[int]:
        """Token ids of text: each word's characters, merged by the learnt ranks."""
        check_str("text", text)
        out: list[int] = []
        for word in re.findall(PATTERN, text):
            if word not in self._cache:
                self._cache[word] = self._encode_word(word)
            out.extend(self._cache[word])
        return out

    def _encode_word(self, word: str) -> list[int]:
        seq = [self.ids.get(c, 0) for c in word]
        while len(seq) > 1:
            pair = min(pairwise(seq), key=lambda p: self.ranks.get(p, len(self.ranks)))
            if pair not in self.ranks:
                break  # no learnt merge applies any more
            seq = _merge(seq, pair, self.ids[self.tokens[pair[0]] + self.tokens[pair[1]]])
        return seq

    def decode(self, ids: list[int]) -> str:
        """The text of token ids (an unknown character comes back as '<unk>')."""
        ids = list(ids)
        check_vocab_ids(ids, len(self))
        return "".join(self.tokens[int(i)] for i in ids)


def _merge(seq: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """seq with every non-overlapping occurrence of pair, left to right, replaced by new."""
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and seq[i] == pair[0] and seq[i + 1] == pair[1]:
            out.append(new)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out
