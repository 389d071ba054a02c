"""Categorical columns: masking in the encoded space, the gradient of their keep decision, the seeker's
architecture (old specs still build), early stopping, and learned runs where a categorical column carries the label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from hnsx.adapter import ADAPTERS
from hnsx.adapters.tabular import TabularSchema
from hnsx.adapters.tabular.adapter import MaskedRows
from hnsx.adapters.tabular.early_stopping import pretrain_seeker
from hnsx.adapters.tabular.estimator import HnSClassifier
from hnsx.adapters.tabular.mlp import WIDE_SCALE, FeatureEncoder, TabularMLP, embedding_size
from hnsx.adapters.tabular.seekers import SEEKER_DEFAULTS
from hnsx.adapters.tabular.spec import tabular_spec
from hnsx.adapters.tabular.synthetic import RULE_B, make_categorical_switch, selection_scores
from hnsx.spec import ModelSpec, build_model

pytestmark = pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")


def _mixed(n: int = 64, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 12, n),
            "colour": rng.choice(["red", "green", "blue", "grey"], n),
            "income": rng.normal(0, 1, n),
            "shape": rng.choice(["circle", "square", "star"], n),
        }
    )


def _adapter(schema: TabularSchema):
    return ADAPTERS.build("tabular", schema=schema.to_dict())


# ----------------------------------------------------------------------------- masking in the encoded space


def test_masked_rows_hold_the_filled_values_and_carry_mask_and_rows():
    schema = TabularSchema.fit(_mixed())
    x = torch.from_numpy(schema.transform(_mixed(6, seed=1)))
    mask = torch.tensor([[1.0, 0.0, 0.0, 1.0]]).expand(6, 4)
    masked = _adapter(schema).apply_mask(x, mask)
    assert isinstance(masked, MaskedRows)
    expected = x * mask + torch.tensor(schema.fill) * (1 - mask)  # the values every seeker reads, as before
    assert torch.equal(masked, expected)
    assert torch.equal(masked.keep, mask) and torch.equal(masked.rows, x)
    for derived in (masked[:, :2], masked.detach(), masked * 1.0):  # nothing travels to slices or copies
        assert type(derived) is torch.Tensor and not hasattr(derived, "keep")


@pytest.mark.parametrize("embed", [False, True])
def test_encoder_mixes_the_kept_and_the_missing_category_by_the_mask(embed):
    """Slow reference: per categorical column, ``m * E[code] + (1 - m) * E[K]``; numeric ``m * x``."""
    schema = TabularSchema.fit(_mixed())
    x = torch.from_numpy(schema.transform(_mixed(5, seed=2)))
    encoder = FeatureEncoder(schema.cardinalities, embed=embed)
    m = torch.rand(5, 4, generator=torch.Generator().manual_seed(0))
    out = encoder(_adapter(schema).apply_mask(x, m))
    parts = [m[:, [0, 2]] * x[:, [0, 2]]]
    for j, i in enumerate([1, 3]):
        k = schema.cardinalities[i]
        table = encoder.embeddings[j].weight if embed else torch.eye(k)
        rows = [m[r, i] * table[int(x[r, i])] + (1 - m[r, i]) * table[k - 1] for r in range(5)]
        parts.append(torch.stack(rows))
    torch.testing.assert_close(out, torch.cat(parts, 1))
    # A binary mask gives what the plain filled rows give: a hidden column is its missing code's encoding.
    binary = (m > 0.5).float()
    filled = x * binary + _fill(schema) * (1 - binary)
    torch.testing.assert_close(encoder(_adapter(schema).apply_mask(x, binary)), encoder(filled))


def _fill(schema: TabularSchema) -> torch.Tensor:
    return torch.tensor(schema.fill)


@pytest.mark.parametrize("embed", [False, True])
def test_keep_gradient_matches_a_finite_difference_for_numeric_and_categorical_columns(embed):
    """dCE/dm of each feature against a central difference of the loss over a continuous mask."""
    schema = TabularSchema.fit(_mixed())
    adapter = _adapter(schema).double()
    x = torch.from_numpy(schema.transform(_mixed(8, seed=3))).double()
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    torch.manual_seed(0)
    seeker = TabularMLP(schema.cardinalities, 2, hidden=(16,), embed=embed, layer_norm=True).double().eval()

    def loss(m: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(seeker(adapter.apply_mask(x, m)), y)

    m = torch.rand(8, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64).requires_grad_(True)
    (grad,) = torch.autograd.grad(loss(m), m)
    eps = 1e-6
    for row in range(8):
        for col in range(4):  # age, colour (categorical), income, shape (categorical)
            step = torch.zeros_like(m)
            step[row, col] = eps
            with torch.no_grad():
                numeric = (loss(m.detach() + step) - loss(m.detach() - step)) / (2 * eps)
            assert float(grad[row, col]) == pytest.approx(float(numeric), rel=1e-5, abs=1e-9), (row, col)
    assert grad[:, [1, 3]].abs().min() > 0  # the categorical keep decisions get a gradient


def test_a_users_seeker_still_receives_the_filled_rows_as_a_tensor():
    schema = TabularSchema.fit(_mixed())
    seen = []

    class Custom(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 2)

        def forward(self, rows: torch.Tensor) -> torch.Tensor:
            seen.append(rows)
            return self.linear(rows)

    model = build_model(tabular_spec(schema, 2, seeker="custom"), seeker=Custom())
    x = torch.from_numpy(schema.transform(_mixed(3, seed=4)))
    model(x)
    assert isinstance(seen[-1], torch.Tensor) and seen[-1].shape == (3, 4)
    assert torch.equal(seen[-1], x * model(x).mask + _fill(schema) * (1 - model(x).mask))


# ----------------------------------------------------------------------------- architecture and old specs


def test_embedding_width_grows_with_cardinality_and_is_capped():
    assert [embedding_size(n) for n in (2, 3, 5, 10, 100, 10_000)] == [2, 3, 4, 6, 16, 16]


def test_new_specs_get_the_embedding_seeker_and_old_specs_rebuild_the_one_hot_mlp():
    schema = TabularSchema.fit(_mixed())
    spec = tabular_spec(schema, 2)
    assert {k: spec.seeker.kwargs[k] for k in SEEKER_DEFAULTS} == SEEKER_DEFAULTS
    new = build_model(spec).seeker
    assert new.encoder.embeddings is not None
    assert new.body[0].in_features == 2 + embedding_size(5) + embedding_size(4)
    normed = build_model(tabular_spec(schema, 2, seeker_kwargs={"layer_norm": True, "dropout": 0.1})).seeker
    assert [type(layer).__name__ for layer in normed.body] == ["Linear", "LayerNorm", "ReLU", "Dropout"] * 2
    old = spec.to_dict()
    old["seeker"]["kwargs"] = {"cardinalities": schema.cardinalities, "hidden": [64, 64]}  # what older code wrote
    rebuilt = build_model(ModelSpec.from_dict(old)).seeker
    assert rebuilt.encoder.embeddings is None and rebuilt.wide is None
    assert [type(layer).__name__ for layer in rebuilt.body] == ["Linear", "ReLU", "Linear", "ReLU"]
    assert rebuilt.body[0].in_features == 2 + 5 + 4  # numeric + one-hot colour (4 + missing) + shape (3 + missing)


def test_new_specs_get_the_wide_path_a_linear_model_of_the_one_hot_rows_added_to_the_logits():
    """Slow reference: ``s * (W [x_numeric, m * onehot(code) + (1 - m) * onehot(K)] + b)`` plus the deep path's
    logits, ``s`` the wide path's scale."""
    schema = TabularSchema.fit(_mixed())
    spec = tabular_spec(schema, 3)
    assert spec.seeker.kwargs["wide"] is True
    seeker = build_model(spec).seeker.double()
    assert seeker.wide is not None and not seeker.wide[1].weight.detach().any()  # starts as the MLP alone
    torch.manual_seed(0)
    weight, bias = torch.randn(3, 2 + 5 + 4, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    with torch.no_grad():
        seeker.wide[1].weight.copy_(weight)
        seeker.wide[1].bias.copy_(bias)
    x = torch.from_numpy(schema.transform(_mixed(6, seed=8))).double()
    m = torch.rand(6, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    masked = _adapter(schema).double().apply_mask(x, m)
    with torch.no_grad():
        deep = seeker.head(seeker.body(seeker.encoder(masked)))
        out = seeker(masked)
    for r in range(6):
        features = [m[r, 0] * x[r, 0], m[r, 2] * x[r, 2]]  # numeric: standardised, hidden is the mean 0
        for i in (1, 3):
            k = schema.cardinalities[i]
            onehot = torch.eye(k, dtype=torch.float64)
            features += list(m[r, i] * onehot[int(x[r, i])] + (1 - m[r, i]) * onehot[k - 1])
        expected = deep[r] + WIDE_SCALE * (weight @ torch.stack(features) + bias)
        torch.testing.assert_close(out[r], expected)


def test_the_default_seeker_reaches_logistic_regression_on_a_linear_table():
    """A table whose label is a noisy linear function of numeric and one-hot categorical columns: the pretrained
    default seeker (unmasked) is within a point of scikit-learn's LogisticRegression on the same rows."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    n = 3000
    frame = _mixed(n, seed=9)
    effect = {"red": 1.0, "green": -0.5, "blue": 0.0, "grey": -1.5}
    score = 0.8 * (frame["age"] - 40) / 12 - 1.2 * frame["income"] + frame["colour"].map(effect) - 0.5
    y = (score + rng.logistic(size=n) > 0).to_numpy().astype(np.int64)
    schema = TabularSchema.fit(frame)
    rows = torch.from_numpy(schema.transform(frame))
    labels = torch.from_numpy(y)
    train, held_out, test = slice(0, 1600), slice(1600, 2000), slice(2000, n)
    torch.manual_seed(0)
    seeker = build_model(tabular_spec(schema, 2)).seeker
    seeker, _ = pretrain_seeker(
        seeker,
        TensorDataset(rows[train], labels[train]),
        TensorDataset(rows[held_out], labels[held_out]),
        max_epochs=100,
        lr=5e-4,
        batch_size=128,
        seed=0,
        patience=10,
    )
    with torch.no_grad():
        accuracy = (seeker(rows[test]).argmax(1) == labels[test]).float().mean().item()
    encoded = FeatureEncoder(schema.cardinalities)(rows).numpy()  # one-hot categorical, standardised numeric
    logistic = LogisticRegression(max_iter=5000).fit(encoded[:2000], y[:2000]).score(encoded[test], y[test])
    assert 0.6 < logistic < 0.85, logistic  # the noise keeps it away from 1, the signal away from chance
    assert accuracy >= logistic - 0.01, (accuracy, logistic)


# ----------------------------------------------------------------------------- early stopping


def test_pretraining_stops_early_and_restores_the_best_epoch():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(200, 5)).astype(np.float32))
    y = torch.from_numpy((x[:, 0] > 0).numpy().astype(np.int64))
    noise = torch.from_numpy(rng.integers(0, 2, 200))  # held-out labels unrelated to x: the loss soon rises
    torch.manual_seed(0)
    seeker = TabularMLP([0] * 5, 2, hidden=(32,))
    seeker, info = pretrain_seeker(
        seeker, TensorDataset(x, y), TensorDataset(x, noise), max_epochs=100, lr=1e-2, batch_size=32, seed=0, patience=3
    )
    assert info.epochs_run == info.best_epoch + 3 < 100
    with torch.no_grad():
        logits = seeker(x)
    assert F.cross_entropy(logits, noise).item() == pytest.approx(info.loss, rel=1e-5)
    assert (logits.argmax(1) == noise).float().mean().item() == pytest.approx(info.accuracy)


def test_the_restored_epoch_has_the_lowest_held_out_objective(tmp_path):
    from hnsx.training.checkpoint import load_model_state

    frame = _mixed(300, seed=7)
    y = (frame["income"] > 0).to_numpy().astype(int)
    clf = HnSClassifier(alpha=0.8, epochs=4, pretrain_epochs=5, lr=5e-3, random_state=0, cpu=True, out_dir=tmp_path)
    clf.fit(frame, y)
    _, eval_idx, split = clf._split(y, 0)
    assert split == "validation"
    rows = torch.from_numpy(clf.schema_.transform(frame))[eval_idx]
    labels = torch.from_numpy(y[eval_idx])
    objectives, logits = [], []
    for epoch in range(1, 5):  # slow reference: rebuild each epoch's model and compute J by hand
        model = build_model(clf.spec_).eval()
        load_model_state(model, tmp_path / "checkpoints" / f"epoch-{epoch:04d}")
        with torch.no_grad():
            out = model(rows)
        objectives.append(0.8 * F.cross_entropy(out.logits, labels).item() + 0.2 * out.mask.float().mean().item())
        logits.append(out.logits)
    best = int(np.argmin(objectives))
    assert clf.scores_["epoch"] == best + 1
    with torch.no_grad():
        torch.testing.assert_close(clf.model_(rows).logits, logits[best])


def test_with_a_target_the_restored_epoch_is_the_most_accurate_within_it():
    from hnsx.adapters.tabular.early_stopping import choose_epoch

    scores = [(0.20, 1.00), (0.35, 0.18), (0.30, 0.22), (0.31, 0.15), (0.50, 0.05)]  # (held-out CE, kept)
    assert choose_epoch(scores, alpha=1.0) == 0  # CE alone: the epoch that keeps everything
    assert choose_epoch(scores, alpha=1.0, target_kept=0.2) == 3  # the lowest CE among those keeping <= 0.2
    assert choose_epoch(scores, alpha=1.0, target_kept=0.01) == 4  # none within: the one that keeps the least
    assert choose_epoch(scores, alpha=0.2) == 4  # 0.2 * CE + 0.8 * kept: 0.14 is the lowest


# ----------------------------------------------------------------------------- learned outcomes


def test_the_hider_keeps_a_categorical_column_that_alone_carries_the_label():
    frame = _mixed(1500, seed=5)
    y = frame["colour"].isin(["red", "green"]).to_numpy().astype(int)
    test = _mixed(500, seed=6)
    y_test = test["colour"].isin(["red", "green"]).to_numpy().astype(int)
    clf = HnSClassifier(alpha=0.8, epochs=10, pretrain_epochs=20, lr=2e-3, random_state=0, cpu=True).fit(frame, y)
    kept = clf.explain(test)
    # Colour is kept in most rows (not in all: hiding it in some rows of one class is itself a cue the seeker reads,
    # the label-encoding trap that the independent evaluator measures).
    assert kept[:, 1].mean() >= 0.6, kept.mean(0)
    assert kept[:, [0, 2, 3]].mean() <= 0.1, kept.mean(0)  # the others hidden
    assert clf.score(test, y_test) >= 0.9  # chance: about 0.5


def test_categorical_switch_run_keeps_the_categorical_column_of_rule_b():
    frame, y, relevant = make_categorical_switch(4000, seed=0)
    cut = 3200
    clf = HnSClassifier(
        alpha=0.8, epochs=15, pretrain_epochs=60, n_iter_no_change=None, lr=2e-3, random_state=0, cpu=True
    ).fit(frame[:cut], y[:cut])
    kept = clf.explain(frame[cut:])
    rule_b = relevant[cut:, RULE_B[0]]
    assert kept[rule_b, 4].mean() >= 0.8, kept[rule_b].mean(0)  # the colour: categorical, needed in rule B
    scores = selection_scores(kept, relevant[cut:])
    assert scores["tpr"] >= 0.85 and scores["fdr"] <= 0.2, scores
    assert clf.score(frame[cut:], y[cut:]) >= 0.8
