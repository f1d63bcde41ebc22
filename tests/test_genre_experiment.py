"""lmbook.genre_experiment: chapter 7's fair experiment, on tiny models and passages."""

import numpy as np
import pytest
import torch

from lmbook import genre_experiment as ge
from lmbook.data import Passage
from lmbook.encoder import Encoder, EncoderClassifier
from lmbook.finetune import PAD_ID, GPTClassifier, encode_passages, passage_features
from lmbook.text import Vocab
from lmbook.transformer import GPT, GPTConfig

WORDS = {
    "comedy": "love wit jest fool merry ",
    "history": "king crown france war england ",
    "tragedy": "death blood night grave woe ",
}
VOCAB = Vocab(sorted(set("".join(WORDS.values()) + "\n")))


def passages(split: str, per_play: int, plays: int, seed: int) -> list[Passage]:
    """Passages made of their genre's words, of various lengths, `plays` per genre."""
    rng = np.random.default_rng(seed)
    out = []
    for genre, words in WORDS.items():
        for p in range(plays):
            for _ in range(per_play):
                text = " ".join(rng.choice(words.split(), size=rng.integers(3, 12)))
                out.append(Passage(text, genre, f"{split}-{genre}-{p}"))
    return out


def tiny_task(context: int = 40) -> ge.GenreTask:
    splits = {"train": (12, 3, 0), "validation": (8, 1, 1), "test": (8, 1, 2)}
    return ge.task_from_passages({s: passages(s, *args) for s, args in splits.items()}, context)


def tiny_gpt() -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=len(VOCAB), block_size=64, n_layer=2, n_head=2, n_embd=16)
    return GPT(config).eval()


RECIPE = ge.Recipe(
    context=40, batch_size=8, min_steps=6, feature_batch=16, scratch_heads=2, scratch_embd=16
)
GRIDS = {"bow": (0.1, 10.0), "probe": (0.01, 1.0), "ft": (1e-3, 1e-2)}
GRIDS["lpft"] = GRIDS["scratch"] = GRIDS["ft"]


def test_every_model_reads_the_same_cut_text():
    task = tiny_task(context=20)
    raw = passages("train", 12, 3, 0)
    assert all(len(t) <= 20 for t in task.texts["train"])
    assert [r.text[:20] for r in raw] == task.texts["train"]
    assert any(len(r.text) > 20 for r in raw)  # the cut did cut
    # The GPT's ids decode to exactly the characters the baseline is given.
    ids, lengths = encode_passages(task.texts["train"], VOCAB, RECIPE.context)
    assert lengths.tolist() == [len(t) for t in task.texts["train"]]
    decoded = ["".join(VOCAB.decode([i for i in row if i != PAD_ID])) for row in ids]
    assert decoded == task.texts["train"]


def test_the_baseline_is_fitted_on_exactly_the_texts_of_the_drawn_rows(monkeypatch):
    task, seen = tiny_task(context=20), {}
    real_fit = ge.bow_fit

    def spy(texts, labels, C):
        seen["texts"], seen["labels"] = list(texts), list(labels)
        return real_fit(texts, labels, C)

    monkeypatch.setattr(ge, "bow_fit", spy)
    rows = ge.draw_labelled(task.labels["train"], 30, seed=1)
    ge.run_method("bow", 1.0, task, rows, 1, None, None, RECIPE)
    assert seen["texts"] == [task.texts["train"][i] for i in rows]
    assert seen["labels"] == task.labels["train"][rows].tolist()
    assert all(len(t) <= 20 for t in seen["texts"])


def test_draws_are_stratified_reproducible_and_differ_between_seeds():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    a, b = ge.draw_labelled(labels, 10, 0), ge.draw_labelled(labels, 10, 1)
    assert len(a) == 10 and len(set(a.tolist())) == 10
    assert np.bincount(labels[a]).tolist() == [5, 3, 2]  # the classes' shares
    assert np.array_equal(a, ge.draw_labelled(labels, 10, 0))
    assert not np.array_equal(a, b)
    rare = ge.draw_labelled(np.array([0] * 97 + [1, 2, 2]), 3, 0)
    assert sorted(np.array([0] * 97 + [1, 2, 2])[rare].tolist()) == [0, 1, 2]
    assert np.array_equal(ge.draw_labelled(labels, None, 5), np.arange(100))
    nested = [set(ge.draw_labelled(labels, n, 3).tolist()) for n in (10, 30, 60)]
    assert nested[0] <= nested[1] <= nested[2]  # one seed's draws nest
    with pytest.raises(ValueError, match="label count must be an int from 3"):
        ge.draw_labelled(labels, 2, 0)


