"""Bad tabular input: each case its own test, each error names the problem (library, estimator and CLI)."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd
import pytest

from hnsx.adapters.tabular import TabularSchema
from hnsx.adapters.tabular.data import encode_labels
from hnsx.adapters.tabular.estimator import HnSClassifier
from hnsx.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")

FAST = {"epochs": 1, "pretrain_epochs": 1, "batch_size": 32}


def _frame(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["u", "v", "w"], n)})


@pytest.fixture(scope="module")
def fitted() -> HnSClassifier:
    frame = _frame(60)
    return HnSClassifier(**FAST).fit(frame, (frame["a"] > 0).astype(int))


def test_nan_in_features_is_an_error_that_names_the_column_and_suggests_imputation():
    frame = _frame()
    frame.loc[[3, 7], "b"] = np.nan
    with pytest.raises(ValueError, match=r"feature 'b' contains 2 missing \(NaN.*rows 3, 7.*SimpleImputer"):
        TabularSchema.fit(frame)


def test_nan_at_predict_time_is_an_error(fitted):
    frame = _frame(5)
    frame.loc[0, "a"] = np.nan
    with pytest.raises(ValueError, match="feature 'a' contains 1 missing"):
        fitted.predict(frame)


def test_none_in_a_categorical_column_is_an_error():
    frame = _frame()
    frame["c"] = frame["c"].astype(object)
    frame.loc[2, "c"] = None
    with pytest.raises(ValueError, match="feature 'c' contains 1 missing"):
        TabularSchema.fit(frame)


def test_constant_numeric_column_is_an_error():
    frame = _frame()
    frame["b"] = 4.5
    with pytest.raises(ValueError, match=r"feature 'b' is constant \(every training row holds 4.5\).*drop it"):
        HnSClassifier(**FAST).fit(frame, np.arange(30) % 2)


def test_constant_categorical_column_is_an_error():
    frame = _frame()
    frame["c"] = "u"
    with pytest.raises(ValueError, match="feature 'c' is constant"):
        TabularSchema.fit(frame)


def test_unseen_category_at_predict_time_is_an_error(fitted):
    frame = _frame(4)
    frame.loc[1, "c"] = "purple"
    with pytest.raises(ValueError, match=r"feature 'c' has the category 'purple' in row 1, which was not seen"):
        fitted.predict(frame)


def test_different_column_set_at_predict_time_is_an_error_naming_the_columns(fitted):
    frame = _frame(4).rename(columns={"b": "bee"})
    with pytest.raises(ValueError, match=r"(?s)should match those that were passed during fit.*bee.*b"):
        fitted.predict(frame)
    schema = fitted.schema_
    with pytest.raises(ValueError, match=r"missing column\(s\) \['b'\]; unknown column\(s\) \['bee'\]"):
        schema.transform(frame)


def test_different_number_of_columns_in_an_array_is_an_error():
    X = np.random.default_rng(0).normal(size=(40, 3))
    clf = HnSClassifier(**FAST).fit(X, (X[:, 0] > 0).astype(int))
    with pytest.raises(ValueError, match="X has 2 features, but HnSClassifier is expecting 3"):
        clf.predict(X[:, :2])


def test_text_target_without_a_class_mapping_is_an_error():
    with pytest.raises(ValueError, match=r"not numeric .* no class mapping was given.*--classes"):
        encode_labels(np.array(["yes", "no", "yes"]))


def test_continuous_target_is_an_error():
    with pytest.raises(ValueError, match="fractional values .* looks continuous"):
        encode_labels(np.array([0.5, 1.25, 2.0]))


def test_estimator_rejects_a_continuous_target():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="Unknown label type"):
        HnSClassifier(**FAST).fit(X, X[:, 0])


def test_label_outside_the_given_classes_is_an_error():
    with pytest.raises(ValueError, match=r"label\(s\) \['maybe'\] that are not in classes"):
        encode_labels(np.array(["yes", "maybe"]), classes=["no", "yes"])


def _cli_error(argv: list[str]) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    assert code == 2
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hnsx train: error: "), lines
    return lines[0]


def test_cli_text_target_without_classes_is_a_one_line_error(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": ["no", "yes", "no", "yes"]}).to_csv(path, index=False)
    line = _cli_error(["train", "--modality", "tabular", "--data-file", str(path), "--target", "y", "--out", "r"])
    assert "the y column is not numeric" in line and "--classes" in line


def test_cli_data_file_without_target_is_a_one_line_error(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}).to_csv(path, index=False)
    line = _cli_error(["train", "--modality", "tabular", "--data-file", str(path), "--out", "r"])
    assert "--data-file needs --target" in line


def test_cli_unknown_target_column_is_a_one_line_error(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, 2.0], "y": [0, 1]}).to_csv(path, index=False)
    line = _cli_error(["train", "--modality", "tabular", "--data-file", str(path), "--target", "z", "--out", "r"])
    assert "has no column 'z'" in line and "'a', 'y'" in line


def test_cli_hider_pretraining_does_not_apply_to_tables():
    line = _cli_error(["train", "--modality", "tabular", "--init", "both", "--out", "r"])
    assert "--init both" in line and "pretrained-seeker" in line
