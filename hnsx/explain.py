"""Load a trained model from a checkpoint and explain image files with it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from hnsx.model import HideAndSeek
from hnsx.spec import ModelSpec, build_model
from hnsx.training.checkpoint import CheckpointError, load_model_state, read_state, resolve_checkpoint


def load_trained(checkpoint: str | Path, which: str = "best", seeker: nn.Module | None = None) -> HideAndSeek:
    """Rebuild the model saved in ``checkpoint`` (a checkpoint folder or a run folder) and load its weights.

    ``seeker`` is needed when the run wrapped a user's own classifier (spec seeker ``"custom"``).
    """
    path = resolve_checkpoint(checkpoint, which)
    state = read_state(path)
    if not state.get("spec"):
        raise CheckpointError(f"{path} has no model spec; build the model yourself and use load_model_state")
    try:
        spec = ModelSpec.from_dict(state["spec"])
    except ValueError as err:
        raise CheckpointError(f"{path}: {err}") from None
    model = build_model(spec, seeker=seeker)
    load_model_state(model, path)
    model.eval()
    return model


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
    from hnsx.plots import save_overlay

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
