"""Benchmark hooks of the image modality (the vocabulary: :mod:`hnsx.benchmarks.hooks`).

Data: the 5,000 embedded MNIST digits (4,000 train, 1,000 test; ``--quick``: 1,200 and 400), hidden pixels filled
with the per-channel training mean. Explainer entries have plain names (``integrated-gradients``); random masks are
drawn in square blocks; maps are images (SSIM and example plots apply). The planted shortcut is a bright square
on every training and test image of one class (the biased-MNIST setting of the contrastive-explanations thesis).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import TensorDataset

from hnsx.adapters.image.modality import ImageModality
from hnsx.benchmarks.common import BenchData, build_adapter, subset
from hnsx.benchmarks.hooks import Planted, Recipe
from hnsx.training.config import TrainConfig

#: The demo's setting (alpha 0.5, both components pretrained) at half the epochs.
RECIPE = Recipe(
    seeker_epochs=4,
    batch_size=64,
    lr=1e-3,
    hns=TrainConfig(epochs=6, batch_size=64, lr=1e-3, alpha=0.5, init="both", pretrain_epochs=3),
)
#: Split sizes (train, test) of the full and the quick data; ``None`` keeps the whole split.
SIZES: dict[bool, tuple[int | None, int | None]] = {False: (None, None), True: (1200, 400)}
EXPLAINER_PREFIX = ""
EVALUATOR_EPOCHS = {False: 8, True: 5}
SPATIAL_MAPS = True
#: ``hnsx bench shortcut`` adds contrastive Hide-and-Seek (:mod:`hnsx.benchmarks.contrastive`) for images.
CONTRASTIVE = True

_ROAR_EXPLAINERS = ("hns", "integrated-gradients", "layer-gradcam", "smoothgrad-sq", "random")
SETTINGS: dict[str, dict[bool, dict[str, Any]]] = {
    "roar": {
        # Integrated Gradients with 8 steps, SmoothGrad and VarGrad over 8 noisy copies; seekers of three epochs
        # (4,000 digits, about 93 % test accuracy) and HnS for 2 + 4 epochs, so that the 5-seed MNIST run (250
        # retrained seekers) takes well under an hour on 2 CPU cores.
        False: {
            "explainers": _ROAR_EXPLAINERS,
            "explainer_options": {
                "integrated-gradients": {"n_steps": 8},
                "smoothgrad-sq": {"nt_samples": 8},
                "vargrad": {"nt_samples": 8},
            },
            "seeker_epochs": 3,
            "hns_epochs": 4,
            "hns_pretrain_epochs": 2,
        },
        True: {
            "explainers": _ROAR_EXPLAINERS,
            "explainer_options": {
                "integrated-gradients": {"n_steps": 8},
                "smoothgrad-sq": {"nt_samples": 5},
                "vargrad": {"nt_samples": 5},
            },
            "seeker_epochs": 2,
            "sizes": (800, 300),
        },
    },
    "sanity": {True: {"samples": 32, "hns_epochs": 3}},
    "faithfulness": {True: {"samples": 100, "hns_epochs": 3}},
    # The slow vargrad and occlusion can be asked for by name.
    "leakage": {
        q: {"explainers": ("hns", "integrated-gradients", "layer-gradcam", "saliency", "smoothgrad-sq", "random")}
        for q in (False, True)
    },
}

#: The planted shortcut: the class that carries it (the digit 8, as in the thesis) and the stamp's side, offset
#: from the top-left corner and pixel value.
IMAGE_CLASS = 8
STAMP_SIZE = 4
STAMP_OFFSET = 1
STAMP_VALUE = 1.0


def image_bench_data(
    name: str,
    train: TensorDataset,
    test: TensorDataset,
    num_classes: int,
    *,
    class_names: Sequence[str] = (),
    source: Any = None,
    **spec_options: Any,
) -> BenchData:
    """Image :class:`BenchData` from two ``TensorDataset(images (N, C, H, W), labels)``, hidden pixels filled with
    the per-channel training mean (``spec_options`` go to :func:`hnsx.spec.image_spec`)."""
    from hnsx.adapters.image.data import channel_mean
    from hnsx.adapters.image.spec import image_spec

    shape = tuple(int(s) for s in train.tensors[0].shape[1:])
    spec = image_spec(shape, num_classes, **{"fill": "mean", "mean": channel_mean(train), **spec_options})
    return BenchData(
        modality="image",
        name=name,
        train=train,
        test=test,
        num_classes=num_classes,
        input_shape=shape,
        spec=spec,
        adapter=build_adapter(spec),
        class_names=list(class_names),
        source=source,
    )


def bench_data(source: Any, train: TensorDataset | None = None, test: TensorDataset | None = None) -> BenchData:
    """The benchmark view of image data (:class:`~hnsx.data.ImageData` of ``load_data``), optionally with other
    ``train`` / ``test`` splits."""
    train = source.train if train is None else train
    test = source.eval if test is None else test
    return image_bench_data(source.name, train, test, source.num_classes, class_names=source.class_names, source=source)


def load_bench_data(
    *, quick: bool = False, seed: int = 0, name: str | None = None, data_dir: str | None = None
) -> BenchData:
    """The embedded MNIST digits (``name``: any :data:`hnsx.data.DATASETS` name, a torchvision one read from
    ``data_dir``), seeded subsets under ``quick``."""
    from hnsx.adapters.image.data import load_dataset

    n_train, n_test = SIZES[bool(quick)]
    data = load_dataset(name or ImageModality.default_dataset, data_dir=data_dir, seed=seed)
    return bench_data(data, subset(data.train, n_train, seed), subset(data.eval, n_test, seed + 1))


def render_examples(data: BenchData, inputs: torch.Tensor, scores: dict[str, torch.Tensor]) -> str:
    """A grid: one row per input, the image then each explainer's map (absolute scores, scaled per map), as an
    embedded PNG."""
    import base64
    import io

    from hnsx.benchmarks.reports import pyplot

    plt = pyplot()
    names = list(scores)
    rows, cols = inputs.shape[0], len(names) + 1
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for i in range(rows):
        image = inputs[i].permute(1, 2, 0).clamp(0, 1).numpy()
        axes[i][0].imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray")
        for j, name in enumerate(names, 1):
            axes[i][j].imshow(scores[name][i].reshape(image.shape[:2]).abs().numpy(), cmap="magma")
            axes[0][j].set_title(name, fontsize=7)
    axes[0][0].set_title("input", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img alt="attribution maps per explainer" src="{uri}"></figure>'


def plant_image(
    data: BenchData,
    *,
    target: int = IMAGE_CLASS,
    size: int = STAMP_SIZE,
    offset: int = STAMP_OFFSET,
    value: float = STAMP_VALUE,
) -> Planted:
    """A ``size`` x ``size`` square of ``value`` at (``offset``, ``offset``) on every image of class ``target``."""
    _, h, w = data.input_shape
    if not 0 <= target < data.num_classes:
        raise ValueError(f"target class {target} is not one of the {data.num_classes} classes")
    if size < 1 or offset < 0 or offset + size > min(h, w):
        raise ValueError(f"a {size}x{size} stamp at offset {offset} does not fit {h}x{w} images")
    square = torch.zeros(h, w, dtype=torch.bool)
    square[offset : offset + size, offset : offset + size] = True

    def stamp(x: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        stamped = x.clone()
        stamped[:, :, square] = value
        return stamped if rows is None else torch.where(rows.view(-1, 1, 1, 1), stamped, x)

    (train_x, train_y), (test_x, test_y) = data.train.tensors, data.test.tensors
    biased = image_bench_data(
        f"{data.name}+stamp",
        TensorDataset(stamp(train_x, train_y == target), train_y),
        TensorDataset(stamp(test_x, test_y == target), test_y),
        data.num_classes,
        class_names=data.class_names,
        source=data.source,
    )
    flat = square.flatten()
    return Planted(
        data=biased,
        removed=TensorDataset(test_x, test_y),
        added=TensorDataset(stamp(test_x), test_y),
        affected=test_y == target,
        follows=torch.full_like(test_y, target),
        region=lambda inputs: flat.expand(inputs.shape[0], -1).clone(),
        description=f"a {size}x{size} square of value {value} at ({offset}, {offset}) on every image of class {target}",
    )


def plant_shortcut(*, quick: bool = False, seed: int = 0) -> Planted:
    """The benchmark digits with the stamp of :func:`plant_image`."""
    return plant_image(load_bench_data(quick=quick, seed=seed))


def plant_on(data: BenchData) -> Planted:
    """The user's images with the stamp of :func:`plant_image` on class 8 as on the built-in digits when both splits
    have that class, else on the test split's most frequent class."""
    train_y, test_y = data.train.tensors[1], data.test.tensors[1]
    if bool((train_y == IMAGE_CLASS).any()) and bool((test_y == IMAGE_CLASS).any()):
        return plant_image(data, target=IMAGE_CLASS)
    return plant_image(data, target=int(torch.bincount(test_y, minlength=data.num_classes).argmax()))
