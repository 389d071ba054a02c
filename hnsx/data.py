"""What every modality's data share: a train/eval split of tensors, seeded stratified splitting and data loaders.

A modality's loader (``hnsx.adapters.<modality>.data``) returns an object with the attributes of :class:`SplitData`:
``train`` and ``eval`` ``TensorDataset(inputs, labels)``, ``num_classes``, ``input_shape``, ``name`` and
``class_names``. :func:`make_loaders` turns it into seeded data loaders; :func:`stratified_split` gives the same
split for the same seed.
"""

from __future__ import annotations

import numbers
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

__all__ = ["SplitData", "check_fraction", "make_loaders", "stratified_split"]


class SplitData(Protocol):
    """A classification data set split into train and eval (image, text, tabular, or your modality's)."""

    train: TensorDataset  # (inputs (N, *input_shape), labels (N,) int64)
    eval: TensorDataset
    num_classes: int
    input_shape: tuple[int, ...]
    name: str
    class_names: list[str]


def check_fraction(eval_fraction: float) -> None:
    """Raise ``ValueError`` unless ``0 < eval_fraction < 1``."""
    if not 0.0 < float(eval_fraction) < 1.0:
        raise ValueError(f"eval_fraction must lie strictly between 0 and 1, got {eval_fraction!r}")


def check_limit(limit: int | None) -> None:
    """Raise ``ValueError`` unless ``limit`` (a number of training rows to keep) is ``None`` or a positive integer."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or int(limit) < 1):
        raise ValueError(f"limit must be a positive number of training rows (an integer) or None, got {limit!r}")


def eval_share(limit: int, n_train: int, n_eval: int) -> int:
    """How many of ``n_eval`` eval rows go with ``limit`` of ``n_train`` training rows: the same share, at least 1."""
    return max(1, round(int(limit) * n_eval / max(n_train, 1)))


def limit_subset(n_train: int, n_eval: int, limit: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted indices of a seeded subset of ``limit`` of ``n_train`` training rows and of the same share
    (:func:`eval_share`) of ``n_eval`` eval rows; all of them where the subset would be as large."""
    check_limit(limit)
    generator = torch.Generator().manual_seed(seed)

    def subset(n: int, size: int) -> torch.Tensor:
        if size >= n:
            return torch.arange(n)
        return torch.randperm(n, generator=generator)[:size].sort().values

    return subset(n_train, int(limit)), subset(n_eval, eval_share(limit, n_train, n_eval))


def stratified_split(labels: np.ndarray, eval_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and eval indices of a stratified, seeded split of ``labels`` (shape ``(N,)``)."""
    from sklearn.model_selection import train_test_split

    check_fraction(eval_fraction)
    train_idx, eval_idx = train_test_split(
        np.arange(len(labels)), test_size=eval_fraction, random_state=seed, stratify=labels
    )
    return np.sort(train_idx), np.sort(eval_idx)


def make_loaders(
    data: SplitData, batch_size: int, seed: int = 0, num_workers: int = 0
) -> tuple[DataLoader, DataLoader]:
    """Train and eval data loaders yielding ``(inputs (B, *input_shape), labels (B,))`` batches.

    Parameters
    ----------
    data:
        The data set.
    batch_size:
        Inputs per batch, a positive integer; the last batch may be smaller.
    seed:
        Seed of the train loader's shuffling: the same seed gives the same order, epoch by epoch.
    num_workers:
        Worker processes of each loader (0 loads in the main process).

    Returns
    -------
    tuple[DataLoader, DataLoader]
        The shuffled train loader and the unshuffled eval loader.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or int(num_workers) < 0:
        raise ValueError(f"num_workers must be a non-negative integer, got {num_workers!r}")
    generator = torch.Generator().manual_seed(seed)
    train = DataLoader(
        data.train,
        batch_size=int(batch_size),
        shuffle=True,
        generator=generator,
        num_workers=int(num_workers),
    )
    eval_ = DataLoader(data.eval, batch_size=int(batch_size), shuffle=False, num_workers=int(num_workers))
    return train, eval_
