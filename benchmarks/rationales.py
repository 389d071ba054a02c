"""``hnsx bench rationales``: a trained text run's HnS mask against Captum's explainers on a held-out labelled file.

Protocol (issue 19, item 3): the run of ``--checkpoint`` (``hnsx train --modality text``) and its tokenizer; the
reviews of ``--test-file`` encoded with that tokenizer at the run's max length (longer ones truncated, as in
training). Per document, the HnS mask (deterministic, ``p >= 0.5``) keeps ``k`` words; every other method keeps
exactly ``k`` words of that document too: the top ``k`` of Integrated Gradients and saliency (Captum, on the run's
seeker, for the class the seeker predicts on the whole document, ranked by ``|score|``) and ``k`` random words
(:func:`hnsx.benchmarks.ranking.top_counts`, ties in a seeded random order). Each selection is a set of words:

* ``masked_accuracy``: the run's seeker on the kept words only (hidden words filled by the run's adapter), and
  ``relative_accuracy``: that over ``full_accuracy``, the seeker's accuracy on the whole documents;
* ``kept_fraction``: kept words over valid words, averaged over documents (the same for every method);
* ``sufficiency`` (lower is better) and ``comprehensiveness`` (higher is better), ERASER of the set
  (:func:`hnsx.benchmarks.metrics.mask_scores`): ``p(x) - p(kept words)`` and ``p(x) - p(x without them)`` for the
  class predicted on the whole document;
* ``lexicon_precision``: the share of kept words (micro-averaged over all kept words of all documents) whose
  lower-cased string is in VADER's lexicon with ``|valence| >= 1`` (:data:`MIN_VALENCE`);
* ``evaluator_accuracy``: the independent evaluator (the seeker's architecture trained from scratch on random
  masks of ``--data-file``'s rows, :func:`hnsx.training.evaluator.train_evaluator`) on the kept words: the
  label-encoding check (``--evaluator-epochs 0`` skips it).

``--test-limit N`` scores a seeded random subset of ``N`` test rows (labelled files are often sorted by label; the
first rows would hold one class), ``--limit N`` trains the evaluator on such a subset of ``--data-file``.

Outputs in ``--out``: ``results.json``, ``report.md`` and ``highlights.html`` (the HnS mask on the first
:data:`HIGHLIGHTS` documents; ``highlights-<method>.html`` for the others).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from hnsx.benchmarks.common import BenchData, build_explainers, check_explainers
from hnsx.benchmarks.hooks import hooks
from hnsx.benchmarks.leakage import attribute_predicted
from hnsx.benchmarks.metrics import mask_scores
from hnsx.benchmarks.ranking import ranking_scores, top_counts
from hnsx.benchmarks.removal import hns_masks
from hnsx.benchmarks.reports.rationales import format_report
from hnsx.benchmarks.runner import command_line
from hnsx.model import HideAndSeek

#: The modality this benchmark runs on (``hnsx bench`` refuses a run of another one).
MODALITIES = ("text",)
SCOPE = "text runs"
#: Runs on the user's run and files (``--checkpoint``, ``--data-file``).
USER_DATA = True
#: The post-hoc explainers, each keeping as many words per document as the HnS mask.
EXPLAINERS = ("integrated-gradients", "saliency", "random")
BATCH = 64
#: Integrated Gradients' 16 scaled copies of a batch go through the seeker one batch at a time (Captum's
#: ``internal_batch_size``): all at once, a fine-tuned MiniLM at 128 tokens needed 17 GB for its activations.
EXPLAINER_OPTIONS = {"integrated-gradients": {"n_steps": 16, "internal_batch_size": BATCH}}
#: The evaluator's learning rate when the run's seeker is a pretrained Hugging Face classifier (its spec names a
#: ``model_name``: the evaluator then starts from those weights): ``scripts/finetune_text.py``'s, transformers'
#: ``Trainer`` default. At the text benchmark's 1e-3 a fine-tuned MiniLM collapsed to one class.
PRETRAINED_EVALUATOR_LR = 5e-5
#: Lexicon precision counts a kept word when VADER rates it at least this strongly (either sign).
MIN_VALENCE = 1.0
#: Documents shown in each highlights page.
HIGHLIGHTS = 200


def sentiment_lexicon(min_valence: float = MIN_VALENCE) -> frozenset[str]:
    """The words of VADER's lexicon with ``|valence| >= min_valence``."""
    from hnsx.adapters.text.corpus import vader_lexicon

    return frozenset(w for w, v in vader_lexicon().items() if abs(v) >= min_valence)


