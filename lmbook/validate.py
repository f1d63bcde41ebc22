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


# --- chapter 4: encoder–decoder (tokenised sentences, vocabularies, id batches) --------


def check_tokens(name: str, value: object) -> None:
    """`value` is one tokenised sentence (a sequence of tokens), not a str."""
    if isinstance(value, str):
        raise TypeError(
            f"{name} is a str ({value[:30]!r}), not a list of tokens; "
            "tokenize it first, e.g. sentence.split()"
        )


def check_sentences(name: str, value: object) -> None:
    """`value` is a collection of tokenised sentences, not one str."""
    if isinstance(value, str):
        raise TypeError(f"{name} must be a list of token lists, got a str: tokenize it first")


def check_sentence_pair(name: str, pair: object) -> None:
    """`pair` is (source tokens, target tokens)."""
    if isinstance(pair, str) or len(pair) != 2:
        raise ValueError(f"{name} must be a (source tokens, target tokens) pair, got {pair!r}")
    check_tokens(f"the source of {name}", pair[0])
    check_tokens(f"the target of {name}", pair[1])


def check_corpus(hypotheses: Sequence[Any], references: Sequence[Any]) -> None:
    """One tokenised reference for each of at least one tokenised hypothesis."""
    check_sentences("hypotheses", hypotheses)
    check_sentences("references", references)
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} references: "
            "give exactly one reference per hypothesis"
        )
    if len(hypotheses) == 0:
        raise ValueError("the corpus is empty: BLEU needs at least one hypothesis")
    for what, corpus in (("hypothesis", hypotheses), ("reference", references)):
        for i, sentence in enumerate(corpus):
            check_tokens(f"{what} {i}", sentence)


def check_vocab_specials(name: str, vocab: object, specials: Sequence[str]) -> None:
    """`vocab` is an lmbook.text.Vocab (it has .stoi) that holds every special token."""
    if not hasattr(vocab, "stoi") or not hasattr(vocab, "__contains__"):
        raise TypeError(f"{name} must be an lmbook.text.Vocab, got {type(vocab).__name__}")
    missing = [token for token in specials if token not in vocab]
    if missing:
        raise ValueError(
            f"{name} lacks the special tokens {missing}; build it with lmbook.seq2seq.build_vocab"
        )


def check_id(name: str, value: object, size_name: str, size: int) -> None:
    """`value` is an id in [0, size): `size_name` says which size, for the message."""
    if not is_int(value) or not 0 <= int(_scalar(value)) < size:
        raise ValueError(f"{name} must be an int in [0, {size_name}={size}), got {value!r}")


def check_distinct(**values: object) -> None:
    """The named values all differ: check_distinct(pad_id=1, bos_id=2, eos_id=3)."""
    if len(set(values.values())) < len(values):
        *names, last = values
        *got, got_last = map(str, values.values())
        raise ValueError(
            f"{', '.join(names)} and {last} must differ, got {', '.join(got)} and {got_last}"
        )


def check_encoded_pairs(name: str, examples: Sequence[Any]) -> None:
    """`examples` are (source ids, target ids) pairs as encode_pairs makes them."""
    check_nonempty(name, examples)
    for i, example in enumerate(examples):
        if len(example) != 2 or len(example[0]) == 0 or len(example[1]) < 2:
            raise ValueError(
                f"example {i} must be (source ids, target ids) with a non-empty source and "
                f"at least <bos> <eos> as target, got {example!r}; use encode_pairs"
            )


def check_source_batch(src: object) -> None:
    """`src` is a (B, S) LongTensor of source ids with B >= 1."""
    if not isinstance(src, torch.Tensor) or src.ndim != 2 or src.dtype != torch.long:
        raise TypeError(f"src must be a (B, S) LongTensor of source ids, got {_what(src)}")
    if src.size(0) == 0:
        raise ValueError("src holds no sentence (B = 0)")


def check_padded_right(name: str, ids: torch.Tensor, pad_id: int) -> None:
    """Every row of `ids` (B, S) holds a token, then only <pad> (pad_id) to its end."""
    mask = ids != pad_id  # (B, S)
    lengths = mask.sum(1)  # (B,)
    if bool((lengths == 0).any()):
        raise ValueError(
            f"{name} row {int((lengths == 0).nonzero()[0])} is all <pad> (id {pad_id}): "
            "every row needs a token (encode_pairs adds <eos>)"
        )
    if not torch.equal(mask, torch.arange(ids.size(1), device=ids.device) < lengths[:, None]):
        raise ValueError(f"{name} rows must be padded on the right only, with <pad> = {pad_id}")


def check_targets(tgt: torch.Tensor, bos_id: int) -> None:
    """`tgt` (B, T) holds <bos> ... <eos> rows: T >= 2, and every row starts with bos_id."""
    if tgt.size(1) < 2:
        raise ValueError(f"tgt must hold at least <bos> and <eos>, got shape {tuple(tgt.shape)}")
    if bool((tgt[:, 0] != bos_id).any()):
        raise ValueError(
            f"every target must start with <bos> (id {bos_id}), got first ids "
            f"{tgt[:, 0].tolist()[:8]}; encode targets with encode_pairs"
        )


def check_decodable(model: object) -> None:
    """`model` has config.bos_id and config.eos_id, as greedy and beam search need."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "bos_id") or not hasattr(config, "eos_id"):
        raise TypeError(
            f"model must have config.bos_id and config.eos_id, got {type(model).__name__} "
            "without them"
        )
