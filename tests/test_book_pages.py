"""The generated book pages: execution statistics, time estimates and the chapter map.

The Sphinx extension (book/_ext/lmbook_pages.py) and the chapter-map script
(book/_static/make_chapter_map.py) are not part of the lmbook package, so they are
imported from their folders.
"""

import json
import re
import sys
from pathlib import Path

import pytest

from lmbook.book import code_hash, read_notebook, read_record, record_path

ROOT = Path(__file__).parents[1]
sys.path[:0] = [str(ROOT / "book" / "_ext"), str(ROOT / "book" / "_static")]
import lmbook_pages  # noqa: E402
import make_chapter_map  # noqa: E402

# What the instructors' page promises: chapter -> the chapters it builds on.
CHAPTER_DEPENDENCIES = {
    2: {1},
    3: {1},
    4: {3},
    5: {4},
    6: {5, 3},
    7: {6},
    8: {6},
    9: {6},
    10: {6, 2},
}


@pytest.fixture
def chapter(tmp_path):
    """A tiny chapter notebook, notebooks/09_tiny.ipynb, with no record yet."""
    path = tmp_path / "notebooks" / "09_tiny.ipynb"
    path.parent.mkdir()
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# 9. A tiny chapter\n", "\n"]},
            {
                "cell_type": "code",
                "metadata": {},
                "source": ["x = 1\n", "x"],
                "outputs": [],
                "execution_count": None,
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


def write_record(path, **changes):
    """The record of a full-mode CPU run of the notebook as it is now, with `changes`."""
    record = {
        "notebook": path.name,
        "mode": "full",
        "date": "2026-11-23T16:16:17+00:00",
        "duration_s": 126.7,
        "device": "cpu",
        "cpu": "AMD EPYC",
        "cpu_count": 2,
        "gpu": None,
        "python": "3.11.7",
        "torch": "2.13.0+cpu",
        "lmbook": "0.1.0",
        "code_sha256": code_hash(read_notebook(path)),
        **changes,
    }
    record_path(path).parent.mkdir(exist_ok=True)
    record_path(path).write_text(json.dumps(record), encoding="utf-8")


def freshness(path):
    return lmbook_pages.freshness(path, read_notebook(path), read_record(path))


STALE = "STALE: re-run python -m lmbook.execute notebooks/09_tiny.ipynb"


def test_fresh_when_a_full_run_recorded_the_current_code(chapter):
    write_record(chapter)
    assert freshness(chapter) == "yes"


def test_stale_when_the_code_changed_since_the_run(chapter):
    write_record(chapter)
    notebook = read_notebook(chapter)
    notebook["cells"][1]["source"] = ["x = 2\n", "x"]
    chapter.write_text(json.dumps(notebook), encoding="utf-8")
    assert freshness(chapter) == STALE


def test_stale_when_the_outputs_come_from_a_smoke_run(chapter):
    write_record(chapter, mode="smoke")
    assert freshness(chapter) == STALE


def test_no_record(chapter):
    assert freshness(chapter) == "no record"
    row = lmbook_pages.execution_stats(chapter, read_notebook(chapter), None)
    assert row[-1] == "no record"
    assert lmbook_pages.time_estimates(chapter, read_notebook(chapter), None) == [
        "not measured",
        "not measured",
    ]


def test_execution_stats_row(chapter):
    write_record(chapter)
    notebook, record = read_notebook(chapter), read_record(chapter)
    assert lmbook_pages.chapter_title(notebook) == "9. A tiny chapter"
    assert lmbook_pages.execution_stats(chapter, notebook, record) == [
        "2:07",
        "cpu",
        "AMD EPYC, 2 cores",
        "3.11.7 / 2.13.0+cpu / 0.1.0",
        "2026-11-23",
        "yes",
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ["2:07 (AMD EPYC, 2 cores)", "not measured"]),
        (
            {"device": "cuda", "gpu": "NVIDIA H100", "duration_s": 59.5},
            ["not measured", "1:00 (AMD EPYC, 2 cores / NVIDIA H100)"],
        ),
        ({"mode": "smoke"}, ["not measured", "not measured"]),
    ],
)
def test_time_estimates_put_the_run_under_its_device(chapter, changes, expected):
    write_record(chapter, **changes)
    row = lmbook_pages.time_estimates(chapter, read_notebook(chapter), read_record(chapter))
    assert row == expected


def test_chapter_map_script_holds_the_promised_dependencies():
    found = {chapter: set(needs) for chapter, needs in make_chapter_map.PREREQUISITES.items()}
    assert found == CHAPTER_DEPENDENCIES


def test_committed_chapter_map_draws_every_dependency():
    svg = (ROOT / "book" / "_static" / "chapter_map.svg").read_text(encoding="utf-8")
    drawn = set(re.findall(r'id="edge-(\d+)-(\d+)"', svg))
    wanted = {(str(before), str(after)) for before, after in make_chapter_map.edges()}
    assert drawn == wanted, "re-run python book/_static/make_chapter_map.py"


def test_instructors_page_lists_the_same_prerequisites():
    page = (ROOT / "book" / "instructors.md").read_text(encoding="utf-8")
    section = page.split("### Chapters 2 to 10", 1)[1].split("\n## ", 1)[0]
    # The rows of its table: | # | chapter | builds on | planned objectives |
    listed = {
        int(number): {int(n) for n in re.findall(r"\d+", builds_on)}
        for number, builds_on in re.findall(r"^\| (\d+) \| [^|]+ \| ([^|]+) \|", section, re.M)
    }
    assert listed == CHAPTER_DEPENDENCIES


def test_each_script_is_written_once_per_page():
    """sphinx-thebe's inline config, kept twice by Sphinx (as None and ''), is written once."""
    from sphinx.builders.html._assets import _JavaScript

    config = "const THEBE_JS_URL = 'x'"
    scripts = [
        _JavaScript("_static/doctools.js", priority=200),
        _JavaScript(None, body=config),
        _JavaScript("_static/sphinx-thebe.js", **{"async": "async"}),
        _JavaScript("", body=config),
        _JavaScript("", body="const other = 1"),
    ]
    context = {"script_files": scripts}
    lmbook_pages.drop_duplicate_scripts(None, "intro", "page.html", context, None)
    assert context["script_files"] is scripts  # changed in place
    assert [s.attributes.get("body") for s in scripts] == [None, config, None, "const other = 1"]
