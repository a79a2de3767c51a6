from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from omsync.transforms.money import minor_units, money_text


def test_money_text_uses_the_currencys_decimals():
    assert money_text(Decimal("472.0200"), "USD") == "472.02 USD"
    assert money_text(Decimal("1300.0000"), "JPY") == "1,300 JPY"
    assert money_text(Decimal("-3.1"), "EUR") == "-3.10 EUR"
    assert money_text(Decimal("0.0000"), "GBP") == "0.00 GBP"
    assert money_text(None, "USD") == "?" and money_text(None, "USD", missing="0.00 USD") == "0.00 USD"


@settings(max_examples=50)
@given(st.decimals(min_value=-10**9, max_value=10**9, places=4), st.sampled_from(["USD", "JPY", "EUR"]))
def test_money_text_never_shows_more_decimals_than_the_currency_has(amount, currency):
    number = money_text(amount, currency).split()[0].replace(",", "")
    decimals = len(number.partition(".")[2])
    assert decimals == minor_units(currency)
    assert abs(Decimal(number) - amount) <= Decimal(1).scaleb(-minor_units(currency)) / 2
