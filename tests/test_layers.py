"""Imports go one way: app → flows → {transforms, connectors} → core. The sandbox may use connectors
and core; nothing but the app (and the benchmarks, which drive it) imports the app or the sandbox;
nothing imports the tests. Read from the source with `ast`, so an import inside a function counts."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Package → its folder, as pyproject.toml installs them (flows/ is omsync.flows, …).
PACKAGE_DIRS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
# Layer → the modules in it (dotted prefixes; the longest match wins).
LAYERS = {
    "app": ("omsync",),  # the CLI, serve, demo, status, simulate: all of omsync but its core
    "benchmarks": ("benchmarks",),
    "sandbox": ("omsync.sandbox",),
    "flows": ("omsync.flows",),
    "transforms": ("omsync.transforms",),
    "connectors": ("omsync.connectors",),
    "core": ("omsync.core",),  # settings, errors, schemas, marketplaces: what every layer may use
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


def module_name(root: Path, path: Path, package_dirs: dict[str, str] = PACKAGE_DIRS) -> str:
    """The dotted name a file is imported by (its folder mapped to its package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    folders = {folder: package for package, folder in package_dirs.items()}
    if parts[0] in folders:
        parts = [*folders[parts[0]].split("."), *parts[1:]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_path(root: Path, module: str, package_dirs: dict[str, str] = PACKAGE_DIRS) -> Path:
    """Where a dotted name lives in the tree, without a suffix (the inverse of module_name)."""
    parts = module.split(".")
    for package, folder in package_dirs.items():
        if parts[: len(package.split("."))] == package.split("."):
            parts = [folder, *parts[len(package.split(".")):]]
            break
    return root / Path(*parts)


def imported_modules(root: Path, path: Path, package_dirs: dict[str, str] = PACKAGE_DIRS) -> set[str]:
    """Every module a file imports; `from a import b` counts as a.b when a/b is a module of the tree."""
    name = module_name(root, path, package_dirs)
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
                where = module_path(root, candidate, package_dirs)
                is_module = where.with_suffix(".py").exists() or where.is_dir()
                found.add(candidate if is_module else base)
    return found


def violations(root: Path, package_dirs: dict[str, str] = PACKAGE_DIRS) -> list[str]:
    """'module (layer) imports module (layer)' for every import against the rule, under `root`."""
    broken = []
    for path in sorted(root.rglob("*.py")):
        if any(part.startswith(".") or part in ("tests", "node_modules") for part in path.relative_to(root).parts):
            continue
        importer = module_name(root, path, package_dirs)
        source = layer_of(importer)
        if source is None:
            continue
        for imported in sorted(imported_modules(root, path, package_dirs)):
            target = layer_of(imported)
            if target is not None and target not in MAY_IMPORT[source]:
                broken.append(f"{importer} ({source}) imports {imported} ({target})")
    return broken


def test_the_project_keeps_the_import_direction():
    assert violations(ROOT) == []


def test_every_project_package_has_a_layer():
    packages = {module_name(ROOT, p) for p in ROOT.glob("*/__init__.py")}
    assert all(layer_of(package) for package in packages), sorted(p for p in packages if not layer_of(p))
    assert {layer_of(module_name(ROOT, p)) for p in (ROOT / "omsync").glob("*.py")} == {"app"}
    assert {layer_of(module_name(ROOT, p)) for p in (ROOT / "core").glob("*.py")} == {"core"}


def write(root: Path, module: str, source: str) -> None:
    path = module_path(root, module).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    for parent in path.relative_to(root).parents:
        if parent != Path("."):
            (root / parent / "__init__.py").touch()
    path.write_text(source)


@pytest.mark.parametrize("module, source, expected", [
    ("omsync.connectors.bad", "from omsync.transforms.rules import rule\n", "omsync.connectors.bad (connectors) imports omsync.transforms.rules (transforms)"),
    ("omsync.transforms.bad", "def f():\n    import omsync.connectors.om\n", "omsync.transforms.bad (transforms) imports omsync.connectors.om (connectors)"),
    ("omsync.flows.bad", "from omsync import cli\n", "omsync.flows.bad (flows) imports omsync.cli (app)"),
    ("omsync.core.settings", "from omsync.flows import orders\n", "omsync.core.settings (core) imports omsync.flows.orders (flows)"),
    ("omsync.sandbox.bad", "from omsync.transforms.rules import rule\n", "omsync.sandbox.bad (sandbox) imports omsync.transforms.rules (transforms)"),
    ("omsync.connectors.bad", "from omsync.sandbox.server import serve\n", "omsync.connectors.bad (connectors) imports omsync.sandbox.server (sandbox)"),
    ("benchmarks.bad", "from tests.pg import start\n", "benchmarks.bad (benchmarks) imports tests.pg (tests)"),
    ("omsync.flows.bad", "from ..transforms import rules\nfrom . import other\nfrom ..core import settings\n", None),
    ("omsync.connectors.bad", "from .. import transforms\n", "omsync.connectors.bad (connectors) imports omsync.transforms (transforms)"),
])
def test_a_deliberate_violation_is_caught(tmp_path, module, source, expected):
    for name in ("omsync.transforms.rules", "omsync.connectors.om", "omsync.cli", "omsync.core.settings", "omsync.flows.orders",
                 "omsync.flows.other", "omsync.sandbox.server", "tests.pg"):
        write(tmp_path, name, "")
    write(tmp_path, module, source)
    found = [v for v in violations(tmp_path) if v.startswith(module + " ")]
    assert found == ([expected] if expected else [])
