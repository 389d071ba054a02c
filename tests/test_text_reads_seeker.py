"""A fine-tuned classifier explained as it is: the token-masker that reads the seeker's hidden states
(``read_seeker``, ``--hider-reads-seeker``), a frozen wrapped classifier, and the offline recipe of docs/text.md
(``scripts/finetune_text.py``, then ``hnsx train --freeze-seeker`` and ``hnsx explain``)."""

from __future__ import annotations

import copy
import importlib.util
import json
import random
from pathlib import Path

import pytest
import torch
from torch import nn

from hnsx.adapters.text.adapter import SPECIAL
from hnsx.adapters.text.data import text_data
from hnsx.adapters.text.hiders import TokenMaskerHider, default_read_layer
from hnsx.adapters.text.rationale import explain_encoded, rationale_scores
from hnsx.adapters.text.seekers import HFSeeker
from hnsx.adapters.text.spec import text_spec
from hnsx.adapters.text.tokenize import encode_texts, fill_token_id, train_wordpiece
from hnsx.cli import main
from hnsx.data import make_loaders
from hnsx.explain import load_trained
from hnsx.loss import hns_loss
from hnsx.metrics import accuracy
from hnsx.model import FrozenModule
from hnsx.registry import SEEKERS
from hnsx.spec import build_model
from hnsx.training import TrainConfig, fit
from hnsx.training.checkpoint import load_model_state, resolve_checkpoint, save_checkpoint
from hnsx.training.pretrain import train_classifier
from hnsx.wrap import wrap_classifier

ROOT = Path(__file__).resolve().parents[1]
L = 12
FILLER = [
    "the",
    "a",
    "film",
    "plot",
    "was",
    "it",
    "and",
    "very",
    "quite",
    "so",
    "this",
    "that",
    "show",
    "cast",
    "story",
]
SENTIMENT = {1: ["good", "great", "fine"], 0: ["bad", "awful", "poor"]}
HIDER = {"d_model": 16, "layers": 1, "heads": 2, "ff": 32, "dropout": 0.0}


def corpus(n: int, seed: int) -> tuple[list[str], list[int], list[list[tuple[int, int]]]]:
    """Six words each: five fillers and one sentiment word (the label's only evidence) at a random place."""
    rng = random.Random(seed)
    texts, labels, spans = [], [], []
    for _ in range(n):
        label, words, at = rng.randrange(2), rng.choices(FILLER, k=5), rng.randrange(6)
        words.insert(at, rng.choice(SENTIMENT[label]))
        start = sum(len(w) + 1 for w in words[:at])
        texts.append(" ".join(words))
        labels.append(label)
        spans.append([(start, start + len(words[at]))])
    return texts, labels, spans


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece(corpus(200, 0)[0], vocab_size=60)


def tiny_classifier(vocab_size: int, hidden: int = 16, num_labels: int = 2):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=2 * hidden, max_position_embeddings=64, num_labels=num_labels,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)  # fmt: skip
    return BertForSequenceClassification(config)


def test_the_hider_reads_the_classifiers_last_hidden_states(tokenizer):
    classifier = tiny_classifier(len(tokenizer))
    model, spec = wrap_classifier(classifier, tokenizer=tokenizer, max_length=L, freeze=True, read_seeker=True,
                                  hider_kwargs=HIDER)  # fmt: skip
    assert spec.hider.kwargs["read_seeker"] and spec.hider.kwargs["embedding_dim"] == 16
    x = encode_texts(tokenizer, corpus(4, 1)[0] + ["good"], L).x
    words = x[:, 1]
    hider = model.hider.eval()
    reference = classifier(input_ids=x[:, 0], attention_mask=(words >= -1).long(), output_hidden_states=True)
    with torch.no_grad():
        assert torch.allclose(hider.token_features(x), hider.project(reference.hidden_states[-1]), atol=1e-6)
        logits = hider(x)
    assert logits.shape == (5, L)
    assert (logits[4, 1:] == 0).all() and (logits[:4, 6:] == 0).all()  # one word; six words: no unit past them
    # Checkpoints hold the head only: the classifier's weights are the seeker's, stored once.
    assert not any("bert" in k or "word_embeddings" in k for k in hider.state_dict())
    names = [k for k in model.state_dict() if k.endswith("word_embeddings.weight")]
    assert len(names) == 1 and names[0].startswith("seeker.")


