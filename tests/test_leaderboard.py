"""Leaderboard rows: checked on the way in, and found again in a notebook's outputs."""

import math

import pytest

from lmbook.book import LEADERBOARD_MIME, leaderboard_rows
from lmbook.leaderboard import leaderboard_row


def test_row_fields_and_bits() -> None:
    row = leaderboard_row("7-gram", 1.5, chapter=1, params=10, budget="1 s", device="cpu")
    assert row["bits_per_char"] == round(1.5 / math.log(2), 4)
    assert row["split"] == "validation" and row["chapter"] == 1


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("", 1.0), {"chapter": 1}, "model"),
        (("m", float("nan")), {"chapter": 1}, "finite"),
        (("m", -1.0), {"chapter": 1}, "negative"),
        (("m", 1.0), {"chapter": 0}, "chapter"),
        (("m", 1.0), {"chapter": 1, "split": "train"}, "split"),
        (("m", 1.0), {"chapter": 1, "params": -3}, "params"),
    ],
)
def test_bad_rows_are_refused(args, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        leaderboard_row(*args, **kwargs)


def test_rows_are_read_back_from_outputs() -> None:
    row = leaderboard_row("m", 1.0, chapter=2)
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": "x"},
            {
                "cell_type": "code",
                "source": "report(…)",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "hi"},
                    {"output_type": "display_data", "data": {LEADERBOARD_MIME: row}},
                ],
            },
        ]
    }
    assert leaderboard_rows(notebook) == [row]
