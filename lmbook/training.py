"""The book's one training loop, and the training recipe around it.

Introduced in chapter 3 and used by every chapter that trains a network. The loop is a
plain `for` loop over batches: move the batch to the device, `logits, loss =
model(*batch)`, backpropagate, optionally clip the gradient norm, step the optimiser
(and the learning-rate schedule), and now and then evaluate. It returns a history, a
list of dicts, that `lmbook.plotting.history_plot` turns into curves::

    >>> history = train(model, batches, optimizer, steps=1_000, device=device,
    ...                 clip=1.0, evaluate=lambda: {"val_loss": mean_loss(model, val)},
    ...                 eval_every=200)                                 # doctest: +SKIP

Every model in the book keeps one contract: `forward(*inputs, targets) -> (logits,
loss)`, so the same loop trains the RNN language model, the encoder–decoder and the GPT.
Chapters add features (clipping, schedules, evaluation) through arguments, never by
copying the loop.

Chapter 6 trains a GPT with the whole recipe, each part one switch:

- `param_groups`: AdamW groups with weight decay on the weight matrices only, not on
  biases, norm weights and embeddings;
- `warmup_cosine_schedule`: a linear warm-up of the learning rate, then a cosine decay;
- `RandomWindows`: endless, reproducible batches of random windows of a long text;
- `train(..., accumulate=k)`: gradient accumulation, one optimiser step per k batches;
- `train(..., amp_dtype=torch.bfloat16)`: mixed precision for the forward pass;
- `train(..., checkpoint=path, checkpoint_every=n, resume=True)`: save the run every n
  steps and continue an interrupted run exactly where it stopped::

    >>> groups = param_groups(model, weight_decay=0.1)                  # doctest: +SKIP
    >>> optimizer = torch.optim.AdamW(groups, lr=1e-3)                  # doctest: +SKIP
    >>> schedule = warmup_cosine_schedule(optimizer, warmup_steps=100,
    ...                                   total_steps=2_000)            # doctest: +SKIP
    >>> history = train(model, RandomWindows(train_ids, batch_size=64, block_size=128),
    ...                 optimizer, steps=2_000, device=device, clip=1.0, scheduler=schedule,
    ...                 amp_dtype=torch.bfloat16, checkpoint="gpt.pt", checkpoint_every=500,
    ...                 resume=True)                                    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import io
import itertools
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import TqdmWarning

from lmbook.validate import (
    check_choice,
    check_device,
    check_device_available,
    check_int,
    check_model_output,
    check_module,
    check_needed,
    check_number,
    check_schedule,
    check_token_sequence,
    check_type,
)

with warnings.catch_warnings():  # without ipywidgets, tqdm.auto warns, then draws text bars
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters (tied weights counted once)."""
    check_module("model", model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def to_device(batch: Any, device: torch.device | str) -> Any:
    """The batch with every tensor in it (also inside tuples, lists and dicts) on device."""
    check_device("device", device)
    return _to_device(batch, device)


def _to_device(batch: Any, device: torch.device | str) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _batches_forever(batches: Iterable) -> Iterable[tuple[int, Any]]:
    """(epoch, batch) pairs, starting over when the batches run out (a new epoch)."""
    for epoch in itertools.count():
        empty = True
        for batch in batches:
            empty = False
            yield epoch, batch
        if empty:
            raise ValueError("batches yielded nothing: there is no data to train on")
        if iter(batches) is batches:
            raise ValueError(
                "batches is a one-shot iterator and ran out; pass something re-iterable "
                "(a list, a DataLoader, lmbook's batch classes) or ask for fewer steps"
            )


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW parameter groups: weight decay on the weight matrices, none on the rest.

    Decayed: every trainable parameter with 2 or more dimensions (Linear weights). Not
    decayed: biases, norm gains and embeddings (also when tied to an output layer).
    Each trainable parameter is in one group, once, even when tied; frozen ones are
    left out. Each group names its parameters under "param_names" (torch's key)::

        >>> model = nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4), nn.Linear(4, 3))
        >>> [g["param_names"] for g in param_groups(model, weight_decay=0.1)]
        [['2.weight'], ['0.weight', '1.weight', '1.bias', '2.bias']]
    """
    check_module("model", model)
    check_type("weight_decay", weight_decay, (int, float), "a number >= 0")
    check_number("weight_decay", weight_decay, low=0)
    embeddings = {
        id(p)
        for m in model.modules()
        if isinstance(m, (nn.Embedding, nn.EmbeddingBag))
        for p in m.parameters(recurse=False)
    }  # a weight tied to an output layer is also an embedding's: no decay
    decay: dict[str, nn.Parameter] = {}
    no_decay: dict[str, nn.Parameter] = {}
    for name, p in model.named_parameters():  # tied parameters come once, by their first name
        if p.requires_grad:
            group = decay if p.ndim >= 2 and id(p) not in embeddings else no_decay
            group[name] = p
    return [
        {
            "params": list(decay.values()),
            "weight_decay": float(weight_decay),
            "param_names": list(decay),
        },
        {"params": list(no_decay.values()), "weight_decay": 0.0, "param_names": list(no_decay)},
    ]


def warmup_cosine(
    step: int, *, warmup_steps: int, total_steps: int, min_ratio: float = 0.1
) -> float:
    """The learning-rate multiplier after `step` optimiser steps (what LambdaLR passes).

    Step s = step + 1 gets s / warmup_steps during the warm-up (1 at its last step),
    then a cosine from 1 down to min_ratio at step total_steps, and min_ratio after
    that. With warmup_steps=0 the cosine starts at once. Steps 1 … 5, 2 warm-up in 4::

        >>> [round(warmup_cosine(i, warmup_steps=2, total_steps=4, min_ratio=0.1), 3)
        ...  for i in range(5)]
        [0.5, 1.0, 0.55, 0.1, 0.1]
    """
    check_schedule(warmup_steps, total_steps, min_ratio)
    check_int("step", step, low=0)  # the optimiser steps already taken
    s = step + 1  # the step the multiplier is for, counting from 1
    if s <= warmup_steps:
        return s / warmup_steps
    if s >= total_steps:
        return min_ratio
    progress = (s - warmup_steps) / (total_steps - warmup_steps)  # in (0, 1)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine_schedule(
    optimizer: torch.optim.Optimizer,
    *,
    warmup_steps: int,
    total_steps: int,
    min_ratio: float = 0.1,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR that scales every group's learning rate by `warmup_cosine`.

    Pass it to `train(..., scheduler=...)`, which calls `step()` after every optimiser
    step, so optimiser step s uses the rate `warmup_cosine(s - 1)` times the group's.
    """
    check_type("optimizer", optimizer, torch.optim.Optimizer, "a torch optimizer")
    check_schedule(warmup_steps, total_steps, min_ratio)
    # A partial, not a lambda: the scheduler can be pickled and deep-copied whole.
    multiplier = functools.partial(
        warmup_cosine, warmup_steps=warmup_steps, total_steps=total_steps, min_ratio=min_ratio
    )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)


