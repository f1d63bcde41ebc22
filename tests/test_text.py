"""Tests of lmbook.text: the character and word tokenizers, and Vocab."""

import numpy as np
import pytest
import torch

from lmbook.text import UNK, Vocab, char_tokenize, word_tokenize

# --- char_tokenize ------------------------------------------------------------------


def test_char_tokenize_keeps_every_character():
    text = "Ay me!\n  O'er\t"
    tokens = char_tokenize(text)
    assert tokens == ["A", "y", " ", "m", "e", "!", "\n", " ", " ", "O", "'", "e", "r", "\t"]
    assert "".join(tokens) == text
    assert char_tokenize("") == []


@pytest.mark.parametrize("function", [char_tokenize, word_tokenize])
@pytest.mark.parametrize("bad", [None, 3, ["a", "b"], b"bytes"])
def test_tokenizers_reject_non_str(function, bad):
    with pytest.raises(TypeError, match="text must be a str"):
        function(bad)


# --- word_tokenize ------------------------------------------------------------------


def test_word_tokenize_docstring_example():
    assert word_tokenize("Fair is foul, and foul is fair.") == [
        "fair",
        "is",
        "foul",
        ",",
        "and",
        "foul",
        "is",
        "fair",
        ".",
    ]


def test_word_tokenize_inner_apostrophes_and_hyphens_stay_in_the_word():
    assert word_tokenize("O'er the well-a-day o’er") == ["o'er", "the", "well-a-day", "o’er"]


def test_word_tokenize_outer_apostrophes_and_dashes_are_tokens():
    assert word_tokenize("'Tis done--go.") == ["'", "tis", "done", "-", "-", "go", "."]
    assert word_tokenize("friends' -x") == ["friends", "'", "-", "x"]


def test_word_tokenize_punctuation_each_its_own_token():
    assert word_tokenize("What?! Ay; no: (yes)...") == [
        "what",
        "?",
        "!",
        "ay",
        ";",
        "no",
        ":",
        "(",
        "yes",
        ")",
        ".",
        ".",
        ".",
    ]


def test_word_tokenize_numbers_and_accents():
    assert word_tokenize("Act 12 Café") == ["act", "12", "café"]


def test_word_tokenize_lower_flag():
    assert word_tokenize("MACBETH Hath", lower=False) == ["MACBETH", "Hath"]
    assert word_tokenize("MACBETH Hath") == ["macbeth", "hath"]


def test_word_tokenize_newlines_flag():
    text = "First Witch:\nWhen shall we\n\nmeet"
    assert word_tokenize(text) == ["first", "witch", ":", "when", "shall", "we", "meet"]
    assert word_tokenize(text, newlines=True) == [
        "first",
        "witch",
        ":",
        "\n",
        "when",
        "shall",
        "we",
        "\n",
        "\n",
        "meet",
    ]


def test_word_tokenize_whitespace_only_is_empty():
    assert word_tokenize("  \t ") == []
    assert word_tokenize("\n\n") == []
    assert word_tokenize("") == []


def test_word_tokenize_drops_no_non_space_character():
    # The module documents that "every other non-space character is a token of its own";
    # an underscore must not vanish.
    assert word_tokenize("a_b") == ["a", "_", "b"]


# --- Vocab --------------------------------------------------------------------------


def test_vocab_docstring_example():
    vocab = Vocab(word_tokenize("Fair is foul, and foul is fair."))
    assert vocab.decode(vocab.encode(["foul", "witch"])) == ["foul", UNK]


def test_vocab_round_trip_on_known_tokens():
    tokens = word_tokenize("When shall we three meet again in thunder, lightning, or in rain?")
    vocab = Vocab(tokens)
    ids = vocab.encode(tokens)
    assert all(isinstance(i, int) for i in ids)
    assert vocab.decode(ids) == tokens
    assert len(set(ids)) == len(set(tokens))
    assert len(vocab) == len(set(tokens)) + 1  # + <unk>


def test_vocab_unknown_tokens_map_to_unk():
    vocab = Vocab(list("abcabc"))
    assert vocab.unk_id == 0
    assert vocab.encode(["a", "z", "?", "c"]) == [vocab.stoi["a"], 0, 0, vocab.stoi["c"]]
    assert vocab.decode(vocab.encode(["z"])) == [UNK]
    assert "z" not in vocab and "a" in vocab and UNK in vocab


