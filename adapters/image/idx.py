"""Write images in torchvision's MNIST raw layout (big-endian IDX files), so ``--dataset mnist --data-dir DIR`` (or
``fashion-mnist``) reads a local copy through torchvision's own loader with nothing downloaded.

    DIR/MNIST/raw/train-images-idx3-ubyte   (N, 28, 28) uint8
    DIR/MNIST/raw/train-labels-idx1-ubyte   (N,) uint8
    DIR/MNIST/raw/t10k-images-idx3-ubyte    the test split, the same way
    DIR/MNIST/raw/t10k-labels-idx1-ubyte

Fashion-MNIST uses ``DIR/FashionMNIST/raw/`` with the same file names. The benchmark measurements of
``docs/benchmarks-own.md`` write the 5,000 embedded MNIST digits this way; the tests write small generated sets.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import torch

#: The folder under the root of each data set with this layout.
FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write a uint8 array in the IDX format of the MNIST raw files; returns the path."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"IDX files here hold uint8 arrays, got {array.dtype}")
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path = Path(path)
    path.write_bytes(header + array.tobytes())
    return path


def _uint8_images(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(N, 28, 28)`` uint8 from uint8 arrays or float images in [0, 1] (``(N, 1, 28, 28)`` or ``(N, 28, 28)``)."""
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3 or array.shape[1:] != (28, 28):
        raise ValueError(f"the MNIST layout holds 28x28 grey images, got shape {tuple(array.shape)}")
    if array.dtype != np.uint8:
        array = np.clip(np.round(array.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    return array


def save_mnist_layout(
    root: str | Path,
    train: tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray],
    test: tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray],
    name: str = "mnist",
) -> Path:
    """Write ``(images, labels)`` of both splits under ``root`` in the raw layout of ``name`` (``mnist`` or
    ``fashion-mnist``); images as uint8 or floats in [0, 1]. Returns the ``raw`` folder."""
    if name not in FOLDERS:
        raise ValueError(f"the MNIST raw layout is that of {', '.join(FOLDERS)}, not {name!r}")
    raw = Path(root) / FOLDERS[name] / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, (images, labels) in (("train", train), ("t10k", test)):
        labels = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
        if labels.min() < 0 or labels.max() > 255:
            raise ValueError("labels must lie in 0..255 for the IDX layout")
        write_idx(raw / f"{prefix}-images-idx3-ubyte", _uint8_images(images))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))
    return raw


__all__ = ["FOLDERS", "save_mnist_layout", "write_idx"]
