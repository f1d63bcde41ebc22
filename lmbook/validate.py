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


# --- chapter 6 (transformers): model sizes, token sequences, sampling, schedules --------


def check_head_split(width_name: str, width: int, heads_name: str, heads: int) -> None:
    """`width` splits into `heads` equal heads (n_embd into n_head).

    >>> check_head_split("n_embd", 10, "n_head", 4)
    Traceback (most recent call last):
    ValueError: n_embd=10 is not divisible by n_head=4: each head gets n_embd / n_head dimensions; n_head may be one of [1, 2, 5, 10]
    """  # noqa: E501
    if width % heads:
        divisors = [h for h in range(1, width + 1) if width % h == 0]
        raise ValueError(
            f"{width_name}={width} is not divisible by {heads_name}={heads}: each head gets "
            f"{width_name} / {heads_name} dimensions; {heads_name} may be one of "
            f"{divisors[:12]}"
        )


def check_even(name: str, value: int, why: str) -> None:
    """`value` is even; `why` says what needs it ('sine–cosine pairs')."""
    if value % 2:
        raise ValueError(f"{why}: {name} must be even, got {value}")


def check_same_shape(name: str, value: object, like_name: str, like: torch.Tensor) -> None:
    """`value` is a tensor of `like`'s shape (targets and the ids they follow)."""
    if not isinstance(value, torch.Tensor) or value.shape != like.shape:
        raise ValueError(
            f"{name} must have the shape of {like_name}, {tuple(like.shape)}, got {_what(value)}"
        )


def check_token_sequence(name: str, ids: object, at_least: int = 1, why: str = "") -> None:
    """`ids` is one sequence of token ids (1-D: a list or a tensor of ints), long enough.

    `why` ends the message about the length ('to score a prediction').
    """
    if isinstance(ids, str):
        raise TypeError(f"{name} must be token ids, got a str; encode it with a Vocab first")
    t = torch.as_tensor(ids)
    ints = not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)
    if t.ndim != 1 or (t.numel() > 0 and not ints):  # [] is a float tensor: only too short
        raise TypeError(f"{name} must be a 1-D tensor of ints (or a list), got {_what(t)}")
    if len(t) < at_least:
        raise ValueError(
            f"{name} is too short ({len(t)} ids): at least {at_least} ids are needed {why}".rstrip()
        )


def check_prompt(idx: object, block_size: int) -> None:
    """`idx` is a prompt of 1 … block_size token ids, (T,) or (1, T)."""
    if isinstance(idx, str):
        raise TypeError("idx must be token ids, got a str; encode it with a Vocab first")
    t = torch.as_tensor(idx)
    t = t[0] if t.ndim == 2 and t.size(0) == 1 else t
    if t.numel() == 0:
        raise ValueError("the prompt is empty: give at least one id to start from")
    if t.ndim != 1 or t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"idx must be prompt ids, 1-D (T,) or (1, T) ints, got {_what(t)}")
    if len(t) > block_size:
        raise ValueError(
            f"the prompt has {len(t)} ids, more than block_size = {block_size}; give only "
            f"its last {block_size}"
        )


def check_temperature(temperature: object) -> None:
    """A sampling temperature: a finite number > 0 (greedy decoding is top_k=1)."""
    if not (is_number(temperature) and 0 < float(_scalar(temperature)) < math.inf):
        zero = is_number(temperature) and float(_scalar(temperature)) == 0
        hint = "; for greedy decoding use top_k=1" if zero else ""
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}{hint}")


def check_logits(logits: object) -> None:
    """`logits` is a floating-point tensor (…, V) with V >= 1."""
    if not isinstance(logits, torch.Tensor) or logits.ndim < 1 or logits.size(-1) < 1:
        got = f"shape {tuple(logits.shape)}" if isinstance(logits, torch.Tensor) else _what(logits)
        raise ValueError(f"logits must be a float tensor (…, V) with V >= 1, got {got}")
    if not logits.dtype.is_floating_point:
        raise TypeError(f"logits must be a float tensor, got {logits.dtype}")


def check_schedule(warmup_steps: object, total_steps: object, min_ratio: object) -> None:
    """A warm-up + decay schedule: 0 <= warmup_steps < total_steps, min_ratio in [0, 1]."""
    check_int("warmup_steps", warmup_steps, low=0)
    if not is_int(total_steps) or total_steps <= warmup_steps:
        raise ValueError(
            f"total_steps must be an int > warmup_steps ({warmup_steps}), got {total_steps!r}"
        )
    check_number("min_ratio", min_ratio, low=0, high=1)


def check_needed(flag_name: str, flag: object, name: str, value: object) -> None:
    """`value` is given (not None) when `flag` is set (neither None nor False).

    >>> check_needed("resume", True, "checkpoint", None)
    Traceback (most recent call last):
    ValueError: resume=True but checkpoint is None: give checkpoint too
    """
    if flag is not None and flag is not False and value is None:
        raise ValueError(f"{flag_name}={flag!r} but {name} is None: give {name} too")
