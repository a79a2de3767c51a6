"""What a flow reads and writes (the OM, the warehouse, Amazon), built once from settings and handed
to each flow: the demo, `serve`, tests and benchmarks pass theirs in; a Prefect deployment passes none
and the flow builds them from the settings of the process it runs in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from omsync.connectors.amazon import AmazonConnector
from omsync.connectors.om import OmDatabase
from omsync.connectors.warehouse import Warehouse
from omsync.core.settings import Settings


class Resources:
    """The OM, the warehouse and Amazon of one configuration. Each flow run opens its own Amazon
    connection on first use (a settlement import from files needs no Amazon credentials) and closes
    it at its end, as a deployment run does."""

    # No __dict__: Prefect stores a flow run's parameters as JSON, and an object without one is kept
    # as "<Resources>" instead of its fields (the OM URL may hold a password).
    __slots__ = ("settings", "om", "warehouse", "connect_amazon", "_amazon")

    def __init__(self, settings: Settings, om: OmDatabase | None = None, warehouse: Warehouse | None = None,
                 connect_amazon: Callable[[Settings], AmazonConnector] = AmazonConnector) -> None:
        self.settings = settings
        self.om = om or OmDatabase(settings.om_url)
        self.warehouse = warehouse or Warehouse.of(settings)
        self.connect_amazon = connect_amazon
        self._amazon: AmazonConnector | None = None

    @property
    def amazon(self) -> AmazonConnector:
        if self._amazon is None:
            self._amazon = self.connect_amazon(self.settings)
        return self._amazon

    def close(self) -> None:
        if self._amazon is not None:
            self._amazon.close()
            self._amazon = None

    def __enter__(self) -> "Resources":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Resources(om={self.om.masked_url!r}, warehouse={str(self.warehouse.path)!r})"


@contextmanager
def provided(resources: Resources | None) -> Iterator[Resources]:
    """The resources of one flow run: those handed in, or (a deployment run) those its settings
    describe; its Amazon connection is closed when the run ends."""
    given = resources or Resources(Settings.from_env())
    with Resources(given.settings, given.om, given.warehouse, given.connect_amazon) as run:
        yield run