def unit_words(texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]) -> list[list[str]]:
    """The lower-cased string of every unit of each text (``""`` for a unit without characters)."""
    return [[text[s:e].lower() for s, e in row] for text, row in zip(texts, spans)]


def lexicon_precision(keep: torch.Tensor, words: Sequence[Sequence[str]], lexicon: frozenset[str]) -> float:
    """Share of kept units ``keep (N, U)`` whose word is in ``lexicon``, over all kept units (NaN when none)."""
    kept = hits = 0
    for row, row_words in zip(keep.bool().tolist(), words):
        for u, on in enumerate(row):
            if on:
                kept += 1
                hits += u < len(row_words) and row_words[u] in lexicon
    return hits / kept if kept else float("nan")


# --- the data ---------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class HeldOut:
    """The run's benchmark data (``data.test``: the encoded test file), its texts and the words of every unit."""

    data: BenchData
    texts: list[str]
    words: list[list[str]]
    spans: list[list[tuple[int, int]]]


def _file_rows(args: Any, path: str, class_names: list[str], limit: int | None = None):
    from hnsx.adapters.text.data import read_text_file

    texts, y, names = read_text_file(
        path,
        text_column=args.text_column,
        label_column=args.label_column,
        quoting=True if getattr(args, "tsv_quotes", False) else None,
    )
    unknown = sorted(set(names) - set(class_names))
    if unknown:
        raise ValueError(f"{path} has labels {unknown} that the run does not know (its classes: {class_names})")
    index = torch.tensor([class_names.index(n) for n in names])
    if limit is not None and limit < len(texts):  # a seeded subset: labelled files are often sorted by label
        rows = torch.randperm(len(texts), generator=torch.Generator().manual_seed(0))[:limit].sort().values
        texts, y = [texts[i] for i in rows.tolist()], y[rows]
    return texts, index[y]


def load_held_out(args: Any, model: HideAndSeek, checkpoint: Path) -> HeldOut:
    """The test file (and ``--data-file``, the evaluator's training rows) encoded with the run's tokenizer."""
    from hnsx.adapters.text.bench import bench_data
    from hnsx.adapters.text.data import TextData
    from hnsx.adapters.text.tokenize import encode_texts, find_tokenizer, run_class_names, unit_spans
    from hnsx.spec import ModelSpec
    from hnsx.training.checkpoint import read_state

    tokenizer = find_tokenizer(checkpoint)
    spec = ModelSpec.from_dict(read_state(checkpoint)["spec"])
    names = run_class_names(checkpoint) or [str(c) for c in range(spec.num_classes)]
    adapter = model.adapter
    texts, labels = _file_rows(args, args.test_file, names, args.test_limit)
    test = encode_texts(tokenizer, texts, adapter.max_length)
    train = TensorDataset(test.x[:0], labels[:0])
    if args.data_file is not None:
        train_texts, train_labels = _file_rows(args, args.data_file, names, args.limit)
        train = TensorDataset(encode_texts(tokenizer, train_texts, adapter.max_length, warn=False).x, train_labels)
    source = TextData(
        train=train,
        eval=TensorDataset(test.x, labels),
        num_classes=spec.num_classes,
        input_shape=(2, adapter.max_length),
        name=Path(args.test_file).name,
        class_names=names,
        eval_texts=texts,
        eval_offsets=test.offsets,
        tokenizer=tokenizer,
    )
    data = dataclasses.replace(bench_data(source), spec=spec, adapter=adapter.eval(), trained=model)
    spans = unit_spans(test.x, test.offsets, adapter.word_level)
    return HeldOut(data, texts, unit_words(texts, spans), spans)


# --- scoring ----------------------------------------------------------------------------------------------------------


