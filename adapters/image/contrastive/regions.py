"""From a counterfactual to what a person reads: the difference image and the sliding windows of section 3.1.3.

The explanation of CDeepEx is the difference ``I - I_{z_e, z0} = G(z0) - G(z_e)`` (procedure 1): positive where
the input has ink that the probe class would not have (the thesis draws it blue, "remove"), negative where the
probe class would add ink (red). Single pixels are hard to read, so the thesis slides windows of several sizes over
the change and keeps those with the largest average change: :func:`window_scores` gives every pixel the largest
average change of a window that covers it, :func:`select_windows` the ``count`` best windows themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def default_windows(height: int, width: int) -> tuple[int, ...]:
    """Window sides for an image: about 1/7, 1/5 and 1/4 of the shorter side (at least 1 pixel), distinct."""
    side = min(height, width)
    return tuple(sorted({max(1, round(side * f)) for f in (1 / 7, 1 / 5, 1 / 4)}))


def change_magnitude(difference: torch.Tensor) -> torch.Tensor:
    """``|difference|`` summed over channels: ``(B, C, H, W) -> (B, 1, H, W)``."""
    return difference.abs().sum(1, keepdim=True)


def window_means(change: torch.Tensor, size: int) -> torch.Tensor:
    """Mean of ``change (B, 1, H, W)`` over every ``size x size`` window that fits: ``(B, 1, H-size+1, W-size+1)``."""
    return F.avg_pool2d(change, size, stride=1)


def _check_windows(change: torch.Tensor, windows: Sequence[int]) -> tuple[int, ...]:
    sides = tuple(int(s) for s in windows)
    if not sides or min(sides) < 1 or max(sides) > min(change.shape[-2:]):
        raise ValueError(f"window sides must be between 1 and {min(change.shape[-2:])}, got {list(windows)}")
    return sides


def window_scores(difference: torch.Tensor, windows: Sequence[int] | None = None) -> torch.Tensor:
    """Per pixel, the largest average change of a window (of any of the ``windows`` sides) that covers it:
    ``(B, C, H, W) -> (B, 1, H, W)``, non-negative."""
    change = change_magnitude(difference)
    sides = _check_windows(change, default_windows(*change.shape[-2:]) if windows is None else windows)
    best = torch.zeros_like(change)
    for size in sides:
        means = window_means(change, size)
        # a pixel is covered by the windows whose top-left corner lies up to size-1 above and left of it
        covered = F.max_pool2d(F.pad(means, (size - 1, size - 1, size - 1, size - 1), value=0.0), size, stride=1)
        best = torch.maximum(best, covered)
    return best


def select_windows(difference: torch.Tensor, windows: Sequence[int] | None = None, count: int = 3) -> torch.Tensor:
    """The ``count`` windows of largest average change, chosen greedily without overlap, as a mask
    ``(B, 1, H, W)`` (bool): the regions the thesis's figures outline."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    change = change_magnitude(difference)
    sides = _check_windows(change, default_windows(*change.shape[-2:]) if windows is None else windows)
    mask = torch.zeros_like(change, dtype=torch.bool)
    for row in range(change.shape[0]):
        for _ in range(count):
            remaining = change[row : row + 1] * ~mask[row : row + 1]
            best = None
            for size in sides:
                means = window_means(remaining, size)[0, 0]
                value, flat = means.flatten().max(0)
                if best is None or float(value) > best[0]:
                    best = (float(value), size, *divmod(int(flat), means.shape[1]))
            if best is None or best[0] <= 0:
                break
            _, size, top, left = best
            mask[row, :, top : top + size, left : left + size] = True
    return mask


__all__ = ["change_magnitude", "default_windows", "select_windows", "window_means", "window_scores"]
