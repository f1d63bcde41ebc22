"""lmbook.analysis: surprisal against brute force, corruptions, embeddings, k-means, streams."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lmbook.analysis import (
    TextWindows,
    corrupt_lines,
    kmeans,
    line_scores,
    passage_embeddings,
    stream_surprisal,
    surprisal_html,
    token_surprisal,
    window_spans,
)
from lmbook.data import Line, spoken_lines
from lmbook.finetune import hidden_states
from lmbook.text import Vocab, char_tokenize
from lmbook.transformer import GPT, GPTConfig

TEXT = (
    "HAMLET:\nTo be, or not to be, that is the question.\n\n"
    "OPHELIA:\nGood my lord,\nHow does your honour?\n"
)


def tiny_gpt(vocab_size: int = 30, block_size: int = 8) -> GPT:
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=2, n_head=2, n_embd=16)
    return GPT(cfg).double().eval()


def test_window_spans_score_every_prediction_once():
    for n, L, stride in [(2, 4, 2), (10, 4, 2), (37, 8, 3), (8, 8, 8), (100, 16, 16)]:
        scored = []
        for start, end, keep in window_spans(n, L, stride):
            assert 0 <= start < end <= n - 1 and end - start <= L and 1 <= keep <= end - start
            scored += range(end - keep, end)  # prediction j = ids[j + 1] from ids[: j + 1]
        assert scored == list(range(n - 1))
    with pytest.raises(
        ValueError, match=r"stride must be an int in \[1, 4\], got 5: windows must overlap"
    ):
        window_spans(10, 4, 5)
    with pytest.raises(ValueError, match="n_ids must be an int >= 2"):
        window_spans(1, 4, 2)


def test_token_surprisal_equals_brute_force_and_nats_per_token():
    model = tiny_gpt()
    ids = torch.randint(0, 30, (29,), generator=torch.Generator().manual_seed(1))
    L = model.config.block_size
    stride = 3
    nats = token_surprisal(model, ids, batch_size=2, stride=stride)
    assert nats.shape == (28,) and nats.dtype == torch.float32
    # Brute force: the window whose prediction scores id t is the one of window_spans.
    expected = []
    for start, end, keep in window_spans(len(ids), L, stride):
        for j in range(end - keep, end):  # one forward per position, its own left context
            logits, _ = model(ids[start : j + 1][None])
            expected.append(-torch.log_softmax(logits[0, -1], -1)[ids[j + 1]])
    torch.testing.assert_close(nats, torch.stack(expected).float(), rtol=1e-5, atol=1e-5)
    # With the default stride, the mean is the model's own nats per token.
    assert token_surprisal(model, ids).double().mean().item() == pytest.approx(
        model.nats_per_token(ids), rel=1e-5
    )
    # A position with its whole context inside one window: exactly its full left context.
    logits, _ = model(ids[:5][None])
    full = -torch.log_softmax(logits[0, -1], -1)[ids[5]]
    assert nats[4].item() == pytest.approx(full.item(), rel=1e-6)


def test_token_surprisal_errors():
    model = tiny_gpt()
    with pytest.raises(TypeError, match="encode it with a Vocab"):
        token_surprisal(model, "abc")
    with pytest.raises(ValueError, match="at least 2 ids"):
        token_surprisal(model, [3])
    with pytest.raises(TypeError, match="lmbook GPT"):
        token_surprisal(torch.nn.Linear(2, 2), [1, 2])


def test_spoken_lines_and_line_scores():
    lines = spoken_lines(TEXT)
    assert [line.speaker for line in lines] == ["HAMLET", "OPHELIA", "OPHELIA"]
    for line in lines:
        assert TEXT[line.start : line.start + len(line.text)] == line.text
    nats = torch.arange(len(TEXT), dtype=torch.float32)
    scores = line_scores(lines, nats)
    first = lines[0]
    span = nats[first.start : first.start + len(first.text) + 1]  # with its newline
    assert scores[0].item() == pytest.approx(span.mean().item())
    assert scores.shape == (3,)
    with pytest.raises(ValueError, match="past the"):
        line_scores([Line("x" * 10, "A", len(TEXT) - 2)], nats)


def test_corrupt_lines_rate_kinds_and_seed():
    lines = [f"line {i} has several words in it" for i in range(400)] + ["Ay."] * 50
    out, labels, kinds = corrupt_lines(lines, rate=0.2, seed=3)
    assert sum(labels) == round(0.2 * len(lines))
    assert not any(labels[400:])  # too short to corrupt
    assert (out, labels, kinds) == corrupt_lines(lines, rate=0.2, seed=3)
    assert set(kinds) == {None, "shuffle", "swap", "foreign"}
    for old, new, label, kind in zip(lines, out, labels, kinds, strict=True):
        assert label == (kind is not None)
        if not label:
            assert new == old
        elif kind == "shuffle":
            assert new != old and sorted(new.split()) == sorted(old.split())
        elif kind == "swap":
            assert new != old and sorted(new) == sorted(old) and len(new) == len(old)
        else:
            assert new in lines and new != old
    only, _, kinds = corrupt_lines(lines, rate=0.1, kinds=["swap"], seed=0)
    assert {k for k in kinds if k} == {"swap"}
    with pytest.raises(ValueError, match="kinds must be"):
        corrupt_lines(lines, rate=0.1, kinds=["reverse"])
    with pytest.raises(ValueError, match="rate must be a number in"):
        corrupt_lines(lines, rate=1.5)
    with pytest.raises(ValueError, match="three or more words"):
        corrupt_lines(lines, rate=0.95)


def test_passage_embeddings_mean_of_hidden_states_ignoring_padding():
    vocab = Vocab(char_tokenize(TEXT))
    model = tiny_gpt(len(vocab), block_size=16)
    texts = ["To be, or not", "Good my lord, how does your honour?", "Ay"]
    vectors = passage_embeddings(model, texts, vocab, batch_size=2)
    assert vectors.shape == (3, 16)
    for text, vector in zip(texts, vectors, strict=True):
        ids = torch.tensor([vocab.encode(list(text[:16]))])
        expected = hidden_states(model, ids)[0].mean(0).float()  # alone: no padding
        torch.testing.assert_close(vector, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="empty"):
        passage_embeddings(model, ["a", ""], vocab)
    with pytest.raises(TypeError, match="wrap it in a list"):
        passage_embeddings(model, "abc", vocab)


def test_kmeans_matches_scikit_learn():
    cluster = pytest.importorskip("sklearn.cluster")
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(c, 1.0, size=(40, 5)) for c in (0.0, 2.5, 5.0)])
    init = x[[0, 1, 2]]  # a poor start, all in one blob: Lloyd's steps must move it
    reference = cluster.KMeans(3, init=init, n_init=1, algorithm="lloyd", tol=0).fit(x)
    labels, centroids = kmeans(torch.tensor(x), 3, init=torch.tensor(init))
    assert labels.tolist() == reference.labels_.tolist()
    np.testing.assert_allclose(centroids.numpy(), reference.cluster_centers_, atol=1e-10)
    # From k-means++ seeds, on separate blobs: scikit-learn's partition and inertia.
    x = np.concatenate([rng.normal(c, 1.0, size=(40, 5)) for c in (0.0, 8.0, 16.0)])
    labels, centroids = kmeans(torch.tensor(x), 3, seed=0)
    inertia = ((torch.tensor(x) - centroids[labels]) ** 2).sum().item()
    best = cluster.KMeans(3, n_init=10, random_state=0).fit(x)
    assert inertia == pytest.approx(best.inertia_, rel=1e-9)
    pairs = set(zip(labels.tolist(), best.labels_.tolist(), strict=True))
    assert len(pairs) == 3  # the same clusters, perhaps numbered differently
    with pytest.raises(ValueError, match="need at least 3 points"):
        kmeans(torch.zeros(2, 2), 3)
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor \(n, d\)"):
        kmeans(torch.zeros(5, dtype=torch.long), 2)


def test_text_windows_shard_across_workers_and_stream_equals_in_memory(tmp_path):
    texts = [TEXT, TEXT.upper()[:40], "OPHELIA:\nHow does your honour?\n" * 3, TEXT[::-1]]
    vocab = Vocab(char_tokenize("".join(texts) + "\n"))
    paths = []
    for i, text in enumerate(texts):
        paths.append(tmp_path / f"part{i}.txt")
        paths[-1].write_text(text, encoding="utf-8")
    dataset = TextWindows(paths, vocab, block_size=8, stride=3)
    alone = [(i, x.tolist(), y.tolist()) for i, x, y in dataset]
    loader = DataLoader(dataset, batch_size=5, num_workers=2)
    both = [
        (i, x.tolist(), y.tolist())
        for index, xs, ys in loader
        for i, x, y in zip(index.tolist(), xs, ys, strict=True)
    ]
    assert len(both) == len(alone) and sorted(both) == sorted(alone)  # each window exactly once
    model = tiny_gpt(len(vocab), block_size=8)
    totals = stream_surprisal(model, DataLoader(dataset, batch_size=4), "cpu", progress=False)
    for i, text in enumerate(texts):
        ids = torch.tensor(vocab.encode(list("\n" + text)))
        nats = token_surprisal(model, ids, stride=3)
        assert totals[i][1] == len(text) == len(nats)
        assert totals[i][0] == pytest.approx(nats.double().sum().item(), rel=1e-5)
    with pytest.raises(TypeError, match="wrap it in a list"):
        TextWindows(paths[0], vocab, block_size=8)


def test_surprisal_html():
    page = surprisal_html(["a", "<", "\n"], [0.0, 8.0, 20.0])
    assert "rgb(255,255,255)" in page and page.count("rgb(255,0,0)") == 2
    assert "&lt;" in page and "<br>" in page
    with pytest.raises(ValueError, match="same length"):
        surprisal_html(["a"], [1.0, 2.0])
