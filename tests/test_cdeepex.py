"""The CDeepEx optimiser (thesis eq. 3.2-3.4) against a toy problem whose constrained optimum is known exactly.

Toy: a linear classifier ``llh(z) = log_softmax(W z + b)``. Log-likelihood differences are logit differences, so
every constraint of eq. 3.2 is linear in ``z`` and the constrained optimum is the projection of ``z0`` onto a
polyhedron: the slow reference tries every active set of inequalities, projects onto it in closed form, and keeps
the closest feasible point (a convex problem: that point is the optimum).
"""

from __future__ import annotations

import itertools

import pytest
import torch

from hnsx.adapters.image.contrastive.cdeepex import CDeepExConfig, augmented_lagrangian, cdeepex_search, constraints

torch.set_num_threads(1)

# Class 0 is predicted at z0 = 0, class 1 is the probe. Class 2 overtakes both on the unconstrained boundary.
W = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [3.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
B = torch.tensor([2.0, 1.0, 0.0, -5.0], dtype=torch.float64)


def llh(z: torch.Tensor, weight: torch.Tensor = W) -> torch.Tensor:
    return torch.log_softmax(z @ weight.T + B, dim=1)


def reference_optimum(z0: torch.Tensor, weight: torch.Tensor, true: int, probe: int, eps: float, constrained: bool):
    """argmin ||z - z0||^2 over {h = 0, g <= 0, g~ <= 0}, all linear: rows a z + d of the logit differences."""
    equality = (weight[true] - weight[probe], B[true] - B[probe])
    others = [k for k in range(len(B)) if k not in (true, probe)]
    inequalities = [(weight[k] - weight[ref], B[k] - B[ref] - eps) for k in others for ref in (true, probe)]
    best = None
    subsets = (
        itertools.chain.from_iterable(itertools.combinations(inequalities, n) for n in range(3))
        if constrained
        else [()]
    )
    for active in subsets:
        rows = [equality, *active]
        a = torch.stack([r[0] for r in rows])
        d = torch.stack([r[1] for r in rows])
        gram = a @ a.T
        if torch.linalg.matrix_rank(gram) < len(rows):
            continue
        z = z0 - a.T @ torch.linalg.solve(gram, a @ z0 + d)
        feasible = all(float(ai @ z + di) <= 1e-9 for ai, di in inequalities) if constrained else True
        if feasible and (best is None or float(((z - z0) ** 2).sum()) < float(((best - z0) ** 2).sum())):
            best = z
    return best


def search(weight: torch.Tensor = W, eps: float = 0.0, constrained: bool = True):
    z0 = torch.zeros(1, 3, dtype=torch.float64)
    config = CDeepExConfig(epsilon=eps, constrained=constrained, outer_steps=80, inner_steps=50, lr=0.02)
    return cdeepex_search(lambda z: llh(z, weight), z0, torch.tensor([0]), torch.tensor([1]), config)


@pytest.mark.parametrize("eps", [0.0, 0.5])
def test_the_constrained_search_reaches_the_known_optimum(eps):
    expected = reference_optimum(torch.zeros(3, dtype=torch.float64), W, 0, 1, eps, constrained=True)
    result = search(eps=eps)
    assert torch.allclose(result.z[0], expected, atol=2e-2), (result.z, expected)
    assert abs(float(result.h[0])) < 1e-2
    assert float(result.violation[0]) < 1e-2
    # the third class really is what the constraints hold back: at the plain boundary it beats both
    plain = reference_optimum(torch.zeros(3, dtype=torch.float64), W, 0, 1, eps, constrained=False)
    assert int(llh(plain[None]).argmax()) == 2
    assert not torch.allclose(plain, expected, atol=0.1)


def test_without_the_inequalities_the_search_is_xgems_and_lands_where_a_third_class_wins():
    expected = reference_optimum(torch.zeros(3, dtype=torch.float64), W, 0, 1, 0.0, constrained=False)
    result = search(constrained=False)
    assert torch.allclose(result.z[0], expected, atol=2e-2)
    assert int(llh(result.z).argmax()) == 2
    assert float(result.violation[0]) > 0.5


def test_inactive_inequalities_leave_the_plain_projection():
    weight = W.clone()
    weight[2] = torch.tensor([-1.0, 0.0, 0.0])  # class 2 falls behind along the way
    expected = reference_optimum(torch.zeros(3, dtype=torch.float64), weight, 0, 1, 0.0, constrained=False)
    result = search(weight)
    assert torch.allclose(result.z[0], expected, atol=2e-2)
    assert torch.allclose(result.mu, torch.zeros_like(result.mu)) and torch.allclose(
        result.mu_probe, torch.zeros_like(result.mu_probe)
    )


@pytest.mark.parametrize("constrained", [True, False])
def test_the_penalty_follows_eq_3_4(constrained):
    result = search(constrained=constrained)
    h, c = result.h_path[:, 0].abs(), result.c_path[:, 0]
    assert float(c[0]) == 1.0  # c0
    grew = 0
    for k in range(1, len(c) - 1):  # c^{k+1} from h(z^k) and h(z^{k-1})
        expected = 1.01 * c[k] if h[k] > 0.24 * h[k - 1] else c[k]
        assert float(c[k + 1]) == pytest.approx(float(expected), rel=1e-12)
        grew += int(float(c[k + 1]) > float(c[k]))
    assert grew > 0


def slow_lagrangian(z, z0, logl, true, probe, c, lam, mu, mu_probe, eps):
    """Eq. 3.3 row by row, class by class, with the inequalities in the sign the thesis's text asks for."""
    values = []
    for i in range(z.shape[0]):
        t, p = int(true[i]), int(probe[i])
        h = logl[i, t] - logl[i, p]
        value = ((z[i] - z0[i]) ** 2).sum() + lam[i] * h + c[i] / 2 * h**2
        for k in range(logl.shape[1]):
            if k in (t, p):
                continue
            for ref, m in ((t, mu), (p, mu_probe)):
                g = logl[i, k] - logl[i, ref] - eps
                value = value + (max(0.0, float(m[i, k] + c[i] * g)) ** 2 - float(m[i, k]) ** 2) / (2 * c[i])
        values.append(value)
    return torch.stack(values)


def test_the_augmented_lagrangian_matches_eq_3_3_term_by_term():
    gen = torch.Generator().manual_seed(0)
    z, z0 = torch.randn(3, 3, generator=gen, dtype=torch.float64), torch.randn(3, 3, generator=gen, dtype=torch.float64)
    logl = llh(z)
    true, probe = torch.tensor([0, 1, 3]), torch.tensor([1, 2, 0])
    c = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    lam = torch.randn(3, generator=gen, dtype=torch.float64)
    mu, mu_probe = (
        torch.rand(3, 4, generator=gen, dtype=torch.float64),
        torch.rand(3, 4, generator=gen, dtype=torch.float64),
    )
    fast = augmented_lagrangian(z, z0, logl, true, probe, c, lam, mu, mu_probe, epsilon=0.1)
    slow = slow_lagrangian(z, z0, logl, true, probe, c, lam, mu, mu_probe, 0.1)
    assert torch.allclose(fast, slow)
    h, _, _, others = constraints(logl, true, probe)
    assert torch.allclose(h, logl[torch.arange(3), true] - logl[torch.arange(3), probe])
    assert others.sum(1).tolist() == [2, 2, 2]


@pytest.mark.parametrize(
    ("field", "value"), [("gamma", 1.5), ("beta", 0.9), ("c0", 0.0), ("epsilon", -1.0), ("inner_steps", 0)]
)
def test_bad_settings_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        CDeepExConfig(**{field: value})


def test_a_probe_equal_to_the_prediction_is_refused():
    with pytest.raises(ValueError, match="probe class must differ"):
        cdeepex_search(llh, torch.zeros(1, 3, dtype=torch.float64), torch.tensor([0]), torch.tensor([0]))
