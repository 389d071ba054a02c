"""The generator of CDeepEx: a variational autoencoder of the input domain, trained and checkpointed by hnsx.

The thesis (section 3.2.1) uses a VAE with four convolutions and a 400-dimensional code; hnsx's is a small MLP VAE
(two hidden layers, code size ``latent_dim``, default 16) so that it fits any ``(C, H, W)`` and trains on a CPU in
a minute. Loss: binary cross-entropy of the reconstruction summed over pixels (images in ``[0, 1]``) plus the KL
divergence to ``N(0, I)``, averaged over the batch. For CDeepEx, ``encode`` gives the mean code ``z0`` of an input
(the thesis's VAE path of procedure 2) and ``decode`` the image ``G(z)``.

A checkpoint (``hnsx train-generator``) is an hnsx checkpoint folder (:mod:`hnsx.training.checkpoint`): the VAE's
state dict in ``model.safetensors`` and ``{"kind": "generator", "generator": {...}}`` in ``state.json``.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from hnsx.contrastive import read_final, save_final
from hnsx.training.checkpoint import CheckpointError, load_model_state

KIND = "generator"


class VAE(nn.Module):
    """MLP variational autoencoder of images ``(B, C, H, W)`` in ``[0, 1]`` with a ``latent_dim`` code."""

    def __init__(self, input_shape: tuple[int, int, int], latent_dim: int = 16, hidden: int = 256) -> None:
        super().__init__()
        if latent_dim < 1 or hidden < 1:
            raise ValueError(f"latent_dim and hidden must be >= 1, got {latent_dim} and {hidden}")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.latent_dim = latent_dim
        self.hidden = hidden
        size = math.prod(self.input_shape)
        self.encoder = nn.Sequential(nn.Linear(size, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.mean = nn.Linear(hidden, latent_dim)
        self.log_var = nn.Linear(hidden, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, size)
        )

    def encode_distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance ``(B, latent_dim)`` of the code of ``x (B, C, H, W)``."""
        hidden = self.encoder(x.flatten(1))
        return self.mean(hidden), self.log_var(hidden)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The mean code ``z0 (B, latent_dim)`` of ``x``."""
        return self.encode_distribution(x)[0]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(z.shape[0], *self.input_shape)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The image ``G(z) (B, C, H, W)`` in ``[0, 1]``."""
        return torch.sigmoid(self.decode_logits(z))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The negative evidence lower bound per image, averaged over the batch (one reparameterised sample)."""
        mean, log_var = self.encode_distribution(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        reconstruction = F.binary_cross_entropy_with_logits(self.decode_logits(z), x, reduction="none").flatten(1)
        kl = -0.5 * (1 + log_var - mean**2 - log_var.exp()).sum(1)
        return (reconstruction.sum(1) + kl).mean()


@dataclass(frozen=True)
class GeneratorConfig:
    """Settings of :func:`train_vae`."""

    latent_dim: int = 16
    hidden: int = 256
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("latent_dim", "hidden", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


def evaluate_vae(vae: VAE, dataset: TensorDataset, batch_size: int = 512) -> float:
    """Mean negative ELBO per image on ``dataset`` (seeded sampling, evaluation mode)."""
    vae.eval()
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    total, count = 0.0, 0
    with torch.no_grad():
        for x, *_ in DataLoader(dataset, batch_size=batch_size):
            total += float(vae.loss(x)) * len(x)
            count += len(x)
    torch.random.set_rng_state(generator_state)
    return total / max(count, 1)


def train_vae(
    train: TensorDataset, config: GeneratorConfig | None = None, *, eval_set: TensorDataset | None = None
) -> tuple[VAE, list[dict[str, float]]]:
    """Train a :class:`VAE` on the images of ``train``; returns it (evaluation mode) and one history row per epoch
    (``train_loss``, and ``eval_loss`` when ``eval_set`` is given)."""
    config = config or GeneratorConfig()
    images = train.tensors[0]
    if images.ndim != 4:
        raise ValueError(f"the generator trains on images (N, C, H, W), got shape {tuple(images.shape)}")
    if images.min() < 0 or images.max() > 1:
        raise ValueError("the generator needs images in [0, 1]")
    torch.manual_seed(config.seed)
    vae = VAE(tuple(images.shape[1:]), config.latent_dim, config.hidden)
    optimizer = torch.optim.Adam(vae.parameters(), lr=config.lr)
    loader = DataLoader(
        TensorDataset(images), batch_size=config.batch_size, shuffle=True,
        generator=torch.Generator().manual_seed(config.seed),
    )  # fmt: skip
    history = []
    for epoch in range(config.epochs):
        vae.train()
        total = 0.0
        for (x,) in loader:
            optimizer.zero_grad()
            loss = vae.loss(x)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
        row = {"epoch": epoch + 1, "train_loss": total / len(images)}
        if eval_set is not None:
            row["eval_loss"] = evaluate_vae(vae, eval_set)
        history.append(row)
    return vae.eval(), history


def save_generator(vae: VAE, run_dir: str | os.PathLike, *, config: GeneratorConfig, info: dict[str, Any]) -> Path:
    """Write ``run_dir/checkpoints/final`` (an hnsx checkpoint) and name it latest and best in the index."""
    description = {"name": "vae", "input_shape": list(vae.input_shape), "latent_dim": vae.latent_dim,
                   "hidden": vae.hidden}  # fmt: skip
    return save_final(vae, run_dir, KIND, description, {"config": asdict(config), **info})


def load_generator(path: str | os.PathLike) -> VAE:
    """The :class:`VAE` of a run folder or checkpoint written by :func:`save_generator` (evaluation mode)."""
    folder, state = read_final(path, KIND, "train-generator")
    spec = state[KIND]
    try:
        vae = VAE(tuple(spec["input_shape"]), int(spec["latent_dim"]), int(spec["hidden"]))
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{path} has an incomplete generator description ({err})") from None
    load_model_state(vae, folder)
    return vae.eval()


__all__ = ["KIND", "VAE", "GeneratorConfig", "evaluate_vae", "load_generator", "save_generator", "train_vae"]
