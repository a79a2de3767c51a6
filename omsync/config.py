"""The settings file `omsync.toml` beside environment variables: the environment wins, and every
setting knows where it came from (`omsync config`)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import MutableMapping
from pathlib import Path
from urllib.parse import urlsplit

from omsync.core.errors import ConfigError
from omsync.core.settings import DEFAULT_MARKETPLACE_ID, DEFAULT_OM_URL, DEFAULT_SELLER_ID, DEFAULT_WAREHOUSE, mask_url

CONFIG_FILE = Path("omsync.toml")  # in the folder omsync runs in; OMSYNC_CONFIG names another
# The file's keys and the environment variables they stand for.
FILE_KEYS = {
    "om_url": "OMSYNC_OM_URL",
    "warehouse": "OMSYNC_WAREHOUSE",
    "amazon_endpoint": "OMSYNC_AMAZON_ENDPOINT",
    "seller_id": "OMSYNC_SELLER_ID",
    "marketplace_id": "OMSYNC_MARKETPLACE_ID",
    "currency": "OMSYNC_CURRENCY",
    "notify": "OMSYNC_NOTIFY_URL",
    "refresh_token": "SP_API_REFRESH_TOKEN",
    "lwa_app_id": "LWA_APP_ID",
    "lwa_client_secret": "LWA_CLIENT_SECRET",
}
SECRETS = {"SP_API_REFRESH_TOKEN", "LWA_CLIENT_SECRET"}
DEFAULTS = {  # what each setting is when neither the environment nor the file sets it
    "OMSYNC_OM_URL": DEFAULT_OM_URL, "OMSYNC_WAREHOUSE": DEFAULT_WAREHOUSE, "OMSYNC_AMAZON_ENDPOINT": "(real Amazon)",
    "OMSYNC_SELLER_ID": DEFAULT_SELLER_ID, "OMSYNC_MARKETPLACE_ID": DEFAULT_MARKETPLACE_ID, "OMSYNC_CURRENCY": "the marketplace's",
    "OMSYNC_NOTIFY_URL": "(no alerts)",
}


def config_path(env: MutableMapping[str, str]) -> Path:
    return Path(env["OMSYNC_CONFIG"]) if env.get("OMSYNC_CONFIG") else CONFIG_FILE


def read_file(path: Path, required: bool) -> dict[str, str]:
    """The file's settings as environment variables; a key omsync does not know, or bad TOML, is a ConfigError."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if required:
            raise ConfigError(f"OMSYNC_CONFIG: no settings file at {path}") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the settings file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown setting {', '.join(unknown)}; known: {', '.join(FILE_KEYS)}")
    values = {}
    for key, value in data.items():
        if isinstance(value, (dict, list, bool)):
            raise ConfigError(f"{path}: {key} must be a string or a number, got {type(value).__name__}")
        values[FILE_KEYS[key]] = str(value)
    return values


def apply(env: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """Fill the settings the environment leaves unset from the settings file; returns where each setting
    comes from ("environment", the file's name, or "default")."""
    path = config_path(env)
    from_file = read_file(path, required=bool(env.get("OMSYNC_CONFIG")))
    origin = {}
    for variable in FILE_KEYS.values():
        if env.get(variable):
            origin[variable] = "environment"
        elif variable in from_file:
            env[variable] = from_file[variable]
            origin[variable] = str(path)
        else:
            origin[variable] = "default"
    return origin


def shown_value(variable: str, value: str) -> str:
    """A value as `omsync config` prints it: secrets masked, passwords and webhook paths hidden."""
    if variable in SECRETS:
        return "********" if value else "(unset)"
    if variable == "OMSYNC_OM_URL":
        return mask_url(value)
    if variable == "OMSYNC_NOTIFY_URL" and value.startswith("http"):
        parts = urlsplit(value)  # a webhook's path and query are its key
        return f"{parts.scheme}://{parts.netloc}/***" if parts.path.strip("/") or parts.query else value
    return value


def effective(env: MutableMapping[str, str], origin: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """Each setting: file key, environment variable, the value in effect (masked), where it came from."""
    rows = []
    for key, variable in FILE_KEYS.items():
        value = env.get(variable) or ""
        shown = shown_value(variable, value) if value else DEFAULTS.get(variable, "(unset)")
        rows.append((key, variable, shown, origin.get(variable, "default")))
    return rows
