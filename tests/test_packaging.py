"""Packaging: the wheel holds every package of the checkout under its installed name, and the import guards.

``adapters/`` and ``benchmarks/`` are top-level folders of the checkout that setuptools installs as
``hnsx.adapters`` and ``hnsx.benchmarks``; pyproject.toml lists every package explicitly, so a new subpackage
that is not added there would silently be left out of the wheel. These tests discover the packages by walking
the checkout and fail when the wheel lacks one of them (or one of their modules).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Checkout folder -> installed package name.
SOURCE_ROOTS = {"hnsx": "hnsx", "adapters": "hnsx/adapters", "benchmarks": "hnsx/benchmarks"}
# Not copied into the build folder: environments, build outputs, caches, run outputs.
COPY_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "*.pyc", "runs", ".pytest_cache", ".ruff_cache"
)


def _source_packages() -> dict[Path, str]:
    """Every folder of the checkout's source roots holding an ``__init__.py``, mapped to its installed path."""
    packages: dict[Path, str] = {}
    for root_name, installed in SOURCE_ROOTS.items():
        root = REPO / root_name
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
            if "__init__.py" in filenames:
                rel = Path(dirpath).relative_to(root)
                packages[Path(dirpath)] = installed if rel == Path(".") else f"{installed}/{rel.as_posix()}"
    return packages


def _env_with_repo_on_path() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel once, from a clean copy of the checkout.

    A copy keeps the build from writing ``build/`` and ``*.egg-info`` into the checkout, and keeps stale files in
    an old ``build/lib`` from hiding a module that the current package list leaves out.
    """
    src = tmp_path_factory.mktemp("src") / "hnsx-src"
    shutil.copytree(REPO, src, ignore=COPY_IGNORE)
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out)]
        + [str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"pip wheel failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    wheels = sorted(out.glob("hnsx-*.whl"))
    assert len(wheels) == 1, f"expected one hnsx wheel in {out}, found {[w.name for w in out.iterdir()]}"
    return wheels[0]


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def test_source_walk_finds_the_known_packages() -> None:
    installed = set(_source_packages().values())
    assert {"hnsx", "hnsx/training", "hnsx/adapters", "hnsx/adapters/image", "hnsx/benchmarks"} <= installed


def test_every_source_package_is_in_the_wheel_under_its_installed_name(wheel_names: set[str]) -> None:
    missing = [
        f"{src.relative_to(REPO).as_posix()} (as {installed}/)"
        for src, installed in _source_packages().items()
        if f"{installed}/__init__.py" not in wheel_names
    ]
    assert not missing, (
        f"packages missing from the wheel (add them to [tool.setuptools] packages in pyproject.toml): {missing}"
    )


def test_every_module_of_every_package_is_in_the_wheel(wheel_names: set[str]) -> None:
    missing = [
        f"{file.relative_to(REPO).as_posix()} (as {installed}/{file.name})"
        for src, installed in _source_packages().items()
        for file in sorted(src.glob("*.py"))
        if f"{installed}/{file.name}" not in wheel_names
    ]
    assert not missing, f"modules missing from the wheel: {missing}"


def test_wheel_installs_only_the_hnsx_package(wheel_names: set[str]) -> None:
    # No top-level adapters/ or benchmarks/ (they would shadow or clash with other distributions), no tests.
    tops = {name.split("/", 1)[0] for name in wheel_names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"hnsx"}


def test_wheel_declares_the_hnsx_console_script(wheel: Path, wheel_names: set[str]) -> None:
    [entry_points] = [n for n in wheel_names if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    with zipfile.ZipFile(wheel) as zf:
        parser.read_string(zf.read(entry_points).decode())
    assert parser.has_section("console_scripts")
    assert parser.get("console_scripts", "hnsx").strip() == "hnsx.cli:main"


def test_unpacked_wheel_imports_its_subpackages(wheel: Path, tmp_path: Path) -> None:
    # A wheel is a zip of the installed tree: unpacked, it must import without the checkout.
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    code = (
        "import hnsx, hnsx.adapters.image, hnsx.benchmarks, hnsx.cli, hnsx.training.checkpoint\n"
        "for m in (hnsx, hnsx.adapters.image, hnsx.benchmarks): print(m.__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=site, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    files = [Path(line) for line in proc.stdout.split()]
    assert len(files) == 3
    for file in files:
        assert file.resolve().is_relative_to(site.resolve()), f"{file} was not imported from the unpacked wheel"


# ------------------------------------------------------------------------------------------------- import guards


@pytest.mark.parametrize(("folder", "installed"), [("adapters", "hnsx.adapters"), ("benchmarks", "hnsx.benchmarks")])
def test_folder_imported_under_its_checkout_name_raises_a_helpful_import_error(folder: str, installed: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", f"import {folder}"],
        cwd=REPO,
        env=_env_with_repo_on_path(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    # Exactly ImportError (the guard), not ModuleNotFoundError (the folder was not even found).
    assert last.startswith("ImportError:"), proc.stderr
    assert f"imported as '{installed}'" in last
    assert f"not '{folder}'" in last


def test_installed_names_import_from_the_checkout() -> None:
    code = "import hnsx.adapters.image, hnsx.benchmarks; print(hnsx.adapters.image.__name__, hnsx.benchmarks.__name__)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=_env_with_repo_on_path(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["hnsx.adapters.image", "hnsx.benchmarks"]
