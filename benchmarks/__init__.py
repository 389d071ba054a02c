"""Benchmarks of hnsx, installed as ``hnsx.benchmarks``.

This folder is the top-level ``benchmarks/`` of the hnsx checkout; setuptools maps it to ``hnsx.benchmarks``.
"""

if __name__ != "hnsx.benchmarks":
    raise ImportError(
        f"this folder is hnsx's benchmarks package and must be imported as 'hnsx.benchmarks', not {__name__!r}. "
        "Install hnsx (`pip install -e .` in a checkout, or `make install`) and use `import hnsx.benchmarks`."
    )
