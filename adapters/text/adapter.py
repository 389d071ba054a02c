"""The text adapter: masks over the words (or tokens) of a Hugging Face tokenizer's output.

Input layout
------------
A batch of sentences is one int64 tensor ``x`` of shape ``(B, 2, L)`` (see :func:`~hnsx.adapters.text.tokenize.
encode_texts`):

* ``x[:, 0]``: token ids, padded to ``L`` with the tokenizer's pad id;
* ``x[:, 1]``: the tokenizer's word id of each token (``BatchEncoding.word_ids``), :data:`SPECIAL` (-1) for special
  tokens ([CLS], [SEP], and special tokens typed inside the text) and :data:`PAD` (-2) for padding.

Mask units
----------
The mask has shape ``(B, L)``: slot ``u`` of row ``b`` is the ``u``-th *unit* of sentence ``b``. A unit is a word
(``word_level=True``, the default: every piece of a word shares one decision) or a single non-special token
(``word_level=False``). Slots that hold no unit (past the last word) are not valid; special tokens and padding are
no unit at all, so they are never counted in the kept fraction, and special tokens are always kept.

Filling
-------
:meth:`TextAdapter.apply_mask` returns a :class:`MaskedTokens` record, not a tensor: the token ids, a per-token keep
value (the unit's mask, 1 for special tokens), the fill token id and the attention mask. The seeker wrapper
(:class:`~hnsx.adapters.text.seekers.HFSeeker`) turns it into ``inputs_embeds = keep * E(ids) + (1 - keep) *
E(fill_id)``, so a hidden token's embedding is the mask token's (or pad token's) embedding and gradients reach the
hider through ``keep``. With ``attention="drop"`` hidden tokens are also removed from the attention mask: a kept
word's keep value still carries the gradient, but a hidden word's does not (nothing attends to it, so the loss does
not depend on it), and a deterministic binarizer's hidden word cannot come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from hnsx.adapter import ADAPTERS, Adapter, InputError

#: Word id of a special token in ``x[:, 1]``.
SPECIAL = -1
#: Word id of a padding token in ``x[:, 1]``.
PAD = -2
#: How hidden tokens are treated by attention: ``keep`` (attended, embedding replaced) or ``drop`` (not attended).
ATTENTION_MODES = ("keep", "drop")


@dataclass
class MaskedTokens:
    """What the seeker of a text Hide-and-Seek model receives.

    Attributes
    ----------
    input_ids:
        ``(B, L)`` int64 token ids.
    keep:
        ``(B, L)`` float keep value per token in {0, 1} (carries the hider's gradient); 1 for special tokens.
    fill_id:
        Token id whose embedding replaces hidden tokens (the mask or pad token).
    attention_mask:
        ``(B, L)`` int64, 1 for tokens the seeker attends to.
    """

    input_ids: torch.Tensor
    keep: torch.Tensor
    fill_id: int
    attention_mask: torch.Tensor

    @property
    def shape(self) -> torch.Size:
        return self.input_ids.shape


def token_units(x: torch.Tensor, word_level: bool = True) -> torch.Tensor:
    """Unit index of every token, ``(B, L)`` int64; -1 for special and padding tokens.

    Word level: the unit of a token is its word id. Token level: the non-special tokens are numbered 0, 1, ...
    """
    words = x[:, 1]
    real = words >= 0
    if word_level:
        return torch.where(real, words, torch.full_like(words, -1))
    index = real.long().cumsum(1) - 1
    return torch.where(real, index, torch.full_like(index, -1))


def pool_to_units(values: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """Mean of per-token ``values`` ``(B, L)`` over the tokens of each unit, as ``(B, L)`` unit slots (0 if empty)."""
    member = (units >= 0).to(values.dtype)
    index = units.clamp_min(0)
    sums = torch.zeros_like(values).scatter_add(1, index, values * member)
    counts = torch.zeros_like(values).scatter_add(1, index, member)
    return sums / counts.clamp_min(1.0)


@ADAPTERS.register("text")
class TextAdapter(Adapter):
    """Word or token masks over tokenized sentences ``x`` of shape ``(B, 2, L)`` (see the module docstring).

    Parameters
    ----------
    max_length:
        ``L``, the padded length of every sentence (special tokens included).
    vocab_size:
        Size of the tokenizer's vocabulary; larger token ids are rejected.
    pad_id:
        The tokenizer's pad token id.
    fill_id:
        Token id whose embedding replaces a hidden token (the mask token, or the pad token when there is none).
    word_level:
        One decision per word (default) or per token.
    attention:
        ``"keep"``: hidden tokens are still attended to (their embedding is the fill token's); ``"drop"``: they are
        also removed from the attention mask (then the loss gives a hidden word no gradient; see the module
        docstring).
    """

    name = "text"

    def __init__(
        self,
        max_length: int,
        vocab_size: int,
        pad_id: int,
        fill_id: int,
        word_level: bool = True,
        attention: str = "keep",
    ) -> None:
        super().__init__()
        if int(max_length) < 3:
            raise ValueError(f"max_length must be at least 3 (two special tokens and a word), got {max_length}")
        if attention not in ATTENTION_MODES:
            raise ValueError(f"unknown attention mode {attention!r}; choose one of: {', '.join(ATTENTION_MODES)}")
        for name, value in (("pad_id", pad_id), ("fill_id", fill_id)):
            if not 0 <= int(value) < int(vocab_size):
                raise ValueError(f"{name}={value} is outside the vocabulary of {vocab_size} tokens")
        self.max_length = int(max_length)
        self.vocab_size = int(vocab_size)
        self.pad_id = int(pad_id)
        self.fill_id = int(fill_id)
        self.word_level = bool(word_level)
        self.attention = attention

    @property
    def input_shape(self) -> tuple[int, int]:
        return (2, self.max_length)

    def validate(self, x: torch.Tensor) -> None:
        L = self.max_length
        if not isinstance(x, torch.Tensor):
            raise InputError(
                f"text input must be a tensor of shape (B, 2, {L}) from hnsx.adapters.text.encode_texts, "
                f"got {type(x).__name__}"
            )
        if x.dim() != 3 or x.shape[1] != 2 or x.shape[2] != L:
            raise InputError(
                f"text input must have shape (B, 2, {L}) (token ids and word ids, padded to max_length={L}); "
                f"got {tuple(x.shape)}; encode sentences with hnsx.adapters.text.encode_texts"
            )
        if x.dtype not in (torch.int64, torch.int32):
            raise InputError(f"text input must hold integer token ids, got dtype {x.dtype}")
        if x.numel() == 0:
            return
        ids, words = x[:, 0], x[:, 1]
        if int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size:
            raise InputError(
                f"token ids must lie in [0, {self.vocab_size}) (the tokenizer's vocabulary); "
                f"got ids from {int(ids.min())} to {int(ids.max())}: was the text encoded with another tokenizer?"
            )
        if int(words.min()) < PAD or int(words.max()) >= L:
            raise InputError(f"word ids must lie in [{PAD}, {L}); got {int(words.min())} to {int(words.max())}")
        empty = ((words >= 0).sum(1) == 0).nonzero().flatten()
        if empty.numel():
            raise InputError(
                f"sentence(s) {empty.tolist()[:10]} of the batch hold only special or padding tokens: "
                "nothing to explain"
            )

    def mask_shape(self, x: torch.Tensor) -> tuple[int, ...]:
        return (x.shape[0], x.shape[2])

    def units(self, x: torch.Tensor) -> torch.Tensor:
        """Unit index of every token ``(B, L)``, -1 for special and padding tokens (see :func:`token_units`)."""
        return token_units(x, self.word_level)

    def valid_units(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` float, 1 for slots holding a word (or token) of the sentence."""
        units = self.units(x)
        member = (units >= 0).float()
        return (torch.zeros_like(member).scatter_add(1, units.clamp_min(0), member) > 0).float()

    def token_keep(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-token keep values ``(B, L)`` from unit masks ``(B, L)``; special and padding tokens get 1."""
        units = self.units(x)
        per_token = mask.gather(1, units.clamp_min(0))
        return torch.where(units >= 0, per_token, torch.ones_like(per_token))

    def apply_mask(self, x: torch.Tensor, mask: torch.Tensor) -> MaskedTokens:
        keep = self.token_keep(x, mask.float())
        attention = (x[:, 1] != PAD).long()
        if self.attention == "drop":
            attention = attention * (keep.detach() > 0.5).long()
        return MaskedTokens(input_ids=x[:, 0], keep=keep, fill_id=self.fill_id, attention_mask=attention)

    def config(self) -> dict[str, Any]:
        return {
            "max_length": self.max_length,
            "vocab_size": self.vocab_size,
            "pad_id": self.pad_id,
            "fill_id": self.fill_id,
            "word_level": self.word_level,
            "attention": self.attention,
        }
