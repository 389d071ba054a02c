"""Schedules for alpha, the weight of the classification loss (paper 5.4).

``J = alpha * CE + (1 - alpha) * kept_fraction``. A schedule is asked for ``alpha`` every step and told the
step's classification loss through :meth:`AlphaSchedule.update`, which returns what happened. The adaptive schedule
smooths those losses itself (``AdaptiveAlphaConfig.smoothing``) and keeps the smoothed value in its state.

Validation lives here and only here: :func:`parse_alpha` for a user's alpha (a number or ``"adaptive"``; the CLI,
:class:`~hnsx.training.config.TrainConfig` and :func:`build_alpha` call it), :func:`check_alpha` for a number, and
:class:`AdaptiveAlphaConfig` for the adaptive schedule's settings.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum

ADAPTIVE = "adaptive"


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Return ``alpha`` as a float, or raise ``ValueError`` if it is not a number in [0, 1]."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1] or 'adaptive', got {alpha!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        shown = alpha if isinstance(alpha, str) else repr(alpha)  # "1.5" from a command line reads as 1.5
        raise ValueError(f"{name} must lie in [0, 1], got {shown}")
    return value


def parse_alpha(alpha: float | str, name: str = "alpha") -> float | str:
    """A user's alpha: ``"adaptive"`` (any case, surrounding spaces ignored) or a number in [0, 1] as a float.

    Raises ``ValueError`` naming the problem otherwise.
    """
    if isinstance(alpha, str) and alpha.strip().lower() == ADAPTIVE:
        return ADAPTIVE
    return check_alpha(alpha, name)


class AlphaEvent(str, Enum):
    """What an :meth:`AlphaSchedule.update` call did."""

    NONE = "none"
    LOWERED = "lowered"  # a plateau was found and alpha dropped: a new phase begins
    CONVERGED = "converged"  # the floor phase plateaued: training may stop


class AlphaSchedule:
    """Base schedule: a constant alpha that never changes."""

    name = "constant"

    def __init__(self, alpha: float) -> None:
        self.alpha = check_alpha(alpha)
        self.phase = 0

    def update(self, clf_loss: float) -> AlphaEvent:
        return AlphaEvent.NONE

    def state_dict(self) -> dict:
        return {"name": self.name, "alpha": self.alpha, "phase": self.phase}

    def load_state_dict(self, state: dict) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"alpha state is for schedule {state.get('name')!r}, not {self.name!r}")
        self.alpha = check_alpha(state["alpha"])
        self.phase = int(state["phase"])


ConstantAlpha = AlphaSchedule


@dataclass(frozen=True)
class AdaptiveAlphaConfig:
    """Settings of :class:`AdaptiveAlpha`; defaults are the paper's (5.4.2 and 5.5), checked on construction.

    ``smoothing`` is the factor of the exponential moving average the schedule keeps of the classification losses
    it is told (``ema = s * ema + (1 - s) * loss``, starting at the first loss); the window holds the averages.
    0 (the default here) feeds the raw losses, as the paper does; :class:`~hnsx.training.config.TrainConfig` uses
    0.9, because raw losses of batches of 64 rarely stay within 10 % of their mean for 100 steps.
    """

    start: float = 1.0
    step: float = 0.05
    floor: float = 0.05
    window: int = 100
    tolerance: float = 0.10
    smoothing: float = 0.0

    def __post_init__(self) -> None:
        check_alpha(self.start, "adaptive alpha start")
        check_alpha(self.floor, "adaptive alpha floor")
        if not 0 < self.step <= 1:
            raise ValueError(f"adaptive alpha step must lie in (0, 1], got {self.step}")
        if self.window < 2:
            raise ValueError(f"adaptive alpha window must hold at least 2 losses, got {self.window}")
        if self.tolerance < 0:
            raise ValueError(f"adaptive alpha tolerance must be >= 0, got {self.tolerance}")
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"adaptive alpha smoothing must lie in [0, 1), got {self.smoothing}")


class AdaptiveAlpha(AlphaSchedule):
    """Alpha that starts at 1 and drops by ``step`` every time the classification loss plateaus.

    Keeps the last ``window`` classification losses (their moving average with ``smoothing`` > 0, see
    :class:`AdaptiveAlphaConfig`). When the window is full and no value differs from the
    window's mean by more than ``tolerance`` times that mean, the loss has plateaued: alpha drops by ``step``
    (never below ``floor``), the window is cleared and :data:`AlphaEvent.LOWERED` is returned (the training
    loop saves a checkpoint of the phase that ended). A plateau while alpha is already at the floor returns
    :data:`AlphaEvent.CONVERGED`.
    """

    name = "adaptive"

    def __init__(self, config: AdaptiveAlphaConfig | None = None) -> None:
        self.config = config or AdaptiveAlphaConfig()
        super().__init__(self.config.start)
        self.losses: deque[float] = deque(maxlen=self.config.window)
        self.smoothed: float | None = None  # the moving average of the losses told so far

    def _plateaued(self) -> bool:
        if len(self.losses) < self.config.window:
            return False
        mean = sum(self.losses) / len(self.losses)
        return all(abs(v - mean) <= self.config.tolerance * abs(mean) for v in self.losses)

    def update(self, clf_loss: float) -> AlphaEvent:
        value = float(clf_loss)
        if not math.isfinite(value):
            raise ValueError(f"classification loss is {value}; training diverged")
        s = self.config.smoothing
        self.smoothed = value if self.smoothed is None else s * self.smoothed + (1 - s) * value
        self.losses.append(self.smoothed)
        if not self._plateaued():
            return AlphaEvent.NONE
        self.losses.clear()
        # Round to the step's grid so that 20 drops of 0.05 land exactly on the floor.
        lowered = round(max(self.alpha - self.config.step, self.config.floor), 10)
        if self.alpha <= self.config.floor + 1e-12:
            return AlphaEvent.CONVERGED
        self.alpha = lowered
        self.phase += 1
        return AlphaEvent.LOWERED

    def state_dict(self) -> dict:
        return {**super().state_dict(), "losses": list(self.losses), "smoothed": self.smoothed}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.losses = deque((float(v) for v in state.get("losses", [])), maxlen=self.config.window)
        smoothed = state.get("smoothed")
        self.smoothed = None if smoothed is None else float(smoothed)


def build_alpha(alpha: float | str, **adaptive_kwargs) -> AlphaSchedule:
    """``"adaptive"`` gives :class:`AdaptiveAlpha` (``adaptive_kwargs``: :class:`AdaptiveAlphaConfig`'s fields); a
    number in [0, 1] gives a constant schedule."""
    value = parse_alpha(alpha)
    if value == ADAPTIVE:
        return AdaptiveAlpha(AdaptiveAlphaConfig(**adaptive_kwargs))
    return ConstantAlpha(value)
