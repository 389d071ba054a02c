"""Explain image files with a trained image model: one overlay PNG per input."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from hnsx.model import HideAndSeek


def read_image(path: str | Path, input_shape: Sequence[int]) -> torch.Tensor:
    """Read an image file as a ``(C, H, W)`` float tensor in [0, 1], converted to the model's channels and size."""
    from PIL import Image, UnidentifiedImageError

    c, h, w = input_shape
    try:
        with Image.open(path) as img:
            img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            data = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image file Pillow can read") from None
    if c not in (1, 3):
        raise ValueError(f"image files can only feed models with 1 or 3 channels, this one has {c}")
    return data.view(h, w, c).permute(2, 0, 1).float() / 255.0


def explain_files(
    model: HideAndSeek, paths: Sequence[str | Path], out_dir: str | Path, class_names: Sequence[str] | None = None
) -> list[dict]:
    """Write ``<name>-explained.png`` for each image file; returns one record per image."""
    from hnsx.adapters.image.plots import save_overlay

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    input_shape = model.adapter.input_shape
    batch = torch.stack([read_image(p, input_shape) for p in paths])
    with torch.no_grad():
        model.eval()
        result = model(batch)
        probs = result.logits.softmax(1)
        masked = model.adapter.apply_mask(batch, result.mask)
    records = []
    for i, p in enumerate(paths):
        cls = int(probs[i].argmax())
        label = class_names[cls] if class_names else str(cls)
        kept = float(result.mask[i].mean())
        title = f"{Path(p).name}: class {label} ({float(probs[i, cls]):.1%}), kept {kept:.1%} of pixels"
        target = out / f"{Path(p).stem}-explained.png"
        save_overlay(target, batch[i], result.mask[i], masked[i], title)
        records.append(
            {
                "image": str(p),
                "prediction": cls,
                "confidence": float(probs[i, cls]),
                "kept": kept,
                "overlay": str(target),
            }
        )
    return records
