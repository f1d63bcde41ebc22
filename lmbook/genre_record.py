"""Chapter 7's recorded experiment, and the tables and figure its runs turn into.

`python -m lmbook.genre_experiment` wrote its record to `experiments/ch7` (every run,
every choice, the machine, the code's hash, the seconds); chapter 7 runs the cheap part
of that experiment live and loads the rest. So that the chapter also runs where the
repository is not (Colab installs the package only), the record files travel inside the
package as one bundle, `weights/genre_experiment_records.json`, made by
`bundle_records` (tests/test_genre_record.py checks that it equals the folder's files).

The functions here turn a results dict (`genre_experiment.run_experiment`'s, or a
recorded file's) into tables: one row per run (`run_table`), mean ± sample standard
deviation over seeds (`seed_spread`), paired-by-seed differences (`paired`), the live runs
against the recorded ones (`compare_runs`), recall per test play (`per_play_recall`),
the predicted-class histogram (`predicted_counts`); and `curve_figure` draws macro-F1
against the number of labels.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RECORDS = (
    "results",
    "tuned_3000",
    "probe_wider_grid",
    "probe_untrained_body",
    "ft_all_blocks",
    "lpft_probe_head",
    "scratch",
    "encoder",
)
BUNDLE = Path(__file__).parent / "weights" / "genre_experiment_records.json"
SETTINGS = ("C", "body_lr", "lr")  # the names a run's chosen setting goes by


def bundle_records(folder: str | Path, out: str | Path = BUNDLE) -> Path:
    """Write the record files `RECORDS` of `folder` (experiments/ch7) into one JSON
    file, {name: the file's content}, and return its path."""
    folder = Path(folder)
    records = {
        name: json.loads((folder / f"{name}.json").read_text(encoding="utf-8")) for name in RECORDS
    }
    out = Path(out)
    out.write_text(json.dumps(records, separators=(",", ":")) + "\n", encoding="utf-8")
    return out


def load_records(path: str | Path = BUNDLE) -> dict[str, dict[str, Any]]:
    """The recorded files, by name (`RECORDS`), from the bundle shipped with lmbook."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def run_table(results: dict[str, Any], source: str = "live") -> pd.DataFrame:
    """One row per run: source, method, labels (the draw's size; 'all' is the whole
    training set), seed, the chosen setting, validation and test macro-F1, and the
    draw's hash (the same hash: the same labelled passages)."""
    rows = []
    for run in results["runs"]:
        setting = next(run[k] for k in SETTINGS if k in run)
        rows.append(
            {
                "source": source,
                "method": run["method"],
                "labels": run["n"],
                "all": run["label_count"] == "all",
                "seed": run["seed"],
                "setting": setting,
                "validation": run["validation"]["macro_f1"],
                "test": run["test"]["macro_f1"],
                "rows_sha256": run["rows_sha256"],
            }
        )
    return pd.DataFrame(rows)


def seed_spread(table: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """Macro-F1 on `split`, mean and sample std over seeds, and the number of runs, by
    (source, method, labels)."""
    grouped = table.groupby(["source", "method", "labels"], sort=False)[split]
    out = grouped.agg(mean="mean", std=lambda v: v.std(ddof=1) if len(v) > 1 else 0.0)
    return out.assign(runs=grouped.size())


def paired(table: pd.DataFrame, a: str, b: str, split: str = "test") -> pd.DataFrame:
    """Macro-F1 of method a minus method b, by labels (rows) and seed (columns), on the
    runs both have: the same draw for both, so the seed's noise in the draw cancels."""
    wide = table.pivot_table(index=["labels", "seed"], columns="method", values=split)
    diff = (wide[a] - wide[b]).dropna()
    return diff.unstack("seed")


def compare_runs(live: pd.DataFrame, recorded: pd.DataFrame) -> pd.DataFrame:
    """The runs present in both tables (same method, labels and seed), side by side:
    the same draw?, the same setting?, and the gap in validation and test macro-F1."""
    keys = ["method", "labels", "seed"]
    both = live.merge(recorded, on=keys, suffixes=("_live", "_record"))
    return pd.DataFrame(
        {
            **{k: both[k] for k in keys},
            "same draw": both["rows_sha256_live"] == both["rows_sha256_record"],
            "same setting": np.isclose(both["setting_live"], both["setting_record"]),
            "validation gap": (both["validation_live"] - both["validation_record"]).abs(),
            "test gap": (both["test_live"] - both["test_record"]).abs(),
        }
    )


def _runs_at(results: dict[str, Any], label_count: int | str) -> list[dict[str, Any]]:
    return [r for r in results["runs"] if r["label_count"] == label_count]


def per_play_recall(results: dict[str, Any], label_count: int | str) -> pd.DataFrame:
    """Recall on each test play (rows: 'play (genre)'), mean over seeds, by method."""
    table: dict[str, dict[str, list[float]]] = {}
    for run in _runs_at(results, label_count):
        for play, s in run["test"]["per_play"].items():
            row = table.setdefault(f"{play} ({s['genre']})", {})
            row.setdefault(run["method"], []).append(s["recall"])
    return pd.DataFrame(
        {play: {m: float(np.mean(v)) for m, v in row.items()} for play, row in table.items()}
    ).T


def predicted_counts(
    results: dict[str, Any], label_count: int | str, genres: Sequence[str]
) -> pd.DataFrame:
    """Test passages given each genre (columns), summed over seeds, by method (rows)."""
    totals: dict[str, Counter] = {}
    for run in _runs_at(results, label_count):
        totals.setdefault(run["method"], Counter()).update(run["test"]["predicted"])
    return pd.DataFrame(
        {m: [total[g] for g in genres] for m, total in totals.items()}, index=list(genres)
    ).T


def curve_figure(
    table: pd.DataFrame,
    names: dict[str, str],
    chance: float,
    title: str = "",
) -> tuple[Any, Any]:
    """Test macro-F1 against labelled passages (log x): for each method in `names`
    ({method: legend name}), each seed as a small dot and the mean at each count joined
    by one line; a mean from runs made live (source 'live') is a filled marker, one
    from the record (any other source) a hollow one; the legend names only the kinds
    drawn. A dotted line at `chance`. Returns (fig, ax)."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    colours = dict(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    handles = []
    for method, name in names.items():
        runs = table[table["method"] == method]
        if runs.empty:
            continue
        colour = colours[method]
        means = runs.groupby("labels").agg(test=("test", "mean"), source=("source", "first"))
        ax.scatter(runs["labels"], runs["test"], s=10, color=colour, alpha=0.45, lw=0)
        ax.plot(means.index, means["test"], color=colour, lw=1.5)
        live = means["source"] == "live"
        for filled, rows in ((True, means[live]), (False, means[~live])):
            face = colour if filled else "white"
            ax.plot(rows.index, rows["test"], "o", ms=6, color=colour, mfc=face, ls="")
        handles.append(Line2D([], [], color=colour, marker="o", label=name))
    sources = set(table.loc[table["method"].isin(list(names)), "source"])
    if "live" in sources:  # a legend entry for each kind of mean drawn
        handles.append(Line2D([], [], color="grey", marker="o", ls="", label="run live here"))
    if sources - {"live"}:
        hollow = {"mfc": "white", "label": "from the record"}
        handles.append(Line2D([], [], color="grey", marker="o", ls="", **hollow))
    ax.set_xscale("log")
    ax.axhline(chance, color="grey", ls=":", lw=1)
    ax.text(
        ax.get_xlim()[1] / 1.1,
        chance - 0.004,
        "uniform guess: 1/6",
        color="grey",
        ha="right",
        va="top",
    )
    ax.set_xlabel("labelled training passages (log scale)")
    ax.set_ylabel("test macro-F1")
    if title:
        ax.set_title(title)
    ax.legend(handles=handles, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig, ax
