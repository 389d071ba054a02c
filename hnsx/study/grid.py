"""The grids of the paper's section 6 studies: configurations (:class:`RunConfig`), shared settings
(:class:`StudySettings`) and run keys.

============== ==============================================================================================
``init``       deterministic binarizer; init scratch, pretrained hider, pretrained seeker, both (paper 6.3)
``estimators`` stochastic binarizer from scratch; estimators st1, st2, sa (rate 0.5), reinforce (paper 6.4) and
               hard-concrete (Louizos et al. 2018)
``slope-rates`` stochastic, slope annealing from scratch with rates 0.1, 0.5, 1, 10, 100 (paper 6.4)
``thresholding`` deterministic from scratch against one stochastic estimator from scratch (paper 6.5)
``objectives`` the training objectives beyond the paper, deterministic, pretrained seeker: constant alpha,
               adaptive alpha, target kept fraction, and with that target: leak-free training, complement control,
               hard-concrete masks (docs/objectives.md)
============== ==============================================================================================

``all`` is the paper's four studies.

A run is identified by its configuration name and seed (:func:`run_key`, ``det-scratch/seed-3``); the same key in
two studies is the same run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hnsx.training.config import TrainConfig

PAPER_STUDIES = ("init", "estimators", "slope-rates", "thresholding")
STUDY_NAMES = (*PAPER_STUDIES, "objectives")
ALL = "all"
STOCHASTIC_CHOICES = ("auto", "st1", "st2", "sa", "reinforce", "hard-concrete")
#: The paper's pick for the stochastic family in section 6.5.
PAPER_STOCHASTIC = "st1"
SLOPE_RATES = (0.1, 0.5, 1.0, 10.0, 100.0)
ESTIMATOR_RATE = 0.5
#: The objectives of the ``objectives`` study, in table order.
OBJECTIVES = ("alpha", "adaptive", "target-kept", "leak-free", "complement", "hard-concrete")
#: The kept fraction the target-kept objectives aim at when the study's settings name none.
OBJECTIVE_TARGET = 0.1
#: The init of every objective run.
OBJECTIVE_INIT = "pretrained-seeker"
#: ``complement_weight`` of the ``complement`` objective.
COMPLEMENT_WEIGHT = 1.0


@dataclass(frozen=True)
class RunConfig:
    """One configuration of a study grid: a binarizer (and estimator) and an init mode.

    Attributes
    ----------
    binarizer:
        ``"deterministic"`` or ``"stochastic"``.
    estimator:
        Gradient estimator of a stochastic binarizer (``st1``, ``st2``, ``sa``, ``reinforce``,
        ``hard-concrete``); ``None`` for the
        deterministic one.
    rate:
        Slope-annealing rate (``estimator == "sa"`` only).
    init:
        ``scratch``, ``pretrained-hider``, ``pretrained-seeker`` or ``both``.
    objective:
        One of :data:`OBJECTIVES` (the ``objectives`` study; ``None``: the settings' alpha or target as they are).
    """

    binarizer: str
    estimator: str | None = None
    rate: float | None = None
    init: str = "scratch"
    objective: str | None = None

    def __post_init__(self) -> None:
        if self.objective is not None and self.objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {self.objective!r}; choose one of: {', '.join(OBJECTIVES)}")

    @property
    def family(self) -> str:
        """``det``, ``st1``, ``st2``, ``sa0.5``, ``reinforce``, ``hard-concrete``: the binarizer part of the name."""
        if self.binarizer == "deterministic":
            return "det"
        if self.estimator == "sa":
            return f"sa{self.rate:g}"
        return str(self.estimator)

    @property
    def name(self) -> str:
        """The run-key part of the configuration, also its folder name: ``det-scratch``, ``sa0.5-scratch``,
        ``objective-leak-free``."""
        if self.objective is not None:
            return f"objective-{self.objective}"
        return f"{self.family}-{self.init}"

    @property
    def label(self) -> str:
        """A short human label for tables and legends."""
        if self.objective is not None:
            return OBJECTIVE_LABELS[self.objective]
        kind = "deterministic" if self.binarizer == "deterministic" else f"stochastic {self.family}"
        return kind if self.init == "scratch" else f"{kind}, {self.init}"

    def overrides(self, target_kept: float | None) -> dict[str, Any]:
        """The training settings this configuration sets besides the study's (``target_kept``: the study's target,
        for the objectives that aim at one)."""
        if self.objective is None:
            return {}
        if self.objective == "alpha":
            return {"target_kept": None}
        if self.objective == "adaptive":
            return {"target_kept": None, "alpha": "adaptive"}
        target = {"target_kept": target_kept if target_kept is not None else OBJECTIVE_TARGET}
        return {**target, **OBJECTIVE_SETTINGS.get(self.objective, {})}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "name": self.name, "label": self.label}


#: Table labels of :data:`OBJECTIVES`.
OBJECTIVE_LABELS = {
    "alpha": "constant alpha",
    "adaptive": "adaptive alpha",
    "target-kept": "target kept fraction",
    "leak-free": "target kept, leak-free",
    "complement": "target kept, complement control",
    "hard-concrete": "target kept, hard-concrete",
}
#: Training settings of the objectives besides their target.
OBJECTIVE_SETTINGS = {
    "leak-free": {"leak_free": True},
    "complement": {"complement_weight": COMPLEMENT_WEIGHT},
    # A seeker pretrained on whole inputs loses much to the relaxed masks' random drops, and the hider's first epoch
    # then keeps every word (docs/objectives.md, "What goes wrong").
    "hard-concrete": {"pretrain_random_masks": True},
}


def _objective(name: str) -> RunConfig:
    """Every objective starts from a pretrained seeker (``--pretrain-epochs``): a seeker trained from scratch on text
    masks learned nothing within a study's budget, whatever the objective."""
    if name == "hard-concrete":
        return RunConfig("stochastic", estimator="hard-concrete", init=OBJECTIVE_INIT, objective=name)
    return RunConfig("deterministic", init=OBJECTIVE_INIT, objective=name)


