"""Is each part reachable and usable? Asked before Prefect starts (so a bad setting is one line, at
once) and by `omsync status`. Each check returns what it found; `require` turns a failure into a UserError."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from omsync.connectors.om import OmDatabase
from omsync.connectors.warehouse import Warehouse
from omsync.core.errors import ConfigError, UserError
from omsync.core.settings import Settings

PROBE_TIMEOUT_SECONDS = 3.0
PROBE_DELAYS = (0.5, 1.0, 2.0)  # between the attempts: an endpoint still starting gets ~4 s, a dead one fails within ~15 s
PG_CONNECT_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Check:
    part: str  # OM, warehouse, Amazon
    ok: bool
    detail: str


def check_om(settings: Settings) -> Check:
    """The OM opens and has its contract tables."""
    om = OmDatabase(settings.om_url)
    if om.dialect == "sqlite" and not om.sqlite_path.exists():
        return Check("OM", False, f"OMSYNC_OM_URL: no OM database at {om.sqlite_path}; run `omsync om init` (or `make demo`)")
    if om.dialect == "postgres" and "connect_timeout" not in om.url:
        # A firewalled host would otherwise hang for minutes before libpq gives up.
        parts = urlsplit(om.url)
        query = f"{parts.query}&" if parts.query else ""
        om = OmDatabase(urlunsplit(parts._replace(query=f"{query}connect_timeout={PG_CONNECT_TIMEOUT_SECONDS}")))
    try:
        with om.session(read_only=True) as con:
            tables = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_catalog = 'om'").fetchone()[0]
    except UserError as exc:
        return Check("OM", False, str(exc).replace(om.masked_url, OmDatabase(settings.om_url).masked_url))
    if not tables:
        return Check("OM", False, f"OMSYNC_OM_URL: {om.masked_url} has no OM tables; run `omsync om init`")
    return Check("OM", True, OmDatabase(settings.om_url).masked_url)


def check_warehouse(settings: Settings, create: bool) -> Check:
    """The warehouse exists (or, with create, is created and migrated) and its folder is writable."""
    warehouse = Warehouse.of(settings)
    try:
        if create:
            warehouse.init()
        else:
            with warehouse.read():
                pass
    except UserError as exc:
        return Check("warehouse", False, str(exc))
    return Check("warehouse", True, str(settings.warehouse))


def check_amazon(settings: Settings, say: Callable[[str], None] = lambda _: None,
                 sleep: Callable[[float], None] = time.sleep) -> Check:
    """Amazon's endpoint (or the sandbox's) answers; each failed attempt is told with `say` as it happens."""
    from omsync.connectors.amazon import AmazonConnector

    try:
        AmazonConnector(settings).close()  # credentials present, marketplace known
    except UserError as exc:
        return Check("Amazon", False, str(exc))
    endpoint = settings.amazon_endpoint or _marketplace_endpoint(settings.marketplace_id)
    attempts = len(PROBE_DELAYS) + 1
    for attempt in range(attempts):
        try:
            httpx.get(f"{endpoint}/", timeout=PROBE_TIMEOUT_SECONDS, trust_env=settings.amazon_endpoint is None)
            return Check("Amazon", True, endpoint)
        except httpx.TransportError as exc:
            failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if attempt + 1 < attempts:
                say(f"Amazon at {endpoint}: {failure}; retry {attempt + 1}/{attempts - 1} in {PROBE_DELAYS[attempt]:g} s")
                sleep(PROBE_DELAYS[attempt])
    where = "OMSYNC_AMAZON_ENDPOINT" if settings.amazon_endpoint else "the network (real Amazon)"
    hint = " (is `omsync sandbox` running?)" if settings.amazon_endpoint else ""
    return Check("Amazon", False, f"nothing answers at {endpoint} after {attempts} attempts ({failure}): check {where}{hint}")


def _marketplace_endpoint(marketplace_id: str) -> str:
    from omsync.connectors.amazon import _real_marketplace

    return _real_marketplace(marketplace_id).endpoint


def require(check: Check) -> None:
    """A failed check stops the command with its one line."""
    if not check.ok:
        raise ConfigError(check.detail)
