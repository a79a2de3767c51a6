"""The warehouse on DuckLake: flows write, people read, neither blocks the other, on one machine or several.

DuckLake keeps the tables as Parquet files under a data path and their catalog (schemas, snapshots,
which file holds what, small changes inlined) in a SQL database: a SQLite file beside the data by
default (several processes on one machine), PostgreSQL for several machines. Every write is one
DuckLake transaction that commits a new snapshot; it costs what the change costs, never the size
of the warehouse. Readers see the snapshot current when they start (or an earlier one: time
travel) and never wait for writers.

Two writers that overlap may conflict at commit. The write is then replayed on a fresh
transaction (see `_Journal`), with backoff and a bound, so a commit is never lost. Bulky raw
landings stay Parquet files under `<name>.landing/`, reached through views; results worth not
computing twice are kept in `<name>.cache/`, keyed by what they were computed from.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import sqlite3
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import duckdb
import polars as pl

from omsync.connectors.om import load_extension, sql_literal
from omsync.connectors.warehouse_schema import MIGRATIONS
from omsync.core.errors import ConfigError, WarehouseBusy
from omsync.core.settings import Settings, mask_url

FINGERPRINT_KEY = "omsync_fingerprint"
FINGERPRINT_SEED = 20261128
CACHE_KEY = "omsync_computed_from"
ALIAS = "wh"
COMMIT_ATTEMPTS = 12
FIRST_BACKOFF_SECONDS = 0.02
CREATE_RACE_ATTEMPTS = 3
CONTRACT_SCHEMAS = ("ops", "recon", "landing")
_migrated: set[str] = set()  # catalogs this process has brought to the newest schema version
_instances: dict[tuple, duckdb.DuckDBPyConnection] = {}  # one attached DuckDB per process and warehouse


class WarehouseConflict(WarehouseBusy):
    """A write could not be replayed: what it read had changed under it."""


@dataclass(frozen=True)
class Warehouse:
    """`path` is the one-machine location (OMSYNC_WAREHOUSE): the catalog is `<name>.sqlite` beside it
    and the data `<name>.files/`, unless `catalog` (a PostgreSQL URL) and `data` say otherwise. A
    file at `path` itself is a warehouse of the earlier single-file format, moved in once."""

    path: Path
    catalog: str | None = None
    data: str | None = None
    commit_attempts: int = COMMIT_ATTEMPTS

    @classmethod
    def of(cls, settings: Settings) -> "Warehouse":
        return cls(Path(settings.warehouse), settings.warehouse_catalog, settings.warehouse_data)

    @property
    def on_postgres(self) -> bool:
        return self.catalog is not None

    @property
    def catalog_path(self) -> Path:
        """The SQLite catalog of a one-machine warehouse."""
        return self.path.with_name(f"{self.path.stem}.sqlite")

    @property
    def data_path(self) -> str:
        if self.data:
            return self.data if "://" in self.data else str(Path(self.data).resolve())
        if self.on_postgres:
            raise ConfigError("OMSYNC_WAREHOUSE_DATA: a PostgreSQL catalog needs a data path every machine reaches")
        return str(self.path.with_name(f"{self.path.stem}.files").resolve())

    @property
    def _files_base(self) -> Path:
        """Where landings and the cache live: beside the one-machine warehouse, or under a shared data path."""
        if self.on_postgres:
            return Path(self.data_path) / self.path.stem
        return self.path

    @property
    def landing_dir(self) -> Path:
        return self._files_base.with_name(f"{self._files_base.stem}.landing")

    @property
    def cache_dir(self) -> Path:
        return self._files_base.with_name(f"{self._files_base.stem}.cache")

    @property
    def shown(self) -> str:
        """The warehouse as a message names it (no password)."""
        return mask_url(self.catalog) if self.catalog else str(self.catalog_path)

    def _prepare_folder(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"OMSYNC_WAREHOUSE: cannot create {self.path.parent}: {exc.strerror}") from None
        if not os.access(self.path.parent, os.W_OK | os.X_OK):
            raise ConfigError(f"OMSYNC_WAREHOUSE: cannot write in {self.path.parent}: permission denied")

    def exists(self) -> bool:
        if not self.on_postgres:
            return self.catalog_path.exists()
        with self._attached(read_only=True, must_exist=False) as con:
            return con is not None

    def ducklake_url(self) -> str:
        if self.on_postgres:
            return f"ducklake:postgres:{self.catalog.replace('postgres://', 'postgresql://', 1)}"
        return f"ducklake:sqlite:{self.catalog_path.resolve()}"

    def connect(self, read_only: bool = False, snapshot: int | None = None, at: str | None = None) -> duckdb.DuckDBPyConnection:
        """A DuckDB session with the warehouse attached as the default database (`ops.runs` …)."""
        con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
        try:
            con.execute("SET TimeZone = 'UTC'")
            load_extension(con, "postgres_scanner" if self.on_postgres else "sqlite_scanner")  # type: ignore[arg-type]
            load_extension(con, "ducklake")  # type: ignore[arg-type]
            options = ["READ_ONLY"] if read_only else [f"DATA_PATH {sql_literal(self.data_path)}"]
            if snapshot is not None:
                options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
            if at is not None:
                options.append(f"SNAPSHOT_TIME {sql_literal(at)}")
            if not read_only and not self.on_postgres and not self.catalog_path.exists():
                self._prepare_folder()
                _create_sqlite_catalog(self.catalog_path)
            _attach(con, f"ATTACH {sql_literal(self.ducklake_url())} AS {ALIAS} ({', '.join(options)})")
            con.execute(f"USE {ALIAS}")
            return con
        except duckdb.Error as exc:
            con.close()
            raise ConfigError(f"the warehouse {self.shown} cannot be opened: {_first_line(exc, self.catalog)}") from None
        except BaseException:
            con.close()
            raise

    def _session(self) -> duckdb.DuckDBPyConnection:
        """A new session on this process's attached warehouse: attaching (loading the extensions, reading
        the catalog) costs half a second, a session a few milliseconds, and each sees the newest commit."""
        key = (os.getpid(), self.path.resolve(), self.catalog, self.data)
        instance = _instances.get(key)
        if instance is None:
            instance = _instances[key] = self.connect()
        session = instance.cursor()
        session.execute(f"USE {ALIAS}")
        session.execute("SET TimeZone = 'UTC'")
        return session

    @contextmanager
    def _attached(self, read_only: bool, must_exist: bool = True, **when: Any) -> Iterator[duckdb.DuckDBPyConnection | None]:
        if read_only and not self.on_postgres and not self.catalog_path.exists():
            if must_exist:
                raise ConfigError(f"OMSYNC_WAREHOUSE: no warehouse at {self.catalog_path} yet; run `omsync om init` or any flow")
            yield None
            return
        con = self.connect(read_only=True, **when) if when.get("snapshot") is not None or when.get("at") is not None else self._session()
        try:
            yield con
        finally:
            con.close()

    def _ready(self) -> duckdb.DuckDBPyConnection:
        """A read-write session on a warehouse at the newest schema version (an earlier single-file
        warehouse at `path` moved in first)."""
        self._prepare_folder()
        fresh = not self.on_postgres and not self.catalog_path.exists()
        con = self._session()
        try:
            if self.shown not in _migrated:
                if fresh and self.path.is_file():
                    from omsync.connectors.warehouse_import import import_single_file

                    import_single_file(self, con, self.path)
                _retrying(self, lambda: _migrate(con))
                _migrated.add(self.shown)
            return con
        except BaseException:
            con.close()
            raise

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckLake transaction; a conflict at commit replays it on a fresh one (bounded, with backoff)."""
        con = self._ready()
        try:
            con.begin()
            journal = _Journal(con)
            try:
                yield journal  # type: ignore[misc]
            except BaseException:
                con.rollback()
                raise
            try:
                con.commit()
                return
            except duckdb.TransactionException as exc:
                first_failure = exc
        finally:
            con.close()
        self._replay(journal, first_failure)

    def _replay(self, journal: "_Journal", failure: Exception) -> None:
        for attempt in range(1, self.commit_attempts):
            _backoff(attempt)
            con = self._session()
            try:
                con.begin()
                journal.replay(con)
                con.commit()
                return
            except duckdb.TransactionException as exc:
                failure = exc
            finally:
                con.close()
        raise WarehouseBusy(f"the warehouse {self.shown} refused a commit {self.commit_attempts} times "
                            f"(other writers kept conflicting): {_first_line(failure, self.catalog)}")

    @contextmanager
    def read_latest(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The newest committed state, for a flow that must read it before it writes."""
        con = self._ready()
        try:
            yield con
        finally:
            con.close()

    def init(self) -> list[str]:
        """Create or migrate the warehouse; returns its tables and views as schema.table."""
        with self.read_latest() as con:
            rows = con.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                f"WHERE table_catalog = '{ALIAS}' AND table_schema IN {CONTRACT_SCHEMAS} ORDER BY 1"
            ).fetchall()
        return [r[0] for r in rows]

    @contextmanager
    def read(self, snapshot: int | None = None, at: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only session on one snapshot: the newest, or the one given by number or time."""
        with self._attached(read_only=True, snapshot=snapshot, at=at) as con:
            con.begin()  # every statement of the session sees the same snapshot
            yield con

    def snapshots(self) -> pl.DataFrame:
        """Every committed snapshot: its number, time and what it changed."""
        with self.read() as con:
            return con.execute(f"SELECT snapshot_id, snapshot_time, changes FROM ducklake_snapshots('{ALIAS}') ORDER BY 1").pl()

    def land(self, con: duckdb.DuckDBPyConnection, dataset: str, frame: pl.DataFrame, batch: str) -> Path:
        """Keep a raw extract as Parquet beside the warehouse and (re)define the view `landing.<dataset>`."""
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


class _Journal:
    """The connection a write body uses, remembering what it did so that the transaction can be
    replayed after a commit conflict. A replay is the same transaction as long as everything the
    body read comes back the same (its Python decisions hold); if not, it is refused."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._steps: list[tuple[str, tuple, Any]] = []

    def _do(self, method: str, *args: Any) -> Any:
        result = getattr(self._con, method)(*args)
        self._steps.append((method, args, None))
        return result

    def execute(self, sql: str, parameters: Any = None) -> "_Journal":
        self._do("execute", sql, parameters)
        return self

    def register(self, name: str, frame: Any) -> None:
        self._do("register", name, frame)

    def unregister(self, name: str) -> None:
        self._do("unregister", name)

    def _read(self, method: str) -> Any:
        result = getattr(self._con, method)()
        self._steps.append((method, (), result))
        return result

    def fetchall(self) -> list[tuple]:
        return self._read("fetchall")

    def fetchone(self) -> tuple | None:
        return self._read("fetchone")

    def pl(self) -> pl.DataFrame:
        return self._read("pl")

    def replay(self, con: duckdb.DuckDBPyConnection) -> None:
        for method, args, seen in self._steps:
            result = getattr(con, method)(*args)
            if method in ("fetchall", "fetchone", "pl") and not _same(result, seen):
                raise WarehouseConflict("a warehouse write conflicted with another writer and what it had read has "
                                        "changed since; the run stops here and the next run starts from the new state")


def _same(a: Any, b: Any) -> bool:
    return a.equals(b) if isinstance(a, pl.DataFrame) else a == b


def _backoff(attempt: int) -> None:
    """Exponential with jitter, so that writers that collided do not collide again in step."""
    time.sleep(FIRST_BACKOFF_SECONDS * (2 ** min(attempt, 8)) * (0.5 + random.random()))


def _attach(con: duckdb.DuckDBPyConnection, attach: str) -> None:
    """Two machines whose first run starts at once both create a new PostgreSQL catalog's tables; PostgreSQL
    refuses the second CREATE ("… already exists") and that machine finds the catalog made when it tries again."""
    for attempt in range(1, CREATE_RACE_ATTEMPTS + 1):
        try:
            con.execute(attach)
            return
        except duckdb.Error as exc:
            if attempt == CREATE_RACE_ATTEMPTS or "already exists" not in str(exc):
                raise
            _backoff(attempt)


def _retrying(warehouse: Warehouse, action) -> None:
    """An action that is its own transaction(s), run again after a conflict (it must be idempotent)."""
    for attempt in range(warehouse.commit_attempts):
        try:
            action()
            return
        except duckdb.TransactionException as exc:
            failure = exc
            _backoff(attempt + 1)
    raise WarehouseBusy(f"the warehouse {warehouse.shown} refused a commit {warehouse.commit_attempts} times: "
                        f"{_first_line(failure, warehouse.catalog)}")


def _create_sqlite_catalog(path: Path) -> None:
    """WAL journal: a long reader of the catalog never blocks a writer's commit (SQLite's default does)."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode = WAL")
    db.close()


def _first_line(exc: BaseException, url: str | None) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return mask_url(text) if url is None else text.replace(url, mask_url(url))


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


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    con.execute("CREATE TABLE IF NOT EXISTS main.schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ)")
    return con.execute("SELECT coalesce(max(version), 0) FROM main.schema_version").fetchone()[0]


def _migrate(con: duckdb.DuckDBPyConnection, up_to: int | None = None) -> None:
    """Apply the migrations this warehouse has not seen, each in its own transaction (with its version
    row, so that a concurrent migrator's commit conflicts and finds it done on its retry)."""
    for version, sql in MIGRATIONS:
        if up_to is not None and version > up_to:
            return
        con.begin()
        if version <= schema_version(con):
            con.rollback()
            continue
        con.execute(sql)
        con.execute("INSERT INTO main.schema_version VALUES (?, now())", [version])
        con.commit()
