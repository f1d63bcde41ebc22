"""Tests of lmbook.word2vec: pair generation, subsampling, the noise distribution, the SGNS
loss and its hand-written gradient, training on a toy corpus with a known answer, the
evaluations against gensim's own, and the errors."""

import math

import numpy as np
import pytest
import torch

from lmbook.word2vec import (
    SkipGramNS,
    SkipGramPairs,
    TrainingLog,
    VectorSpace,
    Word2VecConfig,
    WordVectors,
    build_vocab,
    encode,
    keep_probabilities,
    noise_distribution,
    pca_2d,
    read_analogies,
    read_word_pairs,
    sgd_step,
    sgd_step_shared,
    sgns_loss,
    skipgram_pairs,
    speeches,
    train_sgns,
)

# --- pairs ----------------------------------------------------------------------------


def reference_pairs(ids, sentence_ids, window):
    """Every (center, context) within window in the same sentence, one pair at a time."""
    out = []
    for i in range(len(ids)):
        for j in range(max(0, i - window), min(len(ids), i + window + 1)):
            if j != i and sentence_ids[i] == sentence_ids[j]:
                out.append((int(ids[i]), int(ids[j])))
    return sorted(out)


@pytest.mark.parametrize("window", [1, 2, 3, 7])
def test_pairs_match_a_loop_and_never_cross_sentences(window):
    rng = np.random.default_rng(0)
    ids = np.arange(40)  # every token distinct, so a pair says exactly where it came from
    sentence_ids = np.sort(rng.integers(0, 6, size=40))
    centers, contexts = skipgram_pairs(ids, sentence_ids, window)
    got = sorted(zip(centers.tolist(), contexts.tolist(), strict=True))
    assert got == reference_pairs(ids, sentence_ids, window)
    assert np.all(sentence_ids[centers] == sentence_ids[contexts])
    assert np.all(np.abs(centers - contexts) <= window)


def test_dynamic_windows_are_uniform_and_stay_in_the_sentence():
    ids = np.arange(20_000)
    sentence_ids = np.arange(20_000) // 50
    centers, contexts = skipgram_pairs(
        ids, sentence_ids, 4, np.ones(20_000), np.random.default_rng(1)
    )
    assert np.all(sentence_ids[centers] == sentence_ids[contexts])
    distance = np.abs(centers - contexts)
    assert distance.min() == 1 and distance.max() == 4
    # with b ~ U{1..4}, a context at distance d is kept with probability (5 - d) / 4
    share = np.bincount(distance, minlength=5)[1:] / np.bincount(distance)[1]
    np.testing.assert_allclose(share, [1, 3 / 4, 2 / 4, 1 / 4], atol=0.03)


def test_subsampling_keeps_words_with_the_right_probability():
    counts = np.array([50_000, 5_000, 500, 50])
    keep = keep_probabilities(counts, sample=1e-3)
    f = counts / counts.sum()
    np.testing.assert_allclose(keep, np.minimum(1, (np.sqrt(f / 1e-3) + 1) * 1e-3 / f))
    assert keep[0] < keep[1] < 1 and keep[3] == 1  # frequent words dropped, rare ones kept
    # One long sentence, window 1: every kept token is the center of two pairs.
    ids = np.random.default_rng(2).permutation(np.repeat(np.arange(4), counts))
    kept = np.zeros(4)
    for seed in range(10):
        centers, _ = skipgram_pairs(ids, np.zeros_like(ids), 1, keep, np.random.default_rng(seed))
        kept += np.bincount(centers, minlength=4) / 2
    np.testing.assert_allclose(kept / (10 * counts), keep, atol=0.02)
    assert np.all(keep_probabilities(counts, 0) == 1)


def test_subsampling_inside_pair_generation_drops_frequent_words():
    ids = np.tile([0, 0, 0, 0, 1], 4000)
    keep = np.array([0.25, 1.0])
    centers, _ = skipgram_pairs(ids, np.zeros_like(ids), 1, keep, np.random.default_rng(3))
    # word 0 is 4 times as common as word 1 but kept a quarter of the time
    assert 0.8 < np.mean(centers == 0) / np.mean(centers == 1) < 1.25


def test_noise_distribution_is_unigram_to_the_three_quarters():
    counts = np.array([81, 16, 1])
    p = noise_distribution(counts)
    np.testing.assert_allclose(p.numpy(), np.array([27, 8, 1]) / 36)
    assert math.isclose(float(noise_distribution(counts, 1.0)[0]), 81 / 98)
    assert torch.allclose(
        noise_distribution(counts, 0.0), torch.full((3,), 1 / 3, dtype=torch.float64)
    )


# --- the loss and its gradient --------------------------------------------------------


