"""The merchant's scorecard of a trading period: each figure a pure function of ground truth, never of
omsync's own records. docs/scorecard.md says which truth each figure reads and how.

Ground-truth frames (sampled by `omsync simulate` from the sandbox's admin API and the OM's tables):
- listings: at, sku, quantity (what a buyer could buy; null = none), price — Amazon at each sample
- om_stock: at, sku, free (on hand − holds), target (what the OM's rules offer: Tags, sites), price (the OM's
  AmazonPrice), backorderable, offered — the OM at each sample
- orders: order_id, created, updated, status, fulfilled_by, buyer_email — what Amazon accepted; lines: order_id, sku, qty
- commits: order_id, committed_at — the first sample at which the OM held the sales order
- requests: order_id, requested_at, honoured, shipped_at — the sandbox's buyer cancel requests and the first package
- packages: order_id, package_ref, shipped_by (CONFIRM_SHIPMENT or BUY_SHIPPING), late — what Amazon recorded as shipped
- changes: at, sku, suppressed — every change of what buyers saw (sandbox/truth.py)
- payouts: settlement_id, order_id, paid_at — what Amazon paid, shipment by shipment
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

# Figures whose truth does not exist anywhere omsync does not write itself.
NA_FEES = "n/a: the OM has no table for fees; only omsync's own warehouse records them"
NA_NO_OFFER_FIELDS = "n/a: no listing had an offer field besides our price"


def _minutes(samples: pl.DataFrame, end: datetime) -> pl.DataFrame:
    """Each sample lasts until the next one of its SKU (the last one until `end`), in minutes."""
    return samples.sort("sku", "at").with_columns(
        minutes=((pl.col("at").shift(-1).over("sku").fill_null(pl.lit(end, pl.Datetime("us", "UTC"))) - pl.col("at"))
                 .dt.total_seconds() / 60.0))


def _longest(flags: pl.DataFrame, flag: str) -> float:
    """The longest unbroken stretch, in minutes, of consecutive samples of one SKU with `flag` true."""
    runs = flags.sort("sku", "at").with_columns(run=(pl.col(flag) != pl.col(flag).shift(1).over("sku")).fill_null(True).cum_sum().over("sku"))
    stretches = runs.filter(pl.col(flag)).group_by("sku", "run").agg(pl.col("minutes").sum())
    return float(stretches["minutes"].max() or 0.0)


def unheld_units(orders: pl.DataFrame, lines: pl.DataFrame, commits: pl.DataFrame) -> pl.DataFrame:
    """Units Amazon sold by merchant fulfilment that the OM does not hold yet, as events (sku, at, delta, cum):
    a line counts from its order's creation until the OM commits the order or Amazon cancels it."""
    merchant = orders.filter(pl.col("fulfilled_by") == "MERCHANT").join(commits, on="order_id", how="left")
    released = pl.min_horizontal(
        pl.col("committed_at"), pl.when(pl.col("status") == "CANCELLED").then(pl.col("updated")))
    spans = merchant.select("order_id", "created", released=released).join(lines.select("order_id", "sku", "qty"), on="order_id")
    events = pl.concat([
        spans.select("sku", at="created", delta="qty", order_id="order_id", kind=pl.lit(0)),
        spans.filter(pl.col("released").is_not_null()).select("sku", at="released", delta=-pl.col("qty"), order_id="order_id", kind=pl.lit(1)),
    ])
    return events.sort("sku", "at", "kind", "order_id").with_columns(cum=pl.col("delta").cum_sum().over("sku"))


def true_free(om_stock: pl.DataFrame, unheld: pl.DataFrame) -> pl.DataFrame:
    """The OM's free stock less what Amazon sold that the OM does not hold yet: what is really left to sell."""
    last = unheld.sort("at").group_by("sku", "at", maintain_order=True).agg(pl.col("cum").last()).sort("at")
    joined = om_stock.sort("at").join_asof(last.rename({"at": "event_at"}), left_on="at", right_on="event_at", by="sku", strategy="backward", check_sortedness=False)
    sold = pl.col("cum").fill_null(0)
    return joined.with_columns(sellable=pl.col("free") - sold, target_left=pl.col("target") - sold).drop("event_at", "cum")