def test_per_play_scores_add_up_to_the_split_scores():
    task = tiny_task()
    rng = np.random.default_rng(0)
    predicted = rng.integers(0, 3, len(task.labels["test"]))
    s = ge.score(task, "test", predicted)
    plays = s["per_play"].values()
    assert sum(p["passages"] for p in plays) == len(predicted)
    correct = sum(p["correct"] for p in plays)
    assert correct == int((predicted == task.labels["test"]).sum())
    assert s["accuracy"] == pytest.approx(correct / len(predicted))
    assert all(p["recall"] == p["correct"] / p["passages"] for p in plays)
    total = {}
    for p in plays:
        for genre, count in p["predicted"].items():
            total[genre] = total.get(genre, 0) + count
    assert total == s["predicted"]
    assert sum(s["predicted"].values()) == len(predicted)


def test_cached_body_states_are_the_classifiers_features_and_logits():
    gpt, task = tiny_gpt(), tiny_task()
    ids, _ = encode_passages(task.texts["test"], VOCAB, 40)
    pooled, states = ge.body_states(gpt, ids, 1, np.arange(len(ids)), batch_size=5)
    whole = GPTClassifier(gpt, 3).eval()
    torch.testing.assert_close(pooled, passage_features(whole, ids), atol=1e-5, rtol=0)
    top = ge.TopClassifier(gpt, 1, whole.head).eval()
    with torch.no_grad():
        logits, _ = top(*ge.pad_states([states[i] for i in range(6)]))
        expected, _ = whole(ids[:6, : int((ids[:6] != PAD_ID).sum(1).max())])
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="split must be a block index from 0 to 1"):
        ge.body_states(gpt, ids, 2)


def test_fine_tuning_trains_only_the_top_and_lpft_starts_from_the_probe():
    gpt, task = tiny_gpt(), tiny_task()
    before = {k: v.clone() for k, v in gpt.state_dict().items()}
    rows = ge.draw_labelled(task.labels["train"], 60, 0)
    inputs = ge.gpt_inputs(task, gpt, VOCAB, RECIPE, rows)
    probe = ge.probe_head(inputs.pooled["train"][rows], task.labels["train"][rows], 1.0, 3)
    top = ge.TopClassifier(gpt, 1, probe)
    with torch.no_grad():
        via_top = top_logits = top(*ge.pad_states([inputs.states["test"][0]]))[0]
        via_probe = probe(inputs.pooled["test"][:1])
    torch.testing.assert_close(via_top, via_probe, atol=1e-4, rtol=0)
    states = [inputs.states["train"][int(i)] for i in rows]
    # Reading only some training passages gives the same states for them, NaN elsewhere.
    some = ge.gpt_inputs(task, gpt, VOCAB, RECIPE, rows[:20], pooled_rows=rows)
    torch.testing.assert_close(some.pooled["train"][rows], inputs.pooled["train"][rows])
    assert some.pooled["train"].isnan().any(dim=1).sum() == len(task.texts["train"]) - 60
    assert sorted(some.states["train"]) == sorted(rows[:20].tolist())
    torch.testing.assert_close(some.states["train"][int(rows[0])], states[0])
    ge.tune_top(top, states, task.labels["train"][rows], 1e-2, RECIPE, seed=0)
    assert not torch.allclose(top(*ge.pad_states(states[:1]))[0], top_logits)
    assert all(torch.equal(v, gpt.state_dict()[k]) for k, v in before.items())


def test_the_choice_never_looks_at_the_test_plays():
    gpt, task = tiny_gpt(), tiny_task()
    kwargs = dict(sizes=[30], seeds=[0, 1], tune_sizes=[30], recipe=RECIPE, grids=GRIDS)
    first = ge.run_experiment(task, gpt, VOCAB, log=lambda _: None, **kwargs)
    # The same experiment with the test plays' labels and texts scrambled.
    rng = np.random.default_rng(0)
    task.labels["test"] = rng.permutation(task.labels["test"])
    task.texts["test"] = list(rng.permutation(task.texts["test"]))
    second = ge.run_experiment(task, gpt, VOCAB, log=lambda _: None, **kwargs)
    assert first["choices"] == second["choices"]
    val = [[r["validation"] for r in out["runs"]] for out in (first, second)]
    assert val[0] == val[1]
    assert [r["test"] for r in first["runs"]] != [r["test"] for r in second["runs"]]
    runs = first["runs"]
    assert {r["method"] for r in runs} == set(ge.METHODS)
    assert len(runs) == len(ge.METHODS) * 2
    for method in ge.METHODS:  # the two seeds drew different passages
        draws = {r["rows_sha256"] for r in runs if r["method"] == method}
        assert len(draws) == 2
    # ... and every method got the same draw for a seed.
    assert len({r["rows_sha256"] for r in runs if r["seed"] == 0}) == 1
    table = ge.summary_table(first)
    assert "| 30 |" in table and table.count("(2)") == len(ge.METHODS)


