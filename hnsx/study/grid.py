"""The grids of the paper's section 6 studies: configurations (:class:`RunConfig`), shared settings
(:class:`StudySettings`) and run keys.

============== ==============================================================================================
``init``       deterministic binarizer; init scratch, pretrained hider, pretrained seeker, both (paper 6.3)
``estimators`` stochastic binarizer from scratch; estimators st1, st2, sa (rate 0.5), reinforce (paper 6.4)
``slope-rates`` stochastic, slope annealing from scratch with rates 0.1, 0.5, 1, 10, 100 (paper 6.4)
``thresholding`` deterministic from scratch against one stochastic estimator from scratch (paper 6.5)
============== ==============================================================================================

A run is identified by its configuration name and seed (:func:`run_key`, ``det-scratch/seed-3``); the same key in
two studies is the same run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hnsx.training.config import TrainConfig

STUDY_NAMES = ("init", "estimators", "slope-rates", "thresholding")
ALL = "all"
STOCHASTIC_CHOICES = ("auto", "st1", "st2", "sa", "reinforce")
#: The paper's pick for the stochastic family in section 6.5.
PAPER_STOCHASTIC = "st1"
SLOPE_RATES = (0.1, 0.5, 1.0, 10.0, 100.0)
ESTIMATOR_RATE = 0.5


@dataclass(frozen=True)
class RunConfig:
    """One configuration of a study grid: a binarizer (and estimator) and an init mode.

    Attributes
    ----------
    binarizer:
        ``"deterministic"`` or ``"stochastic"``.
    estimator:
        Gradient estimator of a stochastic binarizer (``st1``, ``st2``, ``sa``, ``reinforce``); ``None`` for the
        deterministic one.
    rate:
        Slope-annealing rate (``estimator == "sa"`` only).
    init:
        ``scratch``, ``pretrained-hider``, ``pretrained-seeker`` or ``both``.
    """

    binarizer: str
    estimator: str | None = None
    rate: float | None = None
    init: str = "scratch"

    @property
    def family(self) -> str:
        """``det``, ``st1``, ``st2``, ``sa0.5``, ``reinforce``: the binarizer part of the name."""
        if self.binarizer == "deterministic":
            return "det"
        if self.estimator == "sa":
            return f"sa{self.rate:g}"
        return str(self.estimator)

    @property
    def name(self) -> str:
        """The run-key part of the configuration, also its folder name: ``det-scratch``, ``sa0.5-scratch``."""
        return f"{self.family}-{self.init}"

    @property
    def label(self) -> str:
        """A short human label for tables and legends."""
        kind = "deterministic" if self.binarizer == "deterministic" else f"stochastic {self.family}"
        return kind if self.init == "scratch" else f"{kind}, {self.init}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "name": self.name, "label": self.label}


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
        return [_stoch("st1"), _stoch("st2"), _stoch("sa"), _stoch("reinforce")]
    if study == "slope-rates":
        return [_stoch("sa", rate) for rate in SLOPE_RATES]
    if study == "thresholding":
        if stochastic not in STOCHASTIC_CHOICES[1:]:
            raise ValueError(f"unknown stochastic estimator {stochastic!r}; choose one of st1, st2, sa, reinforce")
        return [_det("scratch"), _stoch(stochastic)]
    raise ValueError(f"unknown study {study!r}; choose one of: {', '.join((*STUDY_NAMES, ALL))}")


def expand_studies(names: Iterable[str]) -> list[str]:
    """``["all"]`` -> every study in order; checks the names."""
    out: list[str] = []
    for name in names:
        if name == ALL:
            out += [s for s in STUDY_NAMES if s not in out]
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
        Use only the first this many training / evaluation images (``None``: all).
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