def test_sgns_loss_matches_a_hand_computed_value():
    v_c = torch.tensor([[1.0, 0.0]])
    u_o = torch.tensor([[2.0, 0.0]])  # u_o·v_c = 2
    u_k = torch.tensor([[[1.0, 5.0], [-1.0, 0.0]]])  # u_k·v_c = 1 and -1
    expected = math.log(1 + math.exp(-2)) + math.log(1 + math.exp(1)) + math.log(1 + math.exp(-1))
    assert math.isclose(float(sgns_loss(v_c, u_o, u_k)), expected, rel_tol=1e-6)


def test_sgns_loss_passes_the_books_check():
    from lmbook.checks import check_sgns_loss

    assert check_sgns_loss(sgns_loss)


def test_hand_written_gradient_step_equals_autograd_sgd():
    torch.manual_seed(0)
    model = SkipGramNS(12, 6).double()
    torch.nn.init.normal_(model.u.weight)
    center = torch.tensor([0, 3, 3, 5])
    context = torch.tensor([1, 2, 4, 0])
    negatives = torch.tensor([[6, 7], [8, 3], [1, 1], [9, 10]])
    reference = SkipGramNS(12, 6).double()
    reference.load_state_dict(model.state_dict())
    loss = reference(center, context, negatives) * len(center)  # summed: lr is per pair
    loss.backward()
    lr = 0.1
    got = sgd_step(model, center, context, negatives, lr)
    assert math.isclose(got, loss.item() / len(center), rel_tol=1e-9)
    for mine, ref in [(model.v, reference.v), (model.u, reference.u)]:
        torch.testing.assert_close(mine.weight, ref.weight - lr * ref.weight.grad)


