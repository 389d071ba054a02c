"""A target kept fraction as a constraint: a Lagrange multiplier updated by dual ascent.

With a target ``r`` the loss is ``CE + lambda * (k - r)`` (``k``: the kept fraction over valid units, per sample),
and after every optimizer step the multiplier moves by dual ascent on the constraint ``k <= r``::

    lambda <- max(0, lambda + eta * (k_bar - r))

``k_bar`` is the step's kept fraction (the batch mean, over all processes). While the model keeps more than ``r``
the multiplier grows and pulls towards hiding; once it keeps less, the multiplier shrinks, and at 0 the pull stops:
"hide everything" is not a fixed point, as it is for a constant alpha < 1 (constrained rationale extraction:
Bastings et al. 2019; Paranjape et al. 2020).

Damping: the hider answers the multiplier with a lag, so plain dual ascent (an integral controller) keeps
pulling for hundreds of steps after the kept fraction has passed ``r``, and overshoots. The loss therefore uses
``lambda - damping * max(0, r - k_bar) / r`` with ``k_bar`` of the previous step: the pull drops as soon as the
model keeps less than ``r``, in proportion to the *relative* shortfall (a proportional term, as in the PI Lagrangian
of Stooke, Achiam & Abbeel 2020, on the backing-off side only: a proportional pull while the model still keeps
everything hid every word of the generated text corpus within the first epoch). Relative, so that one gain serves
every target: with an absolute gain of 20, right at r = 0.1, the kept fraction of MNIST at r = 0.3 still swung
between 0.27 and 0.63 from epoch to epoch. When the model hides everything the pull is ``lambda - damping``:
negative, the loss rewards keeping, so a hider that hid everything before the classifier learned anything (the
generated text corpus trained from scratch did so within its first epoch, with the multiplier still near 0) is
pushed back towards ``r`` instead of staying where nothing pulls it; the target works as ``k = r`` from below. The
multiplier ``lambda`` itself follows the dual rule below; ``damping = 0`` is plain dual ascent on ``k <= r``.

Back-off: the multiplier grows while the model keeps more than ``r`` and the hider answers it only after tens of
steps, so by the time the kept fraction passes ``r`` the multiplier has wound up far beyond what holds the model at
``r``; the additive rule then takes it down by ``eta * (r - k_bar)`` per step only, and the model ends well below
``r`` (measured: about half of it on digits and MNIST). With ``backoff = beta > 0`` a step below the target shrinks
the multiplier in proportion instead (additive increase, multiplicative decrease)::

    lambda <- lambda * (1 - beta * (r - k_bar) / r)        when k_bar < r

so it halves within ``log(2) / beta`` steps of hiding everything and never turns negative. ``backoff = 0`` is the
additive rule above.

Which kept fraction: the training loop passes the kept fraction of the batch's explanations, the masks of the model
in evaluation mode (a BatchNorm hider keeps more in training mode than it does in evaluation mode, so a controller of
the training masks settles where the explanations keep less than ``r``).

The multiplier is part of a run's state: checkpoints save it and a resumed run continues it.

Which checkpoint is best under a target (:func:`target_rank`): the one that keeps at most ``r`` and is the most
faithful; when none keeps at most ``r``, the one that keeps the least. FII (F times the hidden fraction) would reward
hiding beyond the target at the cost of fidelity, which is not what a target asks for: on the frozen MiniLM of
docs/text-reviews.md it chose epoch 1 of books (F 0.939 at 10.9 % kept) over epochs with F 0.97 to 1.00 at 17 to
20 %. ``hnsx train``'s best checkpoint and :class:`~hnsx.adapters.tabular.HnSClassifier`'s restored epoch both
use it.
"""

from __future__ import annotations

import math

import torch


