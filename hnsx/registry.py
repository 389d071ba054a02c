"""A small named registry filled by a decorator (``@REGISTRY.register("name")``).

Every pluggable family in hnsx (binarizers, hiders, seekers, adapters) is a :class:`Registry`, so the CLI,
the checkpoint loader and the tests can list and build entries by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from importlib import import_module
from typing import Any, Generic, TypeVar

T = TypeVar("T")


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
        # Modules that register the built-in entries; imported on the first lookup (they import this module),
        # so they must stay cheap to import (heavy libraries are imported inside the builders).
        self._builtins = (builtins,) if isinstance(builtins, str) else tuple(builtins)

    def _load_builtins(self) -> None:
        modules, self._builtins = self._builtins, ()
        for module in modules:
            import_module(module)

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator adding a builder under ``name``; registering a name twice raises ``ValueError``."""

        def decorator(builder: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = builder
            return builder

        return decorator

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

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


#: The modules that register the built-in adapters, hiders and seekers, one per modality.
BUILTIN_MODALITIES = ("hnsx.adapters.image",)

#: Hider builders: ``builder(*, input_shape, **kwargs) -> nn.Module`` returning mask logits.
HIDERS: Registry = Registry("hider", builtins=BUILTIN_MODALITIES)
#: Seeker builders: ``builder(*, input_shape, num_classes, **kwargs) -> nn.Module`` returning class logits.
SEEKERS: Registry = Registry("seeker", builtins=BUILTIN_MODALITIES)
