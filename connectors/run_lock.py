"""One run of each flow at a time, across processes and machines: a lease row with an expiry.

The lease lives where every process that shares the warehouse can reach it: in the DuckLake
catalog's PostgreSQL database (several machines), or in a SQLite file beside the SQLite catalog
(one machine; a file of its own, so that renewing a lease never disturbs a DuckLake commit).
Taking it is one atomic upsert that succeeds only when the lease is free, expired, or held by
a process of this host that no longer exists (a killed run is noticed at once, not after the
expiry). The holder renews it while it runs; a holder that vanished on another machine loses
it after `ttl` seconds. Works the same whichever run starts the flow: Prefect, `omsync run`, cron.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import duckdb

from omsync.connectors.om import load_extension, sql_literal
from omsync.core.errors import UserError

if TYPE_CHECKING:
    from omsync.connectors.warehouse import Warehouse

TTL_SECONDS = 60.0
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.25
TABLE = "omsync_run_lease"


class RunInProgress(UserError):
    """Another run of the same flow holds the lease."""


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    started: str  # the process's start time, so that a reused pid is not taken for the holder
    token: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.started}:{self.token}"

    @classmethod
    def parse(cls, text: str) -> "Holder | None":
        parts = text.split(":")
        if len(parts) != 4 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2], parts[3])

    def vanished(self) -> bool:
        """A holder on this host whose process is gone (killed runs leave their lease behind)."""
        return self.host == socket.gethostname() and _process_start(self.pid) != self.started


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot, or '' when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ""
        except PermissionError:
            pass
        return "?"


def me() -> Holder:
    return Holder(socket.gethostname(), os.getpid(), _process_start(os.getpid()), uuid.uuid4().hex[:12])


class _Store:
    """The lease table on SQLite or PostgreSQL: the same statements, each its own transaction."""

    def __init__(self, warehouse: "Warehouse") -> None:
        self.postgres = warehouse.on_postgres
        if self.postgres:
            self.con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
            load_extension(self.con, "postgres_scanner")
            url = warehouse.catalog.replace("postgres://", "postgresql://", 1)
            self.con.execute(f"ATTACH {sql_literal(url)} AS catalog (TYPE postgres)")
            self.now = "extract(epoch from clock_timestamp())"
        else:
            warehouse.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(warehouse.path.with_name(f"{warehouse.path.stem}.leases.sqlite"), timeout=30,
                                      isolation_level=None)
            self.now = "((julianday('now') - 2440587.5) * 86400.0)"
        create = (f"CREATE TABLE IF NOT EXISTS {TABLE} (flow TEXT PRIMARY KEY, holder TEXT NOT NULL, "
                  "since DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION NOT NULL)")
        try:
            self.run(create)
        except duckdb.Error as exc:
            # PostgreSQL's IF NOT EXISTS does not cover two machines creating the table at the same moment:
            # the one refused ("… already exists") finds it made by the other.
            if "already exists" not in str(exc):
                raise
            self.run(create)

    def run(self, sql: str) -> None:
        if self.postgres:
            self.con.execute(f"CALL postgres_execute('catalog', {sql_literal(sql)})")
        else:
            self.db.execute(sql)

    def holder(self, flow: str) -> tuple[str, float] | None:
        sql = f"SELECT holder, since FROM {TABLE} WHERE flow = {sql_literal(flow)}"
        if self.postgres:
            return self.con.execute(f"SELECT * FROM postgres_query('catalog', {sql_literal(sql)})").fetchone()
        return self.db.execute(sql).fetchone()

    def close(self) -> None:
        (self.con if self.postgres else self.db).close()


@contextmanager
def run_lease(warehouse: "Warehouse", flow: str, wait: float = WAIT_SECONDS, ttl: float = TTL_SECONDS) -> Iterator[None]:
    """Hold the flow's lease for the block; if another live run holds it for longer than `wait`
    seconds, RunInProgress says who."""
    store = _Store(warehouse)
    holder, key = str(me()), sql_literal(flow)
    try:
        deadline = time.monotonic() + wait
        while True:
            current = store.holder(flow)
            free = f"{TABLE}.expires < {store.now}"
            if current and (stale := Holder.parse(current[0])) is not None and stale.vanished():
                free += f" OR {TABLE}.holder = {sql_literal(current[0])}"
            store.run(f"INSERT INTO {TABLE} VALUES ({key}, {sql_literal(holder)}, {store.now}, {store.now} + {ttl}) "
                      f"ON CONFLICT (flow) DO UPDATE SET holder = excluded.holder, since = excluded.since, "
                      f"expires = excluded.expires WHERE {free}")
            current = store.holder(flow)
            if current and current[0] == holder:
                break
            if time.monotonic() > deadline:
                other = Holder.parse(current[0]) if current else None
                who = f"process {other.pid} on {other.host}" if other else "another process"
                since = time.strftime("%H:%M:%S UTC", time.gmtime(current[1])) if current else "?"
                raise RunInProgress(f"another {flow} run holds the lock ({who}, since {since}); "
                                    f"this one did nothing: run it again when that one has finished")
            time.sleep(POLL_SECONDS)
        stop = threading.Event()
        renewer = threading.Thread(target=_renew, args=(warehouse, flow, holder, ttl, stop), daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            store.run(f"DELETE FROM {TABLE} WHERE flow = {key} AND holder = {sql_literal(holder)}")
    finally:
        store.close()


def _renew(warehouse: "Warehouse", flow: str, holder: str, ttl: float, stop: threading.Event) -> None:
    """Push the expiry forward while the run lives (a store of its own: connections stay in their thread)."""
    store = _Store(warehouse)
    try:
        while not stop.wait(ttl / 3):
            store.run(f"UPDATE {TABLE} SET expires = {store.now} + {ttl} "
                      f"WHERE flow = {sql_literal(flow)} AND holder = {sql_literal(holder)}")
    finally:
        store.close()
