"""Amazon's settlement flat files, in the marketplace's number and date format, summary row first:
V2 (GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2), one amount per row, 24 columns; and the older V1
(GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE), 36 columns, type/amount pairs side by side per order item."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from omsync.sandbox.marketplaces import MarketplaceInfo
from omsync.sandbox.orders import SimOrder, cents

COLUMNS = [
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date", "posted-date-time",
    "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
]
V1_COLUMNS = [
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "shipment-fee-type", "shipment-fee-amount", "order-fee-type", "order-fee-amount", "fulfillment-id", "posted-date",
    "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "price-type", "price-amount", "item-related-fee-type", "item-related-fee-amount", "misc-fee-amount", "other-fee-amount",
    "other-fee-reason-description", "promotion-id", "promotion-type", "promotion-amount", "direct-payment-type",
    "direct-payment-amount", "other-amount",
]
# the V1 type/amount pair each V2 amount-type was written in (withheld taxes were item-related fees)
V1_PAIR = {"ItemPrice": ("price-type", "price-amount"), "Promotion": ("promotion-type", "promotion-amount"),
           "ItemFees": ("item-related-fee-type", "item-related-fee-amount"),
           "ItemWithheldTax": ("item-related-fee-type", "item-related-fee-amount")}
COMMISSION_RATE = Decimal("0.15")
FBA_FEE_PER_UNIT = Decimal("3.22")
SUBSCRIPTION_FEE = Decimal("39.99")
RESERVE_RATE = Decimal("0.05")


@dataclass
class Line:
    transaction_type: str
    amount_type: str
    description: str
    amount: Decimal
    posted: datetime
    order: SimOrder | None = None
    item: int | None = None  # index of the order line
    adjustment_id: str = ""
    shipment_id: str = ""  # the shipment paid (per-shipment payouts); empty: one per order in the file
    quantity: int | None = None  # units of the item this line pays for (None: all of them)


@dataclass
class Settlement:
    settlement_id: str
    start: datetime
    end: datetime
    deposit: datetime
    currency: str
    lines: list[Line] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((l.amount for l in self.lines), Decimal(0))


def order_lines(order: SimOrder, info: MarketplaceInfo, posted: datetime, units: dict[str, tuple[int, int]] | None = None,
                shipment_id: str = "") -> list[Line]:
    """What Amazon books for a shipped order: the buyer's money, promotions, withheld tax and fees;
    with `units` (item id → units shipped before, units in this shipment) only one shipment's part."""
    out: list[Line] = []
    for index, line in enumerate(order.lines):
        if line.cancelled:
            continue  # the seller cancelled it: nothing was sold
        if units is not None and line.order_item_id not in units:
            continue
        before, count = units[line.order_item_id] if units is not None else (0, line.quantity)
        principal = line.unit_price * line.quantity

        def add(amount_type: str, description: str, amount: Decimal) -> None:
            part = cents(amount) if units is None else cents(amount * (before + count) / line.quantity) - cents(amount * before / line.quantity)
            if part:
                out.append(Line("Order", amount_type, description, part, posted, order, index, shipment_id=shipment_id,
                                quantity=None if units is None else count))

        add("ItemPrice", "Principal", principal)
        add("ItemPrice", "Shipping", line.shipping)
        add("ItemPrice", "Tax", line.tax)
        add("ItemPrice", "ShippingTax", line.shipping_tax)
        add("Promotion", "Principal", -line.discount)
        if info.country == "US":  # marketplace facilitator states: Amazon keeps the tax it collected
            add("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", -line.tax)
            add("ItemWithheldTax", "MarketplaceFacilitatorTax-Shipping", -line.shipping_tax)
        add("ItemFees", "Commission", -cents(principal * COMMISSION_RATE))
        if order.fulfilled_by == "AMAZON":
            add("ItemFees", "FBAPerUnitFulfillmentFee", -FBA_FEE_PER_UNIT * line.quantity)
    return out


def refund_lines(order: SimOrder, info: MarketplaceInfo, posted: datetime, kind: str, adjustment_id: str) -> list[Line]:
    """A refund of the whole order: money back to the buyer, most of the commission back to the seller."""
    out = []
    for index, line in enumerate(order.lines):
        if line.cancelled:
            continue  # the seller cancelled it: nothing was sold
        principal = line.unit_price * line.quantity
        commission = cents(principal * COMMISSION_RATE)
        entries = [("ItemPrice", "Principal", -principal), ("ItemPrice", "Tax", -line.tax),
                   ("ItemFees", "Commission", commission), ("ItemFees", "RefundCommission", -cents(commission * Decimal("0.2")))]
        if info.country == "US":
            entries.append(("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", line.tax))
        for amount_type, description, amount in entries:
            if amount:
                out.append(Line(kind, amount_type, description, cents(amount), posted, order, index, adjustment_id))
    return out


def account_lines(period_principal: Decimal, previous_reserve: Decimal, posted: datetime, fba: bool) -> tuple[list[Line], Decimal]:
    """Non-order lines of a period: the subscription, storage for FBA sellers, and the rolling reserve."""
    reserve = cents(period_principal * RESERVE_RATE)
    lines = [Line("other-transaction", "other-transaction", "Subscription Fee", -SUBSCRIPTION_FEE, posted)]
    if fba:
        lines.append(Line("other-transaction", "other-transaction", "Storage Fee", Decimal("-12.48"), posted))
    if previous_reserve:
        lines.append(Line("other-transaction", "other-transaction", "Previous Reserve Amount Balance", previous_reserve, posted))
    if reserve:
        lines.append(Line("other-transaction", "other-transaction", "Current Reserve Amount", -reserve, posted))
    return lines, reserve


