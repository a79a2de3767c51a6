"""The omsync command as a user runs it: a real process, real files, one-line errors."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from omsync.connectors.warehouse import Warehouse

OMSYNC = str(Path(sys.executable).with_name("omsync"))


def run(*args, cwd, env=None, check=True):
    done = subprocess.run([OMSYNC, *args], cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_help_lists_only_working_commands(tmp_path):
    shown = run("--help", cwd=tmp_path).stdout
    for command in ("demo", "om", "sql"):
        assert command in shown


def test_sql_formats_and_write_refusal(tmp_path):
    Warehouse(tmp_path / "data" / "warehouse.duckdb").init()
    query = "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables WHERE table_schema = 'ops' ORDER BY 1"
    as_json = json.loads(run("sql", query, "--format", "json", cwd=tmp_path).stdout)
    assert {"t": "ops.runs"} in as_json
    as_csv = run("sql", query, "-f", "csv", cwd=tmp_path).stdout.splitlines()
    assert as_csv[0] == "t" and "ops.quarantine" in as_csv
    run("sql", query, "-f", "parquet", "--out", str(tmp_path / "q.parquet"), cwd=tmp_path)
    assert "ops.orders" in pl.read_parquet(tmp_path / "q.parquet")["t"].to_list()
    refused = run("sql", "DELETE FROM ops.runs", cwd=tmp_path, check=False)
    assert refused.returncode == 2 and "read-only" in refused.stderr and "Traceback" not in refused.stderr
    copy = run("sql", "COPY ops.runs TO 'x.csv'", cwd=tmp_path, check=False)
    assert copy.returncode == 2 and not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    "env, setting",
    [
        ({"OMSYNC_OM_URL": "postgresql://omsync:hunter2@127.0.0.1:1/om"}, "OMSYNC_OM_URL"),
        ({"OMSYNC_OM_URL": "oracle://x"}, "OMSYNC_OM_URL"),
        ({"OMSYNC_WAREHOUSE": "/proc/omsync/warehouse.duckdb"}, "OMSYNC_WAREHOUSE"),
    ],
)
def test_bad_configuration_is_one_line_naming_the_setting(tmp_path, env, setting):
    done = run("demo", "--items", "10", cwd=tmp_path, env=env, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0] and "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


@pytest.mark.postgres
def test_om_init_and_seed_on_postgresql(tmp_path, pg_url):
    env = {"OMSYNC_OM_URL": pg_url}
    run("om", "init", cwd=tmp_path, env=env)
    seeded = run("om", "seed", "--items", "500", "--sites", "2", "--customers", "40", cwd=tmp_path, env=env).stdout
    assert "inventory" in seeded and "1,000" in seeded
    again = run("om", "seed", "--items", "500", "--sites", "2", "--customers", "40", cwd=tmp_path, env=env).stdout
    assert "Seeded" in again


def one_line_error(done, *needles):
    """Exit code 2, one line on stderr naming what to fix, no traceback."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr + done.stdout
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "env, needle",
    [
        ({"OMSYNC_OM_URL": "postgresql://omsync:hunter2@127.0.0.1:1/om"}, "OMSYNC_OM_URL"),
        ({"OMSYNC_OM_URL": "sqlite:///no/such/folder/om.sqlite"}, "OMSYNC_OM_URL"),
    ],
)
def test_run_with_an_unusable_om_is_one_line_before_prefect_starts(tmp_path, env, needle):
    started = time.monotonic()
    done = run("run", "orders", cwd=tmp_path, env=env, check=False)
    line = one_line_error(done, needle)
    assert "hunter2" not in line and time.monotonic() - started < 20
    assert processes_in(tmp_path) == [], "the sandbox started for the run is stopped with it"


