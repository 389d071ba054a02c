"""Hard-concrete masks (Louizos, Welling & Kingma 2018): sampling against the closed forms P(z = 0), P(z = 1) and
E[L0] written from the paper, the pathwise gradient against finite differences on a fixed ``u``, the loss's
expected-L0 kept fraction, and train + resume + explain on image, text and tabular data."""

from __future__ import annotations

import math

import pytest
import torch

from hnsx.binarizers import ESTIMATORS, HARD_CONCRETE_BETA, HardConcrete, build_binarizer
from hnsx.loss import hns_loss
from hnsx.model import HnSOutput

BETA, GAMMA, ZETA = 2.0 / 3.0, -0.1, 1.1
LOG_ALPHA = [-3.0, -1.0, -0.3, 0.0, 0.5, 1.5, 3.0]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _gate(log_a: float, u: float) -> float:
    """The paper's sample, one unit: s = sigmoid((log u - log(1 - u) + log_a) / beta), stretched and clamped."""
    s = _sigmoid((math.log(u) - math.log(1.0 - u) + log_a) / BETA)
    return min(1.0, max(0.0, s * (ZETA - GAMMA) + GAMMA))


def _p_zero(log_a: float) -> float:
    """z = 0 iff s <= -gamma / (zeta - gamma) iff logit(u) <= beta log(-gamma / zeta) - log_a (logit(u) is
    standard logistic)."""
    return _sigmoid(BETA * math.log(-GAMMA / ZETA) - log_a)


def _p_one(log_a: float) -> float:
    """z = 1 iff s >= (1 - gamma) / (zeta - gamma) iff logit(u) >= beta log((1 - gamma) / (zeta - 1)) - log_a."""
    return 1.0 - _sigmoid(BETA * math.log((1.0 - GAMMA) / (ZETA - 1.0)) - log_a)


def _train_binarizer():
    return build_binarizer("stochastic", estimator="hard-concrete").train()


def test_the_estimator_is_registered_with_the_paper_defaults_and_refuses_bad_settings():
    assert "hard-concrete" in ESTIMATORS.names()
    bz = _train_binarizer()
    assert bz.config() == {"name": "stochastic", "estimator": "hard-concrete", "beta": BETA, "gamma": GAMMA,
                           "zeta": ZETA}  # fmt: skip
    with pytest.raises(ValueError, match="deterministic binarizer .* 'hard-concrete' .* 'stochastic'"):
        build_binarizer("deterministic", estimator="hard-concrete")
    for bad, word in (({"beta": 0.0}, "beta"), ({"gamma": 0.1}, "gamma"), ({"gamma": -0.2}, r"gamma \+ zeta")):
        with pytest.raises(ValueError, match=word):
            HardConcrete(**bad)


def test_the_closed_forms_match_the_paper():
    est = HardConcrete()
    h = torch.tensor(LOG_ALPHA, dtype=torch.float64)
    assert est.prob_zero(h).tolist() == pytest.approx([_p_zero(v) for v in LOG_ALPHA], rel=1e-6)
    assert est.prob_one(h).tolist() == pytest.approx([_p_one(v) for v in LOG_ALPHA], rel=1e-6)
    assert est.kept_units(h).tolist() == pytest.approx([1.0 - _p_zero(v) for v in LOG_ALPHA], rel=1e-6)
    u = torch.tensor([0.01, 0.2, 0.45, 0.5, 0.7, 0.93, 0.999], dtype=torch.float64)
    want = [_gate(a, b) for a, b in zip(LOG_ALPHA, u.tolist(), strict=True)]
    assert est.gate(h, u).tolist() == pytest.approx(want, abs=1e-12)


def test_training_samples_match_p_zero_p_one_and_the_expected_l0():
    torch.manual_seed(0)
    n = 40000
    h = torch.tensor(LOG_ALPHA)
    bz = _train_binarizer()
    with torch.no_grad():
        z = bz(h.expand(n, -1).contiguous()).double()
    assert ((z > 0) & (z < 1)).any() and (z == 0).any() and (z == 1).any()  # relaxed, with exact zeros and ones
    for observed, reference in (((z == 0), _p_zero), ((z == 1), _p_one), ((z != 0), lambda a: 1.0 - _p_zero(a))):
        p = torch.tensor([reference(v) for v in LOG_ALPHA], dtype=torch.float64)
        se = (p * (1 - p) / n).sqrt()
        assert torch.all((observed.double().mean(0) - p).abs() <= 5 * se), (observed.double().mean(0), p)
    # E[L0] of the whole row: the number of non-zero units has mean sum_u P(z_u != 0), variance sum_u p (1 - p).
    p_nonzero = [1.0 - _p_zero(v) for v in LOG_ALPHA]
    l0 = (z != 0).double().sum(1)
    se = math.sqrt(sum(p * (1 - p) for p in p_nonzero) / n)
    assert abs(float(l0.mean()) - sum(p_nonzero)) <= 5 * se


