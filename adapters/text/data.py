"""Text classification data for Hide-and-Seek: the generated corpus, local CSV/TSV files, Hugging Face ``datasets``.

Every loader returns a :class:`TextData`: train and eval ``TensorDataset(x, y)`` with ``x`` the ``(N, 2, L)``
int64 encoding of :func:`~hnsx.adapters.text.tokenize.encode_texts` and ``y`` int64 labels ``(N,)``, plus the eval
texts and their token offsets (to render highlights) and, for the generated corpus, the known rationale of every eval
sentence as a ``(M, L)`` unit mask. It has the fields :func:`hnsx.pipeline.run_training` needs (``train``, ``eval``,
``num_classes``, ``input_shape``, ``name``).

* :func:`generated_data` (name ``"sentiment-generated"``): :mod:`hnsx.adapters.text.corpus`, offline;
* :func:`load_text_file`: a local ``.csv`` / ``.tsv`` with a text and a label column;
* :func:`load_hf_dataset`: a Hugging Face data set by name (``"sst2"``, ``"imdb"``, or any hub name), downloaded
  by ``datasets`` on first use; :func:`text_data_from_hf` does the same on a ``datasets.Dataset`` you already have.

Labels may be integers (``num_classes = max + 1``, or the ``ClassLabel``'s count) or strings (classes sorted by
name); a local file's classes are the labels it holds (:func:`present_classes`). A missing column, an empty text
or a negative label raises ``ValueError``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import TensorDataset

from hnsx.adapters.text.tokenize import encode_texts, unit_spans
from hnsx.data import check_limit, eval_share, limit_subset

GENERATED = "sentiment-generated"
#: Hub names and columns of the data sets known by a short name: (path, config, text, label, train, eval split).
HF_PRESETS: dict[str, tuple[str, str | None, str, str, str, str]] = {
    "sst2": ("stanfordnlp/sst2", None, "sentence", "label", "train", "validation"),
    "imdb": ("stanfordnlp/imdb", None, "text", "label", "train", "test"),
}


@dataclass
class TextData:
    """A text classification data set, encoded for one tokenizer and ``max_length``.

    Attributes
    ----------
    train, eval:
        ``TensorDataset(x (N, 2, L) int64, y (N,) int64)``.
    num_classes, input_shape, name, class_names:
        As for images; ``input_shape == (2, L)``.
    eval_texts:
        The eval sentences (after truncation they may hold more words than the encoding).
    eval_offsets:
        ``(M, L, 2)`` character span of every eval token.
    eval_rationale:
        ``(M, L)`` float, 1 for the units (words, or tokens with ``word_level=False``) that carry the label; ``None``
        when unknown (real data).
    tokenizer:
        The tokenizer the data is encoded with.
    """

    train: TensorDataset
    eval: TensorDataset
    num_classes: int
    input_shape: tuple[int, int]
    name: str
    class_names: list[str] = field(default_factory=list)
    eval_texts: list[str] = field(default_factory=list)
    eval_offsets: torch.Tensor | None = None
    eval_rationale: torch.Tensor | None = None
    tokenizer: Any = None


def encode_labels(values: Sequence[Any], class_names: Sequence[str] | None = None) -> tuple[torch.Tensor, list[str]]:
    """Labels as int64 ``(N,)`` and the class names. Integers stay as they are; strings are numbered by sorted name
    (or by ``class_names`` when given). Raises ``ValueError`` on a negative or missing label."""
    values = list(values)
    if all(isinstance(v, (int,)) and not isinstance(v, bool) for v in values) or all(
        isinstance(v, str) and v.strip().lstrip("-").isdigit() for v in values
    ):
        ints = [int(v) for v in values]
        if ints and min(ints) < 0:
            raise ValueError(f"labels must be class indices >= 0; found {min(ints)}")
        names = list(class_names) if class_names else [str(i) for i in range(max(ints) + 1 if ints else 0)]
        return torch.tensor(ints, dtype=torch.int64), names
    missing = [i for i, v in enumerate(values) if v is None or (isinstance(v, str) and not v.strip())]
    if missing:
        raise ValueError(f"{len(missing)} row(s) have no label (first: row {missing[0]})")
    names = list(class_names) if class_names else sorted({str(v).strip() for v in values})
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted({str(v).strip() for v in values} - set(index))
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among the classes {names}")
    return torch.tensor([index[str(v).strip()] for v in values], dtype=torch.int64), names


def check_label_range(data: TextData, num_classes: int) -> None:
    """Raise ``ValueError`` if a label of ``data`` lies outside ``[0, num_classes)`` (the classifier's outputs)."""
    for split in ("train", "eval"):
        labels = getattr(data, split).tensors[1]
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
            raise ValueError(
                f"the {split} labels run from {int(labels.min())} to {int(labels.max())}, but the classifier has "
                f"{num_classes} outputs: labels must lie in [0, {num_classes})"
            )


def rationale_units(
    x: torch.Tensor, offsets: torch.Tensor, spans: Sequence[Sequence[tuple[int, int]]], word_level: bool = True
) -> torch.Tensor:
    """``(N, L)`` float: 1 for units whose characters overlap one of the sentence's rationale ``spans``."""
    out = torch.zeros(x.shape[0], x.shape[2])
    for i, units in enumerate(unit_spans(x, offsets, word_level)):
        for u, (s, e) in enumerate(units):
            if e > s and any(s < b and a < e for a, b in spans[i]):
                out[i, u] = 1.0
    return out


def text_data(
    train_texts: Sequence[str],
    train_labels: Sequence[Any],
    eval_texts: Sequence[str],
    eval_labels: Sequence[Any],
    tokenizer: Any,
    max_length: int,
    *,
    name: str,
    class_names: Sequence[str] | None = None,
    eval_rationale_spans: Sequence[Sequence[tuple[int, int]]] | None = None,
    word_level: bool = True,
    vocab_size: int = 8000,
) -> TextData:
    """Encode train and eval texts with ``tokenizer`` into a :class:`TextData`.

    ``tokenizer=None`` trains a WordPiece tokenizer of ``vocab_size`` pieces on the training texts
    (:func:`~hnsx.adapters.text.tokenize.train_wordpiece`)."""
    if tokenizer is None:
        from hnsx.adapters.text.tokenize import train_wordpiece

        tokenizer = train_wordpiece(list(train_texts), vocab_size=vocab_size)
    y_train, names = encode_labels(train_labels, class_names)
    y_eval, _ = encode_labels(eval_labels, names if not all(n.isdigit() for n in names) else None)
    if len(train_texts) != len(y_train) or len(eval_texts) != len(y_eval):
        raise ValueError("there must be one label per text")
    num_classes = max(len(names), int(y_train.max()) + 1, int(y_eval.max()) + 1)
    if num_classes < 2:
        raise ValueError(f"a classification data set needs at least 2 classes, found {num_classes}")
    names = names if len(names) == num_classes else [str(i) for i in range(num_classes)]
    train = encode_texts(tokenizer, train_texts, max_length)
    evaluation = encode_texts(tokenizer, eval_texts, max_length)
    rationale = None
    if eval_rationale_spans is not None:
        rationale = rationale_units(evaluation.x, evaluation.offsets, eval_rationale_spans, word_level)
    return TextData(
        train=TensorDataset(train.x, y_train),
        eval=TensorDataset(evaluation.x, y_eval),
        num_classes=num_classes,
        input_shape=(2, int(max_length)),
        name=name,
        class_names=names,
        eval_texts=list(eval_texts),
        eval_offsets=evaluation.offsets,
        eval_rationale=rationale,
        tokenizer=tokenizer,
    )


def generated_data(
    n_train: int = 3000,
    n_eval: int = 600,
    *,
    seed: int = 0,
    max_length: int = 32,
    tokenizer: Any = None,
    vocab_size: int = 1000,
    word_level: bool = True,
) -> TextData:
    """The generated sentiment corpus (:mod:`hnsx.adapters.text.corpus`), with known rationales on the eval split.

    ``tokenizer=None`` trains a WordPiece tokenizer of ``vocab_size`` on the training sentences (rarer words are
    split into pieces, so word-level masks matter).
    """
    from hnsx.adapters.text.corpus import CLASS_NAMES, generate_corpus

    train = generate_corpus(n_train, seed=seed)
    evaluation = generate_corpus(n_eval, seed=seed + 10_000)
    return text_data(
        [s.text for s in train],
        [s.label for s in train],
        [s.text for s in evaluation],
        [s.label for s in evaluation],
        tokenizer,
        max_length,
        name=GENERATED,
        class_names=CLASS_NAMES,
        eval_rationale_spans=[s.rationale for s in evaluation],
        word_level=word_level,
        vocab_size=vocab_size,
    )


def split_rows(n: int, eval_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """The seeded train and eval row indices of ``n`` rows (each sorted): the split of :func:`load_text_file`, so
    that a classifier fine-tuned outside hnsx can hold out exactly the rows ``hnsx train --data-file`` evaluates on
    (``scripts/finetune_text.py``)."""
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must lie strictly between 0 and 1, got {eval_fraction}")
    if n < 2:
        raise ValueError(f"need at least 2 rows to split into train and eval, got {n}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    cut = min(n - 1, max(1, round(n * eval_fraction)))
    return sorted(order[cut:]), sorted(order[:cut])


def limit_rows(train_idx: list[int], eval_idx: list[int], limit: int, seed: int) -> tuple[list[int], list[int]]:
    """A seeded subset of ``limit`` of the training rows ``train_idx`` and the same share of ``eval_idx``
    (:func:`hnsx.data.limit_subset`), each sorted."""
    keep_train, keep_eval = limit_subset(len(train_idx), len(eval_idx), limit, seed)
    return [train_idx[i] for i in keep_train.tolist()], [eval_idx[i] for i in keep_eval.tolist()]


def _check_columns(available: Sequence[str], text_column: str, label_column: str, source: str) -> None:
    for kind, column in (("text", text_column), ("label", label_column)):
        if column not in available:
            raise ValueError(
                f"{source} has no {kind} column {column!r}; its columns are: {', '.join(map(str, available))} "
                f"(choose with --{kind}-column)"
            )


def read_text_file(
    path: str | Path, *, text_column: str = "text", label_column: str = "label", quoting: bool | None = None
) -> tuple[list[str], torch.Tensor, list[str]]:
    """The texts, class indices ``(N,)`` and class names of a local CSV or TSV file, checked as
    :func:`load_text_file` describes."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    tsv = path.suffix.lower() in (".tsv", ".tab")
    quoted = (not tsv) if quoting is None else quoting
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(
                fh, delimiter="\t" if tsv else ",", quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
            )
            header = next(reader, None)
            if not header:
                raise ValueError(f"{path} is empty: it needs a header row naming its columns")
            _check_columns(header, text_column, label_column, str(path))
            rows = [(reader.line_num, row) for row in reader if row]
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    except csv.Error as err:
        raise ValueError(f"{path} is not a readable {'TSV' if tsv else 'CSV'} file: {err}") from None
    for line, row in rows:
        if len(row) != len(header):
            hint = (
                " (quote texts that contain commas, or use a .tsv file)" if len(row) > len(header) and not tsv else ""
            )
            fields = f"{len(row)} field" + ("s" if len(row) != 1 else "")
            raise ValueError(f"{path} line {line} has {fields}, its header {len(header)}{hint}")
    t, lab = header.index(text_column), header.index(label_column)
    texts = [row[t] for _, row in rows]
    labels = [row[lab] for _, row in rows]
    empty = [i for i, text in enumerate(texts) if not text.strip()]
    if empty:
        raise ValueError(f"{path}: {len(empty)} row(s) have an empty {text_column!r} (first: data row {empty[0] + 1})")
    y, names = present_classes(*encode_labels(labels), source=str(path))
    return texts, y, names


def load_text_file(
    path: str | Path,
    tokenizer: Any,
    max_length: int,
    *,
    text_column: str = "text",
    label_column: str = "label",
    eval_fraction: float = 0.2,
    seed: int = 0,
    word_level: bool = True,
    vocab_size: int = 8000,
    quoting: bool | None = None,
    limit: int | None = None,
) -> TextData:
    """A local CSV (``,``) or TSV (``.tsv``: tab) file with a header row, split into train and eval by ``seed``
    (:func:`split_rows`). ``limit`` keeps a seeded subset of that many training rows and a proportional subset of
    the eval rows, taken after the split (so the eval rows stay those a classifier fine-tuned on the whole split held
    out).

    A CSV is read with CSV quotes (a text holding commas must be quoted); a TSV as plain tab-separated lines, where a
    quote is an ordinary character (``csv.QUOTE_NONE``), unless ``quoting=True``. A row with more fields than the
    header is refused (an unquoted comma would cut its sentence into "labels"), and so is a row with fewer. A UTF-8
    byte order mark (an Excel export) is dropped. The labels present become the classes, in order (integers by
    value, names sorted): labels 1 and 5 make 2 classes named "1" and "5"; a single class is refused.

    ``tokenizer=None`` trains a WordPiece tokenizer on the training texts."""
    texts, y, names = read_text_file(path, text_column=text_column, label_column=label_column, quoting=quoting)
    train_idx, eval_idx = split_rows(len(texts), eval_fraction, seed)
    if limit is not None:
        train_idx, eval_idx = limit_rows(train_idx, eval_idx, limit, seed)
    return text_data(
        [texts[i] for i in train_idx],
        y[train_idx].tolist(),
        [texts[i] for i in eval_idx],
        y[eval_idx].tolist(),
        tokenizer,
        max_length,
        name=Path(path).name,
        class_names=names,
        word_level=word_level,
        vocab_size=vocab_size,
    )


def present_classes(y: torch.Tensor, names: Sequence[str], source: str) -> tuple[torch.Tensor, list[str]]:
    """Renumber labels ``y`` to the classes that occur in them (their names kept); at least 2 must occur."""
    present = sorted(set(y.tolist()))
    if len(present) < 2:
        only = names[present[0]] if present else "none"
        raise ValueError(f"{source}: every row has the label {only!r}; a classifier needs at least 2 classes")
    lookup = torch.full((max(present) + 1,), -1, dtype=torch.int64)
    lookup[present] = torch.arange(len(present))
    return lookup[y], [names[i] for i in present]


def text_data_from_hf(
    dataset: Any,
    tokenizer: Any,
    max_length: int,
    *,
    text_column: str = "text",
    label_column: str = "label",
    train_split: str = "train",
    eval_split: str | None = None,
    eval_fraction: float = 0.2,
    limit: int | None = None,
    seed: int = 0,
    name: str = "hf-dataset",
    word_level: bool = True,
    vocab_size: int = 8000,
) -> TextData:
    """A :class:`TextData` from a ``datasets.Dataset`` (split by ``eval_fraction``) or ``DatasetDict`` (its
    ``train_split`` and ``eval_split``). ``limit`` keeps a seeded subset of that many training rows (and a
    proportional eval subset)."""
    import datasets

    if isinstance(dataset, datasets.DatasetDict):
        if train_split not in dataset:
            raise ValueError(f"the data set has no split {train_split!r}; splits: {', '.join(dataset)}")
        train_ds = dataset[train_split]
        if eval_split is not None:
            if eval_split not in dataset:
                raise ValueError(f"the data set has no split {eval_split!r}; splits: {', '.join(dataset)}")
            eval_ds = dataset[eval_split]
        else:
            parts = train_ds.train_test_split(test_size=eval_fraction, seed=seed)
            train_ds, eval_ds = parts["train"], parts["test"]
    elif isinstance(dataset, datasets.Dataset):
        parts = dataset.train_test_split(test_size=eval_fraction, seed=seed)
        train_ds, eval_ds = parts["train"], parts["test"]
    else:
        raise ValueError(f"expected a datasets.Dataset or DatasetDict, got {type(dataset).__name__}")
    _check_columns(train_ds.column_names, text_column, label_column, f"data set {name!r}")
    _check_columns(eval_ds.column_names, text_column, label_column, f"data set {name!r} (eval split)")
    if limit is not None:
        check_limit(limit)
        n_eval = eval_share(limit, len(train_ds), len(eval_ds))
        train_ds = train_ds.shuffle(seed=seed).select(range(min(limit, len(train_ds))))
        eval_ds = eval_ds.shuffle(seed=seed).select(range(min(n_eval, len(eval_ds))))
    feature = train_ds.features.get(label_column)
    class_names = list(feature.names) if isinstance(feature, datasets.ClassLabel) else None
    for split, ds in (("train", train_ds), ("eval", eval_ds)):
        labels = ds[label_column]
        if any(v is not None and not isinstance(v, str) and int(v) < 0 for v in labels):
            raise ValueError(f"the {split} split has negative labels (unlabelled rows, as in SST-2's test split)")
    return text_data(
        train_ds[text_column],
        train_ds[label_column],
        eval_ds[text_column],
        eval_ds[label_column],
        tokenizer,
        max_length,
        name=name,
        class_names=class_names,
        word_level=word_level,
        vocab_size=vocab_size,
    )


def load_hf_dataset(name: str, tokenizer: Any, max_length: int, **kwargs: Any) -> TextData:
    """Load a Hugging Face data set with ``datasets.load_dataset`` (downloaded on first use) and encode it.

    ``name``: a preset (``"sst2"``: sentence/label, validation split for eval; ``"imdb"``: text/label, test split)
    or any hub name (then pass ``text_column``, ``label_column`` and ``eval_split`` as needed). ``kwargs`` go to
    :func:`text_data_from_hf`.
    """
    import datasets

    if name in HF_PRESETS:
        path, config, text, label, train_split, eval_split = HF_PRESETS[name]
        defaults = {"text_column": text, "label_column": label, "train_split": train_split, "eval_split": eval_split}
        kwargs = {**defaults, **{k: v for k, v in kwargs.items() if v is not None}}
    else:
        path, config = name, None
    dataset = datasets.load_dataset(path, config)
    return text_data_from_hf(dataset, tokenizer, max_length, name=name, **kwargs)
