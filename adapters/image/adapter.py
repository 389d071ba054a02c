"""The image adapter: one mask channel ``(B, 1, H, W)`` broadcast over the colour channels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.transforms import functional as TF

from hnsx.adapter import ADAPTERS, Adapter, InputError

#: How a hidden pixel is filled: ``zero`` (the paper), the per-channel dataset ``mean``, or a ``blur``-red copy.
FILLS = ("zero", "mean", "blur")


def grayscale_target(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W) -> (B, 1, H, W)`` grayscale in [0, 1], min-max scaled per image (the hider's pretraining
    target: the image itself for one channel, the mean over colour channels for RGB)."""
    gray = x.float().mean(1, keepdim=True)
    lo = gray.amin(dim=(2, 3), keepdim=True)
    hi = gray.amax(dim=(2, 3), keepdim=True)
    return (gray - lo) / (hi - lo).clamp_min(1e-8)


@ADAPTERS.register("image")
class ImageAdapter(Adapter):
    """Pixel masks for images of a fixed shape.

    Parameters
    ----------
    input_shape:
        ``(C, H, W)`` of one image; inputs of another shape are rejected with :class:`~hnsx.adapter.InputError`.
    fill:
        ``"zero"``, ``"mean"`` (needs ``mean``, one value per channel, usually the training-set mean) or
        ``"blur"`` (a Gaussian blur of the image with ``blur_sigma``).
    mean:
        Per-channel fill value for ``fill="mean"``.
    blur_sigma:
        Standard deviation in pixels of the blur for ``fill="blur"``; the kernel spans about 4 sigma each side.
    """

    name = "image"
    mask_blocks = (1, 2, 4, 7)  # pixel noise and blobs like those of real explanations (28 x 28 inputs)

    def __init__(
        self,
        input_shape: Sequence[int],
        fill: str = "zero",
        mean: Sequence[float] | None = None,
        blur_sigma: float = 4.0,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3 or any(int(s) < 1 for s in input_shape):
            raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {tuple(input_shape)}")
        if fill not in FILLS:
            raise ValueError(f"unknown fill {fill!r}; choose one of: {', '.join(FILLS)}")
        self.input_shape = tuple(int(s) for s in input_shape)
        self.fill = fill
        channels = self.input_shape[0]
        if fill == "mean":
            if mean is None:
                raise ValueError(
                    "fill='mean' needs the per-channel mean (e.g. hnsx.adapters.image.data.channel_mean(train_set))"
                )
            if len(mean) != channels:
                raise ValueError(f"mean has {len(mean)} values but the images have {channels} channel(s)")
        if blur_sigma <= 0:
            raise ValueError(f"blur_sigma must be > 0, got {blur_sigma}")
        self.blur_sigma = float(blur_sigma)
        values = torch.tensor(list(mean) if mean is not None else [0.0] * channels, dtype=torch.float32)
        self.register_buffer("mean", values.view(1, channels, 1, 1))

    def validate(self, x: torch.Tensor) -> None:
        c, h, w = self.input_shape
        if not isinstance(x, torch.Tensor):
            raise InputError(f"images must be a torch.Tensor of shape (B, {c}, {h}, {w}), got {type(x).__name__}")
        if x.dim() != 4:
            raise InputError(
                f"images must have rank 4 (B, C, H, W) = (B, {c}, {h}, {w}); got rank {x.dim()} "
                f"with shape {tuple(x.shape)}"
                + (" (add a batch dimension with x.unsqueeze(0))" if x.dim() == 3 else "")
            )
        if x.shape[1] != c:
            raise InputError(f"images have {x.shape[1]} channel(s) but the model expects {c}")
        if tuple(x.shape[2:]) != (h, w):
            raise InputError(f"images are {x.shape[2]}x{x.shape[3]} pixels but the model expects {h}x{w}")
        if not x.is_floating_point():
            raise InputError(f"images must be floating point (e.g. scaled to [0, 1]), got dtype {x.dtype}")

    def mask_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (x.shape[0], 1, x.shape[2], x.shape[3])

    def fill_values(self, x: torch.Tensor) -> torch.Tensor:
        """What hidden pixels become: broadcastable to ``x``."""
        if self.fill == "zero":
            return torch.zeros((), dtype=x.dtype, device=x.device)
        if self.fill == "mean":
            return self.mean.to(device=x.device, dtype=x.dtype)  # the inputs may lie elsewhere (a CPU split)
        radius = max(1, int(round(4 * self.blur_sigma)))
        size = min(2 * radius + 1, 2 * (min(x.shape[2], x.shape[3]) // 2) - 1)
        size = max(size, 3)
        # A side of one pixel cannot be reflect-padded: no blur along it (kernel_size is [width, height]).
        kernel = [size if x.shape[3] > 1 else 1, size if x.shape[2] > 1 else 1]
        return TF.gaussian_blur(x, kernel_size=kernel, sigma=[self.blur_sigma, self.blur_sigma])

    def apply_mask(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        mask = mask.to(x.dtype)
        if self.fill == "zero":
            return x * mask
        return x * mask + self.fill_values(x) * (1 - mask)

    def pretrain_target(self, x: torch.Tensor) -> torch.Tensor:
        """The hider's autoencoder target: the grayscale image (:func:`grayscale_target`)."""
        return grayscale_target(x)

    def config(self) -> dict:
        return {
            "input_shape": list(self.input_shape),
            "fill": self.fill,
            "mean": self.mean.flatten().tolist() if self.fill == "mean" else None,
            "blur_sigma": self.blur_sigma,
        }
