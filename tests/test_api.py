"""The top-level API: what ``hnsx`` exports, and that importing it stays light (no adapter, no Accelerate)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hnsx
from hnsx.adapters.image.spec import image_spec
from hnsx.adapters.tabular.spec import tabular_spec
from hnsx.adapters.text.spec import text_spec
from hnsx.spec import ModelSpec, build_model
from hnsx.training import TrainConfig, fit

EXPORTED = {
    "ModelSpec": ModelSpec,
    "build_model": build_model,
    "image_spec": image_spec,
    "text_spec": text_spec,
    "tabular_spec": tabular_spec,
    "TrainConfig": TrainConfig,
    "fit": fit,
}


@pytest.mark.parametrize("name", sorted(EXPORTED))
def test_exported_from_the_top_level(name):
    assert name in hnsx.__all__
    assert getattr(hnsx, name) is EXPORTED[name]
    assert name in dir(hnsx)


def test_every_name_in_all_resolves():
    assert all(getattr(hnsx, name) is not None for name in hnsx.__all__)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        hnsx.not_there  # noqa: B018


def test_import_hnsx_imports_no_adapter_and_no_accelerate():
    code = (
        "import sys, hnsx; "
        "print(sorted(m for m in sys.modules if m.startswith(('hnsx.adapters', 'hnsx.benchmarks', 'accelerate'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
