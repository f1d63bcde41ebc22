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
import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
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
    why: str = "",
) -> None:
    """`value` is an int in [low, high] (either bound may be None), or None if allowed.

    `why` explains a bound that comes from other arguments; the message ends with it.

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
        raise ValueError(f"{name} must be {allowed}, got {value!r}" + (f": {why}" if why else ""))


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
    idx: object,
    vocab_size: int,
    block_size: int | None = None,
    start_pos: int = 0,
    name: str = "idx",
    read_ids: bool = True,
) -> None:
    """`idx` is a (B, T) LongTensor of ids in [0, vocab_size) that fits the context.

    `start_pos` ids are already cached, so start_pos + T must not exceed block_size.
    The range check reads the ids: on a GPU it waits for them (one sync, not two);
    read_ids=False skips it. `name` is the argument's name in the messages (`src`).
    """
    if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.dtype != torch.long:
        raise TypeError(f"{name} must be a (B, T) LongTensor of token ids, got {_what(idx)}")
    if idx.numel() == 0:
        raise ValueError(f"{name} holds no tokens: shape {tuple(idx.shape)}")
    T = idx.size(1)
    if block_size is not None and start_pos + T > block_size:
        where = f"{start_pos} cached + {T} new = {start_pos + T}" if start_pos else f"{T}"
        raise ValueError(
            f"sequence length T = {where} exceeds block_size = {block_size}, the longest "
            "context this model has positions for; crop the input to its last block_size ids"
        )
    if not read_ids:
        return
    low, high = torch.stack(torch.aminmax(idx)).tolist()
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"{name} holds ids from {low} to {high}; this model knows ids 0 … {vocab_size - 1}"
        )


# --- chapter 1: token ids, tokens and vocabularies, n-gram models ---


def check_ids(name: str, ids: object, vocab_size: int) -> None:
    """`ids` is a 1-D sequence of int token ids in [0, vocab_size) (possibly empty)."""
    import numpy as np  # here, not at the top: this section is chapter 1's alone

    if isinstance(ids, str):
        raise TypeError(f"{name} must be token ids, got a str; encode it with a Vocab first")
    arr = np.asarray(ids)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a 1-D sequence of ints, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(
            f"{name} must lie in [0, {vocab_size}); got values from {arr.min()} to {arr.max()}"
        )


def check_min_length(name: str, value: Sequence[Any], low: int, what: str) -> None:
    """`value` holds at least `low` items; `what` says them in words ('n=3 tokens')."""
    if len(value) < low:
        raise ValueError(f"{name} must hold at least {what}, got {len(value)}")


def check_positive(name: str, value: object, why: str = "") -> None:
    """`value` is a finite number > 0; `why` says what 0 would break."""
    ok = is_number(value) and math.isfinite(float(_scalar(value))) and _scalar(value) > 0
    if not ok:
        raise ValueError(f"{name} must be > 0" + (f" ({why})" if why else "") + f", got {value!r}")


def check_fitted(model: object, fitted: bool) -> None:
    """`model` has been fitted (`fitted` says whether it has)."""
    if not fitted:
        name = type(model).__name__
        raise RuntimeError(f"this {name} is not fitted yet; call fit(ids) first")


def check_ngram_keys_fit(n: int, vocab_size: int) -> None:
    """Every n-gram of ids below vocab_size has a 64-bit key: vocab_size**n - 1 < 2**63."""
    if vocab_size**n > 2**63 - 1:  # the largest key is vocab_size**n - 1
        raise ValueError(
            f"vocab_size**n = {vocab_size}**{n} is too large for 64-bit n-gram keys; "
            "use a smaller n or a smaller vocabulary"
        )


def check_tokens(name: str, tokens: object) -> None:
    """`tokens` is a sequence of tokens, not a str (a str must be tokenized first)."""
    if isinstance(tokens, str):
        raise TypeError(
            f"{name} must be a sequence of tokens, got a str ({tokens[:30]!r}); tokenize "
            "it first, e.g. char_tokenize(text) or sentence.split()"
        )


def check_str_items(name: str, items: Collection[Any]) -> None:
    """Every item of `items` (a collection of distinct tokens) is a str."""
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} must be str, got {type(item).__name__} {item!r}")


def check_unique(name: str, values: Sequence[Any]) -> None:
    """No value occurs twice in `values`."""
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must be distinct, got {list(values)}")


def check_min_freq(min_freq: object, counts: dict[Any, int]) -> None:
    """`min_freq` is an int >= 1 that the most frequent token's count reaches."""
    check_int("min_freq", min_freq)
    most = max(counts.values(), default=0)
    if most < min_freq:
        raise ValueError(
            f"no token occurs at least min_freq={min_freq} times; the most frequent "
            f"occurs {most} times"
        )


