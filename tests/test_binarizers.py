"""Binarizers and gradient estimators (paper section 4) checked against slow references of the paper's equations.

Every test that makes sense for any entry is parametrised over :data:`hnsx.binarizers.BINARIZERS` and
:data:`hnsx.binarizers.ESTIMATORS`, so a newly registered binarizer or estimator is tested automatically (and a new
estimator without a reference surrogate below fails loudly until one is added).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from hnsx.binarizers import (
    BINARIZERS,
    ESTIMATORS,
    Binarizer,
    DeterministicBinarizer,
    SlopeAnnealing,
    StochasticBinarizer,
    build_binarizer,
    build_estimator,
)

# Combinations that must be refused: the deterministic neuron has no randomness for a score-function estimator to
# score or for hard concrete to relax.
INVALID_COMBOS = {("deterministic", "reinforce"), ("deterministic", "hard-concrete")}
ALL_COMBOS = list(itertools.product(BINARIZERS.names(), ESTIMATORS.names()))
VALID_COMBOS = [c for c in ALL_COMBOS if c not in INVALID_COMBOS]
COMBO_IDS = [f"{b}-{e}" for b, e in VALID_COMBOS]
# Estimators whose training mask is relaxed (values in [0, 1], tests/test_hard_concrete.py checks its distribution
# and gradient): every other one gives exact {0, 1} masks in training too.
RELAXED = {e for e in ESTIMATORS.names() if build_estimator(e).relaxed}

# Progress (epochs) at which the backward and thresholding tests run, so slope annealing is not at s = 1.
PROGRESS = 3.0


def _sigmoid(x: float) -> float:
    """Numerically stable logistic function in plain Python (the paper's eq. 6)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _st1(h: float, s: float) -> float:
    """Eq. 10 / 19: dm/dh = sigmoid(h) (1 - sigmoid(h)); no slope."""
    p = _sigmoid(h)
    return p * (1.0 - p)


def _st2(h: float, s: float) -> float:
    """Eq. 20: dm/dh = 1."""
    return 1.0


def _sa(h: float, s: float) -> float:
    """Eq. 22: dm/dh = s sigmoid(s h) (1 - sigmoid(s h))."""
    p = _sigmoid(s * h)
    return s * p * (1.0 - p)


# name -> (expected slope after PROGRESS epochs with default settings, reference surrogate or None for
# score-function estimators, whose mask carries no gradient).
REFERENCE = {
    "st1": (1.0, _st1),
    "st2": (1.0, _st2),
    "sa": (min(1.0 + 0.5 * PROGRESS, 100.0), _sa),
    "reinforce": (1.0, None),
    # Exact masks (evaluation, sample=True/False) use ST1's surrogate; its relaxed training mask's real gradient is
    # tested in tests/test_hard_concrete.py.
    "hard-concrete": (1.0, _st1),
}


def _reference(estimator: str):
    if estimator not in REFERENCE:
        pytest.fail(f"estimator {estimator!r} is registered but has no reference surrogate in {__file__}")
    return REFERENCE[estimator]


def _make(binarizer: str, estimator: str, progress: float = 0.0) -> Binarizer:
    bz = BINARIZERS.get(binarizer)(estimator)
    bz.set_progress(progress)
    return bz


def _logits(shape=(4, 3, 5), dtype=torch.float32, seed=0) -> torch.Tensor:
    """Random logits with a zero (p = 0.5 exactly) and saturated units so that both mask values appear."""
    g = torch.Generator().manual_seed(seed)
    h = torch.randn(shape, generator=g, dtype=torch.float64) * 3.0
    flat = h.view(-1)
    flat[0], flat[1], flat[2] = 0.0, 30.0, -30.0
    return h.to(dtype)


def _set_mode(bz: Binarizer, mode: str):
    """Put ``bz`` in a mode and return the ``sample`` argument for ``forward``."""
    train, sample = {
        "train": (True, None),
        "eval": (False, None),
        "train-sample": (True, True),
        "eval-sample": (False, True),
        "train-threshold": (True, False),
    }[mode]
    bz.train(train)
    return sample


MODES = ["train", "eval", "train-sample", "eval-sample", "train-threshold"]


# --------------------------------------------------------------------------------------------------------------
# Registry and construction
# --------------------------------------------------------------------------------------------------------------


def test_registries_hold_the_paper_entries():
    assert {"deterministic", "stochastic"} <= set(BINARIZERS.names())
    assert {"st1", "st2", "sa", "reinforce"} <= set(ESTIMATORS.names())


@pytest.mark.parametrize("estimator", ESTIMATORS.names())
def test_every_estimator_has_a_reference(estimator):
    _reference(estimator)


@pytest.mark.parametrize(("binarizer", "estimator"), ALL_COMBOS, ids=[f"{b}-{e}" for b, e in ALL_COMBOS])
def test_valid_combinations_build_and_invalid_raise(binarizer, estimator):
    if (binarizer, estimator) in INVALID_COMBOS:
        with pytest.raises(ValueError, match=estimator):
            BINARIZERS.get(binarizer)(estimator)
        with pytest.raises(ValueError, match=estimator):
            build_binarizer(binarizer, estimator=estimator)
        return
    bz = build_binarizer(binarizer, estimator=estimator)
    assert isinstance(bz, Binarizer)
    assert bz.name == binarizer
    assert bz.estimator.name == estimator
    assert bz.config()["name"] == binarizer
    assert bz.config()["estimator"] == estimator
    # config() rebuilds an equivalent binarizer.
    cfg = dict(bz.config())
    rebuilt = build_binarizer(cfg.pop("name"), **cfg)
    assert rebuilt.config() == bz.config()


def test_deterministic_reinforce_raises_value_error():
    with pytest.raises(ValueError):
        DeterministicBinarizer("reinforce")
    with pytest.raises(ValueError):
        build_binarizer("deterministic", estimator="reinforce")


def test_unknown_binarizer_name_lists_choices():
    with pytest.raises(ValueError) as info:
        build_binarizer("nope")
    message = str(info.value)
    assert "nope" in message
    for name in BINARIZERS.names():
        assert name in message


def test_unknown_estimator_name_lists_choices():
    with pytest.raises(ValueError) as info:
        build_binarizer("stochastic", estimator="nope")
    message = str(info.value)
    assert "nope" in message
    for name in ESTIMATORS.names():
        assert name in message
    with pytest.raises(ValueError):
        build_estimator("nope")


def test_estimator_kwargs_need_a_name():
    with pytest.raises(TypeError):
        StochasticBinarizer(SlopeAnnealing(), rate=0.5)


# --------------------------------------------------------------------------------------------------------------
# 1. Forward is exactly {0, 1} (but for a relaxed estimator's training mask)
# --------------------------------------------------------------------------------------------------------------

# Every valid combination in every mode, except the training rule (mode "train") of a relaxed estimator.
BINARY_CASES = [(b, e, m) for b, e in VALID_COMBOS for m in MODES if not (m == "train" and e in RELAXED)]


@pytest.mark.parametrize("requires_grad", [True, False], ids=["grad", "nograd"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize(
    ("binarizer", "estimator", "mode"), BINARY_CASES, ids=[f"{b}-{e}-{m}" for b, e, m in BINARY_CASES]
)
def test_forward_is_exactly_binary(binarizer, estimator, mode, dtype, requires_grad):
    torch.manual_seed(0)
    bz = _make(binarizer, estimator, PROGRESS)
    sample = _set_mode(bz, mode)
    logits = _logits(dtype=dtype).requires_grad_(requires_grad)
    mask = bz(logits, sample=sample)
    assert mask.shape == logits.shape
    assert mask.dtype == logits.dtype
    assert set(mask.detach().float().unique().tolist()) == {0.0, 1.0}
    # Saturated units are decided whatever the rule.
    flat = mask.detach().reshape(-1)
    assert flat[1].item() == 1.0
    assert flat[2].item() == 0.0


@pytest.mark.parametrize(("binarizer", "estimator"), [c for c in VALID_COMBOS if c[1] not in RELAXED])
def test_forward_binary_under_no_grad(binarizer, estimator):
    torch.manual_seed(0)
    bz = _make(binarizer, estimator).train()
    logits = _logits().requires_grad_(True)
    with torch.no_grad():
        mask = bz(logits)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert mask.grad_fn is None


# --------------------------------------------------------------------------------------------------------------
# 2. Backward equals the documented surrogate
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize(
    ("binarizer", "estimator", "mode"), BINARY_CASES, ids=[f"{b}-{e}-{m}" for b, e, m in BINARY_CASES]
)
def test_backward_matches_paper_surrogate(binarizer, estimator, mode, dtype):
    torch.manual_seed(1)
    expected_slope, surrogate = _reference(estimator)
    bz = _make(binarizer, estimator, PROGRESS)
    assert float(bz.slope) == pytest.approx(expected_slope)
    sample = _set_mode(bz, mode)
    logits = _logits(dtype=dtype, seed=1).requires_grad_(True)
    upstream = torch.randn(logits.shape, dtype=torch.float64).to(dtype)
    mask = bz(logits, sample=sample)

    if surrogate is None:  # score-function estimator: the mask carries no gradient at all
        assert not bz.estimator.pathwise
        assert not mask.requires_grad
        assert mask.grad_fn is None
        return

    (mask * upstream).sum().backward()
    got = logits.grad.double().reshape(-1).tolist()
    h = logits.detach().double().reshape(-1).tolist()
    w = upstream.double().reshape(-1).tolist()
    s = float(bz.slope)
    want = [w[k] * surrogate(h[k], s) for k in range(len(h))]
    # The library computes p (1 - p) in float32 whatever the logits' dtype, so 1 - p for p near 1 carries an
    # absolute error of about float32's epsilon; allow that, scaled by the slope and the upstream weight.
    eps32 = torch.finfo(torch.float32).eps
    for k in range(len(h)):
        tol = 1e-5 * abs(want[k]) + 2 * eps32 * s * abs(w[k])
        assert abs(got[k] - want[k]) <= tol, (k, h[k], got[k], want[k])


def test_st2_backward_is_identity():
    torch.manual_seed(2)
    for name in ("deterministic", "stochastic"):
        bz = build_binarizer(name, estimator="st2").train()
        logits = torch.randn(3, 7, requires_grad=True)
        upstream = torch.randn(3, 7)
        (bz(logits) * upstream).sum().backward()
        assert torch.equal(logits.grad, upstream)


def test_sa_slope_changes_gradient_against_st1():
    """With s > 1 slope annealing gives s p(1-p) at p = sigmoid(s h), not ST1's value."""
    torch.manual_seed(3)
    h = torch.tensor([[0.0, 0.3, -0.7]])
    grads = {}
    for est in ("st1", "sa"):
        bz = build_binarizer("deterministic", estimator=est)
        bz.set_progress(4.0)  # sa: s = 3
        x = h.clone().requires_grad_(True)
        bz(x).sum().backward()
        grads[est] = x.grad[0].tolist()
    assert grads["st1"] == pytest.approx([_st1(v, 1.0) for v in h[0].tolist()], rel=1e-6)
    assert grads["sa"] == pytest.approx([_sa(v, 3.0) for v in h[0].tolist()], rel=1e-6)
    assert grads["sa"][0] == pytest.approx(0.75)  # s/4 at h = 0


# --------------------------------------------------------------------------------------------------------------
# 3. Thresholding and sampling
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("binarizer", "estimator"), VALID_COMBOS, ids=COMBO_IDS)
def test_eval_mode_thresholds(binarizer, estimator):
    """Every binarizer thresholds sigmoid(s h) >= 0.5 in eval mode (and with sample=False), reproducibly."""
    torch.manual_seed(4)
    bz = _make(binarizer, estimator, PROGRESS).eval()
    logits = _logits(shape=(8, 50), seed=4)
    want = (torch.sigmoid(bz.slope * logits) >= 0.5).float()
    assert torch.equal(bz(logits), want)
    assert torch.equal(bz(logits), want)  # reproducible
    bz.train()
    assert torch.equal(bz(logits, sample=False), want)
    # p = 0.5 exactly (h = 0) is kept.
    assert bz(torch.zeros(2, 3), sample=False).eq(1).all()


@pytest.mark.parametrize("estimator", [e for e in ESTIMATORS.names() if ("deterministic", e) not in INVALID_COMBOS])
def test_deterministic_train_mode_thresholds(estimator):
    torch.manual_seed(5)
    bz = _make("deterministic", estimator, PROGRESS).train()
    logits = _logits(shape=(8, 50), seed=5).requires_grad_(True)
    want = (torch.sigmoid(bz.slope * logits.detach()) >= 0.5).float()
    assert torch.equal(bz(logits).detach(), want)
    assert torch.equal(bz(logits).detach(), want)


def _empirical_mean_matches(bz: Binarizer, sample, n: int = 20000):
    h = torch.tensor([-3.0, -1.0, -0.2, 0.0, 0.4, 1.5, 2.5])
    logits = h.expand(n, -1).contiguous()
    with torch.no_grad():
        masks = bz(logits, sample=sample)
    p = torch.sigmoid(bz.slope * h).double()
    mean = masks.double().mean(0)
    se = (p * (1 - p) / n).sqrt()
    assert torch.all((mean - p).abs() <= 5 * se + 1e-12), (mean, p)
    # Not thresholding: intermediate probabilities give both values.
    assert 0.3 < mean[3] < 0.7


@pytest.mark.parametrize("estimator", [e for e in ESTIMATORS.names() if e not in RELAXED])
def test_stochastic_train_mode_mean_is_p(estimator):
    torch.manual_seed(6)
    bz = _make("stochastic", estimator, PROGRESS).train()
    _empirical_mean_matches(bz, sample=None)


@pytest.mark.parametrize(("binarizer", "estimator"), VALID_COMBOS, ids=COMBO_IDS)
def test_sample_true_draws_bernoulli_in_eval(binarizer, estimator):
    torch.manual_seed(7)
    bz = _make(binarizer, estimator, PROGRESS).eval()
    _empirical_mean_matches(bz, sample=True)


def test_stochastic_samples_are_independent_per_unit():
    """Units with the same probability are not sampled jointly (no per-batch or per-row tie)."""
    torch.manual_seed(8)
    bz = build_binarizer("stochastic").train()
    masks = bz(torch.zeros(20000, 2))
    m0, m1 = masks[:, 0].double(), masks[:, 1].double()
    both = (m0 * m1).mean().item()
    assert both == pytest.approx(0.25, abs=5 * math.sqrt(0.25 * 0.75 / 20000))


# --------------------------------------------------------------------------------------------------------------
# 4. REINFORCE (eq. 16-18)
# --------------------------------------------------------------------------------------------------------------


def _reinforce_reference(h, m, j, valid=None):
    """Slow per-unit reference of eq. 16-18: grad_iu = (J_i - b_u)(m_iu - p_iu)/B (0 on invalid units), with
    b_u = sum_i (m_iu - p_iu)^2 J_i / sum_i (m_iu - p_iu)^2 over the samples where unit u is valid."""
    batch = len(h)
    units = len(h[0])
    grad = [[0.0] * units for _ in range(batch)]
    for u in range(units):
        num = den = 0.0
        for i in range(batch):
            if valid is not None and not valid[i][u]:
                continue
            d = m[i][u] - _sigmoid(h[i][u])
            num += d * d * j[i]
            den += d * d
        b = num / den if den > 0 else 0.0
        for i in range(batch):
            if valid is not None and not valid[i][u]:
                continue
            grad[i][u] = (j[i] - b) * (m[i][u] - _sigmoid(h[i][u])) / batch
    return grad


@pytest.mark.parametrize("with_valid", [False, True], ids=["all-valid", "padding"])
def test_reinforce_score_loss_matches_reference(with_valid):
    torch.manual_seed(9)
    batch, shape = 8, (2, 3)
    bz = build_binarizer("stochastic", estimator="reinforce").train()
    logits = torch.randn(batch, *shape, requires_grad=True)
    mask = bz(logits)
    assert not mask.requires_grad
    j = torch.rand(batch) * 2 + 0.1
    valid = (torch.rand(batch, *shape) > 0.3).float() if with_valid else None
    bz.score_loss(logits, mask, j, valid).backward()

    flat = lambda t: t.detach().double().reshape(batch, -1).tolist()  # noqa: E731
    want = _reinforce_reference(flat(logits), flat(mask), j.double().tolist(), flat(valid) if with_valid else None)
    got = flat(logits.grad)
    for i in range(batch):
        assert got[i] == pytest.approx(want[i], rel=1e-5, abs=1e-7)
    assert logits.grad.abs().sum() > 0  # not the reference code's identically-zero gradient
    if with_valid:
        assert torch.all(logits.grad[valid == 0] == 0)


def test_reinforce_score_loss_detaches_per_sample_loss():
    torch.manual_seed(10)
    bz = build_binarizer("stochastic", estimator="reinforce").train()
    logits = torch.randn(6, 4, requires_grad=True)
    other = torch.randn(6, requires_grad=True)
    mask = bz(logits)
    bz.score_loss(logits, mask, other.exp(), None).backward()
    assert other.grad is None
    assert logits.grad is not None and logits.grad.abs().sum() > 0


@pytest.mark.parametrize(("binarizer", "estimator"), VALID_COMBOS, ids=COMBO_IDS)
def test_score_loss_is_zero_for_pathwise_estimators(binarizer, estimator):
    torch.manual_seed(11)
    bz = _make(binarizer, estimator).train()
    logits = torch.randn(5, 3, requires_grad=True)
    mask = bz(logits)
    extra = bz.score_loss(logits, mask.detach(), torch.rand(5))
    if bz.estimator.pathwise:
        assert extra.shape == ()
        assert extra.item() == 0.0
    else:
        extra.backward()
        assert logits.grad.abs().sum() > 0


# A tiny problem: 3 units with fixed logits and a nonlinear cost J(m) on the 8 masks.
TINY_H = [0.4, -0.8, 1.3]


def _tiny_cost(m: torch.Tensor) -> torch.Tensor:
    """A differentiable nonlinear J(m) (so ST1 has a pathwise gradient too); m: (B, 3) -> (B,)."""
    a, b, c = m.unbind(-1)
    return (a + 2 * b - c - 0.5) ** 2 + 3 * a * b * c - 1.5 * b * c + 0.7 * a


def _exact_tiny_gradient() -> list[float]:
    """d E_m[J(m)] / d h_u = sum_m J(m) P(m) (m_u - p_u), enumerating all 2^3 masks."""
    p = [_sigmoid(v) for v in TINY_H]
    grad = [0.0, 0.0, 0.0]
    for bits in itertools.product((0.0, 1.0), repeat=3):
        prob = 1.0
        for u in range(3):
            prob *= p[u] if bits[u] else 1 - p[u]
        cost = float(_tiny_cost(torch.tensor([bits], dtype=torch.float64))[0])
        for u in range(3):
            grad[u] += cost * prob * (bits[u] - p[u])
    return grad


def _estimates(estimator: str, repeats: int, batch: int) -> torch.Tensor:
    """``repeats`` independent batch estimates of d E[J] / d h, shape (repeats, 3)."""
    bz = build_binarizer("stochastic", estimator=estimator).train()
    h = torch.nn.Parameter(torch.tensor(TINY_H))
    out = []
    for _ in range(repeats):
        h.grad = None
        logits = h.expand(batch, 3)
        mask = bz(logits)
        cost = _tiny_cost(mask)
        (cost.mean() + bz.score_loss(logits, mask, cost)).backward()
        out.append(h.grad.detach().double().clone())
    return torch.stack(out)


def test_exact_tiny_gradient_is_nontrivial():
    exact = _exact_tiny_gradient()
    assert all(abs(g) > 0.05 for g in exact)
    # Cross-check the enumeration with autograd through the analytic expectation.
    h = torch.tensor(TINY_H, dtype=torch.float64, requires_grad=True)
    p = torch.sigmoid(h)
    expectation = 0.0
    for bits in itertools.product((0.0, 1.0), repeat=3):
        m = torch.tensor(bits, dtype=torch.float64)
        prob = torch.prod(torch.where(m > 0, p, 1 - p))
        expectation = expectation + prob * _tiny_cost(m[None])[0]
    expectation.backward()
    assert h.grad.tolist() == pytest.approx(exact, rel=1e-10)


def test_reinforce_is_unbiased_on_tiny_problem():
    torch.manual_seed(12)
    exact = torch.tensor(_exact_tiny_gradient(), dtype=torch.float64)
    est = _estimates("reinforce", repeats=40, batch=4096)
    mean = est.mean(0)
    se = est.std(0) / math.sqrt(est.shape[0])
    assert torch.all(se > 0)
    assert torch.all(mean.abs() > 0.5 * exact.abs()), mean  # non-zero
    assert torch.all((mean - exact).abs() <= 5 * se), (mean, exact, se)
    # And the estimate is useful: its standard error is small against the gradient itself.
    assert torch.all(se < 0.1 * exact.abs())


def test_st1_is_biased_on_tiny_problem():
    """The straight-through estimate (eq. 19) is biased (paper 4.3): its mean misses the exact gradient."""
    torch.manual_seed(13)
    exact = torch.tensor(_exact_tiny_gradient(), dtype=torch.float64)
    est = _estimates("st1", repeats=20, batch=4096)
    mean = est.mean(0)
    se = est.std(0) / math.sqrt(est.shape[0])
    z = (mean - exact).abs() / se.clamp_min(1e-12)
    assert z.max() > 20, (mean, exact, se)


# --------------------------------------------------------------------------------------------------------------
# 5. Slope annealing schedule
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.1, 0.5, 1.0, 10.0, 100.0])
@pytest.mark.parametrize("cap", [100.0, 5.0])
def test_slope_schedule(rate, cap):
    bz = build_binarizer("stochastic", estimator="sa", rate=rate, cap=cap)
    assert float(bz.slope) == 1.0
    for epochs in [0.0, 0.01, 0.25, 0.5, 1.0, 1.7, 2.5, 7.3, 20.0, 1000.0]:
        bz.set_progress(epochs)
        want = min(1.0 + rate * epochs, cap)
        assert float(bz.slope) == pytest.approx(want, rel=1e-6)
        assert float(bz.slope) <= cap
        assert float(bz.estimator.slope(epochs)) == pytest.approx(want, rel=1e-12)
    bz.set_progress(1e9)
    assert float(bz.slope) == cap
    bz.set_progress(-3.0)  # before training: no annealing
    assert float(bz.slope) == 1.0


