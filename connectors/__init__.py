"""I/O with the outside systems: the OM database, Amazon's SP-API and the DuckDB warehouse."""
