"""JSON_LISTINGS_FEED processing: validate against Amazon's schema v2, apply the good messages to
the listing store, and answer with a processing report in Amazon's v2 format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from omsync.sandbox.conformance import feed_envelope_validator, feed_message_errors, messages_of
from omsync.sandbox.listings import INVALID_MESSAGE, MAX_SKU_LENGTH, Issue, Listing, apply_patches, check_patches, sku_too_long

MAX_MESSAGES = 25_000


@dataclass(frozen=True)
class FeedOutcome:
    status: str  # DONE or FATAL
    report: dict[str, Any] | bytes  # JSON for listings feeds, XML for order feeds


@dataclass(frozen=True)
class ParsedFeed:
    messages: list
    schema_issues: dict[int, Issue]  # index in `messages` → why the message is invalid


def parse_listings_feed(document: bytes, seller_id: str) -> ParsedFeed | str:
    """Check the document against the feed schema (no listing state needed); a str is a FATAL reason."""
    try:
        feed = json.loads(document.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"The feed document is not valid UTF-8 JSON: {exc}"
    if not isinstance(feed, dict):
        return "The feed document must be a JSON object with header and messages."
    messages = feed.get("messages")
    if isinstance(messages, list) and len(messages) > MAX_MESSAGES:
        return f"feed messages list beyond allowed size: {len(messages)} > {MAX_MESSAGES}"
    envelope = messages_of(feed_envelope_validator().iter_errors(feed))
    if envelope:
        return "The feed does not match the listings feed schema v2: " + "; ".join(envelope[:5])
    if feed["header"].get("sellerId") != seller_id:
        return f"The header sellerId '{feed['header'].get('sellerId')}' is not the submitting seller."
    schema_issues: dict[int, Issue] = {}
    seen: set[int] = set()
    for index, message in enumerate(messages):
        errors = feed_message_errors(message)
        if errors:
            schema_issues[index] = Issue(INVALID_MESSAGE, "The message does not match the listings feed message schema: " + "; ".join(errors[:3]))
        elif message["messageId"] in seen:
            schema_issues[index] = Issue(INVALID_MESSAGE, f"messageId {message['messageId']} is used more than once in this feed.")
        else:
            seen.add(message["messageId"])
    return ParsedFeed(messages, schema_issues)


def apply_listings_feed(
    parsed: ParsedFeed,
    feed_id: str,
    seller_id: str,
    marketplace_id: str,
    currency: str,
    listings: dict[str, Listing],
    new_listing: Callable[[str, str, dict], Listing],
    now: datetime,
    currencies: dict[str, str] | None = None,
) -> FeedOutcome:
    """Apply the good messages to `listings` in place; every bad one becomes issues in the report."""
    issues: list[dict[str, Any]] = []
    accepted = invalid = 0
    for index, message in enumerate(parsed.messages):
        problem = parsed.schema_issues.get(index)
        problems = [problem] if problem else _message_problems(message, listings, marketplace_id, currency, currencies)
        if problems:
            invalid += 1
            message_id = message.get("messageId") if isinstance(message, dict) else None
            sku = message.get("sku") if isinstance(message, dict) else None
            for found in problems:
                issue = {"messageId": message_id, "sku": sku, "code": found.code, "severity": found.severity,
                         "message": found.message, "attributeName": found.attribute}
                issues.append({k: v for k, v in issue.items() if v is not None})
            continue
        accepted += 1
        _apply(message, listings, new_listing, now)
    errors = sum(1 for i in issues if i["severity"] == "ERROR")
    report = {
        "header": {"sellerId": seller_id, "version": "2.0", "feedId": feed_id},
        "issues": issues,
        "summary": {
            "errors": errors,
            "warnings": len(issues) - errors,
            "messagesProcessed": len(parsed.messages),
            "messagesAccepted": accepted,
            "messagesInvalid": invalid,
        },
    }
    return FeedOutcome("DONE", report)


def _message_problems(message: dict, listings: dict[str, Listing], marketplace_id: str, currency: str,
                      currencies: dict[str, str] | None) -> list[Issue]:
    operation = message["operationType"]
    listing = listings.get(message["sku"])
    if operation == "PATCH":
        return check_patches(listing, message["sku"], message.get("productType"), message["patches"], marketplace_id, currency, currencies)
    if operation == "PARTIAL_UPDATE":
        patches = [{"op": "replace", "path": f"/attributes/{k}", "value": v} for k, v in message["attributes"].items()]
        return check_patches(listing, message["sku"], message.get("productType"), patches, marketplace_id, currency, currencies)
    if len(message["sku"]) > MAX_SKU_LENGTH:
        return [sku_too_long(message["sku"])]
    if operation == "DELETE":
        return [] if listing else check_patches(None, message["sku"], None, [], marketplace_id, currency)
    return []  # UPDATE creates or replaces the listing


def _apply(message: dict, listings: dict[str, Listing], new_listing, now: datetime) -> None:
    sku, operation = message["sku"], message["operationType"]
    if operation == "DELETE":
        listings.pop(sku, None)
    elif operation == "UPDATE":
        listings[sku] = new_listing(sku, message["productType"], message["attributes"])
    elif operation == "PARTIAL_UPDATE":
        apply_patches(listings[sku], [{"op": "replace", "path": f"/attributes/{k}", "value": v} for k, v in message["attributes"].items()], now)
    else:
        apply_patches(listings[sku], message["patches"], now)


def fatal_outcome(feed_id: str, seller_id: str, message: str) -> FeedOutcome:
    report = {
        "header": {"sellerId": seller_id, "version": "2.0", "feedId": feed_id},
        "issues": [{"code": "4000000", "severity": "ERROR", "message": message}],
        "summary": {"errors": 1, "warnings": 0, "messagesProcessed": 0, "messagesAccepted": 0, "messagesInvalid": 0},
    }
    return FeedOutcome("FATAL", report)
