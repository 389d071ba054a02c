"""The token-masker hider: a small transformer encoder giving one logit per word (or token).

``(B, 2, L)`` tokenized sentences -> ``(B, L)`` unit logits. The encoder scores every token; with
``word_level=True`` the logits of a word's pieces are averaged into one logit for the word (slot ``u`` of the output
is word ``u``), so every piece of a word gets the same decision, also under a stochastic binarizer. Slots past the
last unit are 0 (they are not valid units and never counted).

The token embeddings are the hider's own (``vocab_size`` x ``d_model``), or the seeker's input embeddings when
``share_embeddings=True``: :func:`hnsx.spec.build_model` then calls :meth:`TokenMaskerHider.bind_seeker`, which
keeps a reference to the seeker's embedding module (not registered as a submodule, so checkpoints store it once,
with the seeker) and projects its ``embedding_dim`` to ``d_model``.

With ``read_seeker=True`` the hider reads the seeker instead of learning language from scratch: it runs the
seeker's own encoder (:meth:`~hnsx.adapters.text.seekers.HFSeeker.encode`, e.g. a fine-tuned classifier's BERT) on
the unmasked input, always under ``torch.no_grad()`` (the hider's loss never trains the seeker through the states
it reads, frozen or not), projects the hidden states after layer ``read_layer`` (default: the last; ``embedding_dim``
wide) to ``d_model`` and puts its own encoder and output layer on them as a small trainable head. Like the shared
embeddings, the seeker's encoder is not a submodule of the hider: checkpoints hold the head, the seeker is saved once.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hnsx.adapters.text.adapter import PAD, pool_to_units, token_units
from hnsx.registry import HIDERS


class TokenMaskerHider(nn.Module):
    """A transformer encoder hider for tokenized text.

    Parameters
    ----------
    max_length:
        ``L``; positions are learned up to it.
    vocab_size:
        Vocabulary size of the hider's own embeddings (ignored with ``share_embeddings``).
    word_level:
        Pool token logits per word (must match the adapter's ``word_level``).
    d_model, layers, heads, ff, dropout:
        Size of the encoder.
    share_embeddings:
        Use the seeker's input embeddings (bound by :meth:`bind_seeker`) instead of own ones.
    read_seeker:
        Read the seeker's hidden states on the unmasked input (bound by :meth:`bind_seeker`) instead of token
        embeddings.
    embedding_dim:
        Width of the seeker's embeddings (``share_embeddings``) or hidden states (``read_seeker``).
    read_layer:
        With ``read_seeker``: read the hidden states after this layer of the seeker's encoder (0: its embedding
        layer's output); ``None`` reads the last ones. Specs made by :func:`seeker_reading` (the CLI,
        ``wrap_classifier``) give :func:`default_read_layer`.
    init_keep_logit:
        Initial bias of the output layer: a fresh hider keeps most words (``sigmoid(1) ~ 0.73``).
    """

    def __init__(
        self,
        max_length: int,
        vocab_size: int,
        word_level: bool = True,
        d_model: int = 64,
        layers: int = 2,
        heads: int = 4,
        ff: int = 128,
        dropout: float = 0.1,
        share_embeddings: bool = False,
        embedding_dim: int | None = None,
        init_keep_logit: float = 1.0,
        read_seeker: bool = False,
        read_layer: int | None = None,
    ) -> None:
        super().__init__()
        self.word_level = bool(word_level)
        self.share_embeddings = bool(share_embeddings)
        self.read_seeker = bool(read_seeker)
        check_reading(self.share_embeddings, self.read_seeker, read_layer)
        self.read_layer = None if read_layer is None else int(read_layer)
        # A plain list: the seeker's embedding (or encoder) is not a submodule of the hider.
        self._shared: list[nn.Module] = []
        if share_embeddings or read_seeker:
            if embedding_dim is None:
                what = "embeddings" if share_embeddings else "hidden states"
                raise ValueError(f"reading the seeker needs embedding_dim (the width of the seeker's {what})")
            self.embed = None
            self.project = nn.Linear(int(embedding_dim), d_model)
        else:
            self.embed = nn.Embedding(int(vocab_size), d_model)
            self.project = nn.Identity()
        self.position = nn.Embedding(int(max_length), d_model)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, 1)
        nn.init.constant_(self.head.bias, init_keep_logit)

    def bind_seeker(self, seeker: nn.Module) -> None:
        """Share ``seeker``'s input embeddings or read its encoder (called by :func:`hnsx.spec.build_model`; no-op
        when the hider has its own embeddings)."""
        if not (self.share_embeddings or self.read_seeker):
            return
        inner = getattr(seeker, "module", seeker)  # a FrozenModule wraps the seeker
        if self.read_seeker:
            if not callable(getattr(inner, "encode", None)):
                raise ValueError(
                    "read_seeker=True (--hider-reads-seeker) needs a Hugging Face text seeker whose encoder it can "
                    f"read (an HFSeeker around an AutoModelForSequenceClassification), not a {type(inner).__name__}"
                )
            inner.encoder()  # ValueError when the classifier has no encoder to read
            if self.read_layer is not None:
                inner.check_layer(self.read_layer)
            part, width, what = inner, inner.hidden_size, "hidden states"
        else:
            find = getattr(seeker, "input_embeddings", None) or getattr(inner, "input_embeddings", None)
            if find is None:
                raise ValueError("share_embeddings=True needs a text seeker with input_embeddings() (an HFSeeker)")
            part = find()
            width, what = part.embedding_dim, "embeddings"
        if width != self.project.in_features:
            raise ValueError(f"the seeker's {what} are {width} wide, the hider expects {self.project.in_features}")
        self._shared = [part]

    def token_features(self, x: torch.Tensor) -> torch.Tensor:
        """What the hider's encoder reads, ``(B, L, d_model)``: own or shared token embeddings, or the seeker's last
        hidden states on ``x``."""
        ids = x[:, 0]
        if self.embed is not None:
            return self.embed(ids)
        if not self._shared:
            raise RuntimeError("this hider reads the seeker but was never bound to a seeker")
        if not self.read_seeker:
            return self.project(self._shared[0](ids))
        with torch.no_grad():
            states = self._shared[0].encode(x, self.read_layer)
        return self.project(states.to(self.project.weight.dtype))

    def token_logits(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per token, ``(B, L)``; ``context (B, d_model)``, when given, is added to every token's input
        (the class pair of the contrastive hider, :mod:`hnsx.adapters.text.contrastive`)."""
        ids, words = x[:, 0], x[:, 1]
        positions = torch.arange(ids.shape[1], device=ids.device)
        h = self.token_features(x) + self.position(positions)
        if context is not None:
            h = h + context[:, None]
        h = self.encoder(h, src_key_padding_mask=words == PAD)
        return self.head(self.norm(h)).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 2, L)`` -> unit logits ``(B, L)``."""
        return pool_to_units(self.token_logits(x), token_units(x, self.word_level))


def check_reading(share_embeddings: bool, read_seeker: bool, read_layer: int | None = None) -> None:
    """Refuse a hider asked to share the seeker's embeddings and to read its hidden states at once, or to read a
    layer of a seeker it does not read (the messages name the Python arguments and the CLI flags)."""
    if share_embeddings and read_seeker:
        raise ValueError(
            "share_embeddings (--share-embeddings) and read_seeker (--hider-reads-seeker) exclude each other: "
            "the hider reads one of them"
        )
    if read_layer is not None and not read_seeker:
        raise ValueError(
            "read_layer (--hider-read-layer) picks the seeker's layer the hider reads: give read_seeker=True "
            "(--hider-reads-seeker) too"
        )


#: The layer a hider that reads the seeker reads by default, as a share of the encoder's depth (rounded): 4 of
#: MiniLM's 6, 8 of BERT-base's 12. The last layer's states of a fine-tuned classifier carry the review's class more
#: than each word's (docs/text.md, "On real reviews: kitchen").
READ_DEPTH = 2 / 3


def default_read_layer(num_layers: int) -> int:
    """The layer read by default (:data:`READ_DEPTH` of ``num_layers``, at least 1)."""
    return max(1, round(num_layers * READ_DEPTH))


def seeker_reading(
    seeker: nn.Module, *, share_embeddings: bool = False, read_seeker: bool = False, read_layer: int | None = None
) -> dict:
    """The token-masker arguments that make it share ``seeker``'s embeddings or read its hidden states (their width
    read from ``seeker``, an :class:`~hnsx.adapters.text.seekers.HFSeeker`; those after layer ``read_layer`` of its
    encoder, default :func:`default_read_layer`); ``{}`` for neither."""
    check_reading(share_embeddings, read_seeker, read_layer)
    if share_embeddings:
        return {"share_embeddings": True, "embedding_dim": int(seeker.input_embeddings().embedding_dim)}
    if read_seeker:
        layer = default_read_layer(seeker.num_layers) if read_layer is None else int(read_layer)
        seeker.check_layer(layer)
        return {"read_seeker": True, "embedding_dim": int(seeker.hidden_size), "read_layer": layer}
    return {}


@HIDERS.register("token-masker")
def token_masker(*, input_shape: Sequence[int], vocab_size: int, **kwargs) -> TokenMaskerHider:
    """The transformer token-masker hider for text of shape ``(2, L)``."""
    if len(input_shape) != 2 or int(input_shape[0]) != 2:
        raise ValueError(f"the token-masker hider takes text input of shape (2, L), got {tuple(input_shape)}")
    return TokenMaskerHider(int(input_shape[1]), vocab_size, **kwargs)
