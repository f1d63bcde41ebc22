"""The book's GPT: the shipped weights are the model their record describes."""

import json
import shutil

import pytest
import torch

from lmbook import data
from lmbook.pretrain import (
    NAME,
    SLICE,
    WEIGHTS_DIR,
    Recipe,
    book_gpt_record,
    config_for,
    load_book_encoder,
    load_book_gpt,
    main,
)
from lmbook.text import char_tokenize
from lmbook.transformer import nats_per_char


@pytest.fixture(scope="module")
def shipped():
    return load_book_gpt()


def test_the_record_says_how_it_was_made(shipped):
    model, vocab = shipped
    record = book_gpt_record()
    assert record["params"] == model.num_params()
    assert record["vocab"] == vocab.itos
    assert record["characters_read"] == record["steps"] * 32 * record["config"]["block_size"]
    assert record["steps"] == Recipe().steps and record["recipe"]["n_embd"] == Recipe().n_embd
    for key in ("seconds", "device", "torch", "code_sha256", "curve", "size_choice"):
        assert record[key], key
    assert record["validation_nats_per_char"] <= 1.40  # issue 16's target
    # the vocabulary is chapter 6's: the training plays' characters, most frequent first
    train_vocab = sorted(set(data.shakespeare("train")))
    assert sorted(vocab.itos[1:]) == train_vocab


def test_the_file_is_small_enough_to_ship(shipped):
    path = WEIGHTS_DIR / f"{NAME}.safetensors"
    assert path.stat().st_size <= 10 * 2**20


def test_the_loaded_model_is_in_eval_mode_and_ties_its_output_layer(shipped):
    model, _ = shipped
    assert not model.training
    assert model.lm_head.weight is model.tok_emb.weight


@pytest.fixture
def copy_of_weights(tmp_path):
    for suffix in ("safetensors", "json"):
        shutil.copy(WEIGHTS_DIR / f"{NAME}.{suffix}", tmp_path / f"{NAME}.{suffix}")
    return tmp_path


def test_a_damaged_weights_file_is_refused_by_name(copy_of_weights):
    path = copy_of_weights / f"{NAME}.safetensors"
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF  # one flipped byte in the last tensor
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"{NAME}.safetensors is not the file its record"):
        load_book_gpt(folder=copy_of_weights)


def test_a_missing_or_damaged_record_is_refused_by_name(copy_of_weights):
    record = copy_of_weights / f"{NAME}.json"
    record.write_text("{not json")
    with pytest.raises(ValueError, match=f"{NAME}.json is damaged"):
        load_book_gpt(folder=copy_of_weights)
    record.unlink()
    with pytest.raises(FileNotFoundError, match="python -m lmbook.pretrain"):
        load_book_gpt(folder=copy_of_weights)


def test_a_record_that_lacks_a_field_or_is_of_another_kind_is_refused_by_name(copy_of_weights):
    path = copy_of_weights / f"{NAME}.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({k: v for k, v in record.items() if k != "weights_sha256"}))
    with pytest.raises(ValueError, match=f"{NAME}.json is damaged: its record lacks weights"):
        load_book_gpt(folder=copy_of_weights)  # was: KeyError('weights_sha256')
    path.write_text(json.dumps(record | {"vocab": record["vocab"][:-1]}))
    with pytest.raises(ValueError, match=f"{NAME}.json is damaged: its vocabulary needs"):
        load_book_gpt(folder=copy_of_weights)  # was: loaded, one id without a character
    for suffix in ("safetensors", "json"):  # the GPT's files under the encoder's name
        shutil.copy(
            copy_of_weights / f"{NAME}.{suffix}", copy_of_weights / f"book_encoder.{suffix}"
        )
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="book_encoder.json records 'gpt' weights, not 'enc"):
        load_book_encoder(folder=copy_of_weights)


def test_a_record_that_does_not_fit_the_weights_is_refused(copy_of_weights):
    path = copy_of_weights / f"{NAME}.json"
    record = json.loads(path.read_text())
    record["config"]["n_layer"] += 1
    path.write_text(json.dumps(record))
    with pytest.raises(ValueError, match="does not fit its record's model"):
        load_book_gpt(folder=copy_of_weights)


