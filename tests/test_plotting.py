"""Tests of lmbook.plotting: each function draws what it is given, and rejects bad input."""

import numpy as np
import pytest

from lmbook.plotting import alignment_plot, history_plot, line_plot, rank_frequency_plot


def test_line_plot_draws_one_line_per_series():
    fig, ax = line_plot([1, 2, 3], {"a": [3, 2, 1], "b": [1, 2, 3]}, "n", "nats/char", logx=True)
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[3, 2, 1], [1, 2, 3]]
    assert ax.get_xscale() == "log" and ax.get_legend() is not None
    with pytest.raises(ValueError, match="'a' has 2 values but x has 3"):
        line_plot([1, 2, 3], {"a": [1, 2]}, "n", "y")


def test_rank_frequency_plot_sorts_counts():
    fig, ax = rank_frequency_plot({"chars": [1, 10, 5]})
    assert list(ax.get_lines()[0].get_ydata()) == [10, 5, 1]
    with pytest.raises(ValueError, match="positive"):
        rank_frequency_plot({"chars": []})


def test_history_plot_draws_training_and_validation_curves():
    history = [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5, "val_loss": 1.8}]
    fig, ax = history_plot(history, keys=("loss", "val_loss"))
    assert [len(line.get_xdata()) for line in ax.get_lines()] == [2, 1]
    with pytest.raises(ValueError, match="'nope'"):
        history_plot(history, keys=("nope",))


def test_alignment_plot_draws_gold_links_and_checks_shapes():
    src, tgt = ["the", "red", "car", "."], ["la", "voiture", "rouge", "."]
    gold = [(0, 0), (2, 1), (1, 2), (3, 3)]
    fig, ax = alignment_plot(src, tgt, gold=gold)
    image = ax.get_images()[0].get_array()
    assert image.shape == (4, 4) and image.sum() == 4 and image[2, 1] == 1  # rouge <- red
    fig, ax = alignment_plot(src, tgt, weights=np.full((4, 4), 0.25), gold=gold)
    assert len(ax.patches) == 4
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        alignment_plot(src, tgt, weights=np.ones((3, 4)))
    with pytest.raises(ValueError, match="outside"):
        alignment_plot(src, tgt, gold=[(4, 0)])
