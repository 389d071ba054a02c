"""The CDeepEx optimiser: the closest latent code on the boundary between the predicted and the probe class.

Thesis "Deep Contrastive Explanation", section 3.1.4. With ``llh(z)`` the log-likelihoods ``(B, K)`` of the
classifier on the image generated from ``z`` (``I_{z, z0} = G(z) + Delta_{z0}``), eq. 3.2 is::

    z_e = argmin_z ||z - z0||^2
          s.t. h(z) = llh_true(z) - llh_probe(z) = 0
               g_y'(z)  = llh_y'(z) - llh_true(z)  - eps <= 0     for every other class y'
               g~_y'(z) = llh_y'(z) - llh_probe(z) - eps <= 0

The thesis prints the inequalities as ``llh_true - llh_y' <= eps``, but its text says what they are for: "the class
produced by D and the probe class remain the most likely"; hnsx implements that intent (the printed sign would
require every other class to be *more* likely than the two being contrasted).

Method of multipliers (Bertsekas 1999, section 4.2; eq. 3.3): for a fixed penalty ``c`` and multipliers
``lambda (B,)``, ``mu (B, K)``, ``mu~ (B, K)`` the augmented Lagrangian::

    L_c = ||z - z0||^2 + lambda h + c/2 h^2
          + 1/(2c) sum_y' [max(0, mu_y' + c g_y')^2 - mu_y'^2] + 1/(2c) sum_y' [max(0, mu~_y' + c g~_y')^2 - mu~_y'^2]

is minimised over ``z`` by gradient descent (Adam, ``inner_steps`` steps; the thesis says "standard gradient
descent"); then the multipliers take the first-order update ``lambda <- lambda + c h``, ``mu <- max(0, mu + c g)``,
and ``c`` follows eq. 3.4: ``c <- beta c`` when ``|h_k| > gamma |h_{k-1}|`` (gamma 0.24, beta 1.01, c0 1), else
unchanged. Every row of the batch has its own multipliers and penalty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class CDeepExConfig:
    """Settings of :func:`cdeepex_search` (defaults: the thesis's gamma, beta and c0; eps 0).

    ``constrained=False`` drops the inequality constraints: the xGEMs search the thesis compares with.
    """

    gamma: float = 0.24
    beta: float = 1.01
    c0: float = 1.0
    epsilon: float = 0.0
    outer_steps: int = 30
    inner_steps: int = 30
    lr: float = 0.05
    constrained: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.gamma < 1:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")
        if self.beta < 1:
            raise ValueError(f"beta must be >= 1, got {self.beta}")
        if self.c0 <= 0:
            raise ValueError(f"c0 must be > 0, got {self.c0}")
        if self.epsilon < 0:
            raise ValueError(f"epsilon must be >= 0, got {self.epsilon}")
        for name in ("outer_steps", "inner_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


@dataclass
class CDeepExResult:
    """What :func:`cdeepex_search` found: ``z (B, k)``, the final ``h (B,)`` (0 on the boundary), the largest
    inequality violation ``violation (B,)`` (<= 0 when every other class stays below both), the penalty ``c (B,)``
    and the multipliers ``lam (B,)``, ``mu (B, K)``, ``mu_probe (B, K)``; ``h_path`` and ``c_path``
    ``(outer_steps, B)``: ``h`` after each unconstrained minimisation and the ``c`` it was minimised with."""

    z: torch.Tensor
    h: torch.Tensor
    violation: torch.Tensor
    c: torch.Tensor
    lam: torch.Tensor
    mu: torch.Tensor
    mu_probe: torch.Tensor
    h_path: torch.Tensor
    c_path: torch.Tensor


def constraints(
    llh: torch.Tensor, y_true: torch.Tensor, y_probe: torch.Tensor, epsilon: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``h (B,)``, ``g (B, K)``, ``g~ (B, K)`` of eq. 3.2 from log-likelihoods ``llh (B, K)``, and the mask
    ``others (B, K)`` of the classes they apply to (neither ``y_true`` nor ``y_probe``)."""
    true = llh.gather(1, y_true[:, None])
    probe = llh.gather(1, y_probe[:, None])
    others = torch.ones_like(llh, dtype=torch.bool)
    others.scatter_(1, y_true[:, None], False)
    others.scatter_(1, y_probe[:, None], False)
    return (true - probe)[:, 0], llh - true - epsilon, llh - probe - epsilon, others


def _inequality_term(mu: torch.Tensor, g: torch.Tensor, c: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    c = c[:, None]
    term = (torch.clamp_min(mu + c * g, 0) ** 2 - mu**2) / (2 * c)
    return (term * others).sum(1)


def augmented_lagrangian(
    z: torch.Tensor,
    z0: torch.Tensor,
    llh: torch.Tensor,
    y_true: torch.Tensor,
    y_probe: torch.Tensor,
    c: torch.Tensor,
    lam: torch.Tensor,
    mu: torch.Tensor,
    mu_probe: torch.Tensor,
    *,
    epsilon: float = 0.0,
    constrained: bool = True,
) -> torch.Tensor:
    """``L_c (B,)`` of eq. 3.3 for codes ``z (B, k)`` whose log-likelihoods are ``llh (B, K)``."""
    h, g, g_probe, others = constraints(llh, y_true, y_probe, epsilon)
    value = ((z - z0) ** 2).flatten(1).sum(1) + lam * h + c / 2 * h**2
    if constrained:
        value = value + _inequality_term(mu, g, c, others) + _inequality_term(mu_probe, g_probe, c, others)
    return value


def cdeepex_search(
    llh_fn: Callable[[torch.Tensor], torch.Tensor],
    z0: torch.Tensor,
    y_true: torch.Tensor,
    y_probe: torch.Tensor,
    config: CDeepExConfig | None = None,
) -> CDeepExResult:
    """Solve eq. 3.2 from ``z0 (B, k)`` (also the starting point) for the classes ``y_true``, ``y_probe (B,)``.

    ``llh_fn(z) -> (B, K)`` gives the classifier's log-likelihoods on the image generated from ``z``
    (differentiable in ``z``). The classifier's own parameters are not touched (no gradient is kept for them).
    """
    config = config or CDeepExConfig()
    if z0.shape[0] != y_true.shape[0] or y_true.shape != y_probe.shape:
        raise ValueError(
            f"z0 {tuple(z0.shape)}, y_true {tuple(y_true.shape)}, y_probe {tuple(y_probe.shape)}: one row each"
        )
    if bool((y_true == y_probe).any()):
        raise ValueError("the probe class must differ from the predicted class")
    z0 = z0.detach()
    z = z0.clone().requires_grad_(True)
    batch = z0.shape[0]
    with torch.no_grad():
        num_classes = llh_fn(z0).shape[1]
    c = torch.full((batch,), config.c0, dtype=z0.dtype, device=z0.device)
    lam = torch.zeros(batch, dtype=z0.dtype, device=z0.device)
    mu = torch.zeros(batch, num_classes, dtype=z0.dtype, device=z0.device)
    mu_probe = torch.zeros_like(mu)
    previous_h = None
    h_path, c_path = [], []
    optimizer = torch.optim.Adam([z], lr=config.lr)
    for _ in range(config.outer_steps):
        for _ in range(config.inner_steps):
            optimizer.zero_grad()
            value = augmented_lagrangian(
                z, z0, llh_fn(z), y_true, y_probe, c, lam, mu, mu_probe,
                epsilon=config.epsilon, constrained=config.constrained,
            )  # fmt: skip
            (grad,) = torch.autograd.grad(value.sum(), z)
            z.grad = grad
            optimizer.step()
        with torch.no_grad():
            h, g, g_probe, others = constraints(llh_fn(z), y_true, y_probe, config.epsilon)
            h_path.append(h)
            c_path.append(c)
            lam = lam + c * h
            if config.constrained:
                mu = torch.clamp_min(mu + c[:, None] * g, 0) * others
                mu_probe = torch.clamp_min(mu_probe + c[:, None] * g_probe, 0) * others
            if previous_h is not None:  # eq. 3.4
                c = torch.where(h.abs() > config.gamma * previous_h.abs(), c * config.beta, c)
            previous_h = h
    with torch.no_grad():
        h, g, g_probe, others = constraints(llh_fn(z), y_true, y_probe, config.epsilon)
        worst = torch.maximum(g, g_probe).masked_fill(~others, float("-inf")).amax(1)
        worst = torch.where(others.any(1), worst, torch.zeros_like(worst))
    return CDeepExResult(z.detach(), h, worst, c, lam, mu, mu_probe, torch.stack(h_path), torch.stack(c_path))


# --- procedure 1: the search through a generator ---------------------------------------------------------------------


class PixelGenerator(nn.Module):
    """The identity "generator": the code of an image is its pixels (the "backprop directly" variant of 3.1.3)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z.view(z.shape[0], *self.shape)


@dataclass
class ContrastiveExplanation:
    """``difference (B, C, H, W)`` = input minus counterfactual, the ``counterfactual`` image, the ``target`` and
    ``probe`` classes ``(B,)`` and the optimiser's record ``search``."""

    difference: torch.Tensor
    counterfactual: torch.Tensor
    target: torch.Tensor
    probe: torch.Tensor
    search: CDeepExResult


def probe_classes(model: nn.Module, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The most likely class other than ``target`` for each input ``(B,)`` (the second most likely class when
    ``target`` is the prediction: the thesis's default probe)."""
    with torch.no_grad():
        logits = model(inputs).clone()
    logits.scatter_(1, target[:, None], float("-inf"))
    return logits.argmax(1)


def cdeepex(
    model: nn.Module,
    inputs: torch.Tensor,
    target: torch.Tensor,
    probe: torch.Tensor,
    generator: nn.Module | None = None,
    config: CDeepExConfig | None = None,
) -> ContrastiveExplanation:
    """Procedure 1 of the thesis for a classifier ``model`` on ``inputs (B, C, H, W)``: the code ``z0`` of the
    input (``generator.encode``, a VAE's mean code), the residual ``Delta = I - G(z0)``, the search of eq. 3.2 on
    ``I_{z, z0} = G(z) + Delta``, and the difference ``I - I_{z_e, z0}``. ``generator=None``: pixel space.

    The model is run in evaluation mode with its parameters' gradients off; both are restored afterwards."""
    generator = generator if generator is not None else PixelGenerator(tuple(inputs.shape[1:]))
    inputs, target, probe = inputs.clone(), target.clone(), probe.clone()  # normal tensors, even from inference mode
    was_training = model.training
    requires = [p.requires_grad for p in model.parameters()]
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with torch.no_grad():
            z0 = generator.encode(inputs)
            residual = inputs - generator.decode(z0)

        def llh(z: torch.Tensor) -> torch.Tensor:
            return torch.log_softmax(model(generator.decode(z) + residual), dim=1)

        result = cdeepex_search(llh, z0, target, probe, config)
        with torch.no_grad():
            counterfactual = generator.decode(result.z) + residual
    finally:
        for p, flag in zip(model.parameters(), requires):
            p.requires_grad_(flag)
        model.train(was_training)
    return ContrastiveExplanation(inputs - counterfactual, counterfactual, target, probe, result)


__all__ = [
    "CDeepExConfig",
    "CDeepExResult",
    "ContrastiveExplanation",
    "PixelGenerator",
    "augmented_lagrangian",
    "cdeepex",
    "cdeepex_search",
    "constraints",
    "probe_classes",
]
