"""A small named registry filled by a decorator (``@REGISTRY.register("name")``).

Every pluggable family in hnsx (binarizers, hiders, seekers, adapters) is a :class:`Registry`, so the CLI,
the checkpoint loader and the tests can list and build entries by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to builders (classes or functions) of one family.

    Parameters
    ----------
    kind:
        What the entries are ("binarizer", "hider", ...); used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Callable[..., T]] = {}

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
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


#: Hider builders: ``builder(*, input_shape, **kwargs) -> nn.Module`` returning mask logits.
HIDERS: Registry = Registry("hider")
#: Seeker builders: ``builder(*, input_shape, num_classes, **kwargs) -> nn.Module`` returning class logits.
SEEKERS: Registry = Registry("seeker")
