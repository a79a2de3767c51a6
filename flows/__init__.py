"""Prefect flows: orchestration only (extract → transform → load → record), one module per flow."""
