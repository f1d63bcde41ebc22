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


# --- chapter 5, attention: masks, queries, keys and values, heads ---------------------


def check_mask(mask: object, shape: Sequence[int], what: str) -> None:
    """`mask` is a bool tensor (True = may attend) that broadcasts to `shape`, `what`'s."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(
            "mask must be a bool tensor (True = may attend), got "
            + (f"{mask.dtype}" if isinstance(mask, torch.Tensor) else type(mask).__name__)
        )
    try:
        broadcast = torch.broadcast_shapes(mask.shape, shape)
    except RuntimeError:
        broadcast = None
    if broadcast != tuple(shape):
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to {what} {tuple(shape)}"
        )


def check_attention_inputs(
    q: object, k: object, v: object, mask: object = None, dropout_p: object = 0.0
) -> None:
    """q (…, T_q, d_k), k (…, T_k, d_k), v (…, T_k, d_v) fit together, and so does mask.

    The leading (batch, head) dims must broadcast; mask, if given, must broadcast to the
    scores (…, T_q, T_k); dropout_p lies in [0, 1).
    """
    for name, x in (("q", q), ("k", k), ("v", v)):
        if not isinstance(x, torch.Tensor) or x.ndim < 2:
            raise ValueError(f"{name} must be a tensor (…, T, d) with at least 2 dims")
    shapes = f"q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}"
    if q.size(-1) != k.size(-1):
        raise ValueError(f"q and k must share d_k (their last dim), got {shapes}")
    if k.size(-2) != v.size(-2):
        raise ValueError(f"k and v must share T_k (their second-last dim), got {shapes}")
    try:
        batch = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(f"the leading (batch, head) dims do not broadcast: {shapes}") from None
    check_number("dropout_p", dropout_p, low=0, high=1, high_open=True)
    if mask is not None:
        check_mask(mask, batch + (q.size(-2), k.size(-2)), "the scores (…, T_q, T_k)")


def check_mha_config(d_model: object, n_heads: object, dropout: object) -> None:
    """d_model and n_heads are ints >= 1, n_heads divides d_model, dropout is in [0, 1)."""
    check_int("d_model", d_model)
    check_int("n_heads", n_heads)
    if d_model % n_heads:
        divisors = [h for h in range(1, d_model + 1) if d_model % h == 0]
        raise ValueError(
            f"d_model={d_model} is not divisible by n_heads={n_heads}: each head gets "
            f"d_model / n_heads dimensions; n_heads may be one of {divisors[:12]}"
        )
    check_number("dropout", dropout, low=0, high=1, high_open=True)


def check_mha_inputs(
    attn: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: object = None,
    padding_mask: object = None,
) -> None:
    """query (B, T_q, d_model), key and value (B, T_k, d_model) fit `attn`; so do the masks.

    `attn` has d_model and n_heads (a MultiHeadAttention). mask broadcasts to
    (B, n_heads, T_q, T_k) (a 3-D mask is refused as ambiguous); padding_mask is a bool
    (B, T_k).
    """
    d_model, n_heads = attn.d_model, attn.n_heads
    shapes = f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}"
    for x in (query, key, value):
        if x.ndim != 3 or x.size(-1) != d_model:
            raise ValueError(
                f"query, key and value must be (B, T, d_model={d_model}), got {shapes}"
            )
    if not query.size(0) == key.size(0) == value.size(0):
        raise ValueError(f"query, key and value must share the batch size B, got {shapes}")
    if key.size(1) != value.size(1):
        raise ValueError(f"key and value must share T_k, got {shapes}")
    B, T_q, T_k = query.size(0), query.size(1), key.size(1)
    shape = torch.Size((B, n_heads, T_q, T_k))
    if mask is not None:
        if isinstance(mask, torch.Tensor) and mask.ndim == 3:
            raise ValueError(
                f"a 3-D mask {tuple(mask.shape)} is ambiguous: give (T_q, T_k) for every "
                "sequence alike or (B, 1, T_q, T_k) for one mask per sequence"
            )
        check_mask(mask, shape, "(B, n_heads, T_q, T_k)")
    if padding_mask is not None:
        if not isinstance(padding_mask, torch.Tensor) or padding_mask.shape != (B, T_k):
            raise ValueError(
                f"padding_mask must be (B, T_k) = {(B, T_k)}, got {_shape(padding_mask)}"
            )
        check_mask(padding_mask[:, None, None, :], shape, "(B, n_heads, T_q, T_k)")


def _shape(value: object) -> str:
    return f"{tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__


def check_ids_or_lengths(x: object, pad_id: object, max_len: object) -> None:
    """x is ids (B, T) with a pad_id, or lengths (B,) within [0, max_len]: padding_mask's."""
    if not isinstance(x, torch.Tensor) or x.dtype.is_floating_point or x.dtype == torch.bool:
        raise TypeError(
            "ids_or_lengths must be an integer tensor: ids (B, T) or lengths (B,), got "
            + (f"{x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__)
        )
    if x.ndim == 2:
        if pad_id is None or max_len is not None:
            raise ValueError(
                f"for ids of shape {tuple(x.shape)} give pad_id (and no max_len), "
                f"got pad_id={pad_id!r}, max_len={max_len!r}"
            )
    elif x.ndim == 1:
        if pad_id is not None:
            raise ValueError(f"lengths {tuple(x.shape)} take max_len, not pad_id={pad_id!r}")
        longest = int(x.max()) if x.numel() else 0
        if max_len is None:
            max_len = longest
        if bool((x < 0).any()) or longest > max_len:
            raise ValueError(f"lengths must lie in [0, max_len={max_len}], got {x.tolist()}")
    else:
        raise ValueError(
            f"ids_or_lengths must be ids (B, T) or lengths (B,), got shape {tuple(x.shape)}"
        )


def check_even_int(name: str, value: object, why: str) -> None:
    """`value` is an even int >= 2; `why` says what the pairs are."""
    if not is_int(value) or value < 2 or value % 2:
        raise ValueError(f"{name} must be an even int >= 2 ({why}), got {value!r}")


def check_additive_inputs(s: torch.Tensor, h: torch.Tensor) -> None:
    """One query s (B, d_query) per row of annotations h (B, S, d_key)."""
    if s.ndim != 2 or h.ndim != 3 or s.size(0) != h.size(0):
        raise ValueError(
            f"s must be (B, d_query) and h (B, S, d_key), got s {tuple(s.shape)}, "
            f"h {tuple(h.shape)}"
        )


def check_torch_mha(mha: object, d_model: int, n_heads: int, bias: bool) -> None:
    """mha is a torch.nn.MultiheadAttention laid out like lmbook's (d_model, n_heads, bias)."""
    check_type("mha", mha, nn.MultiheadAttention, "a torch.nn.MultiheadAttention")
    if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
        raise ValueError(
            "only an nn.MultiheadAttention with kdim = vdim = embed_dim, add_bias_kv=False "
            "and add_zero_attn=False has the same parameters"
        )
    theirs = (mha.embed_dim, mha.num_heads, mha.in_proj_bias is not None)
    if theirs != (d_model, n_heads, bias):
        raise ValueError(
            f"(d_model, n_heads, bias) differ: {(d_model, n_heads, bias)} here, {theirs} in "
            "the torch module"
        )


def check_corpus_pair(**corpora: Sequence[Any]) -> None:
    """Two corpora of alignments, named, hold one alignment per sentence each, and some."""
    (a, x), (b, y) = corpora.items()
    if len(x) != len(y):
        raise ValueError(f"{len(x)} sentences in {a} but {len(y)} in {b}: give one alignment each")
    if not x:
        raise ValueError("the corpus is empty: give at least one sentence")


def check_one_link_per_target(links: Collection[tuple[int, int]], where: str) -> None:
    """Each target token has at most one (source, target) link: an argmax alignment."""
    targets = [t for _, t in links]
    if len(targets) != len(set(targets)):
        t = next(t for t in targets if targets.count(t) > 1)
        raise ValueError(
            f"{where} links target token {t} to {sorted(j for j, u in links if u == t)}: "
            "accuracy needs at most one source per target token; use alignment_error_rate "
            "for many-to-many alignments"
        )


def check_nonzero(value: object, message: str) -> None:
    """Raise ValueError(message) when value is 0 (or False): a count that must not be."""
    if not value:
        raise ValueError(message)
