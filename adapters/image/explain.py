"""Explain image files with a trained image model: one overlay PNG per input."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from hnsx.explain import output_names
from hnsx.model import HideAndSeek


def read_image(path: str | Path, input_shape: Sequence[int]) -> torch.Tensor:
    """Read an image file as a ``(C, H, W)`` float tensor in [0, 1], converted to the model's channels and size.

    16-bit images (``I;16`` PNGs) are scaled from [0, 65535] to [0, 1] rather than clipped. A folder, a file Pillow
    cannot identify and a truncated or corrupt image raise ``ValueError``; a missing file ``FileNotFoundError``.
    """
    from PIL import Image, UnidentifiedImageError

    c, h, w = input_shape
    if c not in (1, 3):
        raise ValueError(f"image files can only feed models with 1 or 3 channels, this one has {c}")
    if Path(path).is_dir():
        raise ValueError(f"{path} is a folder, not an image file")
    try:
        with Image.open(path) as img:
            img.load()
            img = _eight_bit(img).convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            data = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:  # truncated, corrupt, too large
        raise ValueError(f"{path} is a damaged or unreadable image ({err})") from None
    return data.view(h, w, c).permute(2, 0, 1).float() / 255.0


def _eight_bit(img):
    """``img`` with 16- or 32-bit integer pixels (modes ``I;16*``, ``I``) scaled to 8 bits; other modes unchanged."""
    from PIL import Image

    if img.mode != "I" and not img.mode.startswith("I;16"):
        return img
    import numpy as np

    pixels = np.asarray(img, dtype=np.float64)
    top = 65535.0 if img.mode.startswith("I;16") or pixels.max(initial=0) <= 65535 else pixels.max()
    return Image.fromarray(np.clip(np.rint(pixels / top * 255.0), 0, 255).astype(np.uint8), mode="L")


def overlay_names(paths: Sequence[str | Path], suffix: str = "explained") -> list[str]:
    """``<stem>-<suffix>.png`` per input, numbered (``<stem>-2-<suffix>.png``) where two inputs share a stem."""
    return output_names(paths, f"-{suffix}.png")


def explain_files(
    model: HideAndSeek, paths: Sequence[str | Path], out_dir: str | Path, class_names: Sequence[str] | None = None
) -> list[dict]:
    """Write ``<name>-explained.png`` for each image file (:func:`overlay_names`); returns one record per image.

    Every file is read before anything is written."""
    from hnsx.adapters.image.plots import save_overlay

    out = Path(out_dir)
    input_shape = model.adapter.input_shape
    batch = torch.stack([read_image(p, input_shape) for p in paths])
    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        model.eval()
        result = model(batch)
        probs = result.logits.softmax(1)
        masked = model.adapter.apply_mask(batch, result.mask)
    records = []
    for i, (p, name) in enumerate(zip(paths, overlay_names(paths))):
        cls = int(probs[i].argmax())
        label = class_names[cls] if class_names else str(cls)
        kept = float(result.mask[i].mean())
        title = f"{Path(p).name}: class {label} ({float(probs[i, cls]):.1%}), kept {kept:.1%} of pixels"
        target = out / name
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