def check_vocab_ids(ids: Sequence[object], size: int) -> None:
    """Every id is an int (NumPy and 0-d tensor ints included) in [0, size)."""
    for i in ids:
        if not is_int(i):
            raise TypeError(f"ids must be integers, got {type(i).__name__} {i!r}")
        if not 0 <= int(_scalar(i)) < size:
            raise ValueError(f"id {int(_scalar(i))} is out of range for a Vocab of size {size}")


def check_known_tokens(tokens: Sequence[str], stoi: dict[str, int]) -> None:
    """Every token is in `stoi`: for a Vocab without `<unk>`, which cannot map the rest."""
    for token in tokens:
        if token not in stoi:
            raise ValueError(
                f"unknown token {token!r} and this Vocab has no <unk>; "
                "build it with unk='<unk>' or add the token to the corpus"
            )


# --- chapter 3: recurrent networks (token-id sequences, tensor shapes, carried states) ---


def check_text_ids(
    name: str,
    ids: object,
    vocab_size: int | None = None,
    min_length: int = 0,
    purpose: str = "",
) -> None:
    """`ids` is a 1-D sequence of token ids (a list or a tensor of ints), in [0, vocab_size).

    At least `min_length` of them; `purpose` says what for, in the message ('to start from').
    """
    if isinstance(ids, str):
        raise TypeError(f"{name} must be token ids, got a str; encode it with a Vocab first")
    t = torch.as_tensor(ids)
    if t.numel() == 0:
        t = t.long()  # [] becomes a float tensor
    if t.ndim != 1 or t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
        raise TypeError(f"{name} must be a 1-D sequence of ints, got {t.dtype} {tuple(t.shape)}")
    if len(t) < min_length:
        said = f"{name} holds {len(t)} id{'s' * (len(t) != 1)}, too few"
        wanted = f"at least {min_length} id{'s' * (min_length != 1)}"
        raise ValueError(f"{said}{f' {purpose}' if purpose else ''}: {wanted}")
    if vocab_size is not None and len(t):
        low, high = int(t.min()), int(t.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(
                f"{name} holds ids from {low} to {high}; this model knows ids 0 … {vocab_size - 1}"
            )


def check_ndim(name: str, value: object, ndim: int, shape: str, what: str = "a tensor") -> None:
    """`value` is a tensor with `ndim` dimensions; `shape` names them ('(B, T)')."""
    check_type(name, value, torch.Tensor, f"{what} of shape {shape}")
    if value.ndim != ndim:
        raise ValueError(f"{name} must be {what} of shape {shape}, got {tuple(value.shape)}")


def check_target_shape(targets: torch.Tensor, shape: Sequence[int]) -> None:
    """`targets` (B, T) has `shape`, the shape of the inputs they are the targets of."""
    if tuple(targets.shape) != tuple(shape):
        raise ValueError(
            f"targets must have the shape of inputs, {tuple(shape)}, got {tuple(targets.shape)}"
        )


def check_carried_state(state: object, batch_size: int) -> None:
    """`state`, carried between calls, is for `batch_size` streams, or None (none yet).

    A state is h, or the LSTM's pair (h, c), each of shape (layers, B, H).
    """
    if state is None:
        return
    h = state[0] if isinstance(state, tuple) else state
    if h.shape[1] != batch_size:
        raise ValueError(
            f"the carried state is for {h.shape[1]} streams but inputs have {batch_size} "
            "rows; call reset() before reading new streams"
        )


# --- chapter 6, the transformer translator: sizes, vocabularies, sources, targets ---


def check_divisible(
    name: str, value: int, divisor: int, divisor_name: str = "", why: str = ""
) -> None:
    """`value` is a multiple of `divisor` (named `divisor_name`, if it is an argument).

    >>> check_divisible("d_model", 16, 3, "n_heads")
    Traceback (most recent call last):
    ValueError: d_model=16 is not divisible by n_heads=3
    """
    if value % divisor:
        said = (
            f"{name}={value} is not divisible by {divisor_name}={divisor}"
            if divisor_name
            else f"{name} must be a multiple of {divisor}, got {value!r}"
        )
        raise ValueError(said + (f": {why}" if why else ""))


def check_index(name: str, value: object, size: int, size_name: str) -> None:
    """`value` is an int in [0, size), a valid index into something of `size_name`.

    >>> check_index("bos_id", 11, 11, "tgt_vocab_size")
    Traceback (most recent call last):
    ValueError: bos_id must be an int in [0, tgt_vocab_size=11), got 11
    """
    if not is_int(value) or not 0 <= int(_scalar(value)) < size:
        raise ValueError(f"{name} must be an int in [0, {size_name}={size}), got {value!r}")


def check_distinct(**values: object) -> None:
    """The named values all differ: check_distinct(pad_id=1, bos_id=2, eos_id=3)."""
    if len(set(values.values())) < len(values):
        names = list(values)
        said = [str(v) for v in values.values()]
        raise ValueError(
            f"{', '.join(names[:-1])} and {names[-1]} must differ, got "
            f"{', '.join(said[:-1])} and {said[-1]}"
        )


def check_vocab_tokens(name: str, vocab: object, tokens: Sequence[str]) -> None:
    """`vocab` is an lmbook.text.Vocab that holds every one of `tokens` (<pad>, <bos>, …)."""
    from lmbook.text import Vocab  # here, not at the top: text may use these checks

    check_type(name, vocab, Vocab, "an lmbook.text.Vocab")
    missing = [t for t in tokens if t not in vocab]
    if missing:
        raise ValueError(
            f"{name} lacks the special tokens {missing}; build it with lmbook.seq2seq.build_vocab"
        )


def check_positions(what: str, length: int, max_len: int) -> None:
    """A sequence of `length` positions fits a model whose positions cover max_len."""
    if length > max_len:
        raise ValueError(
            f"the {what} has {length} positions but config.max_len={max_len}; "
            "build the model with a larger max_len"
        )


def check_source_ids(src: object, pad_id: int, max_len: int | None = None) -> None:
    """`src` is a (B, S) LongTensor of source ids, each row a sentence padded on the right.

    Every row holds at least one token that is not <pad> (`pad_id`): left padding would
    shift a sentence's positions, and so change its numbers.
    """
    if not isinstance(src, torch.Tensor) or src.ndim != 2 or src.dtype != torch.long:
        raise TypeError(f"src must be a (B, S) LongTensor of source ids, got {_what(src)}")
    check_padded_right("source", src, pad_id)  # chapter 4's check, defined below
    if max_len is not None:
        check_positions("source", src.size(1), max_len)


def check_target_batch(tgt: object, n_sources: int, bos_id: int) -> None:
    """`tgt` is (B, T) with T >= 2, one row per source, every row starting with <bos>."""
    if not isinstance(tgt, torch.Tensor) or tgt.ndim != 2 or tgt.size(1) < 2:
        shape = f"shape {tuple(tgt.shape)}" if isinstance(tgt, torch.Tensor) else _what(tgt)
        raise ValueError(f"tgt must be (B, T) with T >= 2: at least <bos> and <eos>, got {shape}")
    if tgt.size(0) != n_sources:
        raise ValueError(
            f"src and tgt must hold the same number of sentences, got {n_sources} and {tgt.size(0)}"
        )
    if bool((tgt[:, 0] != bos_id).any()):
        raise ValueError(
            f"every target must start with <bos> (id {bos_id}), got first ids "
            f"{tgt[:, 0].tolist()[:8]}; encode targets with encode_pairs"
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


# --- files and processes (chapter 9: data parallelism) ---


def check_path(name: str, value: object) -> None:
    """`value` is a str or a path-like object."""
    check_type(name, value, (str, os.PathLike), "a str or a Path")


def check_file(name: str, value: object) -> None:
    """`value` is the path of an existing file."""
    check_path(name, value)
    if not Path(value).is_file():
        raise ValueError(f"{name} {str(value)!r} is not a file")


def check_str_sequence(name: str, value: object) -> None:
    """`value` is a list or tuple of str (not a str itself)."""
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise TypeError(f"{name} must be a sequence of str, got {value!r}")


TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


def check_torchrun_env(env: Any) -> None:
    """RANK, LOCAL_RANK and WORLD_SIZE are set, integers, and consistent."""
    missing = [key for key in TORCHRUN_VARIABLES if key not in env]
    if missing:
        raise ValueError(
            f"{', '.join(missing)} not set: start the script with torchrun (python -m "
            "torch.distributed.run --nproc_per_node N script.py), or lmbook's launch()"
        )
    for key in TORCHRUN_VARIABLES:
        if not env[key].strip().lstrip("-").isdigit():
            raise ValueError(f"{key} must be an integer, got {env[key]!r}")
    rank, local_rank, world = (int(env[key]) for key in TORCHRUN_VARIABLES)
    if world < 1:
        raise ValueError(f"WORLD_SIZE must be >= 1, got {world}")
    if not 0 <= rank < world:
        raise ValueError(f"RANK must be in 0 … {world - 1} (WORLD_SIZE - 1), got {rank}")
    if not 0 <= local_rank <= rank:
        raise ValueError(f"LOCAL_RANK must be in 0 … RANK ({rank}), got {local_rank}")


def check_gpu_for_rank(local_rank: int) -> None:
    """This machine has a CUDA GPU numbered local_rank (one GPU per rank)."""
    count = torch.cuda.device_count()
    if local_rank >= count:
        raise ValueError(
            f"LOCAL_RANK {local_rank} has no GPU: this machine has {count}; "
            "start at most that many processes per node"
        )


def check_process_group() -> None:
    """A process group has been joined (lmbook.distributed.setup under torchrun)."""
    if not dist.is_initialized():
        raise ValueError("no process group: call setup() (under torchrun) first")


# --- chapter 4: encoder–decoder (tokenised sentences, vocabularies, id batches) --------


def check_token_lists(name: str, value: object) -> None:
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
    check_token_lists("hypotheses", hypotheses)
    check_token_lists("references", references)
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


# --- chapter 10: language models as analysis tools ---


def check_scorable_ids(name: str, ids: object) -> None:
    """`ids` is a 1-D sequence of at least 2 int token ids: one to read, one to predict."""
    if isinstance(ids, str):
        raise TypeError(f"{name} must be token ids, got a str; encode it with a Vocab first")
    t = torch.as_tensor(ids)
    if t.ndim != 1 or t.dtype.is_floating_point or t.dtype == torch.bool:
        raise TypeError(f"{name} must be a 1-D sequence of ints, got {_what(t)}")
    if len(t) < 2:
        raise ValueError(f"need at least 2 {name} to score a prediction, got {len(t)}")


def check_list_not_one(name: str, value: object, one: type | tuple[type, ...], what: str) -> None:
    """`value` is a list of items, not one item (of `types`, `what` in words: 'path')."""
    if isinstance(value, one):
        raise TypeError(f"{name} must be a list, got one {what}: wrap it in a list")


def check_text_lines(name: str, lines: object) -> None:
    """`lines` is a sequence of str, one line each (not one str)."""
    check_list_not_one(name, lines, str, "str")
    for line in lines:
        if not isinstance(line, str):
            raise TypeError(f"{name} must hold str, one line each, got {_what(line)} {line!r}")


def check_subset(name: str, values: object, allowed: Sequence[Any]) -> None:
    """`values` is a non-empty list (not a str) whose items are all in `allowed`."""
    bad = isinstance(values, str) or not values or any(v not in allowed for v in values)
    if bad:
        raise ValueError(f"{name} must be a non-empty list of {tuple(allowed)}, got {values!r}")


def check_shape(name: str, value: torch.Tensor, shape: tuple[int, ...], what: str) -> None:
    """`value` has exactly `shape`; `what` names its dimensions ('(k, d)')."""
    if tuple(value.shape) != tuple(shape):
        raise ValueError(
            f"{name} must have shape {what} = {tuple(shape)}, got {tuple(value.shape)}"
        )


def check_lines_scored(lines: Sequence[Any], n_scored: int) -> None:
    """Every line (`.text`, `.start`), with its closing newline, lies within n_scored values."""
    for line in lines:
        end = line.start + len(line.text) + 1
        if end > n_scored:
            raise ValueError(
                f"line {line.text!r} ends at character {end}, past the {n_scored} scored ones"
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


# --- chapter 8 (small and fast): models to measure, prune, quantize and distil ---


def check_generates(name: str, model: object) -> None:
    """`model` has a `generate` method (the book's generation contract)."""
    if not callable(getattr(model, "generate", None)):
        raise TypeError(f"{name} must have a generate method, got {type(model).__name__}")


def check_on_cpu(name: str, model: nn.Module, why: str = "") -> None:
    """Every parameter of `model` is on the CPU; `why` says what needs it there."""
    devices = {p.device.type for p in model.parameters()}
    if devices - {"cpu"}:
        raise ValueError(
            (f"{why}; " if why else "")
            + f"{name} is on {sorted(devices)}: move it with {name}.cpu() first"
        )


def check_prunable(model: nn.Module, layers: Sequence[nn.Module]) -> None:
    """`layers`, the Linear layers of `model` that pruning may touch, are not empty."""
    if not layers:
        raise ValueError(f"{type(model).__name__} has no Linear layers (other than tied ones)")


def check_distillation_inputs(
    student_logits: object, teacher_logits: object, targets: object
) -> None:
    """Student and teacher logits are tensors of one shape (..., V); targets are (...)."""
    if not isinstance(student_logits, torch.Tensor) or not isinstance(teacher_logits, torch.Tensor):
        raise TypeError("student_logits and teacher_logits must be tensors (..., V)")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student and teacher logits must have one shape, got {tuple(student_logits.shape)} "
            f"and {tuple(teacher_logits.shape)} (the same vocabulary, the same positions)"
        )
    if not isinstance(targets, torch.Tensor) or targets.shape != student_logits.shape[:-1]:
        got = tuple(targets.shape) if isinstance(targets, torch.Tensor) else repr(targets)
        raise ValueError(
            f"targets must have shape {tuple(student_logits.shape[:-1])} (the logits' "
            f"without V), got {got}"
        )


def check_two_models(student: nn.Module, teacher: nn.Module) -> None:
    """Student and teacher are two models: freezing the teacher must not freeze the student."""
    if student is teacher:
        raise ValueError("student and teacher are one model: the teacher would be frozen")


# --- data: downloads for "going further" ---------------------------------------------


def check_sha256(name: str, value: object) -> None:
    """`value` is a SHA-256 digest written as 64 hexadecimal characters."""
    check_type(name, value, str, "a str of 64 hexadecimal characters")
    if len(value) != 64 or not set(value) <= set("0123456789abcdefABCDEF"):
        raise ValueError(
            f"{name} must be a SHA-256 digest, 64 hexadecimal characters, got {value!r} "
            f"({len(value)} characters)"
        )


def check_url(name: str, value: object, schemes: tuple[str, ...] = ("http", "https")) -> None:
    """`value` is a URL with one of `schemes` and a file name at the end of its path."""
    check_type(name, value, str, "a str")
    scheme, _, rest = value.partition("://")
    if scheme not in schemes or not rest.strip("/"):
        raise ValueError(f"{name} must be a URL starting {' or '.join(schemes)}://, got {value!r}")


# --- issue 15: no silent wrong answers (NaN inputs, model outputs, caches, devices) ------


def check_finite_array(name: str, values: object) -> None:
    """Every entry of an array (NumPy, a list of rows) is finite: no NaN, no infinity.

    >>> check_finite_array("weights", [[0.5, float("nan")]])
    Traceback (most recent call last):
    ValueError: weights holds NaN or infinite values; only finite values are allowed
    """
    import numpy as np  # here, not at the top: only this check needs it

    if not np.isfinite(np.asarray(values, dtype=float)).all():
        raise ValueError(f"{name} holds NaN or infinite values; only finite values are allowed")


def check_not_nan(name: str, value: torch.Tensor) -> None:
    """A model's output tensor holds no NaN (-inf is allowed: a masked logit).

    >>> check_not_nan("logits", torch.tensor([0.0, float("nan")]))
    Traceback (most recent call last):
    ValueError: logits hold NaN: the model's outputs are NaN (did training diverge?)
    """
    if value.dtype.is_floating_point and bool(torch.isnan(value).any()):
        raise ValueError(f"{name} hold NaN: the model's outputs are NaN (did training diverge?)")


def check_model_output(output: object) -> None:
    """`output`, what model(*batch) returned, is (logits, loss) with a scalar tensor loss."""
    loss = output[1] if isinstance(output, (tuple, list)) and len(output) == 2 else None
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        got = (
            _what(output)
            if not isinstance(output, (tuple, list))
            else (
                f"a {type(output).__name__} of {len(output)}"
                + (f" whose loss is {_what(loss)}" if len(output) == 2 else "")
            )
        )
        raise ValueError(f"model(*batch) must return (logits, loss) with a scalar loss, got {got}")


def check_device(name: str, value: object) -> None:
    """`value` is a torch.device or a name torch reads as one ('cpu', 'cuda:0', 'mps')."""
    try:
        torch.device(value)  # type: ignore[arg-type]
    except (RuntimeError, TypeError):
        raise ValueError(
            f"{name} must be a torch device such as 'cpu' or 'cuda', got {value!r}"
        ) from None


def check_device_available(name: str, value: object) -> None:
    """`value` names a device that exists on this machine (lmbook.device() picks one)."""
    check_device(name, value)
    device = torch.device(value)  # type: ignore[arg-type]
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }.get(device.type, True)
    if not available:
        raise ValueError(
            f"{name}={value!r} but this machine has no {device.type.upper()} device; "
            "use device=lmbook.device(), which picks the best one available"
        )


def check_step(
    idx: object,
    caches: Sequence[Any] | None,
    blocks: Sequence[Any],
    config: Any,
    read_ids: bool = True,
) -> None:
    """GPT.step's inputs: one Cache per block, for idx's batch, and ids (B, T) in range
    that fit config.block_size after the cached positions.

    read_ids=False skips the range check, the one that reads the ids (on a GPU, a wait
    for the device): for ids a model drew itself, in range by construction.
    """
    start = 0
    if caches is not None:
        check_same_length(caches=caches, blocks=blocks)
        for cache in caches:
            if not hasattr(cache, "length"):
                raise TypeError(
                    "caches must be the Caches a previous step returned (or None), got "
                    f"a list holding {_what(cache)}"
                )
        start = caches[0].length  # T_past
    check_token_ids(idx, config.vocab_size, config.block_size, start, read_ids=read_ids)
    if start:
        check_cache_batch(caches, idx.size(0))


def check_cache_batch(caches: Sequence[Any] | None, batch_size: int) -> None:
    """Each layer's cached (k, v), (B, n_head, T_past, d_k), is for `batch_size` rows."""
    if caches is None:
        return
    cached = caches[0][0].size(0)
    if cached != batch_size:
        raise ValueError(
            f"caches hold {cached} sequences but idx has {batch_size} rows: pass the caches "
            "the previous step returned for this batch (or None to start again)"
        )


# --- chapter 7 rebuild: standardised heads, masked language models, Hugging Face ---------


def check_features(name: str, x: object, n_features: int) -> None:
    """`x` is a finite floating (N, C) tensor of N >= 2 examples of C = n_features.

    >>> check_features("x", torch.zeros(1, 3), 3)
    Traceback (most recent call last):
    ValueError: x holds 1 example: a mean and a standard deviation need at least 2
    """
    check_tensor(name, x, ndim=2, integer=False, shape="(N, C)")
    if x.size(1) != n_features:
        raise ValueError(f"{name} must have {n_features} features (C), got {x.size(1)}")
    if len(x) < 2:
        raise ValueError(
            f"{name} holds {len(x)} example: a mean and a standard deviation need at least 2"
        )
    check_finite(name, x)


def check_mask_id(mask_id: object, vocab_size: object) -> None:
    """`mask_id` is an int outside the `vocab_size` ordinary ids [0, vocab_size).

    Random replacements are drawn from the ordinary ids, so the [MASK] id is an extra
    one: for a Vocab of V tokens, mask_id=V and a model of vocab_size V + 1.

    >>> check_mask_id(3, vocab_size=10)
    Traceback (most recent call last):
    ValueError: mask_id=3 is one of the 10 ordinary ids 0 … 9; the [MASK] id must be \
another, such as 10 (a model with vocab_size 11 knows it)
    """
    check_int("vocab_size", vocab_size)
    check_int("mask_id", mask_id, low=0)
    if mask_id < vocab_size:
        raise ValueError(
            f"mask_id={mask_id} is one of the {vocab_size} ordinary ids 0 … {vocab_size - 1}; "
            f"the [MASK] id must be another, such as {vocab_size} "
            f"(a model with vocab_size {vocab_size + 1} knows it)"
        )


def check_masking_split(split: object) -> None:
    """`split` is 3 shares >= 0 summing to 1: masked, random, unchanged (BERT: .8 .1 .1)."""
    shares = list(split) if isinstance(split, (list, tuple)) else None
    if shares is None or len(shares) != 3 or not all(is_number(s) for s in shares):
        raise TypeError(f"split must be 3 numbers (masked, random, unchanged), got {split!r}")
    if min(shares) < 0 or not math.isclose(sum(shares), 1.0):
        raise ValueError(f"split must be 3 shares >= 0 that sum to 1, got {split!r}")


def check_not_type(name: str, value: object, types: type | tuple[type, ...], why: str) -> None:
    """`value` is not an instance of `types`; `why` says why it may not be."""
    if isinstance(value, types):
        raise TypeError(f"{name} must not be of type {type(value).__name__}: {why}")


def check_pad_id_unused(ids: torch.Tensor, pad_id: int, pad_token_id: object) -> None:
    """No passage in ids (N, T), padded with pad_id, holds the id pad_token_id.

    GPT-2's classifier pools each row's last token that is not its pad token, which
    must then be the passage's last character.
    """
    check_int("pad_token_id", pad_token_id, low=0)
    used = (ids == pad_token_id) & (ids != pad_id)  # (N, T)
    if bool(used.any()):
        rows = used.any(dim=1).nonzero().flatten().tolist()
        raise ValueError(
            f"pad_token_id={pad_token_id} occurs in {len(rows)} passage(s) (rows "
            f"{', '.join(map(str, rows[:5]))}{', …' if len(rows) > 5 else ''}): GPT-2 "
            "would pool the wrong token; pick an id no passage holds"
        )


# --- issue 18: word2vec with noise words shared by groups of pairs ----------------------


def check_shared_negatives(center: Any, negatives: Any) -> None:
    """negatives is (n, K), and the B centers split into n groups of equal size."""
    if negatives.dim() != 2 or negatives.size(0) == 0 or len(center) % negatives.size(0):
        raise ValueError(
            f"negatives must be (n, K) with the {len(center)} pairs in n groups of equal "
            f"size (n divides {len(center)}), got shape {tuple(negatives.shape)}"
        )


def check_multiple(name: str, value: int, of_name: str, of: int) -> None:
    """`value` is a whole multiple of `of` (both ints >= 1, checked before)."""
    if value % of:
        raise ValueError(f"{name}={value} must be a multiple of {of_name}={of}")


# --- issue 18: the translator's decoding states (fast_step writes in place) ------------


def check_step_owner(state: dict, step: str) -> None:
    """`state` is one that the decoding step `step` ("cached_step" or "fast_step") can
    continue: fast_step's states hold "read" (the ids read) and buffers with spare
    room, cached_step's hold a cache of exactly the positions read and no "read"."""
    if step not in ("cached_step", "fast_step"):
        raise ValueError(f'step must be "cached_step" or "fast_step", got {step!r}')
    made_by_fast = "read" in state
    if step == "cached_step" and made_by_fast:
        raise ValueError(
            "cached_step was given a state that fast_step made (it holds 'read' and "
            "buffers with spare room, whose unwritten positions cached_step would read "
            "as cached): continue it with fast_step (model.decode_step), or start again "
            "from model.encode(src)"
        )
    if step == "fast_step" and not made_by_fast and "self_k" in state:
        raise ValueError(
            "fast_step was given a state that cached_step made (it has 'self_k' but no "
            "'read'), and would start its cache afresh: continue it with cached_step, "
            "or start again from model.encode(src)"
        )


def check_not_stepped(filled: torch.Tensor, t: int) -> None:
    """fast_step's guard: the state's buffers hold exactly the t positions it has read
    (filled, one count per row); more means a step from this state already wrote into
    them, which fast_step refuses instead of reading another branch's position."""
    if bool((filled != t).any()):
        raise ValueError(
            f"this decoding state was already stepped: it has read {t} token(s), but its "
            f"buffers, shared with the states stepped from it, hold {int(filled.max())} "
            "positions; fast_step writes the cache in place, so step each state once, "
            "and to branch, copy it first with lmbook.decoding.select(state, rows)"
        )


# --- issue 17: chapter 7's fair experiment (lmbook.genre_experiment) -------------------


def check_label_count(n: object, n_classes: int, available: int) -> None:
    """n labelled passages can be drawn with every one of n_classes present: an int
    from n_classes to `available`."""
    if not is_int(n) or not n_classes <= n <= available:
        raise ValueError(
            f"the label count must be an int from {n_classes} (one passage per class) to "
            f"{available} (the training passages), got {n!r}"
        )


def check_split_block(split: object, n_layer: int) -> None:
    """split names a block of a GPT with n_layer blocks: an int in [0, n_layer)."""
    if not is_int(split) or not 0 <= split < n_layer:
        raise ValueError(
            f"split must be a block index from 0 to {n_layer - 1} (the GPT has {n_layer} "
            f"blocks), got {split!r}"
        )


# --- issue 17 review: computed features, predicted class ids, weight records -----------


def check_computed(name: str, x: torch.Tensor) -> None:
    """No row of x (N, C) holds NaN: `genre_experiment.gpt_inputs` leaves NaN in the
    pooled states of the training passages it was not asked to read.

    >>> check_computed("features", torch.tensor([[0.0, 1.0], [float("nan"), 0.0]]))
    Traceback (most recent call last):
    ValueError: features holds NaN in 1 of its 2 rows: states never computed (pass their \
rows to gpt_inputs's train_rows or pooled_rows)
    """
    missing = int(torch.isnan(x).flatten(1).any(dim=1).sum()) if x.ndim else 0
    if missing:
        raise ValueError(
            f"{name} holds NaN in {missing} of its {len(x)} rows: states never computed "
            "(pass their rows to gpt_inputs's train_rows or pooled_rows)"
        )


def check_predicted_classes(predicted: object, n_classes: int) -> None:
    """predicted is a 1-D array of class ids in [0, n_classes)."""
    import numpy as np  # here, not at the top: only this check needs it

    a = np.asarray(predicted)
    if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"predicted must be a 1-D array of int class ids, got {_what(a)}")
    if a.size and not (0 <= a.min() and a.max() < n_classes):
        raise ValueError(
            f"predicted class ids must be from 0 to {n_classes - 1} ({n_classes} classes), "
            f"got {a.min()} … {a.max()}"
        )


