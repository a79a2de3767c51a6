"""The OM Terms an imported Amazon order is invoiced under, unless a run is told otherwise."""

DEFAULT_TERMS = "NET14"  # Amazon pays the seller out every 14 days
