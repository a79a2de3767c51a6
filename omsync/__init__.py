"""omsync: Order Management ↔ Amazon Seller Central, as inspectable Prefect flows."""

__version__ = "0.1.0"
