"""Re-initialising a trained model layer by layer, for the model-randomisation sanity checks
(:mod:`hnsx.benchmarks.sanity`).

A *layer group* (:func:`layer_groups`) is a module with parameters of its own, merged with the other modules of the
same element of a numbered container (``features.3``; a whole transformer block ``encoder.layer.1``).
Every module of a group is re-initialised with its own ``reset_parameters()``, on a deep copy, so the trained model is
never changed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence

import torch
from torch import nn

_NUMBERED = re.compile(r"^\d+$")


def _group_key(name: str) -> str:
    parts = name.split(".")
    for i, part in enumerate(parts):
        if _NUMBERED.match(part):
            return ".".join(parts[: i + 1])
    return name


def layer_groups(model: nn.Module) -> list[tuple[str, list[str]]]:
    """``(group name, module names)`` of ``model``'s modules that hold parameters of their own, in registration order
    (first = nearest the input); see the module docstring for the grouping."""
    groups: dict[str, list[str]] = {}
    for name, module in model.named_modules():
        if name and any(True for _ in module.parameters(recurse=False)):
            groups.setdefault(_group_key(name), []).append(name)
    if not groups:
        raise ValueError(f"{type(model).__name__} has no parameters to randomise")
    return list(groups.items())


def reset_module(module: nn.Module) -> None:
    """Re-initialise ``module``'s own parameters with its ``reset_parameters()`` (or ``_reset_parameters()``)."""
    for method in ("reset_parameters", "_reset_parameters"):
        fn = getattr(module, method, None)
        if callable(fn):
            fn()
            return
    raise ValueError(
        f"{type(module).__name__} holds parameters but has no reset_parameters(): it cannot be re-initialised"
    )


@torch.no_grad()
def randomise_groups(model: nn.Module, groups: Sequence[str], seed: int = 0) -> nn.Module:
    """A deep copy of ``model`` with the modules of the named groups (from :func:`layer_groups`) re-initialised.

    The original is untouched. Raises ``ValueError`` for an unknown group name.
    """
    known = dict(layer_groups(model))
    unknown = [g for g in groups if g not in known]
    if unknown:
        raise ValueError(f"unknown layer group(s) {unknown}; choose from {list(known)}")
    changed = copy.deepcopy(model)
    modules = dict(changed.named_modules())
    torch.manual_seed(seed)
    for group in groups:
        for name in known[group]:
            reset_module(modules[name])
    return changed


def cascade(groups: Sequence[str]) -> list[list[str]]:
    """Cascading randomisation steps, from the last group (the output) down: ``[[g_n], [g_n, g_n-1], ...]``."""
    top_down = list(reversed(groups))
    return [top_down[: i + 1] for i in range(len(top_down))]


__all__ = ["cascade", "layer_groups", "randomise_groups", "reset_module"]
