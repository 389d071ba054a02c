"""The HideAndSeek model: output contract, eval determinism, explain/predict, gradient flow, frozen seekers.

Binarizer-dependent behaviour is parametrised over :data:`hnsx.binarizers.BINARIZERS`, so a new binarizer is
checked against the same contract without a new test.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from hnsx.adapters.image import ImageAdapter, SmallCNN
from hnsx.adapters.image.spec import image_spec
from hnsx.binarizers import BINARIZERS, ESTIMATORS, DeterministicBinarizer, build_binarizer
from hnsx.loss import hns_loss
from hnsx.model import FrozenModule, HideAndSeek, HnSOutput
from hnsx.spec import build_model

SHAPE = (1, 8, 8)
NUM_CLASSES = 3
BATCH = 4
PATHWISE = [name for name in ESTIMATORS.names() if getattr(ESTIMATORS.get(name), "pathwise", True)]


def binarizer_of(estimator: str) -> str:
    """The deterministic binarizer, or the stochastic one for estimators that need its randomness (hard concrete)."""
    return "stochastic" if ESTIMATORS.get(estimator).relaxed else "deterministic"


def make_model(binarizer: str = "deterministic", **spec_kwargs) -> HideAndSeek:
    """The default small image model (pyramid hider, small CNN seeker) on 1x8x8 inputs."""
    torch.manual_seed(0)
    return build_model(image_spec(SHAPE, NUM_CLASSES, binarizer=binarizer, **spec_kwargs))


def make_batch(n: int = BATCH, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, *SHAPE, generator=gen), torch.randint(0, NUM_CLASSES, (n,), generator=gen)


class ConstantHider(nn.Module):
    """A hider whose logit is one learnable number for every pixel, so the keep probability is known."""

    def __init__(self, keep_prob: float) -> None:
        super().__init__()
        self.logit = nn.Parameter(torch.tensor(math.log(keep_prob / (1 - keep_prob))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit.expand(x.shape[0], 1, *x.shape[2:])


def constant_model(binarizer: str, keep_prob: float) -> HideAndSeek:
    torch.manual_seed(0)
    return HideAndSeek(
        ConstantHider(keep_prob),
        build_binarizer(binarizer),
        SmallCNN(SHAPE[0], NUM_CLASSES, width=4),
        ImageAdapter(SHAPE),
        NUM_CLASSES,
    )


def modes(model: nn.Module) -> dict[str, bool]:
    return {name: m.training for name, m in model.named_modules()}


def loss_of(model: HideAndSeek, out: HnSOutput, y: torch.Tensor, alpha: float) -> torch.Tensor:
    return hns_loss(out, y, alpha, model.binarizer, model.adapter.kept_fraction).loss


# --- forward contract ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("binarizer", BINARIZERS.names())
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_forward_returns_logits_binary_mask_and_probabilities(binarizer, training):
    model = make_model(binarizer)
    model.train(training)
    x, _ = make_batch()
    out = model(x)
    assert isinstance(out, HnSOutput)
    assert out.logits.shape == (BATCH, NUM_CLASSES)
    assert out.mask.shape == (BATCH, 1, *SHAPE[1:])
    assert set(out.mask.unique().tolist()) <= {0.0, 1.0}
    assert out.keep_prob.shape == out.mask.shape == out.hider_logits.shape
    assert float(out.keep_prob.detach().min()) >= 0.0 and float(out.keep_prob.detach().max()) <= 1.0
    assert out.valid is None  # every pixel counts for images
    assert torch.isfinite(out.logits).all()


@pytest.mark.parametrize("binarizer", BINARIZERS.names())
def test_eval_masks_are_deterministic_thresholds(binarizer):
    model = make_model(binarizer).eval()
    x, _ = make_batch()
    first, second = model(x), model(x)
    assert torch.equal(first.mask, second.mask)
    assert torch.equal(first.logits, second.logits)
    assert torch.equal(first.mask, (first.keep_prob >= 0.5).to(first.mask.dtype))


def test_eval_threshold_rule_with_known_probabilities():
    # Keep probability 0.73 everywhere: thresholding keeps everything, in eval mode and with sample=False.
    model = constant_model("stochastic", keep_prob=0.73).eval()
    x, _ = make_batch()
    assert torch.equal(model(x).mask, torch.ones(BATCH, 1, *SHAPE[1:]))
    model.hider.logit.data.fill_(math.log(0.3 / 0.7))
    assert torch.equal(model(x).mask, torch.zeros(BATCH, 1, *SHAPE[1:]))
    model.train()
    assert torch.equal(model(x, sample=False).mask, torch.zeros(BATCH, 1, *SHAPE[1:]))


def test_stochastic_training_forward_samples_and_eval_does_not():
    model = constant_model("stochastic", keep_prob=0.5).train()
    x, _ = make_batch(16)
    assert not torch.equal(model(x).mask, model(x).mask)
    model.eval()
    assert torch.equal(model(x).mask, model(x).mask)


# --- explain and predict ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("binarizer", BINARIZERS.names())
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_explain_is_deterministic_and_keeps_the_mode(binarizer, training):
    model = make_model(binarizer)
    model.train(training)
    before_modes = modes(model)
    bn_stats = {k: v.clone() for k, v in model.hider.state_dict().items() if "running" in k}
    x, _ = make_batch()
    first, second = model.explain(x), model.explain(x)
    assert torch.equal(first, second)
    assert first.shape == (BATCH, 1, *SHAPE[1:])
    assert not first.requires_grad
    assert modes(model) == before_modes
    # explain runs in eval mode: the hider's BatchNorm statistics are not updated by it
    for k, v in model.hider.state_dict().items():
        if "running" in k:
            assert torch.equal(v, bn_stats[k]), k
    model.eval()
    assert torch.equal(first, model(x).mask)


@pytest.mark.parametrize("binarizer", BINARIZERS.names())
def test_explain_with_sample_draws_bernoulli_masks(binarizer):
    x, _ = make_batch(16)
    model = constant_model(binarizer, keep_prob=0.5)
    a, b = model.explain(x, sample=True), model.explain(x, sample=True)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(a, b)  # 1024 fair coins twice: equal with probability 2**-1024
    torch.manual_seed(0)
    model = constant_model(binarizer, keep_prob=0.8)
    freq = torch.stack([model.explain(x, sample=True) for _ in range(4)]).mean()
    # 4096 draws of Bernoulli(0.8): standard error 0.006, the bound is 8 of them
    assert abs(float(freq) - 0.8) < 0.05
    assert torch.equal(model.explain(x), torch.ones_like(a))  # without sampling: p >= 0.5 everywhere


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_predict_gives_eval_classes_and_masks(training):
    model = make_model()
    model.train(training)
    before_modes = modes(model)
    x, _ = make_batch()
    classes, masks = model.predict(x)
    assert modes(model) == before_modes
    assert classes.shape == (BATCH,) and classes.dtype == torch.long
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert torch.equal(classes, out.logits.argmax(1))
    assert torch.equal(masks, out.mask)
    assert torch.equal(masks, model.explain(x))


# --- gradients ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", PATHWISE)
def test_gradients_reach_every_hider_and_seeker_parameter(estimator):
    model = make_model(binarizer_of(estimator), estimator=estimator).train()
    x, y = make_batch()
    loss_of(model, model(x), y, alpha=0.5).backward()
    for part in ("hider", "seeker"):
        for name, p in getattr(model, part).named_parameters():
            assert p.grad is not None, f"{part}.{name} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{part}.{name}"
            assert float(p.grad.abs().sum()) > 0, f"{part}.{name} got a zero gradient"


@pytest.mark.parametrize("estimator", PATHWISE)
def test_classification_gradient_reaches_the_hider_through_the_mask(estimator):
    # alpha = 1: the loss is the seeker's cross-entropy only, so the hider learns only through the binary mask.
    model = make_model(binarizer_of(estimator), estimator=estimator).train()
    x, y = make_batch()
    loss_of(model, model(x), y, alpha=1.0).backward()
    grad = torch.cat([p.grad.flatten() for p in model.hider.parameters()])
    assert float(grad.abs().sum()) > 0


def test_no_gradient_through_the_mask_in_eval_under_no_grad():
    model = make_model().eval()
    x, _ = make_batch()
    with torch.no_grad():
        out = model(x)
    assert not out.mask.requires_grad and not out.logits.requires_grad


# --- frozen seekers -----------------------------------------------------------------------------------------------


def bn_seeker() -> nn.Module:
    """A seeker with BatchNorm, whose running statistics would move if it ran in training mode."""
    return nn.Sequential(
        nn.Conv2d(SHAPE[0], 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * SHAPE[1] * SHAPE[2], NUM_CLASSES),
    )


def frozen_model() -> HideAndSeek:
    torch.manual_seed(0)
    hider = build_model(image_spec(SHAPE, NUM_CLASSES)).hider
    return HideAndSeek(hider, DeterministicBinarizer(), FrozenModule(bn_seeker()), ImageAdapter(SHAPE), NUM_CLASSES)


def test_frozen_module_has_no_trainable_parameters_and_stays_in_eval():
    model = frozen_model()
    assert all(not p.requires_grad for p in model.seeker.parameters())
    model.train()
    assert model.training and model.hider.training
    assert all(not m.training for m in model.seeker.module.modules())
    model.seeker.train(True)
    assert all(not m.training for m in model.seeker.module.modules())


def test_frozen_seeker_does_not_change_under_optimizer_steps_but_the_hider_does():
    model = frozen_model().train()
    seeker_before = copy.deepcopy(model.seeker.state_dict())  # weights and BatchNorm statistics
    hider_before = copy.deepcopy(model.hider.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = make_batch()
    for _ in range(3):
        optimizer.zero_grad()
        loss_of(model, model(x), y, alpha=0.5).backward()
        optimizer.step()
    for k, v in model.seeker.state_dict().items():
        assert torch.equal(v, seeker_before[k]), f"frozen seeker entry {k} changed"
    assert all(p.grad is None for p in model.seeker.parameters())
    changed = [k for k, v in model.hider.state_dict().items() if not torch.equal(v, hider_before[k])]
    assert "fine.weight" in changed and "fine.bias" in changed  # the pyramid hider's full-resolution branch


def test_spec_with_freeze_seeker_builds_a_frozen_module():
    model = make_model(freeze_seeker=True)
    assert isinstance(model.seeker, FrozenModule)
    assert all(not p.requires_grad for p in model.seeker.parameters())
    assert all(p.requires_grad for p in model.hider.parameters())


def test_num_classes_below_two_is_rejected():
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        HideAndSeek(ConstantHider(0.5), DeterministicBinarizer(), SmallCNN(1, 1), ImageAdapter(SHAPE), num_classes=1)