def train_briefly(tmp_path, monkeypatch, *flags, train_characters=40_000):
    """The real recipe at 2 steps on slices of the plays: the whole path, in seconds.
    Returns the (training, validation) slices."""
    train = data.shakespeare("train")[:train_characters]
    short = train, data.shakespeare("validation")[:25_000]
    monkeypatch.setattr("lmbook.pretrain.train_and_validation", lambda: short)
    assert main([*flags, "--steps", "2", "--out", str(tmp_path), "--device", "cpu"]) == 0
    return short


def test_the_command_trains_saves_and_loads_a_short_run(tmp_path, monkeypatch):
    train_briefly(tmp_path, monkeypatch)
    model, vocab = load_book_gpt(folder=tmp_path)
    record = book_gpt_record(tmp_path)
    assert record["steps"] == 2 and record["params"] == model.num_params()
    assert record["command"] == "python -m lmbook.pretrain --steps 2"  # what made it
    assert model.config == config_for(Recipe(), len(vocab))
    assert (tmp_path / f"{NAME}.ckpt").is_file()  # what a resumed run would read


def test_the_command_trains_the_books_encoder_by_the_same_recipe(tmp_path, monkeypatch):
    train_briefly(tmp_path, monkeypatch, "--model", "encoder")
    model, vocab = load_book_encoder(folder=tmp_path)
    record = book_gpt_record(tmp_path, kind="encoder")
    assert type(model).__name__ == "Encoder" and not model.training
    assert model.config == config_for(Recipe(), len(vocab) + 1)  # and a [MASK] id
    assert record["kind"] == "encoder"
    assert record["command"] == "python -m lmbook.pretrain --model encoder --steps 2"
    assert 0 < record["validation_masked_nats_per_char"] < 5
    assert (tmp_path / "book_encoder.ckpt").is_file()
    with pytest.raises(FileNotFoundError, match="--model encoder"):
        load_book_encoder(folder=tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="kind must be one of"):
        book_gpt_record(tmp_path, kind="bert")


