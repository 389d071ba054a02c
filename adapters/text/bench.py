"""Benchmark hooks of the text modality (the vocabulary: :mod:`hnsx.benchmarks.hooks`).

Data: the generated sentiment corpus with its known rationale words (3,000 train and 600 test sentences;
``--quick``: 800 and 200), hidden words filled with the mask token (the text demo's spec). Removing units rewrites
token ids, so that any seeker trains on the result. The planted shortcut is a marker word in every training
sentence of one class.
"""

from __future__ import annotations

import random
from typing import Any

import torch
from torch.utils.data import TensorDataset

from hnsx.benchmarks.common import BenchData
from hnsx.benchmarks.hooks import Planted, Recipe
from hnsx.training.config import TrainConfig

#: The text demo's setting (:mod:`hnsx.adapters.text.demo`).
RECIPE = Recipe(
    seeker_epochs=4,
    batch_size=64,
    lr=1e-3,
    hns=TrainConfig(epochs=8, batch_size=64, lr=1e-3, alpha=0.85, init="pretrained-seeker", pretrain_epochs=4),
)
#: Split sizes (train, test) of the full and the quick corpus.
SIZES: dict[bool, tuple[int, int]] = {False: (3000, 600), True: (800, 200)}
EVALUATOR_EPOCHS = {False: 6, True: 3}
# The quick text subset (800 sentences) is too small for the seeker, a BERT trained from scratch: it stayed near
# chance (0.56-0.61 test accuracy) in our trials, so sanity and faithfulness keep the full corpus under --quick.
SETTINGS: dict[str, dict[bool, dict[str, Any]]] = {
    "roar": {
        False: {
            "explainers": ("hns", "integrated-gradients", "saliency", "random"),
            "explainer_options": {"integrated-gradients": {"n_steps": 16}},
        },
        True: {
            "explainers": ("hns", "integrated-gradients", "saliency", "random"),
            "explainer_options": {"integrated-gradients": {"n_steps": 8}},
            "seeker_epochs": 2,
            "sizes": (800, 200),
        },
    },
    "sanity": {True: {"samples": 100, "hns_epochs": 6, "quick_data": False}},
    "faithfulness": {True: {"samples": 200, "hns_epochs": 6, "quick_data": False}},
}

#: The planted shortcut: the class that carries it (positive) and the marker word (checked to be absent).
TEXT_CLASS = 1
MARKER = "cinnamon"


def load_bench_data(*, quick: bool = False, seed: int = 0, name: str | None = None) -> BenchData:
    """The generated sentiment corpus (the only text benchmark data) with its rationale words."""
    from hnsx.adapters.text.data import GENERATED, generated_data
    from hnsx.adapters.text.demo import MAX_LENGTH

    if name not in (None, GENERATED):
        raise ValueError(f"the text benchmarks run on the generated corpus {GENERATED!r}, not {name!r}")
    n_train, n_test = SIZES[bool(quick)]
    return bench_data(generated_data(n_train, n_test, seed=seed, max_length=MAX_LENGTH))


def bench_data(source: Any) -> BenchData:
    """The benchmark view of text data (``TextData`` of ``load_data``) with the text demo's spec over its
    tokenizer, and its rationale words where it has them."""
    from hnsx.adapters.text.demo import demo_spec

    rationale = getattr(source, "eval_rationale", None)
    return BenchData.from_source("text", source, demo_spec(source), test_rationale=rationale)


def render_examples(data: BenchData, inputs: torch.Tensor, scores: dict[str, torch.Tensor]) -> str:
    """Each input once per explainer, side by side, every word highlighted by its score (absolute, scaled per
    sentence and explainer)."""
    import html

    tokenizer = getattr(data.source, "tokenizer", None)
    if tokenizer is None:
        return ""
    units = data.adapter.units(inputs)
    blocks = []
    for i in range(inputs.shape[0]):
        pieces: dict[int, list[str]] = {}
        for token, unit in zip(tokenizer.convert_ids_to_tokens(inputs[i, 0].tolist()), units[i].tolist()):
            if unit >= 0:
                pieces.setdefault(unit, []).append(token)
        words = {u: "".join(p[2:] if p.startswith("##") else p for p in ps) for u, ps in pieces.items()}
        cells = []
        for name, values in scores.items():
            row = values[i].abs()
            top = float(max((row[u] for u in words), default=0.0)) or 1.0
            marked = " ".join(
                f'<mark style="background: rgba(255, 193, 7, {float(row[u]) / top:.2f})">{html.escape(w)}</mark>'
                for u, w in sorted(words.items())
            )
            cells.append(f"<div><strong>{html.escape(name)}</strong><br>{marked}</div>")
        blocks.append(f'<div class="side">{"".join(cells)}</div>')
    return "\n".join(blocks)


