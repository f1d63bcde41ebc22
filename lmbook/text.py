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

UNK = "<unk>"

# A word is letters with inner apostrophes or hyphens ("o'er", "well-a-day"); every other
# non-space character is a token of its own; newlines are kept as a token.
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*|\d+|\n|[^\w\s]|_")


def _check_text(text: str) -> None:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")


def char_tokenize(text: str) -> list[str]:
    """Split text into characters: char_tokenize('Ay me') == ['A', 'y', ' ', 'm', 'e']."""
    _check_text(text)
    return list(text)


def word_tokenize(text: str, lower: bool = True, newlines: bool = False) -> list[str]:
    """Split text into words and punctuation, lower-cased unless lower=False.

    Newlines become '\\n' tokens when newlines=True, and are dropped otherwise.
    """
    _check_text(text)
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
        if isinstance(tokens, str):
            raise TypeError(
                "Vocab expects a sequence of tokens, got a str; "
                "tokenize it first, e.g. Vocab(char_tokenize(text))"
            )
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"min_freq must be an int >= 1, got {min_freq!r}")
        counts = Counter(tokens)
        if not counts:
            raise ValueError("cannot build a Vocab from an empty corpus: no tokens given")
        for token in counts:
            if not isinstance(token, str):
                raise TypeError(f"tokens must be str, got {type(token).__name__} {token!r}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"specials must be distinct, got {list(specials)}")
        reserved = ([unk] if unk is not None else []) + [s for s in specials if s != unk]
        kept = [t for t, c in counts.most_common() if c >= min_freq and t not in reserved]
        if not kept:
            raise ValueError(
                f"no token occurs at least min_freq={min_freq} times; the most frequent "
                f"occurs {counts.most_common(1)[0][1]} times"
            )
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
        if isinstance(tokens, str):
            raise TypeError("encode expects a sequence of tokens, got a str; tokenize it first")
        ids = []
        for token in tokens:
            i = self.stoi.get(token, self.unk_id)
            if i is None:
                raise ValueError(
                    f"unknown token {token!r} and this Vocab has no <unk>; "
                    f"build it with unk='<unk>' or add the token to the corpus"
                )
            ids.append(i)
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Map ids back to tokens."""
        out = []
        for i in ids:
            if hasattr(i, "item") and getattr(i, "ndim", 1) == 0:
                i = i.item()  # NumPy scalars and 0-d tensors
            if isinstance(i, bool) or not isinstance(i, int):
                raise TypeError(f"ids must be integers, got {type(i).__name__} {i!r}")
            if not 0 <= i < len(self):
                raise ValueError(f"id {i} is out of range for a Vocab of size {len(self)}")
            out.append(self.itos[i])
        return out
