"""Tests of lmbook.plotting: each function draws what it is given, and rejects bad input."""

import numpy as np
import pytest

from lmbook.plotting import (
    alignment_plot,
    confusion_matrix_plot,
    history_plot,
    line_plot,
    rank_frequency_plot,
)


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


def test_confusion_matrix_plot_normalises_rows():
    matrix = np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    fig, ax = confusion_matrix_plot(matrix, ["a", "b", "c"])
    grid = ax.get_images()[0].get_array()
    np.testing.assert_allclose(grid, [[0.75, 0.25, 0], [0, 0, 0], [0.25, 0.25, 0.5]])
    assert [t.get_text() for t in ax.texts][:3] == ["0.75", "0.25", "0.00"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    fig, ax = confusion_matrix_plot(matrix, ["a", "b", "c"], normalize=False)
    assert ax.get_images()[0].get_array().max() == 4 and ax.texts[-1].get_text() == "4"
    _, ax2 = confusion_matrix_plot(matrix, ["a", "b", "c"], ax=ax)
    assert ax2 is ax


def test_confusion_matrix_plot_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(K, K\) for the K = 2 labels, got shape \(3, 3\)"):
        confusion_matrix_plot(np.eye(3), ["a", "b"])
    with pytest.raises(ValueError, match="counts >= 0"):
        confusion_matrix_plot(-np.eye(2), ["a", "b"])
