"""``hnsx train|demo|explain`` for images (``--modality image``, the default; ``explain`` for image checkpoints)."""

from __future__ import annotations

import argparse

from hnsx.adapters.image.adapter import FILLS


def add_options(parser: argparse.ArgumentParser) -> None:
    """The image options of ``hnsx train``."""
    g = parser.add_argument_group("image (--modality image)")
    g.add_argument("--hider-size", choices=("small", "large"), default=None, help="conv-autoencoder size")
    g.add_argument("--fill", choices=FILLS, default="zero", help="what hidden pixels become (default %(default)s)")


def train(args: argparse.Namespace) -> int:
    """``hnsx train --modality image``: a built-in or torchvision data set, the image spec, ``metrics.json``."""
    from hnsx.adapters.image.data import DATASETS, TORCHVISION_DATASETS, channel_mean, load_dataset
    from hnsx.adapters.image.spec import image_spec
    from hnsx.pipeline import print_summary, run_training
    from hnsx.spec import binarizer_component
    from hnsx.training.config import TrainConfig

    if args.data_file is not None:
        raise ValueError("--data-file applies to --modality text and tabular; images come from --dataset")
    args.dataset = args.dataset or "mnist-embedded"
    DATASETS.get(args.dataset)  # an unknown name fails here, listing the choices
    if args.limit is not None and args.dataset not in TORCHVISION_DATASETS:
        raise ValueError(
            f"--limit applies to the torchvision datasets ({', '.join(TORCHVISION_DATASETS)}); "
            f"{args.dataset!r} is always used whole"
        )
    if args.hider_size and args.hider != "conv-autoencoder":
        raise ValueError(f"--hider-size applies to --hider conv-autoencoder, not {args.hider!r}")
    kwargs = {"limit": args.limit} if args.limit is not None else {}
    data = load_dataset(args.dataset, data_dir=args.data_dir, download=args.download, seed=args.seed, **kwargs)
    spec = image_spec(
        data.input_shape,
        data.num_classes,
        hider=args.hider,
        hider_kwargs={"size": args.hider_size} if args.hider_size else None,
        seeker=args.seeker,
        binarizer=binarizer_component(args.binarizer, args.estimator, args.slope_rate, args.slope_cap),
        fill=args.fill,
        mean=channel_mean(data.train) if args.fill == "mean" else None,
    )
    result = run_training(data, spec, TrainConfig.build(args), args.out, resume=args.resume)
    if not result.fit.is_main_process:
        return 0
    print_summary(result.metrics)
    print(f"wrote {args.out}/metrics.json, history.jsonl and checkpoints/")
    return 0


def demo(args: argparse.Namespace) -> int:
    """``hnsx demo``: the embedded MNIST digits (:mod:`hnsx.adapters.image.demo`)."""
    from hnsx.adapters.image.demo import run_demo
    from hnsx.pipeline import print_summary

    metrics = run_demo(args.out, epochs=args.epochs, seed=args.seed, progress=not args.no_progress)
    print_summary(metrics)
    print(f"wrote {args.out}/metrics.json, history.jsonl, masks.png, curves.png")
    return 0


def explain(args: argparse.Namespace, model) -> int:
    """``hnsx explain --checkpoint RUN IMAGE...``: one overlay PNG per image file."""
    from hnsx.adapters.image.explain import explain_files

    for record in explain_files(model, args.inputs, args.out):
        print(
            f"{record['image']}: class {record['prediction']} ({record['confidence']:.1%}), "
            f"kept {record['kept']:.1%} -> {record['overlay']}"
        )
    return 0