def test_choose_takes_the_best_and_the_first_on_a_tie():
    assert ge.choose({0.1: 0.2, 1.0: 0.3, 10.0: 0.3}) == 1.0
    assert ge.inverse_frequency_weights(np.array([0, 0, 0, 1]), 3).tolist() == pytest.approx(
        [4 / 9, 4 / 3, 1.0]
    )


def test_the_gpt_from_scratch_learns_the_labels_alone_and_never_reads_the_books_gpt():
    task = tiny_task()
    recipe = ge.Recipe(context=40, batch_size=8, min_steps=60, scratch_heads=2, scratch_embd=32)
    sizes, grids = [36], {"bow": (1.0,), "scratch": (3e-3,)}
    # gpt=None: a method that read the pre-trained body would fail here
    out = ge.run_experiment(
        task, None, VOCAB, sizes, [0], ["bow", "scratch"], [], recipe, grids, log=lambda _: None
    )
    run = next(r for r in out["runs"] if r["method"] == "scratch")
    assert run["lr"] == 3e-3 and run["n"] == 36
    assert run["test"]["macro_f1"] > 0.6  # chance: 1/3; the genres' words are distinct
    assert len(run["test"]["predicted"]) == 3  # every genre named: no collapse
    rows = ge.draw_labelled(task.labels["train"], 36, 0)
    ids, _ = encode_passages(task.texts["train"], VOCAB, 40)
    model = ge.train_scratch(ids[rows], task.labels["train"][rows], 3, len(VOCAB), 3e-3, recipe, 0)
    again = ge.train_scratch(ids[rows], task.labels["train"][rows], 3, len(VOCAB), 3e-3, recipe, 0)
    assert not model.training and model.body.config.n_embd == 32
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    )
    with pytest.raises(TypeError, match="the scratch GPT's characters"):
        ge.run_experiment(task, None, None, sizes, [0], ["scratch"], [], recipe, grids)


def test_an_encoder_body_keeps_the_padding_out_and_its_cache_matches_its_classifier():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=len(VOCAB) + 1, block_size=64, n_layer=2, n_head=2, n_embd=16)
    encoder, task = Encoder(config).eval(), tiny_task()
    ids, _ = encode_passages(task.texts["test"], VOCAB, 40)
    pooled, states = ge.body_states(encoder, ids, 1, np.arange(len(ids)), batch_size=5)
    whole = EncoderClassifier(encoder, 3).eval()
    torch.testing.assert_close(pooled, passage_features(whole, ids), atol=1e-5, rtol=0)
    alone, _ = ge.body_states(encoder, ids[:1], 1)  # the same passage, without neighbours
    torch.testing.assert_close(alone, pooled[:1], atol=1e-5, rtol=0)
    top = ge.TopClassifier(encoder, 1, whole.head).eval()
    with torch.no_grad():
        logits, _ = top(*ge.pad_states([states[i] for i in range(6)]))
        expected, _ = whole(ids[:6, : int((ids[:6] != PAD_ID).sum(1).max())])
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)


def test_lpft_starts_from_the_head_the_probe_chose_not_one_at_its_learning_rate(monkeypatch):
    gpt, task = tiny_gpt(), tiny_task()
    made, started = {}, []
    real_head, real_top = ge.probe_head, ge.TopClassifier

    def spy_head(features, labels, C, n_classes):
        head = real_head(features, labels, C, n_classes)
        made[id(head)] = C
        return head

    class SpyTop(real_top):
        def __init__(self, gpt, split, head, class_weights=None):
            started.append(made.get(id(head)))
            super().__init__(gpt, split, head, class_weights)

    monkeypatch.setattr(ge, "probe_head", spy_head)
    monkeypatch.setattr(ge, "TopClassifier", SpyTop)
    monkeypatch.setattr(ge, "tune_top", lambda *args, **kwargs: [])  # the start is tested
    grids = {"probe": (0.01, 1.0), "lpft": (1e-4, 1e-3)}  # rates that are no probe's C
    out = ge.run_experiment(
        task, gpt, VOCAB, [30], [0, 1], ["probe", "lpft"], [30], RECIPE, grids, log=lambda _: None
    )
    probe_C = next(c["C"] for c in out["choices"] if c["method"] == "probe")
    lpft = next(c for c in out["choices"] if c["method"] == "lpft")
    assert lpft["head_C"] == probe_C
    assert started == [probe_C] * 3  # two grid points on seed 0, then seed 1
    assert all(r["head_C"] == probe_C for r in out["runs"] if r["method"] == "lpft")
    # With its top block untrained, LP-FT is the probe, run by run.
    runs = {m: [r["test"]["macro_f1"] for r in out["runs"] if r["method"] == m] for m in grids}
    assert runs["lpft"] == pytest.approx(runs["probe"])
    with pytest.raises(ValueError, match="head_C"):
        ge.run_method("lpft", 1e-3, task, np.arange(30), 0, gpt, None, RECIPE)


