"""Write the 5,000 embedded MNIST digits (4,000 train, 1,000 test) into torchvision's MNIST raw layout.

    .venv/bin/python scripts/write_mnist_layout.py DIR

Then ``hnsx train|bench --dataset mnist --data-dir DIR`` reads them through torchvision's own loader, offline: real
digits through the path a user's local copy takes (docs/benchmarks-own.md).
"""

from __future__ import annotations

import sys

from hnsx.adapters.image.data import load_embedded_mnist
from hnsx.adapters.image.idx import save_mnist_layout


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    data = load_embedded_mnist(seed=0)
    raw = save_mnist_layout(argv[0], data.train.tensors, data.eval.tensors, "mnist")
    print(f"wrote {len(data.train)} train and {len(data.eval)} test digits to {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
