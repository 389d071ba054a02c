"""How often each feature is kept, per group of rows (class, or a generated set's rule)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def keep_rates(masks: np.ndarray, groups: np.ndarray, num_groups: int) -> np.ndarray:
    """``(num_groups, F)`` share of rows of each group that keep each feature (NaN for an empty group).

    ``masks`` ``(N, F)`` bool, ``groups`` ``(N,)`` int in ``[0, num_groups)``.
    """
    masks = np.asarray(masks, dtype=float)
    groups = np.asarray(groups)
    rates = np.full((num_groups, masks.shape[1]), np.nan)
    for g in range(num_groups):
        if (groups == g).any():
            rates[g] = masks[groups == g].mean(0)
    return rates


def save_keep_rates(
    path: str | Path,
    masks: np.ndarray,
    groups: np.ndarray,
    feature_names: Sequence[str],
    group_names: Sequence[str],
    title: str,
) -> Path:
    """Horizontal grouped bars: per feature, the share of each group's rows that keep it.

    ``masks`` ``(N, F)`` bool kept features, ``groups`` ``(N,)`` group index of each row.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = keep_rates(masks, groups, len(group_names))
    f = len(feature_names)
    height = 0.8 / len(group_names)
    fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.28 * f * max(1, len(group_names) / 2)))
    y = np.arange(f)
    for g, name in enumerate(group_names):
        count = int((np.asarray(groups) == g).sum())
        ax.barh(y + (g - (len(group_names) - 1) / 2) * height, rates[g], height, label=f"{name} ({count} rows)")
    ax.set_yticks(y)
    ax.set_yticklabels(feature_names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of rows whose mask keeps the feature")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.08 - 2.0 / (f + 4)), ncol=min(len(group_names), 3), fontsize=8
    )
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
