"""scripts/text_demo_recipes.py: the error split of the text demo's runs, on explanations written by hand."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from hnsx.adapters.text.rationale import Explained

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("text_demo_recipes", ROOT / "scripts" / "text_demo_recipes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_error_analysis_splits_errors_by_whether_the_rationale_was_kept():
    # 4 sentences of 4, 4, 3 and 2 words; gold: sentence 0 word 3, sentence 1 words 2-3 (negated), 2 word 1, 3 word 0
    valid = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]]).float()
    gold = torch.tensor([[0, 0, 0, 1], [0, 0, 1, 1], [0, 1, 0, 0], [1, 0, 0, 0]]).float()
    mask = torch.tensor([[0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0], [1, 0, 0, 1]]).float()  # slot 3 of row 3 invalid
    labels = torch.tensor([1, 0, 1, 0])
    prediction = torch.tensor([1, 1, 0, 0])  # sentence 1 wrong (negator kept alone), sentence 2 wrong (gold hidden)
    explained = Explained(mask, valid, mask, prediction, torch.ones(4), torch.zeros(4, 2))
    out = _script().error_analysis(explained, labels, gold)
    assert out["accuracy"] == 0.5
    assert abs(out["kept"] - (1 / 4 + 1 / 4 + 1 / 3 + 1 / 2) / 4) < 1e-6
    # kept valid words 1 + 1 + 1 + 1 = 4, of which gold 1 + 1 + 0 + 1 = 3; gold words 5
    assert abs(out["precision"] - 3 / 4) < 1e-6 and abs(out["recall"] - 3 / 5) < 1e-6
    assert out["errors_rationale_kept"] == 0 and out["errors_rationale_hidden"] == 2
    assert out["negated"] == 1 and out["negated_rationale_hidden"] == 1
    assert [p["rationale"] for p in out["by_position"]] == [1, 1, 1, 2]
    assert [p["rationale_kept"] for p in out["by_position"]] == [1, 0, 1, 1]
    assert [p["other_kept"] for p in out["by_position"]] == [1, 0, 0, 0]