class RandomWindows:
    """Endless batches of random windows of a long text: (inputs, targets), each (B, T).

    Each batch takes `batch_size` windows of `block_size` + 1 ids at random places of
    `ids`; the inputs are their first T ids, the targets the last T (the same ids shifted
    by one). The stream never ends (`train` stays in epoch 0) and is reproducible: every
    pass starts a new generator seeded with `seed`, so iterating again gives the same
    batches, which is what lets an interrupted run resume exactly::

        >>> batches = RandomWindows(torch.arange(100), batch_size=2, block_size=4)
        >>> inputs, targets = next(iter(batches))
        >>> inputs.shape, bool((targets == inputs + 1).all())
        (torch.Size([2, 4]), True)
    """

    def __init__(
        self, ids: Sequence[int] | torch.Tensor, batch_size: int, block_size: int, seed: int = 0
    ) -> None:
        check_int("batch_size", batch_size)
        check_int("block_size", block_size)
        check_type("seed", seed, int, "an int")
        why = f"for windows of block_size={block_size} (inputs and next-token targets)"
        check_token_sequence("ids", ids, at_least=block_size + 1, why=why)
        self.ids = torch.as_tensor(ids).long()  # what embeddings and cross-entropy take
        self.batch_size, self.block_size, self.seed = batch_size, block_size, seed
        self.n_windows = len(self.ids) - block_size  # possible start positions

    def __repr__(self) -> str:
        return (
            f"RandomWindows(batch_size={self.batch_size}, block_size={self.block_size}, "
            f"windows={self.n_windows}, seed={self.seed})"
        )

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator().manual_seed(self.seed)  # anew: every pass is the same
        offsets = torch.arange(self.block_size)  # (T,)
        while True:
            starts = torch.randint(self.n_windows, (self.batch_size, 1), generator=generator)
            index = (starts + offsets).to(self.ids.device)  # (B, T)
            yield self.ids[index], self.ids[index + 1]  # inputs, targets: (B, T) each


