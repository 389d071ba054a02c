"""Contrastive Hide-and-Seek for text (issue 21, thesis 4.4.3): the pair-conditioned word masker over a frozen
classifier, stored in a run and read back by ``hnsx explain --contrast``, and the marker word it must find."""

from __future__ import annotations

import copy

import pytest
import torch

from hnsx.adapters.text.bench import TEXT_CLASS, plant_text
from hnsx.adapters.text.contrastive import load_text_contrastive, train_text_contrastive
from hnsx.benchmarks.common import accuracy, train_seeker
from hnsx.benchmarks.marker_word import mask_figures, random_like
from hnsx.cli import main
from hnsx.contrastive import ContrastiveConfig, save_contrastive_hns
from hnsx.training.checkpoint import CheckpointError

SIZES = (320, 120)


@pytest.fixture(scope="module")
def biased():
    """A tiny generated corpus with the marker in every positive sentence, its classifier and a contrastive hider."""
    torch.set_num_threads(1)
    planted = plant_text(seed=0, sizes=SIZES, max_length=24)
    seeker = train_seeker(planted.data, seed=0, epochs=6, lr=3e-3, batch_size=32)
    config = ContrastiveConfig(target_kept=0.2, epochs=12, lr=3e-3, batch_size=16, seed=0)
    model, history = train_text_contrastive(copy.deepcopy(seeker), planted.data.adapter, planted.data.train, config)
    return planted, seeker, model, history


def test_the_classifier_learns_the_marker(biased):
    planted, seeker, _, _ = biased
    positive = planted.data.test.tensors[1] == TEXT_CLASS
    with torch.no_grad():
        clean = seeker(planted.removed.tensors[0][positive]).argmax(1)
    assert accuracy(seeker, planted.data.test) > 0.9
    assert float((clean == TEXT_CLASS).float().mean()) < 0.5  # without the marker most positives are lost


def test_the_contrastive_hider_keeps_the_marker(biased):
    planted, _, model, _ = biased
    rows = planted.data.test.tensors[0][planted.affected]
    region, valid = planted.region(rows), model.adapter.valid_units(rows) > 0
    a = torch.full((len(rows),), TEXT_CLASS)
    with torch.no_grad():
        mask = model(rows, a, 1 - a)[1] > 0.5
    figures = mask_figures(mask, valid, region)
    assert figures["marker"] >= 0.8, figures
    assert 0.02 <= figures["kept"] <= 0.5, figures
    chance = mask_figures(random_like(mask, valid, torch.Generator().manual_seed(0)), valid, region)
    assert chance["marker"] < figures["marker"] - 0.3, (chance, figures)


def test_text_pair_masks_reload_identically(biased, tmp_path):
    planted, seeker, model, history = biased
    save_contrastive_hns(model, tmp_path / "contrastive", config=ContrastiveConfig(), info={"history": history})
    loaded = load_text_contrastive(tmp_path / "contrastive", model.seeker, model.adapter)
    x = planted.data.test.tensors[0][:16]
    with torch.no_grad():
        for a in (0, 1):
            pair = torch.full((len(x),), a), torch.full((len(x),), 1 - a)
            assert torch.equal(model(x, *pair)[1], loaded(x, *pair)[1])
            assert torch.equal(model.keep_probability(x, *pair), loaded.keep_probability(x, *pair))
    other = copy.deepcopy(seeker)
    with torch.no_grad():
        next(other.parameters()).add_(1.0)
    with pytest.raises(CheckpointError, match="another classifier"):
        load_text_contrastive(tmp_path / "contrastive", other, model.adapter)


def test_cli_train_contrastive_then_explain_contrast_on_a_text_run(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--modality", "text", "--limit", "160", "--epochs", "1", "--pretrain-epochs", "1", "--alpha",
            "0.8", "--init", "pretrained-seeker", "--max-length", "24", "--no-progress", "--out", str(run)]  # fmt: skip
    assert main(argv) == 0
    plain = ["explain", "--checkpoint", str(run), "--out", str(tmp_path / "x"), "a cute ending", "--contrast", "1"]
    capsys.readouterr()
    assert main(plain) == 2
    assert "holds no contrastive hider" in capsys.readouterr().err
    argv = ["train-contrastive", "--checkpoint", str(run), "--epochs", "1", "--limit", "96", "--no-progress"]
    assert main(argv) == 0
    assert "contrastive hider: kept" in capsys.readouterr().out
    assert (run / "contrastive" / "checkpoints").is_dir() and (run / "contrastive" / "metrics.json").is_file()
    assert main(["explain", "--checkpoint", str(run), "--out", str(tmp_path / "p"), "a cute ending"]) == 0
    label = capsys.readouterr().out.split("->")[1].split()[0]  # the class name the run predicts
    contrast = 1 - ["negative", "positive"].index(label)
    other = ["negative", "positive"][contrast]
    out = tmp_path / "explained"
    argv = ["explain", "--checkpoint", str(run), "--out", str(out), "a cute ending", "--contrast", str(contrast)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    why = [line for line in lines if line.startswith(f"why {label} and not {other}: ")]
    assert len(why) == 1 and "words, margin" in why[0], lines
    assert sorted(p.name for p in out.iterdir()) == sorted(["highlights.html", f"highlights-contrast-{contrast}.html"])
    page = (out / f"highlights-contrast-{contrast}.html").read_text()
    assert f"{label}, not {other}" in page and "cute" in page
    refused = [
        (["--contrast", str(1 - contrast)], "already predicts"),
        (["--contrast", "2"], "not a class of this model"),
        (["--contrast", str(contrast), "--generator", str(run)], "CDeepEx"),
        (["--contrast", str(contrast), "--contrast-method", "cdeepex"], "CDeepEx"),
    ]
    for extra, message in refused:
        code = main(["explain", "--checkpoint", str(run), "--out", str(tmp_path / "r"), "a cute ending", *extra])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (extra, err)
    assert not (tmp_path / "r").exists()


def test_the_random_baseline_keeps_as_many_valid_words_as_the_mask():
    valid = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]], dtype=torch.bool)
    mask = torch.tensor([[1, 0, 1, 0, 1, 1], [0, 0, 0, 1, 1, 1]], dtype=torch.bool)  # invalid slots do not count
    for seed in range(5):
        drawn = random_like(mask, valid, torch.Generator().manual_seed(seed))
        assert drawn.sum(1).tolist() == [2, 0] and not (drawn & ~valid).any()
    region = torch.zeros_like(valid)
    region[0, 0] = True
    assert mask_figures(mask, valid, region) == {"marker": 0.5, "kept": 0.25}
