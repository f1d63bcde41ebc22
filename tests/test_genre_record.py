"""lmbook.genre_record: chapter 7's recorded experiment and its tables and figure."""

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from lmbook import genre_record as gr

matplotlib.use("Agg")
FOLDER = Path(__file__).parent.parent / "experiments" / "ch7"


def fake_run(method, label_count, n, seed, test, setting=1.0, sha="abc"):
    """A run as genre_experiment.run_cell records it, with two test plays."""
    name = {"bow": "C", "probe": "C", "scratch": "lr"}.get(method, "body_lr")
    plays = {
        "a": {"genre": "comedy", "passages": 4, "correct": 2, "recall": 0.5 + seed / 10},
        "b": {"genre": "tragedy", "passages": 4, "correct": 1, "recall": 0.25},
    }
    return {
        "method": method,
        "label_count": label_count,
        "n": n,
        "seed": seed,
        name: setting,
        "rows_sha256": f"{sha}{n}{seed}",
        "validation": {"macro_f1": test - 0.01},
        "test": {
            "macro_f1": test,
            "predicted": {"comedy": 5, "tragedy": 3},
            "per_play": plays,
        },
    }


RESULTS = {
    "runs": [fake_run("bow", 30, 30, s, 0.2 + 0.01 * s) for s in range(3)]
    + [fake_run("probe", 30, 30, s, 0.25 + 0.02 * s, 0.01) for s in range(3)]
    + [fake_run("bow", "all", 100, s, 0.4) for s in range(3)]
}


@pytest.mark.skipif(not FOLDER.is_dir(), reason="the repository's experiments/ch7")
def test_the_bundle_holds_the_recorded_files_unchanged():
    bundle = gr.load_records()
    assert set(bundle) == set(gr.RECORDS)
    for name in gr.RECORDS:
        assert bundle[name] == json.loads((FOLDER / f"{name}.json").read_text()), name


def test_bundle_records_round_trips(tmp_path):
    for name in gr.RECORDS:
        (tmp_path / f"{name}.json").write_text(json.dumps({"name": name, "runs": []}))
    out = gr.bundle_records(tmp_path, tmp_path / "bundle.json")
    assert gr.load_records(out)["tuned_3000"] == {"name": "tuned_3000", "runs": []}


def test_run_table_spread_and_paired():
    table = gr.run_table(RESULTS, "live")
    assert len(table) == 9 and set(table["source"]) == {"live"}
    assert table.loc[table["method"] == "probe", "setting"].tolist() == [0.01] * 3
    assert table["all"].sum() == 3
    scratch = gr.run_table({"runs": [fake_run("scratch", 30, 30, 0, 0.1, 3e-4)]})
    assert scratch["setting"].tolist() == [3e-4]  # the scratch GPT's rate: "lr"
    s = gr.seed_spread(table)
    assert s.loc[("live", "bow", 30), "mean"] == pytest.approx(0.21)
    assert s.loc[("live", "bow", 30), "std"] == pytest.approx(0.01)
    assert s.loc[("live", "bow", 100), "std"] == pytest.approx(0.0)
    assert s.loc[("live", "probe", 30), "runs"] == 3
    diff = gr.paired(table, "probe", "bow")
    assert diff.index.tolist() == [30]  # the labels both methods ran at
    np.testing.assert_allclose(diff.loc[30].to_numpy(), [0.05, 0.06, 0.07])


def test_compare_runs_matches_method_labels_and_seed():
    live = gr.run_table(RESULTS, "live")
    other = {"runs": [fake_run("bow", 30, 30, 0, 0.25), fake_run("bow", 30, 30, 1, 0.21, sha="x")]}
    both = gr.compare_runs(live, gr.run_table(other, "record"))
    assert len(both) == 2
    assert both["same draw"].tolist() == [True, False]
    assert both["same setting"].all()
    np.testing.assert_allclose(both["test gap"], [0.05, 0.0], atol=1e-12)


def test_per_play_recall_and_predicted_counts():
    recall = gr.per_play_recall(RESULTS, 30)
    assert list(recall.index) == ["a (comedy)", "b (tragedy)"]
    assert recall.loc["a (comedy)", "bow"] == pytest.approx(0.6)  # mean of .5, .6, .7
    counts = gr.predicted_counts(RESULTS, 30, ["comedy", "history", "tragedy"])
    assert counts.loc["probe"].tolist() == [15, 0, 9]  # summed over three seeds


def test_curve_figure_draws_live_and_recorded_runs():
    table = gr.run_table(RESULTS, "live")
    recorded = gr.run_table({"runs": [fake_run("ft", 30, 30, 0, 0.3)]}, "record")
    import pandas as pd

    fig, ax = gr.curve_figure(
        pd.concat([table, recorded]), {"bow": "words", "ft": "fine-tuned"}, 1 / 6
    )
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # the probe is not asked for; two entries say which markers are live, which recorded
    assert labels == ["words", "fine-tuned", "run live here", "from the record"]
    assert ax.get_xscale() == "log"
    matplotlib.pyplot.close(fig)


def test_curve_figure_legend_names_only_the_kinds_drawn():
    recorded = gr.run_table({"runs": [fake_run("ft", 30, 30, 0, 0.3)]}, "record")
    live_probe = gr.run_table(RESULTS, "live")  # bow and probe, live: not asked for
    import pandas as pd

    fig, ax = gr.curve_figure(pd.concat([recorded, live_probe]), {"ft": "fine-tuned"}, 1 / 6)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["fine-tuned", "from the record"]  # no "run live here"
    matplotlib.pyplot.close(fig)
