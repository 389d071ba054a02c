"""``--evaluator-epochs``: every run's metrics.json can carry the independent label-encoding evaluator's accuracy on
the run's masks (:func:`hnsx.pipeline.label_evaluator`)."""

from __future__ import annotations

import json

import pytest

from hnsx.adapters.image.spec import image_spec
from hnsx.pipeline import METRICS_FILE, run_training
from hnsx.training.config import TrainConfig
from hnsx.training.evaluator import run_label_check


@pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")
def test_metrics_report_the_evaluator_on_the_runs_masks(tmp_path, digits_subset):
    data = digits_subset(768, 200)
    spec = image_spec(data.input_shape, data.num_classes)
    # alpha 1: nothing pulls towards hiding, so the masks keep (almost) every pixel and the evaluator, trained on
    # random masks of every keep rate, must classify those inputs well above chance (0.1).
    config = TrainConfig(epochs=1, pretrain_epochs=1, alpha=1.0, evaluator_epochs=4, seed=0, progress=False)
    result = run_training(data, spec, config, tmp_path / "run")
    accuracy = run_label_check(tmp_path / "run", data, config, mask_blocks=(1,))
    written = json.loads((tmp_path / "run" / METRICS_FILE).read_text())
    assert written["evaluator_epochs"] == 4 and written["evaluator_accuracy"] == accuracy
    assert written["fidelity"] == result.metrics["fidelity"]  # the run's own figures stay
    assert result.metrics["kept_fraction"] > 0.9
    assert 0.5 < accuracy <= 1.0
    # Off by default; a resumed run may turn it on (it only adds to the metrics).
    plain = TrainConfig(**{**config.to_dict(), "evaluator_epochs": 0})
    assert plain.resume_conflicts(config.to_dict()) == []
    with pytest.raises(ValueError, match="evaluator_epochs"):
        run_label_check(tmp_path / "run", data, plain, mask_blocks=(1,))


def test_a_negative_budget_is_refused():
    with pytest.raises(ValueError, match="evaluator_epochs"):
        TrainConfig(evaluator_epochs=-1)