def oversold(orders: pl.DataFrame, lines: pl.DataFrame, om_stock: pl.DataFrame, commits: pl.DataFrame) -> dict[str, int]:
    """Units, orders and SKUs of merchant-fulfilled orders Amazon accepted beyond the OM's free stock at the moment of the order."""
    unheld = unheld_units(orders, lines, commits)
    placed = unheld.filter(pl.col("kind") == 0).with_columns(before=pl.col("cum") - pl.col("delta"))
    stock = om_stock.filter(~pl.col("backorderable")).select("sku", "at", "free").sort("at")
    judged = placed.sort("at").join_asof(stock.rename({"at": "sampled"}), left_on="at", right_on="sampled", by="sku",
                                         strategy="backward", allow_exact_matches=False, check_sortedness=False).filter(pl.col("free").is_not_null())
    short = judged.with_columns(units=(pl.col("delta") - (pl.col("free") - pl.col("before")).clip(lower_bound=0)).clip(0, pl.col("delta")))
    short = short.filter(pl.col("units") > 0)
    return {"units": int(short["units"].sum()), "orders": short["order_id"].n_unique(), "skus": short["sku"].n_unique()}


def order_latency(orders: pl.DataFrame, commits: pl.DataFrame) -> dict[str, float | None]:
    """Minutes from an Amazon order's creation to its OM sales order's commit: p50, p95, max over the imported orders."""
    minutes = orders.join(commits, on="order_id").select(m=(pl.col("committed_at") - pl.col("created")).dt.total_seconds() / 60.0)["m"]
    if minutes.is_empty():
        return {"imported": 0, "p50_minutes": None, "p95_minutes": None, "max_minutes": None}
    return {"imported": minutes.len(), "p50_minutes": round(float(minutes.quantile(0.5, "linear")), 2),
            "p95_minutes": round(float(minutes.quantile(0.95, "linear")), 2), "max_minutes": round(float(minutes.max()), 2)}


def missing_orders(orders: pl.DataFrame, om_orders: pl.DataFrame, end: datetime, grace_minutes: float) -> int:
    """Orders Amazon released (not pending, not cancelled) more than `grace_minutes` before the end that the OM does not have."""
    due = orders.filter(pl.col("status").is_in(["PENDING", "CANCELLED"]).not_()
                        & (pl.col("updated") <= pl.lit(end, pl.Datetime("us", "UTC")) - pl.duration(minutes=grace_minutes)))
    return due.join(om_orders, on="order_id", how="anti").height


def duplicated_orders(om_orders: pl.DataFrame) -> int:
    """OM sales orders beyond the first for the same Amazon order."""
    return int(om_orders.group_by("order_id").len().select((pl.col("len") - 1).sum()).item() or 0)


def duplicated_customers(orders: pl.DataFrame, om_orders: pl.DataFrame) -> int:
    """OM customers beyond the first for the same Amazon buyer (by the buyer's relay e-mail)."""
    buyers = orders.filter(pl.col("buyer_email").is_not_null()).join(om_orders, on="order_id").group_by("buyer_email").agg(pl.col("customer_id").n_unique())
    return int(buyers.select((pl.col("customer_id") - 1).sum()).item() or 0)


def stock_truth(listings: pl.DataFrame, sellable: pl.DataFrame, end: datetime) -> dict[str, float]:
    """SKU-minutes a buyer saw more units than the OM really had free (oversell exposure) or fewer than the OM's rules
    offer (lost sales), and the longest stretch of each."""
    both = (listings.select("at", "sku", amazon=pl.col("quantity").fill_null(0))
            .join(sellable.filter(~pl.col("backorderable") & pl.col("offered"))
                  .select("at", "sku", om=pl.col("sellable").clip(lower_bound=0), target=pl.col("target_left").clip(lower_bound=0)), on=["at", "sku"]))
    timed = _minutes(both, end).with_columns(over=pl.col("amazon") > pl.col("om"), under=pl.col("amazon") < pl.min_horizontal("om", "target"))
    return {"over_sku_minutes": round(float(timed.filter("over")["minutes"].sum()), 1), "over_longest_minutes": round(_longest(timed, "over"), 1),
            "under_sku_minutes": round(float(timed.filter("under")["minutes"].sum()), 1), "under_longest_minutes": round(_longest(timed, "under"), 1)}


