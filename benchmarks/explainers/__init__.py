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
``gradient-shap``, ``deeplift``
    Captum ``GradientShap`` (20 samples, noise 0.09) and ``DeepLift``, from the zero image
    (:mod:`~hnsx.benchmarks.explainers.reference`); not in the default lists.
``lime``, ``kernel-shap``
    Captum ``Lime`` and ``KernelShap`` over blocks of a seventh of the shorter side (``window=``), hidden blocks
    at 0, 200 samples (:mod:`~hnsx.benchmarks.explainers.surrogate`); not in the default lists.
``cdeepex``
    CDeepEx (contrastive): "why the target and not the probe class?" (``contrast=``, default the most likely other
    class), the constrained latent search of the contrastive-explanation thesis through a ``generator=`` (a VAE of
    ``hnsx train-generator`` or its run folder; without one, in pixel space); scores are the sliding-window average
    of the difference image (:mod:`~hnsx.benchmarks.explainers.cdeepex`).

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
``text-lime``, ``text-kernel-shap``
    Captum ``Lime`` and ``KernelShap`` over the units, a hidden unit's tokens at the fill token; not in the default
    lists.

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
``tabular-gradient-shap``, ``tabular-deeplift``, ``tabular-lime``, ``tabular-kernel-shap``
    Captum ``GradientShap``, ``DeepLift``, ``Lime`` and ``KernelShap`` from the row of fill values; not in the
    default lists.

One file per family: :mod:`~hnsx.benchmarks.explainers.hns`, :mod:`~.integrated_gradients`, :mod:`~.saliency`,
:mod:`~.gradcam`, :mod:`~.perturbation`, :mod:`~.random`, :mod:`~.cdeepex`, :mod:`~.reference`,
:mod:`~.surrogate`; the contract and the registry in :mod:`~.base`. Every builder takes ``adapter=`` (the model's
adapter; image methods ignore it), so that callers build any entry alike.
"""

from __future__ import annotations

from torch import nn

from hnsx.benchmarks.explainers.base import (
    EXPLAINERS,
    Explainer,
    embedding_layer,
    fill_baseline,
    unit_sum,
)
from hnsx.benchmarks.explainers.cdeepex import CDeepExExplainer
from hnsx.benchmarks.explainers.gradcam import GradCamExplainer, last_conv
from hnsx.benchmarks.explainers.hns import HnSExplainer, TabularHnSExplainer, TextHnSExplainer
from hnsx.benchmarks.explainers.integrated_gradients import (
    IntegratedGradientsExplainer,
    TabularIntegratedGradientsExplainer,
    TextIntegratedGradientsExplainer,
)
from hnsx.benchmarks.explainers.perturbation import OcclusionExplainer, TabularFeatureAblationExplainer
from hnsx.benchmarks.explainers.random import RandomExplainer, TabularRandomExplainer, TextRandomExplainer
from hnsx.benchmarks.explainers.reference import (
    DeepLiftExplainer,
    GradientShapExplainer,
    TabularDeepLiftExplainer,
    TabularGradientShapExplainer,
)
from hnsx.benchmarks.explainers.saliency import (
    SaliencyExplainer,
    SmoothGradSquaredExplainer,
    TextSaliencyExplainer,
    VarGradExplainer,
)
from hnsx.benchmarks.explainers.surrogate import (
    KernelShapExplainer,
    LimeExplainer,
    TabularKernelShapExplainer,
    TabularLimeExplainer,
    TextKernelShapExplainer,
    TextLimeExplainer,
)


def build_explainer(name: str, model: nn.Module, **options) -> Explainer:
    """Build the explainer ``name`` around ``model`` (a :class:`~hnsx.model.HideAndSeek` for the ``hns`` entries,
    else the classifier); text and tabular entries need the model's adapter as ``adapter=``."""
    return EXPLAINERS.build(name, model=model, **options)


__all__ = [
    "EXPLAINERS",
    "CDeepExExplainer",
    "DeepLiftExplainer",
    "Explainer",
    "GradCamExplainer",
    "GradientShapExplainer",
    "HnSExplainer",
    "IntegratedGradientsExplainer",
    "KernelShapExplainer",
    "LimeExplainer",
    "OcclusionExplainer",
    "RandomExplainer",
    "SaliencyExplainer",
    "SmoothGradSquaredExplainer",
    "TabularDeepLiftExplainer",
    "TabularFeatureAblationExplainer",
    "TabularGradientShapExplainer",
    "TabularHnSExplainer",
    "TabularIntegratedGradientsExplainer",
    "TabularKernelShapExplainer",
    "TabularLimeExplainer",
    "TabularRandomExplainer",
    "TextHnSExplainer",
    "TextIntegratedGradientsExplainer",
    "TextKernelShapExplainer",
    "TextLimeExplainer",
    "TextRandomExplainer",
    "TextSaliencyExplainer",
    "VarGradExplainer",
    "build_explainer",
    "embedding_layer",
    "fill_baseline",
    "last_conv",
    "unit_sum",
]