def _det(init: str) -> RunConfig:
    return RunConfig("deterministic", init=init)


def _stoch(estimator: str, rate: float | None = None) -> RunConfig:
    if estimator == "sa" and rate is None:
        rate = ESTIMATOR_RATE
    return RunConfig("stochastic", estimator=estimator, rate=rate if estimator == "sa" else None)


def study_configs(study: str, stochastic: str = PAPER_STOCHASTIC) -> list[RunConfig]:
    """The configurations of ``study`` (one of :data:`STUDY_NAMES`); ``stochastic`` is thresholding's estimator."""
    if study == "init":
        return [_det(init) for init in ("scratch", "pretrained-hider", "pretrained-seeker", "both")]
    if study == "estimators":
        return [_stoch(name) for name in STOCHASTIC_CHOICES[1:]]
    if study == "slope-rates":
        return [_stoch("sa", rate) for rate in SLOPE_RATES]
    if study == "thresholding":
        if stochastic not in STOCHASTIC_CHOICES[1:]:
            raise ValueError(
                f"unknown stochastic estimator {stochastic!r}; choose one of {', '.join(STOCHASTIC_CHOICES[1:])}"
            )
        return [_det("scratch"), _stoch(stochastic)]
    if study == "objectives":
        return [_objective(name) for name in OBJECTIVES]
    raise ValueError(f"unknown study {study!r}; choose one of: {', '.join((*STUDY_NAMES, ALL))}")


def expand_studies(names: Iterable[str]) -> list[str]:
    """``["all"]`` -> the paper's studies in order; checks the names."""
    out: list[str] = []
    for name in names:
        if name == ALL:
            out += [s for s in PAPER_STUDIES if s not in out]
        elif name in STUDY_NAMES:
            if name not in out:
                out.append(name)
        else:
            raise ValueError(f"unknown study {name!r}; choose one of: {', '.join((*STUDY_NAMES, ALL))}")
    return out


