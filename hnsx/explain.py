"""Load a trained Hide-and-Seek model of any modality from a checkpoint or a run folder."""

from __future__ import annotations

from pathlib import Path

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
