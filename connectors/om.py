"""SQL to the OM database (SQLite or PostgreSQL) through DuckDB's scanners: Arrow in, Arrow out.

DuckDB attaches the OM database itself, so reads are parallel binary scans (benchmarks/om_read.py)
and writes are set-based statements over staged frames, one transaction per batch, on one code
path for both dialects. Every session exposes the contract tables as typed views (`item`,
`inventory`, …) so callers see the same DuckDB types on SQLite and PostgreSQL.

SQLite stores any value in any column (`on_hand = 'abc'`), so a reading session reads it as text and
types each value where it is valid, NULL where it is not; the view's `unreadable` column then names
every such value as stored (`on_hand=abc`), for a transform to quarantine. PostgreSQL enforces the
types itself (`unreadable` is always NULL there), as SQLite does for what omsync writes.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal
from urllib.parse import unquote, urlsplit

import duckdb
import polars as pl

from omsync.connectors.frames import registered
from omsync.connectors.om_schema import DUCK_TYPES, TABLE_BY_NAME, TABLES, Kind, Table, render_ddl
from omsync.core.errors import ConfigError
from omsync.core.settings import check_om_url, mask_url

Dialect = Literal["sqlite", "postgres"]
UNREADABLE = "unreadable"  # the typed views' column naming the values that are not of their column's type


def _typed_text(kind: Kind, column: str) -> str:
    """A value SQLite stored, as text, in its column's DuckDB type; NULL when it is not a valid one.
    Strict: 3.7 is no whole number (a cast would round it to 4), 1.23456 no amount to four decimals."""
    match kind:
        case Kind.ID | Kind.INT:
            return f"CASE WHEN NOT contains({column}, '.') THEN TRY_CAST({column} AS BIGINT) END"
        case Kind.MONEY:
            return (f"CASE WHEN regexp_full_match(trim({column}), '[+-]?[0-9]+(\\.[0-9]*)?') "
                    f"AND TRY_CAST({column} AS DECIMAL(38,10)) = TRY_CAST({column} AS DECIMAL(18,4)) "
                    f"THEN TRY_CAST({column} AS DECIMAL(18,4)) END")
        case Kind.BOOL:
            return f"CASE {column} WHEN '1' THEN true WHEN '0' THEN false ELSE TRY_CAST({column} AS BOOLEAN) END"
        case Kind.TEXT:
            return column
        case _:
            return f"TRY_CAST({column} AS {DUCK_TYPES[kind]})"


def sql_literal(text: str) -> str:
    """A SQL string literal for statements that take no parameters (ATTACH, LOAD)."""
    return "'" + text.replace("'", "''") + "'"


def load_extension(con: duckdb.DuckDBPyConnection, name: Literal["postgres_scanner", "sqlite_scanner"]) -> None:
    """Load a DuckDB scanner from its PyPI package (DuckDB's own server is out of reach offline)."""
    import importlib

    package = importlib.import_module(f"duckdb_extension_{name}")
    folder = Path(package.__file__).parent / "extensions"
    binary = next(folder.glob(f"v{duckdb.__version__}/{name}.duckdb_extension"), None)
    if binary is None:
        raise ConfigError(f"the {name} extension for DuckDB {duckdb.__version__} is not installed; run `make install`")
    con.execute(f"LOAD {sql_literal(str(binary))}")


@dataclass(frozen=True)
class OmDatabase:
    url: str

    def __post_init__(self) -> None:
        check_om_url(self.url)

    @property
    def dialect(self) -> Dialect:
        return "sqlite" if self.url.startswith("sqlite:") else "postgres"

    @property
    def sqlite_path(self) -> Path:
        path = unquote(urlsplit(self.url).path)
        # sqlite:///rel/path is relative, sqlite:////abs/path absolute (the SQLAlchemy convention).
        return Path(path[1:])

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    def table_ref(self, name: str) -> str:
        """The attached OM table itself (writes go here; reads use the typed view `name`)."""
        return f"om.{name}" if self.dialect == "sqlite" else f"om.public.{name}"

    def _attach(self, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        mode = ", READ_ONLY" if read_only else ""
        try:
            if self.dialect == "sqlite":
                if not self.sqlite_path.exists() and read_only:
                    raise ConfigError(f"OMSYNC_OM_URL: no OM database at {self.sqlite_path}; run `omsync om init`")
                self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
                load_extension(con, "sqlite_scanner")
                if read_only:
                    # Typed reads fail on the first value of another type: read text, type it in the
                    # views. Writing sessions keep typed columns, for their statements' comparisons.
                    con.execute("SET sqlite_all_varchar = true")
                # Always read-write: after a writer was killed, only a read-write connection may run
                # SQLite's WAL recovery; a read-only one can miss committed transactions (seen here).
                con.execute(f"ATTACH {sql_literal(str(self.sqlite_path))} AS om (TYPE sqlite)")
            else:
                load_extension(con, "postgres_scanner")
                dsn = self.url.replace("postgres://", "postgresql://", 1)
                con.execute(f"ATTACH {sql_literal(dsn)} AS om (TYPE postgres{mode})")
        except duckdb.Error as exc:
            raise ConfigError(f"OMSYNC_OM_URL: cannot open the OM database {self.masked_url}: {self._clean(exc)}") from None
        except OSError as exc:
            raise ConfigError(f"OMSYNC_OM_URL: cannot open the OM database {self.masked_url}: {exc.strerror}") from None

    def _clean(self, exc: BaseException) -> str:
        """The first line of a driver error, with any password removed."""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = urlsplit(self.url).password
        return text.replace(password, "***") if password else text

    @contextmanager
    def session(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A DuckDB connection with the OM attached as `om` and typed views of every contract table."""
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            self._attach(con, read_only)
            existing = self._existing_tables(con)
            for table in TABLES:
                if table.name in existing:
                    columns = self._typed_columns(table, as_text=read_only and self.dialect == "sqlite")
                    con.execute(f"CREATE TEMP VIEW {table.name} AS SELECT {columns} FROM {self.table_ref(table.name)}")
            yield con
        finally:
            con.close()

    def _existing_tables(self, con: duckdb.DuckDBPyConnection) -> set[str]:
        rows = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'om'"
        ).fetchall()
        return {r[0] for r in rows}

    def _typed_columns(self, table: Table, as_text: bool) -> str:
        if not as_text:
            typed = ", ".join(f"CAST({c.name} AS {DUCK_TYPES[c.kind]}) AS {c.name}" for c in table.columns)
            return f"{typed}, CAST(NULL AS VARCHAR) AS {UNREADABLE}"
        typed = ", ".join(f"{_typed_text(c.kind, c.name)} AS {c.name}" for c in table.columns)
        checked = [c for c in table.columns if c.kind is not Kind.TEXT]
        found = ", ".join(f"CASE WHEN {c.name} IS NOT NULL AND {_typed_text(c.kind, c.name)} IS NULL "
                          f"THEN {sql_literal(c.name + '=')} || {c.name} END" for c in checked)
        return f"{typed}, " + (f"NULLIF(concat_ws(' ', {found}), '') AS {UNREADABLE}" if checked else f"CAST(NULL AS VARCHAR) AS {UNREADABLE}")

    def init_schema(self) -> list[str]:
        """Create every contract table and index that is missing; returns the tables now present."""
        statements = render_ddl(self.dialect)
        if self.dialect == "sqlite":
            self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with sqlite3.connect(self.sqlite_path) as db:
                    db.execute("PRAGMA journal_mode=WAL")
                    for statement in statements:
                        db.execute(statement)
            except sqlite3.Error as exc:
                raise ConfigError(f"OMSYNC_OM_URL: cannot create the OM schema in {self.sqlite_path}: {exc}") from None
        else:
            with self.session() as con:
                try:
                    con.execute("CALL postgres_execute('om', ?)", [";\n".join(statements)])
                except duckdb.Error as exc:
                    raise ConfigError(f"OMSYNC_OM_URL: cannot create the OM schema: {self._clean(exc)}") from None
        with self.session(read_only=True) as con:
            return sorted(self._existing_tables(con) & set(TABLE_BY_NAME))

    def read(self, sql: str, params: list | None = None) -> pl.DataFrame:
        """Run a query over the typed views and return it as a Polars frame."""
        with self.session(read_only=True) as con:
            return con.execute(sql, params or []).pl()

    def counts(self) -> dict[str, int]:
        """Row count of every contract table."""
        with self.session(read_only=True) as con:
            return {t.name: con.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0] for t in TABLES}

    # --- writes -----------------------------------------------------------------------------

    def _stored(self, kind: Kind, expr: str) -> str:
        """How a DuckDB value is written into this dialect's column (exact money, ISO text dates in SQLite)."""
        if self.dialect == "postgres":
            return f"CAST({expr} AS {DUCK_TYPES[kind]})" if kind is not Kind.ID else expr
        match kind:
            case Kind.MONEY:
                return f"CAST(CAST({expr} AS DECIMAL(18,4)) AS VARCHAR)"
            case Kind.BOOL:
                return f"CAST(CAST({expr} AS BOOLEAN) AS INTEGER)"
            case Kind.DATE:
                return f"strftime(CAST({expr} AS DATE), '%Y-%m-%d')"
            case Kind.TIMESTAMP:
                return f"strftime(CAST({expr} AS TIMESTAMPTZ), '%Y-%m-%dT%H:%M:%S.%fZ')"
            case _:
                return expr

    def insert_missing(
        self, con: duckdb.DuckDBPyConnection, table_name: str, rows: pl.DataFrame, key: tuple[str, ...]
    ) -> int:
        """Insert the rows whose key is not in the table yet; returns how many were inserted."""
        table = TABLE_BY_NAME[table_name]
        columns = [c for c in table.columns if c.name in rows.columns]
        with registered(con, "staged_rows", rows):
            targets = ", ".join(c.name for c in columns)
            values = ", ".join(self._stored(c.kind, f"s.{c.name}") for c in columns)
            match = " AND ".join(f"t.{k} = {self._stored(table.column(k).kind, f's.{k}')}" for k in key)
            inserted = con.execute(
                f"INSERT INTO {self.table_ref(table.name)} ({targets}) SELECT {values} FROM staged_rows s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {self.table_ref(table.name)} t WHERE {match})"
            ).fetchone()[0]
        return inserted

    def update_matching(
        self, con: duckdb.DuckDBPyConnection, table_name: str, rows: pl.DataFrame, key: tuple[str, ...]
    ) -> None:
        """Set every non-key column given in `rows` on the table rows with the same key."""
        table = TABLE_BY_NAME[table_name]
        columns = [c for c in table.columns if c.name in rows.columns and c.name not in key]
        if not columns:
            return
        with registered(con, "staged_rows", rows):
            sets = ", ".join(f"{c.name} = {self._stored(c.kind, f's.{c.name}')}" for c in columns)
            match = " AND ".join(f"t.{k} = {self._stored(table.column(k).kind, f's.{k}')}" for k in key)
            con.execute(f"UPDATE {self.table_ref(table.name)} AS t SET {sets} FROM staged_rows s WHERE {match}")
