"""Tabular modality: schema, adapter fill, MLPs, the switch table and its scores, checkpoints, CLI, learned runs."""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from hnsx.adapter import ADAPTERS
from hnsx.adapters.tabular import TabularSchema
from hnsx.adapters.tabular.data import encode_labels, load_switch, load_tabular, tabular_data
from hnsx.adapters.tabular.mlp import FeatureEncoder
from hnsx.adapters.tabular.plots import keep_rates
from hnsx.adapters.tabular.spec import tabular_spec
from hnsx.adapters.tabular.synthetic import RULE_A, RULE_B, SWITCH, make_switch, selection_scores
from hnsx.cli import main
from hnsx.explain import load_trained
from hnsx.pipeline import run_training
from hnsx.registry import HIDERS, SEEKERS
from hnsx.spec import build_model
from hnsx.training.checkpoint import save_checkpoint
from hnsx.training.config import TrainConfig

# The first epochs keep every feature (the hider starts open): the collapse warning is expected there.
pytestmark = pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")


def _frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(50, 10, n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "size": rng.integers(0, 3, n),
            "flag": rng.choice([True, False], n),
        }
    )


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------- schema and adapter


def test_schema_scales_numeric_and_codes_categorical_columns():
    frame = _frame()
    schema = TabularSchema.fit(frame, categorical=["size"])
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {"age": "numeric", "colour": "categorical", "size": "categorical", "flag": "categorical"}
    rows = schema.transform(frame)
    assert rows.dtype == np.float32 and rows.shape == (40, 4)
    age = frame["age"].to_numpy()
    np.testing.assert_allclose(rows[:, 0], (age - age.mean()) / age.std(), rtol=1e-5, atol=1e-5)
    colour = schema.columns[1]
    assert colour.categories == ["blue", "green", "red"]  # sorted, as OrdinalEncoder sorts them
    expected = [colour.categories.index(v) for v in frame["colour"]]
    np.testing.assert_array_equal(rows[:, 1], expected)
    assert schema.cardinalities == [0, 4, 4, 3]  # categories + the missing code
    assert schema.fill == [0.0, 3.0, 3.0, 2.0]


def test_schema_round_trips_through_json_and_reorders_columns_by_name():
    frame = _frame()
    schema = TabularSchema.fit(frame)
    again = TabularSchema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema
    shuffled = frame[["flag", "size", "colour", "age"]]
    np.testing.assert_array_equal(again.transform(shuffled), schema.transform(frame))


def test_adapter_fills_hidden_numeric_with_training_mean_and_categorical_with_missing_code():
    frame = _frame()
    schema = TabularSchema.fit(frame)
    adapter = ADAPTERS.build("tabular", schema=schema.to_dict())
    x = torch.from_numpy(schema.transform(frame.iloc[:5]))
    mask = torch.tensor([[1, 0, 1, 0]] * 5)
    masked = adapter.apply_mask(x, mask)
    assert torch.equal(masked[:, [0, 2]], x[:, [0, 2]])
    # Hidden age is the training mean: 0 after scaling, i.e. the mean in the original units.
    age = schema.columns[0]
    hidden = adapter.apply_mask(x, torch.zeros(5, 4))
    np.testing.assert_allclose(hidden[:, 0].numpy() * age.scale + age.mean, frame["age"].mean(), rtol=1e-6)
    assert torch.equal(masked[:, 1], torch.full((5,), 3.0))  # colour: 3 categories, missing code 3
    assert torch.equal(masked[:, 3], torch.full((5,), 2.0))  # flag: 2 categories, missing code 2
    assert adapter.mask_shape(x) == (5, 4)


def test_feature_encoder_one_hot_encodes_codes_including_the_missing_code():
    enc = FeatureEncoder([0, 3, 0])
    x = torch.tensor([[0.5, 2.0, -1.0], [1.5, 0.0, 2.0]])
    out = enc(x)
    assert out.shape == (2, 2 + 3)
    assert torch.equal(out, torch.tensor([[0.5, -1.0, 0, 0, 1], [1.5, 2.0, 1, 0, 0]]))


@pytest.mark.parametrize(
    ("registry", "name"),
    [(HIDERS, n) for n in HIDERS.names("tabular")] + [(SEEKERS, n) for n in SEEKERS.names("tabular")],
)
def test_tabular_builders_shapes_and_backprop_to_the_input(registry, name):
    kwargs = {"num_classes": 3} if registry is SEEKERS else {}
    net = registry.build(name, input_shape=(4,), cardinalities=[0, 4, 0, 3], **kwargs)
    x = torch.tensor([[0.3, 1.0, -0.2, 2.0], [1.0, 3.0, 0.4, 0.0]], requires_grad=True)
    out = net(x)
    assert out.shape == (2, 3 if registry is SEEKERS else 4)
    out.sum().backward()
    assert x.grad[:, [0, 2]].abs().sum() > 0  # numeric columns carry gradient


