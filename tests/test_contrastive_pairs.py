"""The scoring of ``python -m hnsx.benchmarks.contrastive_pairs``: contrastive deletion on a linear classifier whose
margin drop is known exactly, and the per-seed summary and its report."""

from __future__ import annotations

import torch
from torch import nn

from hnsx.adapters.image.adapter import ImageAdapter
from hnsx.benchmarks.contrastive_pairs import deletion, report, summarise


class Linear(nn.Module):
    """``s_0 = sum of the top row``, ``s_1 = sum of the bottom row`` of a 1x2x4 image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, 0, 0].sum(1), x[:, 0, 1].sum(1)], 1)


def test_deletion_hides_the_top_ranked_pixels_and_measures_the_margin_drop():
    x = torch.tensor([[[[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 0.5, 9.0]]]])
    scores = torch.tensor([[[[0.0, 0.0, 5.0, 6.0], [0.0, 0.0, 0.0, 0.0]]]])  # ranks the top row's 3 and 4 first
    drop, flip = deletion(Linear(), ImageAdapter((1, 2, 4)), x, scores, 0, 1, fraction=0.25)
    assert drop == 7.0  # 3 + 4 of s_0 hidden
    assert flip == 1.0  # margin 10 - 10.5 -> 3 - 10.5 < 0
    drop, flip = deletion(Linear(), ImageAdapter((1, 2, 4)), x, -scores, 0, 1, fraction=0.125)
    assert flip == 0.0


def test_the_summary_gives_mean_and_spread_over_seeds_and_the_report_lists_every_pair():
    def seed(v: float) -> dict:
        metrics = {f"{k}@{f}": v for k in ("drop", "flip") for f in (0.05, 0.1, 0.2)}
        return {"4/9": {"rows": 3, "scores": {"cdeepex": {**metrics, "boundary": v}, "random": metrics}}}

    summary = summarise([seed(1.0), seed(3.0)])
    assert summary["4/9"]["cdeepex"]["drop@0.1"]["mean"] == 2.0
    assert abs(summary["4/9"]["random"]["flip@0.2"]["std"] - 2**0.5) < 1e-9
    text = report(summary, 2)
    assert "| 4/9 | cdeepex | 2.000 ± 1.414" in text and "boundary 2.000 ± 1.414" in text
