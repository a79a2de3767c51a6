"""Imports go one way: app → flows → {transforms, connectors} → core. The sandbox may use connectors
and core; nothing but the app (and the benchmarks, which drive it) imports the app or the sandbox;
nothing imports the tests. Read from the source with `ast`, so an import inside a function counts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Layer → the modules in it (dotted prefixes; the longest match wins). Renaming a package (flows →
# omsync.flows, say) is an edit of its prefix here, nothing else.
LAYERS = {
    "app": ("omsync",),  # the CLI, serve, demo, status, simulate: all of omsync but its core
    "benchmarks": ("benchmarks",),
    "sandbox": ("sandbox",),
    "flows": ("flows",),
    "transforms": ("transforms",),
    "connectors": ("connectors",),
    "core": ("omsync.settings", "omsync.errors", "omsync.schemas", "omsync.marketplaces"),  # what every layer may use
    "tests": ("tests",),
}
MAY_IMPORT = {
    "app": {"app", "sandbox", "flows", "transforms", "connectors", "core"},
    "benchmarks": {"benchmarks", "app", "sandbox", "flows", "transforms", "connectors", "core"},
    "sandbox": {"sandbox", "connectors", "core"},
    "flows": {"flows", "transforms", "connectors", "core"},
    "transforms": {"transforms", "core"},
    "connectors": {"connectors", "core"},
    "core": {"core"},
}


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name; None for anything outside the project (the libraries)."""
    best = None
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[1])):
                best = (layer, prefix)
    return best[0] if best else None


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(root: Path, path: Path) -> set[str]:
    """Every module a file imports; `from a import b` counts as a.b when a/b is a module of the tree."""
    name = module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                is_module = (root / Path(*candidate.split("."))).with_suffix(".py").exists() or (root / Path(*candidate.split("."))).is_dir()
                found.add(candidate if is_module else base)
    return found


def violations(root: Path) -> list[str]:
    """'module (layer) imports module (layer)' for every import against the rule, under `root`."""
    broken = []
    for path in sorted(root.rglob("*.py")):
        if any(part.startswith(".") or part in ("tests", "node_modules") for part in path.relative_to(root).parts):
            continue
        importer = module_name(root, path)
        source = layer_of(importer)
        if source is None:
            continue
        for imported in sorted(imported_modules(root, path)):
            target = layer_of(imported)
            if target is not None and target not in MAY_IMPORT[source]:
                broken.append(f"{importer} ({source}) imports {imported} ({target})")
    return broken


def test_the_project_keeps_the_import_direction():
    assert violations(ROOT) == []


def test_every_project_package_has_a_layer():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert all(layer_of(package) for package in packages), sorted(p for p in packages if not layer_of(p))
    assert {layer_of(module_name(ROOT, p)) for p in (ROOT / "omsync").glob("*.py")} <= {"app", "core"}


def write(root: Path, module: str, source: str) -> None:
    path = root / Path(*module.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(root).parents:
        if parent != Path("."):
            (root / parent / "__init__.py").touch()
    path.write_text(source)


@pytest.mark.parametrize("module, source, expected", [
    ("connectors.bad", "from transforms.rules import rule\n", "connectors.bad (connectors) imports transforms.rules (transforms)"),
    ("transforms.bad", "def f():\n    import connectors.om\n", "transforms.bad (transforms) imports connectors.om (connectors)"),
    ("flows.bad", "from omsync import cli\n", "flows.bad (flows) imports omsync.cli (app)"),
    ("omsync.settings", "from flows import orders\n", "omsync.settings (core) imports flows.orders (flows)"),
    ("sandbox.bad", "from transforms.rules import rule\n", "sandbox.bad (sandbox) imports transforms.rules (transforms)"),
    ("connectors.bad", "from sandbox.server import serve\n", "connectors.bad (connectors) imports sandbox.server (sandbox)"),
    ("benchmarks.bad", "from tests.pg import start\n", "benchmarks.bad (benchmarks) imports tests.pg (tests)"),
    ("flows.bad", "from ..transforms import rules\nfrom . import other\nfrom .. import omsync\n", None),
    ("connectors.bad", "from .. import transforms\n", "connectors.bad (connectors) imports transforms (transforms)"),
])
def test_a_deliberate_violation_is_caught(tmp_path, module, source, expected):
    for name in ("transforms.rules", "connectors.om", "omsync.cli", "omsync.settings", "flows.orders", "flows.other",
                 "sandbox.server", "tests.pg"):
        write(tmp_path, name, "")
    write(tmp_path, module, source)
    found = [v for v in violations(tmp_path) if v.startswith(module + " ")]
    assert found == ([expected] if expected else [])
