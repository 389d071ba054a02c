"""The token-masker hider: a small transformer encoder giving one logit per word (or token).

``(B, 2, L)`` tokenized sentences -> ``(B, L)`` unit logits. The encoder scores every token; with
``word_level=True`` the logits of a word's pieces are averaged into one logit for the word (slot ``u`` of the output
is word ``u``), so every piece of a word gets the same decision, also under a stochastic binarizer. Slots past the
last unit are 0 (they are not valid units and never counted).

The token embeddings are the hider's own (``vocab_size`` x ``d_model``), or the seeker's input embeddings when
``share_embeddings=True``: :func:`hnsx.spec.build_model` then calls :meth:`TokenMaskerHider.bind_seeker`, which
keeps a reference to the seeker's embedding module (not registered as a submodule, so checkpoints store it once,
with the seeker) and projects its ``embedding_dim`` to ``d_model``.
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
    embedding_dim:
        Width of the seeker's embeddings when sharing them.
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
    ) -> None:
        super().__init__()
        self.word_level = bool(word_level)
        self.share_embeddings = bool(share_embeddings)
        self._shared: list[nn.Module] = []  # a plain list: the seeker's embedding is not a submodule of the hider
        if share_embeddings:
            if embedding_dim is None:
                raise ValueError("share_embeddings=True needs embedding_dim (the width of the seeker's embeddings)")
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
        """Share ``seeker``'s input embeddings (called by :func:`hnsx.spec.build_model`; no-op without sharing)."""
        if not self.share_embeddings:
            return
        inner = getattr(seeker, "module", seeker)  # a FrozenModule wraps the seeker
        find = getattr(seeker, "input_embeddings", None) or getattr(inner, "input_embeddings", None)
        if find is None:
            raise ValueError("share_embeddings=True needs a text seeker with input_embeddings() (an HFSeeker)")
        embedding = find()
        if embedding.embedding_dim != self.project.in_features:
            raise ValueError(
                f"the seeker's embeddings are {embedding.embedding_dim} wide, "
                f"the hider expects {self.project.in_features}"
            )
        self._shared = [embedding]

    def token_embeddings(self, ids: torch.Tensor) -> torch.Tensor:
        if self.embed is not None:
            return self.embed(ids)
        if not self._shared:
            raise RuntimeError("this hider shares the seeker's embeddings but was never bound to a seeker")
        return self.project(self._shared[0](ids))

    def token_logits(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """One logit per token, ``(B, L)``; ``context (B, d_model)``, when given, is added to every token's input
        (the class pair of the contrastive hider, :mod:`hnsx.adapters.text.contrastive`)."""
        ids, words = x[:, 0], x[:, 1]
        positions = torch.arange(ids.shape[1], device=ids.device)
        h = self.token_embeddings(ids) + self.position(positions)
        if context is not None:
            h = h + context[:, None]
        h = self.encoder(h, src_key_padding_mask=words == PAD)
        return self.head(self.norm(h)).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 2, L)`` -> unit logits ``(B, L)``."""
        return pool_to_units(self.token_logits(x), token_units(x, self.word_level))


@HIDERS.register("token-masker")
def token_masker(*, input_shape: Sequence[int], vocab_size: int, **kwargs) -> TokenMaskerHider:
    """The transformer token-masker hider for text of shape ``(2, L)``."""
    if len(input_shape) != 2 or int(input_shape[0]) != 2:
        raise ValueError(f"the token-masker hider takes text input of shape (2, L), got {tuple(input_shape)}")
    return TokenMaskerHider(int(input_shape[1]), vocab_size, **kwargs)
