"""POST_ORDER_ACKNOWLEDGEMENT_DATA, the XML feed by which a seller acknowledges an order or cancels it
(StatusCode Failure) or some of its items (Item with a CancelReason), and its XML processing report.
Amazon's XSD (OrderAcknowledgement.xsd) is not among the models: docs/sandbox.md lists the fields modelled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable
from xml.etree import ElementTree

from omsync.sandbox.orders import OrderLine, SimOrder

FEED_TYPE = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
CANCEL_REASONS = ("NoInventory", "ShippingAddressUndeliverable", "CustomerExchange", "BuyerCanceled", "GeneralAdjustment",
                  "CarrierCreditDecision", "RiskAssessmentInformationNotValid", "CarrierCoverageFailure", "CustomerReturn",
                  "MerchandiseNotReceived")
MAX_BYTES = 10_000_000
# Result codes of the sandbox's report, numeric like Amazon's.
UNKNOWN_ORDER, ALREADY_SHIPPED, BAD_REASON, UNKNOWN_ITEM, ALREADY_CANCELLED, BAD_MESSAGE = "25", "18", "8032", "24", "19", "5000"


@dataclass
class Acknowledgement:
    message_id: str
    order_id: str | None
    status_code: str | None
    items: list[tuple[str | None, str | None]] = field(default_factory=list)  # (AmazonOrderItemCode, CancelReason)


def _text(element: ElementTree.Element | None, name: str) -> str | None:
    found = None if element is None else element.find(name)
    return None if found is None or found.text is None else found.text.strip()


def parse_acknowledgement_feed(document: bytes, seller_id: str) -> list[Acknowledgement] | str:
    """The acknowledgements in an AmazonEnvelope; a str is why the whole feed is FATAL."""
    if len(document) > MAX_BYTES:
        return f"The feed document is larger than {MAX_BYTES:,} bytes."
    if b"<!DOCTYPE" in document or b"<!ENTITY" in document:
        return "The feed document must not declare a DOCTYPE or entities."
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError as exc:
        return f"The feed document is not well-formed XML: {exc}"
    if root.tag != "AmazonEnvelope" or _text(root, "MessageType") != "OrderAcknowledgement":
        return "The feed must be an AmazonEnvelope with MessageType OrderAcknowledgement."
    merchant = _text(root.find("Header"), "MerchantIdentifier")
    if merchant != seller_id:
        return f"The Header's MerchantIdentifier '{merchant}' is not the submitting seller."
    acks = []
    for message in root.findall("Message"):
        ack = message.find("OrderAcknowledgement")
        items = [(_text(i, "AmazonOrderItemCode"), _text(i, "CancelReason")) for i in ([] if ack is None else ack.findall("Item"))]
        acks.append(Acknowledgement(_text(message, "MessageID") or "", _text(ack, "AmazonOrderID"), _text(ack, "StatusCode"), items))
    return acks


def apply_acknowledgements(acks: list[Acknowledgement], orders: dict[str, SimOrder],
                           cancel_items: Callable[[SimOrder, list[tuple[OrderLine, str]], str], None]) -> list[tuple[str, str, str, str, str | None]]:
    """Cancel what the Failure messages ask for; returns the (MessageID, ResultCode, ResultMessageCode,
    description, order id) of each message in error or with a warning."""
    results = []
    for ack in acks:
        def refuse(code: str, description: str, level: str = "Error") -> None:
            results.append((ack.message_id, level, code, description, ack.order_id))

        if not ack.message_id.isdigit() or not ack.order_id or ack.status_code not in ("Success", "Failure"):
            refuse(BAD_MESSAGE, "A message needs a numeric MessageID, an AmazonOrderID and a StatusCode of Success or Failure.")
            continue
        order = orders.get(ack.order_id)
        if order is None or order.fulfilled_by != "MERCHANT":
            refuse(UNKNOWN_ORDER, f"The order {ack.order_id} is not a merchant-fulfilled order of this seller.")
            continue
        if ack.status_code == "Success":
            continue  # acknowledged: nothing changes on Amazon
        reasons = [reason for _, reason in ack.items]
        bad = [r for r in reasons if r not in CANCEL_REASONS]
        if bad:
            refuse(BAD_REASON, f"CancelReason {bad[0]!r} is not one of {', '.join(CANCEL_REASONS)}.")
            continue
        if order.status == "CANCELLED":
            refuse(ALREADY_CANCELLED, f"The order {order.order_id} is already cancelled.", "Warning")
            continue
        lines = {l.order_item_id: l for l in order.lines}
        codes = [code for code, _ in ack.items]
        unknown = [c for c in codes if c not in lines]
        if unknown:
            refuse(UNKNOWN_ITEM, f"AmazonOrderItemCode {unknown[0]} is not an item of order {order.order_id}.")
            continue
        reason = reasons[0] if reasons else "GeneralAdjustment"
        pairs = [(lines[c], r) for c, r in ack.items] or [(l, reason) for l in order.lines if not l.cancelled]
        if any(line.shipped for line, _ in pairs):
            refuse(ALREADY_SHIPPED, f"The order {order.order_id} has shipped items that cannot be cancelled.")
            continue
        cancel_items(order, pairs, reason)
    return results


def processing_report(feed_id: str, seller_id: str, processed: int, results: list[tuple[str, str, str, str, str | None]]) -> bytes:
    """Amazon's XML ProcessingReport: a summary and one Result per message in error or with a warning."""
    envelope = ElementTree.Element("AmazonEnvelope")
    header = ElementTree.SubElement(envelope, "Header")
    ElementTree.SubElement(header, "DocumentVersion").text = "1.02"
    ElementTree.SubElement(header, "MerchantIdentifier").text = seller_id
    ElementTree.SubElement(envelope, "MessageType").text = "ProcessingReport"
    message = ElementTree.SubElement(envelope, "Message")
    ElementTree.SubElement(message, "MessageID").text = "1"
    report = ElementTree.SubElement(message, "ProcessingReport")
    ElementTree.SubElement(report, "DocumentTransactionID").text = feed_id
    ElementTree.SubElement(report, "StatusCode").text = "Complete"
    summary = ElementTree.SubElement(report, "ProcessingSummary")
    errors = len({r[0] for r in results if r[1] == "Error"})
    warnings = len({r[0] for r in results if r[1] == "Warning"})
    for name, value in (("MessagesProcessed", processed), ("MessagesSuccessful", processed - errors),
                        ("MessagesWithError", errors), ("MessagesWithWarning", warnings)):
        ElementTree.SubElement(summary, name).text = str(value)
    for message_id, level, code, description, order_id in results:
        result = ElementTree.SubElement(report, "Result")
        ElementTree.SubElement(result, "MessageID").text = message_id
        ElementTree.SubElement(result, "ResultCode").text = level
        ElementTree.SubElement(result, "ResultMessageCode").text = code
        ElementTree.SubElement(result, "ResultDescription").text = description
        if order_id:
            ElementTree.SubElement(ElementTree.SubElement(result, "AdditionalInfo"), "AmazonOrderID").text = order_id
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(envelope, encoding="unicode")).encode("utf-8")
