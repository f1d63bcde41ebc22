"""lmbook's byte-pair encoding against the `tokenizers` package's, on the book's corpus."""

import json

import pytest
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

from lmbook import data
from lmbook.bpe import BPE, PATTERN, UNK


@pytest.fixture(scope="module")
def corpus():
    return data.shakespeare("train")[:300_000], data.shakespeare("validation")[:50_000]


@pytest.fixture(scope="module")
def both(corpus):
    """lmbook's BPE and Hugging Face's, trained on the same text to the same size."""
    text, _ = corpus
    hf = Tokenizer(models.BPE(unk_token=UNK))
    hf.pre_tokenizer = pre_tokenizers.Split(Regex(PATTERN), behavior="isolated")
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=[UNK], show_progress=False)
    hf.train_from_iterator([text], trainer)
    return BPE.train(text, vocab_size=400), hf


def test_the_merges_and_the_vocabulary_are_the_tokenizers_packages(both):
    ours, hf = both
    model = json.loads(hf.to_str())["model"]
    theirs = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    assert len(ours.merges) > 300
    assert ours.merges == theirs
    assert {t: i for i, t in enumerate(ours.tokens)} == model["vocab"]
    assert len(ours) == 400


def test_encoding_held_out_text_gives_the_same_ids(both, corpus):
    ours, hf = both
    _, valid = corpus
    ids = ours.encode(valid)
    assert ids == hf.encode(valid).ids
    assert len(ids) < len(valid) / 1.8  # the merges pay: fewer tokens than characters


def test_decode_inverts_encode(both, corpus):
    ours, _ = both
    _, valid = corpus
    assert ours.decode(ours.encode(valid)) == valid


def test_an_unseen_character_is_unk_and_merges_stop_at_it():
    bpe = BPE.train("abab abab", vocab_size=6)
    assert bpe.encode("abzab") == [bpe.ids["ab"], 0, bpe.ids["ab"]]
    assert bpe.decode(bpe.encode("abzab")) == f"ab{UNK}ab"


def test_merges_never_cross_a_word():
    bpe = BPE.train("a b a b a b a b", vocab_size=30)
    assert all(" " not in a + b or (a + b).startswith(" ") for a, b in bpe.merges)
    assert "a b" not in bpe.tokens


def test_two_merges_that_spell_the_same_token_share_its_id():
    # 'ab' + 'c' and 'a' + 'bc' both spell 'abc'; the second merge reuses its id
    bpe = BPE(["a", "b", "c"], [("a", "b"), ("b", "c"), ("ab", "c"), ("a", "bc")])
    assert bpe.tokens.count("abc") == 1
    assert bpe.ranks[bpe.ids["ab"], bpe.ids["c"]] == 2
    assert bpe.ranks[bpe.ids["a"], bpe.ids["bc"]] == 3


def test_a_pair_is_merged_left_to_right_without_overlap():
    bpe = BPE.train("aaa aaa aaa", vocab_size=4)  # <unk>, a, ' ', and 'aa'
    assert [bpe.tokens[i] for i in bpe.encode("aaa")] == ["aa", "a"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: BPE.train("abc", vocab_size=2), "vocab_size"),
        (lambda: BPE.train(["abc"], vocab_size=10), "text"),
        (lambda: BPE.train("abc", vocab_size=10).encode(b"abc"), "text"),
        (lambda: BPE.train("abc", vocab_size=10).decode([99]), "99"),
    ],
)
def test_bad_inputs_are_refused_by_name(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


def test_a_record_rebuilds_the_same_tokenizer_through_json(both, corpus):
    ours, _ = both
    _, valid = corpus
    again = BPE.from_record(json.loads(json.dumps(ours.to_record())))
    assert again.tokens == ours.tokens and again.merges == ours.merges
    assert again.encode(valid) == ours.encode(valid)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r | {"pattern": r" ?\w+"}, "splits words by another pattern"),
        (lambda r: {k: v for k, v in r.items() if k != "merges"}, "lacks merges"),
        (lambda r: r | {"alphabet": r["alphabet"] + ["ab"]}, "alphabet is not single"),
        (lambda r: r | {"merges": r["merges"] + [["a"]]}, "merges are not pairs"),
        (lambda r: r | {"tokens": r["tokens"] + 1}, "rebuilds 400 tokens, not its recorded 401"),
        (lambda r: r | {"tokens": "400"}, "size is not an int"),
    ],
)
def test_a_damaged_or_foreign_record_is_refused_by_name(both, change, message):
    record = change(both[0].to_record())
    with pytest.raises(ValueError, match=message):
        BPE.from_record(record, where="book.json's tokenizer")
    with pytest.raises(ValueError, match="book.json's tokenizer"):
        BPE.from_record(record, where="book.json's tokenizer")
