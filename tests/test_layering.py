"""The layering of the code: the core (hnsx/) imports nothing above it, adapters never import the command line,
and no two modules import each other (directly or through others), even inside functions.

Modules are read as source (``ast``), so imports inside functions count as much as those at the top. The core
reaches the built-in modalities and benchmarks only by module name through the registries' lazy loading
(``hnsx.registry.BUILTIN_MODALITIES``), and ``hnsx/__init__.py`` names a few public classes of the adapters in its
lazy ``__getattr__`` table (``hnsx.HnSClassifier``, the spec builders) so that users can import them from ``hnsx``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Package name -> folder, as pyproject.toml maps them.
FOLDERS = {"hnsx": ROOT / "hnsx", "hnsx.adapters": ROOT / "adapters", "hnsx.benchmarks": ROOT / "benchmarks"}


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The hnsx modules that ``name`` imports (``from a.b import c`` counts ``a.b.c`` when it is a module)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _core(name: str) -> bool:
    return name == "hnsx" or (name.startswith("hnsx.") and not name.startswith(("hnsx.adapters", "hnsx.benchmarks")))


def test_the_module_list_covers_every_layer():
    assert {"hnsx.modality", "hnsx.cli", "hnsx.adapters.image.modality", "hnsx.benchmarks"} <= set(MODULES)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _core(n)))
def test_the_core_imports_no_adapter_and_no_benchmark(name):
    upward = sorted(m for m in GRAPH[name] if not _core(m))
    assert not upward, f"{name} imports {upward}: the core reaches modalities and benchmarks through the registries"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("hnsx.adapters")))
def test_adapters_never_import_the_command_line(name):
    cli = sorted(m for m in GRAPH[name] if m == "hnsx.cli" or m.startswith("hnsx.cli."))
    assert not cli, f"{name} imports {cli}"


def _cycle_from(start: str) -> list[str] | None:
    stack, path, on_path = [(start, iter(sorted(GRAPH[start])))], [start], {start}
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            on_path.discard(path.pop())
        elif child == start:
            return [*path, start]
        elif child not in on_path and child > start:  # each cycle is reported from its smallest module
            stack.append((child, iter(sorted(GRAPH[child]))))
            path.append(child)
            on_path.add(child)
    return None


def _is_package_edge(a: str, b: str) -> bool:
    """A package's ``__init__`` re-exporting its own submodule (``hnsx.cli`` -> ``hnsx.cli.train``)."""
    return b.startswith(a + ".")


def test_no_import_cycles():
    cycles = []
    for name in sorted(MODULES):
        cycle = _cycle_from(name)
        if cycle and not any(_is_package_edge(a, b) for a, b in zip(cycle, cycle[1:])):
            cycles.append(" -> ".join(cycle))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
