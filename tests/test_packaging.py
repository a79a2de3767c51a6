"""The wheel installs one importable name, omsync: the layers' folders (flows/, transforms/ …) become
omsync.flows, omsync.transforms …, never generic top-level packages that collide with other code."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYER_FOLDERS = {"core": "core", "flows": "flows", "transforms": "transforms", "connectors": "connectors", "sandbox": "sandbox"}


def test_the_wheel_installs_only_the_omsync_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True)
    [wheel] = tmp_path.glob("omsync-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"omsync"}
    for package, folder in LAYER_FOLDERS.items():
        expected = {f"omsync/{package}/{p.relative_to(ROOT / folder).as_posix()}" for p in (ROOT / folder).rglob("*")
                    if p.suffix in (".py", ".json") and "__pycache__" not in p.parts}
        assert expected and expected <= set(names), sorted(expected - set(names))[:5]


def test_the_flows_import_under_their_installed_names():
    from omsync.flows.registry import FLOWS

    assert {flow.__module__ for flow in FLOWS.values()} <= {f"omsync.flows.{name}" for name in FLOWS}
