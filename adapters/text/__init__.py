"""Text modality: word (or token) masks over Hugging Face tokenizers, a transformer token-masker hider, and any
``AutoModelForSequenceClassification`` as seeker.

Importing this package is cheap: ``transformers``, ``tokenizers`` and ``datasets`` are imported inside the functions
that need them (the registries import every modality on their first lookup).
"""

from hnsx.adapters.text.adapter import PAD, SPECIAL, MaskedTokens, TextAdapter, token_units
from hnsx.adapters.text.hiders import TokenMaskerHider
from hnsx.adapters.text.modality import TextModality
from hnsx.adapters.text.seekers import HFSeeker, bundled_minilm
from hnsx.adapters.text.tokenize import encode_texts
from hnsx.adapters.text.windows import explain_texts

__all__ = [
    "TextModality",
    "PAD",
    "SPECIAL",
    "HFSeeker",
    "MaskedTokens",
    "TextAdapter",
    "TokenMaskerHider",
    "bundled_minilm",
    "encode_texts",
    "explain_texts",
    "token_units",
]
