"""Errors a user can act on: the CLI prints them as one line, never as a traceback."""


class UserError(Exception):
    """Something the person running omsync can fix; the message says what."""


class ConfigError(UserError):
    """A setting is missing, malformed or points at something unusable; the message names it."""


class WarehouseBusy(UserError):
    """Another process held the warehouse write lock for longer than the timeout."""


class WriteRefused(UserError):
    """A statement given to `omsync sql` would change the warehouse, which is read-only for people."""