def check_record_keys(path: object, record: object, keys: Sequence[str]) -> None:
    """The JSON record at `path` is a dict holding every one of `keys`."""
    missing = [k for k in keys if not isinstance(record, dict) or k not in record]
    if missing:
        raise ValueError(
            f"{path} is damaged: its record lacks {', '.join(missing)}; reinstall lmbook"
        )


def check_fill_in(text: object, hidden: object, guesses: object) -> None:
    """A line to fill in: text a str, hidden one bool per character of it, guesses one
    character (a str of length 1) per True flag of hidden, in order."""
    check_str("text", text)
    flags = hidden.tolist() if isinstance(hidden, torch.Tensor) else hidden
    if not isinstance(flags, Sequence) or not all(isinstance(h, bool) for h in flags):
        raise TypeError(f"hidden must be bools (a list or a bool tensor), got {hidden!r}")
    if len(flags) != len(text):
        raise ValueError(
            f"hidden needs one flag per character of text: {len(flags)} flags for "
            f"{len(text)} characters"
        )
    if isinstance(guesses, str):
        guesses = list(guesses)
    if not isinstance(guesses, Sequence) or not all(
        isinstance(g, str) and len(g) == 1 for g in guesses
    ):
        raise TypeError(f"each guess must be one character (a str of length 1), got {guesses!r}")
    if len(guesses) != sum(flags):
        raise ValueError(
            f"guesses must give one character per hidden one: {len(guesses)} guesses for "
            f"{sum(flags)} hidden characters"
        )


