"""A target kept fraction (:mod:`hnsx.constraint`): the dual update against a slow reference on a convex toy problem,
its checkpointed multiplier on resume, and a real small run that lands near its target."""

from __future__ import annotations

import argparse
import math

import pytest
import torch

from hnsx.adapters.image.data import ImageData, load_sklearn_digits
from hnsx.adapters.image.spec import image_spec
from hnsx.constraint import KeptFractionConstraint, target_rank
from hnsx.pipeline import run_training
from hnsx.training.checkpoint import read_state
from hnsx.training.config import TrainConfig


def reference_dual_ascent(a: float, r: float, primal_lr: float, dual_lr: float, steps: int) -> list[tuple]:
    """min_x (x - a)^2 s.t. x <= r, by gradient descent on x of (x - a)^2 + lam (x - r) and
    lam <- max(0, lam + eta (x - r)) after each primal step, written out from the update rule."""
    x, lam, path = a, 0.0, []
    for _ in range(steps):
        grad = 2.0 * (x - a) + lam
        x = x - primal_lr * grad
        lam = lam + dual_lr * (x - r)
        if lam < 0.0:
            lam = 0.0
        path.append((x, lam))
    return path


def test_the_dual_update_matches_a_slow_reference_on_a_convex_problem():
    a, r, steps = 0.8, 0.3, 3000
    constraint = KeptFractionConstraint(r, lr=0.05)
    x = torch.tensor([a], requires_grad=True)
    optimizer = torch.optim.SGD([x], lr=0.05)
    path = []
    for _ in range(steps):
        loss = (x - a).pow(2).sum() + constraint.penalty(x).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        constraint.update(float(x.detach()))
        path.append((float(x.detach()), constraint.lam))
    expected = reference_dual_ascent(a, r, 0.05, 0.05, steps)
    for (x1, l1), (x2, l2) in zip(path, expected, strict=True):
        assert x1 == pytest.approx(x2, abs=1e-5) and l1 == pytest.approx(l2, abs=1e-5)
    # KKT point of the toy problem: x* = r, lam* = 2 (a - r)
    assert path[-1][0] == pytest.approx(r, abs=1e-3)
    assert path[-1][1] == pytest.approx(2 * (a - r), abs=1e-3)


def test_the_multiplier_backs_off_to_zero_when_too_much_is_hidden():
    constraint = KeptFractionConstraint(0.3, lr=0.1, start=0.02)
    constraint.update(0.0)  # everything hidden: the pull towards hiding stops
    assert constraint.lam == 0.0
    constraint.update(0.0)
    assert constraint.lam == 0.0
    constraint.update(0.8)
    assert constraint.lam == pytest.approx(0.05)


def reference_backoff(lam: float, kept: list[float], r: float, eta: float, beta: float) -> list[float]:
    """Additive increase above the target, multiplicative decrease below it, written out from the rule."""
    out = []
    for k in kept:
        lam = lam * (1.0 - beta * (r - k) / r) if k < r else max(0.0, lam + eta * (k - r))
        out.append(lam)
    return out


def test_the_backoff_shrinks_the_multiplier_in_proportion_below_the_target():
    kept = [0.9] * 40 + [0.05] * 10 + [0.0] * 30 + [0.25] * 5 + [0.15] * 5
    constraint = KeptFractionConstraint(0.2, lr=0.05, backoff=0.1)
    path = [constraint.update(k) for k in kept]
    assert path == pytest.approx(reference_backoff(0.0, kept, 0.2, 0.05, 0.1), abs=1e-12)
    assert path[39] == pytest.approx(40 * 0.05 * 0.7)  # wound up while everything was kept
    # hiding everything: the multiplier halves within log(2) / beta steps and never turns negative
    assert path[49 + 7] < path[49] / 2 and min(path) >= 0.0
    plain = KeptFractionConstraint(0.2, lr=0.05)
    plain_path = [plain.update(k) for k in kept]
    assert path[79] < 0.2 * plain_path[79]  # the additive rule is still near where it wound up
    with pytest.raises(ValueError, match="dual_backoff"):
        KeptFractionConstraint(0.2, lr=0.05, backoff=1.5)
    with pytest.raises(ValueError, match="dual_backoff"):
        TrainConfig(target_kept=0.2, dual_backoff=-0.1)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, 1.5, math.nan, "x"])
def test_bad_targets_are_refused(bad):
    with pytest.raises(ValueError, match="target_kept"):
        TrainConfig(target_kept=bad)


def test_bad_dual_lr_is_refused():
    with pytest.raises(ValueError, match="dual_lr"):
        TrainConfig(target_kept=0.1, dual_lr=0.0)


def test_the_setting_reaches_the_config_from_a_command_line_and_a_saved_config_without_it_resumes():
    config = TrainConfig.build(argparse.Namespace(target_kept=0.2, dual_lr=0.1, epochs=3))
    assert (config.target_kept, config.dual_lr) == (0.2, 0.1)
    assert config.alpha_schedule().alpha == 1.0  # alpha is replaced by the multiplier
    saved = {k: v for k, v in TrainConfig().to_dict().items() if k not in ("target_kept", "dual_lr")}
    assert TrainConfig().resume_conflicts(saved) == []
    assert TrainConfig(target_kept=0.2).resume_conflicts(saved) == ["target_kept: None -> 0.2"]