def price_truth(listings: pl.DataFrame, om_stock: pl.DataFrame, end: datetime, max_drop_percent: float = 50.0,
                max_rise_percent: float = 200.0) -> dict[str, float]:
    """SKU-minutes Amazon showed a price other than the OM's, apart from those the fat-finger guard rightly holds back."""
    both = (listings.filter(pl.col("price").is_not_null()).select("at", "sku", amazon="price")
            .join(om_stock.filter(pl.col("offered") & pl.col("price").is_not_null()).select("at", "sku", om="price"), on=["at", "sku"]))
    held = (pl.col("om") < pl.col("amazon") * (1 - max_drop_percent / 100)) | (pl.col("om") > pl.col("amazon") * (1 + max_rise_percent / 100))
    timed = _minutes(both, end).with_columns(wrong=(pl.col("amazon") - pl.col("om")).abs() > 0.005).with_columns(held=pl.col("wrong") & held)
    return {"wrong_sku_minutes": round(float(timed.filter(pl.col("wrong") & ~pl.col("held"))["minutes"].sum()), 1),
            "guard_held_sku_minutes": round(float(timed.filter("held")["minutes"].sum()), 1)}


def offer_fields_removed(offer_fields: pl.DataFrame) -> int | str:
    """Offer fields (sale price, min/max, B2B, …) a listing had at one sample and lost by a later one."""
    extra = offer_fields.filter(pl.col("field") != "our_price")
    if extra.is_empty():
        return NA_NO_OFFER_FIELDS
    first_seen = extra.group_by("sku", "field").agg(pl.col("at").min())
    last_sample = offer_fields.group_by("sku").agg(last_at=pl.col("at").max())
    present_last = extra.join(last_sample, on="sku").filter(pl.col("at") == pl.col("last_at")).select("sku", "field")
    return first_seen.join(present_last, on=["sku", "field"], how="anti").height


def cancellations(orders: pl.DataFrame, requests: pl.DataFrame, om_orders: pl.DataFrame, om_shipments: pl.DataFrame) -> dict[str, int | float | None]:
    """Buyer cancel requests honoured before shipping or shipped regardless, Amazon's cancellations the OM still shows open
    or shipped, and the OM's cancellations Amazon still shows open."""
    honoured = requests.filter(pl.col("honoured") & pl.col("shipped_at").is_null()).height
    shipped_after_request = requests.filter(pl.col("shipped_at") >= pl.col("requested_at")).height
    cancelled = orders.filter(pl.col("status") == "CANCELLED")
    in_om = cancelled.join(om_orders, on="order_id")
    shipped_after = in_om.join(om_shipments, on="order_id").filter(pl.col("ship_date") >= pl.col("updated"))
    om_cancelled = om_orders.filter(pl.col("om_status") == "cancelled").join(orders.filter(pl.col("status") != "CANCELLED"), on="order_id")
    return {"buyer_cancel_requests": requests.height, "buyer_requests_honoured_before_shipping": honoured,
            "buyer_requests_honoured_percent": round(100.0 * honoured / requests.height, 1) if requests.height else None,
            "shipped_after_buyer_request": shipped_after_request,
            "amazon_cancelled_open_in_om": in_om.filter(pl.col("om_status") == "open").height,
            "shipped_after_amazon_cancelled": shipped_after["order_id"].n_unique(),
            "om_cancelled_open_on_amazon": om_cancelled.height}


def shipments(om_shipments: pl.DataFrame, confirmations: pl.DataFrame, packages: pl.DataFrame, om_orders: pl.DataFrame,
              end: datetime, grace_minutes: float) -> dict[str, int | float | None]:
    """OM packages of Amazon orders confirmed on Amazon exactly once, never, or more than once; confirmations Amazon refused
    or recorded after the ship-by time; orders the seller shipped outside the OM that the OM still shows open."""
    accepted = confirmations.filter(pl.col("status") == 204).group_by("order_id", "package_ref").len()
    due = om_shipments.filter(pl.col("ship_date") <= pl.lit(end, pl.Datetime("us", "UTC")) - pl.duration(minutes=grace_minutes))
    judged = due.join(accepted, on=["order_id", "package_ref"], how="left").with_columns(pl.col("len").fill_null(0))
    outside = packages.filter(pl.col("shipped_by") == "BUY_SHIPPING").select("order_id").unique()
    outside_open = outside.join(om_orders.filter(pl.col("om_status") == "open"), on="order_id").select("order_id").n_unique()
    once = judged.filter(pl.col("len") == 1).height
    return {"packages_shipped_in_om": due.height, "confirmed_exactly_once": once,
            "confirmed_exactly_once_percent": round(100.0 * once / due.height, 1) if due.height else None,
            "never_confirmed": judged.filter(pl.col("len") == 0).height, "confirmed_more_than_once": judged.filter(pl.col("len") > 1).height,
            "confirmations_refused": confirmations.filter(pl.col("status") != 204).height,
            "confirmed_after_ship_by": packages.filter((pl.col("shipped_by") == "CONFIRM_SHIPMENT") & pl.col("late")).height,
            "shipped_outside_om": outside.height, "shipped_outside_om_open_in_om": outside_open}


