"""Money as people read it: an amount with its currency's decimals (ISO 4217 minor units)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

NO_MINOR_UNIT = {"JPY", "KRW", "CLP", "ISK", "VND"}  # currencies without cents; every other marketplace currency has two decimals


def minor_units(currency: str | None) -> int:
    """How many decimals a currency's amounts have: 0 for the yen, 2 for the dollar, euro, pound…"""
    return 0 if (currency or "").upper() in NO_MINOR_UNIT else 2


def money_text(amount: Decimal | float | int | None, currency: str | None, missing: str = "?") -> str:
    """472.02 USD, 1,300 JPY, -3.10 EUR: rounded to the currency's decimals (banker's rounding, as a ledger)."""
    if amount is None:
        return missing
    quantum = Decimal(1).scaleb(-minor_units(currency))
    shown = Decimal(str(amount)).quantize(quantum, rounding=ROUND_HALF_EVEN)
    return f"{shown:,} {currency}" if currency else f"{shown:,}"
