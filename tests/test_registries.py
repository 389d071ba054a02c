"""Every registered modality, hider, seeker, binarizer and estimator, exercised the same way: construction, a
forward pass, a save/load round trip and one training step. A new registry entry is tested without a new test."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from hnsx.binarizers import BINARIZERS, ESTIMATORS, build_binarizer
from hnsx.loss import hns_loss
from hnsx.modality import get_modality, modality_names
from hnsx.registry import HIDERS, SEEKERS
from hnsx.spec import Component, ModelSpec, build_model
from hnsx.training.checkpoint import load_model_state, save_checkpoint

NUM_CLASSES = 3
HIDER_CASES = [(m, h) for m in modality_names() for h in HIDERS.names(m)]
SEEKER_CASES = [(m, s) for m in modality_names() for s in SEEKERS.names(m)]


def _valid_binarizer(name: str, estimator: str | None) -> bool:
    try:
        build_binarizer(name, **({"estimator": estimator} if estimator else {}))
    except ValueError:  # a combination the binarizer refuses (deterministic with reinforce)
        return False
    return True


BINARIZER_CASES = [(b, e) for b in BINARIZERS.names() for e in (None, *ESTIMATORS.names()) if _valid_binarizer(b, e)]


def test_every_builder_belongs_to_a_modality():
    assert {"image", "text", "tabular"} <= set(modality_names())
    assert sorted(h for _, h in HIDER_CASES) == HIDERS.names()
    assert sorted(s for _, s in SEEKER_CASES) == SEEKERS.names()
    assert {b for b, _ in BINARIZER_CASES} == set(BINARIZERS.names())
    assert {e for _, e in BINARIZER_CASES} == {None, *ESTIMATORS.names()}


@pytest.mark.parametrize("name", modality_names())
def test_every_modality_states_its_defaults(name):
    modality = get_modality(name)
    assert modality.default_hider in modality.hiders()
    assert modality.default_seeker in modality.seekers()
    assert modality.resolve_builder("hider", None) == modality.default_hider
    with pytest.raises(ValueError, match=f"is not an? {name} hider; choose one of"):
        modality.resolve_builder("hider", "no-such-hider")


def _check_model(spec: ModelSpec, x: torch.Tensor, tmp_path) -> None:
    torch.manual_seed(0)
    model = build_model(spec)
    model.train()
    out = model(x)
    assert out.logits.shape == (x.shape[0], spec.num_classes)
    assert out.mask.shape == out.keep_prob.shape and out.mask.shape[0] == x.shape[0]
    if model.binarizer.estimator.relaxed:  # hard concrete trains on z in [0, 1] (tests/test_hard_concrete.py)
        assert float(out.mask.min()) >= 0.0 and float(out.mask.max()) <= 1.0
    else:  # every other estimator trains on exact {0, 1} masks
        assert set(out.mask.detach().unique().tolist()) <= {0.0, 1.0}

    # one training step moves the hider and the seeker
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    labels = torch.arange(x.shape[0]) % spec.num_classes
    parts = hns_loss(out, labels, 0.5, model.binarizer, model.adapter.kept_fraction)
    optimizer.zero_grad()
    parts.loss.backward()
    optimizer.step()
    after = model.state_dict()
    for part in ("hider.", "seeker."):
        moved = [k for k in before if k.startswith(part) and not torch.equal(before[k], after[k])]
        assert moved, f"one training step changed no {part[:-1]} weight"

    # save and load: the same outputs from a rebuilt model
    model.eval()
    with torch.no_grad():
        expected = model(x)
    save_checkpoint(tmp_path / "ckpt", model.state_dict(), {"spec": spec.to_dict()})
    rebuilt = build_model(ModelSpec.from_dict(spec.to_dict()))
    load_model_state(rebuilt, tmp_path / "ckpt")
    rebuilt.eval()
    with torch.no_grad():
        again = rebuilt(x)
    torch.testing.assert_close(again.logits, expected.logits)
    assert torch.equal(again.mask, expected.mask)
    assert F.softmax(again.logits, 1).sum(1).allclose(torch.ones(x.shape[0]))


@pytest.mark.parametrize(("modality", "hider"), HIDER_CASES, ids=[f"{m}-{h}" for m, h in HIDER_CASES])
def test_every_hider_builds_runs_trains_and_reloads(modality, hider, tmp_path):
    spec, x = get_modality(modality).example(hider=hider, num_classes=NUM_CLASSES)
    _check_model(spec, x, tmp_path)


@pytest.mark.parametrize(("modality", "seeker"), SEEKER_CASES, ids=[f"{m}-{s}" for m, s in SEEKER_CASES])
def test_every_seeker_builds_runs_trains_and_reloads(modality, seeker, tmp_path):
    spec, x = get_modality(modality).example(seeker=seeker, num_classes=NUM_CLASSES)
    _check_model(spec, x, tmp_path)


@pytest.mark.parametrize(("binarizer", "estimator"), BINARIZER_CASES, ids=[f"{b}-{e}" for b, e in BINARIZER_CASES])
def test_every_binarizer_and_estimator_trains_an_image_model(binarizer, estimator, tmp_path):
    spec, x = get_modality("image").example(num_classes=NUM_CLASSES)
    kwargs = {"estimator": estimator} if estimator else {}
    _check_model(ModelSpec(**{**spec.__dict__, "binarizer": Component(binarizer, kwargs)}), x, tmp_path)
