"""The shipments flow's rules: carrier names, Amazon's packageDetail, when a sales order and its
invoice close, and which answers need a person."""

import polars as pl

from omsync.transforms.shipments import DEFAULT_CARRIERS, carrier_codes, invoices_to_close, package_details, refusals, shipment_problems

PACKAGES = pl.DataFrame({
    "shipping_order_id": [1, 2], "order_id": ["111", "222"], "package_reference_id": ["1", "2"], "carrier_code": ["UPS", "Other"],
    "carrier_name": [None, "Local Courier"], "shipping_method": ["Ground", None], "tracking_number": ["1Z", "LC9"],
    "ship_date": ["2026-01-02T10:00:00Z"] * 2, "items": [[{"orderItemId": "a", "quantity": 1}], [{"orderItemId": "b", "quantity": 2}]],
})


def test_carrier_names_match_whatever_their_case_and_default_to_the_known_carriers():
    assert carrier_codes({"My Courier": "OnTrac"}) == {"my courier": "OnTrac"}
    assert carrier_codes(None) == DEFAULT_CARRIERS


def test_package_detail_sends_carrier_name_and_shipping_method_only_when_the_om_has_them():
    [(first_id, first_order, first), (_, _, second)] = package_details(PACKAGES)
    assert (first_id, first_order) == (1, "111")
    assert first == {"packageReferenceId": "1", "carrierCode": "UPS", "trackingNumber": "1Z", "shipDate": "2026-01-02T10:00:00Z",
                     "orderItems": [{"orderItemId": "a", "quantity": 1}], "shippingMethod": "Ground"}
    assert second["carrierName"] == "Local Courier" and "shippingMethod" not in second


def test_a_sales_order_and_its_invoice_close_when_every_shipping_order_is_done_and_every_line_shipped():
    shipping = pl.DataFrame({"sales_order_id": [1, 1, 2, 2, 3, 4], "status": ["closed", "cancelled", "closed", "shipped", "closed", "closed"]})
    lines = pl.DataFrame({"sales_order_id": [1, 2, 3, 3, 4], "qty_ordered": [2, 1, 2, 1, 1], "qty_shipped": [2, 1, 1, 1, 1]})
    assert sorted(invoices_to_close(shipping, lines)["sales_order_id"]) == [1, 4], "2: a shipping order open; 3: a partial shipment"


def test_a_404_is_quarantined_and_every_unconfirmed_answer_is_a_refusal():
    results = pl.DataFrame({"shipping_order_id": [1, 2], "outcome": ["NOT_FOUND", "REJECTED"], "message": ["no order", "bad item"]})
    assert shipment_problems(results, PACKAGES).rows() == [("1", "111", "Amazon does not know this order (404): check the order id in the OM")]
    assert refusals(results, PACKAGES).rows() == [("1", "111", "NOT_FOUND: no order"), ("2", "222", "REJECTED: bad item")]
