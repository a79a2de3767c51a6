"""Tasks shared by the price and inventory flows: send listing changes as JSON_LISTINGS_FEEDs, wait
for Amazon's processing reports, and keep ops.listing_state to what Amazon actually accepted."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from connectors import ops
from connectors.amazon import AmazonConnector, AmazonRejected, AmazonUnavailable
from connectors.warehouse import Warehouse
from transforms.feed_reports import VERDICT_SCHEMA, feed_verdicts


@task(cache_policy=NO_CACHE)
def resolve_pending(amazon: AmazonConnector, warehouse: Warehouse, attribute: ops.Attribute, wait_seconds: float) -> pl.DataFrame:
    """Verdicts of feeds that an earlier run submitted but stopped before hearing back from."""
    with warehouse.read_latest() as con:
        feed_ids = ops.pending_feeds(con, attribute)
    return _collect(amazon, warehouse, attribute, feed_ids, wait_seconds)


@task(cache_policy=NO_CACHE)
def patch_urgently(amazon: AmazonConnector, warehouse: Warehouse, attribute: ops.Attribute, rows: pl.DataFrame, patches_for) -> pl.DataFrame:
    """patchListingsItem per SKU (sku, product_type, value): applied within minutes, not queued for hours."""
    verdicts = []
    for sku, product_type, value in rows.select("sku", "product_type", "value").iter_rows():
        try:
            answer = amazon.patch_listings_item(sku, product_type, patches_for(value))
        except (AmazonRejected, AmazonUnavailable) as exc:
            verdicts.append({"sku": sku, "verdict": "FAILED", "issues": str(exc)})
            continue
        submission = f"patch-{answer.get('submissionId', sku)}"
        issues = "; ".join(f"{i['severity']} {i['code']}: {i['message']}" for i in answer.get("issues", [])) or None
        verdict = "ACCEPTED" if answer.get("status") == "ACCEPTED" else "REJECTED"
        with warehouse.write() as con:
            ops.record_sent(con, attribute, pl.DataFrame([{"sku": sku, "product_type": product_type, "value": value, "feed_id": submission, "message_id": 1}]))
            ops.record_verdicts(con, attribute, submission, pl.DataFrame([{"sku": sku, "verdict": verdict, "issues": issues}], schema=VERDICT_SCHEMA))
        verdicts.append({"sku": sku, "verdict": verdict, "issues": issues})
    return pl.DataFrame(verdicts, schema=VERDICT_SCHEMA)


@task(cache_policy=NO_CACHE)
def send_feeds(amazon: AmazonConnector, warehouse: Warehouse, attribute: ops.Attribute, changes: pl.DataFrame,
               messages: pl.Series) -> list[str]:
    """Submit the messages (one per row of changes: sku, product_type, value) and record them PENDING."""
    feeds = amazon.submit_listings_feed(messages)
    sent = pl.concat([
        changes.slice(feed.first_message, feed.messages).select(
            "sku", "product_type", "value", feed_id=pl.lit(feed.feed_id), message_id=pl.int_range(1, feed.messages + 1, dtype=pl.Int64))
        for feed in feeds
    ])
    with warehouse.write() as con:
        ops.record_sent(con, attribute, sent)
    return [f.feed_id for f in feeds]


@task(cache_policy=NO_CACHE)
def collect_verdicts(amazon: AmazonConnector, warehouse: Warehouse, attribute: ops.Attribute, feed_ids: list[str], wait_seconds: float) -> pl.DataFrame:
    return _collect(amazon, warehouse, attribute, feed_ids, wait_seconds)


def _collect(amazon: AmazonConnector, warehouse: Warehouse, attribute: ops.Attribute, feed_ids: list[str], wait_seconds: float) -> pl.DataFrame:
    """Wait for each feed, then record every verdict in one write; a feed still queued stays PENDING for the next run."""
    log = get_run_logger()
    results = []
    progress = create_progress_artifact(0.0, description=f"{attribute} feeds processed by Amazon") if feed_ids else None
    for done, feed_id in enumerate(feed_ids, start=1):
        try:
            results.append(amazon.wait_for_feed(feed_id, timeout=wait_seconds))
        except AmazonUnavailable as exc:
            log.warning("feed %s: no verdict yet (%s); the next run collects it", feed_id, exc.code)
        if progress:
            update_progress_artifact(progress, 100.0 * done / len(feed_ids))
            log.info("%s feeds processed by Amazon: %d of %d", attribute, done, len(feed_ids))
    found = [pl.DataFrame(schema=VERDICT_SCHEMA)]
    if results:
        with warehouse.write() as con:
            for result in results:
                verdicts = feed_verdicts(ops.skus_of_feed(con, attribute, result.feed_id), result.status, result.report)
                ops.record_verdicts(con, attribute, result.feed_id, verdicts)
                found.append(verdicts)
    return pl.concat(found)
