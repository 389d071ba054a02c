"""``HnSClassifier``: Hide-and-Seek on tables as a scikit-learn estimator.

``fit`` fits the table's schema (scaling, categorical codes), holds out ``validation_fraction`` of the rows for
the per-epoch scores, and trains an MLP hider and an MLP seeker (or your own seeker) with
:func:`hnsx.training.fit`. ``predict`` / ``predict_proba`` / ``score`` use the seeker on the masked rows (what
the model is: a classifier that only sees what its hider keeps), and ``explain`` returns, per row, which features
were kept.

It follows the scikit-learn estimator contract (``get_params`` / ``set_params``, ``clone``, ``Pipeline``,
``cross_val_score``, ``classes_``, ``n_features_in_``, ``feature_names_in_``); the checks of
``sklearn.utils.estimator_checks`` pass (see ``tests/test_tabular_estimator.py`` for the few that do not apply).
"""

from __future__ import annotations

import copy
import dataclasses
import numbers
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_array,
    check_consistent_length,
    check_is_fitted,
    check_random_state,
    column_or_1d,
)
from torch import nn
from torch.utils.data import TensorDataset

from hnsx.adapters.tabular.early_stopping import pretrain_seeker, restore_best_epoch
from hnsx.adapters.tabular.schema import TabularSchema
from hnsx.adapters.tabular.spec import tabular_spec
from hnsx.spec import CUSTOM, ModelSpec, build_model

#: Rows per forward pass in predict / explain.
PREDICT_BATCH = 4096
#: Fewer held-out rows per class than this and the training rows are scored instead (F is noise on fewer).
MIN_EVAL_PER_CLASS = 5


def _is_frame(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "iloc")