CHECKPOINT_MAGIC = b"LMBOOK-CHECKPOINT-2\n"  # then the payload's sha256 and length


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any | None = None,
    *,
    step: int,
    history: list[dict[str, float]],
    fingerprint: dict[str, str] | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> None:
    """Save a training run at `step`: model, optimiser, scheduler, history, random state.

    `fingerprint` (str -> str) says what made the run (`run_fingerprint`); resuming
    refuses a file whose fingerprint differs. The file starts with a header holding the
    payload's sha256 and length, so damage is found on load. It is written whole or not
    at all: to a temporary file of a unique name, flushed to disk, then renamed, so an
    interruption while saving leaves the previous checkpoint intact.
    """
    check_type("path", path, (str, os.PathLike), "a str or a Path")
    check_int("step", step, low=0)  # the optimiser steps taken
    check_type("fingerprint", fingerprint, (dict, type(None)), "a dict of str or None")
    path = Path(path)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "history": history,
        "rng": _rng_state(),
        "fingerprint": dict(fingerprint or {}),
    }
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if scaler is not None and scaler.is_enabled():
        state["scaler"] = scaler.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    header = CHECKPOINT_MAGIC + hashlib.sha256(payload).digest()
    header += len(payload).to_bytes(8, "little")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(header + payload)
            file.flush()
            os.fsync(file.fileno())  # on disk before the rename makes it the checkpoint
        os.replace(temporary, path)  # atomic: readers see the old file or the new one
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any | None = None,
) -> dict[str, Any]:
    """Load a checkpoint into model (and optimizer, scheduler); return what was saved.

    The returned dict holds "step", "history", "fingerprint" and "rng" (torch's random
    state, which this function does not restore; `train(..., resume=True)` does).
    A damaged, truncated, empty or foreign file raises a ValueError naming it.
    """
    check_type("path", path, (str, os.PathLike), "a str or a Path")
    state = _read_checkpoint(Path(path))
    _restore(state, model, optimizer, scheduler)
    return state


def _read_checkpoint(path: Path) -> dict[str, Any]:
    remedy = "delete it and train afresh (or restore it from a backup)"
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    data = path.read_bytes()
    if not data:
        raise ValueError(f"the checkpoint {path} is empty (0 bytes): {remedy}")
    if not data.startswith(CHECKPOINT_MAGIC):
        raise ValueError(
            f"{path} is not a checkpoint written by save_checkpoint (no lmbook header); "
            "load a file that lmbook.training.save_checkpoint wrote"
        )
    start = len(CHECKPOINT_MAGIC) + 40  # after the digest (32 bytes) and length (8)
    digest = data[len(CHECKPOINT_MAGIC) : len(CHECKPOINT_MAGIC) + 32]
    length = int.from_bytes(data[start - 8 : start], "little")
    payload = data[start:]
    if len(payload) != length:
        raise ValueError(
            f"the checkpoint {path} is truncated or extended: {len(payload):,} bytes of "
            f"data where its header says {length:,}: {remedy}"
        )
    if hashlib.sha256(payload).digest() != digest:
        raise ValueError(f"the checkpoint {path} is damaged (checksum mismatch): {remedy}")
    # Tensors, numbers, strings, lists and dicts only, so the safe loader can read it.
    state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    keys = {"model", "optimizer", "step", "history", "rng", "fingerprint"}
    if not isinstance(state, dict) or not keys <= set(state):
        raise ValueError(f"{path} is not a checkpoint written by save_checkpoint")
    return state