def check_target_kept(target: float) -> float:
    """``target`` as a float, or ``ValueError`` unless it lies in (0, 1)."""
    try:
        value = float(target)
    except (TypeError, ValueError):
        raise ValueError(f"target_kept must be a number in (0, 1), got {target!r}") from None
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ValueError(f"target_kept must lie strictly between 0 and 1, got {target}")
    return value


def target_rank(kept: float, quality: float, target_kept: float) -> tuple[bool, float, float]:
    """Sort key of a checkpoint under the target kept fraction ``target_kept`` (the larger key is the better
    checkpoint), from its held-out kept fraction and ``quality`` (larger is better: fidelity, or minus a loss).

    Checkpoints that keep at most the target come first, ordered by ``quality`` and then by keeping less; the others
    after them, ordered by keeping less and then by ``quality``."""
    kept, quality = float(kept), float(quality)
    if kept <= target_kept:
        return True, quality, -kept
    return False, -kept, quality


class KeptFractionConstraint:
    """The constraint ``kept_fraction <= target`` with its multiplier ``lam`` (starts at ``start``, never < 0).

    Parameters
    ----------
    target:
        The kept fraction ``r`` in (0, 1).
    lr:
        Dual step size ``eta`` (> 0): how fast the multiplier follows the constraint's violation.
    start:
        The multiplier before the first update (>= 0).
    damping:
        Weight (>= 0) of the proportional term of the pull (see the module's notes).
    backoff:
        ``beta`` in [0, 1]: the multiplicative decrease below the target (0: the additive rule throughout).
    """

    def __init__(
        self, target: float, lr: float, start: float = 0.0, damping: float = 0.0, backoff: float = 0.0
    ) -> None:
        self.target = check_target_kept(target)
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"dual_lr must be a positive number, got {lr}")
        if not (math.isfinite(start) and start >= 0):
            raise ValueError(f"the multiplier must start at a number >= 0, got {start}")
        if not (math.isfinite(damping) and damping >= 0):
            raise ValueError(f"dual_damping must be a number >= 0, got {damping}")
        if not (math.isfinite(backoff) and 0.0 <= backoff <= 1.0):
            raise ValueError(f"dual_backoff must be a number in [0, 1], got {backoff}")
        self.lr = float(lr)
        self.backoff = float(backoff)
        self.lam = float(start)
        self.damping = float(damping)
        self.last_kept: float | None = None  # k_bar of the previous step

    @property
    def pull(self) -> float:
        """The weight of ``kept - target`` in the loss: ``lam - damping * max(0, target - k_bar) / target``; below 0
        (the model keeps too little) the loss rewards keeping."""
        if self.last_kept is None or self.damping == 0:
            return self.lam
        return self.lam - self.damping * max(0.0, self.target - self.last_kept) / self.target

    def penalty(self, kept: torch.Tensor) -> torch.Tensor:
        """``pull * (kept - target)`` per sample, for kept fractions ``kept`` ``(B,)`` (the pull is a constant
        here: the primal step never changes it)."""
        return self.pull * (kept - self.target)

    def update(self, kept_mean: float) -> float:
        """One dual step with the step's mean kept fraction; the new multiplier."""
        value = float(kept_mean)
        if not math.isfinite(value):
            raise ValueError(f"kept fraction is {value}; training diverged")
        if value < self.target and self.backoff > 0:
            self.lam *= 1.0 - self.backoff * (self.target - value) / self.target
        else:
            self.lam = max(0.0, self.lam + self.lr * (value - self.target))
        self.last_kept = value
        return self.lam

    def state_dict(self) -> dict:
        return {"target": self.target, "lambda": self.lam, "last_kept": self.last_kept}

    def load_state_dict(self, state: dict) -> None:
        if abs(float(state["target"]) - self.target) > 1e-12:
            raise ValueError(f"the multiplier was saved for target_kept {state['target']}, not {self.target}")
        self.lam = max(0.0, float(state["lambda"]))
        last = state.get("last_kept")
        self.last_kept = None if last is None else float(last)