def processes_in(folder: Path) -> list[str]:
    """The command lines of the processes still running in this folder (a sandbox a command left behind)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cwd").resolve() == folder.resolve():
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def test_run_against_an_unreachable_amazon_says_so_within_seconds_showing_the_retries(tmp_path):
    env = {"OMSYNC_AMAZON_ENDPOINT": "http://127.0.0.1:9", "SP_API_REFRESH_TOKEN": "Atzr|x", "LWA_APP_ID": "x",
           "LWA_CLIENT_SECRET": "x"}
    run("om", "init", cwd=tmp_path)
    started = time.monotonic()
    done = run("run", "orders", cwd=tmp_path, env=env, check=False)
    assert done.returncode == 2 and time.monotonic() - started < 20
    assert "Traceback" not in done.stderr and "retry 1/" in done.stderr
    assert "OMSYNC_AMAZON_ENDPOINT" in done.stderr.strip().splitlines()[-1]


def test_debug_shows_the_traceback(tmp_path):
    done = run("--debug", "run", "orders", cwd=tmp_path, env={"OMSYNC_OM_URL": "oracle://x"}, check=False)
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_settlement_import_of_a_missing_file_is_one_line_at_once(tmp_path):
    started = time.monotonic()
    done = run("settlement", "import", "no-such-file.txt", cwd=tmp_path, check=False)
    one_line_error(done, "no-such-file.txt")
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("query, needle", [("SELECT * FROM nosuch", "nosuch"), ("SELEC 1", "SELEC")])
def test_sql_errors_are_one_line_with_duckdbs_message(tmp_path, query, needle):
    Warehouse(tmp_path / "data" / "warehouse.duckdb").init()
    one_line_error(run("sql", query, cwd=tmp_path, check=False), needle)


def test_values_are_printed_literally_never_as_markup_or_emoji(tmp_path):
    Warehouse(tmp_path / "data" / "warehouse.duckdb").init()
    shown = run("sql", "SELECT '[/]' AS v, ':x:' AS w, '[bold]b[/bold]' AS x", cwd=tmp_path).stdout
    assert "[/]" in shown and ":x:" in shown and "[bold]b[/bold]" in shown
    refused = run("prices", "approve", "[/]", ":x:", cwd=tmp_path, check=False)
    assert refused.returncode == 1 and "[/]" in refused.stderr and ":x:" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_sql_never_cuts_a_value_and_says_zero_rows(tmp_path):
    Warehouse(tmp_path / "data" / "warehouse.duckdb").init()
    long_id = "amzn1.settlement." + "0123456789" * 25
    wide = ", ".join(f"'{long_id}-{i}' AS column_{i}" for i in range(6))
    for columns in ("80", "250"):
        shown = run("sql", f"SELECT {wide}", cwd=tmp_path, env={"COLUMNS": columns}).stdout
        flat = "".join(shown.split())  # a folded value is whole once the line breaks are removed
        assert "…" not in shown and all(f"{long_id}-{i}" in flat for i in range(6))
    empty = run("sql", "SELECT * FROM ops.runs", cwd=tmp_path).stdout
    assert "0 rows" in empty and "flow" in empty


def test_piped_output_is_plain_lines_never_hard_wrapped(tmp_path):
    Warehouse(tmp_path / "data" / "warehouse.duckdb").init()
    value = "x" * 150
    shown = run("sql", f"SELECT '{value}' AS v", cwd=tmp_path, env={"COLUMNS": ""}).stdout
    assert any(value in line for line in shown.splitlines()) and "\x1b[" not in shown


def test_version():
    from omsync import __version__

    assert run("--version", cwd=Path.cwd()).stdout.strip() == f"omsync {__version__}"


def test_sandbox_help_shows_every_option_name_whole(tmp_path):
    shown = run("sandbox", "--help", cwd=tmp_path, env={"COLUMNS": "80"}).stdout
    for option in ("--time-scale", "--order-rate", "--settlement-days", "--validate-responses", "--usage-plans"):
        assert option in shown


def test_run_with_nothing_configured_uses_the_demo_marketplace_and_prints_plain_lines(tmp_path):
    env = {k: "" for k in ("OMSYNC_AMAZON_ENDPOINT", "SP_API_REFRESH_TOKEN", "LWA_APP_ID", "LWA_CLIENT_SECRET", "PREFECT_API_URL")}
    # a Prefect home used before: a new one's database migration alone takes over a minute on this machine
    env["PREFECT_HOME"] = os.environ.get("PREFECT_HOME") or str(Path.home() / ".prefect")
    done = run("run", "settlement", cwd=tmp_path, env=env)
    assert "Amazon: the sandbox on" in done.stdout and "sandbox-state.json" in done.stdout
    assert "omsync run settlement" in done.stdout and (tmp_path / "data" / "sandbox-state.json").exists()
    assert all(len(line) <= 200 for line in done.stdout.splitlines())
    assert any("sandbox-state.json (no OMSYNC_AMAZON_ENDPOINT set)" in line for line in done.stdout.splitlines()), \
        "piped output is one line per message, never hard-wrapped"


def test_prefect_home_is_kept_with_the_projects_data_unless_set(tmp_path, monkeypatch):
    from omsync.cli import keep_prefect_home_with_the_data

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PREFECT_HOME", raising=False)
    monkeypatch.delenv("OMSYNC_WAREHOUSE", raising=False)
    keep_prefect_home_with_the_data()
    assert os.environ["PREFECT_HOME"] == str(tmp_path / "data" / "prefect")
    monkeypatch.setenv("OMSYNC_WAREHOUSE", str(tmp_path / "elsewhere" / "w.duckdb"))
    monkeypatch.delenv("PREFECT_HOME")
    keep_prefect_home_with_the_data()
    assert os.environ["PREFECT_HOME"] == str(tmp_path / "elsewhere" / "prefect")
    monkeypatch.setenv("PREFECT_HOME", "/srv/prefect")
    keep_prefect_home_with_the_data()
    assert os.environ["PREFECT_HOME"] == "/srv/prefect"
