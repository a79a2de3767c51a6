"""The offline Amazon SP-API sandbox and the OM demo simulator."""
