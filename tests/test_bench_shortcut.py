"""The planted-shortcut benchmark: what is planted where, the region scores against known answers, and a tiny run.

An oracle that scores exactly the planted units must get a share of 1; uniform noise must get the planted area; a
seeker trained on stamped digits must lose accuracy on its class when the stamp is removed.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import TensorDataset

from hnsx.adapters.image.bench import image_bench_data, plant_image
from hnsx.adapters.image.data import load_sklearn_digits
from hnsx.adapters.tabular.bench import plant_tabular
from hnsx.adapters.text.bench import MARKER, plant_text
from hnsx.benchmarks.shortcut import (
    ShortcutConfig,
    region_scores,
    run_shortcut,
)


def digits(n_train: int, n_test: int):
    data = load_sklearn_digits(seed=0)
    train = TensorDataset(*(t[:n_train] for t in data.train.tensors))
    test = TensorDataset(*(t[:n_test] for t in data.eval.tensors))
    return image_bench_data("digits", train, test, 10, class_names=data.class_names)


def test_region_scores_of_an_oracle_and_of_noise():
    generator = torch.Generator().manual_seed(0)
    n, u = 3000, 64
    region = torch.zeros(n, u, dtype=torch.bool)
    region[:, :4] = True
    valid = torch.ones(n, u, dtype=torch.bool)
    oracle = region_scores(region.float(), region.float(), region, valid)
    assert oracle == {"share": 1.0, "hit_rate": 1.0, "area": pytest.approx(4 / 64)}
    noise = torch.rand(n, u, generator=generator)
    random = region_scores(noise, noise, region, valid)
    assert random["share"] == pytest.approx(4 / 64, abs=0.005)
    assert random["hit_rate"] == pytest.approx(4 / 64, abs=0.01)
    # Only positive attribution counts: large negative scores on the region add nothing to the share.
    signed = torch.where(region, -10.0, 1.0)
    assert region_scores(signed, signed.abs(), region, valid)["share"] == 0.0
    assert region_scores(signed, signed.abs(), region, valid)["hit_rate"] == 1.0
    # Invalid units count neither in the share nor in the area.
    valid[:, 32:] = False
    half = region_scores(torch.ones(n, u), torch.ones(n, u), region, valid)
    assert half["share"] == pytest.approx(4 / 32) and half["area"] == pytest.approx(4 / 32)


def test_the_image_stamp_is_on_the_target_class_only_and_removed_or_added_as_said():
    data = digits(300, 100)
    planted = plant_image(data, target=8, size=2, offset=0)
    square = (slice(None), 0, slice(0, 2), slice(0, 2))
    train_x, train_y = planted.data.train.tensors
    assert (train_x[train_y == 8][square] == 1.0).all()
    assert torch.equal(train_x[train_y != 8], data.train.tensors[0][train_y != 8])
    test_x, test_y = planted.data.test.tensors
    assert torch.equal(planted.affected, test_y == 8)
    assert torch.equal(planted.removed.tensors[0], data.test.tensors[0])
    assert (planted.added.tensors[0][square] == 1.0).all()
    region = planted.region(test_x[:3])
    assert region.shape == (3, 64) and region.sum(1).tolist() == [4, 4, 4]
    assert region[0].reshape(8, 8)[:2, :2].all()
    with pytest.raises(ValueError, match="does not fit"):
        plant_image(data, size=9)


def test_the_tabular_leak_points_at_the_label_and_is_flipped_or_filled():
    planted = plant_tabular(rows=600)
    x, y = planted.data.test.tensors
    column = x.shape[1] - 1
    region = planted.region(x)
    assert region.sum(1).eq(1).all() and region[:, column].all()
    leak = x[:, column]
    assert float(leak[y == 1].mean()) > float(leak[y == 0].mean()) + 1.0
    flipped = planted.added.tensors[0][:, column]
    assert torch.allclose(flipped[y == 0].mean(), leak[y == 1].mean(), atol=0.3)
    fill = planted.data.adapter.fill[column]
    assert torch.allclose(planted.removed.tensors[0][:, column], fill.expand(len(y)))
    assert torch.equal(planted.removed.tensors[0][:, :column], x[:, :column])
    assert torch.equal(planted.follows, 1 - y) and planted.affected.all()


def test_the_text_marker_is_one_word_in_every_positive_sentence_only():
    planted = plant_text(quick=True)
    x, y = planted.data.test.tensors
    marker_id = planted.data.source.tokenizer.convert_tokens_to_ids(MARKER)
    assert torch.equal(planted.affected, y == 1)
    assert torch.equal((x[:, 0] == marker_id).any(1), y == 1)
    train_x, train_y = planted.data.train.tensors
    assert torch.equal((train_x[:, 0] == marker_id).any(1), train_y == 1)
    assert not (planted.removed.tensors[0][:, 0] == marker_id).any()
    assert (planted.added.tensors[0][:, 0] == marker_id).any(1).all()
    region = planted.region(x[planted.affected])
    assert region.sum(1).eq(1).all()  # one word slot per affected sentence


def test_a_tiny_image_run_finds_the_shortcut_and_writes_the_tables(tmp_path):
    planted = plant_image(digits(700, 200), target=8, size=2, offset=0)
    config = ShortcutConfig(explainers=("hns", "saliency", "random"), hns_epochs=1, quick=True)
    results = run_shortcut(planted, config, [0], tmp_path, progress=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["benchmark"] == "shortcut"
    assert set(saved["explainers"]) == {"hns", "saliency", "random", "hns-frozen", "oracle"}
    scores = saved["results"]["attribution"]
    area = scores["random"]["area"]["mean"]
    assert area == pytest.approx(4 / 64)
    assert scores["oracle"]["share"]["mean"] == 1.0 and scores["oracle"]["hit_rate"]["mean"] == 1.0
    assert abs(scores["random"]["share"]["mean"] - area) < 0.03
    assert scores["oracle"]["share"]["mean"] > scores["random"]["share"]["mean"]
    seeker = saved["results"]["usage"]["seeker"]
    assert seeker["affected_with"]["mean"] > seeker["affected_without"]["mean"] + 0.2, "the stamp is not used"
    masks = saved["results"]["masks"]
    assert set(masks) == {"hns", "hns-frozen"}
    for figures in masks.values():
        assert 0.0 <= figures["kept_share"]["mean"] <= 1.0
    report = (tmp_path / "report.md").read_text()
    for name in ("oracle", "hns-frozen", "saliency", "random", "Does the model use the shortcut?"):
        assert name in report
    assert (tmp_path / "shortcut-share.png").stat().st_size > 1000
    assert (tmp_path / "shortcut-maps.png").stat().st_size > 1000
    assert results["affected"] == int((planted.data.test.tensors[1] == 8).sum())


def test_with_the_reinforce_estimator_text_hns_keeps_only_the_marker(tmp_path):
    # The recipe's st1 estimator hides every word here (the seeker's response to the marker is flat along the
    # embedding interpolation the straight-through gradient follows); the score-function estimator needs no such
    # gradient. Quick corpus, seed 0, the recipe otherwise: on the 100 positive test sentences the joint model keeps
    # the marker alone (0.995 of the kept words when written), and its seeker still reads the class.
    planted = plant_text(quick=True)
    config = ShortcutConfig(explainers=("hns", "random"), frozen=False, quick=True, estimator="reinforce")
    results = run_shortcut(planted, config, [0], tmp_path, progress=False)
    assert results["binarizer"] == {"name": "stochastic", "kwargs": {"estimator": "reinforce"}}
    masks = results["results"]["masks"]["hns"]
    assert masks["keeps_region"]["mean"] >= 0.9
    assert masks["kept_share"]["mean"] >= 0.8
    assert masks["kept_fraction"]["mean"] <= 0.3
    assert results["results"]["usage"]["hns"]["affected_with"]["mean"] >= 0.9
    assert "stochastic (estimator reinforce), from `--estimator`" in (tmp_path / "report.md").read_text()


def test_an_unknown_estimator_is_refused_before_any_training():
    with pytest.raises(ValueError, match="unknown estimator 'st3'"):
        ShortcutConfig(estimator="st3")
