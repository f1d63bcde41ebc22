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


# --- chapter 7: labelings, class orders, padded passages and class ids ----------------


def check_labelings(**labelings: Sequence[Any]) -> None:
    """Each named labeling is a 1-D sequence of labels; all have one length, not 0.

    >>> check_labelings(y_true=["a", "b", "c"], y_pred=["a", "b"])
    Traceback (most recent call last):
    ValueError: 3 labels in y_true but 2 in y_pred: give one each
    """
    for name, ys in labelings.items():
        if isinstance(ys, (str, bytes)):
            raise TypeError(f"{name} must be a sequence of labels, got a {type(ys).__name__}")
        if getattr(ys, "ndim", 1) != 1:
            raise ValueError(f"{name} must be 1-D, got shape {ys.shape}")
    (first, n), *others = ((name, len(ys)) for name, ys in labelings.items())
    for name, m in others:
        if m != n:
            raise ValueError(f"{n} labels in {first} but {m} in {name}: give one each")
    if n == 0:
        raise ValueError(f"{' and '.join(labelings)} are empty: give at least one example")


def check_class_order(labels: Sequence[Any] | None, seen: Collection[Any]) -> None:
    """`labels` names each class once and every class `seen`; None needs sortable classes.

    >>> check_class_order(["a", "b"], {"a", "c"})
    Traceback (most recent call last):
    ValueError: classes 'c' occur but are not in labels ['a', 'b']
    """
    if labels is None:
        try:
            sorted(seen)
        except TypeError:
            raise TypeError(
                f"cannot sort the classes {set(seen)!r} to order them; pass labels=[...]"
            ) from None
        return
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"labels must be a sequence of classes, got a {type(labels).__name__}")
    order = [y.item() if hasattr(y, "item") else y for y in labels]
    if not order:
        raise ValueError("labels is empty: give the classes in the order you want them")
    if len(set(order)) != len(order):
        raise ValueError(f"labels holds a class twice: {order!r}")
    missing = set(seen) - set(order)
    if missing:
        raise ValueError(
            f"classes {', '.join(sorted(map(repr, missing)))} occur but are not in labels {order!r}"
        )


def check_passages(texts: object) -> None:
    """`texts` is a non-empty sequence (not one str) of non-empty strs."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of passages, got a str; wrap it: [text]")
    if len(texts) == 0:
        raise ValueError("texts is empty: give at least one passage")
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text:
            raise ValueError(f"passage {i} must be a non-empty str, got {text!r}")


def check_padded_ids(name: str, ids: object, pad_id: int, shape: str = "(B, T)") -> None:
    """`ids` is a LongTensor `shape` of passages, each at least one id, padded at its end.

    Padding is `pad_id` after a passage's last id, never before one.
    """
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2 or ids.dtype != torch.long:
        raise TypeError(
            f"{name} must be a {shape} LongTensor, as encode_passages returns, got {_what(ids)}"
        )
    real = ids != pad_id  # (N, T)
    if bool((real.sum(dim=1) == 0).any()):
        raise ValueError(f"a passage in {name} has no characters: every row needs at least one")
    if bool((real[:, 1:] & ~real[:, :-1]).any()):
        raise ValueError(
            f"padding must come after a passage's characters: a pad id ({pad_id}) "
            "is followed by a character"
        )


def check_class_ids(name: str, value: object, n: int, dim: str = "N") -> None:
    """`value` is an integer tensor of shape (n,): one class id per example."""
    ok = isinstance(value, torch.Tensor) and value.shape == (n,)
    if not ok or value.is_floating_point() or value.is_complex():
        raise ValueError(f"{name} must be ({dim},) = ({n},) class ids, got {_what(value)}")


def check_class_weights(weights: object, n_classes: int) -> None:
    """`weights` is None, or n_classes numbers > 0, one per class (NaN is not > 0)."""
    if weights is None:
        return
    weights = torch.as_tensor(weights, dtype=torch.float)
    if weights.shape != (n_classes,) or not bool((weights > 0).all()):
        raise ValueError(
            f"class_weights must be {n_classes} numbers > 0, one per class, got {weights.tolist()}"
        )
