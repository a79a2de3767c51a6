"""Frame schemas that connectors and transforms share (core layer: neither imports the other)."""

from __future__ import annotations

import polars as pl

MONEY = pl.Decimal(18, 4)

STATE_SCHEMAS = {  # what a flow needs of ops.listing_state for the attribute it sends
    "quantity": {"sku": pl.String, "quantity_sent": pl.Int64, "quantity_accepted": pl.Int64, "quantity_verdict": pl.String},
    "price": {"sku": pl.String, "price_sent": MONEY, "price_accepted": MONEY, "price_verdict": pl.String},
}

INVOICE_SCHEMA = {"invoice_id": pl.Int64, "invoice_no": pl.String, "sales_order_id": pl.Int64, "order_id": pl.String,
                  "amount": MONEY, "currency": pl.String, "tolerance": MONEY, "invoice_date": pl.Date, "due_date": pl.Date,
                  "payment_status": pl.String, "paid_before": MONEY}

_AMOUNT = pl.Struct({"amount": pl.String, "currencyCode": pl.String})
_BREAKDOWNS = pl.List(pl.Struct({"type": pl.String, "subtotal": _AMOUNT}))
ORDER_SCHEMA = {  # an order of the Orders API 2026-01-01, as far as omsync reads it
    "orderId": pl.String,
    "createdTime": pl.String,
    "lastUpdatedTime": pl.String,
    "salesChannel": pl.Struct({"marketplaceId": pl.String}),
    "buyer": pl.Struct({"buyerName": pl.String, "buyerEmail": pl.String}),
    "recipient": pl.Struct({"deliveryAddress": pl.Struct({
        "name": pl.String, "addressLine1": pl.String, "addressLine2": pl.String, "city": pl.String,
        "stateOrRegion": pl.String, "postalCode": pl.String, "countryCode": pl.String, "phone": pl.String})}),
    "proceeds": pl.Struct({"grandTotal": _AMOUNT, "breakdowns": _BREAKDOWNS}),
    "fulfillment": pl.Struct({"fulfillmentStatus": pl.String, "fulfilledBy": pl.String}),
    "orderItems": pl.List(pl.Struct({
        "orderItemId": pl.String, "quantityOrdered": pl.Int64,
        "product": pl.Struct({"sellerSku": pl.String, "price": pl.Struct({"unitPrice": _AMOUNT})}),
        "proceeds": pl.Struct({"proceedsTotal": _AMOUNT, "breakdowns": _BREAKDOWNS}),
    })),
}
PII_FIELDS = ("buyer", "recipient")  # kept out of the warehouse: the OM gets them, nothing else
