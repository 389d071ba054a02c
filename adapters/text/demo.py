"""``hnsx demo --modality text``: word masks on the generated sentiment corpus, offline, in a few minutes on a CPU.

Settings (see docs/text.md for the figures): 8,000 training and 800 eval sentences of the generated corpus
(:mod:`hnsx.adapters.text.corpus`), a WordPiece tokenizer of 1,000 pieces trained on the training sentences,
sentences padded to 32 tokens, word-level masks; a small BERT seeker (2 layers, 64 wide) trained from scratch and
the token-masker hider (2 layers, 64 wide) reading the seeker's token embeddings (``share_embeddings``). The seeker
is pretrained for 4 epochs; the Fidelity baseline is a copy trained alone for as many epochs as the Hide-and-Seek
seeker gets in total (4 + 12). Then hider and seeker train jointly for 12 epochs towards a kept fraction of 0.2
(:mod:`hnsx.constraint`) with the stochastic binarizer (Bernoulli masks, st1 estimator; masks are thresholded at
p >= 0.5 for evaluation), the hider at a learning rate of 1e-3 and the seeker at 2e-4.

Why these: with the deterministic binarizer the hider lowered every word's logit together and collapsed to hiding
everything within one or two epochs in our trials; Bernoulli masks let the seeker see partly hidden sentences and
give the hider a per-word signal. With 4,000 sentences, the hider's own embeddings or the seeker at the hider's
rate, the joint training settled in one seed or another on a shortcut and kept it (a hider that kept the word at
one position and never the words past it, a negator kept without its sentiment word, or nothing kept as a code for
one class; docs/text.md); these settings were the first to hold on seeds 0, 1 and 2. The figures reported are those
of the best checkpoint (the most faithful epoch among those that keep at most the target and did not collapse, the
one ``hnsx explain`` loads); the last epoch's are kept under ``last``.

Writes ``metrics.json`` (F, I, FIR, FII, accuracy, baseline and rationale precision / recall / F1 against the
known sentiment words), ``history.jsonl``, ``checkpoints/``, ``tokenizer/``, ``classes.json`` and
``highlights.html``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hnsx.adapters.text.data import TextData, generated_data
from hnsx.adapters.text.rationale import explain_encoded, rationale_scores
from hnsx.adapters.text.render import write_highlights
from hnsx.adapters.text.spec import read_seeker, text_spec
from hnsx.adapters.text.tokenize import CLASSES_FILE, fill_token_id, save_tokenizer
from hnsx.adapters.text.windows import explain_texts
from hnsx.model import HideAndSeek
from hnsx.pipeline import METRICS_FILE, RunResult, run_training
from hnsx.training.checkpoint import load_model_state, resolve_checkpoint, write_json_atomic
from hnsx.training.config import TrainConfig

DEMO_EPOCHS = 12
DEMO_TARGET = 0.2
DEMO_SEEKER_LR = 2e-4
DEMO_TRAIN = 8000
DEMO_EVAL = 800
MAX_LENGTH = 32
HIGHLIGHTS = 40
HIGHLIGHTS_FILE = "highlights.html"


def demo_config(epochs: int | None = None, seed: int = 0, progress: bool = True) -> TrainConfig:
    return TrainConfig(
        epochs=DEMO_EPOCHS if epochs is None else epochs,
        batch_size=64,
        lr=1e-3,
        seeker_lr=DEMO_SEEKER_LR,
        target_kept=DEMO_TARGET,
        init="pretrained-seeker",
        pretrain_epochs=4,
        seed=seed,
        progress=progress,
    )


def demo_spec(data: TextData, estimator: str = "st1") -> Any:
    tok = data.tokenizer
    return text_spec(
        data.input_shape[1],
        data.num_classes,
        vocab_size=len(tok),
        pad_id=tok.pad_token_id,
        fill_id=fill_token_id(tok),
        binarizer="stochastic",
        estimator=estimator,
    )


def report(model: HideAndSeek, data: TextData, out_dir: str | Path, limit: int = HIGHLIGHTS) -> dict[str, float]:
    """Rationale scores on the eval split (when known) and ``highlights.html`` of its first ``limit`` sentences.

    The scores and the page's summary are those of the encoded eval split (what the model was evaluated on); each
    row of the page explains its sentence whole, in windows when it is longer than the model's max length
    (:func:`~hnsx.adapters.text.windows.explain_texts`; the known rationale covers the encoded words only).
    """
    x = data.eval.tensors[0]
    labels = data.eval.tensors[1]
    explained = explain_encoded(model, x)
    scores = {}
    if data.eval_rationale is not None:
        scores = rationale_scores(explained.mask, explained.valid, data.eval_rationale)
    names = data.class_names or [str(i) for i in range(data.num_classes)]
    rows = []
    texts = data.eval_texts[:limit]
    for i, e in enumerate(explain_texts(model, data.tokenizer, texts) if texts else []):
        row = {
            "text": e.text,
            "spans": e.spans,
            "keep": [bool(v) for v in e.mask.tolist()],
            "prediction": names[e.prediction],
            "confidence": e.confidence,
            "label": names[int(labels[i])],
        }
        if data.eval_rationale is not None:
            row["gold"] = [bool(v) for v in data.eval_rationale[i, : len(e.spans)].tolist()]
        rows.append(row)
    kept = float(model.adapter.kept_fraction(explained.mask, explained.valid).mean())
    summary = {"accuracy": float((explained.prediction == labels).float().mean()), "kept fraction": kept, **scores}
    write_highlights(Path(out_dir) / HIGHLIGHTS_FILE, rows, title=f"hnsx: kept words on {data.name}", summary=summary)
    return scores


def run_text_demo(
    out_dir: str | Path,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    n_train: int = DEMO_TRAIN,
    n_eval: int = DEMO_EVAL,
) -> dict:
    """Train the text demo model and write its files into ``out_dir``; returns the metrics."""
    out = Path(out_dir)
    data = generated_data(n_train, n_eval, seed=seed, max_length=MAX_LENGTH)
    spec = read_seeker(demo_spec(data), share_embeddings=True, hidden_states=False)
    result = run_training(data, spec, demo_config(epochs, seed, progress), out)
    if not result.fit.is_main_process:
        return result.metrics
    save_tokenizer(data.tokenizer, out)
    write_json_atomic(out / CLASSES_FILE, {"class_names": data.class_names})
    metrics = best_metrics(result, out)
    metrics.update(report(result.model, data, out))
    write_json_atomic(out / METRICS_FILE, metrics)
    return json.loads((out / METRICS_FILE).read_text())


def best_metrics(result: RunResult, out: Path) -> dict[str, Any]:
    """Load the best checkpoint's weights into ``result.model`` and return metrics with its figures on top.

    The best checkpoint is the most faithful epoch among those that keep at most the target and did not collapse
    (:func:`hnsx.constraint.target_rank`; what ``hnsx explain`` loads). Joint training on this corpus can overshoot
    and hide the sentiment words too after many epochs, so the demo reports the best epoch; the last epoch's figures
    stay in the file under ``last``.
    """
    metrics = dict(result.metrics)
    if result.fit.best is None:
        return metrics
    path = resolve_checkpoint(out, "best")
    state = load_model_state(result.model, path)
    last = {k: metrics[k] for k in result.fit.scores.as_dict()}
    metrics.update(result.fit.best.as_dict())
    metrics["last"] = last
    metrics["best_epoch"] = state["epoch"]
    return metrics
