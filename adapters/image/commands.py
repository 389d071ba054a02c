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
    from hnsx.adapters.image.modality import ImageModality

    args.dataset = args.dataset or ImageModality.default_dataset
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
    """``hnsx explain --checkpoint RUN IMAGE...``: one overlay PNG per image file; with ``--contrast CLASS`` also
    the contrastive overlays of the run's seeker (:mod:`hnsx.adapters.image.contrastive.render`): CDeepEx's and,
    where ``hnsx train-contrastive`` stored one in the run, contrastive Hide-and-Seek's (``--contrast-method``)."""
    from hnsx.adapters.image.explain import explain_files

    contrast = getattr(args, "contrast", None)
    if contrast is not None:  # every check before anything is written
        import torch

        from hnsx.adapters.image.contrastive.render import check_contrast, explain_contrast_files, explain_hns_files
        from hnsx.adapters.image.contrastive.vae import load_generator
        from hnsx.adapters.image.explain import read_image

        hns = _contrastive_hider(args, model)
        use_cdeepex = getattr(args, "contrast_method", None) != "hns"
        generator = load_generator(args.generator) if args.generator else None
        batch = torch.stack([read_image(p, model.adapter.input_shape) for p in args.inputs])
        target = check_contrast(model.seeker, batch, args.inputs, contrast)
    for record in explain_files(model, args.inputs, args.out):
        print(
            f"{record['image']}: class {record['prediction']} ({record['confidence']:.1%}), "
            f"kept {record['kept']:.1%} -> {record['overlay']}"
        )
    if contrast is not None:
        records = []
        if use_cdeepex:
            records += explain_contrast_files(model.seeker, batch, target, args.inputs, args.out, contrast, generator)
        if hns is not None:
            records += explain_hns_files(hns, batch, target, args.inputs, args.out, contrast)
        for record in records:
            print(f"{record['image']}: why {record['prediction']} and not {contrast} -> {record['overlay']}")
    return 0


def _contrastive_hider(args: argparse.Namespace, model):
    """The contrastive Hide-and-Seek model stored in the run of ``args.checkpoint`` around ``model``'s seeker, or
    ``None`` (``--contrast-method cdeepex``, or none stored and no method named); ``ValueError`` for a method that
    cannot be answered."""
    from hnsx.adapters.image.contrastive.hns import load_contrastive_hns
    from hnsx.contrastive import require_stored_hider, stored_hider

    method = getattr(args, "contrast_method", None)
    if method == "hns" and args.generator is not None:
        raise ValueError("--generator applies to CDeepEx, not to --contrast-method hns")
    if method == "cdeepex":
        return None
    if method is None:
        folder = stored_hider(args.checkpoint)
        if folder is None:
            return None
    else:
        folder = require_stored_hider(args.checkpoint, f"--contrast-method {method}")
    return load_contrastive_hns(folder, model.seeker, model.adapter)


def train_generator(args: argparse.Namespace) -> int:
    """``hnsx train-generator``: a VAE of ``--dataset`` (:mod:`hnsx.adapters.image.contrastive.vae`)."""
    from pathlib import Path

    from hnsx.adapters.image.contrastive.vae import GeneratorConfig, save_generator, train_vae
    from hnsx.training.checkpoint import write_json_atomic

    config = GeneratorConfig(
        latent_dim=args.latent_dim, hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed,
    )  # fmt: skip
    data = load_data(args)
    vae, history = train_vae(data.train, config, eval_set=data.eval)
    metrics = {"dataset": data.name, **history[-1]}
    path = save_generator(vae, args.out, config=config, info={"dataset": data.name, "history": history})
    write_json_atomic(Path(args.out) / "metrics.json", metrics)
    print(f"generator: eval loss {history[-1]['eval_loss']:.2f} per image after {config.epochs} epochs -> {path}")
    return 0


def train_contrastive(args: argparse.Namespace, model) -> int:
    """``hnsx train-contrastive --checkpoint RUN``: a pair hider (:mod:`hnsx.adapters.image.contrastive.hns`)
    against the run's frozen seeker, on the run's data set unless ``--dataset`` names another; written to
    ``RUN/contrastive/`` (``checkpoints/final`` and ``metrics.json``: the training history and, on the evaluation
    split, the kept fraction and the share of pairs the masked input still answers right)."""
    import json

    from hnsx.adapters.image.contrastive.hns import (
        ContrastiveConfig,
        train_contrastive_hns,
    )
    from hnsx.adapters.image.data import DATASETS
    from hnsx.contrastive import new_hider_folder, seeker_classes, store_trained
    from hnsx.training.checkpoint import resolve_checkpoint

    folder = new_hider_folder(args.checkpoint, overwrite=args.overwrite)
    config = ContrastiveConfig.from_args(args)
    if args.dataset is None:  # the run's own data set, where it is a built-in one
        metrics = folder.parent / "metrics.json"
        recorded = json.loads(metrics.read_text()).get("dataset") if metrics.is_file() else None
        args.dataset = recorded if recorded in DATASETS.names() else None
    data = load_data(args)
    shape = tuple(model.adapter.input_shape)
    if tuple(data.input_shape) != shape:
        raise ValueError(f"--dataset {data.name} has images of shape {tuple(data.input_shape)}, the model {shape}")
    num_classes = seeker_classes(model.seeker, data)
    hns, history = train_contrastive_hns(
        model.seeker, model.adapter, data.train, num_classes, config, progress=not args.no_progress
    )
    checkpoint = str(resolve_checkpoint(args.checkpoint, args.which))
    path, scores = store_trained(hns, history, folder, config, data.eval.tensors[0], dataset=data.name,
                                 checkpoint=checkpoint)  # fmt: skip
    print(
        f"contrastive hider: kept {scores['kept']:.1%} of pixels, pair accuracy {scores['pair_accuracy']:.1%} on "
        f"{len(data.eval.tensors[0])} {data.name} eval images -> {path}"
    )
    return 0