def run_fingerprint(
    model: nn.Module,
    batches: Iterable,
    optimizer: torch.optim.Optimizer,
    scheduler: Any | None = None,
    **settings: Any,
) -> dict[str, str]:
    """What made a training run, as strings: resuming compares it with the checkpoint's.

    The lmbook version and mode; the model (its repr, the sha256 of its weights before
    training, which the seed and the initialisation decide, and of its code); the
    optimiser's and schedule's settings; the data (repr, and the sha256 of its ids when
    it has any); and the keyword `settings` (the training loop's switches).
    """
    import lmbook  # the version, and the mode

    model = getattr(model, "_orig_mod", model)  # torch.compile's wrapper: the model
    classes = sorted({type(m) for m in model.modules()}, key=lambda c: c.__qualname__)
    fingerprint = {
        "lmbook": lmbook.__version__,
        "mode": lmbook.mode(),
        "model": repr(model),
        "initial weights": _sha256_of(model.state_dict()),
        # the code of every module class in it: an edited Block cell is another run
        "model code": _sha256_text(" ".join(_source_sha256(c) for c in classes)),
        "training code": _sha256_text(inspect.getsource(inspect.getmodule(train))),
        "optimizer": type(optimizer).__name__ + repr(_group_settings(optimizer)),
        "schedule": _schedule_settings(scheduler),
        "data": repr(batches),
    }
    ids = getattr(batches, "ids", None)
    if isinstance(ids, torch.Tensor):
        fingerprint["data ids"] = _sha256_of({"ids": ids})
    fingerprint |= {name: repr(value) for name, value in settings.items()}
    return fingerprint


def fingerprint_differences(saved: dict[str, str], now: dict[str, str]) -> list[str]:
    """One line per setting where two fingerprints differ: 'name: saved -> now'."""

    def short(text: str | None) -> str:
        text = "(none)" if text is None else " ".join(str(text).split())
        return text if len(text) <= 60 else text[:57] + "..."

    return [
        f"{name}: {short(saved.get(name))} -> {short(now.get(name))}"
        for name in sorted(set(saved) | set(now))
        if saved.get(name) != now.get(name)
    ]


def _sha256_of(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name, tensor in tensors.items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    return digest.hexdigest()[:16]


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.cache
def _source_sha256(obj: Any) -> str:
    """The sha256 of obj's source (a class or a function); for a class whose source
    cannot be found (one defined in a notebook cell), of its methods' sources."""
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        parts = [getattr(obj, "__qualname__", repr(obj))]
        for member in vars(obj).values() if isinstance(obj, type) else []:
            with contextlib.suppress(OSError, TypeError):
                parts.append(inspect.getsource(member))
        source = "\n".join(parts)
    return _sha256_text(source)


def _group_settings(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """Each group's hyperparameters, with the rate before any schedule scaled it."""
    settings = []
    for group in optimizer.param_groups:
        values = {k: v for k, v in group.items() if k not in ("params", "lr", "initial_lr")}
        values["lr"] = group.get("initial_lr", group["lr"])
        values["shapes"] = [tuple(p.shape) for p in group["params"]]
        settings.append(values)
    return settings


def _schedule_settings(scheduler: Any | None) -> str:
    if scheduler is None:
        return "none"
    moving = ("last_epoch", "_step_count", "_last_lr", "_get_lr_called_within_step")
    state = {k: v for k, v in scheduler.state_dict().items() if k not in moving}
    lambdas = getattr(scheduler, "lr_lambdas", [])
    state.pop("lr_lambdas", None)
    state["multipliers"] = [  # the function (and its code) and its settings
        f"{f.func.__qualname__}:{_source_sha256(f.func)}{sorted(f.keywords.items())}"
        if isinstance(f, functools.partial)
        else f"{getattr(f, '__qualname__', type(f).__name__)}:{_source_sha256(f)}"
        for f in lambdas
    ]
    return type(scheduler).__name__ + repr(state)


def _restore(state: dict[str, Any], model: nn.Module, optimizer: Any, scheduler: Any) -> None:
    model.load_state_dict(state["model"])  # copies into the parameters, on the model's device
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])  # moves its state to the parameters'
    if scheduler is not None:
        if "scheduler" not in state:
            raise ValueError("the checkpoint has no scheduler state, but a scheduler was given")
        scheduler.load_state_dict(state["scheduler"])