def check_mask_convention(mask_id: object, vocab_size: object, model_vocab: int) -> None:
    """An encoder's ids: vocab_size ordinary ids, then the [MASK] id, mask_id =
    vocab_size = model_vocab - 1 (`lmbook.encoder`'s convention), so no ordinary id of
    the model is taken for the mask, nor the mask for a character.

    >>> check_mask_convention(10, 10, 13)
    Traceback (most recent call last):
    ValueError: the encoder has 13 ids: 12 ordinary ones and its [MASK] id 12; got \
mask_id=10, vocab_size=10
    """
    if not (mask_id == vocab_size == model_vocab - 1):
        raise ValueError(
            f"the encoder has {model_vocab} ids: {model_vocab - 1} ordinary ones and its "
            f"[MASK] id {model_vocab - 1}; got mask_id={mask_id!r}, vocab_size={vocab_size!r}"
        )


def check_weights_record(path: object, record: object, kind: str) -> None:
    """A record of shipped weights (`lmbook.pretrain`): a dict with config, vocab and
    weights_sha256 (and a tokenizer, for kind "subword"), made for `kind` ("gpt",
    "encoder" or "subword"), whose model has one id per token of its vocabulary (and
    one more, the [MASK] id, for an encoder)."""
    keys = ("config", "vocab", "weights_sha256") + (("tokenizer",) if kind == "subword" else ())
    check_record_keys(path, record, keys)
    found = record.get("kind", "gpt")  # records made before the encoder hold no kind
    if found != kind:
        raise ValueError(f"{path} records {found!r} weights, not {kind!r}; reinstall lmbook")
    config = record["config"]
    ids = len(record["vocab"]) + (kind == "encoder")
    if not isinstance(config, dict) or config.get("vocab_size") != ids:
        got = config.get("vocab_size") if isinstance(config, dict) else config
        raise ValueError(
            f"{path} is damaged: its vocabulary needs a model of {ids} ids"
            + (" (the characters and [MASK])" if kind == "encoder" else "")
            + f", its config says {got!r}; reinstall lmbook"
        )


