"""Fine-tune a Hugging Face sequence classifier on a CSV/TSV file with plain ``transformers``, for hnsx to explain.

The first half of the recipe "Explain your fine-tuned transformer" (docs/text.md): the bundled MiniLM (``--model-name
minilm``, offline) or any classifier folder is fine-tuned with ``Trainer`` on the file's rows, tokenized by its own
tokenizer, and saved with ``save_pretrained`` (model and tokenizer, the class names as ``id2label``). The file is read
and split exactly as ``hnsx train --data-file FILE --seed SEED`` reads and splits it: the rows that hnsx evaluates on
are held out here, so the accuracy printed is on sentences the classifier never saw, and it is the Fidelity baseline
hnsx reports when it wraps the classifier frozen::

    .venv/bin/python scripts/finetune_text.py --data-file examples/reviews.csv --text-column review \\
        --label-column stars --max-length 32 --epochs 2 --out runs/reviews-minilm
    .venv/bin/hnsx train --modality text --data-file examples/reviews.csv --text-column review \\
        --label-column stars --max-length 32 --model-name runs/reviews-minilm --freeze-seeker --out runs/reviews-hns
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hnsx.training.checkpoint import write_json_atomic


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-file", required=True, help="CSV or TSV file with a header row")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--tsv-quotes", action="store_true", help="read quotes in a .tsv file as CSV does")
    parser.add_argument("--model-name", default="minilm", help="'minilm' (bundled, offline) or a classifier folder")
    parser.add_argument("--max-length", type=int, default=128, help="tokens per text (longer ones are truncated)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=0, help="the split and training seed (use the same in hnsx train)")
    parser.add_argument("--eval-fraction", type=float, default=0.2, help="held-out rows (hnsx train's split: 0.2)")
    parser.add_argument("--limit", type=int, default=None, help="fine-tune on a seeded subset of N training rows")
    parser.add_argument(
        "--mask-words",
        type=float,
        default=0.0,
        help="share of training texts (drawn per batch) whose words are hidden at random, as hnsx hides them "
        "(default 0: none; see WordMasking)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", required=True, help="folder for the fine-tuned model and tokenizer")
    return parser.parse_args(argv)


def encode_rows(tokenizer, texts: list[str], labels, max_length: int, words: bool = False) -> list[dict]:
    """``Trainer`` rows: the tokenizer's fields and ``labels``; with ``words`` also ``word_ids``, each token's word as
    hnsx numbers it (:func:`~hnsx.adapters.text.tokenize.word_row`: :data:`~hnsx.adapters.text.adapter.SPECIAL`
    for special tokens, typed ones included), for :class:`WordMasking`."""
    from hnsx.adapters.text.tokenize import word_row

    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    special = set(tokenizer.all_special_ids)
    rows = []
    for j, label in enumerate(labels):
        row = {**{k: v[j] for k, v in encoded.items()}, "labels": int(label)}
        if words:
            row["word_ids"] = word_row(special, encoded.word_ids(j), row["input_ids"], row["attention_mask"])
        rows.append(row)
    return rows


class WordMasking:
    """A collator that hides words at random in a share of the training texts, then pads.

    A text is masked with probability ``share``; it then draws a keep rate uniformly in [0, 1] and hides each word
    (every piece of a word together, as hnsx's word-level masks do) with probability one minus that rate, its tokens
    replaced by ``fill_id`` (:func:`~hnsx.adapters.text.tokenize.fill_token_id`, the token hnsx fills hidden words
    with). A classifier fine-tuned so has read texts with most words hidden, which the hider's masks show it; the
    held-out texts (no ``word_ids`` in their rows) are never masked.
    """

    def __init__(self, pad, fill_id: int, share: float, seed: int) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"--mask-words must lie in [0, 1], got {share}")
        self.pad, self.fill_id, self.share = pad, int(fill_id), float(share)
        self.rng = np.random.default_rng(seed)

    def __call__(self, features: list[dict]) -> dict:
        out = []
        for row in features:
            row = dict(row)
            words = row.pop("word_ids", None)
            if words is not None and self.rng.random() < self.share:
                count = max(words) + 1
                keep = self.rng.random(count) < self.rng.random()
                row["input_ids"] = [
                    self.fill_id if w >= 0 and not keep[w] else t for t, w in zip(row["input_ids"], words)
                ]
            out.append(row)
        return self.pad(out)


def finetune(args: argparse.Namespace) -> dict:
    """Fine-tune, save to ``args.out``, return the held-out accuracy and what was trained on."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    from hnsx.adapters.text.commands import resolve_model_name
    from hnsx.adapters.text.data import limit_rows, read_text_file, split_rows
    from hnsx.adapters.text.tokenize import fill_token_id

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    texts, y, names = read_text_file(
        args.data_file, text_column=args.text_column, label_column=args.label_column, quoting=args.tsv_quotes or None
    )
    train_idx, eval_idx = split_rows(len(texts), args.eval_fraction, args.seed)
    if args.limit is not None:  # the training rows of hnsx train --data-file --limit; every held-out row is scored
        train_idx, _ = limit_rows(train_idx, eval_idx, args.limit, args.seed)
    set_seed(args.seed)
    source = resolve_model_name(args.model_name)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(
        source,
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id={name: i for i, name in enumerate(names)},
        ignore_mismatched_sizes=True,  # a classifier folder with another number of classes gets a new head
    )

    def accuracy(prediction) -> dict:
        return {"accuracy": float((np.argmax(prediction.predictions, axis=-1) == prediction.label_ids).mean())}

    out = Path(args.out)
    training = TrainingArguments(
        output_dir=str(out / "trainer"),
        num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        eval_strategy="epoch",
        save_strategy="no",
        logging_steps=10,
        report_to=[],
        remove_unused_columns=False,  # WordMasking reads (and drops) the rows' word_ids
    )
    trainer = Trainer(
        model=model,
        args=training,
        train_dataset=encode_rows(
            tokenizer, [texts[i] for i in train_idx], y[train_idx], args.max_length, words=args.mask_words > 0
        ),
        eval_dataset=encode_rows(tokenizer, [texts[i] for i in eval_idx], y[eval_idx], args.max_length),
        data_collator=WordMasking(
            DataCollatorWithPadding(tokenizer), fill_token_id(tokenizer), args.mask_words, args.seed
        ),
        compute_metrics=accuracy,
    )
    start = time.time()
    trainer.train()
    seconds = time.time() - start
    held_out = trainer.evaluate()["eval_accuracy"]
    trainer.save_model(str(out))  # save_pretrained: config.json and the weights
    tokenizer.save_pretrained(str(out))
    if (out / "trainer").is_dir() and not any((out / "trainer").iterdir()):
        (out / "trainer").rmdir()  # Trainer's output folder: nothing saved there (save_strategy "no")
    result = {
        "held_out_accuracy": held_out,
        "train_rows": len(train_idx),
        "held_out_rows": len(eval_idx),
        "classes": names,
        "seconds": round(seconds, 1),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
    }
    write_json_atomic(out / "finetune.json", result)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = finetune(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"held-out accuracy {result['held_out_accuracy']:.4f} on {result['held_out_rows']} rows "
        f"(fine-tuned on {result['train_rows']} rows in {result['seconds']:.0f} s); saved to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