def _rng_state() -> dict[str, Any]:
    """torch's global random state (dropout draws from it): CPU, and CUDA or MPS if present."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])


def mixed_precision(device: torch.device | str) -> torch.dtype | None:
    """The autocast dtype for training on device: bfloat16 on a GPU that computes in it
    natively (Ampere and later), float16 on an older GPU (Colab's T4; `train` then
    scales the loss), None (float32) on a CPU or MPS, where 16-bit is rarely faster."""
    check_device("device", device)
    device = torch.device(device)
    if device.type != "cuda":
        return None
    try:
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.4 has no including_emulation and does not emulate
        native = torch.cuda.is_bf16_supported()
    return torch.bfloat16 if native else torch.float16


def train(
    model: nn.Module,
    batches: Iterable,
    optimizer: torch.optim.Optimizer,
    *,
    steps: int,
    device: torch.device | str,
    clip: float | None = None,
    scheduler: Any | None = None,
    evaluate: Callable[[], dict[str, float]] | None = None,
    eval_every: int | None = None,
    log_every: int = 10,
    progress: bool = True,
    desc: str = "training",
    accumulate: int = 1,
    amp_dtype: torch.dtype | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    fingerprint: dict[str, Any] | None = None,
) -> list[dict[str, float]]:
    """Train model for `steps` optimiser steps; return the history (a list of dicts).

    Each batch is a tuple of tensors passed as `model(*batch)`, which must return
    `(logits, loss)`. The batches are re-iterated (a new epoch) when they run out.
    `clip` caps the global gradient norm; `scheduler.step()` runs after every optimiser
    step; `evaluate()` runs every `eval_every` steps and at the end (in eval mode, without
    gradients) and its results join the history. Every `log_every` steps a history entry
    records the step, epoch, mean training loss since the last entry, the gradient norm
    before clipping, the learning rate and the elapsed seconds.

    The recipe's switches (chapter 6). `accumulate=k`: each step adds up the gradients of
    k batches, each loss divided by k, so for a mean loss it equals one step on a batch k
    times larger; the logged loss is the mean over them. `amp_dtype=torch.bfloat16`: the
    forward passes run under `torch.autocast` (None: no autocast). `checkpoint`: a path
    where the run is saved every `checkpoint_every` steps and at the end (a history entry
    is logged at each save). With `resume=True` and that file present, training goes on
    from the saved step: model, optimiser, scheduler and torch's random state are
    restored, the batches the saved run used are skipped, and the history returned is the
    whole run's. The result is the unbroken run's, exactly, when iterating `batches`
    gives the same sequence every time (lists, `RandomWindows`, `StreamBatches`).
    A checkpoint stores `run_fingerprint` of the run (plus the `fingerprint` dict given
    here, e.g. the data's name); resuming from a file made by a run that differs in any
    of it (another rate, seed, model, data, mode or lmbook) raises, naming each
    difference and the file. `amp_dtype=torch.float16` scales the loss with
    `torch.amp.GradScaler`, whose state is checkpointed too (`mixed_precision` picks
    the dtype for a device).
    """
    check_module("model", model)
    check_int("steps", steps)
    check_device_available("device", device)
    check_int("eval_every", eval_every, allow_none=True)
    check_needed("eval_every", eval_every, "evaluate", evaluate)
    check_int("log_every", log_every)
    check_number("clip", clip, low=0, low_open=True, allow_none=True)
    check_int("accumulate", accumulate)
    check_type("amp_dtype", amp_dtype, (torch.dtype, type(None)), "a torch.dtype or None")
    check_choice("amp_dtype", amp_dtype, (torch.bfloat16, torch.float16, None))
    check_type("checkpoint", checkpoint, (str, os.PathLike, type(None)), "a str or a Path")
    check_int("checkpoint_every", checkpoint_every, allow_none=True)
    check_needed("checkpoint_every", checkpoint_every, "checkpoint", checkpoint)
    check_type("resume", resume, bool, "True or False")
    check_needed("resume", resume, "checkpoint", checkpoint)
    check_type("fingerprint", fingerprint, (dict, type(None)), "a dict or None")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    max_norm = math.inf if clip is None else float(clip)  # inf: measure the norm, clip nothing
    device_type = torch.device(device).type
    # float16's narrow range needs the loss scaled up (and the gradients back down) so
    # small gradients do not flush to zero; bfloat16 has float32's range and needs none.
    scaler = torch.amp.GradScaler(device_type, enabled=amp_dtype == torch.float16)
    made_by = None
    if checkpoint is not None:
        made_by = run_fingerprint(
            model,
            batches,
            optimizer,
            scheduler,
            accumulate=accumulate,
            clip=clip,
            amp_dtype=amp_dtype,
            **(fingerprint or {}),
        )

    def autocast() -> contextlib.AbstractContextManager:
        if amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device_type, dtype=amp_dtype)

    def run_evaluation(step: int) -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            results = evaluate()
        model.train()
        if not isinstance(results, dict):
            raise TypeError(f"evaluate must return a dict of numbers, got {type(results).__name__}")
        return {"step": step, **{k: float(v) for k, v in results.items()}}

    history: list[dict[str, float]] = []
    done = 0  # optimiser steps taken before this call (by the run a checkpoint saved)
    stream = _batches_forever(batches)
    if resume and Path(checkpoint).exists():
        saved = _read_checkpoint(Path(checkpoint))
        differences = fingerprint_differences(saved["fingerprint"], made_by)
        if differences:
            raise ValueError(
                f"the checkpoint {checkpoint} was made by another run; it differs in\n  "
                + "\n  ".join(differences)
                + "\ndelete the file to train afresh, or go back to the run's settings"
            )
        if saved["step"] > steps:
            raise ValueError(
                f"the checkpoint {checkpoint} is at step {saved['step']}, past steps={steps}: "
                f"ask for at least {saved['step']} steps, or start afresh with resume=False"
            )
        _restore(saved, model, optimizer, scheduler)
        if "scaler" in saved:
            scaler.load_state_dict(saved["scaler"])
        history, done = saved["history"], saved["step"]
        for _ in range(done * accumulate):  # skip the batches the saved run used
            next(stream)
        _set_rng_state(saved["rng"])  # after skipping: dropout draws what the saved run would
    model.train()
    start = time.perf_counter() - (history[-1].get("seconds", 0.0) if history else 0.0)
    running, seen = 0.0, 0
    bar = tqdm(total=steps, initial=done, desc=desc, disable=not progress, mininterval=2)
    for step in range(done + 1, steps + 1):
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for _ in range(accumulate):  # the gradients of `accumulate` batches add up
            epoch, batch = next(stream)
            with autocast():  # mixed precision for the forward pass only
                output = model(*_to_device(batch, device))  # device checked above
            check_model_output(output)  # (logits, scalar loss)
            _, loss = output
            # the mean over the batches, as for one big batch (scaled up for float16)
            scaler.scale(loss / accumulate).backward()
            step_loss += loss.item() / accumulate
        scaler.unscale_(optimizer)  # the true gradients, before clipping measures them
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        lr = optimizer.param_groups[0]["lr"]  # the rate this step used, before the schedule moves
        scaler.step(optimizer)  # skipped when float16 overflowed (inf/nan gradients)
        scaler.update()
        if scheduler is not None:
            scheduler.step()
        running, seen = running + step_loss, seen + 1
        save = checkpoint is not None and (
            step == steps or (checkpoint_every is not None and step % checkpoint_every == 0)
        )
        if step % log_every == 0 or step == steps or save:
            history.append(
                {
                    "step": step,
                    "epoch": epoch,
                    "loss": running / seen,
                    "grad_norm": float(grad_norm),
                    "lr": lr,
                    "seconds": time.perf_counter() - start,
                }
            )
            bar.set_postfix(loss=f"{running / seen:.3f}", refresh=False)
            running, seen = 0.0, 0
        if evaluate is not None and (step == steps or (eval_every and step % eval_every == 0)):
            history.append(run_evaluation(step) | {"seconds": time.perf_counter() - start})
        if save:
            save_checkpoint(
                checkpoint,
                model,
                optimizer,
                scheduler,
                step=step,
                history=history,
                fingerprint=made_by,
                scaler=scaler,
            )
        bar.update(1)
    bar.close()
    return history


@torch.no_grad()
def mean_loss(model: nn.Module, batches: Iterable, device: torch.device | str) -> float:
    """The model's loss averaged over batches (weighted by batch, in eval mode, no gradients).

    For a per-token average over batches of unequal size, weight the batches yourself.
    """
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    for batch in batches:
        _, loss = model(*to_device(batch, device))
        total, n = total + loss.item(), n + 1
    model.train(was_training)
    if n == 0:
        raise ValueError("batches yielded nothing: cannot average a loss over no data")
    return total / n