def suppressed(changes: pl.DataFrame, end: datetime) -> dict[str, int | float]:
    """Listings Amazon suppressed (our price outside the seller's own min/max): SKUs and SKU-minutes."""
    timed = _minutes(changes.select("at", "sku", "suppressed"), end).filter("suppressed")
    return {"listings_suppressed": timed["sku"].n_unique(), "suppressed_sku_minutes": round(float(timed["minutes"].sum()), 1)}


def cash(invoices: pl.DataFrame, settled: pl.DataFrame, payouts: pl.DataFrame, payments: pl.DataFrame, as_of: datetime,
         settlement_seen_before: datetime | None) -> dict[str, int | str]:
    """Invoices paid, disputed and overdue in the OM, each against what Amazon really paid by the last settlement run;
    Amazon's deposits (settlements) paying the OM's invoices with no payment of theirs in the OM."""
    truth = settled.filter(pl.lit(settlement_seen_before is not None) & (pl.col("settled_at") <= pl.lit(settlement_seen_before, pl.Datetime("us", "UTC"))))
    judged = invoices.join(truth.select("order_id", truly_paid=pl.lit(True)), on="order_id", how="left").with_columns(pl.col("truly_paid").fill_null(False))
    due_passed = pl.col("due_date") < pl.lit(as_of.date())
    seen = pl.lit(settlement_seen_before is not None) & (pl.col("paid_at") <= pl.lit(settlement_seen_before, pl.Datetime("us", "UTC")))
    deposits = payouts.filter(seen).join(invoices.select("order_id"), on="order_id").select("settlement_id").unique()
    return {"invoices": judged.height, "paid": judged.filter(pl.col("payment_status") == "paid").height,
            "paid_by_amazon": judged.filter("truly_paid").height,
            "missed_payments": judged.filter(pl.col("truly_paid") & (pl.col("payment_status") != "paid")).height,
            "paid_without_payment": judged.filter(~pl.col("truly_paid") & (pl.col("payment_status") == "paid")).height,
            "false_disputes": judged.filter(pl.col("truly_paid") & (pl.col("payment_status") == "disputed")).height,
            "false_overdue": judged.filter((pl.col("payment_status") == "overdue") & (pl.col("truly_paid") | ~due_passed)).height,
            "missed_overdue": judged.filter(~pl.col("truly_paid") & due_passed & pl.col("payment_status").is_in(["unpaid", "open"])).height,
            "deposits": deposits.height, "deposits_not_matched": deposits.join(payments, on="settlement_id", how="anti").height,
            "fees_recorded": NA_FEES}


def amazon_calls(calls: dict[str, int], throttled: dict[str, int], plans: dict[str, tuple[float, int]], seconds: float) -> pl.DataFrame:
    """Calls per operation, the share of its usage plan used over the period (burst plus rate × time), and 429s."""
    rows = [{"operation": op, "calls": n, "throttled": throttled.get(op, 0),
             "plan_share": round(n / (plans[op][1] + plans[op][0] * seconds), 4) if op in plans else None}
            for op, n in sorted(calls.items())]
    return pl.DataFrame(rows, schema={"operation": pl.String, "calls": pl.Int64, "throttled": pl.Int64, "plan_share": pl.Float64})


def runs(flow_runs: pl.DataFrame) -> pl.DataFrame:
    """Per flow: runs, failed runs and the problems they reported."""
    return (flow_runs.group_by("flow").agg(runs=pl.len(), failed=(pl.col("state") != "COMPLETED").sum(), problems=pl.col("problems").sum())
            .sort("flow"))


def worst_skus(listings: pl.DataFrame, sellable: pl.DataFrame, end: datetime, n: int = 4) -> list[str]:
    """The SKUs with the most oversell-exposure minutes (ties by SKU), for the chart."""
    both = (listings.select("at", "sku", amazon=pl.col("quantity").fill_null(0))
            .join(sellable.filter(~pl.col("backorderable") & pl.col("offered")).select("at", "sku", om="sellable"), on=["at", "sku"]))
    timed = _minutes(both, end).filter(pl.col("amazon") > pl.col("om").clip(lower_bound=0))
    ranked = timed.group_by("sku").agg(pl.col("minutes").sum()).sort(["minutes", "sku"], descending=[True, False])
    return ranked["sku"].head(n).to_list()
