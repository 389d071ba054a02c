"""How similar two attribution maps of one sample are (the sanity checks' measures, :mod:`hnsx.benchmarks.sanity`).

Similarity of two attribution maps ``a`` and ``b`` of one sample (over its valid units):

* Spearman rank correlation of ``|a|`` and ``|b|`` (absolute) and of ``a`` and ``b`` (signed); ties get average
  ranks. A constant map has no ranking: two constant maps count 1, one constant map against a varying one 0.
* SSIM (images only; Wang et al. 2004) of the maps ``|a| / max |a|`` (so in [0, 1], ``data_range = 1``), with an
  11 x 11 Gaussian window of sigma 1.5, ``K1 = 0.01``, ``K2 = 0.03``, averaged over the pixels whose window lies
  inside the map (at least 5 from the border): the figure of scikit-image's ``structural_similarity(...,
  gaussian_weights=True, use_sample_covariance=False, data_range=1)``, which crops the same border.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata
from torch.nn import functional as F


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    denom = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(1) / denom


def spearman(a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor | None = None) -> np.ndarray:
    """Spearman rank correlation per sample of two attribution batches ``(B, *mask_shape)`` -> ``(B,)``.

    Only ``valid`` units count (all when ``None``). Ties get average ranks; a constant map is handled as the module
    docstring says (1 if both maps are constant, else 0).
    """
    if a.shape != b.shape:
        raise ValueError(f"attribution shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
    x = a.detach().flatten(1).double().cpu().numpy()
    y = b.detach().flatten(1).double().cpu().numpy()
    if valid is None:
        rows = [(x, y)]
        index = [np.arange(x.shape[0])]
    else:
        ok = valid.detach().flatten(1).cpu().numpy() > 0
        rows = [(x[i : i + 1, ok[i]], y[i : i + 1, ok[i]]) for i in range(x.shape[0])]
        index = [np.array([i]) for i in range(x.shape[0])]
    out = np.empty(x.shape[0])
    for (u, v), idx in zip(rows, index):
        const_u = np.ptp(u, axis=1) == 0 if u.shape[1] else np.ones(u.shape[0], bool)
        const_v = np.ptp(v, axis=1) == 0 if v.shape[1] else np.ones(v.shape[0], bool)
        rho = _pearson_rows(rankdata(u, axis=1), rankdata(v, axis=1)) if u.shape[1] else np.zeros(u.shape[0])
        out[idx] = np.where(const_u & const_v, 1.0, np.where(const_u | const_v, 0.0, rho))
    return out


def gaussian_window(sigma: float = 1.5, truncate: float = 3.5) -> torch.Tensor:
    """The normalised 1-D Gaussian of SSIM, ``2 * int(truncate * sigma + 0.5) + 1`` taps (11 for the defaults)."""
    radius = int(truncate * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-(t**2) / (2 * sigma**2))
    return w / w.sum()


def ssim(
    a: torch.Tensor,
    b: torch.Tensor,
    data_range: float = 1.0,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> np.ndarray:
    """Mean SSIM per sample of two batches of maps ``(B, H, W)`` or ``(B, 1, H, W)`` -> ``(B,)`` (see the module
    docstring; ``H`` and ``W`` must be at least the window, 11 pixels)."""
    if a.shape != b.shape:
        raise ValueError(f"map shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
    x = a.detach().double().cpu().reshape(a.shape[0], 1, *a.shape[-2:])
    y = b.detach().double().cpu().reshape(b.shape[0], 1, *b.shape[-2:])
    w = gaussian_window(sigma)
    size = w.numel()
    if min(x.shape[-2:]) < size:
        raise ValueError(f"SSIM needs maps of at least {size} x {size} pixels, got {tuple(x.shape[-2:])}")
    kernel = (w[:, None] * w[None, :]).view(1, 1, size, size)

    def blur(z: torch.Tensor) -> torch.Tensor:  # only where the window lies inside the map
        return F.conv2d(z, kernel)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3)).numpy()


def normalise_abs(a: torch.Tensor) -> torch.Tensor:
    """``|a| / max |a|`` per sample (all zeros stay zeros), same shape as ``a``."""
    flat = a.detach().abs().flatten(1)
    top = flat.max(1).values.clamp_min(1e-12)
    return (flat / top[:, None]).view(a.shape)


def similarity(
    original: torch.Tensor, changed: torch.Tensor, valid: torch.Tensor | None = None, image: bool = False
) -> dict[str, np.ndarray]:
    """Per-sample ``spearman_abs``, ``spearman`` (signed) and, for ``image`` maps ``(B, 1, H, W)`` of at least
    11 x 11 pixels, ``ssim``."""
    out = {
        "spearman_abs": spearman(original.abs(), changed.abs(), valid),
        "spearman": spearman(original, changed, valid),
    }
    if image and min(original.shape[-2:]) >= gaussian_window().numel():
        out["ssim"] = ssim(normalise_abs(original), normalise_abs(changed))
    return out


__all__ = ["gaussian_window", "normalise_abs", "similarity", "spearman", "ssim"]