def test_a_fresh_tabular_hider_keeps_every_feature():
    schema = TabularSchema.fit(_frame())
    model = build_model(tabular_spec(schema, 2))
    x = torch.from_numpy(schema.transform(_frame(8, seed=1)))
    assert bool(model.explain(x).all())


def test_checkpoint_restores_schema_and_predictions(tmp_path):
    frame = _frame()
    labels = np.array(["no", "yes"])[np.arange(40) % 2]
    data = tabular_data(frame, labels, name="toy", classes=["no", "yes"], target="label")
    spec = tabular_spec(data.schema, 2, classes=data.class_names, target="label")
    model = build_model(spec).eval()
    save_checkpoint(tmp_path / "ckpt", model.state_dict(), {"spec": spec.to_dict()})
    again = load_trained(tmp_path / "ckpt")
    assert again.adapter.schema == data.schema
    assert again.adapter.target == {"name": "label", "classes": ["no", "yes"]}
    x = data.eval.tensors[0]
    assert torch.equal(again(x).logits, model(x).logits)


# ----------------------------------------------------------------------------- data, switch table, scores


def test_encode_labels_maps_numbers_and_named_classes():
    codes, names = encode_labels(np.array([3, 1, 3, 7]))
    assert codes.tolist() == [1, 0, 1, 2] and names == ["1", "3", "7"]
    codes, names = encode_labels(np.array(["b", "a", "b"]), classes=["b", "a"])
    assert codes.tolist() == [0, 1, 0] and names == ["b", "a"]


def test_builtin_tables_are_split_and_scaled_on_the_training_rows():
    data = load_tabular("breast-cancer")
    assert data.input_shape == (30,) and data.num_classes == 2 and data.class_names == ["malignant", "benign"]
    assert len(data.train) + len(data.eval) == 569
    train = data.train.tensors[0]
    assert train.mean(0).abs().max() < 1e-4 and (train.std(0, unbiased=False) - 1).abs().max() < 1e-3
    wine = load_tabular("wine")
    assert wine.input_shape == (13,) and wine.num_classes == 3


def test_switch_labels_follow_the_rule_of_each_row():
    X, y, relevant = make_switch(2000, seed=3)
    branch_a = X[:, SWITCH] < 0
    for i in range(200):
        rule = RULE_A if branch_a[i] else RULE_B
        assert y[i] == int(np.prod(X[i, list(rule)]) > 0)
        assert set(np.flatnonzero(relevant[i])) == set(rule)
    assert 0.4 < y.mean() < 0.6 and 0.4 < branch_a.mean() < 0.6


def _slow_scores(kept, relevant, ignore):
    tprs, fdrs = [], []
    for k_row, r_row in zip(kept, relevant):
        k = {j for j in np.flatnonzero(k_row) if j not in ignore}
        r = {j for j in np.flatnonzero(r_row) if j not in ignore}
        if r:
            tprs.append(len(k & r) / len(r))
        fdrs.append(len(k - r) / len(k) if k else 0.0)
    return np.mean(tprs), np.mean(fdrs)


