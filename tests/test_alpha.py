"""Alpha schedules (paper 5.4.2) driven by synthetic loss sequences, and the Hide-and-Seek loss (eq. 23)."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from hnsx.alpha import (
    AdaptiveAlpha,
    AdaptiveAlphaConfig,
    AlphaEvent,
    AlphaSchedule,
    ConstantAlpha,
    build_alpha,
    check_alpha,
)
from hnsx.binarizers import build_binarizer
from hnsx.loss import hns_loss
from hnsx.model import HnSOutput

WINDOW = 100


def plateau(n: int = WINDOW, level: float = 1.0, spread: float = 0.04, seed: int = 0) -> list[float]:
    """``n`` losses within ``spread`` (relative) of ``level``: all within 10 % of their mean when spread <= 0.045."""
    g = torch.Generator().manual_seed(seed)
    noise = (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * spread
    return (level * (1 + noise)).tolist()


def fluctuating(n: int, level: float = 1.0, seed: int = 0) -> list[float]:
    """Losses within 2 % of ``level`` except for a 1.5x spike every 40 steps: every window of 100 holds a spike."""
    values = plateau(n, level, spread=0.02, seed=seed)
    for k in range(0, n, 40):
        values[k] = 1.5 * level
    return values


def within_tolerance(values: list[float], tol: float = 0.10) -> bool:
    mean = sum(values) / len(values)
    return all(abs(v - mean) <= tol * abs(mean) for v in values)


def drive(schedule: AlphaSchedule, losses) -> list[AlphaEvent]:
    return [schedule.update(v) for v in losses]


# --------------------------------------------------------------------------------------------------------------
# Adaptive alpha
# --------------------------------------------------------------------------------------------------------------


def test_defaults_are_the_papers():
    sched = AdaptiveAlpha()
    c = sched.config
    assert (c.start, c.step, c.floor, c.window, c.tolerance) == (1.0, 0.05, 0.05, 100, 0.10)
    assert sched.alpha == 1.0
    assert sched.phase == 0
    assert sched.name == "adaptive"


def test_plateau_lowers_alpha_by_step_and_clears_window():
    sched = AdaptiveAlpha()
    losses = plateau(spread=0.04)
    assert within_tolerance(losses)
    events = drive(sched, losses[:-1])
    assert events == [AlphaEvent.NONE] * (WINDOW - 1)  # window not yet full
    assert sched.alpha == 1.0
    assert len(sched.losses) == WINDOW - 1
    assert sched.update(losses[-1]) is AlphaEvent.LOWERED
    assert sched.alpha == pytest.approx(0.95, abs=1e-12)
    assert sched.phase == 1
    assert len(sched.losses) == 0
    # The cleared window needs another full window before the next drop.
    events = drive(sched, plateau(spread=0.04, seed=1)[:-1])
    assert set(events) == {AlphaEvent.NONE}
    assert sched.alpha == pytest.approx(0.95, abs=1e-12)


def test_plateau_at_a_new_level_after_a_transient():
    """After a destabilisation the window slides: the drop comes once the last 100 losses are flat."""
    sched = AdaptiveAlpha()
    transient = [3.0 - 0.02 * k for k in range(60)]  # still falling: no plateau
    assert set(drive(sched, transient)) == {AlphaEvent.NONE}
    flat = plateau(spread=0.03, level=0.8, seed=3)
    events = drive(sched, flat)
    # The first full window that is flat is the one made only of the plateau's values.
    assert events[-1] is AlphaEvent.LOWERED
    assert set(events[:-1]) == {AlphaEvent.NONE}
    assert sched.alpha == pytest.approx(0.95, abs=1e-12)


def test_fluctuating_window_never_lowers():
    sched = AdaptiveAlpha()
    losses = fluctuating(1000)
    for start in range(0, len(losses) - WINDOW + 1):
        assert not within_tolerance(losses[start : start + WINDOW])
    events = drive(sched, losses)
    assert set(events) == {AlphaEvent.NONE}
    assert sched.alpha == 1.0
    assert sched.phase == 0
    assert len(sched.losses) == WINDOW  # the window is full but keeps sliding


def test_single_outlier_beyond_ten_percent_blocks_the_drop():
    sched = AdaptiveAlpha()
    losses = [1.0] * WINDOW
    losses[50] = 1.2  # mean 1.002: 1.2 is about 19.8 % away
    assert set(drive(sched, losses)) == {AlphaEvent.NONE}
    assert sched.alpha == 1.0


def test_floor_holds_and_floor_plateau_converges():
    sched = AdaptiveAlpha()
    for k in range(1, 20):
        events = drive(sched, plateau(spread=0.04, seed=k))
        assert events[-1] is AlphaEvent.LOWERED
        assert set(events[:-1]) == {AlphaEvent.NONE}
        assert sched.alpha == pytest.approx(1.0 - 0.05 * k, abs=1e-12)
        assert sched.phase == k
    assert sched.alpha == 0.05  # exactly on the floor after 19 drops
    assert sched.phase == 19
    for k in range(3):
        events = drive(sched, plateau(spread=0.04, seed=100 + k))
        assert events[-1] is AlphaEvent.CONVERGED
        assert set(events[:-1]) == {AlphaEvent.NONE}
        assert sched.alpha == 0.05
        assert sched.phase == 19
        assert len(sched.losses) == 0


def test_floor_is_not_undershot_with_coarse_step():
    sched = AdaptiveAlpha(AdaptiveAlphaConfig(step=0.3, floor=0.05, window=10))
    seen = []
    for k in range(6):
        seen.append(drive(sched, plateau(10, spread=0.01, seed=k))[-1])
    assert seen[:4] == [AlphaEvent.LOWERED] * 4
    assert seen[4:] == [AlphaEvent.CONVERGED] * 2
    assert sched.alpha == pytest.approx(0.05)
    assert sched.phase == 4


def test_state_dict_round_trip_continues_identically():
    sched = AdaptiveAlpha()
    history = plateau(spread=0.04) + fluctuating(130, seed=2) + plateau(spread=0.04, seed=5) + plateau(37, seed=6)
    drive(sched, history)
    assert sched.phase == 2 and len(sched.losses) > 0  # mid-window, after two drops
    state = json.loads(json.dumps(sched.state_dict()))  # serialisable
    assert state["name"] == "adaptive"
    restored = AdaptiveAlpha()
    restored.load_state_dict(state)
    assert restored.alpha == sched.alpha
    assert restored.phase == sched.phase
    assert list(restored.losses) == list(sched.losses)
    future = plateau(80, spread=0.04, seed=6) + fluctuating(150, seed=7) + plateau(spread=0.04, seed=8) * 3
    for v in future:
        assert restored.update(v) is sched.update(v)
        assert restored.alpha == sched.alpha
        assert restored.phase == sched.phase
    assert list(restored.losses) == list(sched.losses)
    assert restored.phase >= 4


def test_load_state_dict_rejects_other_schedule_and_bad_alpha():
    sched = AdaptiveAlpha()
    with pytest.raises(ValueError, match="constant"):
        sched.load_state_dict(ConstantAlpha(0.3).state_dict())
    bad = copy.deepcopy(sched.state_dict())
    bad["alpha"] = 1.5
    with pytest.raises(ValueError):
        sched.load_state_dict(bad)
    with pytest.raises(ValueError, match="adaptive"):
        ConstantAlpha(0.3).load_state_dict(AdaptiveAlpha().state_dict())


@pytest.mark.parametrize("loss", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_loss_raises(loss):
    sched = AdaptiveAlpha()
    drive(sched, plateau(10))
    with pytest.raises(ValueError, match="diverged"):
        sched.update(loss)
    with pytest.raises(ValueError):
        sched.update(torch.tensor(loss))


def test_accepts_tensor_losses():
    sched = AdaptiveAlpha()
    events = [sched.update(torch.tensor(v)) for v in plateau(spread=0.04)]
    assert events[-1] is AlphaEvent.LOWERED


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": 1.5},
        {"floor": -0.1},
        {"step": 0.0},
        {"step": 1.5},
        {"window": 1},
        {"tolerance": -0.1},
    ],
)
def test_invalid_adaptive_config_raises(kwargs):
    with pytest.raises(ValueError):
        AdaptiveAlpha(AdaptiveAlphaConfig(**kwargs))
    with pytest.raises(ValueError):
        build_alpha("adaptive", **kwargs)


# --------------------------------------------------------------------------------------------------------------
# Constant alpha and build_alpha
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.0, 0.3, 1.0])
def test_constant_alpha_never_changes(value):
    sched = build_alpha(value)
    assert isinstance(sched, ConstantAlpha)
    assert not isinstance(sched, AdaptiveAlpha)
    assert sched.alpha == value
    events = drive(sched, plateau(spread=0.01) * 5 + fluctuating(200))
    assert set(events) == {AlphaEvent.NONE}
    assert sched.alpha == value
    assert sched.phase == 0
    restored = ConstantAlpha(0.5)
    restored.load_state_dict(sched.state_dict())
    assert restored.alpha == value


def test_build_alpha_adaptive_vs_number():
    adaptive = build_alpha("adaptive")
    assert isinstance(adaptive, AdaptiveAlpha)
    assert adaptive.alpha == 1.0
    assert isinstance(build_alpha(" Adaptive "), AdaptiveAlpha)
    custom = build_alpha("adaptive", window=10, step=0.1)
    assert custom.config.window == 10 and custom.config.step == 0.1
    constant = build_alpha(0.3)
    assert type(constant) is ConstantAlpha
    assert constant.alpha == 0.3
    assert constant.name == "constant"
    assert build_alpha("0.3").alpha == 0.3  # a number given as text (e.g. from a CLI)


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), float("inf"), "abc", None, "", [0.5]])
def test_alpha_outside_unit_interval_raises(value):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        build_alpha(value)
    with pytest.raises(ValueError):
        ConstantAlpha(value)
    with pytest.raises(ValueError):
        check_alpha(value)


# --------------------------------------------------------------------------------------------------------------
# hns_loss (eq. 23 with the mean kept fraction)
# --------------------------------------------------------------------------------------------------------------


def _kept_fraction(mask: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    flat = mask.float().flatten(1)
    if valid is None:
        return flat.mean(1)
    v = valid.float().flatten(1)
    return (flat * v).sum(1) / v.sum(1).clamp_min(1.0)


def _fake_output(with_valid: bool = True) -> HnSOutput:
    torch.manual_seed(0)
    logits = torch.randn(3, 4, requires_grad=True)
    hider_logits = torch.randn(3, 5, requires_grad=True)
    mask = torch.tensor(
        [
            [1.0, 0.0, 1.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0, 1.0],
            [1.0, 1.0, 1.0, 1.0, 1.0],
        ]
    )
    valid = torch.tensor(
        [
            [1.0, 1.0, 1.0, 1.0, 1.0],
            [1.0, 1.0, 1.0, 0.0, 0.0],  # the kept units 3-4 are padding: kept fraction 0
            [1.0, 1.0, 0.0, 0.0, 0.0],
        ]
    )
    return HnSOutput(
        logits=logits,
        mask=mask,
        keep_prob=torch.sigmoid(hider_logits),
        hider_logits=hider_logits,
        valid=valid if with_valid else None,
    )


def _hand_loss(out: HnSOutput, targets: list[int], alpha: float) -> tuple[float, float, float]:
    ces = []
    for row, t in zip(out.logits.detach().double().tolist(), targets):
        top = max(row)
        log_z = top + math.log(sum(math.exp(v - top) for v in row))
        ces.append(log_z - row[t])
    kept = []
    mask = out.mask.tolist()
    valid = out.valid.tolist() if out.valid is not None else [[1.0] * len(r) for r in mask]
    for m_row, v_row in zip(mask, valid):
        kept.append(sum(m * v for m, v in zip(m_row, v_row)) / sum(v_row))
    ce = sum(ces) / len(ces)
    kf = sum(kept) / len(kept)
    return alpha * ce + (1 - alpha) * kf, ce, kf


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.95, 1.0])
@pytest.mark.parametrize("with_valid", [True, False], ids=["valid", "no-valid"])
def test_hns_loss_matches_hand_computation(alpha, with_valid):
    out = _fake_output(with_valid)
    targets = [2, 0, 3]
    parts = hns_loss(out, torch.tensor(targets), alpha, build_binarizer("deterministic"), _kept_fraction)
    want, ce, kf = _hand_loss(out, targets, alpha)
    if with_valid:
        assert kf == pytest.approx((3 / 5 + 0 / 3 + 2 / 2) / 3)
    else:
        assert kf == pytest.approx((3 / 5 + 2 / 5 + 5 / 5) / 3)
    assert parts.loss.item() == pytest.approx(want, rel=1e-6)
    assert parts.classification.item() == pytest.approx(ce, rel=1e-6)
    assert parts.kept_fraction.item() == pytest.approx(kf, rel=1e-6)
    assert not parts.classification.requires_grad
    assert not parts.kept_fraction.requires_grad
    parts.loss.backward()
    if alpha > 0:
        assert out.logits.grad is not None and out.logits.grad.abs().sum() > 0


@pytest.mark.parametrize("bad", [[0, 4, 1], [-1, 0, 1], [0, 1, 100]])
def test_hns_loss_rejects_labels_out_of_range(bad):
    out = _fake_output()
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        hns_loss(out, torch.tensor(bad), 0.5, build_binarizer("deterministic"), _kept_fraction)


def test_hns_loss_rejects_float_labels_and_bad_alpha():
    out = _fake_output()
    with pytest.raises(ValueError, match="integer"):
        hns_loss(out, torch.tensor([0.0, 1.0, 2.0]), 0.5, build_binarizer("deterministic"), _kept_fraction)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        hns_loss(out, torch.tensor([0, 1, 2]), 1.5, build_binarizer("deterministic"), _kept_fraction)
