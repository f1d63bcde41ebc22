"""Named input checks, one line each where they are called.

The chapters show lmbook's classes and functions as the reader should meet them: the
idea, with its guards reduced to calls such as ``check_int("n_layer", n_layer)``. The
checks live here, in a module the chapters do not show, and raise the same clear errors
everywhere: a ``TypeError`` or ``ValueError`` that names the argument, what it was and
what is allowed.

NumPy scalars and 0-d tensors pass wherever a Python number does; ``bool`` never
passes for a number (``True`` is an int to Python, but never what a caller meant), and
NaN or infinity never passes for a number with bounds.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Sequence
from typing import Any

import torch
from torch import nn


def _scalar(value: object) -> object:
    """A 0-d tensor's Python number; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and value.dtype != torch.bool:
        return value.item()
    return value


def is_int(value: object) -> bool:
    """True for a Python or NumPy int or a 0-d integer tensor; False for a bool."""
    value = _scalar(value)
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """True for a real number (Python, NumPy or a 0-d tensor); False for a bool."""
    value = _scalar(value)
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def check_int(
    name: str,
    value: object,
    low: int | None = 1,
    high: int | None = None,
    allow_none: bool = False,
) -> None:
    """`value` is an int in [low, high] (either bound may be None), or None if allowed.

    >>> check_int("n_layer", 0)
    Traceback (most recent call last):
    ValueError: n_layer must be an int >= 1, got 0
    """
    if value is None and allow_none:
        return
    bounds = _interval(low, high, False, False)
    ok = is_int(value)
    if ok:
        number = int(_scalar(value))
        ok = (low is None or number >= low) and (high is None or number <= high)
    if not ok:
        allowed = f"an int {bounds}".rstrip() + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def check_number(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> None:
    """`value` is a finite real number within the bounds (open or closed), or None.

    >>> check_number("dropout", 1.0, low=0, high=1, high_open=True)
    Traceback (most recent call last):
    ValueError: dropout must be a number in [0, 1), got 1.0
    """
    if value is None and allow_none:
        return
    ok = is_number(value) and math.isfinite(float(_scalar(value)))
    if ok:
        x = float(_scalar(value))
        ok = low is None or (x > low if low_open else x >= low)
        ok = ok and (high is None or (x < high if high_open else x <= high))
    if not ok:
        bounds = _interval(low, high, low_open, high_open)
        allowed = f"a number {bounds}".rstrip() + (" or None" if allow_none else "")
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def check_probability(name: str, value: object) -> None:
    """`value` is a number in [0, 1]."""
    check_number(name, value, low=0, high=1)


def check_choice(name: str, value: object, choices: Collection[Any]) -> None:
    """`value` is one of `choices`."""
    if isinstance(value, (list, dict, set)) or value not in choices:
        allowed = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")


def check_type(name: str, value: object, types: type | tuple[type, ...], what: str) -> None:
    """`value` is an instance of `types`; `what` says it in words ('a str or a Path')."""
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")


def _tuple(types: type | tuple[type, ...]) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def check_module(name: str, value: object) -> None:
    """`value` is a torch module."""
    check_type(name, value, nn.Module, "a torch.nn.Module")


def check_str(name: str, value: object, empty: bool = True) -> None:
    """`value` is a str (a non-empty one unless `empty`)."""
    check_type(name, value, str, "a str")
    if not empty and not value:
        raise ValueError(f"{name} must be a non-empty str, got ''")


def check_nonempty(name: str, value: Sequence[Any]) -> None:
    """`value` holds at least one item."""
    if len(value) == 0:
        raise ValueError(f"{name} must not be empty")


def check_same_length(**sequences: Sequence[Any]) -> None:
    """All the named sequences have one length: check_same_length(a=xs, b=ys)."""
    lengths = {name: len(seq) for name, seq in sequences.items()}
    if len(set(lengths.values())) > 1:
        said = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise ValueError(f"{' and '.join(lengths)} must have the same length, got {said}")


def check_tensor(
    name: str,
    value: object,
    ndim: int | None = None,
    integer: bool | None = None,
    shape: str = "",
) -> None:
    """`value` is a tensor with `ndim` dimensions, of an integer (or floating) dtype.

    `shape` names the dimensions for the message, for example '(B, T)'.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a tensor {shape}".rstrip() + f", got {_what(value)}")
    floating = value.dtype.is_floating_point or value.dtype.is_complex
    bad_dtype = integer is not None and (
        floating or value.dtype == torch.bool if integer else not floating
    )
    if (ndim is not None and value.ndim != ndim) or bad_dtype:
        kind = {True: "an integer ", False: "a floating-point ", None: "a "}[integer]
        dims = shape or (f"{ndim}-D" if ndim is not None else "")
        wanted = f"{kind}tensor {dims}".rstrip()
        raise TypeError(f"{name} must be {wanted}, got {_what(value)}")


def _what(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"{value.dtype} of shape {tuple(value.shape)}"
    return type(value).__name__


def check_finite(name: str, value: torch.Tensor) -> None:
    """Every entry of a floating-point tensor is finite (no NaN, no infinity)."""
    if value.dtype.is_floating_point and not torch.isfinite(value).all():
        raise ValueError(
            f"{name} holds NaN or infinite values (a diverged model produces them); "
            "only finite values are allowed"
        )


def check_token_ids(
    idx: object, vocab_size: int, block_size: int | None = None, start_pos: int = 0
) -> None:
    """`idx` is a (B, T) LongTensor of ids in [0, vocab_size) that fits the context.

    `start_pos` ids are already cached, so start_pos + T must not exceed block_size.
    The range check reads the ids: on a GPU it waits for them (one sync, not two).
    """
    if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.dtype != torch.long:
        raise TypeError(f"idx must be a (B, T) LongTensor of token ids, got {_what(idx)}")
    if idx.numel() == 0:
        raise ValueError(f"idx holds no tokens: shape {tuple(idx.shape)}")
    T = idx.size(1)
    if block_size is not None and start_pos + T > block_size:
        where = f"{start_pos} cached + {T} new = {start_pos + T}" if start_pos else f"{T}"
        raise ValueError(
            f"sequence length T = {where} exceeds block_size = {block_size}, the longest "
            "context this model has positions for; crop the input to its last block_size ids"
        )
    low, high = torch.stack(torch.aminmax(idx)).tolist()
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"idx holds ids from {low} to {high}; this model knows ids 0 … {vocab_size - 1}"
        )


# --- chapter 2 (word vectors): corpora, counts, vocabularies ----------------------------


def check_sentences(sentences: object) -> None:
    """`sentences` is a list of token lists, not a str or a list of str (untokenized)."""
    if isinstance(sentences, str) or (len(sentences) > 0 and isinstance(sentences[0], str)):
        raise TypeError(
            "sentences must be a list of token lists, e.g. [['to', 'be'], ['or', 'not']], "
            f"got a {'str' if isinstance(sentences, str) else 'list of str'}: tokenize first"
        )


def check_min_count(counts: dict[str, int], min_count: int) -> None:
    """Some word of the corpus (word -> count) occurs at least `min_count` times."""
    if not counts:
        raise ValueError("the corpus is empty: no sentence holds a word")
    most = max(counts.values())
    if most < min_count:
        raise ValueError(
            f"no word occurs min_count={min_count} times; the most frequent occurs {most} times"
        )


def check_corpus_ids(ids: Sequence[int]) -> None:
    """The encoded corpus holds at least one word of the vocabulary."""
    if len(ids) == 0:
        raise ValueError("the corpus is empty: it holds no word of the vocabulary")


def check_sentence_ids(ids: Any, sentence_ids: Any) -> None:
    """`ids` and `sentence_ids` are 1-D arrays of one length (a sentence index a token)."""
    import numpy as np  # here, not at the top: only these chapter-2 checks need NumPy

    ids, sentence_ids = np.asarray(ids), np.asarray(sentence_ids)
    if ids.shape != sentence_ids.shape or ids.ndim != 1:
        raise ValueError(
            f"ids and sentence_ids must be 1-D of equal length, got shapes {ids.shape} "
            f"and {sentence_ids.shape}"
        )


def check_counts(counts: Any) -> None:
    """`counts` is a non-empty 1-D array of positive word counts."""
    import numpy as np

    counts = np.asarray(counts)
    if counts.ndim != 1 or len(counts) == 0 or bool((counts <= 0).any()):
        raise ValueError("counts must be a non-empty 1-D array of positive word counts")


def check_one_vector_per_word(words: Sequence[str], vectors: Any) -> None:
    """`vectors` is a (V, d) array with one row per word of `words`."""
    if vectors.ndim != 2 or len(words) != len(vectors):
        raise ValueError(f"need one vector per word: {len(words)} words, vectors {vectors.shape}")


def check_in_vocabulary(word: object, vocabulary: Collection[str]) -> None:
    """`word` is one of the `vocabulary`'s words."""
    if word not in vocabulary:
        raise ValueError(
            f"{word!r} is not in the vocabulary of {len(vocabulary)} words; "
            "check `word in vectors` first"
        )