@torch.no_grad()
def class_probs(classifier: nn.Module, adapter: Any, inputs: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``(B, K)`` class probabilities of ``classifier`` on ``inputs`` with only the units of ``keep (B, U)`` kept
    (the others filled as ``adapter.apply_mask`` fills them: what the run's seeker saw in training)."""
    return classifier(adapter.apply_mask(inputs, keep.float().view(adapter.mask_shape(inputs)))).float().softmax(1)


def score_selection(
    model: HideAndSeek,
    evaluator: nn.Module | None,
    data: BenchData,
    keep: torch.Tensor,
    valid: torch.Tensor,
    words: Sequence[Sequence[str]],
    lexicon: frozenset[str],
    full_accuracy: float,
    targets: torch.Tensor,
    *,
    progress: bool = False,
    desc: str = "scoring",
) -> dict[str, float]:
    """Every figure of one selection ``keep (N, U)`` of ``data.test`` (module docstring); ``targets (N,)``: the class
    the seeker predicts on each whole document (:func:`whole_predictions`)."""
    inputs, labels = data.test.tensors
    adapter = data.adapter

    def prob(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return class_probs(model.seeker, adapter, x, mask)

    correct, judged, parts = 0, 0, []
    for start in tqdm(range(0, len(labels), BATCH), desc=desc, disable=not progress, leave=False):
        x, y = inputs[start : start + BATCH], labels[start : start + BATCH]
        m, ok = keep[start : start + BATCH].float(), valid[start : start + BATCH]
        parts.append(mask_scores(prob, x, m, targets[start : start + BATCH], ok))
        correct += int((prob(x, m).argmax(1) == y).sum())
        if evaluator is not None:
            judged += int((class_probs(evaluator, adapter, x, m).argmax(1) == y).sum())
    n = len(labels)
    merged = {k: float(torch.cat([torch.as_tensor(p[k]) for p in parts]).double().mean()) for k in parts[0]}
    masked = correct / n
    return {
        "masked_accuracy": masked,
        "relative_accuracy": masked / full_accuracy if full_accuracy else float("nan"),
        **merged,
        "lexicon_precision": lexicon_precision(keep, words, lexicon),
        "evaluator_accuracy": judged / n if evaluator is not None else float("nan"),
        "kept_words": float(keep.sum(1).float().mean()),
    }


def whole_predictions(model: HideAndSeek, data: BenchData, valid: torch.Tensor) -> torch.Tensor:
    """``(N,)`` the class the seeker predicts on each whole document of ``data.test`` (every unit kept): the class
    whose probability the ERASER figures of every selection follow."""
    inputs = data.test.tensors[0]
    return torch.cat(
        [
            class_probs(
                model.seeker, data.adapter, inputs[i : i + BATCH], torch.ones_like(valid[i : i + BATCH])
            ).argmax(1)
            for i in range(0, len(inputs), BATCH)
        ]
    )


def selections(
    model: HideAndSeek,
    data: BenchData,
    names: Sequence[str],
    *,
    seed: int = 0,
    progress: bool = False,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """``({method: keep (N, U) bool}, valid (N, U), hns predictions (N,))``: the HnS mask and, per explainer of
    ``names``, its top units of each document, as many as the HnS mask keeps there."""
    inputs = data.test.tensors[0]
    predicted, masks, valid = hns_masks(model, data, inputs, BATCH)
    counts = masks.sum(1)
    chosen = {"hns": masks}
    explainers = build_explainers(data, model.seeker, None, names, options=EXPLAINER_OPTIONS, seed=seed)
    for name, explainer in explainers.items():
        scores = attribute_predicted(explainer, data, inputs, batch_size=BATCH, progress=progress, desc=name)
        chosen[name] = top_counts(ranking_scores(explainer, scores), valid, counts, seed=seed)
    return chosen, valid, predicted


def evaluator_lr(spec: Any) -> float | None:
    """The evaluator's learning rate for a run of ``spec``: :data:`PRETRAINED_EVALUATOR_LR` for a pretrained Hugging
    Face seeker, else ``None`` (the benchmark data's own)."""
    return PRETRAINED_EVALUATOR_LR if spec.seeker.kwargs.get("model_name") else None


def run_rationales(
    model: HideAndSeek,
    held_out: HeldOut,
    *,
    explainers: Sequence[str] = EXPLAINERS,
    evaluator_epochs: int = 0,
    seed: int = 0,
    progress: bool = False,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """All figures of the benchmark (``results``) and the selections ``{method: keep (N, U)}``."""
    from hnsx.training.evaluator import dataset_accuracy, train_evaluator

    start = time.perf_counter()
    data = held_out.data
    model = model.eval()
    full = dataset_accuracy(model.seeker, data.test)
    evaluator = None
    lr = evaluator_lr(data.spec) or data.lr
    if evaluator_epochs:
        if len(data.train) == 0:
            raise ValueError("the evaluator trains on the run's training rows: give --data-file TRAIN_FILE")
        evaluator = train_evaluator(data, seed=seed, epochs=evaluator_epochs, lr=lr, progress=progress)
    chosen, valid, _ = selections(model, data, check_explainers("text", list(explainers)), seed=seed, progress=progress)
    lexicon = sentiment_lexicon()
    targets = whole_predictions(model, data, valid)
    methods = {
        name: score_selection(
            model, evaluator, data, keep, valid, held_out.words, lexicon, full, targets, progress=progress, desc=name
        )
        for name, keep in chosen.items()
    }
    results = {
        "benchmark": "rationales",
        "documents": len(data.test),
        "full_accuracy": full,
        "evaluator_epochs": evaluator_epochs,
        "evaluator_lr": lr,
        "evaluator_accuracy_unmasked": dataset_accuracy(evaluator, data.test) if evaluator is not None else None,
        "valid_words": float(valid.sum(1).float().mean()),
        "min_valence": MIN_VALENCE,
        "explainer_options": EXPLAINER_OPTIONS,
        "methods": methods,
        "seconds": time.perf_counter() - start,
    }
    return results, chosen


# --- outputs ----------------------------------------------------------------------------------------------------------


def write_pages(out: Path, held_out: HeldOut, model: HideAndSeek, chosen: dict[str, torch.Tensor]) -> None:
    """``highlights.html`` (the HnS mask) and ``highlights-<method>.html`` of the first :data:`HIGHLIGHTS` documents,
    each with the seeker's prediction on the kept words."""
    from hnsx.adapters.text.render import write_highlights

    data, n = held_out.data, min(HIGHLIGHTS, len(held_out.texts))
    inputs, labels = (t[:n] for t in data.test.tensors)
    names = data.class_names
    for method, keep in chosen.items():
        probs = class_probs(model.seeker, data.adapter, inputs, keep[:n])
        conf, pred = probs.max(1)
        rows = [
            {
                "text": held_out.texts[i],
                "spans": held_out.spans[i],
                "keep": keep[i, : len(held_out.spans[i])].tolist(),
                "prediction": names[int(pred[i])],
                "confidence": float(conf[i]),
                "label": names[int(labels[i])],
            }
            for i in range(n)
        ]
        name = "highlights.html" if method == "hns" else f"highlights-{method}.html"
        write_highlights(out / name, rows, title=f"hnsx bench rationales: words kept by {method}")


def main(args: Any) -> int:
    """``hnsx bench rationales --checkpoint RUN --test-file FILE [--data-file TRAIN] --out DIR``."""
    from hnsx.explain import load_trained
    from hnsx.training.checkpoint import resolve_checkpoint, write_json_atomic

    if args.checkpoint is None:
        raise ValueError("the rationales benchmark explains a trained text run: give --checkpoint RUN")
    if args.test_file is None:
        raise ValueError("the rationales benchmark needs a held-out labelled file: give --test-file FILE")
    for option in ("seeds", "epochs"):
        if getattr(args, option, None) is not None:
            raise ValueError(f"--{option} does not apply to the rationales benchmark: it scores the one run given")
    epochs = args.evaluator_epochs
    epochs = hooks("text").EVALUATOR_EPOCHS[False] if epochs is None else epochs
    path = resolve_checkpoint(args.checkpoint, args.which)
    model = load_trained(path)
    held_out = load_held_out(args, model, path)
    names = [n.strip() for n in args.explainers.split(",") if n.strip()] if args.explainers else EXPLAINERS
    results, chosen = run_rationales(
        model, held_out, explainers=names, evaluator_epochs=epochs, progress=not args.no_progress
    )
    results.update(checkpoint=str(args.checkpoint), test_file=str(args.test_file), command=command_line(args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "results.json", results)
    report = format_report(results)
    (out / "report.md").write_text(report)
    write_pages(out, held_out, model, chosen)
    print(report)
    print(f"wrote {out / 'results.json'}, {out / 'report.md'} and {out / 'highlights.html'}")
    return 0


__all__ = [
    "EXPLAINERS",
    "HeldOut",
    "MIN_VALENCE",
    "class_probs",
    "format_report",
    "lexicon_precision",
    "load_held_out",
    "main",
    "run_rationales",
    "score_selection",
    "selections",
    "sentiment_lexicon",
    "unit_words",
]
