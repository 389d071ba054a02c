"""Binary layers that turn hider logits into a {0, 1} mask, and the gradient estimators that train through them.

Paper section 4. With hider logits ``h`` and keep probability ``p = sigmoid(s * h)`` (``s = 1`` except for slope
annealing):

* :class:`DeterministicBinarizer` (binary deterministic neuron, BDN): ``m = 1[p >= 0.5]``.
* :class:`StochasticBinarizer` (binary stochastic neuron, BSN): ``m ~ Bernoulli(p)`` independently per unit.

The forward pass is exactly {0, 1}. The backward pass is a named surrogate, chosen by an :class:`Estimator`:

========== ===================================== ==========================================================
name       d m / d h (surrogate)                  paper
========== ===================================== ==========================================================
``st1``    ``p (1 - p)``                          eq. 10 (deterministic), eq. 19
``st2``    ``1``                                  eq. 20
``sa``     ``s p (1 - p)``, ``p = sigmoid(s h)``  eq. 21-22; ``s = min(1 + rate * epochs, cap)``
``reinforce`` none through ``m``; a score-function term (eq. 16-18), see :meth:`Reinforce.score_loss`
``hard-concrete`` the real pathwise ``dz/dh`` of its relaxed training mask ``z``; ``p (1 - p)`` for exact masks
========== ===================================== ==========================================================

Slope annealing: ``s`` starts at 1 and grows linearly by ``rate`` per epoch ("rate 0.5: 50 % steeper after an
epoch"), updated smoothly every step from the fractional epoch the training loop reports through
:meth:`Binarizer.set_progress`, and never exceeds ``cap`` (default 100, so every rate of the paper's study,
0.1 to 100, stays distinguishable for at least one epoch).

REINFORCE: the mask carries no gradient; instead the loss adds :meth:`Binarizer.score_loss`, whose gradient with
respect to ``h`` is ``(J - b) (m - p) / B`` with ``J`` the detached per-sample loss and the per-unit
variance-minimising baseline ``b = sum_i (m - p)^2 J_i / sum_i (m - p)^2`` over the batch (eq. 17-18).

Hard concrete (Louizos, Welling & Kingma 2018; stochastic binarizer only): in training the estimator draws its own
mask, the stretched and rectified binary-concrete sample ``z`` in [0, 1] with exact zeros and ones, and its
gradient is the real derivative of ``z`` (no surrogate); the loss's kept fraction becomes the closed-form expected
L0, ``P(z != 0)`` per unit (:meth:`Binarizer.kept_units`). See :class:`HardConcrete`.

At evaluation (``module.eval()``) every binarizer thresholds ``p >= 0.5`` so that explanations are reproducible;
``sample=True`` draws ``m ~ Bernoulli(p)`` instead, in any mode.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hnsx.registry import Registry

ESTIMATORS: Registry[Estimator] = Registry("estimator")
BINARIZERS: Registry[Binarizer] = Registry("binarizer")


class _SurrogateStep(torch.autograd.Function):
    """Returns ``hard`` unchanged; backward multiplies the incoming gradient by ``local_grad`` (dm/dh)."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, hard: torch.Tensor, local_grad: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(local_grad)
        return hard.clone()

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (local_grad,) = ctx.saved_tensors
        return (grad_output * local_grad).to(grad_output.dtype), None, None


class Estimator:
    """How gradients pass through the binary step. Subclasses set ``name`` and ``surrogate``."""

    name: str = ""
    #: ``False`` for score-function estimators, whose mask carries no gradient.
    pathwise: bool = True
    #: ``True`` for estimators that draw their own training mask (:meth:`relaxed_sample`, values in [0, 1]) with its
    #: real pathwise gradient, instead of the binarizer's exact {0, 1} mask with a surrogate gradient.
    relaxed: bool = False

    def slope(self, progress: float) -> float:
        """The sigmoid slope ``s`` after ``progress`` epochs (1 unless annealed)."""
        return 1.0

    def surrogate(self, logits: torch.Tensor, prob: torch.Tensor, slope: float) -> torch.Tensor:
        """The surrogate ``dm/dh`` per unit (same shape as ``logits``)."""
        raise NotImplementedError

    def relaxed_sample(self, logits: torch.Tensor) -> torch.Tensor:
        """The training mask of a :attr:`relaxed` estimator, differentiable in ``logits`` (float32, same shape)."""
        raise NotImplementedError(f"the {self.name!r} estimator draws no relaxed training mask")

    def kept_units(self, logits: torch.Tensor) -> torch.Tensor:
        """What a unit of a :attr:`relaxed` training mask counts in the kept fraction (float32, shape of
        ``logits``)."""
        raise NotImplementedError(f"the {self.name!r} estimator draws no relaxed training mask")

    def config(self) -> dict:
        return {"estimator": self.name}


