"""Customer matching: e-mail first, then name and address, then one new customer per buyer."""

from datetime import datetime, timezone

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from omsync.transforms.customers import CUSTOMER_COLUMNS, match_customers

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
ORDER_FIELDS = ["order_id", "created", "buyer_name", "buyer_email", "ship_phone", "ship_address1", "ship_address2",
                "ship_city", "ship_region", "ship_postal_code", "ship_country"]


def order(order_id, email=None, name="Ana Díaz", address="12 Oak Ave", postal="60601", country="US", minute=0):
    return {"order_id": order_id, "created": T0.replace(minute=minute), "buyer_name": name, "buyer_email": email, "ship_phone": None,
            "ship_address1": address, "ship_address2": None, "ship_city": "Chicago", "ship_region": "IL", "ship_postal_code": postal, "ship_country": country}


def orders(*rows) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema={f: (pl.Datetime("us", "UTC") if f == "created" else pl.String) for f in ORDER_FIELDS})


def customers(*rows) -> pl.DataFrame:
    schema = {c: (pl.Int64 if c == "customer_id" else pl.Datetime("us", "UTC") if c == "created_at" else pl.String) for c in CUSTOMER_COLUMNS}
    return pl.DataFrame([dict(zip(CUSTOMER_COLUMNS, r)) for r in rows], schema=schema)


OM = customers(
    (1, "C1", "Ana Diaz", "ana@marketplace.amazon.com", "12 Oak Ave.", "60601", "US", T0.replace(year=2020)),
    (2, "C2", "ANA  DÍAZ", "other@example.com", "12 oak ave", "60601", "US", T0.replace(year=2019)),
    (3, "C3", "Ben Chen", "ana@marketplace.amazon.com", "1 Main St", "10001", "US", T0.replace(year=2021)),
)


def rules(result) -> dict:
    return {r["order_id"]: (r["match_rule"], r["customer_id"]) for r in result.orders.to_dicts()}


def test_email_beats_address_and_the_oldest_customer_wins():
    result = match_customers(orders(order("A", email="ANA@marketplace.amazon.com ")), OM, "ATVPDKIKX0DER")
    assert rules(result) == {"A": ("EMAIL", 1)}  # C3 has the same e-mail but is newer


def test_name_and_address_match_after_normalisation_oldest_first():
    result = match_customers(orders(order("B", email="new@marketplace.amazon.com", name="ana díaz", address="12  Oak Ave")), OM, "ATVPDKIKX0DER")
    assert rules(result) == {"B": ("NAME_ADDRESS", 2)}


def test_a_new_buyer_with_two_orders_is_one_new_customer():
    result = match_customers(orders(order("X1", email="zoe@marketplace.amazon.com", name="Zoe", minute=5),
                                    order("X2", email="zoe@marketplace.amazon.com", name="Zoe Q", minute=1)), OM, "ATVPDKIKX0DER")
    assert {r[0] for r in rules(result).values()} == {"NEW"}
    assert result.orders["customer_no"].n_unique() == 1 and result.new_customers.height == 1
    assert result.new_customers["name"].item() == "Zoe Q", "the buyer's first order describes the customer"


def test_orders_without_buyer_identity_go_to_the_marketplace_default_customer():
    anonymous = order("F1", name=None, address=None, postal=None, country=None)
    result = match_customers(orders(anonymous, {**anonymous, "order_id": "F2"}), OM, "ATVPDKIKX0DER")
    assert set(result.orders["customer_no"]) == {"AMAZON-ATVPDKIKX0DER"} and set(result.orders["match_rule"]) == {"DEFAULT"}
    assert result.new_customers["customer_no"].to_list() == ["AMAZON-ATVPDKIKX0DER"]


def test_the_default_customer_is_reused_once_it_exists():
    om = pl.concat([OM, customers((9, "AMAZON-ATVPDKIKX0DER", "Amazon customer", None, None, None, None, T0))])
    result = match_customers(orders(order("F1", name=None, address=None, postal=None, country=None)), om, "ATVPDKIKX0DER")
    # the default customer has no identity of its own: it is found by its number when loading
    assert result.orders["customer_no"].item() == "AMAZON-ATVPDKIKX0DER"


buyers = st.lists(st.tuples(st.sampled_from(["a@x.com", "b@x.com", None]), st.sampled_from(["Ana Díaz", "ana diaz", "Ben", None]),
                            st.sampled_from(["12 Oak Ave", "1 Main St"]), st.integers(0, 59)), min_size=1, max_size=12)


@settings(max_examples=100, deadline=None)
@given(rows=buyers, shuffle=st.randoms(use_true_random=False))
def test_any_order_of_the_batch_gives_the_same_result(rows, shuffle):
    batch = [order(f"O{i}", email=e, name=n, address=a, minute=m) for i, (e, n, a, m) in enumerate(rows)]
    first = match_customers(orders(*batch), OM, "ATVPDKIKX0DER")
    shuffle.shuffle(batch)
    second = match_customers(orders(*batch), OM, "ATVPDKIKX0DER")
    assert first.orders.equals(second.orders) and first.new_customers.equals(second.new_customers)
    new = first.orders.filter(pl.col("match_rule") == "NEW")
    assert first.new_customers.filter(pl.col("customer_no").str.starts_with("AMZ-")).height == new["customer_no"].n_unique()
