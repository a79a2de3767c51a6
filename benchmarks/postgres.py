"""A PostgreSQL for benchmarks: OMSYNC_BENCH_PG_URL, or a throwaway cluster like the tests use."""

import os
from contextlib import contextmanager

from omsync.sandbox.postgres import start_cluster


@contextmanager
def postgres_url():
    if url := os.environ.get("OMSYNC_BENCH_PG_URL"):
        yield url
        return
    cluster = start_cluster()
    try:
        import psycopg

        with psycopg.connect(cluster.admin_url, autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench")
        yield cluster.url("bench")
    finally:
        cluster.stop()
