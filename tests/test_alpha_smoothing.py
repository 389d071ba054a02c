"""The adaptive schedule owns its smoothing: the same alpha trajectory as the moving average ``fit`` used to compute
itself, checked against a slow reference of that rule (an EMA of the batch losses fed to the paper's window rule)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from hnsx.alpha import AdaptiveAlpha, AdaptiveAlphaConfig, AlphaEvent
from hnsx.training.config import TrainConfig
from hnsx.training.run_folder import legacy_alpha_state


def noisy_decay(n: int = 3000, seed: int = 0) -> list[float]:
    """Batch losses that fall from 2.3 towards 0.3 with +-25 % noise: the raw values never stay within 10 %."""
    g = torch.Generator().manual_seed(seed)
    noise = (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * 0.25
    return [(0.3 + 2.0 * math.exp(-t / 300)) * (1 + float(e)) for t, e in enumerate(noise)]


def reference(losses, smoothing=0.9, window=100, step=0.05, floor=0.05, tolerance=0.10):
    """The rule as fit applied it up to commit ce1a1a5, written out slowly: ``smoothed = clf`` at the first step, then
    ``smoothing * smoothed + (1 - smoothing) * clf``; a plateau of the last ``window`` smoothed values (each within
    ``tolerance`` of their mean) lowers alpha by ``step`` (floor ``floor``) and empties the window."""
    alpha, phase, smoothed, kept, trajectory = 1.0, 0, None, [], []
    for clf in losses:
        smoothed = clf if smoothed is None else smoothing * smoothed + (1 - smoothing) * clf
        kept = (kept + [smoothed])[-window:]
        event = "none"
        if len(kept) == window:
            mean = sum(kept) / window
            if all(abs(v - mean) <= tolerance * abs(mean) for v in kept):
                kept = []
                if alpha <= floor + 1e-12:
                    event = "converged"
                else:
                    alpha, phase, event = round(max(alpha - step, floor), 10), phase + 1, "lowered"
        trajectory.append((alpha, phase, event))
    return trajectory


def drive(schedule: AdaptiveAlpha, losses) -> list[tuple[float, int, str]]:
    out = []
    for clf in losses:
        event = schedule.update(clf)
        out.append((schedule.alpha, schedule.phase, event.value))
    return out


def test_the_schedule_smooths_as_fit_did():
    losses = noisy_decay()
    expected = reference(losses)
    config = TrainConfig(alpha="adaptive")
    got = drive(config.alpha_schedule(), losses)
    assert got == expected
    drops = sum(e == "lowered" for _, _, e in expected)
    assert drops >= 3, "the sequence must lower alpha a few times for the comparison to mean something"
    # Without smoothing the raw losses do not plateau while they are noisy: the smoothing is what lowers alpha.
    raw = drive(AdaptiveAlpha(AdaptiveAlphaConfig(smoothing=0.0)), losses)
    assert sum(e == "lowered" for _, _, e in raw) < drops


@pytest.mark.parametrize("smoothing,window,step,floor,tolerance", [(0.5, 5, 0.3, 0.1, 0.2), (0.0, 3, 0.1, 0.05, 1.0)])
def test_small_windows_walk_to_the_floor_and_converge_like_the_reference(smoothing, window, step, floor, tolerance):
    losses = noisy_decay(400, seed=1)
    schedule = AdaptiveAlpha(
        AdaptiveAlphaConfig(step=step, floor=floor, window=window, tolerance=tolerance, smoothing=smoothing)
    )
    got = drive(schedule, losses)
    assert got == reference(losses, smoothing, window, step, floor, tolerance)
    assert AlphaEvent.CONVERGED.value in {e for _, _, e in got}


def test_a_schedule_restored_halfway_continues_the_same_trajectory():
    losses = noisy_decay()
    whole = drive(TrainConfig(alpha="adaptive").alpha_schedule(), losses)
    first = TrainConfig(alpha="adaptive").alpha_schedule()
    head = drive(first, losses[:1234])
    state = json.loads(json.dumps(first.state_dict()))  # through JSON, as in state.json
    second = TrainConfig(alpha="adaptive").alpha_schedule()
    second.load_state_dict(state)
    assert head + drive(second, losses[1234:]) == whole


def test_a_checkpoint_of_the_old_layout_restores_the_moving_average():
    """Up to ce1a1a5 state.json kept the average as ``smoothed_loss`` beside ``alpha``; it is read from there."""
    losses = noisy_decay()
    whole = drive(TrainConfig(alpha="adaptive").alpha_schedule(), losses)
    first = TrainConfig(alpha="adaptive").alpha_schedule()
    head = drive(first, losses[:1500])
    new = first.state_dict()
    old = {"alpha": {k: v for k, v in new.items() if k != "smoothed"}, "smoothed_loss": new["smoothed"]}
    second = TrainConfig(alpha="adaptive").alpha_schedule()
    second.load_state_dict(legacy_alpha_state(old))
    assert head + drive(second, losses[1500:]) == whole
    # A new checkpoint's own value wins over a stale old key.
    assert legacy_alpha_state({"alpha": new, "smoothed_loss": 123.0})["smoothed"] == new["smoothed"]


@pytest.mark.parametrize(
    "settings,message",
    [
        ({"alpha_smoothing": 1.0}, r"smoothing must lie in \[0, 1\)"),
        ({"alpha_smoothing": -0.1}, r"smoothing must lie in \[0, 1\)"),
        ({"alpha_window": 1}, "window must hold at least 2"),
        ({"alpha_step": 0.0}, r"step must lie in \(0, 1\]"),
        ({"alpha_floor": 1.5}, r"floor must lie in \[0, 1\]"),
        ({"alpha": "sometimes"}, "alpha must be a number in"),
    ],
)
def test_alpha_settings_are_checked_once_by_the_schedule(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)
    adaptive = {k.removeprefix("alpha_"): v for k, v in settings.items() if k != "alpha"}
    if adaptive:
        with pytest.raises(ValueError, match=message):
            AdaptiveAlphaConfig(**adaptive)


@pytest.mark.parametrize("given,kept", [(" Adaptive ", "adaptive"), ("0.25", 0.25), (1, 1.0)])
def test_train_config_keeps_alpha_in_one_spelling(given, kept):
    config = TrainConfig(alpha=given)
    assert config.alpha == kept and type(config.alpha) is type(kept)
    assert config.adaptive == (kept == "adaptive")
