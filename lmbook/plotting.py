"""Figures: each function takes data and returns (fig, ax); nothing is shown or saved.

>>> fig, ax = line_plot([1, 2, 3], {"train": [2.0, 1.5, 1.2]}, "n", "nats/char")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter


def line_plot(
    x: Sequence[float],
    series: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    logx: bool = False,
    logy: bool = False,
    ax: plt.Axes | None = None,
) -> tuple[plt.Figure, plt.Axes]:
    """One labelled line (with markers) per series, all against the same x values."""
    if not series:
        raise ValueError("series is empty: give at least one {label: values}")
    for label, ys in series.items():
        if len(ys) != len(x):
            raise ValueError(f"series {label!r} has {len(ys)} values but x has {len(x)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    else:
        fig = ax.figure
    for label, ys in series.items():
        ax.plot(x, ys, marker="o", markersize=4, label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    if logx:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # label decades only, not 2×10^5, …
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return fig, ax


def rank_frequency_plot(
    counts: Mapping[str, Sequence[int]], title: str | None = None
) -> tuple[plt.Figure, plt.Axes]:
    """Zipf's picture: frequency against rank on log-log axes, one line per vocabulary."""
    if not counts:
        raise ValueError("counts is empty: give at least one {label: token counts}")
    fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    for label, values in counts.items():
        freq = np.sort(np.asarray(values, dtype=float))[::-1]
        if freq.size == 0 or freq[0] <= 0:
            raise ValueError(f"counts for {label!r} must be positive and non-empty")
        ax.loglog(np.arange(1, len(freq) + 1), freq, label=label)
    ax.set(xlabel="rank", ylabel="count")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig, ax


def history_plot(
    history: Sequence[Mapping[str, float]],
    keys: Sequence[str] = ("loss",),
    x: str = "step",
    ylabel: str = "loss (nats/token)",
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> tuple[plt.Figure, plt.Axes]:
    """Curves from a training history (lmbook.training.train): one line per key against x.

    Entries without a key are skipped for that key, so training and evaluation entries
    (logged at different steps) can share one history.
    """
    if not keys:
        raise ValueError("keys is empty: name at least one history key to plot, e.g. 'loss'")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.8), layout="constrained")
    else:
        fig = ax.figure
    for key in keys:
        points = [(h[x], h[key]) for h in history if key in h and x in h]
        if not points:
            known = sorted({k for h in history for k in h})
            raise ValueError(f"no history entry has both {x!r} and {key!r}; keys: {known}")
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=key)
    ax.set(xlabel=x, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(keys) > 1:
        ax.legend()
    return fig, ax


def alignment_plot(
    source: Sequence[str],
    target: Sequence[str],
    weights: np.ndarray | None = None,
    gold: Sequence[tuple[int, int]] = (),
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> tuple[plt.Figure, plt.Axes]:
    """A target × source grid: weights as a heat map, gold (source, target) links as boxes.

    Rows are target tokens, columns source tokens, as in Bahdanau et al.'s figures.
    Without weights, the gold alignment alone is drawn as filled cells.
    """
    n_src, n_tgt = len(source), len(target)
    if n_src == 0 or n_tgt == 0:
        raise ValueError(f"source and target need tokens, got {n_src} and {n_tgt}")
    for s, t in gold:
        if not (0 <= s < n_src and 0 <= t < n_tgt):
            raise ValueError(f"gold link {(s, t)} is outside {n_src} source × {n_tgt} target")
    if weights is None:
        grid = np.zeros((n_tgt, n_src))
        for s, t in gold:
            grid[t, s] = 1.0
    else:
        grid = np.asarray(weights, dtype=float)
        if grid.shape != (n_tgt, n_src):
            raise ValueError(
                f"weights must have shape (target, source) = {(n_tgt, n_src)}, got {grid.shape}"
            )
    if ax is None:
        size = (max(3.0, 0.35 * n_src + 1.5), max(2.5, 0.3 * n_tgt + 1.0))
        fig, ax = plt.subplots(figsize=size, layout="constrained")
    else:
        fig = ax.figure
    ax.imshow(grid, cmap="Greys", vmin=0, vmax=max(1.0, float(grid.max())), aspect="auto")
    if weights is not None:
        for s, t in gold:  # the truth, boxed, on top of what the model attends to
            # inset within the cell, so that a box on the grid's edge is not cut by it
            corner, side = (s - 0.42, t - 0.42), 0.84
            ax.add_patch(plt.Rectangle(corner, side, side, fill=False, ec="tab:red", lw=1.5))
    ax.set_xticks(range(n_src), source, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n_tgt), target)
    ax.set(xlabel="source (English)", ylabel="target (French)")
    if title:
        ax.set_title(title)
    return fig, ax


def confusion_matrix_plot(
    matrix: np.ndarray | Sequence[Sequence[int]],
    labels: Sequence[str],
    normalize: bool = True,
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> tuple[plt.Figure, plt.Axes]:
    """A confusion matrix as a heat map: rows the true class, columns the predicted one.

    With normalize=True each row is divided by its sum, so a cell is the share of a
    class's examples given each label and the diagonal is the per-class recall (a class
    with no example keeps a row of zeros). Every cell is written on the map.
    """
    counts = np.asarray(matrix, dtype=float)
    K = len(labels)
    if counts.ndim != 2 or counts.shape != (K, K) or K == 0:
        raise ValueError(
            f"matrix must be square, (K, K) for the K = {K} labels, got shape {counts.shape}"
        )
    if np.any(counts < 0) or np.any(np.isnan(counts)):
        raise ValueError("matrix must hold counts >= 0 (and no NaN)")
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        grid = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    else:
        grid = counts
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.75 * K + 2.5, 0.6 * K + 1.8), layout="constrained")
    else:
        fig = ax.figure
    top = 1.0 if normalize else max(1.0, float(grid.max()))
    image = ax.imshow(grid, cmap="Blues", vmin=0, vmax=top)
    fig.colorbar(image, ax=ax, label="share of the true class" if normalize else "count")
    for i in range(K):
        for j in range(K):
            text = f"{grid[i, j]:.2f}" if normalize else f"{grid[i, j]:.0f}"
            color = "white" if grid[i, j] > 0.6 * top else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(K), labels, rotation=40, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(K), labels)
    ax.set(xlabel="predicted class", ylabel="true class")
    if title:
        ax.set_title(title)
    return fig, ax
