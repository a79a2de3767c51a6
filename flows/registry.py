"""The flows `omsync run` and the deployments know, by name."""

from flows.inventory import inventory

FLOWS = {"inventory": inventory}
