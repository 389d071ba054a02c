"""Hyper-parameters of a training run, frozen, and the rule for which of them a resumed run may change.

:meth:`TrainConfig.build` is the one way a config is made from settings kept elsewhere: a command line's
``argparse.Namespace``, a scikit-learn estimator's parameters, a study's settings, a benchmark recipe's config.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, is_dataclass
from typing import Any

from hnsx.alpha import ADAPTIVE, AdaptiveAlphaConfig, AlphaSchedule, ConstantAlpha, build_alpha, parse_alpha
from hnsx.constraint import KeptFractionConstraint, check_target_kept
from hnsx.training.optim import LR_SCHEDULES

INIT_MODES = ("scratch", "pretrained-hider", "pretrained-seeker", "both")
MIXED_PRECISION = ("no", "fp16", "bf16")
# Fields a resumed run may change; any other difference makes resuming an error.
RESUMABLE = frozenset({"epochs", "progress", "keep_last", "cpu", "evaluator_epochs"})


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`hnsx.training.fit`.

    Attributes
    ----------
    epochs:
        Epoch budget of the joint Hide-and-Seek training.
    batch_size:
        Per-process batch size (informational here: the loaders carry it; recorded in checkpoints).
    lr:
        Adam learning rate for hider and seeker.
    alpha:
        A number in [0, 1] (constant) or ``"adaptive"`` (paper 5.4.2), checked by :func:`hnsx.alpha.parse_alpha`
        (kept as a float, or as ``"adaptive"`` in any spelling that function accepts).
    alpha_window, alpha_step, alpha_floor, alpha_tolerance:
        Adaptive alpha: window of classification losses, drop per plateau, floor, relative plateau tolerance.
    alpha_smoothing:
        The adaptive schedule smooths the batch classification losses it is told with an exponential moving
        average of this factor (``ema = s * ema + (1 - s) * loss``); 0 feeds the raw batch losses. Raw losses of
        batches of 64 rarely stay within 10 % of their mean for 100 steps, so the paper's rule would almost never
        fire. The ``alpha_*`` settings are those of :class:`hnsx.alpha.AdaptiveAlphaConfig`, which checks them
        (whatever ``alpha`` is).
    init:
        ``scratch``, ``pretrained-hider``, ``pretrained-seeker`` or ``both`` (paper 6.3).
    pretrain_epochs:
        Epochs of seeker pretraining (and of the baseline seeker) and of hider autoencoder pretraining.
        0 with ``pretrained-seeker`` means "the seeker is already trained" (a wrapped model).
    baseline_epochs:
        Epochs of the baseline seeker, a copy of the untrained seeker trained alone on unmasked data, whose
        eval accuracy is the denominator of Fidelity. ``None``: ``pretrain_epochs + epochs``, the same number
        of epochs the seeker gets inside Hide-and-Seek, so that F compares equal training budgets. Not used when
        the seeker is already trained (``init="pretrained-seeker"`` or ``"both"`` with ``pretrain_epochs=0``):
        then its own accuracy is the baseline.
    seed:
        Seed of every random generator (weights, data order, stochastic masks).
    mixed_precision:
        ``no``, ``fp16`` or ``bf16`` (passed to Accelerate).
    cpu:
        Force the CPU even when CUDA is available.
    keep_last:
        Number of epoch checkpoints kept besides the best and the phase checkpoints.
    stop_on_converge:
        Stop when adaptive alpha's floor phase has plateaued.
    progress:
        Show tqdm progress bars.
    target_kept:
        A kept fraction in (0, 1) that the run aims at (``None``: off). The loss becomes ``CE + lambda * (k - r)``
        with the multiplier ``lambda`` updated by dual ascent every step (:mod:`hnsx.constraint`); ``alpha`` and its
        schedule are then not used (the history records alpha 1 and the multiplier as ``lambda``).
    dual_lr:
        Dual step size of the multiplier of ``target_kept``.
    dual_damping:
        How far the multiplier's pull drops below the target, per relative shortfall ``(r - k) / r``
        (:mod:`hnsx.constraint`; 0: none).
    dual_backoff:
        Multiplicative decrease of the multiplier while the model keeps less than ``target_kept``
        (:mod:`hnsx.constraint`; 0: plain additive dual ascent on both sides).
    hider_lr, seeker_lr:
        Adam learning rates of the hider's and the seeker's parameters (``None``: ``lr``), see
        :mod:`hnsx.training.optim`.
    grad_clip:
        Clip the gradients' global norm to this value before every step (``None``: no clipping).
    lr_schedule:
        ``constant``, ``cosine`` or ``linear``: a torch scheduler over the run's steps (:mod:`hnsx.training.optim`).
    evaluator_epochs:
        After training, train the independent label-encoding evaluator for this many epochs and report its
        accuracy on the run's masked eval inputs in ``metrics.json`` (``evaluator_accuracy``; 0: off). ``hnsx
        train`` does it; in Python, call :func:`hnsx.training.evaluator.run_label_check` on the run folder.
    leak_free:
        REAL-X training (Jethani et al. 2021, :mod:`hnsx.training.leak_free`): the seeker is trained with
        cross-entropy only on inputs under random masks (a keep rate drawn per input), its pretraining too; the hider
        is trained against it, and the hider's loss never updates the seeker, so no code between the two can form.
    pretrain_random_masks:
        Pretrain the seeker (``init`` ``pretrained-seeker`` or ``both``) on inputs under random masks (a keep rate
        drawn per input, as the leak-free mode always does) instead of whole inputs, so that a unit missing at random
        costs it little when the joint training starts. The joint training is unchanged. The objectives study's
        hard-concrete runs use it (docs/objectives.md).
    complement_weight:
        Weight ``W`` of complement control (after Yu et al. 2019, :mod:`hnsx.complement`): a second predictor ``c``
        learns to classify the hidden part ``x * (1 - m)``, and the hider is also penalised by
        ``W * max(0, log(K) - CE(c(x * (1 - m)), y))`` per input (``K`` classes), so the hidden part must not let
        the label be found. 0: off (no predictor; the loss as without the setting).
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    alpha: float | str = "adaptive"
    alpha_window: int = 100
    alpha_step: float = 0.05
    alpha_floor: float = 0.05
    alpha_tolerance: float = 0.10
    alpha_smoothing: float = 0.9
    init: str = "scratch"
    pretrain_epochs: int = 2
    baseline_epochs: int | None = None
    seed: int = 0
    mixed_precision: str = "no"
    cpu: bool = False
    keep_last: int = 2
    stop_on_converge: bool = True
    progress: bool = True
    target_kept: float | None = None
    dual_lr: float = 0.05
    dual_damping: float = 2.0
    dual_backoff: float = 0.1
    hider_lr: float | None = None
    seeker_lr: float | None = None
    grad_clip: float | None = None
    lr_schedule: str = "constant"
    evaluator_epochs: int = 0
    leak_free: bool = False
    complement_weight: float = 0.0
    pretrain_random_masks: bool = False

    def __post_init__(self) -> None:
        if self.target_kept is not None:
            object.__setattr__(self, "target_kept", check_target_kept(self.target_kept))
        for name in ("dual_lr", "hider_lr", "seeker_lr", "grad_clip"):
            value = getattr(self, name)
            if (value is not None or name == "dual_lr") and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value}")
        if not (math.isfinite(self.dual_damping) and self.dual_damping >= 0):
            raise ValueError(f"dual_damping must be a number >= 0, got {self.dual_damping}")
        if not (math.isfinite(self.dual_backoff) and 0.0 <= self.dual_backoff <= 1.0):
            raise ValueError(f"dual_backoff must be a number in [0, 1], got {self.dual_backoff}")
        if not (math.isfinite(self.complement_weight) and self.complement_weight >= 0):
            raise ValueError(f"complement_weight must be a number >= 0, got {self.complement_weight}")
        for name in ("leak_free", "pretrain_random_masks"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.evaluator_epochs < 0:
            raise ValueError(f"evaluator_epochs must be 0 (off) or more, got {self.evaluator_epochs}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r}; choose one of: {', '.join(LR_SCHEDULES)}")
        object.__setattr__(self, "alpha", parse_alpha(self.alpha))
        AdaptiveAlphaConfig(**self.alpha_kwargs())
        for name in ("epochs", "batch_size", "keep_last"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.baseline_epochs is not None and self.baseline_epochs < 1:
            raise ValueError(f"baseline_epochs must be at least 1 (or None), got {self.baseline_epochs}")
        if not 0 <= int(self.seed) < 2**32:
            raise ValueError(f"seed must lie in [0, 2**32), got {self.seed}")
        if self.pretrain_epochs < 0:
            raise ValueError(f"pretrain_epochs must be >= 0, got {self.pretrain_epochs}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if self.init not in INIT_MODES:
            raise ValueError(f"unknown init mode {self.init!r}; choose one of: {', '.join(INIT_MODES)}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(
                f"unknown mixed_precision {self.mixed_precision!r}; choose one of: {', '.join(MIXED_PRECISION)}"
            )

    @classmethod
    def build(cls, source: Any = None, /, **overrides: Any) -> TrainConfig:
        """A config from settings kept elsewhere: every field of this class that ``source`` has, by the same name,
        then ``overrides``; fields neither holds keep their defaults.

        ``source`` may be ``None``, a mapping, a dataclass (a study's ``StudySettings``, a recipe's
        ``TrainConfig``), a scikit-learn estimator (its ``get_params()``) or an ``argparse.Namespace``, whose
        ``no_progress`` flag reads as ``progress = not no_progress``. Names in ``overrides`` that are not fields
        raise ``ValueError``; so does every setting the fields refuse.
        """
        values = _settings_of(source)
        if "no_progress" in values and "progress" not in values:
            values["progress"] = not values["no_progress"]
        known = {f.name for f in fields(cls)}
        return cls.from_dict({**{k: v for k, v in values.items() if k in known}, **overrides})

    @property
    def adaptive(self) -> bool:
        return self.alpha == ADAPTIVE

    def alpha_schedule(self) -> AlphaSchedule:
        """A fresh alpha schedule of these settings (adaptive or constant; constant 1 with ``target_kept``)."""
        if self.target_kept is not None:
            return ConstantAlpha(1.0)
        return build_alpha(self.alpha, **(self.alpha_kwargs() if self.adaptive else {}))

    def constraint(self) -> KeptFractionConstraint | None:
        """A fresh multiplier for ``target_kept`` (``None`` without a target)."""
        if self.target_kept is None:
            return None
        return KeptFractionConstraint(
            self.target_kept, self.dual_lr, damping=self.dual_damping, backoff=self.dual_backoff
        )

    @property
    def baseline_budget(self) -> int:
        """Epochs of the baseline seeker (see ``baseline_epochs``)."""
        return self.baseline_epochs if self.baseline_epochs is not None else self.pretrain_epochs + self.epochs

    def alpha_kwargs(self) -> dict[str, Any]:
        return {
            "window": self.alpha_window,
            "step": self.alpha_step,
            "floor": self.alpha_floor,
            "tolerance": self.alpha_tolerance,
            "smoothing": self.alpha_smoothing,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(sorted(unknown))}")
        return cls(**data)

    def resume_conflicts(self, saved: dict[str, Any]) -> list[str]:
        """Settings that differ from a saved run's and may not change on resume (``name: saved -> now``).

        A setting the saved config lacks (a run saved before the setting existed) counts as its default."""
        now = self.to_dict()
        defaults = {f.name: f.default for f in fields(self)}
        saved = {**defaults, **saved}
        return [
            f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in sorted(now) if k not in RESUMABLE and saved.get(k) != now[k]
        ]


def _settings_of(source: Any) -> dict[str, Any]:
    """The named settings ``source`` holds (see :meth:`TrainConfig.build`)."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return dict(source)
    if is_dataclass(source) and not isinstance(source, type):
        return {f.name: getattr(source, f.name) for f in fields(source)}
    if callable(getattr(source, "get_params", None)):  # a scikit-learn estimator
        return dict(source.get_params(deep=False))
    if isinstance(source, argparse.Namespace):
        return vars(source).copy()
    raise TypeError(f"cannot read training settings from a {type(source).__name__}")