@dataclass(frozen=True)
class StudySettings:
    """Settings shared by every run of a study folder (a different value in the same folder is refused).

    Attributes
    ----------
    dataset:
        A data set of the modality (images: a name of :data:`hnsx.adapters.image.data.DATASETS`).
    modality:
        The registered modality whose data loader and spec builder the runs use (:mod:`hnsx.modality`).
    epochs:
        Epochs of joint Hide-and-Seek training per run.
    pretrain_epochs:
        Epochs of hider / seeker pretraining for the pretrained inits (and part of the baseline budget).
    alpha:
        A constant in [0, 1] or ``"adaptive"``. Default 0.5, the demo's constant: the paper's adaptive schedule did
        not lower alpha once in 15 epochs on the embedded MNIST, so within a study's budget it would train a plain
        classifier (``alpha = 1``) that hides nothing.
    batch_size, lr:
        As in :class:`~hnsx.training.config.TrainConfig`.
    hider, seeker:
        Builder names (``None``: the modality's default hider and seeker, resolved to their names when the study
        starts so that a folder never mixes hiders).
    train_limit, eval_limit:
        Use only this many training / evaluation inputs, drawn at random with ``data_seed`` (``None``: all).
    data_seed:
        Seed of the train/eval split, the same for every run (run seeds change weights, data order and masks).
    data_dir, download:
        For the torchvision data sets.
    evaluator_epochs:
        Epochs of the label-encoding evaluator (one per seed, see :func:`hnsx.study.run.label_evaluator`); 0 turns
        the check off.
    target_kept:
        A kept fraction every run aims at (a Lagrange multiplier replaces alpha, see :mod:`hnsx.constraint`);
        ``None``: alpha as set.
    leak_free:
        Train every run in the leak-free mode (REAL-X, :mod:`hnsx.training.leak_free`).
    complement_weight:
        Complement control's weight in every run (:mod:`hnsx.complement`; 0: off).
    """

    dataset: str = "mnist-embedded"
    modality: str = "image"
    epochs: int = 6
    pretrain_epochs: int = 2
    alpha: float | str = 0.5
    batch_size: int = 64
    lr: float = 1e-3
    hider: str | None = None
    seeker: str | None = None
    train_limit: int | None = None
    eval_limit: int | None = None
    data_seed: int = 0
    data_dir: str | None = None
    download: bool = False
    evaluator_epochs: int = 8
    target_kept: float | None = None
    leak_free: bool = False
    complement_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.evaluator_epochs < 0:
            raise ValueError(f"evaluator_epochs must be 0 (off) or more, got {self.evaluator_epochs}")
        for name in ("train_limit", "eval_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or None), got {value}")
        # The training settings are checked by the config every run uses.
        self.train_config(RunConfig("deterministic"), seed=0)

    def resolved(self) -> StudySettings:
        """These settings with the default hider and seeker replaced by the modality's builder names."""
        from hnsx.modality import get_modality

        modality = get_modality(self.modality)
        return replace(
            self,
            hider=modality.resolve_builder("hider", self.hider),
            seeker=modality.resolve_builder("seeker", self.seeker),
        )

    def train_config(self, config: RunConfig, seed: int) -> TrainConfig:
        """The :class:`~hnsx.training.config.TrainConfig` of one run."""
        from hnsx.training.config import TrainConfig

        return TrainConfig.build(
            self,
            **config.overrides(self.target_kept),
            init=config.init,
            seed=seed,
            keep_last=1,
            stop_on_converge=False,  # every run trains the whole budget: curves of equal length
            progress=False,
            evaluator_epochs=0,  # the study trains one evaluator per seed itself (hnsx.study.run.label_evaluator)
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StudySettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def quick_settings(dataset: str = "mnist-embedded", **overrides: Any) -> StudySettings:
    """A smoke-test budget: 1 epoch, 1 pretraining epoch, 600 training and 200 evaluation images, a 1-epoch
    evaluator."""
    base = {
        "dataset": dataset,
        "epochs": 1,
        "pretrain_epochs": 1,
        "train_limit": 600,
        "eval_limit": 200,
        "evaluator_epochs": 1,
    }
    return StudySettings(**{**base, **overrides})


def run_key(config: RunConfig, seed: int) -> str:
    """``<config name>/seed-<seed>``: the identity of a run, shared by every study of a folder."""
    return f"{config.name}/seed-{seed}"