def test_slope_rate_half_is_fifty_percent_steeper_after_one_epoch():
    bz = build_binarizer("deterministic", estimator="sa", rate=0.5)
    bz.set_progress(1.0)
    assert float(bz.slope) == pytest.approx(1.5)


@pytest.mark.parametrize("estimator", [e for e in ESTIMATORS.names() if e != "sa"])
def test_other_estimators_keep_slope_one(estimator):
    bz = build_binarizer("stochastic", estimator=estimator)
    for epochs in (0.5, 3.0, 100.0):
        bz.set_progress(epochs)
        assert float(bz.slope) == 1.0


def test_slope_is_saved_in_state_dict():
    bz = build_binarizer("stochastic", estimator="sa", rate=2.0)
    bz.set_progress(1.25)
    state = bz.state_dict()
    assert "slope" in state
    assert float(state["slope"]) == pytest.approx(3.5)
    fresh = build_binarizer("stochastic", estimator="sa", rate=2.0)
    assert float(fresh.slope) == 1.0
    fresh.load_state_dict(state)
    assert float(fresh.slope) == pytest.approx(3.5)
    logits = torch.linspace(-2, 2, 9)[None]
    assert torch.equal(fresh.probability(logits), bz.probability(logits))


@pytest.mark.parametrize("rate", [-0.1, float("nan"), float("inf")])
def test_invalid_rate_raises(rate):
    with pytest.raises(ValueError, match="rate"):
        SlopeAnnealing(rate=rate)
    with pytest.raises(ValueError, match="rate"):
        build_binarizer("stochastic", estimator="sa", rate=rate)


@pytest.mark.parametrize("cap", [0.5, 0.0, -1.0, float("nan"), float("inf")])
def test_invalid_cap_raises(cap):
    with pytest.raises(ValueError, match="cap"):
        SlopeAnnealing(cap=cap)
    with pytest.raises(ValueError, match="cap"):
        build_binarizer("deterministic", estimator="sa", cap=cap)
