"""Text end to end: the CLI (train, explain), wrapping a user's HF classifier, and one real training run."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from hnsx.adapters.text.data import generated_data
from hnsx.adapters.text.demo import report
from hnsx.adapters.text.seekers import HFSeeker
from hnsx.adapters.text.spec import text_spec
from hnsx.adapters.text.tokenize import fill_token_id
from hnsx.cli import main
from hnsx.data import make_loaders
from hnsx.loss import hns_loss
from hnsx.model import FrozenModule
from hnsx.spec import build_model
from hnsx.training import TrainConfig, fit
from hnsx.training.checkpoint import load_model_state, resolve_checkpoint
from hnsx.wrap import wrap_classifier

TRAIN_EPOCHS = 6

SMALL = ["--max-length", "32", "--batch-size", "32", "--no-progress", "--seed", "0"]


def test_cli_train_then_explain_marks_kept_words(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--modality", "text", "--limit", "200", "--epochs", "1", "--pretrain-epochs", "1"]
    argv += ["--init", "pretrained-seeker", "--alpha", "0.8", "--out", str(out), *SMALL]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("fidelity", "interpretability", "fir", "fii", "accuracy", "baseline_accuracy", "rationale_f1"):
        assert key in metrics
    assert (out / "tokenizer").is_dir() and (out / "highlights.html").is_file()
    capsys.readouterr()
    assert main(["explain", "--checkpoint", str(out), "the film was not pleasant", "a cute ending"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert " -> " in line and ("negative" in line or "positive" in line) and "words" in line


def test_cli_refuses_image_options_for_text(tmp_path, capsys):
    base = ["train", "--modality", "text", "--out", str(tmp_path / "r"), "--limit", "60", *SMALL]
    assert main([*base, "--init", "both"]) == 2
    assert "text uses --init scratch or pretrained-seeker" in capsys.readouterr().err
    assert main([*base, "--hider", "unet"]) == 2
    assert "not a text hider" in capsys.readouterr().err
    assert main([*base, "--freeze-seeker"]) == 2
    assert "--freeze-seeker needs a pretrained --model-name" in capsys.readouterr().err


def test_cli_names_a_missing_column(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("review,label\n" + "a fine film,1\na sad film,0\n" * 10)
    argv = ["train", "--modality", "text", "--data-file", str(path), "--out", str(tmp_path / "r"), *SMALL]
    assert main(argv) == 2
    assert "no text column 'text'" in capsys.readouterr().err


def _tiny_classifier(vocab_size: int):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, num_labels=2)  # fmt: skip
    return BertForSequenceClassification(config)


@pytest.mark.parametrize("freeze", [True, False])
def test_wrapped_hf_classifier_frozen_or_trainable(freeze):
    data = generated_data(64, 16, max_length=32, vocab_size=300)
    classifier = _tiny_classifier(len(data.tokenizer))
    before = copy.deepcopy(classifier.state_dict())
    model, spec = wrap_classifier(classifier, tokenizer=data.tokenizer, max_length=32, freeze=freeze)
    assert spec.seeker.name == "custom" and spec.modality == "text" and model.num_classes == 2
    assert isinstance(model.seeker, FrozenModule) == freeze
    model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    x, y = data.train.tensors
    for _ in range(2):
        optimizer.zero_grad()
        hns_loss(model(x[:16]), y[:16], 0.5, model.binarizer, model.adapter.kept_fraction).loss.backward()
        optimizer.step()
    changed = any(not torch.equal(before[k], v) for k, v in classifier.state_dict().items())
    assert changed != freeze


def test_training_on_the_generated_corpus_keeps_the_sentiment_words(tmp_path):
    """One real (small) run: the seeker stays accurate while the hider keeps few words, mostly the right ones."""
    torch.manual_seed(0)
    data = generated_data(1500, 300, seed=0, max_length=24, vocab_size=600)
    tok = data.tokenizer
    spec = text_spec(24, 2, vocab_size=len(tok), pad_id=tok.pad_token_id, fill_id=fill_token_id(tok),
                     binarizer="stochastic", estimator="st1")  # fmt: skip
    model = build_model(spec)
    train, evaluation = make_loaders(data, 32, seed=0)
    config = TrainConfig(epochs=TRAIN_EPOCHS, alpha=0.85, init="pretrained-seeker", pretrain_epochs=5,
                         baseline_epochs=5, progress=False)  # fmt: skip
    result = fit(model, train, evaluation, config, out_dir=tmp_path, spec=spec)
    load_model_state(model, resolve_checkpoint(tmp_path, "best"))
    scores = report(model, data, tmp_path)
    best = result.best
    assert best is not None and best.fidelity >= 0.9
    assert best.kept_fraction <= 0.6
    assert scores["rationale_recall"] >= 0.8
    assert (tmp_path / "highlights.html").is_file()
    assert isinstance(model.seeker, HFSeeker)


def test_text_demo_writes_metrics_history_and_highlights(tmp_path):
    from hnsx.adapters.text.demo import run_text_demo

    metrics = run_text_demo(tmp_path, epochs=1, progress=False, n_train=200, n_eval=40)
    for key in ("fidelity", "interpretability", "fir", "fii", "accuracy", "baseline_accuracy", "rationale_precision",
                "rationale_recall", "rationale_f1", "best_epoch"):  # fmt: skip
        assert key in metrics
    assert json.loads((tmp_path / "metrics.json").read_text())["rationale_f1"] == metrics["rationale_f1"]
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
    html = (tmp_path / "highlights.html").read_text()
    assert html.count("<tr>") == 41 and "<mark" in html