def test_the_record_hashes_the_code_it_ran_and_names_the_weights_it_read():
    import ast
    from pathlib import Path

    from lmbook.pretrain import book_gpt_record

    here = Path(ge.__file__).parent
    imported = set()
    for name in ("genre_experiment.py", "finetune.py", "encoder.py", "transformer.py"):
        for node in ast.walk(ast.parse((here / name).read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lmbook"):
                parts = node.module.split(".")
                names = [a.name for a in node.names] if len(parts) == 1 else parts[1:2]
                imported |= {f"{n}.py" for n in names}
    # checks, the command line, generation and the weights' loader (the weights are
    # hashed apart) change no number
    unscored = {"validate.py", "execute.py", "pretrain.py", "decoding.py"}
    assert imported - unscored <= set(ge.CODE_FILES)
    assert {"encoder.py", "attention.py"} <= set(ge.CODE_FILES)
    assert ge.body_weights_sha256("book") == book_gpt_record()["weights_sha256"]
    assert ge.body_weights_sha256("random") is None
    vocab = Vocab(book_gpt_record()["vocab"][1:])
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=len(vocab) + 1, block_size=32, n_layer=1, n_head=2, n_embd=16)
    overlap = ge.pretraining_overlap(Encoder(config).eval(), vocab, characters=64)
    assert set(overlap["test_masked_nats_per_char"]) == set(overlap["test"])


def test_rows_never_computed_bad_class_ids_and_short_labels_fail_by_name():
    gpt, task = tiny_gpt(), tiny_task()
    rows = ge.draw_labelled(task.labels["train"], 30, 0)
    inputs = ge.gpt_inputs(task, gpt, VOCAB, RECIPE, None, pooled_rows=rows[:20])
    for method in ("probe", "ft"):  # ten of the thirty rows were never read: NaN
        with pytest.raises(ValueError, match="labelled rows holds NaN in 10 of its 30 rows"):
            ge.run_method(method, 1e-3, task, rows, 0, gpt, inputs, RECIPE)
    y = task.labels["train"][rows[:20]]
    head = ge.probe_head(inputs.pooled["train"][rows[:20]], y, 1.0, 3)
    with pytest.raises(ValueError, match="states never computed"):
        ge.probe_predict(head, inputs.pooled["train"])  # was: NaN rows named class 0
    with pytest.raises(ValueError, match=r"class ids must be from 0 to 2 \(3 classes\)"):
        ge.score(task, "test", -np.ones(len(task.labels["test"]), dtype=int))
    states = [inputs.states["test"][i] for i in range(10)]
    with pytest.raises(ValueError, match="states and labels must have the same length"):
        ge.StateBatches(states, np.zeros(9, dtype=int), 4, 0)


def test_a_run_repeats_exactly_so_the_first_seeds_grid_fit_is_its_run(monkeypatch):
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=len(VOCAB), block_size=64, n_layer=2, n_head=2, n_embd=16, dropout=0.2
    )
    gpt, task = GPT(config).eval(), tiny_task()  # dropout: training draws random numbers
    rows = ge.draw_labelled(task.labels["train"], 30, 0)
    inputs = ge.gpt_inputs(task, gpt, VOCAB, RECIPE, rows)
    losses, real_tune = [], ge.tune_top
    monkeypatch.setattr(ge, "tune_top", lambda *a, **k: losses.append(real_tune(*a, **k)))
    for method in ("ft", "lpft"):
        for disturb in (1, 2):  # whatever the global generator holds before a run
            torch.manual_seed(disturb)
            ge.run_method(method, 1e-2, task, rows, 0, gpt, inputs, RECIPE, head_C=0.1)
        first, second = ([h["loss"] for h in run] for run in losses[-2:])
        assert first == second, method


def test_the_counts_the_experiment_uses_nest_on_the_real_labels():
    labels = ge.genre_task(every=1).labels["train"]
    for seed in (0, 1, 2):
        draws = [set(ge.draw_labelled(labels, n, seed).tolist()) for n in (30, 100, 300)]
        draws += [set(ge.draw_labelled(labels, n, seed).tolist()) for n in (1000, 3000)]
        assert all(a <= b for a, b in zip(draws, draws[1:], strict=False)), seed