def test_vocab_ids_are_specials_first_then_by_frequency():
    tokens = list("abracadabra")  # a:5, b:2, r:2, c:1, d:1; ties in order of appearance
    vocab = Vocab(tokens, specials=["<pad>", "<bos>"])
    assert vocab.itos == [UNK, "<pad>", "<bos>", "a", "b", "r", "c", "d"]
    assert vocab.stoi == {t: i for i, t in enumerate(vocab.itos)}
    assert Vocab(list(tokens), specials=["<pad>", "<bos>"]).itos == vocab.itos


def test_vocab_specials_that_occur_in_the_corpus_keep_their_special_id():
    vocab = Vocab(["<eos>", "x", "<eos>", "<eos>"], specials=["<eos>"])
    assert vocab.itos == [UNK, "<eos>", "x"]


def test_vocab_min_freq_moves_rare_tokens_to_unk():
    tokens = list("aaabbc")
    vocab = Vocab(tokens, min_freq=2)
    assert vocab.itos == [UNK, "a", "b"]
    assert vocab.decode(vocab.encode(tokens)) == ["a", "a", "a", "b", "b", UNK]
    assert Vocab(tokens, min_freq=3).itos == [UNK, "a"]


def test_vocab_without_unk():
    vocab = Vocab(list("abba"), unk=None)
    assert vocab.unk_id is None
    assert vocab.itos == ["a", "b"]
    assert vocab.encode(["b", "a"]) == [1, 0]
    with pytest.raises(ValueError, match="'z'"):
        vocab.encode(["a", "z"])


def test_vocab_without_unk_and_min_freq_rejects_rare_tokens():
    vocab = Vocab(list("aab"), min_freq=2, unk=None)
    assert vocab.itos == ["a"]
    with pytest.raises(ValueError, match="'b'"):
        vocab.encode(["b"])


def test_vocab_empty_corpus():
    with pytest.raises(ValueError, match="empty"):
        Vocab([])
    with pytest.raises(ValueError, match="empty"):
        Vocab(iter(()))


def test_vocab_min_freq_above_every_count():
    with pytest.raises(ValueError, match="min_freq=5"):
        Vocab(list("aab"), min_freq=5)


def test_vocab_str_instead_of_tokens():
    with pytest.raises(TypeError, match="got a str"):
        Vocab("abracadabra")
    vocab = Vocab(list("abc"))
    with pytest.raises(TypeError, match="got a str"):
        vocab.encode("abc")


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_vocab_bad_min_freq(bad):
    with pytest.raises(ValueError, match="min_freq"):
        Vocab(list("aab"), min_freq=bad)


@pytest.mark.parametrize("tokens", [[1, 2, 3], ["a", 2], ["a", None], [("a",), "b"]])
def test_vocab_non_str_tokens(tokens):
    # ["a", None] included: None must be caught like any other non-str token
    with pytest.raises(TypeError, match="tokens must be str"):
        Vocab(tokens)


@pytest.mark.parametrize("bad", [-1, 4, 100])
def test_vocab_decode_out_of_range(bad):
    vocab = Vocab(list("abc"))  # size 4
    with pytest.raises(ValueError, match=f"id {bad} is out of range for a Vocab of size 4"):
        vocab.decode([0, bad])


def test_vocab_decode_accepts_numpy_and_torch_ints():
    vocab = Vocab(list("abcabc"))
    ids = vocab.encode(list("cab"))
    assert vocab.decode(np.array(ids)) == ["c", "a", "b"]
    assert vocab.decode([np.int32(i) for i in ids]) == ["c", "a", "b"]
    assert vocab.decode(torch.tensor(ids)) == ["c", "a", "b"]
    assert vocab.decode([]) == []


@pytest.mark.parametrize("bad", [[None], [object()], [[1]]])
def test_vocab_decode_rejects_non_integers(bad):
    vocab = Vocab(list("abc"))
    with pytest.raises(TypeError, match="ids must be integers"):
        vocab.decode(bad)


@pytest.mark.parametrize("bad", [[1.5], [np.float64(2.7)], ["1"], [True]])
def test_vocab_decode_does_not_coerce_non_integers(bad):
    # decode([1.5]) must not quietly return the token with id 1, nor decode(["1"]) or
    # decode([True]); the code singles out bool, so it means to reject it
    vocab = Vocab(list("abc"))
    with pytest.raises(TypeError, match="ids must be integers"):
        vocab.decode(bad)


def test_vocab_duplicate_specials_are_an_error():
    # Two ids for one token would break the bijection; refuse rather than guess.
    with pytest.raises(ValueError, match="specials must be distinct"):
        Vocab(list("ab"), specials=["<pad>", "<pad>"])


def test_vocab_repr_and_len():
    vocab = Vocab(list("abc"))
    assert len(vocab) == 4
    assert repr(vocab) == "Vocab(size=4, unk='<unk>')"
