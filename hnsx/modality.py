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

#: The modality of ``hnsx train`` / ``hnsx demo`` without ``--modality``, and of :func:`hnsx.wrap.wrap_classifier`
#: when no modality claims its options.
DEFAULT_MODALITY = "image"

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


def modality_of(adapter: Any) -> Modality:
    """The modality whose :attr:`Modality.adapter` built ``adapter`` (an :class:`~hnsx.adapter.Adapter`)."""
    name = getattr(adapter, "name", "")
    for modality in modality_names():
        if get_modality(modality).adapter == name:
            return get_modality(modality)
    raise ValueError(f"no registered modality uses the adapter {name!r}")


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
    train_defaults:
        ``hnsx train`` settings (argument names, e.g. ``{"target_kept": 0.2}``) that this modality's runs use
        unless the command line gives them: the modality's recipe where the core's defaults do not fit it. They
        replace the parser's defaults before parsing (:func:`hnsx.cli.train.apply_modality_defaults`), so
        ``--help`` with ``--modality`` shows them and any option given wins.
    """

    name: str = ""
    adapter: str = ""
    default_hider: str = ""
    default_seeker: str = ""
    default_dataset: str | None = None
    bench_module: str | None = None
    train_defaults: dict[str, Any] = {}  # noqa: RUF012 - read-only; subclasses replace it

    # -- builders -------------------------------------------------------------------------------------------------
    def hiders(self) -> list[str]:
        """Names of the hider builders that fit this modality."""
        from hnsx.registry import HIDERS

        return HIDERS.names(self.name)

    def train_defaults_for(self, argv: list[str]) -> dict[str, Any]:
        """The :attr:`train_defaults` of the command line ``argv``: a modality may fit them to the options given
        (text: a frozen seeker is not pretrained). Default: :attr:`train_defaults` as they are."""
        return dict(self.train_defaults)

    def seekers(self) -> list[str]:
        """Names of the seeker builders that fit this modality."""
        from hnsx.registry import SEEKERS

        return SEEKERS.names(self.name)

    def resolve_builder(self, kind: str, value: str | None) -> str:
        """The hider or seeker (``kind``) named on the command line, or this modality's default for ``None``.

        A builder of another modality is refused with a message that lists this modality's own builders.
        """
        if value is None:
            return self.default_hider if kind == "hider" else self.default_seeker
        allowed = self.hiders() if kind == "hider" else self.seekers()
        if value not in allowed:
            article = "an" if self.name[:1] in "aeiou" else "a"
            raise ValueError(
                f"--{kind} {value!r} is not {article} {self.name} {kind}; choose one of: {', '.join(allowed)}"
            )
        return value

    def example(self, hider: str | None = None, seeker: str | None = None, *, num_classes: int = 3) -> Any:
        """A tiny model spec with these builders (defaults: the modality's) and a batch of 4 valid inputs,
        ``(spec, inputs)``: what the tests that loop over every registered builder construct, run and train."""
        raise NotImplementedError(f"the {self.name} modality has no example")

    # -- command line ---------------------------------------------------------------------------------------------
    #: Dotted name of a module with this modality's command functions ``add_options(parser)``, ``train(args)``,
    #: ``demo(args)`` and ``explain(args, model)`` (each optional); a subclass may override the methods instead.
    commands_module: str | None = None

    def _command(self, name: str) -> Any:
        module = import_module(self.commands_module) if self.commands_module else None
        return getattr(module, name, None)

    def _required(self, name: str, missing: str) -> Any:
        """The commands module's ``name``; ``ValueError(missing)`` when the modality has none."""
        command = self._command(name)
        if command is None:
            raise ValueError(missing)
        return command

    def add_options(self, parser: Any) -> None:
        """Add this modality's own options of ``hnsx train`` to ``parser`` (an argparse parser).

        Every modality's options are added to the one ``hnsx train`` parser, each modality in its own argument
        group, so an option name may belong to one modality only.
        """
        command = self._command("add_options")
        if command is not None:
            command(parser)

    def train(self, args: Any) -> int:
        """``hnsx train --modality NAME``: train from the parsed arguments, write the run folder; the exit code.

        The commands module's ``train(args)`` when it has one; otherwise :meth:`load_data` and :meth:`build_spec`
        feed :func:`hnsx.pipeline.run_training`, which writes ``metrics.json``, ``history.jsonl`` and checkpoints,
        and :meth:`finish_run` adds what the modality reports beyond them.
        """
        command = self._command("train")
        if command is not None:
            return command(args)
        from accelerate import PartialState

        from hnsx.pipeline import print_summary, run_training
        from hnsx.training.config import TrainConfig

        config = TrainConfig.build(args)  # bad settings fail before the data is read
        data = self.load_data(args)
        spec = self.build_spec(data, args)
        if PartialState().is_main_process:
            self.start_run(data, args)
        result = run_training(data, spec, config, args.out, resume=args.resume)
        if result.fit.is_main_process:
            metrics, lines = self.finish_run(result, data, args)
            print_summary(metrics)
            print("\n".join(lines))
        return 0

    def load_data(self, args: Any) -> Any:
        """The :class:`~hnsx.data.SplitData` named by ``hnsx train``'s data options (``args.dataset``,
        ``data_file``, ``data_dir``, ``download``, ``limit``, ``seed`` and the modality's own); ``args`` is the
        parsed command line or any object with those attributes (a study's settings)."""
        return self._required("load_data", f"hnsx cannot load {self.name} data")(args)

    def load_run_data(self, args: Any, model: Any, checkpoint: Any) -> Any:
        """The data of ``args`` (as :meth:`load_data`) prepared for ``model``, a trained model of this modality read
        from ``checkpoint`` (``hnsx bench --checkpoint``): the commands module's ``load_run_data`` when it has one
        (text: encoded with the run's tokenizer, at the model's length and word level), else :meth:`load_data`."""
        command = self._command("load_run_data")
        if command is None:
            return self.load_data(args)
        return command(args, model, checkpoint)

    def start_run(self, data: Any, args: Any) -> None:
        """Before ``hnsx train`` trains (main process): write what ``hnsx explain`` needs beside the checkpoints
        besides the model (text: ``tokenizer/`` and ``classes.json``), so that a run stopped early can be explained.
        The commands module's ``start_run`` when it has one; nothing otherwise."""
        command = self._command("start_run")
        if command is not None:
            command(data, args)

    def finish_run(self, result: Any, data: Any, args: Any) -> tuple[dict, list[str]]:
        """After ``hnsx train`` (main process only): the metrics to print, and the lines printed after them.

        ``result`` is :class:`hnsx.pipeline.RunResult`. The commands module's ``finish_run`` when it has one
        (text: tokenizer files, rationale scores, highlights; tables: selection scores on the switch set).
        """
        command = self._command("finish_run")
        if command is not None:
            return command(result, data, args)
        return result.metrics, [f"wrote {args.out}/metrics.json, history.jsonl and checkpoints/"]

    def build_spec(self, data: Any, args: Any) -> Any:
        """The :class:`~hnsx.spec.ModelSpec` for ``data`` with ``hnsx train``'s builder options (``args.hider`` and
        ``args.seeker`` already resolved, ``binarizer``, ``estimator``, ``slope_rate``, ``slope_cap``, ...)."""
        return self._required("build_spec", f"hnsx cannot build a {self.name} model")(data, args)

    def demo(self, args: Any) -> int:
        """``hnsx demo --modality NAME``; the exit code."""
        return self._required("demo", f"hnsx demo has no demo for --modality {self.name}")(args)

    #: Whether :meth:`explain` answers ``hnsx explain --contrast CLASS`` (``args.contrast``, ``args.generator``).
    explains_contrast: bool = False
    #: Whether :meth:`explain` reads ``hnsx explain --stride TOKENS`` (``args.stride``: windows over long inputs).
    explains_windows: bool = False

    def explain(self, args: Any, model: Any) -> int:
        """``hnsx explain`` with a trained ``model`` of this modality on ``args.inputs``; the exit code."""
        return self._required("explain", f"hnsx explain cannot explain {self.name} inputs")(args, model)

    def train_generator(self, args: Any) -> int:
        """``hnsx train-generator --modality NAME``: train the generative model of contrastive explanations (data
        options as :meth:`load_data`, plus ``latent_dim``, ``hidden``, ``epochs``, ``batch_size``, ``lr``,
        ``seed``, ``out``); the exit code. The commands module's ``train_generator`` when it has one."""
        return self._required("train_generator", f"hnsx train-generator has no generator for --modality {self.name}")(
            args
        )

    def train_contrastive(self, args: Any, model: Any) -> int:
        """``hnsx train-contrastive --checkpoint RUN``: train the contrastive explainer of ``model`` (the run's
        trained model) and store it in the run folder for :meth:`explain` (data options as :meth:`load_data`, plus
        ``target_kept``, ``alpha``, ``epochs``, ``batch_size``, ``lr``, ``width``, ``seed``, ``overwrite``,
        ``no_progress``); the exit code. The commands module's ``train_contrastive`` when it has one."""
        message = f"hnsx train-contrastive has no contrastive explainer for {self.name} models"
        return self._required("train_contrastive", message)(args, model)

    # -- training -------------------------------------------------------------------------------------------------
    #: Whether the modality's adapter has a hider pretraining target (:meth:`hnsx.adapter.Adapter.pretrain_target`,
    #: for ``--init pretrained-hider`` / ``both``).
    pretrains_hider: bool = False

    def no_pretraining_message(self, init: str) -> str:
        return (
            f"--init {init} pretrains the hider as an autoencoder, which {self.name} inputs do not have; "
            f"{self.name} uses --init scratch or pretrained-seeker"
        )

    def check_checkpoint_spec(self, spec: Any, **allowed: Any) -> None:
        """Refuse a :class:`~hnsx.spec.ModelSpec` read from a checkpoint whose builders would fetch or run code
        (``ValueError``); ``allowed`` holds what the user permitted on the command line (``allow_models``,
        ``trust_remote_code``). Modalities whose builders never load anything need not override it."""

    def claims_wrap(self, options: dict[str, Any]) -> bool:
        """Whether :func:`hnsx.wrap.wrap_classifier` called with these keyword ``options`` means this modality."""
        return False

    def wrap(self, classifier: Any, input_shape: Any = None, *, freeze: bool = False, **options: Any) -> Any:
        """A Hide-and-Seek model and its spec around a user's ``classifier`` (:func:`hnsx.wrap.wrap_classifier`)."""
        raise ValueError(f"wrapping a classifier is not supported for {self.name} inputs")

    #: Side lengths of the square blocks that random masks are drawn in (the label-encoding evaluator's training
    #: masks, :func:`hnsx.training.evaluator.random_masks`); ``(1,)``: unit by unit.
    mask_blocks: tuple[int, ...] = (1,)

    # -- benchmarks -----------------------------------------------------------------------------------------------
    def bench(self) -> Any:
        """This modality's benchmark hooks (the module named by :attr:`bench_module`); ``ValueError`` if none."""
        if self.bench_module is None:
            raise ValueError(f"the benchmarks do not support --modality {self.name}")
        return import_module(self.bench_module)
