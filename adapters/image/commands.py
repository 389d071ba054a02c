"""``hnsx train|demo|explain`` for images (``--modality image``, the default; ``explain`` for image checkpoints)."""

from __future__ import annotations

import argparse

from hnsx.adapters.image.adapter import FILLS


def add_options(parser: argparse.ArgumentParser) -> None:
    """The image options of ``hnsx train``."""
    g = parser.add_argument_group("image (--modality image)")
    g.add_argument("--hider-size", choices=("small", "large"), default=None, help="conv-autoencoder size")
    g.add_argument("--fill", choices=FILLS, default="zero", help="what hidden pixels become (default %(default)s)")


def load_data(args: argparse.Namespace):
    """The :class:`~hnsx.adapters.image.data.ImageData` of ``--dataset`` (default ``mnist-embedded``)."""
    from hnsx.adapters.image.data import DATASETS, TORCHVISION_DATASETS, load_dataset

    if getattr(args, "data_file", None) is not None:
        raise ValueError("--data-file applies to --modality text and tabular; images come from --dataset")
    args.dataset = args.dataset or "mnist-embedded"
    DATASETS.get(args.dataset)  # an unknown name fails here, listing the choices
    if args.limit is not None and args.dataset not in TORCHVISION_DATASETS:
        raise ValueError(
            f"--limit applies to the torchvision datasets ({', '.join(TORCHVISION_DATASETS)}); "
            f"{args.dataset!r} is always used whole"
        )
    kwargs = {"limit": args.limit} if args.limit is not None else {}
    return load_dataset(args.dataset, data_dir=args.data_dir, download=args.download, seed=args.seed, **kwargs)


def build_spec(data, args: argparse.Namespace):
    """The image spec of ``hnsx train``'s builder options (``--hider``, ``--hider-size``, ``--fill``, ...)."""
    from hnsx.adapters.image.data import channel_mean
    from hnsx.adapters.image.spec import image_spec
    from hnsx.spec import binarizer_component

    hider_size = getattr(args, "hider_size", None)
    if hider_size and args.hider != "conv-autoencoder":
        raise ValueError(f"--hider-size applies to --hider conv-autoencoder, not {args.hider!r}")
    fill = getattr(args, "fill", "zero")
    return image_spec(
        data.input_shape,
        data.num_classes,
        hider=args.hider,
        hider_kwargs={"size": hider_size} if hider_size else None,
        seeker=args.seeker,
        binarizer=binarizer_component(args.binarizer, args.estimator, args.slope_rate, args.slope_cap),
        fill=fill,
        mean=channel_mean(data.train) if fill == "mean" else None,
    )


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
