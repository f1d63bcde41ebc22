"""Draw the chapter map of the instructors' page: which chapter builds on which.

    python book/_static/make_chapter_map.py      # rewrites book/_static/chapter_map.svg

`PREREQUISITES` is the one place that says which chapters a chapter needs;
tests/test_book_pages.py imports it. Every arrow in the SVG carries the id
`edge-<from>-<to>`, so the test can also check that the committed figure is up to date.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

TITLES = {
    1: "Language models\nfrom counts",
    2: "Word vectors",
    3: "Recurrent\nnetworks",
    4: "Encoder–decoder",
    5: "Attention",
    6: "Transformers",
    7: "Pre-training and\nfine-tuning",
    8: "Making models\nsmall and fast",
    9: "Training on more\nthan one device",
    10: "Language models as\nanalysis tools",
}

# chapter -> the chapters it builds on
PREREQUISITES = {
    2: [1],
    3: [1],
    4: [3],
    5: [4],
    6: [5, 3],
    7: [6],
    8: [6],
    9: [6],
    10: [6, 2],
}

# (x, y) of each chapter's box centre, laid out by hand: the main path 1 → 3 → 4 → 5 → 6
# runs left to right, word vectors sit above it, and chapter 10 (which needs them too) at
# the top of the last column.
POSITIONS = {
    1: (0, 0),
    3: (1.3, 0),
    4: (2.6, 0),
    5: (3.9, 0),
    6: (5.2, 0),
    2: (1.3, 1.5),
    10: (6.9, 1.5),
    7: (6.9, 0.5),
    8: (6.9, -0.5),
    9: (6.9, -1.5),
}
# Arrows that would run through a box or hide another arrow bend instead.
BENDS = {(3, 6): 0.3, (2, 10): 0.1}
BOX_W, BOX_H = 1.1, 0.62
# Chapters already written; any other is drawn as "in preparation".
DONE = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}


def edges() -> list[tuple[int, int]]:
    """Every (prerequisite, chapter) pair, in a fixed order."""
    return [(before, after) for after in sorted(PREREQUISITES) for before in PREREQUISITES[after]]


def draw() -> plt.Figure:
    fig, ax = plt.subplots(figsize=(9.5, 4.4))
    boxes = {}
    for chapter, (x, y) in POSITIONS.items():
        done = chapter in DONE
        box = FancyBboxPatch(
            (x - BOX_W / 2, y - BOX_H / 2),
            BOX_W,
            BOX_H,
            boxstyle="round,pad=0,rounding_size=0.08",
            facecolor="#dbe9f6" if done else "#f4f4f4",
            edgecolor="#2b6ca3" if done else "#888888",
            linestyle="-" if done else (0, (4, 2)),
            linewidth=1.4,
        )
        box.set_gid(f"chapter-{chapter}")
        boxes[chapter] = ax.add_patch(box)
        ax.text(
            x,
            y + 0.14,
            f"Chapter {chapter}",
            ha="center",
            va="center",
            fontsize=8.5,
            fontweight="bold",
        )
        ax.text(
            x, y - 0.09, TITLES[chapter], ha="center", va="center", fontsize=7.5, linespacing=1.1
        )
    for before, after in edges():
        arrow = FancyArrowPatch(
            POSITIONS[before],
            POSITIONS[after],
            connectionstyle=f"arc3,rad={BENDS.get((before, after), 0)}",
            arrowstyle="-|>",
            mutation_scale=11,
            linewidth=1.1,
            color="#444444",
            patchA=boxes[before],  # arrows start and end at the boxes' edges
            patchB=boxes[after],
            shrinkA=1,
            shrinkB=1,
        )
        arrow.set_gid(f"edge-{before}-{after}")
        ax.add_patch(arrow)
    ax.set_xlim(-0.6, 7.5)
    ax.set_ylim(-1.9, 1.9)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout(pad=0.2)
    return fig


if __name__ == "__main__":
    plt.rcParams["svg.fonttype"] = "none"  # keep text as text: small, searchable, crisp
    plt.rcParams["svg.hashsalt"] = "lmbook"  # the same ids on every run
    out = Path(__file__).with_name("chapter_map.svg")
    draw().savefig(out, metadata={"Date": None})
    print(f"wrote {out}")
