"""Tabular modality: feature masks ``(B, F)``, a fitted schema (scaling, categorical codes), MLP hider and seeker.

Importing this package registers the ``"tabular"`` adapter and the ``"tabular-mlp"`` hider and seeker; it stays
cheap (scikit-learn and pandas are imported only where data are read or fitted).
"""

from hnsx.adapters.tabular.adapter import MaskedRows, TabularAdapter, masked_parts
from hnsx.adapters.tabular.hiders import tabular_mlp_hider
from hnsx.adapters.tabular.mlp import FeatureEncoder, TabularMLP
from hnsx.adapters.tabular.modality import TabularModality
from hnsx.adapters.tabular.schema import Column, TabularSchema
from hnsx.adapters.tabular.seekers import tabular_mlp_seeker

__all__ = [
    "TabularModality",
    "Column",
    "FeatureEncoder",
    "MaskedRows",
    "TabularAdapter",
    "TabularMLP",
    "TabularSchema",
    "masked_parts",
    "tabular_mlp_hider",
    "tabular_mlp_seeker",
]
