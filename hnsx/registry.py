"""A small named registry filled by a decorator (``@REGISTRY.register("name")``).

Every pluggable family in hnsx (binarizers, hiders, seekers, adapters) is a :class:`Registry`, so the CLI,
the checkpoint loader and the tests can list and build entries by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from importlib import import_module
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _modality_of(builder: Callable) -> str | None:
    """``"image"`` for a builder defined in ``hnsx.adapters.image...``; ``None`` elsewhere."""
    parts = getattr(builder, "__module__", "").split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["hnsx", "adapters"] else None


class Registry(Generic[T]):
    """Maps names to builders (classes or functions) of one family.

    Parameters
    ----------
    kind:
        What the entries are ("binarizer", "hider", ...); used in error messages.
    """

    def __init__(self, kind: str, builtins: str | Sequence[str] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}
        self._modalities: dict[str, str | None] = {}
        # Modules that register the built-in entries; imported on the first lookup (they import this module),
        # so they must stay cheap to import (heavy libraries are imported inside the builders).
        self._builtins = (builtins,) if isinstance(builtins, str) else tuple(builtins)

    def _load_builtins(self) -> None:
        modules, self._builtins = self._builtins, ()
        if modules == BUILTIN_MODALITIES:
            modules = (*modules, *plugin_modules())
        for module in modules:
            import_module(module)

    def register(self, name: str, modality: str | None = None) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator adding a builder under ``name``; registering a name twice raises ``ValueError``.

        ``modality`` ("image", "text", "tabular", ...) tags the entry so that :meth:`names` can list one modality's
        entries; without it, a builder defined in ``hnsx.adapters.<modality>`` is tagged with that modality.
        """

        def decorator(builder: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = builder
            self._modalities[name] = modality or _modality_of(builder)
            return builder

        return decorator

    def unregister(self, name: str) -> None:
        """Remove the entry ``name`` (a plug-in unloading itself, or a test's temporary entry)."""
        self._load_builtins()
        if name not in self._entries:
            raise ValueError(f"{self.kind} {name!r} is not registered")
        del self._entries[name], self._modalities[name]

    def get(self, name: str) -> Callable[..., T]:
        """The builder registered as ``name``; an unknown name raises ``ValueError`` listing the choices."""
        self._load_builtins()
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}; choose one of: {', '.join(sorted(self._entries))}"
            ) from None

    def build(self, name: str, /, **kwargs: Any) -> T:
        """Build the entry ``name`` with keyword arguments."""
        return self.get(name)(**kwargs)

    def names(self, modality: str | None = None) -> list[str]:
        """Sorted entry names, all of them or only those of ``modality``."""
        self._load_builtins()
        return sorted(n for n in self._entries if modality is None or self._modalities[n] == modality)

    def modality(self, name: str) -> str | None:
        """The modality tag of the entry ``name`` (``None`` for entries of every modality)."""
        self.get(name)
        return self._modalities[name]

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


#: The modules that register the built-in adapters, hiders and seekers, one per modality.
BUILTIN_MODALITIES = ("hnsx.adapters.image", "hnsx.adapters.tabular", "hnsx.adapters.text")
#: Entry-point group of installed packages that add modalities: ``[project.entry-points."hnsx.modalities"]
#: audio = "my_package.audio"`` makes every registry import ``my_package.audio`` with the built-in modalities.
PLUGIN_GROUP = "hnsx.modalities"


def plugin_modules() -> tuple[str, ...]:
    """The modules that installed packages declare under the :data:`PLUGIN_GROUP` entry points."""
    from importlib.metadata import entry_points

    return tuple(ep.value for ep in entry_points(group=PLUGIN_GROUP))


#: Hider builders: ``builder(*, input_shape, **kwargs) -> nn.Module`` returning mask logits.
HIDERS: Registry = Registry("hider", builtins=BUILTIN_MODALITIES)
#: Seeker builders: ``builder(*, input_shape, num_classes, **kwargs) -> nn.Module`` returning class logits.
SEEKERS: Registry = Registry("seeker", builtins=BUILTIN_MODALITIES)
