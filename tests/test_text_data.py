"""Text data: the generated corpus and its rationales, CSV/TSV files, Hugging Face datasets, highlights."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hnsx.adapters.text import corpus
from hnsx.adapters.text import data as text_data
from hnsx.adapters.text.rationale import rationale_scores
from hnsx.adapters.text.render import mark_text, write_highlights
from hnsx.adapters.text.tokenize import encode_texts, train_wordpiece, unit_spans

REPO = Path(__file__).resolve().parents[1]
L = 24
ROWS = [("a fine day", "pos"), ("a sad day", "neg"), ("what a lovely film", "pos"), ("dull and grim", "neg")] * 5


@pytest.fixture(scope="module")
def tokenizer():
    return train_wordpiece([t for t, _ in ROWS] + [s.text for s in corpus.generate_corpus(200)], vocab_size=300)


def test_generated_sentences_carry_the_lexicon_polarity():
    vader = corpus._vader()
    lexicon = vader.SentimentIntensityAnalyzer().lexicon
    corpus.check_fillers()
    sentences = corpus.generate_corpus(400, seed=3)
    assert sum(s.label for s in sentences) == 200  # balanced
    for s in sentences:
        spans = [s.text[a:b] for a, b in s.rationale]
        assert spans[-1] == s.word and s.word in lexicon
        assert (spans[0] in corpus.NEGATORS) == s.negated == (len(spans) == 2)
        assert s.label == int((lexicon[s.word] > 0) != s.negated)
        other = set(s.text.split()) - {s.word, *corpus.NEGATORS}
        assert not (other & set(lexicon)), f"a filler or intensifier is rated: {other & set(lexicon)}"
    assert corpus.generate_corpus(50, seed=1) == corpus.generate_corpus(50, seed=1)


def test_generated_data_marks_the_rationale_words(tokenizer):
    data = text_data.generated_data(60, 40, seed=0, max_length=40, tokenizer=tokenizer)
    assert data.train.tensors[0].shape == (60, 2, 40) and data.input_shape == (2, 40)
    assert data.class_names == ["negative", "positive"]
    x, offsets = data.eval.tensors[0], data.eval_offsets
    spans = unit_spans(x, offsets)
    sentences = corpus.generate_corpus(40, seed=10_000)
    for i, s in enumerate(sentences):
        gold_words = {s.text[a:b] for a, b in spans[i] for u in [spans[i].index((a, b))] if data.eval_rationale[i, u]}
        assert gold_words == {s.text[a:b] for a, b in s.rationale}


def test_rationale_scores_are_micro_averaged():
    gold = torch.tensor([[1.0, 0, 0, 0], [0, 1, 1, 0]])
    valid = torch.tensor([[1.0, 1, 1, 0], [1, 1, 1, 1]])
    mask = torch.tensor([[1.0, 1, 0, 1], [0, 1, 0, 0]])  # slot 3 of row 0 is not a word: not counted
    s = rationale_scores(mask, valid, gold)
    assert s["rationale_precision"] == pytest.approx(2 / 3)
    assert s["rationale_recall"] == pytest.approx(2 / 3)
    assert s["rationale_f1"] == pytest.approx(2 / 3)


def test_csv_and_tsv_files_load_with_named_columns(tokenizer, tmp_path):
    csv_file = tmp_path / "reviews.csv"
    csv_file.write_text("review,stars\n" + "".join(f'"{t}",{lab}\n' for t, lab in ROWS))
    data = text_data.load_text_file(csv_file, tokenizer, L, text_column="review", label_column="stars", seed=0)
    assert data.class_names == ["neg", "pos"] and data.num_classes == 2
    assert len(data.train) + len(data.eval) == len(ROWS) and len(data.eval) == 4
    tsv_file = tmp_path / "reviews.tsv"
    tsv_file.write_text("text\tlabel\n" + "".join(f"{t}\t{int(lab == 'pos')}\n" for t, lab in ROWS))
    data = text_data.load_text_file(tsv_file, tokenizer, L)
    assert data.class_names == ["0", "1"]
    assert set(data.train.tensors[1].tolist()) == {0, 1}


def test_hf_dataset_path_on_a_local_dataset(tokenizer, monkeypatch):
    import datasets

    texts, labels = [t for t, _ in ROWS], [int(lab == "pos") for _, lab in ROWS]
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["negative", "positive"])})  # fmt: skip
    local = datasets.Dataset.from_dict({"sentence": texts, "label": labels}, features=features)
    data = text_data.text_data_from_hf(local, tokenizer, L, text_column="sentence", eval_fraction=0.25, seed=0)
    assert data.class_names == ["negative", "positive"] and len(data.eval) == 5
    splits = datasets.DatasetDict({"train": local, "validation": local.select(range(6))})
    calls = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, config=None: calls.append(path) or splits)
    data = text_data.load_hf_dataset("sst2", tokenizer, L, limit=8)
    assert calls == ["stanfordnlp/sst2"]
    assert len(data.train) == 8 and len(data.eval) >= 1 and data.name == "sst2"


def test_mark_text_and_html_highlights(tmp_path):
    text = "the film was <not> good"
    spans = [(0, 3), (4, 8), (9, 12), (13, 18), (19, 23)]
    keep = [False, False, False, True, True]
    assert mark_text(text, spans, keep) == "the film was [<not>] [good]"
    page = write_highlights(
        tmp_path / "h.html",
        [{"text": text, "spans": spans, "keep": keep, "prediction": "negative", "confidence": 0.9, "label": "negative",
          "gold": [False, False, False, True, True]}],
        summary={"rationale_f1": 1.0},
    )  # fmt: skip
    html = page.read_text()
    assert '<mark class="gold">&lt;not&gt;</mark>' in html and '<span class="hidden">film</span>' in html
    assert "90.0%" in html and "rationale_f1 1.000" in html


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium package is not installed")
def test_highlights_render_in_headless_chromium(tmp_path):
    page = write_highlights(
        tmp_path / "h.html",
        [{"text": "a truly wonderful film", "spans": [(0, 1), (2, 8), (9, 18), (19, 23)],
          "keep": [False, False, True, False], "prediction": "positive", "confidence": 0.97}],
    )  # fmt: skip
    png = tmp_path / "h.png"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "check_highlights.py"), str(page), str(png)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert png.stat().st_size > 1000 and "highlight pixels" in proc.stdout


def test_encode_texts_unit_spans_cover_each_word(tokenizer):
    enc = encode_texts(tokenizer, ["what a lovely film"], L)
    spans = unit_spans(enc.x, enc.offsets)[0]
    assert ["what a lovely film"[a:b] for a, b in spans] == ["what", "a", "lovely", "film"]


def test_wordpiece_training_gives_the_same_vocabulary_every_time():
    """tokenizers' trainer breaks merge ties by hash-map order (huggingface/tokenizers#1794); ours must not."""
    texts = [s.text for s in corpus.generate_corpus(1500, seed=0)]
    vocabularies = {tuple(sorted(train_wordpiece(texts, vocab_size=600).get_vocab().items())) for _ in range(8)}
    assert len(vocabularies) == 1
    tok = train_wordpiece(texts, vocab_size=600)
    assert len(tok) == 600 and tok.all_special_ids == [1, 3, 0, 2, 4]
    ids = tok("the film was unbelievably pleasant")["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "the film was unbelievably pleasant"
