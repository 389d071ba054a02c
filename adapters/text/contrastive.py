"""Contrastive Hide-and-Seek for text: the words a frozen classifier needs to tell class A from class B.

:class:`PairTokenMasker` is the token-masker hider (:class:`~hnsx.adapters.text.hiders.TokenMaskerHider`) with a
learned embedding of the pair ``(a, b)`` added to every token's input (one table of ``2K`` rows: ``a`` and ``K + b``),
so one hider answers every pair; its own token embeddings, no dropout. The objective, the training loop against the
run's frozen classifier and the run-folder storage are those of :mod:`hnsx.contrastive`: ``softplus(s_b - s_a)``
plus the target kept fraction over the sentence's words.

It trains through Bernoulli masks with the REINFORCE estimator (``stochastic``, ``reinforce``) instead of the image
hider's deterministic ``st1``: a small BERT trained on the marker corpus is saturated (margin about +-6), so the
local gradient of the margin with respect to a hidden marker's keep value is about 0.003 and the kept fraction's
pull hid every word, marker included (kept the marker in 10-30 % of marker sentences after 20 epochs in our
trials, with ``st1`` through either binarizer); the score-function estimate reads the loss of masks that happen to
keep it. Masks at evaluation are thresholded (``p >= 0.5``) as for every hider, so the stored hider is read back
with the default binarizer.

``hnsx train-contrastive --checkpoint RUN`` trains one for a text run on its data (the generated corpus unless the
run recorded another data set) and ``hnsx explain --checkpoint RUN "a sentence" --contrast CLASS`` prints the kept
words (:func:`explain_contrast`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset

from hnsx import contrastive
from hnsx.adapters.text.adapter import pool_to_units, token_units
from hnsx.adapters.text.hiders import TokenMaskerHider
from hnsx.binarizers import build_binarizer
from hnsx.contrastive import ContrastiveConfig, ContrastiveHnS


class PairTokenMasker(TokenMaskerHider):
    """Word (or token) keep logits ``(B, L)`` of sentences ``(B, 2, L)`` for class pairs ``a, b (B,)``."""

    def __init__(self, max_length: int, vocab_size: int, num_classes: int, word_level: bool = True, width: int = 32):
        if width % 4:
            raise ValueError(f"the text pair hider's width must be a multiple of its 4 heads, got {width}")
        super().__init__(max_length, vocab_size, word_level, d_model=width, ff=2 * width, dropout=0.0)
        self.max_length, self.vocab_size, self.num_classes, self.width = max_length, vocab_size, num_classes, width
        self.pair = nn.Embedding(2 * num_classes, width)

    def forward(self, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        context = self.pair(a) + self.pair(b + self.num_classes)
        return pool_to_units(self.token_logits(x, context), token_units(x, self.word_level))

    def description(self) -> dict[str, Any]:
        """The constructor arguments, stored with the weights."""
        return {"max_length": self.max_length, "vocab_size": self.vocab_size, "num_classes": self.num_classes,
                "word_level": self.word_level, "width": self.width}  # fmt: skip


def build_pair_hider(description: dict[str, Any]) -> PairTokenMasker:
    """The :class:`PairTokenMasker` of a stored description."""
    d = description
    return PairTokenMasker(int(d["max_length"]), int(d["vocab_size"]), int(d["num_classes"]), bool(d["word_level"]),
                           int(d["width"]))  # fmt: skip


def train_text_contrastive(
    seeker: nn.Module, adapter, train: TensorDataset, config: ContrastiveConfig | None = None, *, progress: bool = False
) -> tuple[ContrastiveHnS, list[dict[str, float]]]:
    """A :class:`PairTokenMasker` trained against the frozen ``seeker`` (its classes read from its answer to one
    sentence) on the sentences of ``train`` through REINFORCE Bernoulli masks
    (:func:`hnsx.contrastive.train_pair_hider`)."""
    config = config or ContrastiveConfig()
    with torch.no_grad():
        num_classes = int(seeker(train.tensors[0][:1]).shape[1])
    torch.manual_seed(config.seed)
    hider = PairTokenMasker(adapter.max_length, adapter.vocab_size, num_classes, adapter.word_level, config.width)
    binarizer = build_binarizer("stochastic", "reinforce")
    return contrastive.train_pair_hider(
        hider, seeker, adapter, train, num_classes, config, binarizer=binarizer, progress=progress
    )


def load_text_contrastive(path: str | os.PathLike, seeker: nn.Module, adapter) -> ContrastiveHnS:
    """The text :class:`ContrastiveHnS` stored in ``path`` around ``seeker`` (evaluation mode)."""
    return contrastive.load_contrastive_hns(path, seeker, adapter, build_pair_hider)


@dataclass
class ContrastRow:
    """One sentence's answer to "why ``a`` and not ``b``": the kept units ``keep`` (bool per unit) with their
    character ``spans`` and the classifier's margin ``s_a - s_b`` on the kept words alone."""

    text: str
    spans: list[tuple[int, int]]
    keep: list[bool]
    a: int
    b: int
    margin: float


def explain_contrast(model: ContrastiveHnS, tokenizer: Any, texts: Sequence[str], contrast: int) -> list[ContrastRow]:
    """The words kept for "why the classifier's class and not ``contrast``" of each text (truncated to the model's
    max length); ``ValueError`` for a class out of range or one the classifier already predicts."""
    from hnsx.adapters.text.tokenize import encode_texts, unit_spans

    adapter = model.adapter
    encoded = encode_texts(tokenizer, list(texts), adapter.max_length)
    x = encoded.x
    a = contrastive.check_contrast(model.seeker, x, [repr(t) for t in texts], contrast)
    b = torch.full_like(a, contrast)
    with torch.no_grad():
        logits, mask = model(x, a, b)
    margin = logits.gather(1, a[:, None]) - logits.gather(1, b[:, None])
    spans = unit_spans(x, encoded.offsets, adapter.word_level)
    return [
        ContrastRow(
            text, spans[i], [bool(v) for v in mask[i, : len(spans[i])].tolist()], int(a[i]), contrast, float(margin[i])
        )  # fmt: skip
        for i, text in enumerate(texts)
    ]


__all__ = [
    "ContrastRow",
    "PairTokenMasker",
    "build_pair_hider",
    "explain_contrast",
    "load_text_contrastive",
    "train_text_contrastive",
]
