"""Image figures: masks on a grid of images, and one explanation overlay."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def _image(x: torch.Tensor):
    """``(C, H, W)`` tensor to something ``imshow`` draws (2-D gray or HxWx3), scaled to [0, 1]."""
    x = x.detach().float().cpu()
    lo, hi = float(x.min()), float(x.max())
    x = (x - lo) / (hi - lo) if hi > lo else x * 0
    return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).numpy()


def save_mask_grid(
    path: str | Path,
    images: torch.Tensor,
    masks: torch.Tensor,
    masked: torch.Tensor,
    titles: Sequence[str] | None = None,
) -> Path:
    """Three rows per column: input, mask, masked input. ``images``/``masked`` ``(N, C, H, W)``, ``masks``
    ``(N, 1, H, W)``."""
    n = images.shape[0]
    fig, axes = plt.subplots(3, n, figsize=(1.4 * n, 4.6), squeeze=False)
    for i in range(n):
        for row, (tensor, cmap) in enumerate(((images, "gray"), (masks, "gray"), (masked, "gray"))):
            ax = axes[row][i]
            ax.imshow(_image(tensor[i]), cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        if titles:
            axes[0][i].set_title(titles[i], fontsize=7)
    for row, label in enumerate(("input", "mask", "kept")):
        axes[row][0].set_ylabel(label)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_overlay(path: str | Path, image: torch.Tensor, mask: torch.Tensor, masked: torch.Tensor, title: str) -> Path:
    """One explanation: the input, the mask drawn over it in red, and what the seeker sees."""
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8))
    base = _image(image)
    axes[0].imshow(base, cmap="gray")
    axes[0].set_title("input")
    axes[1].imshow(base, cmap="gray")
    axes[1].imshow(mask[0].float().cpu().numpy(), cmap="Reds", alpha=0.45, vmin=0, vmax=1)
    axes[1].set_title("kept (red)")
    axes[2].imshow(_image(masked), cmap="gray")
    axes[2].set_title("seeker input")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