def test_the_damped_pull_backs_off_at_once_turns_negative_far_below_and_is_saved():
    constraint = KeptFractionConstraint(0.2, lr=0.1, damping=10.0)
    assert constraint.pull == 0.0
    constraint.update(0.6)  # above the target: the pull is the multiplier alone
    assert constraint.lam == pytest.approx(0.04) and constraint.pull == pytest.approx(0.04)
    for _ in range(20):
        constraint.update(0.6)
    assert constraint.pull == pytest.approx(constraint.lam) == pytest.approx(0.84)
    constraint.update(0.15)  # below the target: the pull drops at once by damping * (target - kept) / target
    assert constraint.lam == pytest.approx(0.835) and constraint.pull == pytest.approx(0.835 - 10.0 * 0.25)
    constraint.update(0.1)  # far below: the pull turns negative, the loss rewards keeping
    assert constraint.lam == pytest.approx(0.825) and constraint.pull == pytest.approx(0.825 - 10.0 * 0.5)
    copy = KeptFractionConstraint(0.2, lr=0.1, damping=10.0)
    copy.load_state_dict(constraint.state_dict())
    assert (copy.lam, copy.last_kept, copy.pull) == (constraint.lam, 0.1, constraint.pull)
    with pytest.raises(ValueError, match="target_kept"):
        copy.load_state_dict({**constraint.state_dict(), "target": 0.3})


def digits() -> tuple[ImageData, object]:
    data = load_sklearn_digits(seed=0)
    return data, image_spec(data.input_shape, data.num_classes)


@pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")
def test_a_digits_run_lands_near_its_target_and_resumes_with_its_multiplier(tmp_path, killed_after_epoch):
    torch.set_num_threads(1)
    data, spec = digits()
    config = TrainConfig(epochs=10, pretrain_epochs=1, target_kept=0.1, seed=1, progress=False)
    straight = run_training(data, spec, config, tmp_path / "straight")
    kept = straight.fit.scores.kept_fraction
    assert 0.05 <= kept <= 0.15, f"eval kept fraction {kept:.3f} is far from the target 0.1"
    assert straight.fit.history[0]["kept_fraction"] > 0.6  # it got there by training, not from the start
    assert straight.fit.scores.accuracy > 0.6  # the seeker still classifies: no collapse to "hide all"
    lambdas = [r["lambda"] for r in straight.fit.history]
    assert all(v >= 0 for v in lambdas) and max(lambdas) > 0
    state = read_state(tmp_path / "straight" / "checkpoints" / "epoch-0010")
    assert state["constraint"]["lambda"] == lambdas[-1] and state["constraint"]["target"] == 0.1

    best = read_state(tmp_path / "straight" / "checkpoints" / "best")["epoch"]
    assert best == reference_best_epoch(straight.fit.history, 0.1)

    killed_after_epoch(5, run_training, data, spec, config, tmp_path / "split")
    resumed = run_training(data, spec, config, tmp_path / "split", resume=True)
    assert [r["lambda"] for r in resumed.fit.history] == lambdas
    assert resumed.fit.scores.kept_fraction == kept
    assert read_state(tmp_path / "split" / "checkpoints" / "best")["epoch"] == best


def reference_best_epoch(history: list[dict], target: float) -> int:
    """The best epoch under a target, written out: among the epochs that did not collapse, those whose eval kept
    fraction is at most the target; of them the highest F (on a tie, the one keeping less, then the earlier). When
    none is within the target, the one keeping the least."""
    fine = [r for r in history if not r["collapsed"]]
    assert fine, "every epoch collapsed"
    within = [r for r in fine if r["kept_fraction"] <= target]
    if within:
        top = max(r["fidelity"] for r in within)
        return min((r for r in within if r["fidelity"] == top), key=lambda r: (r["kept_fraction"], r["epoch"]))["epoch"]
    low = min(r["kept_fraction"] for r in fine)
    return min(r["epoch"] for r in fine if r["kept_fraction"] == low)


def test_under_a_target_the_most_faithful_checkpoint_within_it_ranks_first():
    # (kept, F): FII would pick the sparsest, (0.08, 0.90) with FII 0.828; the target picks F within 0.2
    ranked = sorted(
        [(0.08, 0.90), (0.19, 0.97), (0.20, 0.97), (0.21, 0.99), (0.35, 1.0)], key=lambda s: target_rank(*s, 0.2)
    )
    assert ranked[::-1] == [(0.19, 0.97), (0.20, 0.97), (0.08, 0.90), (0.21, 0.99), (0.35, 1.0)]


def test_the_study_grid_and_the_estimator_take_the_target():
    from hnsx.adapters.tabular.estimator import HnSClassifier
    from hnsx.study.grid import RunConfig, StudySettings

    study = StudySettings(target_kept=0.2).train_config(RunConfig("deterministic"), seed=0)
    assert (study.target_kept, study.evaluator_epochs) == (0.2, 0)  # the study trains its evaluators itself
    estimator = HnSClassifier(target_kept=0.2, dual_lr=0.1)
    assert (estimator._config(0).target_kept, estimator._config(0).dual_lr) == (0.2, 0.1)
    with pytest.raises(ValueError, match="target_kept"):
        StudySettings(target_kept=1.2)
