"""Explainers behind one contract, so that benchmarks treat HnS, Integrated Gradients and Grad-CAM alike.

The contract is Captum's: an explainer is built around a model once, and ``attribute(inputs, target)`` returns one
score per mask unit (higher means more important, or larger in magnitude when :attr:`Explainer.rank_by_abs`):

* image ``(B, C, H, W)`` -> ``(B, 1, H, W)``: Captum's channel attributions are summed over channels; Grad-CAM
  maps are upsampled bilinearly to the input size;
* text ``(B, 2, L)`` token and word ids -> ``(B, L)`` unit slots (words, or tokens with ``word_level=False``, as the
  text adapter numbers them): Captum's attributions of the seeker's embedding layer ``(B, L, E)`` are summed over
  the embedding, then over the tokens of each unit; slots holding no unit are 0;
* tabular ``(B, F)`` -> ``(B, F)``, one score per feature.

``predict_and_attribute(inputs)`` gives the predicted classes and the attributions for them: for Captum methods a
forward pass to predict, then ``attribute`` with the predicted class as target (Captum needs the target first); for
HnS a single pass of hider and seeker.

Every entry of :data:`EXPLAINERS` is tagged with its modality (``EXPLAINERS.names("text")``). Image entries have
plain names; text and tabular entries carry the modality as a prefix (``text-integrated-gradients``), because
registry names are unique; :mod:`hnsx.benchmarks.common` shows them without it.

Image (``build_explainer(name, model, **options)``, ``model`` the classifier unless said otherwise):

``hns``
    The hider's keep probability (``model`` is a :class:`~hnsx.model.HideAndSeek`); its binary mask is
    ``keep_prob >= 0.5``.
``integrated-gradients``
    Captum ``IntegratedGradients`` (``n_steps=50``, zero baseline); ranked by absolute value.
``layer-gradcam``
    Captum ``LayerGradCam`` on the classifier's last ``Conv2d`` (or ``layer=``), upsampled to the input.
``saliency``
    Captum ``Saliency`` (absolute input gradient).
``smoothgrad-sq``
    Captum ``NoiseTunnel`` over ``Saliency``, ``nt_type="smoothgrad_sq"``: the mean of the squared gradient
    over ``nt_samples=20`` copies with Gaussian noise of ``stdevs=0.15`` (15 % of the [0, 1] pixel range, as in
    Hooker et al. 2019).
``vargrad``
    Captum ``NoiseTunnel`` over ``Saliency(abs=False)``, ``nt_type="vargrad"``: the variance of the raw gradient
    over the same noisy copies.
``occlusion``
    Captum ``Occlusion`` with a square window (``window`` pixels, default 1/7 of the shorter side) and the same
    stride; ranked by absolute value.
``random``
    Uniform noise: the baseline every explainer must beat.

Text (``model`` the seeker, an :class:`~hnsx.adapters.text.seekers.HFSeeker` or any module with
``input_embeddings()`` / ``get_input_embeddings()``; ``adapter=`` the model's
:class:`~hnsx.adapters.text.adapter.TextAdapter`, which numbers the units and names the fill token):

``text-hns``
    The keep probability per unit (``model`` is the text :class:`~hnsx.model.HideAndSeek`; no adapter needed).
``text-integrated-gradients``
    Captum ``LayerIntegratedGradients`` on the embedding layer, from the baseline sentence whose words are all the
    fill token (what a hidden word becomes); ranked by absolute value.
``text-saliency``
    The embedding gradient through Captum ``LayerGradientXActivation(multiply_by_inputs=False)``, its absolute
    values summed.
``text-random``
    Uniform noise per unit slot.

Tabular (``model`` the seeker ``(B, F) -> (B, K)``; ``adapter=`` the
:class:`~hnsx.adapters.tabular.adapter.TabularAdapter`, whose fill values are the baselines):

``tabular-hns``
    The keep probability per feature (``model`` is the tabular :class:`~hnsx.model.HideAndSeek`).
``tabular-integrated-gradients``
    Captum ``IntegratedGradients`` from the row of fill values (training means, missing codes); ranked by absolute
    value.
``tabular-feature-ablation``
    Captum ``FeatureAblation``: the drop of the target logit when one feature takes its fill value; ranked by
    absolute value.
``tabular-random``
    Uniform noise per feature.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from hnsx.model import HideAndSeek
from hnsx.registry import Registry

#: Explainer builders: ``builder(model, **options) -> Explainer``.
EXPLAINERS: Registry[Explainer] = Registry("explainer")


def _captum():
    try:
        import captum.attr as attr
    except ImportError:  # pragma: no cover - captum is in the bench extra
        raise ImportError("the benchmarks need Captum: pip install 'hnsx[bench]'") from None
    return attr


class Explainer(ABC):
    """One attribution method around one model (Captum's contract).

    Subclasses implement :meth:`attribute`; :meth:`predict_and_attribute` predicts first by default.
    """

    name: str = ""
    #: Rank units by ``|score|`` (signed methods such as Integrated Gradients, where a large negative score is as
    #: informative as a large positive one); ``False``: by the score itself.
    rank_by_abs: bool = False

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    @abstractmethod
    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """One score per mask unit of ``inputs`` for the classes ``target (B,)`` (shapes: module docstring)."""

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        """Predicted classes ``(B,)`` of the explained model."""
        with torch.inference_mode():
            return self.model(inputs).argmax(1)

    def predict_and_attribute(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted classes ``(B,)`` and the attributions ``(B, 1, H, W)`` for them."""
        target = self.predict(inputs).clone()  # a normal tensor: Captum needs autograd on what it touches
        return target, self.attribute(inputs, target)


def _channel_sum(attributions: torch.Tensor) -> torch.Tensor:
    return attributions.sum(dim=1, keepdim=True).detach()


def last_conv(model: nn.Module) -> nn.Conv2d:
    """The last ``nn.Conv2d`` of ``model`` in registration order (Grad-CAM's usual layer)."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer for Grad-CAM; pass layer=... explicitly")
    return convs[-1]


@EXPLAINERS.register("hns", modality="image")
class HnSExplainer(Explainer):
    """Hide-and-Seek: the hider's keep probability, and prediction and mask in one pass."""

    name = "hns"

    def __init__(self, model: HideAndSeek) -> None:
        if not isinstance(model, HideAndSeek):
            raise TypeError(f"the hns explainer needs a HideAndSeek model, got {type(model).__name__}")
        super().__init__(model)

    def predict(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model.predict(inputs)[0]

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """The keep probability ``(B, 1, H, W)``; the mask does not depend on ``target``."""
        return self.model.explain_scores(inputs)

    def predict_and_attribute(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        classes, _, keep_prob = self.model.predict_explain(inputs)
        return classes, keep_prob


@EXPLAINERS.register("integrated-gradients", modality="image")
class IntegratedGradientsExplainer(Explainer):
    """Captum ``IntegratedGradients`` with a zero baseline, summed over channels."""

    name = "integrated-gradients"
    rank_by_abs = True

    def __init__(self, model: nn.Module, n_steps: int = 50, internal_batch_size: int | None = None) -> None:
        super().__init__(model)
        self.method = _captum().IntegratedGradients(model)
        self.n_steps = n_steps
        self.internal_batch_size = internal_batch_size

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        attributions = self.method.attribute(
            inputs, target=target, n_steps=self.n_steps, internal_batch_size=self.internal_batch_size
        )
        return _channel_sum(attributions)


@EXPLAINERS.register("layer-gradcam", modality="image")
class GradCamExplainer(Explainer):
    """Captum ``LayerGradCam`` on a convolution (default: the last one), upsampled bilinearly to the input."""

    name = "layer-gradcam"

    def __init__(self, model: nn.Module, layer: nn.Module | None = None) -> None:
        super().__init__(model)
        self.method = _captum().LayerGradCam(model, layer if layer is not None else last_conv(model))

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        cam = self.method.attribute(inputs, target=target)
        return _captum().LayerAttribution.interpolate(cam, tuple(inputs.shape[-2:]), "bilinear").detach()


@EXPLAINERS.register("saliency", modality="image")
class SaliencyExplainer(Explainer):
    """Captum ``Saliency``: absolute input gradients, summed over channels."""

    name = "saliency"

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.method = _captum().Saliency(model)

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        inputs = inputs.detach().requires_grad_(True)  # what Captum would do, without its warning
        return _channel_sum(self.method.attribute(inputs, target=target))


class _NoiseTunnelExplainer(Explainer):
    """Captum ``NoiseTunnel`` over ``Saliency`` (``abs`` chooses absolute or raw gradients), summed over channels."""

    nt_type = ""
    abs_gradients = True

    def __init__(
        self,
        model: nn.Module,
        nt_samples: int = 20,
        stdevs: float = 0.15,
        nt_samples_batch_size: int | None = None,
    ) -> None:
        super().__init__(model)
        attr = _captum()
        self.method = attr.NoiseTunnel(attr.Saliency(model))
        self.nt_samples = nt_samples
        self.stdevs = stdevs
        self.nt_samples_batch_size = nt_samples_batch_size

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        attributions = self.method.attribute(
            inputs.detach().requires_grad_(True),
            nt_type=self.nt_type,
            nt_samples=self.nt_samples,
            nt_samples_batch_size=self.nt_samples_batch_size,
            stdevs=self.stdevs,
            target=target,
            abs=self.abs_gradients,
        )
        return _channel_sum(attributions)


@EXPLAINERS.register("smoothgrad-sq", modality="image")
class SmoothGradSquaredExplainer(_NoiseTunnelExplainer):
    """SmoothGrad-squared: the mean squared input gradient over noisy copies (Captum ``NoiseTunnel``)."""

    name = "smoothgrad-sq"
    nt_type = "smoothgrad_sq"


@EXPLAINERS.register("vargrad", modality="image")
class VarGradExplainer(_NoiseTunnelExplainer):
    """VarGrad: the variance of the raw input gradient over noisy copies (Captum ``NoiseTunnel``)."""

    name = "vargrad"
    nt_type = "vargrad"
    abs_gradients = False


@EXPLAINERS.register("occlusion", modality="image")
class OcclusionExplainer(Explainer):
    """Captum ``Occlusion`` with a square ``window`` (default: a seventh of the shorter side) and equal stride."""

    name = "occlusion"
    rank_by_abs = True

    def __init__(self, model: nn.Module, window: int | None = None, perturbations_per_eval: int = 1) -> None:
        super().__init__(model)
        self.method = _captum().Occlusion(model)
        self.window = window
        self.perturbations_per_eval = perturbations_per_eval

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        c, h, w = inputs.shape[1:]
        k = self.window or max(1, min(h, w) // 7)
        attributions = self.method.attribute(
            inputs,
            sliding_window_shapes=(c, k, k),
            strides=(c, k, k),
            target=target,
            perturbations_per_eval=self.perturbations_per_eval,
        )
        return _channel_sum(attributions)


@EXPLAINERS.register("random", modality="image")
class RandomExplainer(Explainer):
    """Uniform random scores from a seeded generator: the floor every explainer must beat."""

    name = "random"

    def __init__(self, model: nn.Module, seed: int = 0) -> None:
        super().__init__(model)
        self.generator = torch.Generator().manual_seed(seed)

    def shape(self, inputs: torch.Tensor) -> tuple[int, ...]:
        """The score shape of ``inputs``: ``(B, 1, H, W)``."""
        b, _, h, w = inputs.shape
        return (b, 1, h, w)

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        return torch.rand(self.shape(inputs), generator=self.generator).to(inputs.device)


# --- text: attributions of the seeker's embedding layer, pooled per word (or token) unit ---


def unit_sum(values: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """Sum of per-token ``values (B, L)`` over the tokens of each unit, as ``(B, L)`` unit slots.

    ``units (B, L)`` is the unit index of every token, -1 for special and padding tokens (their values are dropped);
    slots that hold no unit are 0.
    """
    member = (units >= 0).to(values.dtype)
    return torch.zeros_like(values).scatter_add(1, units.clamp_min(0), values * member)


def embedding_layer(model: nn.Module) -> nn.Module:
    """The token embedding layer of a text classifier (``input_embeddings()`` or ``get_input_embeddings()``)."""
    for attribute in ("input_embeddings", "get_input_embeddings"):
        getter = getattr(model, attribute, None)
        if callable(getter):
            return getter()
    raise ValueError(
        f"{type(model).__name__} has neither input_embeddings() nor get_input_embeddings(); pass layer=... explicitly"
    )


def fill_baseline(x: torch.Tensor, adapter) -> torch.Tensor:
    """``x (B, 2, L)`` with every unit token replaced by the adapter's fill token (special tokens, padding kept)."""
    baseline = x.clone()
    ids = baseline[:, 0]
    baseline[:, 0] = torch.where(adapter.units(x) >= 0, torch.full_like(ids, adapter.fill_id), ids)
    return baseline


class _TextLayerExplainer(Explainer):
    """A Captum layer method on the seeker's embedding layer, summed over the embedding and per unit."""

    def __init__(self, model: nn.Module, adapter, layer: nn.Module | None = None) -> None:
        super().__init__(model)
        self.adapter = adapter
        self.layer = layer if layer is not None else embedding_layer(model)

    def token_scores(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-token scores ``(B, L)``."""
        raise NotImplementedError

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        scores = unit_sum(self.token_scores(inputs, target).detach().float(), self.adapter.units(inputs))
        return scores * self.adapter.valid_units(inputs)


@EXPLAINERS.register("text-integrated-gradients", modality="text")
class TextIntegratedGradientsExplainer(_TextLayerExplainer):
    """Captum ``LayerIntegratedGradients`` on the embeddings, from the all-fill-token sentence."""

    name = "text-integrated-gradients"
    rank_by_abs = True

    def __init__(
        self,
        model: nn.Module,
        adapter,
        layer: nn.Module | None = None,
        n_steps: int = 32,
        internal_batch_size: int | None = None,
    ) -> None:
        super().__init__(model, adapter, layer)
        self.method = _captum().LayerIntegratedGradients(model, self.layer)
        self.n_steps = n_steps
        self.internal_batch_size = internal_batch_size

    def token_scores(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        attributions = self.method.attribute(
            inputs,
            baselines=fill_baseline(inputs, self.adapter),
            target=target,
            n_steps=self.n_steps,
            internal_batch_size=self.internal_batch_size,
        )
        return attributions.sum(-1)


@EXPLAINERS.register("text-saliency", modality="text")
class TextSaliencyExplainer(_TextLayerExplainer):
    """The gradient of the target logit with respect to the token embeddings, absolute values summed."""

    name = "text-saliency"

    def __init__(self, model: nn.Module, adapter, layer: nn.Module | None = None) -> None:
        super().__init__(model, adapter, layer)
        self.method = _captum().LayerGradientXActivation(model, self.layer, multiply_by_inputs=False)

    def token_scores(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.method.attribute(inputs, target=target).abs().sum(-1)


@EXPLAINERS.register("text-hns", modality="text")
class TextHnSExplainer(HnSExplainer):
    """Hide-and-Seek on text: the keep probability per unit slot ``(B, L)``."""

    name = "text-hns"

    def __init__(self, model: HideAndSeek, adapter=None) -> None:
        super().__init__(model)


@EXPLAINERS.register("text-random", modality="text")
class TextRandomExplainer(RandomExplainer):
    """Uniform random scores per unit slot ``(B, L)``."""

    name = "text-random"

    def __init__(self, model: nn.Module, adapter=None, seed: int = 0) -> None:
        super().__init__(model, seed=seed)

    def shape(self, inputs: torch.Tensor) -> tuple[int, ...]:
        return (inputs.shape[0], inputs.shape[-1])


# --- tabular: one score per feature, baselines are the adapter's fill values ---


def _fill_row(adapter, inputs: torch.Tensor) -> torch.Tensor:
    return adapter.fill.to(device=inputs.device, dtype=inputs.dtype).unsqueeze(0)


@EXPLAINERS.register("tabular-integrated-gradients", modality="tabular")
class TabularIntegratedGradientsExplainer(Explainer):
    """Captum ``IntegratedGradients`` from the row of fill values (training means, missing codes)."""

    name = "tabular-integrated-gradients"
    rank_by_abs = True

    def __init__(self, model: nn.Module, adapter, n_steps: int = 50) -> None:
        super().__init__(model)
        self.adapter = adapter
        self.method = _captum().IntegratedGradients(model)
        self.n_steps = n_steps

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        baseline = _fill_row(self.adapter, inputs)
        return self.method.attribute(inputs, baselines=baseline, target=target, n_steps=self.n_steps).detach()


@EXPLAINERS.register("tabular-feature-ablation", modality="tabular")
class TabularFeatureAblationExplainer(Explainer):
    """Captum ``FeatureAblation``: the target logit's drop when one feature takes its fill value."""

    name = "tabular-feature-ablation"
    rank_by_abs = True

    def __init__(self, model: nn.Module, adapter, perturbations_per_eval: int = 1) -> None:
        super().__init__(model)
        self.adapter = adapter
        self.method = _captum().FeatureAblation(model)
        self.perturbations_per_eval = perturbations_per_eval

    def attribute(self, inputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        baseline = _fill_row(self.adapter, inputs)
        with torch.no_grad():
            scores = self.method.attribute(
                inputs, baselines=baseline, target=target, perturbations_per_eval=self.perturbations_per_eval
            )
        return scores.detach()


@EXPLAINERS.register("tabular-hns", modality="tabular")
class TabularHnSExplainer(HnSExplainer):
    """Hide-and-Seek on tables: the keep probability per feature ``(B, F)``."""

    name = "tabular-hns"

    def __init__(self, model: HideAndSeek, adapter=None) -> None:
        super().__init__(model)


@EXPLAINERS.register("tabular-random", modality="tabular")
class TabularRandomExplainer(RandomExplainer):
    """Uniform random scores per feature ``(B, F)``."""

    name = "tabular-random"

    def __init__(self, model: nn.Module, adapter=None, seed: int = 0) -> None:
        super().__init__(model, seed=seed)

    def shape(self, inputs: torch.Tensor) -> tuple[int, ...]:
        return tuple(inputs.shape)


def build_explainer(name: str, model: nn.Module, **options) -> Explainer:
    """Build the explainer ``name`` around ``model`` (a :class:`HideAndSeek` for the ``hns`` entries, else the
    classifier); text and tabular entries take the model's adapter as ``adapter=``."""
    return EXPLAINERS.build(name, model=model, **options)
