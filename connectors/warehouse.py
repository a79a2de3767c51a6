"""The DuckDB warehouse: flows write, people read, neither blocks the other.

DuckDB lets one process hold a database file for writing and locks everyone else out. So flows
write a private working file, one short transaction at a time, serialised across processes by
an advisory file lock; after each committed write the working file is copied and atomically
renamed over the published `warehouse.duckdb`. Analysts (the `duckdb` CLI, notebooks,
`omsync sql`) open only the published snapshot: an open session keeps its old snapshot, the next
one sees the new data, and no flow ever waits for them. Bulky raw landings are Parquet files in
`<warehouse>.landing/`, reached through views, so a publish never copies them. Results worth
not computing twice are kept in `<warehouse>.cache/`, keyed by what they were computed from.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Iterator

import duckdb
import polars as pl

from connectors.warehouse_schema import MIGRATIONS
from omsync.errors import ConfigError, WarehouseBusy

LOCK_TIMEOUT_SECONDS = 120.0
FINGERPRINT_KEY = "omsync_fingerprint"
FINGERPRINT_SEED = 20261128
CACHE_KEY = "omsync_computed_from"


@dataclass(frozen=True)
class Warehouse:
    path: Path
    lock_timeout: float = LOCK_TIMEOUT_SECONDS

    @property
    def work_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.work")

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.lock")

    @property
    def landing_dir(self) -> Path:
        return self.path.with_name(f"{self.path.stem}.landing")

    @property
    def cache_dir(self) -> Path:
        return self.path.with_name(f"{self.path.stem}.cache")

    def _prepare_folder(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"OMSYNC_WAREHOUSE: cannot create {self.path.parent}: {exc.strerror}") from None
        if not os.access(self.path.parent, os.W_OK | os.X_OK):
            raise ConfigError(f"OMSYNC_WAREHOUSE: cannot write in {self.path.parent}: permission denied")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self._prepare_folder()
        with open(self.lock_path, "a+") as lock:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise WarehouseBusy(
                            f"the warehouse {self.path} has been locked by another omsync process for over "
                            f"{self.lock_timeout:.0f} s; wait for it to finish or stop it"
                        ) from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on the working file under the cross-process lock; published on commit."""
        with self._locked():
            con = duckdb.connect(str(self.work_path))
            try:
                con.execute("SET TimeZone = 'UTC'")
                _migrate(con)
                con.begin()
                try:
                    yield con
                except BaseException:
                    con.rollback()
                    raise
                con.commit()
                con.execute("CHECKPOINT")
            finally:
                con.close()
            self._publish()

    @contextmanager
    def read_latest(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The working file as flows last committed it, under the lock, for a flow that must read
        the newest state (people read the snapshot); nothing is published afterwards."""
        with self._locked():
            con = duckdb.connect(str(self.work_path))
            try:
                con.execute("SET TimeZone = 'UTC'")
                _migrate(con)
                yield con
            finally:
                con.close()

    def _publish(self) -> None:
        """Copy the closed working file next to the snapshot, then rename it into place atomically."""
        staging = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        try:
            shutil.copyfile(self.work_path, staging)
            os.replace(staging, self.path)
        finally:
            staging.unlink(missing_ok=True)

    def init(self) -> list[str]:
        """Create or migrate the warehouse and publish it; returns its tables as schema.table."""
        with self.write() as con:
            rows = con.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                "WHERE table_schema IN ('ops', 'recon', 'landing') ORDER BY 1"
            ).fetchall()
        return [r[0] for r in rows]

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only session on the published snapshot, as an analyst would open it."""
        if not self.path.exists():
            raise ConfigError(f"OMSYNC_WAREHOUSE: no warehouse at {self.path} yet; run `omsync om init` or any flow")
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    def land(self, con: duckdb.DuckDBPyConnection, dataset: str, frame: pl.DataFrame, batch: str) -> Path:
        """Keep a raw extract as Parquet beside the database and (re)define the view `landing.<dataset>`."""
        if not dataset.isidentifier() or not re.fullmatch(r"[A-Za-z0-9_-]+", batch):
            raise ValueError(f"a landing needs an identifier and a batch of letters, digits, - and _: {dataset!r}, {batch!r}")
        folder = self.landing_dir / dataset
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{batch}.parquet"
        _write_parquet(frame, target, {FINGERPRINT_KEY: fingerprint(frame)})
        glob = str((folder / "*.parquet").resolve()).replace("'", "''")
        con.execute("CREATE SCHEMA IF NOT EXISTS landing")
        con.execute(
            f"CREATE OR REPLACE VIEW landing.{dataset} AS "
            f"SELECT * FROM read_parquet('{glob}', union_by_name = true, filename = true)"
        )
        return target

    def landed_already(self, dataset: str, frame: pl.DataFrame) -> bool:
        """Whether the newest landing of `dataset` holds exactly these rows: landing them again would
        only repeat it (a 15-minute schedule over a million items would otherwise add gigabytes a day)."""
        landed = list((self.landing_dir / dataset).glob("*.parquet"))
        if not landed:
            return False
        newest = max(landed, key=lambda path: path.stat().st_mtime_ns)
        return pl.read_parquet_metadata(newest).get(FINGERPRINT_KEY) == fingerprint(frame)

    def remember(self, name: str, key: str, frames: dict[str, pl.DataFrame]) -> None:
        """Keep a computation's result frames under `name`, marked with the key of what it was computed from."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for part, frame in frames.items():
            _write_parquet(frame, self.cache_dir / f"{name}.{part}.parquet", {CACHE_KEY: key})

    def recall(self, name: str, key: str, parts: list[str]) -> dict[str, pl.DataFrame] | None:
        """The frames remembered under `name` if every one of them was computed from `key`. A missing
        or damaged file is only a computation to do again."""
        paths = {part: self.cache_dir / f"{name}.{part}.parquet" for part in parts}
        try:
            if any(pl.read_parquet_metadata(path).get(CACHE_KEY) != key for path in paths.values()):
                return None
            return {part: pl.read_parquet(path) for part, path in paths.items()}
        except (OSError, pl.exceptions.ComputeError):
            return None


def _write_parquet(frame: pl.DataFrame, target: Path, metadata: dict[str, str]) -> None:
    """Readers see the old file or the whole new one, never a half-written one."""
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    frame.write_parquet(partial, metadata=metadata)
    os.replace(partial, target)


def fingerprint(frame: pl.DataFrame) -> str:
    """The same rows under the same schema give the same text, in any order (within one Polars version)."""
    schema = ",".join(f"{name}:{dtype}" for name, dtype in frame.schema.items())
    return f"polars {pl.__version__}|{schema}|{frame.height}|{frame.hash_rows(seed=FINGERPRINT_SEED).sum()}"


def computation_key(inputs: dict[str, pl.DataFrame], parameters: dict[str, object], code: list[ModuleType]) -> str:
    """What a computation's result depends on: its input rows, its parameters and the source of its code."""
    parts = [f"{name}={fingerprint(frame)}" for name, frame in sorted(inputs.items())]
    parts += [f"{name}={value!r}" for name, value in sorted(parameters.items())]
    parts += [f"{module.__name__}={hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()}" for module in code]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Apply the migrations this file has not seen, each in its own transaction."""
    con.execute("CREATE TABLE IF NOT EXISTS main.schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)")
    done = {r[0] for r in con.execute("SELECT version FROM main.schema_version").fetchall()}
    for version, sql in MIGRATIONS:
        if version in done:
            continue
        con.begin()
        con.execute(sql)
        con.execute("INSERT INTO main.schema_version VALUES (?, now())", [version])
        con.commit()