def test_the_code_hash_reads_every_module_that_makes_the_model_and_its_data():
    import ast
    import inspect

    from lmbook.pretrain import code_modules, code_sha256

    for kind in ("gpt", "encoder", "subword"):
        hashed = {m.__name__ for m in code_modules(kind)}
        for module in code_modules(kind):
            for node in ast.walk(ast.parse(inspect.getsource(module))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lmbook"):
                    parts = node.module.split(".")
                    names = [a.name for a in node.names] if len(parts) == 1 else parts[1:2]
                    # checks, generation, the machine's name and device change no weight;
                    # seq2seq: chapter 4's models, which attention's other classes extend;
                    # parallel: the translation corpus data.py re-exports; finetune: the
                    # classifier encoder.py's EncoderClassifier extends
                    skip = {"validate", "decoding", "execute", "runtime", "seq2seq"}
                    skip |= {"parallel", "finetune"}
                    # imported by pretrain for the other kinds
                    skip |= {"gpt": {"encoder", "bpe"}, "encoder": {"bpe"}, "subword": {"encoder"}}[
                        kind
                    ]
                    assert {f"lmbook.{n}" for n in names if n not in skip} <= hashed, kind
        assert "lmbook.attention" in hashed
    assert len({code_sha256(kind) for kind in ("gpt", "encoder", "subword")}) == 3


@pytest.fixture(scope="module")
def shipped_encoder():
    return load_book_encoder()


def test_the_encoder_record_matches_the_gpt_recipe_and_data(shipped_encoder):
    model, vocab = shipped_encoder
    record, gpt = book_gpt_record(kind="encoder"), book_gpt_record()
    assert record["kind"] == "encoder" and record["params"] == model.num_params()
    assert record["vocab"] == gpt["vocab"] == vocab.itos  # the same characters, [MASK] after
    assert record["recipe"] == gpt["recipe"] and record["steps"] == gpt["steps"]
    assert record["data"] == gpt["data"]
    curve = [point["val_loss"] for point in record["curve"]]
    assert len(curve) == record["steps"] // record["recipe"]["eval_every"]
    assert curve[-1] < curve[0]  # it learned
    assert (WEIGHTS_DIR / "book_encoder.safetensors").stat().st_size <= 10 * 2**20
    assert not model.training


def test_the_command_trains_the_subword_gpt_and_keeps_its_tokenizer(tmp_path, monkeypatch):
    from lmbook.pretrain import load_book_subword_gpt

    # 100,000 training characters hold every character of the 25,000 validation ones
    short = train_briefly(tmp_path, monkeypatch, "--model", "subword", train_characters=100_000)
    model, bpe = load_book_subword_gpt(folder=tmp_path)
    record = book_gpt_record(tmp_path, kind="subword")
    assert record["kind"] == "subword" and len(bpe) == 512 == model.config.vocab_size
    assert model.config == config_for(Recipe(), 512)  # the GPT's shape, BPE tokens
    assert record["tokens_read"] == 2 * 32 * 256 < record["characters_read"]
    assert record["command"] == "python -m lmbook.pretrain --model subword --steps 2"
    found = nats_per_char(model, short[1][:SLICE], bpe.encode, bpe.decode)
    assert found == pytest.approx(record[f"validation_first_{SLICE}"], abs=1e-3)
    # the tokenizer is part of the record: a damaged one is refused by name
    path = tmp_path / "book_subword_gpt.json"
    path.write_text(json.dumps(record | {"tokenizer": record["tokenizer"] | {"tokens": 9}}))
    with pytest.raises(ValueError, match="book_subword_gpt.json's tokenizer is damaged"):
        load_book_subword_gpt(folder=tmp_path)
    path.write_text(json.dumps({k: v for k, v in record.items() if k != "tokenizer"}))
    with pytest.raises(ValueError, match="book_subword_gpt.json is damaged: its record lacks"):
        load_book_subword_gpt(folder=tmp_path)


@pytest.fixture(scope="module")
def shipped_subword():
    from lmbook.pretrain import load_book_subword_gpt

    return load_book_subword_gpt()


def score_first_slice(kind, model, tokenizer):
    """The score its run recorded as validation_first_<SLICE>, computed again."""
    from lmbook.encoder import masked_lm_nats

    text = data.shakespeare("validation")[:SLICE]
    if kind == "subword":
        return nats_per_char(model, text, tokenizer.encode, tokenizer.decode)
    ids = torch.tensor(tokenizer.encode(char_tokenize(text)))
    if kind == "encoder":
        return masked_lm_nats(model, ids, mask_id=len(tokenizer), vocab_size=len(tokenizer))
    return model.nats_per_token(ids)


@pytest.mark.parametrize(
    "kind, fixture",
    [("gpt", "shipped"), ("encoder", "shipped_encoder"), ("subword", "shipped_subword")],
)
def test_each_shipped_model_scores_what_its_run_recorded(kind, fixture, request):
    model, tokenizer = request.getfixturevalue(fixture)
    record = book_gpt_record(kind=kind)
    found = score_first_slice(kind, model, tokenizer)
    assert found == pytest.approx(record[f"validation_first_{SLICE}"], abs=1e-3)


def test_the_subword_record_matches_the_gpt_recipe_data_and_budget(shipped_subword):
    model, bpe = shipped_subword
    record, gpt = book_gpt_record(kind="subword"), book_gpt_record()
    assert record["kind"] == "subword" and record["params"] == model.num_params()
    assert record["recipe"] == gpt["recipe"] and record["steps"] == gpt["steps"]
    assert record["data"] == gpt["data"]  # the same plays, by their sha256
    assert record["tokens_read"] == gpt["characters_read"]  # the same tokens per step
    assert record["vocab"] == bpe.tokens and len(bpe) == 512 == model.config.vocab_size
    assert model.config == config_for(Recipe(), 512)
    curve = [point["val_loss"] for point in record["curve"]]
    assert len(curve) == record["steps"] // record["recipe"]["eval_every"]
    assert curve[-1] < curve[0]  # it learned
    assert (WEIGHTS_DIR / "book_subword_gpt.safetensors").stat().st_size <= 10 * 2**20
    assert not model.training and model.lm_head.weight is model.tok_emb.weight