class HnSClassifier(ClassifierMixin, BaseEstimator):
    """A Hide-and-Seek classifier for tables: predictions that come with the features each row needed.

    Parameters
    ----------
    alpha:
        Weight of the classification loss in ``J = alpha * CE + (1 - alpha) * kept_fraction`` (a number in
        [0, 1]) or ``"adaptive"``. Lower values hide more.
    epochs:
        Epochs of joint Hide-and-Seek training.
    pretrain_epochs:
        Most epochs of seeker pretraining (``init="pretrained-seeker"``); it stops early when the held-out
        cross-entropy has not improved for ``n_iter_no_change`` epochs and keeps the best epoch's weights
        (:func:`~hnsx.adapters.tabular.early_stopping.pretrain_seeker`), whose held-out accuracy is the baseline
        of Fidelity.
    init:
        ``"pretrained-seeker"`` (default) or ``"scratch"``. The image modes that pretrain the hider as an
        autoencoder do not apply to tables.
    batch_size, lr:
        Mini-batch size and Adam learning rate.
    seeker_lr:
        Adam learning rate of the seeker in the joint training (``None``: ``lr``; the pretraining always uses
        ``lr``).
    hidden:
        Hidden widths of the MLP seeker and hider.
    binarizer, estimator:
        ``"deterministic"`` or ``"stochastic"`` and its gradient estimator (``st1``, ``st2``, ``sa``,
        ``reinforce``, or ``hard-concrete`` with ``"stochastic"``); see :mod:`hnsx.binarizers`.
    categorical_features:
        Columns (names or positions) to treat as categorical besides a DataFrame's object, category, string and
        bool columns.
    seeker:
        ``None`` for the MLP seeker, or your own ``nn.Module`` mapping transformed rows ``(B, F)`` (standardised
        numeric columns, integer category codes) to ``(B, n_classes)`` logits; it is copied, never changed. During
        training it receives :class:`~hnsx.adapters.tabular.adapter.MaskedRows`, a plain-looking ``(B, F)`` tensor
        of the filled rows (hidden categorical columns hold their missing code); to give the keep decisions of
        categorical columns a gradient, encode them as the built-in seeker does, from
        ``hnsx.adapters.tabular.adapter.masked_parts(x)`` (see :class:`~hnsx.adapters.tabular.mlp.FeatureEncoder`).
    n_iter_no_change:
        Patience of the seeker pretraining's early stopping (``None``: train all ``pretrain_epochs``, still keep
        the best epoch). Without held-out rows (see ``validation_fraction``) the training rows are watched.
    keep_best_epoch:
        After the joint training, restore the epoch with the lowest ``alpha * CE + (1 - alpha) * kept_fraction``
        on the held-out rows (with ``target_kept``: the lowest CE among the epochs that keep at most the target;
        :func:`~hnsx.adapters.tabular.early_stopping.restore_best_epoch`; ``scores_["epoch"]`` says which) instead
        of keeping the last one. Every epoch's checkpoint is written for that (to ``out_dir``, or to a temporary
        folder).
    validation_fraction:
        Share of the rows held out (stratified) to score each epoch (``scores_``, ``history_``). When that would
        hold out fewer than 5 rows per class (or 0 is given), the model trains on every row and the training rows
        are scored instead; ``scores_["split"]`` says which.
    random_state:
        Seed of the split, the weights and the data order; ``None`` draws one. Training seeds torch's, numpy's
        and Python's global generators (through ``accelerate.utils.set_seed``).
    cpu:
        Train on the CPU even when CUDA is available (the fitted model always ends on the CPU).
    out_dir:
        Run folder for ``history.jsonl`` and checkpoints (``None``: nothing is written).
    progress:
        Show progress bars.
    target_kept, dual_lr:
        A kept fraction in (0, 1) to aim at instead of ``alpha`` (a Lagrange multiplier updated by dual ascent
        with step ``dual_lr``, :mod:`hnsx.constraint`); ``None``: ``alpha`` as set.
    leak_free:
        REAL-X training (:mod:`hnsx.training.leak_free`): in the joint training the seeker learns from rows under
        random masks only, never from the hider's masks, so the masks cannot encode the label. (The early-stopped
        seeker pretraining of ``init="pretrained-seeker"`` stays on whole rows here.)
    complement_weight:
        Complement control (:mod:`hnsx.complement`): weight of the penalty on a second predictor finding the label
        in the hidden features (0: off).

    Attributes
    ----------
    classes_ : np.ndarray
        ``(n_classes,)`` class labels, sorted.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : np.ndarray
        Column names, when fitted on a DataFrame with string column names.
    schema_ : TabularSchema
        The fitted preprocessing (saved with :meth:`save`).
    model_ : hnsx.model.HideAndSeek
        The trained model (on the CPU).
    spec_ : hnsx.spec.ModelSpec
        Its spec.
    scores_ : dict
        Fidelity, interpretability, FIR, FII, accuracy, baseline accuracy on the held-out rows after training.
    history_ : list[dict]
        One record per epoch (see :func:`hnsx.training.fit`).

    Notes
    -----
    Missing values are not imputed: put ``sklearn.impute.SimpleImputer`` in front in a ``Pipeline``. Constant
    columns, categories unseen at fit time and a different column set at predict time raise ``ValueError``.
    """

    def __init__(
        self,
        *,
        alpha: float | str = 0.9,
        epochs: int = 60,
        pretrain_epochs: int = 100,
        init: str = "pretrained-seeker",
        batch_size: int = 128,
        lr: float = 5e-4,
        seeker_lr: float | None = None,
        hidden: tuple[int, ...] = (64, 64),
        binarizer: str = "deterministic",
        estimator: str | None = None,
        categorical_features: list[str | int] | None = None,
        seeker: nn.Module | None = None,
        validation_fraction: float = 0.2,
        n_iter_no_change: int | None = 10,
        keep_best_epoch: bool = True,
        random_state: int | None = 0,
        cpu: bool = False,
        out_dir: str | os.PathLike | None = None,
        progress: bool = False,
        target_kept: float | None = None,
        dual_lr: float = 0.05,
        leak_free: bool = False,
        complement_weight: float = 0.0,
    ) -> None:
        self.alpha = alpha
        self.epochs = epochs
        self.pretrain_epochs = pretrain_epochs
        self.init = init
        self.batch_size = batch_size
        self.lr = lr
        self.seeker_lr = seeker_lr
        self.hidden = hidden
        self.binarizer = binarizer
        self.estimator = estimator
        self.categorical_features = categorical_features
        self.seeker = seeker
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.keep_best_epoch = keep_best_epoch
        self.random_state = random_state
        self.cpu = cpu
        self.out_dir = out_dir
        self.progress = progress
        self.target_kept = target_kept
        self.dual_lr = dual_lr
        self.leak_free = leak_free
        self.complement_weight = complement_weight

    # ----------------------------------------------------------------- input checks

    def _check_X(self, X: Any, reset: bool) -> Any:
        """Feature-name and shape bookkeeping the scikit-learn way; returns a DataFrame or a 2-D array."""
        _check_feature_names(self, X, reset=reset)
        if not _is_frame(X):
            X = check_array(
                X,
                dtype=None if self.categorical_features else "numeric",
                ensure_all_finite=False,  # the schema names the column that holds NaN / inf
                estimator=self,
            )
        elif X.shape[0] < 1:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
        _check_n_features(self, X, reset=reset)
        return X

    def _check_y(self, y: Any) -> np.ndarray:
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        return y

    # ----------------------------------------------------------------- training

    def _seed(self) -> int:
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _config(self, seed: int):
        from hnsx.training.config import TrainConfig

        if self.init not in ("scratch", "pretrained-seeker"):
            raise ValueError(
                f"init={self.init!r} does not apply to tables (no autoencoder target for the hider); "
                "use 'pretrained-seeker' or 'scratch'"
            )
        return TrainConfig.build(self, seed=seed)

    def _split(self, codes: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
        """Train and eval row indices; ``"train"`` as third item when the training rows are scored."""
        from sklearn.model_selection import train_test_split

        frac = float(self.validation_fraction)
        if not 0.0 <= frac < 1.0:
            raise ValueError(f"validation_fraction must lie in [0, 1), got {self.validation_fraction!r}")
        everything = np.arange(len(codes))
        n_classes = int(codes.max()) + 1
        counts = np.bincount(codes, minlength=n_classes)
        n_eval = int(np.ceil(frac * len(codes)))
        if frac == 0.0 or counts.min() < 2 or n_eval < MIN_EVAL_PER_CLASS * n_classes:
            return everything, everything, "train"
        train_idx, eval_idx = train_test_split(everything, test_size=n_eval, random_state=seed, stratify=codes)
        return np.sort(train_idx), np.sort(eval_idx), "validation"

    def fit(self, X: Any, y: Any) -> HnSClassifier:
        """Fit the schema and train hider and seeker.

        Parameters
        ----------
        X:
            DataFrame or array-like ``(n_samples, n_features)``.
        y:
            Class labels ``(n_samples,)`` (numbers or strings).

        Returns
        -------
        HnSClassifier
            ``self``.
        """
        from accelerate.utils import set_seed

        from hnsx.data import make_loaders
        from hnsx.training.fit import fit

        X = self._check_X(X, reset=True)
        y = self._check_y(y)
        check_consistent_length(X, y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes in y; got 1 class")
        schema = TabularSchema.fit(X, categorical=self.categorical_features)
        rows = torch.from_numpy(schema.transform(X))
        labels = torch.from_numpy(codes.astype(np.int64))
        seed = self._seed()
        config = self._config(seed)
        train_idx, eval_idx, split = self._split(codes, seed)
        spec = tabular_spec(
            schema,
            len(self.classes_),
            classes=[str(c) for c in self.classes_],
            hidden=tuple(self.hidden),
            seeker=CUSTOM if self.seeker is not None else "tabular-mlp",
            binarizer=self.binarizer,
            estimator=self.estimator,
        )
        set_seed(seed)
        model = build_model(spec, seeker=copy.deepcopy(self.seeker) if self.seeker is not None else None)
        data = _Splits(
            train=TensorDataset(rows[train_idx], labels[train_idx]),
            eval=TensorDataset(rows[eval_idx], labels[eval_idx]),
        )
        baseline = None
        if config.init == "pretrained-seeker" and config.pretrain_epochs > 0:
            model.seeker, pretrained = pretrain_seeker(
                model.seeker,
                data.train,
                data.eval,
                max_epochs=config.pretrain_epochs,
                lr=config.lr,
                batch_size=config.batch_size,
                seed=seed,
                patience=self.n_iter_no_change,
                device="cuda" if torch.cuda.is_available() and not self.cpu else "cpu",
            )
            baseline = pretrained.accuracy
            config = dataclasses.replace(config, pretrain_epochs=0)  # the seeker is trained: fit only measures it
        train_loader, eval_loader = make_loaders(data, config.batch_size, seed=seed)
        if self.keep_best_epoch:  # every epoch's checkpoint is needed to choose one
            config = dataclasses.replace(config, keep_last=max(config.keep_last, config.epochs))
        with tempfile.TemporaryDirectory(prefix="hnsx-tabular-") as tmp:
            run_dir = Path(self.out_dir) if self.out_dir is not None else Path(tmp)
            result = fit(
                model, train_loader, eval_loader, config, out_dir=run_dir, spec=spec, baseline_accuracy=baseline
            )
            scores = {**result.scores.as_dict(), "epoch": len(result.history)}
            if self.keep_best_epoch:
                alpha = result.history[-1]["alpha"]
                epochs = [r["epoch"] for r in result.history]
                epoch, _ = restore_best_epoch(model, run_dir, epochs, data.eval, alpha, config.target_kept)
                record = next(r for r in result.history if r["epoch"] == epoch)
                scores = {**{k: record[k] for k in result.scores.as_dict()}, "epoch": epoch}
        self.schema_ = schema
        self.spec_ = spec
        self.model_ = model.cpu().eval()
        self.scores_ = {**scores, "split": split}
        self.history_ = result.history
        return self

    # ----------------------------------------------------------------- inference

    def _rows(self, X: Any) -> torch.Tensor:
        check_is_fitted(self, "model_")
        X = self._check_X(X, reset=False)
        return torch.from_numpy(self.schema_.transform(X))

    @torch.no_grad()
    def _forward(self, X: Any) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self._rows(X)
        self.model_.eval()
        probs, masks = [], []
        for chunk in rows.split(PREDICT_BATCH):
            out = self.model_(chunk)
            probs.append(out.logits.float().softmax(1))
            masks.append(out.mask.bool())
        return torch.cat(probs), torch.cat(masks)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)`` of the seeker on the masked rows."""
        return self._forward(X)[0].numpy().astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels ``(n_samples,)`` (values of ``classes_``)."""
        check_is_fitted(self, "model_")
        return self.classes_[self.predict_proba(X).argmax(1)]

    def explain(self, X: Any) -> np.ndarray:
        """Per-row kept-feature masks ``(n_samples, n_features)`` bool, columns in input order.

        ``True`` marks a feature the hider kept (the seeker saw its value); hidden features were replaced by their
        training mean (numeric) or the "missing" code (categorical). Deterministic (``p >= 0.5``).
        """
        return self._forward(X)[1].numpy()

    def kept_features(self, X: Any) -> list[list[str]]:
        """Per row, the names of the kept features (``x0``, ``x1``, ... for arrays without names)."""
        names = self.schema_.names if hasattr(self, "schema_") else []
        return [[names[j] for j in np.flatnonzero(row)] for row in self.explain(X)]

    # ----------------------------------------------------------------- persistence

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted model as an hnsx checkpoint folder (safetensors + JSON, no pickle).

        The folder is also readable by ``hnsx explain --checkpoint PATH table.csv``.
        """
        from hnsx.training.checkpoint import save_checkpoint

        check_is_fitted(self, "model_")
        params = {k: v for k, v in self.get_params().items() if k != "seeker"}
        params["hidden"] = list(params["hidden"])
        params["out_dir"] = str(params["out_dir"]) if params["out_dir"] is not None else None
        state = {
            "kind": "estimator",
            "spec": self.spec_.to_dict(),
            "estimator": {
                "params": params,
                "classes": self.classes_.tolist(),
                "feature_names_in": self.feature_names_in_.tolist() if hasattr(self, "feature_names_in_") else None,
                "scores": self.scores_,
            },
        }
        return save_checkpoint(path, self.model_.state_dict(), state)

    @classmethod
    def load(cls, path: str | os.PathLike, seeker: nn.Module | None = None) -> HnSClassifier:
        """Restore a classifier written by :meth:`save` (``seeker``: the same custom seeker, if one was used)."""
        from hnsx.training.checkpoint import CheckpointError, load_model_state, read_state

        state = read_state(path)
        if state.get("kind") != "estimator" or "estimator" not in state:
            raise CheckpointError(f"{path} was not written by HnSClassifier.save")
        saved = state["estimator"]
        spec = ModelSpec.from_dict(state["spec"])
        model = build_model(spec, seeker=seeker)
        load_model_state(model, path)
        est = cls(**{**saved["params"], "hidden": tuple(saved["params"]["hidden"]), "seeker": seeker})
        est.classes_ = np.asarray(saved["classes"])
        est.n_features_in_ = spec.input_shape[0]
        if saved.get("feature_names_in") is not None:
            est.feature_names_in_ = np.asarray(saved["feature_names_in"], dtype=object)
        est.schema_ = model.adapter.schema
        est.spec_ = spec
        est.model_ = model.eval()
        est.scores_ = saved.get("scores")
        est.history_ = []
        return est


class _Splits:
    """The two fields of a data set that :func:`hnsx.data.make_loaders` reads."""

    def __init__(self, train: TensorDataset, eval: TensorDataset) -> None:
        self.train = train
        self.eval = eval