@ESTIMATORS.register("st1")
class ST1(Estimator):
    """Straight-through through the sigmoid: ``dm/dh = p (1 - p)`` (eq. 19; eq. 10 for the BDN)."""

    name = "st1"

    def surrogate(self, logits, prob, slope):
        return prob * (1.0 - prob)


@ESTIMATORS.register("st2")
class ST2(Estimator):
    """Straight-through ignoring the sigmoid: ``dm/dh = 1`` (eq. 20)."""

    name = "st2"

    def surrogate(self, logits, prob, slope):
        return torch.ones_like(prob)


@ESTIMATORS.register("sa")
class SlopeAnnealing(Estimator):
    """ST1 on a sigmoid of slope ``s``: ``p = sigmoid(s h)``, ``dm/dh = s p (1 - p)`` (eq. 21-22).

    Parameters
    ----------
    rate:
        Growth of ``s`` per epoch: ``s = min(1 + rate * epochs, cap)``.
    cap:
        Largest slope.
    """

    name = "sa"

    def __init__(self, rate: float = 0.5, cap: float = 100.0) -> None:
        if not (math.isfinite(rate) and rate >= 0):
            raise ValueError(f"slope-annealing rate must be a finite number >= 0, got {rate}")
        if not (math.isfinite(cap) and cap >= 1):
            raise ValueError(f"slope-annealing cap must be a finite number >= 1, got {cap}")
        self.rate = float(rate)
        self.cap = float(cap)

    def slope(self, progress: float) -> float:
        return min(1.0 + self.rate * max(progress, 0.0), self.cap)

    def surrogate(self, logits, prob, slope):
        return slope * prob * (1.0 - prob)

    def config(self) -> dict:
        return {"estimator": self.name, "rate": self.rate, "cap": self.cap}


@ESTIMATORS.register("reinforce")
class Reinforce(Estimator):
    """Score-function (likelihood-ratio) estimator with the per-unit variance-minimising baseline (eq. 16-18)."""

    name = "reinforce"
    pathwise = False

    def surrogate(self, logits, prob, slope):
        return torch.zeros_like(prob)


#: The temperature ``beta`` that a model spec gives hard-concrete masks when none is named (the class's own default is
#: the paper's 2/3, which specs written before this constant still rebuild with). A hider's logit is a per-input
#: output, not a free parameter, and the evaluation mask is ``h >= 0``: the expected-L0 term's gradient
#: ``P (1 - P)``, ``P = sigmoid(h - beta log(-gamma / zeta))``, peaks at ``h = beta log(-gamma / zeta)``, 1.6 logits
#: below that threshold at beta 2/3 (0.24 at 0.1), so the penalty pushed mostly the units already hidden at
#: evaluation and the whole mask crossed ``h = 0`` together: with ``--target-kept 0.2`` on the generated text corpus
#: beta 2/3 swung between keeping every word and none (3 of 5 study runs ended keeping every word); 0.1 held the
#: target on text and MNIST (docs/objectives.md).
HARD_CONCRETE_BETA = 0.1


