"""Checkpoints without pickle: safetensors for tensors, JSON for everything else, written atomically.

A checkpoint is a folder::

    model.safetensors      the HideAndSeek state dict (hider, seeker, binarizer slope, adapter buffers)
    training.safetensors   optimizer tensors and the torch RNG state (absent in weights-only checkpoints)
    state.json             {"format": "hnsx-checkpoint", "version": 1, "spec": ..., "config": ..., ...}

It is written into a temporary sibling folder and renamed into place, so a reader never sees half a checkpoint.
A run folder keeps its checkpoints under ``checkpoints/`` and names the newest and the best in
``checkpoints/index.json`` (also replaced atomically).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from hnsx.complement import PREDICTOR

FORMAT = "hnsx-checkpoint"
VERSION = 1
MODEL_FILE = "model.safetensors"
TRAINING_FILE = "training.safetensors"
STATE_FILE = "state.json"
INDEX_FILE = "index.json"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, foreign (not written by hnsx) or incompatible."""


#: Name part of the temporary files and folders that atomic writes rename into place; a process killed mid-write
#: leaves them behind, and :meth:`CheckpointDir.remove_stale` removes them.
TMP_MARK = ".tmp-"
#: Name part of the previous checkpoint while a new one of the same name is renamed into place.
OLD_MARK = ".old-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _usual_mode(path: str | os.PathLike, folder: bool) -> None:
    """Give a ``mkstemp`` file / ``mkdtemp`` folder (0600 / 0700) the mode ``open`` / ``mkdir`` would have given."""
    os.chmod(path, (0o777 if folder else 0o666) & ~_umask())


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` through a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent)
    try:
        _usual_mode(tmp, folder=False)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into tensors (for safetensors) and JSON metadata."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, per_param in state["state"].items():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    """Inverse of :func:`flatten_optimizer`."""
    per_param: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if not name.startswith("optim."):
            continue
        _, idx, key = name.split(".", 2)
        per_param.setdefault(int(idx), {})[key] = value
    for idx, values in meta.get("scalars", {}).items():
        per_param.setdefault(int(idx), {}).update(values)
    return {"state": per_param, "param_groups": meta["param_groups"]}


def save_checkpoint(
    path: str | os.PathLike,
    model_state: dict[str, torch.Tensor],
    state: dict[str, Any],
    training_tensors: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write a checkpoint folder atomically (replacing an existing one of the same name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}{TMP_MARK}", dir=path.parent))
    old = None
    try:
        _usual_mode(tmp, folder=True)
        tensors = {k: v.detach().cpu().contiguous() for k, v in model_state.items()}
        save_file(tensors, str(tmp / MODEL_FILE))
        if training_tensors:
            save_file({k: v.contiguous() for k, v in training_tensors.items()}, str(tmp / TRAINING_FILE))
        write_json_atomic(tmp / STATE_FILE, {"format": FORMAT, "version": VERSION, **state})
        for file in tmp.iterdir():  # safetensors writes 0600 too
            _usual_mode(file, folder=False)
        if path.exists():
            old = path.with_name(f".{path.name}{OLD_MARK}{os.getpid()}")
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not path.exists():
            os.replace(old, path)  # the final rename failed: put the previous checkpoint back
        raise
    return path


def read_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``state.json`` of a checkpoint folder."""
    path = Path(path)
    state_file = path / STATE_FILE
    if not state_file.is_file():
        raise CheckpointError(f"{path} is not an hnsx checkpoint: {STATE_FILE} is missing")
    try:
        state = json.loads(state_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{state_file} is corrupt (not valid JSON: {err})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} was not written by hnsx (no '{FORMAT}' format marker in {STATE_FILE})")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state.get('version')}; this hnsx reads {VERSION}")
    return state


def read_tensors(path: str | os.PathLike, filename: str = MODEL_FILE) -> dict[str, torch.Tensor]:
    """Load a safetensors file of a checkpoint folder (no pickle)."""
    file = Path(path) / filename
    if not file.is_file():
        raise CheckpointError(f"{file} is missing")
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{file} is corrupt or not a safetensors file ({err})") from None


def weights_fingerprint(module: torch.nn.Module) -> str:
    """SHA-256 of ``module``'s state dict (names, shapes, dtypes and values): which weights a stored explainer or a
    cached result belongs to."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def load_model_state(model: torch.nn.Module, path: str | os.PathLike) -> dict[str, Any]:
    """Load the weights of checkpoint ``path`` into ``model`` (strictly) and return its ``state.json``.

    The weights of complement control's predictor (:mod:`hnsx.complement`), training state rather than part of the
    explainer, are left out when ``model`` has none (a model rebuilt from its spec to explain)."""
    state = read_state(path)
    tensors = read_tensors(path)
    if not hasattr(model, PREDICTOR):
        tensors = {k: v for k, v in tensors.items() if not k.startswith(PREDICTOR + ".")}
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise CheckpointError(f"the weights in {path} do not fit this model: {first}") from None
    return state


def resolve_checkpoint(path: str | os.PathLike, which: str = "best") -> Path:
    """A checkpoint folder from either a checkpoint folder or a run folder (``which``: best or latest)."""
    path = Path(path)
    if (path / STATE_FILE).is_file():
        return path
    index_file = path / "checkpoints" / INDEX_FILE
    if not index_file.is_file():
        raise CheckpointError(f"{path} is neither an hnsx checkpoint nor a run folder with checkpoints/{INDEX_FILE}")
    try:
        index = json.loads(index_file.read_text())
        name = index.get(which) or index["latest"]
    except (json.JSONDecodeError, KeyError, AttributeError) as err:
        raise CheckpointError(f"{index_file} is corrupt ({err})") from None
    return path / "checkpoints" / name


class CheckpointDir:
    """The ``checkpoints/`` folder of a run: epoch, phase and best checkpoints plus ``index.json``."""

    def __init__(self, run_dir: str | os.PathLike, keep_last: int = 2) -> None:
        self.root = Path(run_dir) / "checkpoints"
        self.keep_last = max(1, int(keep_last))

    @property
    def index_file(self) -> Path:
        return self.root / INDEX_FILE

    def index(self) -> dict[str, Any]:
        if not self.index_file.is_file():
            return {}
        try:
            return json.loads(self.index_file.read_text())
        except json.JSONDecodeError as err:
            raise CheckpointError(f"{self.index_file} is corrupt ({err})") from None

    def update_index(self, **entries: Any) -> None:
        index = self.index()
        index.update(entries)
        write_json_atomic(self.index_file, index)

    def remove_stale(self) -> None:
        """Remove the temporary files and folders of writes that a killed process left unfinished; a previous
        checkpoint set aside for its replacement comes back when the replacement never arrived."""
        for old in self.root.glob(f".*{OLD_MARK}*"):
            original = self.root / old.name[1:].rsplit(OLD_MARK, 1)[0]
            if not original.exists():
                os.replace(old, original)
            else:
                shutil.rmtree(old, ignore_errors=True)
        for stale in self.root.glob(f".*{TMP_MARK}*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)

    def prune(self) -> None:
        """Remove old epoch checkpoints beyond ``keep_last`` (never the best or a phase checkpoint)."""
        index = self.index()
        protected = {index.get("best"), index.get("latest")}
        epochs = sorted(p.name for p in self.root.glob("epoch-*") if p.is_dir())
        for name in epochs[: -self.keep_last]:
            if name not in protected:
                shutil.rmtree(self.root / name, ignore_errors=True)