@pytest.mark.parametrize("group", [1, 3, 12])
def test_shared_step_is_the_plain_step_with_each_groups_noise_words_repeated(group):
    torch.manual_seed(0)
    plain = SkipGramNS(40, 6).double()
    torch.nn.init.normal_(plain.u.weight)
    shared = SkipGramNS(40, 6).double()
    shared.load_state_dict(plain.state_dict())
    center, context = torch.randint(40, (12,)), torch.randint(40, (12,))
    negatives = torch.randint(40, (12 // group, 4))  # (n, K), words repeat across groups
    expected = sgd_step(plain, center, context, negatives.repeat_interleave(group, 0), 0.1)
    got = sgd_step_shared(shared, center, context, negatives, 0.1)
    assert math.isclose(got, expected, rel_tol=1e-12)
    for mine, ref in [(shared.v, plain.v), (shared.u, plain.u)]:
        torch.testing.assert_close(mine.weight, ref.weight, rtol=0, atol=1e-12)
        assert not torch.equal(ref.weight, SkipGramNS(40, 6).double().u.weight)


def test_shared_step_refuses_groups_that_do_not_divide_the_batch():
    model = SkipGramNS(10, 4)
    center = context = torch.arange(10)
    with pytest.raises(ValueError, match=r"10 pairs in n groups of equal size .* \(3, 2\)"):
        sgd_step_shared(model, center, context, torch.zeros(3, 2, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match=r"got shape \(10,\)"):
        sgd_step_shared(model, center, context, torch.zeros(10, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match="group must be an int >= 1, got 0"):
        Word2VecConfig(group=0)
    with pytest.raises(ValueError, match="batch_size=100 must be a multiple of group=16"):
        Word2VecConfig(batch_size=100)


def test_train_sgns_shares_noise_words_by_group_and_not_in_a_short_last_batch(monkeypatch):
    """41 sentences of 8 words and window 1 make 574 pairs: 11 batches of 48 in groups of
    8, then 46 pairs, which the plain step trains, each pair with its group's row."""
    import lmbook.word2vec as w2v

    seen = []
    plain, shared = w2v.sgd_step, w2v.sgd_step_shared

    def spy(kind, step):
        def wrapped(model, center, context, negatives, lr):
            seen.append((kind, len(center), tuple(negatives.shape)))
            return step(model, center, context, negatives, lr)

        return wrapped

    monkeypatch.setattr(w2v, "sgd_step", spy("plain", plain))
    monkeypatch.setattr(w2v, "sgd_step_shared", spy("shared", shared))
    sentences = toy_corpus(41)
    words, counts = build_vocab(sentences, min_count=1)
    ids, sentence_ids = encode(sentences, words)
    config = Word2VecConfig(dim=4, window=1, negative=3, sample=0, epochs=1, batch_size=48, group=8)
    model = SkipGramNS(len(words), 4)
    train_sgns(
        model, ids, sentence_ids, counts, config, torch.Generator().manual_seed(0), progress=False
    )
    assert seen == [("shared", 48, (6, 3))] * 11 + [("plain", 46, (46, 3))]
    assert torch.isfinite(model.u.weight).all() and model.u.weight.abs().sum() > 0


# --- training -------------------------------------------------------------------------


def test_training_log_records_average_the_last_every_batches():
    """The end-of-epoch record after a short tail averages the last `every` batches, not
    the tail alone (a lone short last batch made the curve end with a false uptick)."""
    log = TrainingLog(corpus_words=6, epochs=1, progress=False, every=4)
    for loss in (1.0, 2.0, 3.0, 4.0, 5.0, 9.0):
        log.update(loss, 0.1, words=1.0, epoch=0)
    history = log.close()
    assert [r["step"] for r in history] == [4, 6]
    assert history[0]["loss"] == 2.5 and history[1]["loss"] == (3 + 4 + 5 + 9) / 4


def toy_corpus(n_sentences=600, seed=0):
    """Two groups of words that never share a sentence."""
    rng = np.random.default_rng(seed)
    groups = [["cat", "dog", "mouse", "horse"], ["sun", "moon", "star", "sky"]]
    return [list(rng.choice(groups[s % 2], size=8)) for s in range(n_sentences)]


def test_training_lowers_the_loss_and_separates_groups_that_never_meet():
    sentences = toy_corpus()
    words, counts = build_vocab(sentences, min_count=1)
    ids, sentence_ids = encode(sentences, words)
    torch.manual_seed(0)
    model = SkipGramNS(len(words), 10)
    config = Word2VecConfig(dim=10, window=2, negative=3, sample=0, epochs=5, batch_size=64)
    center, context = (torch.as_tensor(a) for a in skipgram_pairs(ids, sentence_ids, 2))
    negatives = torch.multinomial(noise_distribution(counts), len(center) * 3, True).view(-1, 3)
    with torch.no_grad():
        before = float(model(center, context, negatives))  # (1 + K) log 2: u starts at zero
    history = train_sgns(
        model, ids, sentence_ids, counts, config, torch.Generator().manual_seed(0), progress=False
    )
    with torch.no_grad():
        after = float(model(center, context, negatives))
    assert math.isclose(before, 4 * math.log(2), rel_tol=1e-6)
    assert after < 0.7 * before and history[-1]["loss"] < 0.7 * before
    wv = WordVectors(words, model.vectors())
    within = np.mean([wv.similarity("cat", "dog"), wv.similarity("sun", "moon")])
    across = np.mean([wv.similarity("cat", "sun"), wv.similarity("dog", "moon")])
    assert within > across + 0.5
    assert {w for w, _ in wv.most_similar("cat", topn=3)} == {"dog", "mouse", "horse"}


def test_dataset_works_with_a_dataloader():
    from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

    pairs = SkipGramPairs(np.arange(10), np.arange(10, 20))
    assert len(pairs) == 10 and pairs[3] == (torch.tensor(3), torch.tensor(13))
    loader = DataLoader(
        pairs, sampler=BatchSampler(SequentialSampler(pairs), 4, False), batch_size=None
    )
    batches = list(loader)
    assert [len(c) for c, _ in batches] == [4, 4, 2]
    assert torch.equal(batches[1][1], torch.tensor([14, 15, 16, 17]))


# --- evaluation, against gensim -------------------------------------------------------


@pytest.fixture(scope="module")
def gensim_vectors():
    gensim = pytest.importorskip("gensim")
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    words = sorted(
        {
            w.lower()
            for name in ["wordsim353.tsv", "simlex999.txt"]
            for line in open(datapath(name))
            if not line.startswith("#")
            for w in line.split("\t")[:2]
        }
    )
    words = words[: int(len(words) * 0.8)]  # leave some pairs out of vocabulary
    kv = KeyedVectors(vector_size=20)
    kv.add_vectors(words, np.random.default_rng(0).normal(size=(len(words), 20)).astype(np.float32))
    return gensim, kv, datapath


@pytest.mark.parametrize("name", ["wordsim353.tsv", "simlex999.txt"])
def test_word_pair_evaluation_matches_gensim(gensim_vectors, name):
    _, kv, datapath = gensim_vectors
    ours = WordVectors.from_gensim(kv).evaluate_word_pairs(datapath(name))
    _, spearman, oov_percent = kv.evaluate_word_pairs(datapath(name))
    assert math.isclose(ours["spearman"], spearman.statistic, abs_tol=1e-9)
    assert math.isclose(ours["oov"] * 100, oov_percent, abs_tol=1e-9)
    assert 0 < ours["oov"] < 1


def test_analogy_evaluation_matches_gensim():
    pytest.importorskip("gensim")
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    questions = [
        line.lower().split()
        for line in open(datapath("questions-words.txt"))
        if not line.startswith(":")
    ]
    words = sorted({w for q in questions[:3000] for w in q})
    kv = KeyedVectors(vector_size=8)
    rng = np.random.default_rng(1)
    base = rng.normal(size=(len(words), 8)).astype(np.float32)
    kv.add_vectors(words, base)
    ours = WordVectors.from_gensim(kv).evaluate_analogies(datapath("questions-words.txt"))
    score, sections = kv.evaluate_word_analogies(datapath("questions-words.txt"))
    total = next(s for s in sections if s["section"] == "Total accuracy")
    assert ours["covered"] == len(total["correct"]) + len(total["incorrect"])
    assert math.isclose(ours["accuracy"], score, abs_tol=1e-9)


def test_analogy_and_neighbours_on_constructed_vectors():
    words = ["man", "woman", "king", "queen", "apple"]
    vectors = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [-1, 0, 0]], dtype=float)
    wv = WordVectors(words, vectors)
    assert wv.analogy("man", "woman", "king")[0][0] == "queen"
    assert wv.most_similar("man", topn=4)[-1][0] == "apple"


def test_pca_finds_the_direction_of_largest_variance():
    rng = np.random.default_rng(0)
    x = np.outer(rng.normal(size=200), [3.0, 4.0, 0.0]) + 0.01 * rng.normal(size=(200, 3))
    xy = pca_2d(x)
    assert xy.shape == (200, 2) and np.var(xy[:, 0]) > 1000 * np.var(xy[:, 1])


def test_vector_space_is_what_word_vectors_build_on(tmp_path):
    words = ["king", "queen", "apple"]
    vectors = np.array([[1.0, 0.1], [1.0, 0.2], [-1.0, 0.0]])
    space, scored = VectorSpace(words, vectors), WordVectors(words, vectors)
    assert isinstance(scored, VectorSpace)
    assert space.most_similar("king", 2) == scored.most_similar("king", 2)
    assert space.most_similar("king", 1)[0][0] == "queen"
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# a comment\nKing\tqueen\t9.0\nking\tapple\t1.5\n", encoding="utf-8")
    assert read_word_pairs(str(pairs)) == [("king", "queen", 9.0), ("king", "apple", 1.5)]
    questions = tmp_path / "questions.txt"
    questions.write_text(": capitals\nAthens Greece Rome Italy\n\n", encoding="utf-8")
    assert read_analogies(str(questions)) == [["athens", "greece", "rome", "italy"]]


def test_speeches_drop_speakers_and_punctuation():
    text = "HAMLET:\nTo be, or not to be.\n\nOPHELIA:\nGood my lord,\nHow does your honour?"
    assert speeches(text) == [
        ["to", "be", "or", "not", "to", "be"],
        ["good", "my", "lord", "how", "does", "your", "honour"],
    ]


# --- errors ---------------------------------------------------------------------------


def test_errors_name_the_bad_input():
    with pytest.raises(ValueError, match="empty"):
        build_vocab([[], []])
    with pytest.raises(ValueError, match="empty"):
        build_vocab([])
    with pytest.raises(TypeError, match="token lists"):
        build_vocab(["to be or not to be"])
    with pytest.raises(ValueError, match="window must be an int >= 1, got 0"):
        skipgram_pairs(np.arange(3), np.zeros(3, dtype=int), 0)
    with pytest.raises(ValueError, match="negative must be an int >= 1, got 0"):
        Word2VecConfig(negative=0)
    with pytest.raises(ValueError, match="window must be an int >= 1, got 0"):
        Word2VecConfig(window=0)
    wv = WordVectors(["king", "queen"], np.eye(2))
    with pytest.raises(ValueError, match="'kingg' is not in the vocabulary"):
        wv.most_similar("kingg")
    with pytest.raises(ValueError, match="'prince'"):
        wv.analogy("king", "queen", "prince")
    with pytest.raises(ValueError, match="empty"):
        train_sgns(
            SkipGramNS(2, 2),
            np.zeros(0, int),
            np.zeros(0, int),
            np.ones(2),
            Word2VecConfig(),
            torch.Generator(),
            progress=False,
        )
    with pytest.raises(ValueError, match="positive"):
        noise_distribution(np.array([3, 0]))
    with pytest.raises(
        ValueError, match="no word occurs min_count=3 times; the most frequent occurs 2"
    ):
        build_vocab([["a", "b", "a"]], min_count=3)
    with pytest.raises(ValueError, match="empty"):
        encode([["a", "b"]], ["c"])
    with pytest.raises(ValueError, match="1-D of equal length"):
        skipgram_pairs(np.arange(3), np.zeros(2, dtype=int), 1)
    with pytest.raises(ValueError, match="sample must be a number >= 0, got -0.1"):
        keep_probabilities(np.ones(3), -0.1)
    with pytest.raises(ValueError, match="lr must be a number > 0, got 0"):
        Word2VecConfig(lr=0)
    with pytest.raises(ValueError, match="need one vector per word: 3 words"):
        WordVectors(["a", "b", "c"], np.eye(2))
    with pytest.raises(TypeError, match="text must be a str, got list"):
        speeches(["HAMLET:", "To be"])
