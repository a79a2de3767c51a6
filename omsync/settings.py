"""One settings object, read from environment variables; secrets never show in repr or logs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

from omsync.errors import ConfigError

DEFAULT_OM_URL = "sqlite:///data/om.sqlite"
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_MARKETPLACE_ID = "ATVPDKIKX0DER"
DEFAULT_CURRENCY = "USD"
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
    marketplace_id: str = DEFAULT_MARKETPLACE_ID
    currency: str = DEFAULT_CURRENCY
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
        currency = env.get("OMSYNC_CURRENCY") or DEFAULT_CURRENCY
        if len(currency) != 3 or not currency.isalpha():
            raise ConfigError(f"OMSYNC_CURRENCY must be a three-letter ISO code, got {currency!r}")
        catalog = env.get("OMSYNC_WAREHOUSE_CATALOG") or None
        if catalog is not None and urlsplit(catalog).scheme not in ("postgresql", "postgres"):
            raise ConfigError(f"OMSYNC_WAREHOUSE_CATALOG must be a postgresql:// URL, got {mask_url(catalog)!r}")
        return cls(
            om_url=om_url,
            warehouse=Path(env.get("OMSYNC_WAREHOUSE") or DEFAULT_WAREHOUSE),
            warehouse_catalog=catalog,
            warehouse_data=env.get("OMSYNC_WAREHOUSE_DATA") or None,
            amazon_endpoint=endpoint.rstrip("/") if endpoint else None,
            seller_id=env.get("OMSYNC_SELLER_ID") or DEFAULT_SELLER_ID,
            marketplace_id=env.get("OMSYNC_MARKETPLACE_ID") or DEFAULT_MARKETPLACE_ID,
            currency=currency.upper(),
            refresh_token=Secret(env.get("SP_API_REFRESH_TOKEN", "")),
            lwa_app_id=env.get("LWA_APP_ID", ""),
            lwa_client_secret=Secret(env.get("LWA_CLIENT_SECRET", "")),
        )


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
