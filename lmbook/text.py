"""Tokens and vocabularies: character and word tokenizers, and `Vocab`.

Introduced in chapter 1::

    >>> tokens = word_tokenize("Fair is foul, and foul is fair.")
    >>> tokens
    ['fair', 'is', 'foul', ',', 'and', 'foul', 'is', 'fair', '.']
    >>> vocab = Vocab(tokens)
    >>> vocab.decode(vocab.encode(["foul", "witch"]))
    ['foul', '<unk>']
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from lmbook.validate import (
    check_known_tokens,
    check_min_freq,
    check_nonempty,
    check_str,
    check_str_items,
    check_tokens,
    check_type,
    check_unique,
    check_vocab_ids,
)

UNK = "<unk>"

# A word is letters with inner apostrophes or hyphens ("o'er", "well-a-day"); every other
# non-space character is a token of its own; newlines are kept as a token.
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*|\d+|\n|[^\w\s]|_")


def char_tokenize(text: str) -> list[str]:
    """Split text into characters: char_tokenize('Ay me') == ['A', 'y', ' ', 'm', 'e']."""
    check_str("text", text)
    return list(text)


def word_tokenize(text: str, lower: bool = True, newlines: bool = False) -> list[str]:
    """Split text into words and punctuation, lower-cased unless lower=False.

    Newlines become '\\n' tokens when newlines=True, and are dropped otherwise.
    """
    check_str("text", text)
    check_type("lower", lower, bool, "True or False")
    check_type("newlines", newlines, bool, "True or False")
    tokens = _WORD.findall(text.lower() if lower else text)
    return tokens if newlines else [t for t in tokens if t != "\n"]


class Vocab:
    """A bijection between tokens and integer ids, with an optional `<unk>` token.

    Tokens seen fewer than `min_freq` times map to `<unk>`. Ids are assigned to the
    special tokens first, then by decreasing frequency (ties: first appearance), so
    the same corpus always gives the same ids.
    """

    def __init__(
        self,
        tokens: Iterable[str],
        min_freq: int = 1,
        specials: Sequence[str] = (),
        unk: str | None = UNK,
    ) -> None:
        check_tokens("tokens", tokens)
        counts = Counter(tokens)
        check_nonempty("tokens", counts)
        check_str_items("tokens", counts)
        check_min_freq(min_freq, counts)
        check_unique("specials", specials)
        reserved = ([unk] if unk is not None else []) + [s for s in specials if s != unk]
        kept = [t for t, c in counts.most_common() if c >= min_freq and t not in reserved]
        self.unk = unk
        self.counts = counts
        self.itos: list[str] = reserved + kept
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, unk={self.unk!r})"

    @property
    def unk_id(self) -> int | None:
        """The id of `<unk>`, or None if this vocabulary has no unknown token."""
        return None if self.unk is None else self.stoi[self.unk]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to ids; unknown tokens map to `<unk>` (an error if there is none)."""
        check_tokens("tokens", tokens)
        tokens = list(tokens)  # a generator can be read only once
        check_str_items("tokens", set(tokens))  # ids for tokens would all become <unk>
        if self.unk is None:
            check_known_tokens(tokens, self.stoi)
        unk_id = self.unk_id
        return [self.stoi.get(token, unk_id) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Map ids back to tokens."""
        ids = list(ids)
        check_vocab_ids(ids, len(self))
        return [self.itos[int(i)] for i in ids]
