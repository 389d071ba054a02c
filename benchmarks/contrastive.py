"""The contrastive explainers in the benchmarks: what ``cdeepex`` and ``contrastive-hns`` need trained first.

* ``cdeepex`` moves along a generator: :func:`with_generator` trains a VAE on the benchmark's training images
  (seeded; 10 epochs, ``--quick`` 4) and hands it to the explainer, unless the user gave ``generator=``;
* ``contrastive-hns`` is a pair-conditioned hider trained against the same frozen classifier that the post-hoc
  methods explain (:func:`contrastive_hns_explainer`; 5 epochs, ``--quick`` 2), aiming at the kept fraction of
  ``hnsx train-contrastive`` (0.2; a constant alpha of 0.6 hid everything or nearly nothing, by seed and pair).

Both answer "why the true class and not the second most likely one?" on the rows they score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from hnsx.adapters.image.contrastive.hns import DEFAULT_TARGET_KEPT, ContrastiveConfig, train_contrastive_hns
from hnsx.adapters.image.contrastive.vae import GeneratorConfig, train_vae
from hnsx.benchmarks.common import check_explainers, explainer_names
from hnsx.benchmarks.explainers.contrastive_hns import ContrastiveHnSExplainer
from hnsx.benchmarks.hooks import hooks

#: Name of the contrastive Hide-and-Seek column in the benchmark reports.
CONTRASTIVE_HNS = "contrastive-hns"


def contrastive_request(modality: str, explainers: Sequence[str] | None) -> tuple[list[str], bool]:
    """The registry explainers of a benchmark's list (``None``: the modality's default, checked), and whether
    ``contrastive-hns`` is wanted: listed, or by default where the modality's ``CONTRASTIVE`` hook says so."""
    supported = hooks(modality).CONTRASTIVE
    requested = list(explainers) if explainers is not None else explainer_names(modality)
    wanted = CONTRASTIVE_HNS in requested or (explainers is None and supported)
    if wanted and not supported:
        raise ValueError(f"{CONTRASTIVE_HNS} is not available for --modality {modality}")
    return check_explainers(modality, [n for n in requested if n != CONTRASTIVE_HNS]), wanted


def with_generator(
    data, names: list[str], options: Mapping[str, Mapping[str, Any]], *, seed: int, quick: bool
) -> dict[str, dict[str, Any]]:
    """``options`` with a VAE of ``data.train`` as ``cdeepex``'s ``generator`` (when ``cdeepex`` is among
    ``names``, the data are images and no generator was given)."""
    out = {name: dict(value) for name, value in options.items()}
    if "cdeepex" not in names or data.train.tensors[0].ndim != 4 or "generator" in out.get("cdeepex", {}):
        return out
    config = GeneratorConfig(epochs=4 if quick else 10, seed=seed)
    out.setdefault("cdeepex", {})["generator"] = train_vae(data.train, config)[0]
    return out


def contrastive_hns_explainer(data, seeker: nn.Module, *, seed: int, quick: bool) -> ContrastiveHnSExplainer:
    """A pair-conditioned hider trained against a frozen copy of ``seeker`` on ``data.train``, as an explainer."""
    import copy

    config = ContrastiveConfig(target_kept=DEFAULT_TARGET_KEPT, epochs=2 if quick else 5, seed=seed)
    model, _ = train_contrastive_hns(copy.deepcopy(seeker), data.adapter, data.train, data.num_classes, config)
    return ContrastiveHnSExplainer(model)


__all__ = ["CONTRASTIVE_HNS", "contrastive_hns_explainer", "contrastive_request", "with_generator"]
