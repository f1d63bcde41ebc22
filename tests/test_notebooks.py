"""The committed notebooks: full-mode outputs that are complete, clean and fresh.

Each notebook must have been executed top to bottom, in full mode, by
`python -m lmbook.execute`, from exactly the code it now contains: its execution record
(notebooks/_records/<name>.json) holds the SHA-256 of the code cells, and a notebook
whose code changed since is stale.
"""

import ast
import json
import re
from pathlib import Path

import pytest

from lmbook.book import (
    SETUP_CELL,
    cell_source,
    code_cells,
    freshness_problems,
    python_source,
    read_notebook,
    read_record,
)

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RECORD_KEYS = {
    "notebook",
    "mode",
    "date",
    "duration_s",
    "device",
    "cpu",
    "gpu",
    "python",
    "torch",
    "lmbook",
    "code_sha256",
}


def expects_output(source: str) -> bool:
    """True when a cell ends with an expression whose value Jupyter displays."""
    body = ast.parse(python_source(source)).body
    if not body or not isinstance(body[-1], ast.Expr) or source.rstrip().endswith(";"):
        return False
    call = body[-1].value
    # print() and display() show output themselves; a plain call may return None.
    return not isinstance(call, ast.Call) or getattr(call.func, "id", "") in ("print", "display")


def problems(path: Path) -> list[str]:
    """Everything wrong with a committed notebook's outputs, as readable messages."""
    notebook = read_notebook(path)
    found = []
    record = read_record(path)
    if record is None:
        return [f"{path.name} has no execution record: run python -m lmbook.execute {path}"]
    if missing := RECORD_KEYS - record.keys():
        found.append(f"its record lacks {sorted(missing)}")
    found += [
        f"{problem}; run python -m lmbook.execute notebooks/{path.name}"
        for problem in freshness_problems(notebook, record)
    ]
    counts = [c.get("execution_count") for c in code_cells(notebook)]
    if counts != list(range(1, len(counts) + 1)):
        found.append(f"not executed top to bottom in one run: execution counts {counts}")
    for index, cell in enumerate(code_cells(notebook), start=1):
        outputs = cell.get("outputs", [])
        for out in outputs:
            if out.get("output_type") == "error":
                found.append(f"code cell {index} has an error output: {out.get('ename')}")
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            if out.get("name") == "stderr" and "Warning" in text:
                found.append(f"code cell {index} leaves a warning in its output: {text[:120]!r}")
            if "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
                found.append(f"code cell {index} has a widget output (invisible in the book)")
        if not outputs and expects_output(cell_source(cell)):
            found.append(f"code cell {index} ends with an expression but has no output")
    if "widgets" in notebook.get("metadata", {}):
        found.append("notebook metadata holds widget state")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_complete_clean_and_fresh(path: Path) -> None:
    assert problems(path) == []


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no notebooks found under notebooks/"


def _copy_with(path: Path, tmp_path: Path, edit) -> Path:
    notebook = read_notebook(path)
    edit(notebook)
    out = tmp_path / path.name
    out.write_text(json.dumps(notebook), encoding="utf-8")
    records = tmp_path / "_records"
    records.mkdir(exist_ok=True)
    (records / f"{path.stem}.json").write_text(json.dumps(read_record(path)), encoding="utf-8")
    return out


@pytest.mark.parametrize("path", NOTEBOOKS[:1], ids=lambda p: p.name)
def test_the_checks_catch_stale_errored_and_missing_outputs(path: Path, tmp_path: Path) -> None:
    def change_code(nb):
        code_cells(nb)[-1]["source"] += "\n# edited"

    def add_error(nb):
        code_cells(nb)[1]["outputs"].append(
            {"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []}
        )

    def drop_outputs(nb):
        for cell in code_cells(nb):
            cell["outputs"] = []

    assert any("stale" in p for p in problems(_copy_with(path, tmp_path, change_code)))
    assert any("error output" in p for p in problems(_copy_with(path, tmp_path, add_error)))
    assert any("no output" in p for p in problems(_copy_with(path, tmp_path, drop_outputs)))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("x = 1", False),
        ("x", True),
        ("print(1)", True),
        ("f(x)", False),
        ("x;", False),
        ("%time\ny", True),
        ("def f():\n    return 1", False),
    ],
)
def test_expects_output(source: str, expected: bool) -> None:
    assert expects_output(source) is expected


CHAPTERS = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)]
EXERCISE = re.compile(r"^\*\*\d+ \((★{1,3})\)\.", re.MULTILINE)


def markdown(notebook: dict) -> list[str]:
    return [cell_source(c) for c in notebook["cells"] if c.get("cell_type") == "markdown"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_setup_cell(path: Path) -> None:
    first = cell_source(code_cells(read_notebook(path))[0])
    assert first == SETUP_CELL, "the first code cell must be lmbook.book.SETUP_CELL, verbatim"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_structure(path: Path) -> None:
    """Title, objectives and prerequisites first; >= 5 graded exercises with hidden
    solutions; a summary; references at the end."""
    notebook = read_notebook(path)
    text = markdown(notebook)
    assert re.match(r"# \d+\. ", text[0]), "the first cell must be the title '# N. …'"
    assert "**Objectives.**" in text[0] and "**Prerequisites.**" in text[0]
    assert any(t.startswith("## Summary") for t in text), "no '## Summary' section"
    exercises = [m for t in text for m in EXERCISE.findall(t)]
    assert len(exercises) >= 5, f"{len(exercises)} exercises, at least 5 wanted"
    assert len(set(exercises)) >= 2, "exercises should be graded by difficulty (★ … ★★★)"
    solutions = [
        c
        for c in code_cells(notebook)
        if "hide-input" in c.get("metadata", {}).get("tags", [])
        and c.get("metadata", {}).get("jupyter", {}).get("source_hidden")
        and cell_source(c).startswith("# Solution")
    ]
    assert len(solutions) >= len(exercises), "every exercise needs a hidden '# Solution' cell"
    assert text[-1].startswith("## References") and "{bibliography}" in text[-1]
