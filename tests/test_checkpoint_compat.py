"""Checkpoints written by hnsx 0.1 (before the modality contract) still load, explain and resume.

The fixtures in ``tests/fixtures/checkpoints-v0.1`` were written by ``hnsx train`` at commit ce1a1a5 (one short run
per modality); ``expected.safetensors`` beside each holds inputs and the outputs that code computed for them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hnsx.cli import main
from hnsx.explain import load_trained

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints-v0.1"
MODALITIES = ("image", "tabular", "text")


@pytest.mark.parametrize("modality", MODALITIES)
def test_an_old_checkpoint_gives_the_same_outputs(modality):
    model = load_trained(FIXTURES / modality)
    expected = load_file(str(FIXTURES / modality / "expected.safetensors"))
    with torch.no_grad():
        out = model(expected["inputs"])
    torch.testing.assert_close(out.logits.float(), expected["logits"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out.keep_prob.float(), expected["keep_prob"], rtol=1e-4, atol=1e-5)
    assert torch.equal(out.mask.float(), expected["mask"])


def test_an_old_text_run_explains_a_sentence(capsys, tmp_path):
    code = main(["explain", "--checkpoint", str(FIXTURES / "text"), "--out", str(tmp_path), "a truly wonderful film"])
    assert code == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "wonderful" in line and "->" in line and "words" in line


def test_an_old_image_run_resumes(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "image", run)
    code = main(["train", "--dataset", "digits", "--epochs", "2", "--pretrain-epochs", "1", "--out", str(run),
                 "--resume", "--no-progress"])  # fmt: skip
    assert code == 0
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2]
    assert json.loads((run / "checkpoints" / "index.json").read_text())["latest"] == "epoch-0002"
