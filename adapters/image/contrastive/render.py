"""``hnsx explain --contrast CLASS`` for images: why the classifier said its class and not CLASS, as a figure.

Each figure has three panels: the input, the CDeepEx counterfactual (the closest image the classifier finds as
likely CLASS as its prediction) and the change from the input to it, red where CLASS would add ink and blue where it
would remove some (the thesis's colours), with the sliding windows of largest change outlined. The contrastive
Hide-and-Seek figure (a hider stored by ``hnsx train-contrastive``) is the usual Hide-and-Seek overlay of the pixels
kept for "why A and not B?".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from hnsx.adapters.image.contrastive.cdeepex import CDeepExConfig, ContrastiveExplanation, cdeepex
from hnsx.adapters.image.contrastive.hns import ContrastiveHnS
from hnsx.adapters.image.contrastive.regions import select_windows
from hnsx.adapters.image.explain import overlay_names
from hnsx.contrastive import check_contrast


def save_contrast(path: Path, explanation: ContrastiveExplanation, row: int, image: torch.Tensor, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    change = -explanation.difference[row].sum(0)  # > 0: the probe class adds ink (red); < 0: removes it (blue)
    limit = float(change.abs().max()) or 1.0
    windows = select_windows(explanation.difference[row : row + 1])[0, 0]
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    panels = ((image, "input"), (explanation.counterfactual[row].clamp(0, 1), "counterfactual"))
    for ax, (picture, name) in zip(axes, panels):
        shown = picture.permute(1, 2, 0).squeeze(-1).cpu().numpy()
        ax.imshow(shown, cmap="gray", vmin=0, vmax=1)
        ax.set_title(name)
    axes[2].imshow(image.mean(0).cpu().numpy(), cmap="gray", vmin=0, vmax=1)
    axes[2].imshow(change.cpu().numpy(), cmap="bwr", vmin=-limit, vmax=limit, alpha=0.7)
    if bool(windows.any()):
        axes[2].contour(windows.float().cpu().numpy(), levels=[0.5], colors="lime", linewidths=1)
    axes[2].set_title("red: add, blue: remove")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def explain_contrast_files(
    classifier: nn.Module,
    batch: torch.Tensor,
    target: torch.Tensor,
    paths: Sequence[str | Path],
    out_dir: str | Path,
    contrast: int,
    generator: nn.Module | None = None,
    config: CDeepExConfig | None = None,
) -> list[dict]:
    """Write ``<stem>-contrast-<CLASS>.png`` for each image of ``batch (B, C, H, W)`` (read from ``paths``): why
    ``classifier`` predicts ``target (B,)`` (:func:`check_contrast`) and not ``contrast``."""
    with torch.no_grad():
        probs = classifier(batch).softmax(1)
    explanation = cdeepex(classifier, batch, target, torch.full_like(target, contrast), generator, config)
    with torch.no_grad():
        after = classifier(explanation.counterfactual).softmax(1)
    out = Path(out_dir)
    records = []
    for i, (p, name) in enumerate(zip(paths, overlay_names(paths, f"contrast-{contrast}"))):
        cls = int(target[i])
        title = (
            f"{Path(p).name}: why {cls} ({float(probs[i, cls]):.1%}) and not {contrast}? counterfactual: "
            f"{float(after[i, cls]):.1%} vs {float(after[i, contrast]):.1%}"
        )
        path = save_contrast(out / name, explanation, i, batch[i], title)
        records.append({"image": str(p), "prediction": cls, "contrast": contrast, "overlay": str(path)})
    return records


def explain_hns_files(
    model: ContrastiveHnS,
    batch: torch.Tensor,
    target: torch.Tensor,
    paths: Sequence[str | Path],
    out_dir: str | Path,
    contrast: int,
) -> list[dict]:
    """Write ``<stem>-contrast-hns-<CLASS>.png`` for each image of ``batch (B, C, H, W)``: the pixels ``model``
    keeps for "why ``target (B,)`` and not ``contrast``", and the seeker's margin ``s_target - s_contrast`` on
    them (``records``: ``kept``, ``margin``)."""
    from hnsx.adapters.image.plots import save_overlay

    with torch.no_grad():
        logits, mask = model(batch, target, torch.full_like(target, contrast))
        masked = model.adapter.apply_mask(batch, mask)
    records = []
    for i, (p, name) in enumerate(zip(paths, overlay_names(paths, f"contrast-hns-{contrast}"))):
        cls, kept = int(target[i]), float(mask[i].mean())
        score = float(logits[i, cls] - logits[i, contrast])
        title = f"{Path(p).name}: why {cls} and not {contrast}? kept {kept:.1%}, margin on them {score:+.2f}"
        path = save_overlay(Path(out_dir) / name, batch[i], mask[i], masked[i], title)
        record = {"image": str(p), "prediction": cls, "contrast": contrast, "kept": kept, "margin": score}
        records.append({**record, "overlay": str(path)})
    return records


__all__ = ["check_contrast", "explain_contrast_files", "explain_hns_files", "save_contrast"]
