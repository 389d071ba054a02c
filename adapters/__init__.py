"""Modality adapters of hnsx, installed as ``hnsx.adapters``.

This folder is the top-level ``adapters/`` of the hnsx checkout; setuptools maps it to ``hnsx.adapters``.
"""

if __name__ != "hnsx.adapters":
    raise ImportError(
        f"this folder is hnsx's adapters package and must be imported as 'hnsx.adapters', not {__name__!r}. "
        "Install hnsx (`pip install -e .` in a checkout, or `make install`) and use `import hnsx.adapters`."
    )