def test_the_hider_reads_a_chosen_layer_of_the_classifier(tokenizer):
    """``read_layer=K``: the hidden states after layer K (0: the embedding layer's output), checked against the
    classifier's own ``output_hidden_states``; a layer the encoder lacks, or a layer without reading, is refused."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)  # fmt: skip
    classifier = BertForSequenceClassification(config).eval()
    x = encode_texts(tokenizer, corpus(3, 4)[0], L).x
    with torch.no_grad():
        states = classifier(input_ids=x[:, 0], attention_mask=(x[:, 1] >= -1).long(), output_hidden_states=True)
    for layer in (0, 1, 2):
        model, spec = wrap_classifier(classifier, tokenizer=tokenizer, max_length=L, freeze=True, read_seeker=True,
                                      read_layer=layer, hider_kwargs=HIDER)  # fmt: skip
        assert spec.hider.kwargs["read_layer"] == layer
        hider = model.hider.eval()
        with torch.no_grad():
            features = hider.token_features(x)
        assert torch.allclose(features, hider.project(states.hidden_states[layer]), atol=1e-6)
    assert not torch.allclose(states.hidden_states[1], states.hidden_states[2])
    # By default: two thirds of the depth, rounded (layer 1 of these 2; 4 of MiniLM's 6), written into the spec.
    _, spec = wrap_classifier(classifier, tokenizer=tokenizer, max_length=L, read_seeker=True, hider_kwargs=HIDER)
    assert spec.hider.kwargs["read_layer"] == 1
    assert [default_read_layer(n) for n in (1, 2, 3, 6, 12)] == [1, 1, 2, 4, 8]
    with pytest.raises(ValueError, match="layers 0 .its embeddings. to 2"):
        wrap_classifier(classifier, tokenizer=tokenizer, max_length=L, read_seeker=True, read_layer=3)
    with pytest.raises(ValueError, match=r"give read_seeker=True \(--hider-reads-seeker\) too"):
        wrap_classifier(classifier, tokenizer=tokenizer, max_length=L, read_layer=1)
    with pytest.raises(ValueError, match=r"give read_seeker=True \(--hider-reads-seeker\) too"):
        TokenMaskerHider(L, len(tokenizer), read_layer=1)  # the hider built directly says the same
    with pytest.raises(ValueError, match="exclude each other"):
        TokenMaskerHider(L, len(tokenizer), share_embeddings=True, read_seeker=True, embedding_dim=16)


def test_a_frozen_classifier_gets_no_gradient_and_is_unchanged_by_fit(tokenizer):
    """wrap_classifier(freeze=True) + fit with the core's defaults (init scratch, pretrain_epochs 2): the classifier is
    never trained, its weights stay as they were, and its own accuracy is the Fidelity baseline."""
    texts, labels, _ = corpus(64, 2)
    data = text_data(texts[:48], labels[:48], texts[48:], labels[48:], tokenizer, L, name="toy")
    classifier = tiny_classifier(len(tokenizer))
    before = copy.deepcopy(classifier.state_dict())
    model, _ = wrap_classifier(classifier, tokenizer=tokenizer, max_length=L, freeze=True, read_seeker=True,
                               binarizer="stochastic", hider_kwargs=HIDER)  # fmt: skip
    x, y = data.train.tensors
    model.train()
    hns_loss(model(x[:16]), y[:16], 0.5, model.binarizer, model.adapter.kept_fraction).loss.backward()
    assert all(p.grad is None and not p.requires_grad for p in classifier.parameters())
    assert float(model.hider.project.weight.grad.abs().sum()) > 0
    hider_before = copy.deepcopy(model.hider.state_dict())
    model.zero_grad(set_to_none=True)
    train, evaluation = make_loaders(data, 16, seed=0)
    result = fit(model, train, evaluation, TrainConfig(epochs=2, lr=1e-2, progress=False))
    for k, v in classifier.state_dict().items():
        assert torch.equal(v, before[k]), f"the frozen classifier's {k} changed"
    assert any(not torch.equal(v, hider_before[k]) for k, v in model.hider.state_dict().items())
    own = HFSeeker(copy.deepcopy(classifier)).eval()
    with torch.no_grad():
        expected = float((own(data.eval.tensors[0]).argmax(1) == data.eval.tensors[1]).float().mean())
    assert result.baseline_accuracy == pytest.approx(expected)


def test_reading_a_classifier_without_an_encoder_is_refused(tokenizer):
    class Plain(nn.Module):  # an embedding and a linear layer: no Hugging Face encoder to read
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.out = nn.Embedding(len(tokenizer), 8), nn.Linear(8, 2)

        def get_input_embeddings(self) -> nn.Embedding:
            return self.embed

        def forward(self, input_ids=None, inputs_embeds=None, attention_mask=None):
            h = self.embed(input_ids) if inputs_embeds is None else inputs_embeds
            return self.out(h.mean(1))

    with pytest.raises(ValueError, match="Plain has no Hugging Face encoder"):
        wrap_classifier(Plain(), tokenizer=tokenizer, max_length=L, freeze=True, read_seeker=True)
    wrap_classifier(Plain(), tokenizer=tokenizer, max_length=L, share_embeddings=True)  # embeddings it has
    with pytest.raises(ValueError, match="exclude each other"):
        wrap_classifier(tiny_classifier(len(tokenizer)), tokenizer=tokenizer, max_length=L, share_embeddings=True,
                        read_seeker=True)  # fmt: skip


def test_checkpoint_round_trip_rebinds_the_seeker(tokenizer, tmp_path):
    spec = text_spec(L, 2, vocab_size=len(tokenizer), pad_id=tokenizer.pad_token_id, fill_id=fill_token_id(tokenizer),
                     hider_kwargs={**HIDER, "read_seeker": True, "embedding_dim": 16},
                     seeker_kwargs={"hidden": 16, "layers": 1, "heads": 2, "intermediate": 32})  # fmt: skip
    torch.manual_seed(0)
    model = build_model(spec).eval()
    assert model.hider._shared[0] is model.seeker
    x = encode_texts(tokenizer, corpus(4, 3)[0], L).x
    with torch.no_grad():
        before, keep = model(x).logits, model.hider(x)
    save_checkpoint(tmp_path / "ck", model.state_dict(), {"spec": spec.to_dict()})
    loaded = load_trained(tmp_path / "ck")
    assert loaded.hider._shared[0] is loaded.seeker
    with torch.no_grad():
        assert torch.allclose(loaded(x).logits, before, atol=1e-6)
        assert torch.allclose(loaded.hider(x), keep, atol=1e-6)


def test_a_hider_reading_a_frozen_seeker_keeps_the_sentiment_word():
    """A tiny BERT trained on six-word sentences, then frozen; the hider reads its states and, at a target of 20 %
    kept, keeps the one word that carries the label far more often than chance (1 in 6)."""
    torch.manual_seed(0)
    train_texts, train_labels, _ = corpus(400, 0)
    eval_texts, eval_labels, spans = corpus(100, 1)
    data = text_data(train_texts, train_labels, eval_texts, eval_labels, None, L, name="toy",
                     eval_rationale_spans=spans, vocab_size=60)  # fmt: skip
    tok = data.tokenizer
    seeker_kwargs = {"hidden": 32, "layers": 1, "heads": 2, "intermediate": 64, "dropout": 0.0}
    spec = text_spec(L, 2, vocab_size=len(tok), pad_id=tok.pad_token_id, fill_id=fill_token_id(tok),
                     binarizer="stochastic", estimator="st1", freeze_seeker=True,
                     hider_kwargs={**HIDER, "d_model": 32, "ff": 64, "read_seeker": True, "embedding_dim": 32},
                     seeker_kwargs=seeker_kwargs)  # fmt: skip
    train, evaluation = make_loaders(data, 32, seed=0)
    seeker = SEEKERS.build("tiny-bert", input_shape=(2, L), num_classes=2, vocab_size=len(tok),
                           pad_id=tok.pad_token_id, **seeker_kwargs)  # fmt: skip
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    seeker = train_classifier(seeker, train, 6, 3e-3, accelerator, progress=False)
    own = accuracy(seeker, evaluation, accelerator)
    assert own >= 0.8
    model = build_model(spec, seeker=FrozenModule(seeker))
    config = TrainConfig(epochs=6, lr=1e-2, init="pretrained-seeker", pretrain_epochs=0, target_kept=0.2,
                         progress=False)  # fmt: skip
    result = fit(model, train, evaluation, config)
    assert result.baseline_accuracy == pytest.approx(own)
    explained = explain_encoded(model, data.eval.tensors[0])
    scores = rationale_scores(explained.mask, explained.valid, data.eval_rationale)
    kept = float((explained.mask * explained.valid).sum() / explained.valid.sum())
    assert 0.05 <= kept <= 0.4
    assert scores["rationale_precision"] >= 2 / 6  # chance: 1 word in 6
    assert result.scores.accuracy >= 0.7


def load_script():
    spec = importlib.util.spec_from_file_location("finetune_text", ROOT / "scripts" / "finetune_text.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_offline_recipe_fine_tune_then_wrap_frozen_then_explain(tmp_path, capsys):
    """docs/text.md's recipe on a tiny BERT folder: scripts/finetune_text.py fine-tunes it with transformers' Trainer
    and saves it; hnsx train --model-name DIR --freeze-seeker wraps it as it is (no pretraining; its weights
    unchanged; its held-out accuracy is the baseline); hnsx explain reads the run."""
    texts, labels, _ = corpus(160, 4)
    data_file = tmp_path / "toy.csv"
    data_file.write_text("text,label\n" + "".join(f"{t},{'pos' if y else 'neg'}\n" for t, y in zip(texts, labels)))
    tok = train_wordpiece(texts, vocab_size=100)
    base = tmp_path / "base"
    tiny_classifier(len(tok), num_labels=3).save_pretrained(base)  # another head: the script replaces it
    tok.save_pretrained(base)
    finetuned = tmp_path / "finetuned"
    script = load_script()
    argv = ["--data-file", str(data_file), "--model-name", str(base), "--max-length", "16", "--epochs", "2"]
    assert script.main([*argv, "--lr", "3e-3", "--out", str(finetuned)]) == 0
    assert "held-out accuracy" in capsys.readouterr().out
    report = json.loads((finetuned / "finetune.json").read_text())
    assert report["train_rows"] == 128 and report["held_out_rows"] == 32 and report["classes"] == ["neg", "pos"]
    from safetensors.torch import load_file

    weights = load_file(finetuned / "model.safetensors")
    run = tmp_path / "run"
    argv = ["train", "--modality", "text", "--data-file", str(data_file), "--model-name", str(finetuned)]
    argv += ["--freeze-seeker", "--hider-reads-seeker", "--max-length", "16", "--epochs", "1", "--batch-size", "16"]
    argv += ["--no-progress", "--seed", "0", "--out", str(run)]
    assert main(argv) == 0
    assert main([*argv, "--resume", "--epochs", "2"]) == 0  # the head resumes; the seeker is read back unchanged
    assert len((run / "history.jsonl").read_text().splitlines()) == 2
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["baseline_accuracy"] == pytest.approx(report["held_out_accuracy"])
    state = json.loads((resolve_checkpoint(run, "last") / "state.json").read_text())
    assert state["config"]["pretrain_epochs"] == 0 and state["spec"]["hider"]["kwargs"]["read_seeker"]
    model = load_trained(run, "last")
    load_model_state(model, resolve_checkpoint(run, "last"))
    seeker = model.seeker.module.model.state_dict()
    assert all(torch.equal(seeker[k], v) for k, v in weights.items() if k in seeker)
    assert sum(k in seeker for k in weights) == len(seeker)
    capsys.readouterr()
    assert main(["explain", "--checkpoint", str(run), "the plot was good", "a bad story"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all("->" in line and "words" in line for line in lines)


def test_word_masking_hides_whole_words_of_training_rows_only():
    """finetune_text.py --mask-words: every piece of a word is hidden together (with hnsx's fill token), special
    tokens never; share 0 hides nothing; held-out rows (no word_ids) are never masked; the rate varies per text."""
    from transformers import DataCollatorWithPadding

    texts, _, _ = corpus(40, 5)
    tok = train_wordpiece(texts, vocab_size=60)  # a small vocabulary: words split into pieces
    script = load_script()
    texts = [*texts, "the films and plots were goodness", "the plot [MASK] was good"]
    rows = script.encode_rows(tok, texts, [0] * len(texts), 32, words=True)
    assert max(rows[-2]["word_ids"].count(w) for w in range(6)) > 1  # words of several pieces
    assert SPECIAL in rows[-1]["word_ids"][1:-1]  # a special token typed in the text: never a word to hide
    fill = fill_token_id(tok)
    pad = DataCollatorWithPadding(tok)
    with pytest.raises(ValueError, match="mask-words"):
        script.WordMasking(pad, fill, 1.5, 0)
    none = script.WordMasking(pad, fill, 0.0, 0)(rows)
    assert "word_ids" not in none and torch.equal(none["input_ids"], pad(encoded_rows(rows))["input_ids"])
    hidden_shares = []
    for seed in range(5):
        batch = script.WordMasking(pad, fill, 1.0, seed)(rows)
        for row, ids in zip(rows, batch["input_ids"].tolist()):
            words, original = row["word_ids"], row["input_ids"]
            hidden = {w for t, w in enumerate(words) if ids[t] == fill and original[t] != fill}
            for t, w in enumerate(words):
                if w < 0:
                    assert ids[t] == original[t]  # special tokens stay
                else:
                    assert (ids[t] == fill) == (w in hidden) or original[t] == fill  # a word hidden whole
                    assert ids[t] in (original[t], fill)
            hidden_shares.append(len(hidden) / (max(words) + 1))
    assert min(hidden_shares) < 0.3 and max(hidden_shares) > 0.7  # a keep rate drawn per text
    assert torch.equal(script.WordMasking(pad, fill, 1.0, 0)(encoded_rows(rows))["input_ids"], none["input_ids"])


def encoded_rows(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "word_ids"} for r in rows]


def test_cli_refuses_two_ways_of_reading_the_seeker(tmp_path, capsys):
    argv = ["train", "--modality", "text", "--share-embeddings", "--hider-reads-seeker", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert "exclude each other" in capsys.readouterr().err


def test_finetune_limit_takes_the_training_rows_of_hnsx_train_limit(tmp_path):
    """scripts/finetune_text.py --limit N fine-tunes on N of the split's training rows (picked by ``limit_rows``,
    as hnsx train --data-file --limit N picks them) and scores every held-out row."""
    from hnsx.adapters.text.data import limit_rows, split_rows

    texts, labels, _ = corpus(60, 4)
    data_file = tmp_path / "toy.csv"
    data_file.write_text("text,label\n" + "".join(f"{t},{'pos' if y else 'neg'}\n" for t, y in zip(texts, labels)))
    tok = train_wordpiece(texts, vocab_size=100)
    base = tmp_path / "base"
    tiny_classifier(len(tok), num_labels=2).save_pretrained(base)
    tok.save_pretrained(base)
    argv = ["--data-file", str(data_file), "--model-name", str(base), "--max-length", "16", "--epochs", "1"]
    assert load_script().main([*argv, "--limit", "20", "--seed", "3", "--out", str(tmp_path / "ft")]) == 0
    report = json.loads((tmp_path / "ft" / "finetune.json").read_text())
    train_idx, eval_idx = split_rows(60, 0.2, 3)
    assert report["train_rows"] == len(limit_rows(train_idx, eval_idx, 20, 3)[0]) == 20
    assert report["held_out_rows"] == len(eval_idx) == 12
