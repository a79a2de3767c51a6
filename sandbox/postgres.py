"""A throwaway PostgreSQL cluster for an OM (the test session, a benchmark), or the one named by OMSYNC_TEST_PG_URL.

PostgreSQL refuses to run as root, so as root the cluster is started as the `postgres` user in a
temporary folder it owns, listening on 127.0.0.1 only, with durability off (it is thrown away).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class NoPostgres(RuntimeError):
    """No PostgreSQL server could be had here."""


@dataclass
class PgCluster:
    admin_url: str
    folder: Path | None = None
    bin_dir: Path | None = None
    run_as: list[str] | None = None

    def url(self, database: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + f"/{database}"

    def stop(self) -> None:
        if self.folder is None or self.bin_dir is None:
            return
        subprocess.run(
            [*(self.run_as or []), str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster() -> PgCluster:
    if url := os.environ.get("OMSYNC_TEST_PG_URL"):
        return PgCluster(admin_url=url)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or ([shutil.which("initdb")] if shutil.which("initdb") else [])
    if not candidates:
        raise NoPostgres("no PostgreSQL server binaries (initdb) found; install Debian's postgresql package")
    bin_dir = Path(candidates[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="omsync-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise NoPostgres("running as root and there is no `postgres` user to run the server") from None
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = folder / "data"
    steps = [
        [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
        [
            str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
            "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200",
            "start",
        ],
    ]
    for step in steps:
        done = subprocess.run([*run_as, *step], capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise NoPostgres(f"{Path(step[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")
    return PgCluster(admin_url=f"postgresql://postgres@127.0.0.1:{port}/postgres", folder=folder, bin_dir=bin_dir, run_as=run_as)
