"""Tests of lmbook.runtime: device(), seed(), mode() and by_mode()."""

import random

import numpy as np
import pytest
import torch

from lmbook import runtime


def _mps_available() -> bool:
    return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()


# --- device() -----------------------------------------------------------------------


def test_device_picks_the_best_available_kind(monkeypatch):
    monkeypatch.delenv("LMBOOK_DEVICE", raising=False)
    if torch.cuda.is_available():
        expected = "cuda"
    elif _mps_available():
        expected = "mps"
    else:
        expected = "cpu"  # this machine
    got = runtime.device()
    assert isinstance(got, torch.device)
    assert got.type == expected


def test_device_empty_variable_means_automatic(monkeypatch):
    monkeypatch.delenv("LMBOOK_DEVICE", raising=False)
    automatic = runtime.device()
    monkeypatch.setenv("LMBOOK_DEVICE", "  ")
    assert runtime.device() == automatic


@pytest.mark.parametrize("value", ["cpu", "CPU", " cpu ", "cpu:0"])
def test_device_override_cpu(monkeypatch, value):
    monkeypatch.setenv("LMBOOK_DEVICE", value)
    assert runtime.device().type == "cpu"


@pytest.mark.parametrize("value", ["tpu", "gpu", "xla:0"])
def test_device_unknown_kind_raises_naming_value_and_allowed(monkeypatch, value):
    monkeypatch.setenv("LMBOOK_DEVICE", value)
    with pytest.raises(ValueError) as info:
        runtime.device()
    message = str(info.value)
    assert repr(value) in message
    assert "LMBOOK_DEVICE" in message
    for allowed in ("cuda", "mps", "cpu"):
        assert allowed in message


def test_device_cuda_without_cuda_raises(monkeypatch):
    monkeypatch.setenv("LMBOOK_DEVICE", "cuda")
    if torch.cuda.is_available():
        assert runtime.device().type == "cuda"
        return
    with pytest.raises(ValueError, match="cuda") as info:
        runtime.device()
    assert "LMBOOK_DEVICE" in str(info.value)


def test_device_cuda_index_without_cuda_raises(monkeypatch):
    monkeypatch.setenv("LMBOOK_DEVICE", "cuda:1")
    if torch.cuda.is_available():
        assert runtime.device() == torch.device("cuda:1")
        return
    with pytest.raises(ValueError, match="'cuda:1'"):
        runtime.device()


# --- seed() -------------------------------------------------------------------------


def _draws():
    return (
        random.random(),
        np.random.rand(4).tolist(),
        torch.rand(4).tolist(),
    )


def test_seed_makes_draws_reproducible():
    runtime.seed(1234)
    first = _draws()
    runtime.seed(1234)
    second = _draws()
    assert first == second


def test_seed_different_seeds_give_different_draws():
    runtime.seed(1)
    a = _draws()
    runtime.seed(2)
    b = _draws()
    assert a[0] != b[0]
    assert a[1] != b[1]
    assert a[2] != b[2]


@pytest.mark.parametrize("n", [0, 2**32 - 1])
def test_seed_accepts_the_full_range(n):
    runtime.seed(n)
    x = np.random.rand()
    runtime.seed(n)
    assert np.random.rand() == x


@pytest.mark.parametrize("bad", [1.0, "1", None, True, np.float64(3.0)])
def test_seed_rejects_non_int(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        runtime.seed(bad)


@pytest.mark.parametrize("bad", [-1, 2**32, 2**40])
def test_seed_rejects_out_of_range(bad):
    with pytest.raises(ValueError, match=str(bad)):
        runtime.seed(bad)


# --- mode() and by_mode() -----------------------------------------------------------


def test_mode_is_full_when_unset(monkeypatch):
    monkeypatch.delenv("LMBOOK_SMOKE", raising=False)
    assert runtime.mode() == "full"
    assert runtime.by_mode(full=5_000, smoke=20) == 5_000


@pytest.mark.parametrize("value", ["", "0", "false", "No", " off "])
def test_mode_full_values(monkeypatch, value):
    monkeypatch.setenv("LMBOOK_SMOKE", value)
    assert runtime.mode() == "full"
    assert runtime.by_mode(full="big", smoke="tiny") == "big"


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_mode_smoke_values(monkeypatch, value):
    monkeypatch.setenv("LMBOOK_SMOKE", value)
    assert runtime.mode() == "smoke"
    assert runtime.by_mode(full=5_000, smoke=20) == 20


@pytest.mark.parametrize("value", ["2", "maybe", "smoke"])
def test_mode_unknown_value_raises(monkeypatch, value):
    monkeypatch.setenv("LMBOOK_SMOKE", value)
    with pytest.raises(ValueError, match="LMBOOK_SMOKE") as info:
        runtime.mode()
    assert repr(value) in str(info.value)
    with pytest.raises(ValueError):
        runtime.by_mode(full=1, smoke=2)


def test_by_mode_mixes_int_and_float(monkeypatch):
    monkeypatch.setenv("LMBOOK_SMOKE", "0")
    assert runtime.by_mode(full=1e-3, smoke=1) == 1e-3
    monkeypatch.setenv("LMBOOK_SMOKE", "1")
    assert runtime.by_mode(full=1e-3, smoke=1) == 1


def test_by_mode_allows_none(monkeypatch):
    monkeypatch.setenv("LMBOOK_SMOKE", "1")
    assert runtime.by_mode(full=None, smoke=100) == 100
    monkeypatch.setenv("LMBOOK_SMOKE", "0")
    assert runtime.by_mode(full=None, smoke=100) is None


@pytest.mark.parametrize(
    ("full", "smoke"),
    [("5000", 20), (5_000, "20"), ([1, 2], (1, 2)), ({"a": 1}, [1])],
)
def test_by_mode_mismatched_types_raise(monkeypatch, full, smoke):
    monkeypatch.setenv("LMBOOK_SMOKE", "1")
    with pytest.raises(TypeError, match="same type"):
        runtime.by_mode(full=full, smoke=smoke)