def _is_str(value: object, length: int | None = None) -> bool:
    return isinstance(value, str) and (length is None or len(value) == length)


def _is_pair_of_str(value: object) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2 and all(map(_is_str, value))


def check_bpe_record(where: object, record: object, pattern: str) -> None:
    """A BPE's record (`lmbook.bpe.BPE.to_record`): split by `pattern` (the words a
    BPE of another pattern merges are not these), one-character alphabet, merges as
    pairs of strings, an int size."""
    check_record_keys(where, record, ("pattern", "alphabet", "merges", "tokens"))
    if record["pattern"] != pattern:
        raise ValueError(
            f"{where} splits words by another pattern ({record['pattern']!r}, this lmbook "
            f"splits by {pattern!r}): its merges do not apply here; reinstall lmbook"
        )
    alphabet, merges = record["alphabet"], record["merges"]
    if not isinstance(alphabet, list) or not all(_is_str(c, 1) for c in alphabet):
        raise ValueError(f"{where} is damaged: its alphabet is not single characters")
    if not isinstance(merges, list) or not all(_is_pair_of_str(m) for m in merges):
        raise ValueError(f"{where} is damaged: its merges are not pairs of strings")
    if not isinstance(record["tokens"], int) or isinstance(record["tokens"], bool):
        raise ValueError(f"{where} is damaged: its size is not an int")


