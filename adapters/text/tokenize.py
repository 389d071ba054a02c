"""Sentences to the text adapter's ``(N, 2, L)`` input, and the tokenizers hnsx uses offline.

:func:`encode_texts` runs a Hugging Face *fast* tokenizer (it needs ``word_ids`` and character offsets) and
returns token ids and word ids in one int64 tensor (layout in :mod:`hnsx.adapters.text.adapter`). Bad input raises
``ValueError``: an empty string, a text of only special tokens; a text longer than ``max_length`` is truncated
with a warning naming how many were.

Offline tokenizers: :func:`train_wordpiece` trains a small BERT-style WordPiece tokenizer with ``tokenizers`` on a
corpus; :func:`~hnsx.adapters.text.seekers.bundled_minilm` holds the BERT tokenizer of the pretrained MiniLM.
A run folder keeps its tokenizer in ``tokenizer/`` (:func:`save_tokenizer`, :func:`find_tokenizer`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hnsx.adapters.text.adapter import PAD, SPECIAL

TOKENIZER_DIR = "tokenizer"
#: A run folder's class names, ``{"class_names": [...]}``, written beside ``tokenizer/``.
CLASSES_FILE = "classes.json"
SPECIAL_TOKENS = {"unk_token": "[UNK]", "pad_token": "[PAD]", "cls_token": "[CLS]", "sep_token": "[SEP]",
                  "mask_token": "[MASK]"}  # fmt: skip


@dataclass
class Encoded:
    """Encoded sentences.

    Attributes
    ----------
    x:
        ``(N, 2, L)`` int64: token ids and word ids (:data:`SPECIAL` / :data:`PAD` for special / padding tokens).
    offsets:
        ``(N, L, 2)`` int64 character span of every token in its text (``(0, 0)`` for special and padding tokens).
    truncated:
        Indices of the texts that were cut to ``max_length``.
    """

    x: torch.Tensor
    offsets: torch.Tensor
    truncated: list[int]


def check_tokenizer(tokenizer: Any) -> None:
    """Raise ``ValueError`` unless ``tokenizer`` is a fast HF tokenizer with a pad token."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"{type(tokenizer).__name__} is not a fast tokenizer; hnsx needs word ids and offsets "
            "(load it with AutoTokenizer.from_pretrained(..., use_fast=True))"
        )
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer has no pad token; set one (e.g. tokenizer.pad_token = tokenizer.eos_token)")


