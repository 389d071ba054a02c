"""Wrapping a user's own classifier: inferred classes, clear refusals, frozen or trainable seekers, custom specs."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

from hnsx.loss import hns_loss
from hnsx.model import FrozenModule, HideAndSeek
from hnsx.spec import CUSTOM, ModelSpec, build_model
from hnsx.wrap import infer_num_classes, wrap_classifier

SHAPE = (1, 8, 8)
NUM_CLASSES = 3
BATCH = 4


def user_classifier() -> nn.Sequential:
    """A user's small CNN with BatchNorm (whose statistics move whenever it runs in training mode)."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(SHAPE[0], 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * SHAPE[1] * SHAPE[2], NUM_CLASSES),
    )


def make_batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(BATCH, *SHAPE, generator=gen), torch.randint(0, NUM_CLASSES, (BATCH,), generator=gen)


def train_steps(model: HideAndSeek, steps: int = 3) -> None:
    """A few joint Hide-and-Seek steps written out by hand (Adam on every parameter, as the training loop does)."""
    model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x, y = make_batch()
    for _ in range(steps):
        optimizer.zero_grad()
        out = model(x)
        hns_loss(out, y, 0.5, model.binarizer, model.adapter.kept_fraction).loss.backward()
        optimizer.step()


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return copy.deepcopy(module.state_dict())


def test_wrap_infers_num_classes_and_records_a_custom_seeker():
    classifier = user_classifier()
    model, spec = wrap_classifier(classifier, SHAPE)
    assert isinstance(model, HideAndSeek)
    assert model.num_classes == spec.num_classes == NUM_CLASSES
    assert model.seeker is classifier
    assert spec.seeker.name == CUSTOM == "custom"
    assert spec.seeker.kwargs == {"class": "Sequential"}
    assert spec.input_shape == SHAPE and spec.hider.name == "pyramid"
    assert ModelSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    out = model(make_batch()[0])
    assert out.logits.shape == (BATCH, NUM_CLASSES)


def test_wrap_accepts_the_right_num_classes_and_passes_hider_options():
    model, spec = wrap_classifier(user_classifier(), SHAPE, num_classes=NUM_CLASSES, hider="unet", fill="blur")
    assert spec.hider.name == "unet" and spec.adapter.kwargs["fill"] == "blur"
    assert model.adapter.fill == "blur"


def test_infer_num_classes_leaves_the_classifier_mode_and_statistics_alone():
    classifier = user_classifier().train()
    before = snapshot(classifier)
    assert infer_num_classes(classifier, SHAPE) == NUM_CLASSES
    assert all(m.training for m in classifier.modules())
    for k, v in classifier.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_wrap_rejects_a_wrong_num_classes():
    with pytest.raises(ValueError, match=r"num_classes=5 but the classifier returns 3 logits per input"):
        wrap_classifier(user_classifier(), SHAPE, num_classes=5)


def test_wrap_rejects_a_classifier_that_fails_on_the_input_shape():
    # The classifier's Linear layer expects 8x8 feature maps; 16x16 images break it.
    with pytest.raises(ValueError, match=r"failed on a batch of shape \(2, 1, 16, 16\)"):
        wrap_classifier(user_classifier(), (1, 16, 16))


def test_wrap_rejects_a_classifier_without_two_d_logits():
    features = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1))
    with pytest.raises(ValueError, match=r"shape \(batch, num_classes\); got Tensor\(2, 2, 8, 8\)"):
        wrap_classifier(features, SHAPE)


def test_wrap_rejects_an_input_shape_that_is_not_c_h_w():
    with pytest.raises(ValueError, match=r"input_shape must be \(C, H, W\).*got \(8, 8\)"):
        wrap_classifier(user_classifier(), (8, 8))


def test_frozen_classifier_is_untouched_by_training_and_stays_in_eval():
    classifier = user_classifier()
    before = snapshot(classifier)
    model, spec = wrap_classifier(classifier, SHAPE, freeze=True)
    assert spec.freeze_seeker
    assert isinstance(model.seeker, FrozenModule) and model.seeker.module is classifier
    hider_before = snapshot(model.hider)
    train_steps(model)
    assert model.training
    assert all(not m.training for m in classifier.modules())
    for k, v in classifier.state_dict().items():  # weights and BatchNorm statistics
        assert torch.equal(v, before[k]), f"the frozen classifier's {k} changed"
    assert any(not torch.equal(v, hider_before[k]) for k, v in model.hider.state_dict().items())


def test_unfrozen_classifier_trains_with_the_hider():
    classifier = user_classifier()
    before = snapshot(classifier)
    model, spec = wrap_classifier(classifier, SHAPE, freeze=False)
    assert not spec.freeze_seeker and model.seeker is classifier
    train_steps(model)
    assert classifier.training
    changed = [k for k, v in classifier.state_dict().items() if not torch.equal(v, before[k])]
    assert {"0.weight", "4.weight", "1.running_mean"} <= set(changed)


def test_build_model_of_a_custom_spec_needs_the_classifier():
    _, spec = wrap_classifier(user_classifier(), SHAPE)
    with pytest.raises(ValueError, match=r"wraps a user's own seeker: pass the same classifier as seeker="):
        build_model(spec)


@pytest.mark.parametrize("freeze", [False, True], ids=["trainable", "frozen"])
def test_custom_spec_rebuilds_the_same_model_with_the_classifier(freeze):
    classifier = user_classifier()
    model, spec = wrap_classifier(classifier, SHAPE, freeze=freeze)
    train_steps(model, steps=1)
    rebuilt = build_model(spec, seeker=copy.deepcopy(classifier))
    assert isinstance(rebuilt.seeker, FrozenModule) == freeze
    rebuilt.load_state_dict(model.state_dict())
    x, _ = make_batch()
    model.eval()
    rebuilt.eval()
    with torch.no_grad():
        a, b = model(x), rebuilt(x)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.mask, b.mask)
