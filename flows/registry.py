"""The flows `omsync run` and the deployments know, by name."""

from flows.inventory import inventory
from flows.orders import orders
from flows.prices import prices
from flows.settlement import settlement
from flows.shipments import shipments

FLOWS = {"prices": prices, "inventory": inventory, "orders": orders, "shipments": shipments, "settlement": settlement}