def format_amount(amount: Decimal, info: MarketplaceInfo) -> str:
    """1,234.56 or 1.234,56 (and 95,00) as the marketplace writes money."""
    text = f"{cents(amount):,.2f}"
    if info.decimal_comma:
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def format_datetime(moment: datetime, info: MarketplaceInfo) -> str:
    return moment.strftime("%d.%m.%Y %H:%M:%S UTC" if info.decimal_comma else "%Y-%m-%d %H:%M:%S UTC")


def format_date(moment: datetime, info: MarketplaceInfo) -> str:
    return moment.strftime("%d.%m.%Y" if info.decimal_comma else "%m/%d/%y")


def format_iso(moment: datetime) -> str:
    """ISO 8601 with offset, the date form Amazon documents for the V1 file."""
    return moment.isoformat(timespec="seconds")


def render(settlement: Settlement, info: MarketplaceInfo, seed: int) -> str:
    """The report as the V2 flat file Amazon serves: tab-separated, header, summary row, one row per amount."""
    rows = ["\t".join(COLUMNS), _summary(settlement, info, COLUMNS, format_datetime(settlement.start, info),
                                         format_datetime(settlement.end, info), format_datetime(settlement.deposit, info))]
    for line, values in _line_cells(settlement, info, seed):
        values |= {"amount-type": line.amount_type, "amount-description": line.description, "amount": format_amount(line.amount, info),
                   "posted-date": format_date(line.posted, info), "posted-date-time": format_datetime(line.posted, info)}
        rows.append("\t".join(values.get(c, "") for c in COLUMNS))
    return "\n".join(rows) + "\n"


def render_v1(settlement: Settlement, info: MarketplaceInfo, seed: int) -> str:
    """The same settlement as the older V1 flat file: one row per order item and posting, its prices,
    fees and promotions side by side (the k-th of each on the k-th row), account lines in other-amount."""
    dates = [format_iso(m) if not info.decimal_comma else format_datetime(m, info) for m in (settlement.start, settlement.end, settlement.deposit)]
    rows = ["\t".join(V1_COLUMNS), _summary(settlement, info, V1_COLUMNS, *dates)]
    groups: dict[tuple, list[dict[str, str]]] = {}
    for index, (line, values) in enumerate(_line_cells(settlement, info, seed)):
        values["posted-date"] = format_iso(line.posted) if not info.decimal_comma else format_datetime(line.posted, info)
        amount = format_amount(line.amount, info)
        if line.amount_type not in V1_PAIR:  # an account line, a row of its own: V1 named the fee in transaction-type
            groups[("account", index)] = [values | {"transaction-type": line.description, "other-amount": amount}]
            continue
        type_column, amount_column = V1_PAIR[line.amount_type]
        group = groups.setdefault(tuple(values.items()), [])
        free = next((row for row in group if type_column not in row), None)
        if free is None:
            group.append(free := dict(values))
        free |= {type_column: line.description, amount_column: amount}
    rows += ["\t".join(row.get(c, "") for c in V1_COLUMNS) for group in groups.values() for row in group]
    return "\n".join(rows) + "\n"


def _summary(settlement: Settlement, info: MarketplaceInfo, columns: list[str], start: str, end: str, deposit: str) -> str:
    """The summary row: the settlement's id, period, deposit and total; every transaction column empty."""
    summary = [settlement.settlement_id, start, end, deposit, format_amount(settlement.total, info), settlement.currency]
    return "\t".join(summary + [""] * (len(columns) - len(summary)))


def _line_cells(settlement: Settlement, info: MarketplaceInfo, seed: int) -> list[tuple[Line, dict[str, str]]]:
    """Each line with the cells both layouts share (who, which order item, which shipment)."""
    r = random.Random(f"{seed}:shipment:{settlement.settlement_id}")
    shipment_ids: dict[str, str] = {}
    out = []
    for line in settlement.lines:
        order, item = line.order, (line.order.lines[line.item] if line.order and line.item is not None else None)
        if order and order.order_id not in shipment_ids and not line.shipment_id:
            shipment_ids[order.order_id] = "".join(r.choices("BCDFGHJKLMNPQRSTVWXYZ0123456789", k=9))
        values = {
            "settlement-id": settlement.settlement_id,
            "transaction-type": line.transaction_type,
            "order-id": order.order_id if order else "",
            "adjustment-id": line.adjustment_id,
            "shipment-id": (line.shipment_id or shipment_ids.get(order.order_id, "")) if order and line.transaction_type == "Order" else "",
            "marketplace-name": info.name if order else "",
            "fulfillment-id": ("AFN" if order.fulfilled_by == "AMAZON" else "MFN") if order else "",
            "order-item-code": item.order_item_id if item else "",
            "sku": item.sku if item else "",
            "quantity-purchased": str(item.quantity if line.quantity is None else line.quantity) if item else "",
        }
        out.append((line, values))
    return out