# --- issue 17: the hand-off to Hugging Face (lmbook.hf) ---------------------------------


def check_lossless_tokens(text: str, decoded: str) -> None:
    """A tokenizer's ids spell `text` back exactly (`decoded`), so that nats per
    character count every character once."""
    if decoded != text:
        at = next(
            (i for i, (a, b) in enumerate(zip(text, decoded, strict=False)) if a != b),
            min(len(text), len(decoded)),
        )
        raise ValueError(
            f"the tokenizer does not spell the text back: it differs at character {at} "
            f"({text[at : at + 20]!r} became {decoded[at : at + 20]!r}); nats per "
            "character need a lossless tokenizer, such as GPT-2's byte-level BPE"
        )


# --- issue 17, review: GPT-2 settings that would make a wrong twin (lmbook.hf) ---------

GPT2_ATTENTION = {"scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False}


def check_gpt2_attention(config: Any) -> None:
    """A GPT2Config whose attention is the book's: scores scaled by 1/sqrt(d_k) and by
    nothing else. `scale_attn_weights=False` (no scaling) or
    `scale_attn_by_inverse_layer_idx=True` (layer i's scores also divided by i + 1)
    compute another function with the same weights; `reorder_and_upcast_attn` only
    changes the precision, so it is allowed."""
    for name, wanted in GPT2_ATTENTION.items():
        found = getattr(config, name, wanted)
        if found != wanted:
            raise ValueError(
                f"the GPT-2's {name} is {found!r}; lmbook's GPT needs {wanted!r} (its "
                "attention divides the scores by sqrt(d_k) and by nothing else), so "
                "its weights in an lmbook GPT would compute another function"
            )
