"""The flows `omsync run` and the deployments know, by name."""

from flows.inventory import inventory
from flows.prices import prices

FLOWS = {"prices": prices, "inventory": inventory}