@ESTIMATORS.register("hard-concrete")
class HardConcrete(Estimator):
    """Hard-concrete masks (Louizos, Welling & Kingma 2018): a relaxed training mask with exact zeros and ones.

    With location ``log_a = h`` (the hider logit), ``u ~ U(0, 1)`` per unit::

        s = sigmoid((log u - log(1 - u) + log_a) / beta),  z = min(1, max(0, s (zeta - gamma) + gamma))

    ``z`` is the training mask; its gradient is the real ``dz/dh`` for the drawn ``u`` (zero where ``z`` is clamped
    to 0 or 1). The kept fraction counts each unit by its closed-form expected L0,
    ``P(z != 0) = sigmoid(log_a - beta log(-gamma / zeta))`` (:meth:`kept_units`), so the sparsity term is
    differentiable without a straight-through surrogate. Closed forms: :meth:`prob_zero`, :meth:`prob_one`.

    Evaluation, ``sample=False`` and ``sample=True`` keep the binarizer's exact {0, 1} masks (``p >= 0.5`` and
    Bernoulli(p), ``p = sigmoid(h)``; with ``gamma + zeta = 1`` the threshold ``p >= 0.5`` is the same as the
    deterministic hard-concrete gate ``clamp(sigmoid(log_a) (zeta - gamma) + gamma, 0, 1) >= 0.5``), and their
    gradient is ST1's ``p (1 - p)``. Valid with the stochastic binarizer only.

    Parameters
    ----------
    beta:
        Temperature of the binary concrete, > 0 (default 2/3, the paper's).
    gamma, zeta:
        The stretch interval ``(gamma, zeta)`` with ``gamma < 0`` and ``zeta > 1`` (defaults -0.1, 1.1);
        ``gamma + zeta`` must be 1 so that the evaluation threshold stays ``p >= 0.5``.
    """

    name = "hard-concrete"
    relaxed = True
    #: ``u`` is drawn in ``[EPS, 1 - EPS]`` so that ``log u`` and ``log(1 - u)`` stay finite.
    EPS = 1e-6

    def __init__(self, beta: float = 2.0 / 3.0, gamma: float = -0.1, zeta: float = 1.1) -> None:
        if not (math.isfinite(beta) and beta > 0):
            raise ValueError(f"hard-concrete beta must be a finite number > 0, got {beta}")
        if not (math.isfinite(gamma) and math.isfinite(zeta) and gamma < 0 and zeta > 1):
            raise ValueError(f"hard-concrete needs gamma < 0 and zeta > 1, got gamma={gamma}, zeta={zeta}")
        if abs(gamma + zeta - 1.0) > 1e-9:
            raise ValueError(
                f"hard-concrete needs gamma + zeta = 1 (got {gamma} + {zeta}) so that its evaluation mask is p >= 0.5"
            )
        self.beta, self.gamma, self.zeta = float(beta), float(gamma), float(zeta)

    def surrogate(self, logits, prob, slope):
        return prob * (1.0 - prob)

    def gate(self, log_alpha: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``z`` for locations ``log_alpha`` and uniform draws ``u`` in (0, 1) (same shape), differentiable."""
        s = torch.sigmoid((torch.log(u) - torch.log1p(-u) + log_alpha) / self.beta)
        return (s * (self.zeta - self.gamma) + self.gamma).clamp(0.0, 1.0)

    def relaxed_sample(self, logits):
        log_alpha = logits.float()
        u = torch.rand_like(log_alpha).clamp_(self.EPS, 1.0 - self.EPS)
        return self.gate(log_alpha, u)

    def prob_zero(self, log_alpha: torch.Tensor) -> torch.Tensor:
        """``P(z = 0) = sigmoid(beta log(-gamma / zeta) - log_a)``."""
        return torch.sigmoid(self.beta * math.log(-self.gamma / self.zeta) - log_alpha.float())

    def prob_one(self, log_alpha: torch.Tensor) -> torch.Tensor:
        """``P(z = 1) = sigmoid(log_a - beta log((1 - gamma) / (zeta - 1)))``."""
        return torch.sigmoid(log_alpha.float() - self.beta * math.log((1.0 - self.gamma) / (self.zeta - 1.0)))

    def kept_units(self, logits):
        """The expected L0 per unit, ``P(z != 0) = sigmoid(log_a - beta log(-gamma / zeta))``."""
        return torch.sigmoid(logits.float() - self.beta * math.log(-self.gamma / self.zeta))

    def config(self) -> dict:
        return {"estimator": self.name, "beta": self.beta, "gamma": self.gamma, "zeta": self.zeta}


def build_estimator(name: str, **kwargs) -> Estimator:
    """Build a registered estimator (``st1``, ``st2``, ``sa``, ``reinforce``, ``hard-concrete``)."""
    return ESTIMATORS.build(name, **kwargs)


class Binarizer(nn.Module):
    """Base binary layer: ``forward(logits) -> mask`` in {0, 1}, same shape and dtype as ``logits``.

    Subclasses define :meth:`_hard_train`, the forward rule used in training mode.
    """

    name: str = ""

    def __init__(self, estimator: Estimator | str = "st1", **estimator_kwargs) -> None:
        super().__init__()
        if isinstance(estimator, str):
            estimator = build_estimator(estimator, **estimator_kwargs)
        elif estimator_kwargs:
            raise TypeError("estimator keyword arguments are only accepted with an estimator name")
        self.estimator = estimator
        # The slope is state: saved with the weights so a resumed run continues the same schedule.
        self.register_buffer("slope", torch.tensor(1.0), persistent=True)

    def set_progress(self, epochs: float) -> None:
        """Tell the binarizer how many epochs (fractional) of training have passed."""
        self.slope.fill_(self.estimator.slope(epochs))

    def probability(self, logits: torch.Tensor) -> torch.Tensor:
        """Keep probability ``p = sigmoid(s * h)`` in float32, shape of ``logits``."""
        return torch.sigmoid(self.slope * logits.float())

    def _hard_train(self, prob: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, logits: torch.Tensor, sample: bool | None = None) -> torch.Tensor:
        """Binary mask for hider logits ``(B, *mask_shape)``.

        ``sample=None`` follows the mode (training rule in ``train()``, threshold in ``eval()``);
        ``sample=True`` draws Bernoulli samples, ``sample=False`` thresholds. The training rule of a
        :attr:`~Estimator.relaxed` estimator is its own mask, values in [0, 1] (:meth:`Estimator.relaxed_sample`).
        """
        if sample is None and self.training and self.estimator.relaxed:
            return self.estimator.relaxed_sample(self.slope * logits.float()).to(logits.dtype)
        prob = self.probability(logits)
        with torch.no_grad():
            if sample is None:
                hard = self._hard_train(prob) if self.training else (prob >= 0.5).float()
            elif sample:
                hard = torch.bernoulli(prob)
            else:
                hard = (prob >= 0.5).float()
        if not torch.is_grad_enabled() or not logits.requires_grad or not self.estimator.pathwise:
            return hard.to(logits.dtype)
        local_grad = self.estimator.surrogate(logits, prob.detach(), float(self.slope)).detach()
        return _SurrogateStep.apply(logits, hard.to(logits.dtype), local_grad.to(logits.dtype))

    def kept_units(self, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per unit, what the loss's kept fraction averages (``(B, *mask_shape)``): the mask itself, except for a
        :attr:`~Estimator.relaxed` estimator in training mode, whose relaxed mask counts by its expected kept
        indicator (hard concrete: the closed-form ``P(z != 0)``, differentiable in ``logits``)."""
        if self.training and self.estimator.relaxed:
            return self.estimator.kept_units(self.slope * logits.float())
        return mask

    def score_loss(
        self,
        logits: torch.Tensor,
        mask: torch.Tensor,
        per_sample_loss: torch.Tensor,
        valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Extra loss term whose gradient is the REINFORCE estimate; zero for pathwise estimators.

        Parameters
        ----------
        logits:
            Hider logits ``(B, *mask_shape)`` (with gradient).
        mask:
            The sampled mask ``(B, *mask_shape)``.
        per_sample_loss:
            ``J`` per sample ``(B,)``; detached here.
        valid:
            Optional ``(B, *mask_shape)`` {0, 1}; invalid units (padding) get no gradient and do not enter
            the baseline.

        Returns
        -------
        A scalar whose gradient w.r.t. ``logits`` is ``(J_i - b_u) (m_iu - p_iu) / B``.
        """
        if self.estimator.pathwise:
            return logits.new_zeros(())
        batch = logits.shape[0]
        slope = self.slope
        prob = torch.sigmoid(slope * logits.float())
        m = mask.detach().float()
        centred = (m - prob).detach()
        j = per_sample_loss.detach().float().reshape(batch, *([1] * (logits.dim() - 1)))
        weight = centred.pow(2)
        if valid is not None:  # the baseline of a unit averages over the samples where that unit exists
            weight = weight * valid.detach().float()
        baseline = (weight * j).sum(0, keepdim=True) / weight.sum(0, keepdim=True).clamp_min(1e-12)
        advantage = j - baseline
        # d/dh log Bernoulli(m; sigmoid(s h)) = s (m - p); divide by s so the gradient is (J - b)(m - p) as in eq. 18.
        log_prob = (m * nn.functional.logsigmoid(slope * logits.float())) + (1 - m) * nn.functional.logsigmoid(
            -slope * logits.float()
        )
        log_prob = log_prob / slope
        if valid is not None:
            log_prob = log_prob * valid.float()
        return (advantage * log_prob).sum() / batch

    def config(self) -> dict:
        """The arguments that rebuild this binarizer with :func:`build_binarizer`."""
        return {"name": self.name, **self.estimator.config()}

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.estimator.config().items())


@BINARIZERS.register("deterministic")
class DeterministicBinarizer(Binarizer):
    """Binary deterministic neuron: ``m = 1[p >= 0.5]`` (paper 4.1.1-4.1.2); default estimator ``st1``."""

    name = "deterministic"

    def __init__(self, estimator: Estimator | str = "st1", **estimator_kwargs) -> None:
        super().__init__(estimator, **estimator_kwargs)
        if not self.estimator.pathwise or self.estimator.relaxed:
            name, verb = self.estimator.name, "relax" if self.estimator.relaxed else "score"
            raise ValueError(
                f"the deterministic binarizer has no randomness for the {name!r} estimator to {verb}; "
                f"use binarizer 'stochastic' with estimator {name!r}"
            )

    def _hard_train(self, prob):
        return (prob >= 0.5).float()


@BINARIZERS.register("stochastic")
class StochasticBinarizer(Binarizer):
    """Binary stochastic neuron: ``m ~ Bernoulli(p)`` independently per unit (paper 4.1.3-4.1.4)."""

    name = "stochastic"

    def _hard_train(self, prob):
        return torch.bernoulli(prob)


def build_binarizer(name: str = "deterministic", estimator: str | None = None, **kwargs) -> Binarizer:
    """Build a binarizer by name.

    Examples
    --------
    >>> build_binarizer("deterministic")
    >>> build_binarizer("stochastic", estimator="sa", rate=0.5)
    """
    cls = BINARIZERS.get(name)
    if estimator is None:
        estimator = "st1"
    return cls(estimator, **kwargs)
