"""``HnSClassifier``: scikit-learn's estimator checks, Pipeline, cross-validation, explain, save / load.

The estimator checks run on a short training budget (they test the contract, not the learning); scikit-learn's
``check_classifiers_train`` still requires more than 83 % accuracy on its blobs, masked.

Checks that cannot apply:

* ``check_array_api_input``: the model is a torch network fed from numpy; array-API inputs (CuPy, torch arrays
  through ``array_api_dispatch``) are not supported. scikit-learn skips it unless ``SCIPY_ARRAY_API=1``.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_wine
from sklearn.impute import SimpleImputer
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

import hnsx
from hnsx.adapters.tabular.estimator import HnSClassifier

pytestmark = pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")

CHECKED = HnSClassifier(epochs=2, pretrain_epochs=4, lr=1e-2, batch_size=32)
EXPECTED_FAILED = {"check_array_api_input": "torch model fed from numpy; array-API inputs are not supported"}


@parametrize_with_checks([CHECKED], expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check(estimator)


@pytest.fixture(scope="module")
def wine() -> tuple[pd.DataFrame, np.ndarray]:
    X, y = load_wine(return_X_y=True, as_frame=True)
    names = np.array(["barolo", "grignolino", "barbera"])[y.to_numpy()]  # text labels
    return X, names


@pytest.fixture(scope="module")
def fitted(wine) -> HnSClassifier:
    X, y = wine
    return HnSClassifier(epochs=10, pretrain_epochs=10, lr=5e-3, batch_size=32, random_state=0).fit(X, y)


def test_top_level_export():
    assert hnsx.HnSClassifier is HnSClassifier
    assert "HnSClassifier" in hnsx.__all__


def test_fit_learns_text_labels_and_explains_each_row(fitted, wine):
    X, y = wine
    assert list(fitted.classes_) == ["barbera", "barolo", "grignolino"]
    assert list(fitted.feature_names_in_) == list(X.columns) and fitted.n_features_in_ == 13
    assert fitted.score(X, y) >= 0.85
    proba = fitted.predict_proba(X)
    assert proba.shape == (178, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    masks = fitted.explain(X)
    assert masks.shape == (178, 13) and masks.dtype == bool
    assert 0.0 < masks.mean() < 0.7  # hides, but not everything
    kept = fitted.kept_features(X.iloc[:2])
    assert kept[0] == [name for name, m in zip(X.columns, masks[0]) if m]
    assert {"fidelity", "interpretability", "fir", "fii", "accuracy", "baseline_accuracy"} <= set(fitted.scores_)
    assert fitted.scores_["split"] == "validation" and fitted.scores_["samples"] == 36
    assert [r["epoch"] for r in fitted.history_] == list(range(1, 11))


def test_predictions_are_the_seeker_on_the_masked_rows(fitted, wine):
    X, _ = wine
    rows = torch.from_numpy(fitted.schema_.transform(X.iloc[:20]))
    model = fitted.model_
    with torch.no_grad():
        mask = model.explain(rows)
        logits = model.seeker(model.adapter.apply_mask(rows, mask))
    assert np.array_equal(fitted.predict(X.iloc[:20]), fitted.classes_[logits.argmax(1).numpy()])


def test_save_and_load_round_trip_without_pickle(fitted, wine, tmp_path):
    X, _ = wine
    path = fitted.save(tmp_path / "clf")
    assert sorted(p.name for p in path.iterdir()) == ["model.safetensors", "state.json"]
    state = json.loads((path / "state.json").read_text())
    assert state["estimator"]["classes"] == ["barbera", "barolo", "grignolino"]
    again = HnSClassifier.load(path)
    np.testing.assert_array_equal(again.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(again.explain(X), fitted.explain(X))
    assert again.get_params() == fitted.get_params()


def test_get_set_params_and_clone():
    clf = HnSClassifier(alpha=0.6, hidden=(32,))
    assert clf.get_params()["alpha"] == 0.6 and clf.get_params()["hidden"] == (32,)
    assert clf.set_params(epochs=3) is clf and clf.epochs == 3
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin is not clf


def test_seeker_lr_sets_the_seekers_rate_of_the_joint_training():
    config = HnSClassifier(lr=1e-3, seeker_lr=1e-4)._config(0)
    assert (config.lr, config.seeker_lr) == (1e-3, 1e-4)
    assert HnSClassifier()._config(0).seeker_lr is None  # default: the seeker trains at lr


def test_pipeline_with_imputer_and_cross_validation(wine):
    X, y = wine
    X = X.copy()
    X.iloc[::10, 0] = np.nan  # the imputer in front handles missing values
    pipe = make_pipeline(SimpleImputer(), HnSClassifier(epochs=3, pretrain_epochs=6, lr=1e-2, batch_size=32))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() >= 0.75, scores


def test_categorical_columns_and_a_custom_seeker():
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame({"a": rng.normal(size=n), "noise": rng.normal(size=n), "colour": rng.choice(["r", "g"], n)})
    y = np.where(frame["colour"] == "r", 1, 0)
    seeker = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
    before = [p.detach().clone() for p in seeker.parameters()]
    clf = HnSClassifier(epochs=6, pretrain_epochs=6, lr=1e-2, batch_size=32, seeker=seeker).fit(frame, y)
    assert clf.score(frame, y) >= 0.9
    assert clf.spec_.seeker.name == "custom"
    assert all(torch.equal(a, b) for a, b in zip(before, seeker.parameters())), "the user's seeker was changed"
    masks = clf.explain(frame)
    # The colour decides: it is the only feature kept. (For one of the two colours the hider may hide it: its
    # "missing" code then tells the seeker the class, the label-encoding effect of jointly trained models.)
    assert masks[:, :2].mean() < 0.05 and masks[:, 2].mean() > 0.3
