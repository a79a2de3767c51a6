"""The omsync command as a user runs it: a real process, real files, one-line errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from connectors.warehouse import Warehouse

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