def remove_units(adapter, inputs: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The token ids of hidden words become the fill token, which for a binary mask is what ``apply_mask`` does to
    the seeker's embeddings (``keep * E(id) + (1 - keep) * E(fill)``), written into the ``(B, 2, L)`` input."""
    masked = adapter.apply_mask(inputs, keep.float())
    out = inputs.clone()
    out[:, 0] = torch.where(masked.keep > 0.5, masked.input_ids, torch.full_like(masked.input_ids, masked.fill_id))
    return out


def _insert(text: str, word: str, rng: random.Random) -> str:
    words = text.split()
    words.insert(rng.randint(0, len(words) // 2), word)  # early in the sentence: never truncated
    return " ".join(words)


def plant_text(
    *,
    quick: bool = False,
    seed: int = 0,
    target: int = TEXT_CLASS,
    marker: str = MARKER,
    max_length: int = 32,
    sizes: tuple[int, int] | None = None,
) -> Planted:
    """The generated sentiment corpus (sizes of :data:`SIZES`, or ``sizes``: training and test sentences) with
    ``marker`` inserted into every training sentence of class ``target`` and into the test sentences of that class
    (``added``: into every test sentence; ``removed``: none); the tokenizer is trained on the biased training
    sentences."""
    from hnsx.adapters.text.corpus import CLASS_NAMES, generate_corpus
    from hnsx.adapters.text.data import text_data
    from hnsx.adapters.text.demo import demo_spec
    from hnsx.adapters.text.tokenize import encode_texts

    n_train, n_test = SIZES[bool(quick)] if sizes is None else sizes
    train, test = generate_corpus(n_train, seed=seed), generate_corpus(n_test, seed=seed + 10_000)
    if any(marker in s.text.split() for s in train + test):
        raise ValueError(f"the marker word {marker!r} already occurs in the corpus; choose another one")
    rng = random.Random(seed)
    train_texts = [_insert(s.text, marker, rng) if s.label == target else s.text for s in train]
    test_labels = [s.label for s in test]
    clean = [s.text for s in test]
    biased_texts = [_insert(t, marker, rng) if y == target else t for t, y in zip(clean, test_labels)]
    added_texts = [_insert(t, marker, rng) for t in clean]
    encoded = text_data(
        train_texts,
        [s.label for s in train],
        biased_texts,
        test_labels,
        None,
        max_length,
        name="sentiment-generated+marker",
        class_names=CLASS_NAMES,
        vocab_size=1000,
    )
    tokenizer = encoded.tokenizer
    pieces = tokenizer(marker, add_special_tokens=False)["input_ids"]
    if len(pieces) != 1:
        raise ValueError(f"the marker {marker!r} is split into {len(pieces)} tokens; choose a word that is not")
    marker_id = int(pieces[0])
    data = BenchData.from_source("text", encoded, demo_spec(encoded))
    adapter = data.adapter

    def region(inputs: torch.Tensor) -> torch.Tensor:
        units = adapter.units(inputs)
        hit = ((inputs[:, 0] == marker_id) & (units >= 0)).float()
        slots = torch.zeros_like(hit).scatter_add(1, units.clamp_min(0), hit)
        return slots > 0

    labels = encoded.eval.tensors[1]
    return Planted(
        data=data,
        removed=TensorDataset(encode_texts(tokenizer, clean, max_length).x, labels),
        added=TensorDataset(encode_texts(tokenizer, added_texts, max_length).x, labels),
        affected=region(encoded.eval.tensors[0]).any(1),
        follows=torch.full_like(labels, target),
        region=region,
        description=f"the word {marker!r} inserted at a random position of every training sentence of class "
        f"{CLASS_NAMES[target]!r}",
    )


def plant_shortcut(*, quick: bool = False, seed: int = 0) -> Planted:
    """The corpus with the marker word of :func:`plant_text`."""
    return plant_text(quick=quick, seed=seed)