def test_the_gradient_is_pathwise_on_a_fixed_u():
    est = HardConcrete()
    g = torch.Generator().manual_seed(1)
    h = (torch.randn(400, generator=g, dtype=torch.float64) * 2).requires_grad_(True)
    u = torch.rand(400, generator=g, dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
    z = est.gate(h, u)
    z.sum().backward()
    eps = 1e-6
    with torch.no_grad():
        fd = (est.gate(h + eps, u) - est.gate(h - eps, u)) / (2 * eps)
    inside = (z > 1e-4) & (z < 1 - 1e-4)  # away from the clamp, where a finite step would cross it
    assert inside.sum() > 100 and (~inside).sum() > 20
    torch.testing.assert_close(h.grad[inside], fd[inside], rtol=1e-5, atol=1e-8)
    assert torch.all(h.grad[(z == 0) | (z == 1)] == 0)


def test_the_binarizer_trains_through_the_real_derivative_of_its_sample():
    """In training the mask is z itself and dz/dh = (zeta - gamma) s (1 - s) / beta with s = (z - gamma) /
    (zeta - gamma) inside (0, 1), 0 where z is clamped: no surrogate."""
    torch.manual_seed(2)
    bz = _train_binarizer()
    h = (torch.randn(64, 20) * 2).requires_grad_(True)
    w = torch.randn(64, 20)
    z = bz(h)
    (z * w).sum().backward()
    zd = z.detach().double()
    s = (zd - GAMMA) / (ZETA - GAMMA)
    want = torch.where((zd > 0) & (zd < 1), (ZETA - GAMMA) * s * (1 - s) / BETA, torch.zeros_like(zd)) * w.double()
    torch.testing.assert_close(h.grad.double(), want, rtol=1e-4, atol=1e-6)


def test_evaluation_masks_are_the_deterministic_gate_and_exactly_binary():
    bz = _train_binarizer().eval()
    h = torch.linspace(-4, 4, 81)[None]
    want = ((torch.sigmoid(h) * (ZETA - GAMMA) + GAMMA).clamp(0, 1) >= 0.5).float()
    assert torch.equal(bz(h), want)
    assert torch.equal(bz.kept_units(h, bz(h)), bz(h))  # evaluation counts the mask itself


@pytest.mark.parametrize("estimator", [e for e in ESTIMATORS.names() if e != "hard-concrete"])
def test_every_other_estimator_counts_the_mask_itself(estimator):
    bz = build_binarizer("stochastic", estimator=estimator).train()
    h = torch.randn(4, 6)
    mask = bz(h)
    assert bz.kept_units(h, mask) is mask


def test_the_loss_kept_fraction_is_the_expected_l0_and_its_gradient():
    torch.manual_seed(3)
    bz = _train_binarizer()
    h = torch.randn(8, 10, requires_grad=True)
    valid = (torch.rand(8, 10) > 0.2).float()
    z = bz(h)
    out = HnSOutput(logits=torch.zeros(8, 3), mask=z, keep_prob=torch.sigmoid(h), hider_logits=h, valid=valid)

    def kept_fraction(mask, valid):
        return (mask * valid).sum(1) / valid.sum(1)

    parts = hns_loss(out, torch.zeros(8, dtype=torch.long), 0.0, bz, kept_fraction)  # alpha 0: kept fraction only
    p_nonzero = torch.sigmoid(h.detach().double() - BETA * math.log(-GAMMA / ZETA))
    want = ((p_nonzero * valid).sum(1) / valid.sum(1)).mean()
    assert float(parts.kept_fraction) == pytest.approx(float(want), rel=1e-5)
    parts.loss.backward()
    grad = p_nonzero * (1 - p_nonzero) * valid / valid.sum(1, keepdim=True) / 8
    torch.testing.assert_close(h.grad.double(), grad, rtol=1e-4, atol=1e-7)


def test_the_estimators_study_builds_a_hard_concrete_run():
    from hnsx.spec import build_model
    from hnsx.study import RunConfig, StudySettings, load_study_data, run_spec, study_configs

    config = next(c for c in study_configs("estimators") if c.estimator == "hard-concrete")
    assert config == RunConfig("stochastic", estimator="hard-concrete") and config.name == "hard-concrete-scratch"
    settings = StudySettings(dataset="digits", train_limit=64, eval_limit=32)
    model = build_model(run_spec(settings, config, load_study_data(settings)))
    # A spec gives hard concrete the hider temperature HARD_CONCRETE_BETA; the class keeps the paper's 2/3.
    assert model.binarizer.config() == {**_train_binarizer().config(), "beta": HARD_CONCRETE_BETA}
    assert HARD_CONCRETE_BETA == 0.1 and _train_binarizer().config()["beta"] == BETA


def test_a_spec_without_beta_rebuilds_with_the_paper_default_and_a_new_spec_names_it():
    from hnsx.spec import Component, binarizer_component

    old = Component("stochastic", {"estimator": "hard-concrete"})  # what specs held before HARD_CONCRETE_BETA
    assert build_binarizer(old.name, **old.kwargs).estimator.beta == BETA
    assert binarizer_component("stochastic", "hard-concrete").kwargs["beta"] == HARD_CONCRETE_BETA
    assert binarizer_component("stochastic", "hard-concrete", beta=0.5).kwargs["beta"] == 0.5


def test_the_cli_refuses_hard_concrete_with_the_deterministic_binarizer_in_one_line(tmp_path, capsys):
    from hnsx.cli import main

    run = tmp_path / "run"
    assert (
        main(["train", "--dataset", "digits", "--estimator", "hard-concrete", "--no-progress", "--out", str(run)]) == 2
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "'hard-concrete'" in lines[0] and "'stochastic'" in lines[0], lines
    assert not run.exists()
