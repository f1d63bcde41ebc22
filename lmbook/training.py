"""The book's one training loop, and the helpers around it.

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
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from tqdm import TqdmWarning

with warnings.catch_warnings():  # without ipywidgets, tqdm.auto warns, then draws text bars
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters (tied weights counted once)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def to_device(batch: Any, device: torch.device | str) -> Any:
    """The batch with every tensor in it (also inside tuples, lists and dicts) on device."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    return batch


def _check_positive(name: str, value: object, allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1{' or None' * allow_none}, got {value!r}")


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
) -> list[dict[str, float]]:
    """Train model for `steps` optimiser steps; return the history (a list of dicts).

    Each batch is a tuple of tensors passed as `model(*batch)`, which must return
    `(logits, loss)`. The batches are re-iterated (a new epoch) when they run out.
    `clip` caps the global gradient norm; `scheduler.step()` runs after every optimiser
    step; `evaluate()` runs every `eval_every` steps and at the end (in eval mode, without
    gradients) and its results join the history. Every `log_every` steps a history entry
    records the step, epoch, mean training loss since the last entry, the gradient norm
    before clipping, the learning rate and the elapsed seconds.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_positive("steps", steps, allow_none=False)
    _check_positive("eval_every", eval_every)
    _check_positive("log_every", log_every, allow_none=False)
    if clip is not None and not (isinstance(clip, (int, float)) and clip > 0):
        raise ValueError(f"clip must be a number > 0 or None, got {clip!r}")
    if eval_every is not None and evaluate is None:
        raise ValueError("eval_every is set but evaluate is None: give an evaluate function")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    max_norm = math.inf if clip is None else float(clip)  # inf: measure the norm, clip nothing

    def run_evaluation(step: int) -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            results = evaluate()
        model.train()
        if not isinstance(results, dict):
            raise TypeError(f"evaluate must return a dict of numbers, got {type(results).__name__}")
        return {"step": step, **{k: float(v) for k, v in results.items()}}

    history: list[dict[str, float]] = []
    model.train()
    start = time.perf_counter()
    running, seen = 0.0, 0
    bar = tqdm(total=steps, desc=desc, disable=not progress, mininterval=2)
    stream = _batches_forever(batches)
    for step in range(1, steps + 1):
        epoch, batch = next(stream)
        batch = to_device(batch, device)
        _, loss = model(*batch)
        if loss is None or loss.ndim != 0:
            raise ValueError("model(*batch) must return (logits, loss) with a scalar loss")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        lr = optimizer.param_groups[0]["lr"]  # the rate this step used, before the schedule moves
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        running, seen = running + loss.item(), seen + 1
        if step % log_every == 0 or step == steps:
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
