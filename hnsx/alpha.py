"""Schedules for alpha, the weight of the classification loss (paper 5.4).

``J = alpha * CE + (1 - alpha) * kept_fraction``. A schedule is asked for ``alpha`` every step and told the
step's classification loss through :meth:`AlphaSchedule.update`, which returns what happened.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Return ``alpha`` as a float, or raise ``ValueError`` if it is not a number in [0, 1]."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1] or 'adaptive', got {alpha!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must lie in [0, 1], got {alpha!r}")
    return value


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
    """Settings of :class:`AdaptiveAlpha`; defaults are the paper's (5.4.2 and 5.5)."""

    start: float = 1.0
    step: float = 0.05
    floor: float = 0.05
    window: int = 100
    tolerance: float = 0.10


class AdaptiveAlpha(AlphaSchedule):
    """Alpha that starts at 1 and drops by ``step`` every time the classification loss plateaus.

    Keeps the last ``window`` classification losses. When the window is full and no value differs from the
    window's mean by more than ``tolerance`` times that mean, the loss has plateaued: alpha drops by ``step``
    (never below ``floor``), the window is cleared and :data:`AlphaEvent.LOWERED` is returned (the training
    loop saves a checkpoint of the phase that ended). A plateau while alpha is already at the floor returns
    :data:`AlphaEvent.CONVERGED`.
    """

    name = "adaptive"

    def __init__(self, config: AdaptiveAlphaConfig | None = None) -> None:
        self.config = config or AdaptiveAlphaConfig()
        c = self.config
        check_alpha(c.start, "adaptive alpha start")
        check_alpha(c.floor, "adaptive alpha floor")
        if not 0 < c.step <= 1:
            raise ValueError(f"adaptive alpha step must lie in (0, 1], got {c.step}")
        if c.window < 2:
            raise ValueError(f"adaptive alpha window must hold at least 2 losses, got {c.window}")
        if c.tolerance < 0:
            raise ValueError(f"adaptive alpha tolerance must be >= 0, got {c.tolerance}")
        super().__init__(c.start)
        self.losses: deque[float] = deque(maxlen=c.window)

    def _plateaued(self) -> bool:
        if len(self.losses) < self.config.window:
            return False
        mean = sum(self.losses) / len(self.losses)
        return all(abs(v - mean) <= self.config.tolerance * abs(mean) for v in self.losses)

    def update(self, clf_loss: float) -> AlphaEvent:
        value = float(clf_loss)
        if not math.isfinite(value):
            raise ValueError(f"classification loss is {value}; training diverged")
        self.losses.append(value)
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
        return {**super().state_dict(), "losses": list(self.losses)}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.losses = deque((float(v) for v in state.get("losses", [])), maxlen=self.config.window)


def build_alpha(alpha: float | str, **adaptive_kwargs) -> AlphaSchedule:
    """``"adaptive"`` gives :class:`AdaptiveAlpha`; a number in [0, 1] gives a constant schedule."""
    if isinstance(alpha, str) and alpha.strip().lower() == "adaptive":
        return AdaptiveAlpha(AdaptiveAlphaConfig(**adaptive_kwargs))
    return ConstantAlpha(check_alpha(alpha))
