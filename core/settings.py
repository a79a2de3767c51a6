"""One settings object, read from environment variables; secrets never show in repr or logs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from omsync.core.errors import ConfigError
from omsync.core.marketplaces import KNOWN as KNOWN_MARKETPLACES
from omsync.core.marketplaces import Marketplace

DEFAULT_OM_URL = "sqlite:///data/om.sqlite"
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_MARKETPLACE_ID = "ATVPDKIKX0DER"
DEFAULT_SELLER_ID = "A1OMSYNCDEMO"


class Secret:
    """A value whose repr and str never reveal it; `.reveal()` is the only way in."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


@dataclass(frozen=True)
class Settings:
    om_url: str = DEFAULT_OM_URL
    warehouse: Path = Path(DEFAULT_WAREHOUSE)
    warehouse_catalog: str | None = None  # a PostgreSQL URL: the DuckLake catalog several machines share
    warehouse_data: str | None = None  # the DuckLake data path, if not beside OMSYNC_WAREHOUSE
    amazon_endpoint: str | None = None
    seller_id: str = DEFAULT_SELLER_ID
    marketplaces: tuple[Marketplace, ...] = (KNOWN_MARKETPLACES[DEFAULT_MARKETPLACE_ID],)  # the account's; the first is its home
    refresh_token: Secret = field(default_factory=lambda: Secret(""))
    lwa_app_id: str = ""
    lwa_client_secret: Secret = field(default_factory=lambda: Secret(""))

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("om_url", "warehouse_catalog") and value:
                value = mask_url(value)
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @property
    def marketplace_id(self) -> str:
        """The account's first marketplace: where a one-marketplace call goes."""
        return self.marketplaces[0].marketplace_id

    @property
    def currency(self) -> str:
        return self.marketplaces[0].currency

    @property
    def marketplace_ids(self) -> tuple[str, ...]:
        return tuple(m.marketplace_id for m in self.marketplaces)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        """Read and check every OMSYNC_* and SP-API variable; a bad one raises ConfigError naming it."""
        env = dict(os.environ if env is None else env)
        om_url = env.get("OMSYNC_OM_URL") or DEFAULT_OM_URL
        check_om_url(om_url)
        endpoint = env.get("OMSYNC_AMAZON_ENDPOINT") or None
        if endpoint is not None:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(
                    f"OMSYNC_AMAZON_ENDPOINT must be an http(s) URL such as http://127.0.0.1:8900, got {endpoint!r}"
                )
        catalog = env.get("OMSYNC_WAREHOUSE_CATALOG") or None
        if catalog is not None and urlsplit(catalog).scheme not in ("postgresql", "postgres"):
            raise ConfigError(f"OMSYNC_WAREHOUSE_CATALOG must be a postgresql:// URL, got {mask_url(catalog)!r}")
        marketplaces = read_marketplaces(env)
        return cls(
            om_url=om_url,
            warehouse=Path(env.get("OMSYNC_WAREHOUSE") or DEFAULT_WAREHOUSE),
            warehouse_catalog=catalog,
            warehouse_data=env.get("OMSYNC_WAREHOUSE_DATA") or None,
            amazon_endpoint=endpoint.rstrip("/") if endpoint else None,
            seller_id=env.get("OMSYNC_SELLER_ID") or DEFAULT_SELLER_ID,
            marketplaces=marketplaces,
            refresh_token=Secret(env.get("SP_API_REFRESH_TOKEN", "")),
            lwa_app_id=env.get("LWA_APP_ID", ""),
            lwa_client_secret=Secret(env.get("LWA_CLIENT_SECRET", "")),
        )


def read_marketplaces(env: dict[str, str]) -> tuple[Marketplace, ...]:
    """OMSYNC_MARKETPLACES (ids, comma-separated, one SP-API region), or the one-marketplace form
    OMSYNC_MARKETPLACE_ID with OMSYNC_CURRENCY; currency, country and region come from Amazon's list."""
    many, one, currency = env.get("OMSYNC_MARKETPLACES"), env.get("OMSYNC_MARKETPLACE_ID"), env.get("OMSYNC_CURRENCY")
    if many and (one or currency):
        raise ConfigError("OMSYNC_MARKETPLACES replaces OMSYNC_MARKETPLACE_ID and OMSYNC_CURRENCY: set one form, not both")
    ids = [part.strip() for part in many.split(",") if part.strip()] if many else [one or DEFAULT_MARKETPLACE_ID]
    setting = "OMSYNC_MARKETPLACES" if many else "OMSYNC_MARKETPLACE_ID"
    unknown = [i for i in ids if i not in KNOWN_MARKETPLACES]
    if unknown or not ids:
        known = ", ".join(f"{m.country} {m.marketplace_id}" for m in KNOWN_MARKETPLACES.values())
        raise ConfigError(f"{setting}: {', '.join(unknown) or 'empty'} is not an Amazon marketplace id; Amazon's are {known}")
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{setting}: a marketplace is named twice in {many!r}")
    marketplaces = tuple(KNOWN_MARKETPLACES[i] for i in ids)
    if len({m.region for m in marketplaces}) > 1:
        raise ConfigError(f"{setting}: {many!r} spans SP-API regions; one account connects to one region (na, eu or fe)")
    if currency is not None:
        if len(currency) != 3 or not currency.isalpha():
            raise ConfigError(f"OMSYNC_CURRENCY must be a three-letter ISO code, got {currency!r}")
        marketplaces = (replace(marketplaces[0], currency=currency.upper()),)
    return marketplaces


def check_om_url(url: str) -> None:
    """Accept sqlite:///path and postgresql://…; anything else is a ConfigError naming OMSYNC_OM_URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise ConfigError(f"OMSYNC_OM_URL: sqlite URL needs a file path, e.g. sqlite:///data/om.sqlite, got {url!r}")
        return
    if parts.scheme in ("postgresql", "postgres"):
        try:
            parts.port
        except ValueError:
            raise ConfigError(f"OMSYNC_OM_URL: bad port in {mask_url(url)!r}") from None
        if not parts.hostname or not parts.path.strip("/"):
            raise ConfigError(
                f"OMSYNC_OM_URL: PostgreSQL URL needs a host and a database, e.g. postgresql://user@127.0.0.1/om, got {mask_url(url)!r}"
            )
        return
    raise ConfigError(
        f"OMSYNC_OM_URL must start with sqlite:/// or postgresql://, got {mask_url(url)!r}"
    )
