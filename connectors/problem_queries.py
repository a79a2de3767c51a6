"""The `omsync sql` queries a run summary points a person to, for all of a run's problems."""


def open_quarantine(flow: str) -> str:
    """Every open quarantine row of a flow (the flow name is one of the registry's, never user input)."""
    return f"SELECT * FROM ops.quarantine WHERE flow = '{flow}' AND resolved_at IS NULL"


SETTLEMENT_EXCEPTIONS = "SELECT * FROM recon.exceptions ORDER BY created_at DESC"
