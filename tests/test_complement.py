"""Complement control (:mod:`hnsx.complement`): the penalty against a slow per-sample reference, each term's gradient
reaching only its part, checkpoints and resume with the predictor, and a small real run on the generated text
corpus."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch.nn import functional as F

from hnsx.adapters.image.spec import image_spec
from hnsx.complement import attach_predictor, complement_terms
from hnsx.data import make_loaders
from hnsx.explain import load_trained
from hnsx.pipeline import run_training
from hnsx.spec import build_model
from hnsx.training import TrainConfig, fit

pytestmark = pytest.mark.filterwarnings("ignore:epoch .* the model collapsed:RuntimeWarning")


def reference_penalty(model, x: torch.Tensor, mask: torch.Tensor, y: torch.Tensor, weight: float) -> list[float]:
    """``W * max(0, log K - CE(c(x * (1 - m)), y))`` one input at a time, written out from the definition."""
    out = []
    with torch.no_grad():
        for i in range(x.shape[0]):
            hidden = model.adapter.apply_mask(x[i : i + 1], 1.0 - mask[i : i + 1])
            logits = model.complement(hidden)[0].double()
            ce = -(logits[y[i]] - torch.logsumexp(logits, 0))
            out.append(weight * max(0.0, math.log(logits.shape[0]) - float(ce)))
    return out


@pytest.fixture
def tiny(digits_subset):
    torch.manual_seed(0)
    data = digits_subset(32, 16)
    model = build_model(image_spec(data.input_shape, data.num_classes))
    predictor = attach_predictor(model)
    assert all(torch.equal(a, b) for a, b in zip(predictor.parameters(), model.seeker.parameters(), strict=True))
    # A predictor trained a little, so that some complements beat chance and others do not (both sides of the hinge).
    x, y = data.train.tensors
    optimizer = torch.optim.Adam(predictor.parameters(), lr=3e-3)
    for _ in range(30):
        optimizer.zero_grad()
        F.cross_entropy(predictor(x), y).backward()
        optimizer.step()
    return data, model


def test_the_penalty_matches_the_slow_reference_and_is_bounded(tiny):
    data, model = tiny
    x, y = data.train.tensors
    output = model(x)
    penalty, own = complement_terms(model, x, output, y, 2.0)
    penalty = penalty.detach()
    expected = reference_penalty(model, x, output.mask.detach(), y, 2.0)
    assert penalty.shape == (32,)
    torch.testing.assert_close(penalty.double(), torch.tensor(expected, dtype=torch.double), atol=1e-5, rtol=0)
    assert float(penalty.min()) >= 0.0 and float(penalty.max()) <= 2.0 * math.log(10) + 1e-6
    assert (penalty == 0).any() and (penalty > 0).any(), "the test should see both sides of the hinge"
    hidden = model.adapter.apply_mask(x, 1.0 - output.mask.detach())
    assert float(own.detach()) == pytest.approx(float(F.cross_entropy(model.complement(hidden), y).detach()), abs=1e-6)


def test_the_penalty_moves_only_the_hider_and_the_predictors_loss_only_the_predictor(tiny):
    data, model = tiny
    x, y = data.train.tensors
    parts = {"hider": model.hider, "seeker": model.seeker, "complement": model.complement}

    def reached() -> set[str]:
        return {
            name
            for name, part in parts.items()
            if any(p.grad is not None and float(p.grad.abs().max()) > 0 for p in part.parameters())
        }

    for term, expected in ((0, {"hider"}), (1, {"complement"})):
        model.zero_grad(set_to_none=True)
        output = model(x)
        loss = complement_terms(model, x, output, y, 1.0)[term]
        loss.sum().backward()
        assert reached() == expected


def test_in_training_the_term_moves_the_hider_and_leaves_the_seekers_step_unchanged(digits_subset):
    """One optimizer step of fit on one batch, with and without the term, from the same weights: the seeker's step
    is the same (the term does not reach it), the hider's is not, and the predictor learnt."""
    torch.set_num_threads(1)
    data = digits_subset(32, 16)
    torch.manual_seed(0)
    start = build_model(image_spec(data.input_shape, data.num_classes))
    models = {}
    for weight in (0.0, 5.0):
        model = copy.deepcopy(start)
        train, evaluation = make_loaders(data, 32, seed=0)
        config = TrainConfig(epochs=1, alpha=0.5, complement_weight=weight, progress=False, cpu=True)
        fit(model, train, evaluation, config, baseline_accuracy=0.5)
        models[weight] = model
    off, on = models[0.0], models[5.0]
    assert not hasattr(off, "complement")  # W = 0: no predictor, the loss and the checkpoints as before
    assert all(torch.equal(a, b) for a, b in zip(off.seeker.parameters(), on.seeker.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(off.hider.parameters(), on.hider.parameters(), strict=True))
    pairs = zip(on.complement.parameters(), start.seeker.parameters(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)


def test_a_run_with_the_predictor_resumes_bit_for_bit_and_explains_without_it(
    tmp_path, digits_subset, killed_after_epoch
):
    torch.set_num_threads(1)
    data = digits_subset(96, 32)
    spec = image_spec(data.input_shape, data.num_classes)
    config = TrainConfig(epochs=2, batch_size=32, alpha=0.5, complement_weight=1.0, progress=False, cpu=True)
    straight = run_training(data, spec, config, tmp_path / "straight", baseline_accuracy=0.5)
    killed_after_epoch(1, run_training, data, spec, config, tmp_path / "split", baseline_accuracy=0.5)
    resumed = run_training(data, spec, config, tmp_path / "split", resume=True)
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert any(k.startswith("complement.") for k in a)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    explainer = load_trained(tmp_path / "straight", which="latest")  # rebuilt from the spec: no predictor
    assert not hasattr(explainer, "complement")
    x = data.eval.tensors[0]
    assert torch.equal(explainer.explain(x), straight.model.explain(x))


def test_complement_control_raises_comprehensiveness_on_the_generated_corpus():
    """The same seed, the same pretrained seeker and the same target kept fraction (0.3), with and without the term
    (W = 1): the mask of complement control's hider is more comprehensive as a set (ERASER, under the run's own
    seeker). Measured with these settings: 0.176 -> 0.213 at seed 0; over seeds 0-5 it rose on 5 of 6 (mean 0.231 ->
    0.256, the other seed -0.018) while the kept fraction rose 0.248 -> 0.263; the AOPC of the keep-probability
    ranking did not move on average (0.169 -> 0.165), so only the mask is tested."""
    from accelerate import Accelerator

    from hnsx.adapters.text.data import generated_data
    from hnsx.adapters.text.spec import text_spec
    from hnsx.adapters.text.tokenize import fill_token_id
    from hnsx.benchmarks.metrics import own_seeker_comprehensiveness
    from hnsx.training.pretrain import train_classifier

    torch.set_num_threads(1)
    data = generated_data(1500, 300, seed=0, max_length=24, vocab_size=600)
    tok = data.tokenizer
    torch.manual_seed(0)
    spec = text_spec(24, 2, vocab_size=len(tok), pad_id=tok.pad_token_id, fill_id=fill_token_id(tok),
                     binarizer="stochastic", estimator="st1")  # fmt: skip
    start = build_model(spec)
    train, evaluation = make_loaders(data, 32, seed=0)
    start.seeker = train_classifier(start.seeker, train, 5, 1e-3, Accelerator(cpu=True), progress=False)
    x = data.eval.tensors[0]
    scores = {}
    for weight in (0.0, 1.0):
        model = copy.deepcopy(start)
        config = TrainConfig(epochs=3, target_kept=0.3, init="pretrained-seeker", pretrain_epochs=0,
                             complement_weight=weight, progress=False, cpu=True)  # fmt: skip
        result = fit(model, train, evaluation, config)
        assert result.scores.kept_fraction < 0.4  # both hide most words, as the target asks
        scores[weight] = own_seeker_comprehensiveness(model, x)
    assert scores[1.0]["comprehensiveness"] >= scores[0.0]["comprehensiveness"] + 0.02, scores
