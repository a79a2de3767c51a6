"""Pure Polars functions with the business rules: frames in, frames out, no I/O, no Prefect."""