def test_selection_scores_match_the_definitions():
    relevant = np.zeros((3, 5), dtype=bool)
    relevant[0, [0, 1]] = relevant[1, [2, 3]] = relevant[2, [0, 1]] = True
    kept = np.zeros((3, 5), dtype=bool)
    kept[0, [0, 1, 4]] = True  # both relevant, one extra (the ignored switch: not counted)
    kept[1, [2, 0]] = True  # one of two relevant, one false
    # row 2 keeps nothing: TPR 0, FDR 0
    scores = selection_scores(kept, relevant, ignore=(4,))
    assert scores["tpr"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert scores["fdr"] == pytest.approx((0 + 0.5 + 0) / 3)
    assert scores["ignored_kept"] == {"4": pytest.approx(1 / 3)}
    rng = np.random.default_rng(0)
    kept, relevant = rng.random((50, 11)) < 0.4, rng.random((50, 11)) < 0.3
    tpr, fdr = _slow_scores(kept, relevant, {SWITCH})
    scores = selection_scores(kept, relevant)
    assert scores["tpr"] == pytest.approx(tpr) and scores["fdr"] == pytest.approx(fdr)


def test_keep_rates_per_group():
    masks = np.array([[1, 0], [1, 1], [0, 0]], dtype=bool)
    rates = keep_rates(masks, np.array([0, 0, 1]), 3)
    np.testing.assert_allclose(rates[:2], [[1.0, 0.5], [0.0, 0.0]])
    assert np.isnan(rates[2]).all()


# ----------------------------------------------------------------------------- learned outcomes


def test_switch_run_keeps_the_features_that_decide_each_row(tmp_path):
    """A real short run on the generated table: per row, the hider keeps the rule's features and little else."""
    data = load_switch(n=6000, seed=0)
    config = TrainConfig(
        epochs=10, batch_size=128, lr=5e-3, alpha=0.8, init="pretrained-seeker", pretrain_epochs=10, progress=False
    )
    result = run_training(data, tabular_spec(data.schema, 2), config, tmp_path)
    masks = result.model.explain(data.eval.tensors[0]).numpy()
    scores = selection_scores(masks, data.relevant.numpy())
    assert scores["tpr"] >= 0.9, scores
    assert scores["fdr"] <= 0.2, scores
    assert result.metrics["fidelity"] >= 0.9, result.metrics
    # x5 .. x9 never matter: they are (almost) never kept.
    assert masks[:, 5:10].mean() < 0.05


def test_breast_cancer_run_is_faithful_while_hiding_most_features(tmp_path):
    data = load_tabular("breast-cancer")
    config = TrainConfig(
        epochs=15, batch_size=128, lr=3e-3, alpha=0.8, init="pretrained-seeker", pretrain_epochs=10, progress=False
    )
    m = run_training(data, tabular_spec(data.schema, 2), config, tmp_path).metrics
    assert 0.9 <= m["baseline_accuracy"] <= 1.0
    assert m["fidelity"] >= 0.95, m
    assert m["interpretability"] >= 0.6, m
    assert not m["collapsed"]


# ----------------------------------------------------------------------------- command line


@pytest.fixture()
def csv_table(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "kind": rng.choice(["x", "y"], n)})
    frame["label"] = np.where(frame["a"] > 0, "high", "low")
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return path


def test_cli_trains_on_a_csv_and_explains_its_rows(tmp_path, csv_table):
    run = tmp_path / "run"
    argv = ["train", "--modality", "tabular", "--data-file", str(csv_table), "--target", "label"]
    argv += ["--classes", "low,high", "--epochs", "2", "--pretrain-epochs", "2", "--alpha", "0.8", "--lr", "0.01"]
    code, out, err = _run([*argv, "--out", str(run), "--no-progress", "--cpu", "--init", "pretrained-seeker"])
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["dataset"] == "table" and metrics["epochs"] == 2
    assert "Fidelity F" in out
    code, out, err = _run(["explain", "--checkpoint", str(run), str(csv_table), "--out", str(tmp_path / "ex")])
    assert code == 0, err
    lines = [line for line in out.splitlines() if " row " in line]
    assert len(lines) == 200 and "class " in lines[0] and "kept " in lines[0]
    kept = pd.read_csv(tmp_path / "ex" / "table-kept.csv")
    assert list(kept.columns) == ["a", "b", "kind", "prediction"]
    assert set(kept["prediction"]) <= {"low", "high"}


def test_two_tables_of_the_same_name_get_their_own_kept_file(tmp_path, csv_table):
    run = tmp_path / "run"
    argv = ["train", "--modality", "tabular", "--data-file", str(csv_table), "--target", "label", "--classes",
            "low,high", "--epochs", "1", "--pretrain-epochs", "1", "--out", str(run), "--no-progress"]  # fmt: skip
    assert _run(argv)[0] == 0
    other = tmp_path / "other" / "table.csv"
    other.parent.mkdir()
    pd.read_csv(csv_table).head(5).to_csv(other, index=False)
    code, _, err = _run(
        ["explain", "--checkpoint", str(run), str(csv_table), str(other), "--out", str(tmp_path / "ex")]
    )
    assert code == 0, err
    assert len(pd.read_csv(tmp_path / "ex" / "table-kept.csv")) == 200
    assert len(pd.read_csv(tmp_path / "ex" / "table-2-kept.csv")) == 5


def test_cli_demo_writes_metrics_history_and_plots(tmp_path, monkeypatch):
    from hnsx.adapters.tabular import demo

    def tiny(epochs=None, seed=0, progress=True):
        return TrainConfig(epochs=1, batch_size=256, alpha=0.8, init="pretrained-seeker", pretrain_epochs=1)

    monkeypatch.setattr(demo, "demo_config", tiny)
    code, out, err = _run(["demo", "--modality", "tabular", "--out", str(tmp_path), "--no-progress"])
    assert code == 0, err
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("fidelity", "interpretability", "fir", "fii", "accuracy", "baseline_accuracy", "tpr", "fdr"):
        assert isinstance(metrics[key], float), key
    assert metrics["dataset"] == "breast-cancer"
    assert 0.0 <= metrics["tpr"] <= 1.0 and 0.0 <= metrics["fdr"] <= 1.0
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
    assert (tmp_path / "kept_per_class.png").stat().st_size > 1000
    assert (tmp_path / "switch" / "kept_per_rule.png").is_file()
    assert "TPR" in out
