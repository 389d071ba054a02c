"""Load a trained Hide-and-Seek model of any modality from a checkpoint or a run folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from hnsx.modality import get_modality
from hnsx.model import HideAndSeek
from hnsx.spec import ModelSpec, build_model
from hnsx.training.checkpoint import CheckpointError, load_model_state, read_state, resolve_checkpoint


def load_trained(
    checkpoint: str | Path,
    which: str = "best",
    seeker: nn.Module | None = None,
    *,
    allow_models: Sequence[str] = (),
    trust_remote_code: bool = False,
) -> HideAndSeek:
    """Rebuild the model saved in ``checkpoint`` (a checkpoint folder or a run folder) and load its weights.

    ``seeker`` is needed when the run wrapped a user's own classifier (spec seeker ``"custom"``). Loading runs no
    code and fetches nothing the checkpoint names unless allowed: its modality checks the spec
    (:meth:`~hnsx.modality.Modality.check_checkpoint_spec`; text: a hub model must be one of ``allow_models``, and
    ``trust_remote_code`` must be given for a model that ships code). A spec that does not build raises
    :class:`~hnsx.training.checkpoint.CheckpointError`.
    """
    path = resolve_checkpoint(checkpoint, which)
    state = read_state(path)
    if not state.get("spec"):
        raise CheckpointError(f"{path} has no model spec; build the model yourself and use load_model_state")
    try:
        spec = ModelSpec.from_dict(state["spec"])
        get_modality(spec.modality).check_checkpoint_spec(
            spec, allow_models=tuple(allow_models), trust_remote_code=trust_remote_code
        )
    except ValueError as err:
        raise CheckpointError(f"{path}: {err}") from None
    try:
        model = build_model(spec, seeker=seeker)
    except (TypeError, ValueError, KeyError, AttributeError, RuntimeError, OverflowError) as err:
        raise CheckpointError(f"{path}: its model spec does not build ({type(err).__name__}: {err})") from None
    load_model_state(model, path)
    model.eval()
    return model


def output_names(paths: Sequence[str | Path], suffix: str) -> list[str]:
    """One output file name per input, ``<stem><suffix>``, numbered (``<stem>-2<suffix>``) where two inputs share a
    stem (``a/digit.png`` and ``b/digit.png``), so that no explanation overwrites another."""
    names, seen = [], set()
    for p in paths:
        stem, k = Path(p).stem, 1
        name = f"{stem}{suffix}"
        while name in seen:
            k += 1
            name = f"{stem}-{k}{suffix}"
        seen.add(name)
        names.append(name)
    return names
