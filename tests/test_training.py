"""Tests of lmbook.training: the one loop trains, clips, schedules, evaluates, and fails clearly;
the recipe's parts (groups, schedule, random windows, accumulation, AMP, checkpoints) do
what they say."""

import copy
import functools
import io
import itertools
import math
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lmbook
from lmbook.training import (
    RandomWindows,
    count_parameters,
    fingerprint_differences,
    load_checkpoint,
    mean_loss,
    mixed_precision,
    param_groups,
    run_fingerprint,
    save_checkpoint,
    to_device,
    train,
    warmup_cosine,
    warmup_cosine_schedule,
)


class Regression(nn.Module):
    """The smallest model with the book's contract: forward(x, y) -> (prediction, loss)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 1)

    def forward(self, x, y=None):
        pred = self.linear(x).squeeze(-1)
        return pred, None if y is None else ((pred - y) ** 2).mean()


def regression_batches(n_batches=8, batch_size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.tensor([1.0, -2.0, 0.5])
    out = []
    for _ in range(n_batches):
        x = torch.randn(batch_size, 3, generator=g)
        out.append((x, x @ w + 0.3))
    return out


def test_train_fits_a_linear_model_and_logs_history():
    torch.manual_seed(0)
    model = Regression()
    batches = regression_batches()
    before = mean_loss(model, batches, "cpu")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    history = train(model, batches, opt, steps=100, device="cpu", progress=False, log_every=10)
    assert mean_loss(model, batches, "cpu") < 1e-4 < before
    assert [h["step"] for h in history] == list(range(10, 101, 10))
    assert history[-1]["epoch"] == 12  # 8 batches per epoch: step 100 is in the 13th epoch
    assert all(h["grad_norm"] >= 0 and h["lr"] == 0.1 for h in history)
    assert model.training  # train() leaves the model in training mode


def test_clip_caps_the_update_and_logs_the_norm_before_clipping():
    torch.manual_seed(0)
    model = Regression()
    batch = (torch.full((4, 3), 10.0), torch.full((4,), 100.0))  # a huge gradient
    start = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    history = train(model, [batch], opt, steps=1, device="cpu", clip=0.5, progress=False)
    step = torch.cat(
        [(p.detach() - s).flatten() for p, s in zip(model.parameters(), start, strict=True)]
    )
    assert step.norm().item() == pytest.approx(0.5, rel=1e-5)  # lr 1: the step is the gradient
    assert history[0]["grad_norm"] > 100


def test_scheduler_and_evaluation_join_the_history():
    model = Regression()
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s))
    calls = []

    def evaluate():
        calls.append(model.training)
        return {"val_loss": 1.5}

    history = train(
        model,
        regression_batches(),
        opt,
        steps=6,
        device="cpu",
        scheduler=sched,
        evaluate=evaluate,
        eval_every=4,
        log_every=3,
        progress=False,
    )
    assert calls == [False, False]  # at step 4 and at the end, in eval mode
    assert [h["step"] for h in history if "val_loss" in h] == [4, 6]
    assert [h["lr"] for h in history if "lr" in h] == pytest.approx([1 / 3, 1 / 6])  # lr used


def test_batches_are_reiterated_and_moved_to_the_device():
    seen = []

    class Spy(Regression):
        def forward(self, x, y=None):
            seen.append(x.device.type)
            return super().forward(x, y)

    model = Spy()
    train(
        model,
        regression_batches(3),
        torch.optim.SGD(model.parameters(), lr=0.01),
        steps=7,
        device="cpu",
        progress=False,
    )
    assert seen == ["cpu"] * 7
    nested = to_device({"a": (torch.zeros(1), [torch.ones(1)]), "b": 3}, "cpu")
    assert nested["b"] == 3 and nested["a"][1][0].item() == 1


def test_count_parameters():
    assert count_parameters(nn.Linear(3, 2)) == 8
    tied = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5, bias=False))
    tied[1].weight = tied[0].weight
    assert count_parameters(tied) == 20


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps must be an int >= 1"),
        ({"steps": 2.5}, "steps must be an int >= 1"),
        ({"steps": 3, "clip": 0}, "clip must be a number > 0"),
        ({"steps": 3, "eval_every": 2}, "evaluate is None"),
        ({"steps": 3, "log_every": -1}, "log_every"),
        ({"steps": 3, "accumulate": 0}, "accumulate must be an int >= 1"),
        (
            {"steps": 3, "amp_dtype": torch.float64},
            "amp_dtype must be one of torch.bfloat16, torch.float16, None, got torch.float64",
        ),
        ({"steps": 3, "checkpoint_every": 2}, "checkpoint_every=2 but checkpoint is None"),
        ({"steps": 3, "resume": True}, "resume=True but checkpoint is None"),
        ({"steps": 3, "checkpoint": "x.pt", "checkpoint_every": 0}, "checkpoint_every must be"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    model = Regression()
    with pytest.raises(ValueError, match=match):
        train(
            model,
            regression_batches(),
            torch.optim.SGD(model.parameters(), lr=0.1),
            device="cpu",
            progress=False,
            **kwargs,
        )


def test_empty_or_exhausted_batches_fail_clearly():
    model = Regression()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="nothing"):
        train(model, [], opt, steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="one-shot iterator"):
        train(model, iter(regression_batches(2)), opt, steps=5, device="cpu", progress=False)
    with pytest.raises(ValueError, match="scalar loss"):
        train(Regression(), [(torch.zeros(2, 3),)], opt, steps=1, device="cpu", progress=False)
    assert math.isfinite(mean_loss(model, regression_batches(1), "cpu"))
    with pytest.raises(ValueError, match="no data"):
        mean_loss(model, [], "cpu")


# The training recipe (chapter 6).


class TinyLM(nn.Module):
    """A tiny language model with every kind of parameter: embedding (tied to the output
    layer), LayerNorm, Linear with bias; and dropout, so training draws random numbers."""

    def __init__(self, vocab_size: int = 11, n_embd: int = 8, dropout: float = 0.3) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, n_embd)
        self.norm = nn.LayerNorm(n_embd)
        self.mix = nn.Linear(n_embd, n_embd)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied

    def forward(self, inputs, targets=None):
        h = self.embed(inputs)  # (B, T, C)
        h = h + self.drop(torch.relu(self.mix(self.norm(h))))
        logits = self.head(h)  # (B, T, V)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())


def text_ids(n=300, vocab_size=11, seed=0):
    return torch.randint(vocab_size, (n,), generator=torch.Generator().manual_seed(seed))


def test_param_groups_decay_the_weight_matrices_only():
    model = TinyLM()
    decay, no_decay = param_groups(model, weight_decay=0.1)
    assert decay["param_names"] == ["mix.weight"]
    assert no_decay["param_names"] == ["embed.weight", "norm.weight", "norm.bias", "mix.bias"]
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.1, 0.0)
    assert decay["params"][0] is model.mix.weight
    assert any(p is model.head.weight for p in no_decay["params"])  # tied head: an embedding
    grouped = [id(p) for g in (decay, no_decay) for p in g["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())  # each exactly once

    # With zero gradients, AdamW's only move is the decoupled decay: w <- (1 - lr·wd) w.
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay=0.1), lr=0.5)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for name, p in model.named_parameters():
        expected = before[name] * (1 - 0.5 * 0.1) if name == "mix.weight" else before[name]
        torch.testing.assert_close(p.detach(), expected, rtol=1e-6, atol=0)

    model.mix.bias.requires_grad_(False)  # frozen parameters are left out
    assert "mix.bias" not in param_groups(model, 0.0)[1]["param_names"]
    with pytest.raises(ValueError, match="weight_decay must be a number >= 0, got -0.1"):
        param_groups(model, -0.1)
    with pytest.raises(TypeError, match="weight_decay must be a number"):
        param_groups(model, "0.1")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        param_groups([model.mix.weight], 0.1)


def test_warmup_cosine_warms_up_peaks_and_decays_to_the_minimum():
    def f(i):
        return warmup_cosine(i, warmup_steps=4, total_steps=10, min_ratio=0.1)

    assert f(0) == 0.25  # the first step: 1 / warmup_steps
    assert [f(i) for i in range(4)] == [0.25, 0.5, 0.75, 1.0]  # step 4 (i = 3): the peak
    assert f(6) == pytest.approx(0.55)  # step 7, halfway down the cosine: (1 + 0.1) / 2
    assert f(9) == 0.1 and f(10) == f(1000) == 0.1  # the last step (10) and after: the minimum
    decay = [f(i) for i in range(3, 10)]
    assert all(a > b for a, b in itertools.pairwise(decay))
    assert 0.9 < warmup_cosine(0, warmup_steps=0, total_steps=10) < 1  # no warm-up


def test_warmup_cosine_schedule_sets_the_rate_each_step_uses():
    model = Regression()
    optimizer = torch.optim.SGD(model.parameters(), lr=2.0)
    schedule = warmup_cosine_schedule(optimizer, warmup_steps=4, total_steps=10, min_ratio=0.1)
    history = train(
        model,
        regression_batches(),
        optimizer,
        steps=12,
        device="cpu",
        scheduler=schedule,
        log_every=1,
        progress=False,
    )
    lrs = [h["lr"] for h in history]  # the rate each step used, steps 1 … 12
    assert lrs[0] == 0.5 and lrs[3] == 2.0 and lrs[9] == pytest.approx(0.2) == lrs[11]
    # A partial, not a lambda: the scheduler pickles, and its state loads safely.
    assert pickle.loads(pickle.dumps(schedule)).last_epoch == 12
    buffer = io.BytesIO()
    torch.save(schedule.state_dict(), buffer)
    buffer.seek(0)
    assert torch.load(buffer, weights_only=True)["last_epoch"] == 12


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"warmup_steps": -1, "total_steps": 10}, "warmup_steps must be an int >= 0"),
        ({"warmup_steps": 10, "total_steps": 10}, r"total_steps must be an int > warmup_steps"),
        ({"warmup_steps": 2, "total_steps": 10, "min_ratio": 1.5}, r"min_ratio .* \[0, 1\]"),
        ({"warmup_steps": 2.0, "total_steps": 10}, "warmup_steps must be an int"),
    ],
)
def test_schedule_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        warmup_cosine(0, **kwargs)
    optimizer = torch.optim.SGD(Regression().parameters(), lr=1.0)
    with pytest.raises(ValueError, match=match):
        warmup_cosine_schedule(optimizer, **kwargs)


def test_warmup_cosine_rejects_a_negative_step():
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        warmup_cosine(-1, warmup_steps=2, total_steps=10)


def test_random_windows_are_shifted_windows_of_the_text_and_repeat_on_each_pass():
    ids = text_ids(50)
    batches = RandomWindows(ids, batch_size=4, block_size=6, seed=1)
    assert repr(batches) == "RandomWindows(batch_size=4, block_size=6, windows=44, seed=1)"
    first = list(itertools.islice(batches, 20))
    again = list(itertools.islice(batches, 20))
    for (x, y), (x2, y2) in zip(first, again, strict=True):
        assert torch.equal(x, x2) and torch.equal(y, y2)  # a new pass starts over
    starts = set()
    for x, y in first:
        assert x.shape == y.shape == (4, 6) and x.dtype == torch.long and y.is_contiguous()
        for row, target in zip(x, y, strict=True):
            start = next(s for s in range(44) if torch.equal(ids[s : s + 6], row))
            assert torch.equal(target, ids[start + 1 : start + 7])  # shifted by one
            starts.add(start)
    assert len(starts) > 30  # random places all over the text
    other = next(iter(RandomWindows(ids, batch_size=4, block_size=6, seed=2)))
    assert not torch.equal(other[0], first[0][0])  # another seed, other windows
    tiny = RandomWindows(torch.arange(3), batch_size=2, block_size=2)  # one possible window
    assert all(torch.equal(x, torch.tensor([[0, 1], [0, 1]])) for x, _ in itertools.islice(tiny, 3))


def test_random_windows_are_endless_and_train_stays_in_epoch_zero():
    model = TinyLM()
    batches = RandomWindows(text_ids(), batch_size=2, block_size=5)
    assert sum(1 for _ in itertools.islice(batches, 5000)) == 5000
    history = train(
        model,
        batches,
        torch.optim.SGD(model.parameters(), lr=0.1),
        steps=5,
        device="cpu",
        log_every=5,
        progress=False,
    )
    assert history[-1]["epoch"] == 0 and math.isfinite(history[-1]["loss"])


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((torch.arange(5), 2, 5), ValueError, "too short .* at least 6 ids"),
        ((torch.arange(50), 0, 5), ValueError, "batch_size must be an int >= 1"),
        ((torch.arange(50), 2, -1), ValueError, "block_size must be an int >= 1"),
        ((torch.rand(50), 2, 5), TypeError, "1-D tensor of ints"),
        ((torch.zeros(5, 10, dtype=torch.long), 2, 5), TypeError, "1-D tensor of ints"),
        (("some text", 2, 5), TypeError, "encode it"),
    ],
)
def test_random_windows_reject_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        RandomWindows(*args)


def test_accumulating_k_batches_equals_one_batch_k_times_larger():
    torch.manual_seed(0)
    small = [(x.double(), y.double()) for x, y in regression_batches(6, batch_size=4)]
    large = [
        tuple(torch.cat(parts) for parts in zip(*small[i : i + 3], strict=True)) for i in (0, 3)
    ]
    model = Regression().double()
    twin = copy.deepcopy(model)
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))
    kwargs = {"steps": 4, "device": "cpu", "log_every": 1, "progress": False}
    h_small = train(
        model, small, torch.optim.Adam(model.parameters(), lr=0.1), accumulate=3, **kwargs
    )
    h_large = train(twin, large, torch.optim.Adam(twin.parameters(), lr=0.1), **kwargs)
    assert len(calls) == 12  # 3 batches a step
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-12)
    for a, b in zip(h_small, h_large, strict=True):  # the logged loss is the mean over the 3
        assert (a["epoch"], a["step"]) == (b["epoch"], b["step"])
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-12)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], abs=1e-12)


def test_amp_dtype_runs_the_forward_pass_under_autocast():
    seen = []

    class Spy(TinyLM):
        def forward(self, inputs, targets=None):
            logits, loss = super().forward(inputs, targets)
            seen.append((torch.is_autocast_enabled("cpu"), logits.dtype))
            return logits, loss

    batches = RandomWindows(text_ids(), batch_size=2, block_size=5)
    for amp_dtype, expected in [(torch.bfloat16, (True, torch.bfloat16)), (None, (False,) * 2)]:
        torch.manual_seed(0)
        model, seen[:] = Spy(), []
        history = train(
            model,
            batches,
            torch.optim.AdamW(model.parameters(), lr=1e-2),
            steps=3,
            device="cpu",
            amp_dtype=amp_dtype,
            log_every=1,
            progress=False,
        )
        if amp_dtype is None:
            expected = (False, torch.float32)
        assert seen == [expected] * 3
        assert all(math.isfinite(h["loss"]) and math.isfinite(h["grad_norm"]) for h in history)
        assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay fp32
    with pytest.raises(TypeError, match="amp_dtype must be a torch.dtype"):
        train(model, batches, None, steps=1, device="cpu", amp_dtype="bf16", progress=False)


class Interrupted(Exception):
    """Stands for the kernel dying in the middle of a run."""


def gpt_like_run(tmp_path, steps, seed, interrupt_at=None, **kwargs):
    """A fresh model, AdamW, warm-up–cosine schedule and random windows: one chapter-6 run."""
    torch.manual_seed(seed)
    model = TinyLM()
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay=0.1), lr=3e-2)
    schedule = warmup_cosine_schedule(optimizer, warmup_steps=3, total_steps=10)
    calls = itertools.count(1)

    def interrupt(*_):
        if interrupt_at is not None and next(calls) > 2 * (interrupt_at - 1):  # accumulate=2
            raise Interrupted

    model.register_forward_hook(interrupt)
    history = train(
        model,
        RandomWindows(text_ids(), batch_size=3, block_size=5, seed=7),
        optimizer,
        steps=steps,
        device="cpu",
        clip=1.0,
        scheduler=schedule,
        accumulate=2,
        log_every=3,
        evaluate=lambda: {"val_loss": 1.0},
        eval_every=4,
        progress=False,
        **kwargs,
    )
    return model, optimizer, schedule, history


def without_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def test_resuming_from_a_checkpoint_matches_training_straight_through(tmp_path):
    path = tmp_path / "run" / "ckpt.pt"
    every = {"checkpoint_every": 2}
    straight = gpt_like_run(tmp_path, 10, seed=0, checkpoint=tmp_path / "straight.pt", **every)
    with pytest.raises(Interrupted):  # dies in step 7, after the checkpoint of step 6
        gpt_like_run(tmp_path, 10, seed=0, interrupt_at=7, checkpoint=path, **every)
    state = load_checkpoint(path, TinyLM())
    assert state["step"] == 6 and set(state) == {
        *("model", "optimizer", "scheduler", "step", "history", "rng", "fingerprint")
    }
    assert list(path.parent.iterdir()) == [path]  # the temporary file was renamed
    # Another seed is another run: its initial weights differ, so it is refused.
    with pytest.raises(ValueError, match=r"(?s)made by another run.*initial weights"):
        gpt_like_run(tmp_path, 10, seed=123, checkpoint=path, resume=True, **every)
    # A new session of the same run: resume=True picks it up.
    resumed = gpt_like_run(tmp_path, 10, seed=0, checkpoint=path, resume=True, **every)

    (model, optimizer, schedule, history), (model2, optimizer2, schedule2, history2) = (
        straight,
        resumed,
    )
    for (name, p), q in zip(model.state_dict().items(), model2.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    state, state2 = optimizer.state_dict()["state"], optimizer2.state_dict()["state"]
    assert state.keys() == state2.keys()
    for i in state:
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(state[i][key], state2[i][key]), (i, key)
    assert optimizer.param_groups[0]["lr"] == optimizer2.param_groups[0]["lr"]
    assert schedule.state_dict() == schedule2.state_dict()
    assert without_seconds(history) == without_seconds(history2)  # the whole history
    assert [h["step"] for h in history2 if "loss" in h] == [2, 3, 4, 6, 8, 9, 10]  # log + saves

    # Resuming a finished run trains nothing and returns its history.
    again = gpt_like_run(tmp_path, 10, seed=0, checkpoint=path, resume=True, **every)
    assert without_seconds(again[3]) == without_seconds(history)
    assert all(
        torch.equal(p, q) for p, q in zip(model.parameters(), again[0].parameters(), strict=True)
    )


def test_resume_without_a_checkpoint_file_starts_afresh(tmp_path):
    path = tmp_path / "new.pt"
    model, *_, history = gpt_like_run(tmp_path, 4, seed=0, checkpoint=path, resume=True)
    model2, *_, history2 = gpt_like_run(tmp_path, 4, seed=0)
    assert all(
        torch.equal(p, q) for p, q in zip(model.parameters(), model2.parameters(), strict=True)
    )
    assert without_seconds(history) == without_seconds(history2)
    assert load_checkpoint(path, TinyLM())["step"] == 4


def test_save_and_load_checkpoint_round_trip_and_fail_clearly(tmp_path):
    torch.manual_seed(0)
    model = TinyLM()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    schedule = warmup_cosine_schedule(optimizer, warmup_steps=2, total_steps=5)
    train(model, RandomWindows(text_ids(), 2, 4), optimizer, steps=3, device="cpu",
          scheduler=schedule, progress=False)  # fmt: skip
    path, rng = tmp_path / "ckpt.pt", torch.get_rng_state()
    save_checkpoint(path, model, optimizer, schedule, step=3, history=[{"step": 3, "loss": 1.5}])

    other = TinyLM()
    other_optimizer = torch.optim.AdamW(other.parameters(), lr=1e-2)
    other_schedule = warmup_cosine_schedule(other_optimizer, warmup_steps=2, total_steps=5)
    saved = load_checkpoint(str(path), other, other_optimizer, other_schedule)
    assert saved["step"] == 3 and saved["history"] == [{"step": 3, "loss": 1.5}]
    assert torch.equal(saved["rng"]["cpu"], rng)
    assert all(
        torch.equal(p, q) for p, q in zip(model.parameters(), other.parameters(), strict=True)
    )
    assert other_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    assert other_schedule.last_epoch == 3

    save_checkpoint(path, model, optimizer, step=3, history=[])  # no scheduler saved
    with pytest.raises(ValueError, match="no scheduler state"):
        load_checkpoint(path, other, other_optimizer, other_schedule)
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint written by save_checkpoint"):
        load_checkpoint(tmp_path / "other.pt", other)
    with pytest.raises(TypeError, match="path must be a str or a Path"):
        save_checkpoint(3, model, optimizer, step=3, history=[])
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        save_checkpoint(path, model, optimizer, step=-1, history=[])

    fresh = TinyLM()
    fresh_optimizer = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    windows = RandomWindows(text_ids(), 2, 4)
    train(copy.deepcopy(fresh), windows, copy.deepcopy(fresh_optimizer), steps=3,
          device="cpu", checkpoint=path, progress=False)  # fmt: skip  # stopped at step 3
    with pytest.raises(ValueError, match="at step 3, past steps=2"):
        train(fresh, windows, fresh_optimizer, steps=2, device="cpu", checkpoint=path,
              resume=True, progress=False)  # fmt: skip
    save_checkpoint(path, model, optimizer, step=3, history=[])  # made by no known run
    with pytest.raises(ValueError, match="made by another run"):
        train(fresh, windows, fresh_optimizer, steps=4, device="cpu", checkpoint=path,
              resume=True, progress=False)  # fmt: skip


def resume_like_gpt_run(path, lr=3e-2, ids=None, **kwargs):
    """gpt_like_run's model, optimiser, schedule and windows, resumed from path for 6
    steps, with one setting changed by the arguments."""
    torch.manual_seed(0)
    model = TinyLM()
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay=0.1), lr=lr)
    schedule = warmup_cosine_schedule(optimizer, warmup_steps=3, total_steps=10)
    windows = RandomWindows(text_ids() if ids is None else ids, 3, 5, seed=7)
    train(model, windows, optimizer, steps=6, device="cpu", scheduler=schedule,
          accumulate=2, checkpoint=path, resume=True, progress=False,
          **{"clip": 1.0} | kwargs)  # fmt: skip


def test_resuming_refuses_a_checkpoint_of_another_run_and_names_each_difference(tmp_path):
    path = tmp_path / "run.pt"
    gpt_like_run(tmp_path, 4, seed=0, checkpoint=path, checkpoint_every=2)
    with pytest.raises(ValueError) as refused:  # another learning rate
        resume_like_gpt_run(path, lr=1e-3)
    message = str(refused.value)
    assert str(path) in message and "optimizer:" in message and "0.03" in message
    assert "initial weights" not in message  # the same seed: only the rate differs
    for changed, name in [
        ({"clip": 0.5}, "clip"),
        ({"fingerprint": {"data": "other plays"}}, "data"),
        ({"amp_dtype": torch.bfloat16}, "amp_dtype"),
        ({"ids": text_ids().flip(0)}, "data ids"),  # the same shapes, other ids
    ]:
        with pytest.raises(ValueError, match=f"(?s)made by another run.*{name}"):
            resume_like_gpt_run(path, **changed)
    # Smoke and full mode never share a checkpoint.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LMBOOK_SMOKE", "0" if lmbook.mode() == "smoke" else "1")
        with pytest.raises(ValueError, match=r"(?s)made by another run.*mode"):
            gpt_like_run(tmp_path, 6, seed=0, checkpoint=path, resume=True)


def saved_tiny_run(path):
    """A TinyLM, its AdamW, and a checkpoint of them at step 1 saved to path."""
    torch.manual_seed(0)
    model = TinyLM()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    save_checkpoint(path, model, optimizer, step=1, history=[])
    return model, optimizer


def test_a_damaged_checkpoint_is_refused_by_name(tmp_path):
    path = tmp_path / "good.pt"
    model, optimizer = saved_tiny_run(path)
    data = path.read_bytes()
    cases = {
        "empty.pt": (b"", "is empty"),
        "truncated.pt": (data[: len(data) // 2], "truncated"),
        "extended.pt": (data + b"x", "truncated or extended"),
        "flipped.pt": (data[:-10] + bytes([data[-10] ^ 1]) + data[-9:], "damaged"),
        "foreign.pt": (b"PK\x03\x04 not ours", "not a checkpoint written by save_checkpoint"),
    }
    for name, (content, match) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=match) as error:
            load_checkpoint(tmp_path / name, TinyLM())
        assert name in str(error.value)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict()}, buffer)  # a plain torch file
    (tmp_path / "plain.pt").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="plain.pt is not a checkpoint"):
        load_checkpoint(tmp_path / "plain.pt", TinyLM())
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*missing.pt"):
        load_checkpoint(tmp_path / "missing.pt", TinyLM())
    # A resume from a damaged file stops too: it never trains from half a file.
    with pytest.raises(ValueError, match="truncated.pt is truncated"):
        train(model, [(torch.zeros(1, 3, dtype=torch.long),) * 2], optimizer, steps=2,
              device="cpu", checkpoint=tmp_path / "truncated.pt", resume=True,
              progress=False)  # fmt: skip


def test_a_failed_save_leaves_the_old_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    model, optimizer = saved_tiny_run(path)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, optimizer, step=2, history=[])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


def test_mixed_precision_follows_the_device(monkeypatch):
    assert mixed_precision("cpu") is None
    assert mixed_precision(torch.device("cpu")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation: True)
    assert mixed_precision("cuda") is torch.bfloat16  # Ampere and later
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation: False)
    assert mixed_precision("cuda:0") is torch.float16  # a T4: float16, with loss scaling


def test_a_float16_step_scales_the_loss_and_skips_steps_that_overflow(tmp_path):
    torch.manual_seed(0)
    model = Regression()
    x = torch.randn(16, 3)
    batches = [(x, x @ torch.tensor([1.0, -2.0, 0.5]))]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    path = tmp_path / "fp16.pt"
    history = train(model, batches, optimizer, steps=30, device="cpu", log_every=1,
                    amp_dtype=torch.float16, checkpoint=path, progress=False)  # fmt: skip
    losses = [h["loss"] for h in history if "loss" in h]
    assert all(math.isfinite(loss) for loss in losses) and losses[-1] < losses[0] / 10
    saved_scale = load_checkpoint(path, Regression())["scaler"]["scale"]
    assert 1 <= saved_scale < 2.0**16  # the first steps overflowed and halved the scale
    # The scaler's first scale, 2**16, turns this loss's gradient into inf in float16:
    # the step is skipped (weights unchanged) and the scale halves.
    scaler = torch.amp.GradScaler("cpu")
    big = Regression()
    before = [p.detach().clone() for p in big.parameters()]
    sgd = torch.optim.SGD(big.parameters(), lr=0.1)
    with torch.autocast("cpu", dtype=torch.float16):
        loss = (big(x * 1e4, x[:, 0] * 1e4)[1]).float()
    scaler.scale(loss).backward()
    scaler.step(sgd)
    scaler.update()
    assert scaler.get_scale() == 2.0**15  # overflowed: the scale halved ...
    assert all(torch.equal(a, b) for a, b in zip(before, big.parameters(), strict=True))


def test_the_fingerprint_covers_every_module_class_and_the_schedule_code():
    def make(block_class):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 3), block_class())
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        return model, optimizer

    def forward_a(self, x):
        return self.linear(x)

    def forward_b(self, x):  # an edited cell: the same weights, other code
        return x + self.linear(x)

    def block_class(forward):
        return type("Block", (nn.Module,), {"__init__": block_init, "forward": forward})

    def block_init(self):
        nn.Module.__init__(self)
        self.linear = nn.Linear(3, 3)

    model_a, optimizer_a = make(block_class(forward_a))
    model_b, optimizer_b = make(block_class(forward_b))
    a = run_fingerprint(model_a, [], optimizer_a)
    b = run_fingerprint(model_b, [], optimizer_b)
    assert a["initial weights"] == b["initial weights"] and a["model"] == b["model"]
    assert [line.split(":")[0] for line in fingerprint_differences(a, b)] == ["model code"]

    # torch.compile wraps the model: the fingerprint is the model's, not the wrapper's
    model, optimizer = make(block_class(forward_a))
    assert run_fingerprint(torch.compile(model), [], optimizer) == run_fingerprint(
        model, [], optimizer
    )

    # a schedule's function is fingerprinted by its code too, not only its name
    def multiplier_a(step, total):
        return 1.0

    def multiplier_b(step, total):
        return 0.5

    multiplier_b.__qualname__ = multiplier_a.__qualname__
    model, optimizer = make(block_class(forward_a))
    with_a = torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(multiplier_a, total=3))
    fingerprint_a = run_fingerprint(model, [], optimizer, with_a)
    model, optimizer = make(block_class(forward_a))
    with_b = torch.optim.lr_scheduler.LambdaLR(optimizer, functools.partial(multiplier_b, total=3))
    fingerprint_b = run_fingerprint(model, [], optimizer, with_b)
    assert [d.split(":")[0] for d in fingerprint_differences(fingerprint_a, fingerprint_b)] == [
        "schedule"
    ]