def fill_token_id(tokenizer: Any) -> int:
    """The id whose embedding replaces hidden tokens: the mask token, or the pad token when there is none."""
    return int(tokenizer.mask_token_id if tokenizer.mask_token_id is not None else tokenizer.pad_token_id)


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list; ``ValueError`` for no texts, a non-string or an empty text (naming its index)."""
    texts = list(texts)
    if not texts:
        raise ValueError("no texts to encode")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"text {i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise ValueError(f"text {i} is empty: there is nothing to classify or explain")
    return texts


def word_row(
    special: set[int], word_ids: Sequence[int | None], input_ids: Sequence[int], attention: Sequence[int]
) -> list[int]:
    """The word id of every token of one encoded row: the tokenizer's word id, :data:`SPECIAL` for special tokens
    (ids in ``special``, the tokenizer's ``all_special_ids``, also when typed inside the text) and :data:`PAD` for
    padding."""
    return [
        PAD if not a else SPECIAL if (w is None or int(t) in special) else int(w)
        for w, t, a in zip(word_ids, input_ids, attention)
    ]


def encoded_rows(tokenizer: Any, enc: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token ids, word ids (:func:`word_row`) and character offsets ``(R, L, 2)`` of the padded rows of a
    ``BatchEncoding`` made with ``return_offsets_mapping=True`` (offsets ``(0, 0)`` outside words)."""
    ids = torch.tensor(enc["input_ids"], dtype=torch.int64)
    special = set(tokenizer.all_special_ids)
    rows = [word_row(special, enc.word_ids(i), enc["input_ids"][i], enc["attention_mask"][i]) for i in range(len(ids))]
    words = torch.tensor(rows, dtype=torch.int64).reshape(ids.shape)
    offsets = torch.tensor(enc["offset_mapping"], dtype=torch.int64).reshape(*ids.shape, 2)
    offsets[words < 0] = 0
    return ids, words, offsets


def encode_texts(tokenizer: Any, texts: Sequence[str], max_length: int, *, warn: bool = True) -> Encoded:
    """Tokenize ``texts`` into the ``(N, 2, L)`` layout of the text adapter, padded to ``L = max_length``.

    Raises ``ValueError`` for a non-string or empty text and for a text holding only special tokens (naming the
    index); warns (``UserWarning``) when texts are truncated to ``max_length`` tokens (to explain a long text
    whole, use :func:`hnsx.adapters.text.windows.explain_texts`).
    """
    check_tokenizer(tokenizer)
    texts = check_texts(texts)
    enc = tokenizer(
        texts,
        max_length=max_length,
        truncation=True,
        padding="max_length",
        return_offsets_mapping=True,
        return_overflowing_tokens=False,
    )
    full = tokenizer(texts, truncation=False, add_special_tokens=True)["input_ids"]
    truncated = [i for i, ids in enumerate(full) if len(ids) > max_length]
    if truncated and warn:
        warnings.warn(
            f"{len(truncated)} of {len(texts)} text(s) are longer than max_length={max_length} tokens and were "
            f"truncated (first: text {truncated[0]}): the model sees only their first {max_length} tokens "
            "(hnsx explain reads a long text whole, in windows)",
            UserWarning,
            stacklevel=2,
        )
    ids, words, offsets = encoded_rows(tokenizer, enc)
    only_special = ((words >= 0).sum(1) == 0).nonzero().flatten().tolist()
    if only_special:
        raise ValueError(
            f"text {only_special[0]} ({texts[only_special[0]][:40]!r}) holds only special tokens: nothing to explain"
        )
    return Encoded(x=torch.stack([ids, words], 1), offsets=offsets, truncated=truncated)


def unit_spans(x: torch.Tensor, offsets: torch.Tensor, word_level: bool = True) -> list[list[tuple[int, int]]]:
    """Character span ``(start, end)`` of every unit (word or token) of each sentence.

    ``x``: ``(N, 2, L)``; ``offsets``: ``(N, L, 2)``. Returns one list per sentence, unit ``u`` at index ``u``
    (``(0, 0)`` for a word id with no token, e.g. a special token typed in the text).
    """
    from hnsx.adapters.text.adapter import token_units

    units = token_units(x, word_level)
    spans: list[list[tuple[int, int]]] = []
    for i in range(x.shape[0]):
        row: dict[int, tuple[int, int]] = {}
        for j in (units[i] >= 0).nonzero().flatten().tolist():
            u = int(units[i, j])
            s, e = (int(v) for v in offsets[i, j])
            a, b = row.get(u, (s, e))
            row[u] = (min(a, s), max(b, e))
        count = max(row) + 1 if row else 0
        spans.append([row.get(u, (0, 0)) for u in range(count)])
    return spans


def _run_folders(checkpoint: str | Path) -> tuple[Path, Path, Path]:
    """Where the files saved beside a checkpoint may be: the given folder, its parent, and the run folder that holds
    a checkpoint folder (``RUN/checkpoints/NAME``)."""
    path = Path(checkpoint)
    return path, path.parent, path.parent.parent


def run_class_names(checkpoint: str | Path) -> list[str] | None:
    """The class names saved beside a checkpoint (``classes.json`` where :func:`find_tokenizer` looks for the
    tokenizer), or ``None`` when there are none."""
    import json

    for folder in _run_folders(checkpoint):
        if (folder / CLASSES_FILE).is_file():
            return list(json.loads((folder / CLASSES_FILE).read_text())["class_names"])
    return None


def train_wordpiece(texts: Sequence[str], vocab_size: int = 1000, min_frequency: int = 1) -> Any:
    """Train a lower-casing BERT-style WordPiece tokenizer on ``texts`` (offline, in a second) and return it as a
    ``PreTrainedTokenizerFast`` with [PAD] [UNK] [CLS] [SEP] [MASK] and the ``[CLS] text [SEP]`` template.

    The same texts give the same vocabulary in every process. ``tokenizers``' trainer alone does not promise that
    (huggingface/tokenizers#1794): it numbers the ``##x`` continuation pieces in hash-map order and breaks ties
    between equally frequent merges by those numbers. Here every ``##x`` of the corpus's alphabet is numbered up
    front, in sorted order, and the trained vocabulary is loaded into a fresh WordPiece model, so those pieces end
    up as ordinary vocabulary entries.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    order = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    texts = list(texts)
    continuations = set()
    for text in texts:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            continuations.update(word[1:])
    pieces = ["##" + c for c in sorted(continuations)]

    trained = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    trained.normalizer, trained.pre_tokenizer = normalizer, pre_tokenizer
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=order + pieces
    )
    trained.train_from_iterator(texts, trainer)

    tok = Tokenizer(models.WordPiece(vocab=trained.get_vocab(), unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    tok.add_special_tokens(order)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL_TOKENS)


def load_tokenizer(name_or_path: str | Path) -> Any:
    """``AutoTokenizer.from_pretrained(name_or_path)`` (a local folder works offline)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(name_or_path))


def save_tokenizer(tokenizer: Any, run_dir: str | Path) -> Path:
    """Save ``tokenizer`` into ``run_dir/tokenizer/`` (where ``hnsx explain`` finds it)."""
    target = Path(run_dir) / TOKENIZER_DIR
    tokenizer.save_pretrained(str(target))
    return target


def find_tokenizer(checkpoint: str | Path) -> Any:
    """Load the tokenizer saved beside a checkpoint: ``tokenizer/`` in the given folder, in the checkpoint folder, or
    in the run folder that holds it (``RUN/checkpoints/NAME``). Raises ``ValueError`` when there is none."""
    for folder in _run_folders(checkpoint):
        if (folder / TOKENIZER_DIR).is_dir():
            return load_tokenizer(folder / TOKENIZER_DIR)
    raise ValueError(
        f"no {TOKENIZER_DIR}/ folder beside {Path(checkpoint)}: text runs save their tokenizer in RUN/{TOKENIZER_DIR}/ "
        "(hnsx.adapters.text.tokenize.save_tokenizer)"
    )
