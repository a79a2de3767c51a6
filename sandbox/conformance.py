"""Amazon's OpenAPI (Swagger 2.0) models and listings-feed schemas, to check requests and responses.

The sandbox rejects what the models reject; tests check that what it answers is what the models
describe. Unknown query parameters and body keys are tolerated, as Amazon does (the client adds
several of its own).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Callable, Iterable

import fastjsonschema

from jsonschema import Draft4Validator, Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError

MODEL_FILES = (
    "feeds_2021-06-30.json",
    "finances_2024-06-19.json",
    "listingsItems_2021-08-01.json",
    "notifications.json",
    "ordersV0.json",
    "orders_2026-01-01.json",
    "reports_2021-06-30.json",
    "tokens_2021-03-01.json",
)


def _load(name: str) -> dict:
    return json.loads(resources.files("omsync.sandbox").joinpath("models", name).read_text(encoding="utf-8"))


def _iso_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time")(_iso_datetime)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str
    pattern: re.Pattern
    spec: dict
    definitions: dict

    def _schema_validator(self, schema: dict) -> Draft4Validator:
        return Draft4Validator({**schema, "definitions": self.definitions}, format_checker=FORMATS)

    def request_errors(self, query: dict[str, list[str]], body: Any) -> list[str]:
        """What the model rejects in this request, as messages Amazon would put in InvalidInput."""
        errors: list[str] = []
        for param in self.spec.get("parameters", []):
            name, where = param["name"], param["in"]
            if where == "query":
                values = query.get(name)
                if not values:
                    if param.get("required"):
                        errors.append(f"{name} is required")
                    continue
                errors += _query_errors(param, values)
            elif where == "body":
                if body is None:
                    if param.get("required"):
                        errors.append("a JSON request body is required")
                    continue
                errors += [
                    f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
                    for e in self._schema_validator(param["schema"]).iter_errors(body)
                ]
        return errors

    def response_errors(self, status: int, body: Any) -> list[str]:
        """How a response body departs from the model's schema for that status."""
        response = self.spec["responses"].get(str(status))
        if response is None:
            return [f"status {status} is not in the model of {self.operation_id}"]
        schema = response.get("schema")
        if schema is None:
            return [] if body in (None, b"", "") else [f"{self.operation_id} {status} has no body in the model"]
        return [
            f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}"
            for e in self._schema_validator(schema).iter_errors(body)
        ]


def _query_errors(param: dict, raw: list[str]) -> list[str]:
    name = param["name"]
    if param.get("type") == "array":
        values = [v for item in raw for v in item.split(",") if v != ""]
        errors = []
        if "maxItems" in param and len(values) > param["maxItems"]:
            errors.append(f"{name} takes at most {param['maxItems']} values")
        if "minItems" in param and len(values) < param["minItems"]:
            errors.append(f"{name} needs at least {param['minItems']} values")
        return errors + [e for v in values for e in _scalar_errors(name, param.get("items", {}), v)]
    return _scalar_errors(name, param, raw[-1])


def _scalar_errors(name: str, spec: dict, value: str) -> list[str]:
    kind = spec.get("type", "string")
    if kind == "integer":
        try:
            number = int(value)
        except ValueError:
            return [f"{name} must be an integer, got {value!r}"]
        if "minimum" in spec and number < spec["minimum"]:
            return [f"{name} must be at least {spec['minimum']}"]
        if "maximum" in spec and number > spec["maximum"]:
            return [f"{name} must be at most {spec['maximum']}"]
        return []
    if "enum" in spec and value not in spec["enum"]:
        return [f"{name} has an invalid value {value!r}"]
    if spec.get("format") == "date-time" and not _iso_datetime(value):
        return [f"{name} must be an ISO 8601 date-time, got {value!r}"]
    if "maxLength" in spec and len(value) > spec["maxLength"]:
        return [f"{name} is longer than {spec['maxLength']}"]
    return []


@cache
def operations() -> dict[str, Operation]:
    """Every operation of the models the sandbox serves, by operationId (getOrder is per version)."""
    found: dict[str, Operation] = {}
    for name in MODEL_FILES:
        doc = _load(name)
        version = doc["info"]["version"]
        for template, methods in doc["paths"].items():
            shared = methods.get("parameters", [])
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "([^/]+)", template) + "$")
            for method, spec in methods.items():
                if method == "parameters" or not isinstance(spec, dict) or "operationId" not in spec:
                    continue  # shared parameters and x-amzn extensions
                spec = {**spec, "parameters": shared + spec.get("parameters", [])}
                op_id = spec["operationId"]
                key = f"{op_id}@{version}" if op_id in ("getOrder", "getOrders") else op_id
                found[key] = Operation(key, method.upper(), template, pattern, spec, doc.get("definitions", {}))
    return found


def operation(key: str) -> Operation:
    return operations()[key]


@cache
def feed_envelope_validator() -> Draft7Validator:
    """The listings feed schema v2 without its per-message part (messages are checked one by one)."""
    schema = _load("schemas/listings-feed-schema-v2.json")
    messages = dict(schema["properties"]["messages"])
    messages["items"] = {}
    return Draft7Validator({**schema, "properties": {**schema["properties"], "messages": messages}})


@cache
def feed_message_validator() -> Draft7Validator:
    return Draft7Validator(_load("schemas/listings-feed-message-schema-v2.json"))


@cache
def feed_message_check() -> Callable[[Any], Any]:
    """The same message schema compiled to Python: a fast yes/no for the 25,000-message hot path."""
    return fastjsonschema.compile(_load("schemas/listings-feed-message-schema-v2.json"))


def feed_message_errors(message: Any) -> list[str]:
    """Why a listings-feed message breaks the schema (empty when it does not)."""
    try:
        feed_message_check()(message)
        return []
    except fastjsonschema.JsonSchemaException:
        return messages_of(feed_message_validator().iter_errors(message)) or ["the message does not match the schema"]


@cache
def order_change_validator() -> Draft7Validator:
    """Amazon's schema of an ORDER_CHANGE notification (the SQS message body)."""
    return Draft7Validator(_load("schemas/OrderChangeNotification.json"), format_checker=FORMATS)


@cache
def processing_report_validator() -> Draft7Validator:
    return Draft7Validator(_load("schemas/listings-feed-processing-report-schema-v2.json"))


def messages_of(errors: Iterable[ValidationError]) -> list[str]:
    """Readable reasons; for oneOf/anyOf the closest alternative's own error, not the whole instance."""
    shown = []
    for error in errors:
        if error.validator in ("oneOf", "anyOf") and error.context:
            # The alternative that fits on everything but one field (e.g. the PATCH branch for a
            # PATCH message) says what is wrong; the others only say "this is not a DELETE".
            branches: dict[int, list[ValidationError]] = {}
            for sub in error.context:
                branches.setdefault(sub.schema_path[0], []).append(sub)
            closest = min(branches.values(), key=lambda subs: (any("const" == s.validator for s in subs), len(subs)))
            shown += messages_of(closest)
            continue
        shown.append(f"{'/'.join(map(str, error.absolute_path)) or 'document'}: {error.message}")
    return shown
