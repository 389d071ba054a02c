"""Benchmarks of hnsx, installed as ``hnsx.benchmarks``.

This folder is the top-level ``benchmarks/`` of the hnsx checkout; setuptools maps it to ``hnsx.benchmarks``.
"""

if __name__ != "hnsx.benchmarks":
    raise ImportError(
        f"this folder is hnsx's benchmarks package and must be imported as 'hnsx.benchmarks', not {__name__!r}. "
        "Install hnsx (`pip install -e .` in a checkout, or `make install`) and use `import hnsx.benchmarks`."
    )


def __getattr__(name: str):
    """``hnsx.benchmarks.compare`` (:mod:`hnsx.benchmarks.comparison`), imported when first used."""
    if name in ("compare", "Comparison"):
        from hnsx.benchmarks import comparison as module

        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
