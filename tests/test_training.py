"""Tests of lmbook.training: the one loop trains, clips, schedules, evaluates, and fails clearly."""

import math

import pytest
import torch
from torch import nn

from lmbook.training import count_parameters, mean_loss, to_device, train


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
