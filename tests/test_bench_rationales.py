"""``hnsx bench rationales``: a trained text run against Captum's explainers on a held-out labelled file.

One tiny run (a seeded review-like TSV, one joint epoch, seconds) and one benchmark of it, shared by the tests:
every method keeps exactly as many words per document as the HnS mask; lexicon precision against a slow per-word
reference written from the tokenizer's own word spans; the HnS mask's set scores against
:func:`hnsx.benchmarks.metrics.own_seeker_comprehensiveness`; the CLI's one-line errors.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import pytest
import torch

from hnsx.benchmarks import rationales
from hnsx.cli import main
from hnsx.explain import load_trained

REPO = Path(__file__).resolve().parents[1]
WORDS = ["the", "film", "was", "plot", "cast", "long", "story", "ending", "and", "it", "Good", "bad", "nice", "dull"]


def write_reviews(path: Path, n: int, seed: int) -> Path:
    gen = torch.Generator().manual_seed(seed)
    rows = ["review\tstars"]
    for i in range(n):
        picks = [WORDS[int(j)] for j in torch.randint(len(WORDS), (6,), generator=gen)]
        picks.insert(int(torch.randint(6, (1,), generator=gen)), "GREAT!" if i % 2 else "awful,")
        rows.append(f"{' '.join(picks)}\t{i % 2}")
    path.write_text("\n".join(rows) + "\n")
    return path


COLUMNS = ["--text-column", "review", "--label-column", "stars"]


@pytest.fixture(scope="module")
def benched(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rationales")
    train, test = write_reviews(tmp / "train.tsv", 160, 0), write_reviews(tmp / "test.tsv", 48, 1)
    run = tmp / "run"
    argv = ["train", "--modality", "text", "--data-file", str(train), *COLUMNS, "--max-length", "16", "--epochs", "1"]
    argv += ["--pretrain-epochs", "2", "--batch-size", "32", "--no-progress", "--out", str(run)]
    assert main(argv) == 0
    out = tmp / "bench"
    bench = ["bench", "rationales", "--checkpoint", str(run), "--data-file", str(train), "--test-file", str(test)]
    bench += [*COLUMNS, "--evaluator-epochs", "1", "--threads", "1", "--no-progress", "--out", str(out)]
    assert main(bench) == 0
    return {
        "run": run,
        "train": train,
        "test": test,
        "out": out,
        "results": json.loads((out / "results.json").read_text()),
    }


def held_out(benched, test_file=None, test_limit=None):
    args = argparse.Namespace(
        test_file=str(test_file or benched["test"]), data_file=None, text_column="review", label_column="stars",
        tsv_quotes=False, test_limit=test_limit, limit=None,
    )  # fmt: skip
    model = load_trained(benched["run"])
    return model, rationales.load_held_out(args, model, benched["run"] / "checkpoints" / "best")


def test_every_method_keeps_the_hns_count_of_each_document(benched):
    model, data = held_out(benched)
    chosen, valid, _ = rationales.selections(model, data.data, rationales.EXPLAINERS)
    assert set(chosen) == {"hns", *rationales.EXPLAINERS}
    counts = chosen["hns"].sum(1)
    assert counts.sum() > 0 and (counts < valid.sum(1)).any()  # a mask that keeps some words, not all of them
    for name, keep in chosen.items():
        assert torch.equal(keep.sum(1), counts), name
        assert not (keep & ~valid).any(), name  # only words, never padding or special tokens
    methods = benched["results"]["methods"]
    assert {m["kept_fraction"] for m in methods.values()} == {methods["hns"]["kept_fraction"]}


def test_lexicon_precision_matches_a_slow_per_word_reference(benched):
    from transformers import AutoTokenizer
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    lexicon = SentimentIntensityAnalyzer().lexicon
    model, data = held_out(benched)
    tokenizer = AutoTokenizer.from_pretrained(benched["run"] / "tokenizer")
    chosen, _, _ = rationales.selections(model, data.data, rationales.EXPLAINERS)
    for name, keep in chosen.items():
        kept = hits = 0
        for i, text in enumerate(data.texts):
            enc = tokenizer(text, truncation=True, max_length=model.adapter.max_length)
            for word in sorted({w for w in enc.word_ids() if w is not None}):
                if keep[i, word]:
                    start, end = enc.word_to_chars(word)
                    kept += 1
                    hits += abs(lexicon.get(text[start:end].lower(), 0.0)) >= 1.0
        assert kept > 0
        assert benched["results"]["methods"][name]["lexicon_precision"] == pytest.approx(hits / kept), name
    assert 0 < benched["results"]["methods"]["hns"]["lexicon_precision"] <= 1


def test_hns_set_scores_and_accuracy_are_those_of_the_run(benched):
    from hnsx.benchmarks.metrics import own_seeker_comprehensiveness

    model, data = held_out(benched)
    x, y = data.data.test.tensors
    expected = own_seeker_comprehensiveness(model, x)
    hns = benched["results"]["methods"]["hns"]
    for key in ("comprehensiveness", "sufficiency", "kept_fraction"):
        assert hns[key] == pytest.approx(expected[key], abs=1e-5), key
    with torch.no_grad():
        own = float((model(x).logits.argmax(1) == y).float().mean())
        full = float((model.seeker(x).argmax(1) == y).float().mean())
    assert hns["masked_accuracy"] == pytest.approx(own)
    assert benched["results"]["full_accuracy"] == pytest.approx(full)
    assert hns["relative_accuracy"] == pytest.approx(own / full)
    assert all(0.0 <= m["evaluator_accuracy"] <= 1.0 for m in benched["results"]["methods"].values())


def test_test_limit_takes_a_seeded_subset_not_the_first_rows(benched, tmp_path):
    lines = benched["test"].read_text().splitlines()
    ordered = tmp_path / "sorted.tsv"  # every negative review first, as in the review corpora's test files
    ordered.write_text("\n".join([lines[0], *sorted(lines[1:], key=lambda r: r[-1])]) + "\n")
    _, first = held_out(benched, ordered, test_limit=10)
    _, again = held_out(benched, ordered, test_limit=10)
    labels = first.data.test.tensors[1]
    assert len(labels) == 10 and set(labels.tolist()) == {0, 1}
    assert first.texts == again.texts


def test_outputs_name_every_method_and_highlight_kept_words(benched):
    out, results = benched["out"], benched["results"]
    assert results["documents"] == 48 and results["evaluator_epochs"] == 1
    report = (out / "report.md").read_text()
    for name in ("hns", *rationales.EXPLAINERS):
        assert f"| {name} |" in report
        page = out / ("highlights.html" if name == "hns" else f"highlights-{name}.html")
        assert page.read_text().count("<tr>") == 49  # the header row and one per document
    assert "<mark>" in (out / "highlights.html").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--test-file", "{test}", "--label-column", "label"], "has no label column 'label'"),
        (["--test-file", "{test}", "--data-file", "{train}", "--text-column", "text"], "has no text column 'text'"),
        ([], "give --test-file FILE"),
        (["--test-file", "{test}", "--evaluator-epochs", "2"], "give --data-file TRAIN_FILE"),
        (["--test-file", "{test}", "--test-limit", "0"], "--test-limit must be at least 1"),
        (["--test-file", "{test}", "--seeds", "2"], "--seeds does not apply to the rationales benchmark"),
    ],
)
def test_cli_refuses_bad_input_in_one_line(benched, tmp_path, capsys, extra, message):
    extra = [a.format(test=benched["test"], train=benched["train"]) for a in extra]
    argv = ["bench", "rationales", "--checkpoint", str(benched["run"]), *COLUMNS, *extra, "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_cli_refuses_a_non_text_run_and_the_test_file_elsewhere(benched, tmp_path, capsys):
    image_run = REPO / "tests" / "fixtures" / "run-ce1a1a5"
    argv = ["bench", "rationales", "--checkpoint", str(image_run), "--test-file", str(benched["test"])]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    assert "supports --modality text" in capsys.readouterr().err
    argv = ["bench", "faithfulness", "--test-file", str(benched["test"]), "--out", str(tmp_path / "b")]
    assert main(argv) == 2
    assert "--test-file applies to the rationales benchmark only" in capsys.readouterr().err


def test_the_evaluator_of_a_pretrained_seeker_trains_at_a_transformer_rate(benched):
    """A seeker from scratch: the benchmark's own rate (recorded); a pretrained Hugging Face seeker (a spec naming a
    ``model_name``, from which the evaluator starts): :data:`rationales.PRETRAINED_EVALUATOR_LR`."""
    from dataclasses import replace

    from hnsx.spec import Component

    model, held = held_out(benched)
    spec = held.data.spec
    assert "model_name" not in spec.seeker.kwargs and rationales.evaluator_lr(spec) is None
    assert benched["results"]["evaluator_lr"] == held.data.lr == 1e-3
    pretrained = replace(spec, seeker=Component("hf-sequence-classifier", {"model_name": "runs/my-minilm"}))
    assert rationales.evaluator_lr(pretrained) == rationales.PRETRAINED_EVALUATOR_LR == 5e-5


def test_a_figure_not_measured_is_a_dash_in_the_report(benched):
    from hnsx.benchmarks.reports.rationales import format_report

    results = copy.deepcopy(benched["results"])
    for figures in results["methods"].values():
        figures["evaluator_accuracy"] = float("nan")  # as with --evaluator-epochs 0
    report = format_report({**results, "evaluator_accuracy_unmasked": None})
    assert "nan" not in report and report.count(" – |") == len(results["methods"])
    assert "(skipped)." in report
