"""The modality contract: everything the rest of hnsx needs to know about one kind of input, in one object.

A modality (image, text, tabular, or one of your own: audio, time series, ...) is a subclass of :class:`Modality`
registered by name in :data:`MODALITIES`::

    from hnsx.modality import MODALITIES, Modality

    @MODALITIES.register("audio")
    class Audio(Modality):
        adapter = "audio"            # an ADAPTERS entry
        default_hider = "audio-cnn"  # HIDERS / SEEKERS entries of this modality
        default_seeker = "audio-cnn"
        ...

The core never branches on a modality's name: the CLI, the training pipeline, the benchmarks and the studies ask the
registered object (:func:`get_modality`). The built-in modalities live in ``hnsx.adapters.<name>`` and are imported
on the first lookup of any registry. See ``docs/extending.md`` for a complete new modality.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from hnsx.registry import BUILTIN_MODALITIES, Registry

#: Modality classes by name; :func:`get_modality` returns one shared instance of each.
MODALITIES: Registry[Modality] = Registry("modality", builtins=BUILTIN_MODALITIES)

_INSTANCES: dict[str, Modality] = {}


def get_modality(name: str) -> Modality:
    """The registered modality ``name`` (one instance per name); an unknown name raises ``ValueError``."""
    cls = MODALITIES.get(name)
    instance = _INSTANCES.get(name)
    if instance is None or type(instance) is not cls:
        instance = _INSTANCES[name] = cls()
        instance.name = name
    return instance


def modality_names() -> list[str]:
    """Names of every registered modality, sorted."""
    return MODALITIES.names()


class Modality:
    """What hnsx needs to know about one kind of input.

    Class attributes
    ----------------
    name:
        Filled in from the registry name.
    adapter:
        The :data:`~hnsx.adapter.ADAPTERS` entry that masks this modality's inputs.
    default_hider, default_seeker:
        Builder names (:data:`~hnsx.registry.HIDERS`, :data:`~hnsx.registry.SEEKERS`) used when the user names none.
    default_dataset:
        The built-in data set ``hnsx train`` uses without ``--dataset`` / ``--data-file``.
    bench_module:
        Dotted name of the module with this modality's benchmark hooks (see :meth:`bench`), or ``None``.
    """

    name: str = ""
    adapter: str = ""
    default_hider: str = ""
    default_seeker: str = ""
    default_dataset: str | None = None
    bench_module: str | None = None

    # -- builders -------------------------------------------------------------------------------------------------
    def hiders(self) -> list[str]:
        """Names of the hider builders that fit this modality."""
        from hnsx.registry import HIDERS

        return HIDERS.names(self.name)

    def seekers(self) -> list[str]:
        """Names of the seeker builders that fit this modality."""
        from hnsx.registry import SEEKERS

        return SEEKERS.names(self.name)

    # -- command line ---------------------------------------------------------------------------------------------
    def add_options(self, parser: Any) -> None:
        """Add this modality's own options of ``hnsx train`` to ``parser`` (an argparse parser or group)."""

    def train(self, args: Any) -> int:
        """``hnsx train --modality NAME``: train from the parsed arguments, write the run folder; the exit code."""
        raise ValueError(f"hnsx train does not support --modality {self.name}")

    def demo(self, args: Any) -> int:
        """``hnsx demo --modality NAME``; the exit code."""
        raise ValueError(f"hnsx demo has no demo for --modality {self.name}")

    def explain(self, args: Any, model: Any) -> int:
        """``hnsx explain`` with a trained ``model`` of this modality on ``args.inputs``; the exit code."""
        raise ValueError(f"hnsx explain cannot explain {self.name} inputs")

    # -- training -------------------------------------------------------------------------------------------------
    def pretrain_target(self, x: Any) -> Any:
        """The target the hider reconstructs when pretrained as an autoencoder (``--init pretrained-hider``):
        ``(B, *mask_shape)`` in [0, 1]. Modalities without one raise ``ValueError``."""
        raise ValueError(
            f"--init pretrained-hider pretrains the hider as an autoencoder, which {self.name} inputs do not have; "
            "use --init scratch or pretrained-seeker"
        )

    # -- benchmarks -----------------------------------------------------------------------------------------------
    def bench(self) -> Any:
        """This modality's benchmark hooks (the module named by :attr:`bench_module`); ``ValueError`` if none."""
        if self.bench_module is None:
            raise ValueError(f"the benchmarks do not support --modality {self.name}")
        return import_module(self.bench_module)
