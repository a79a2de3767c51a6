"""Tasks shared by the price and inventory flows: send listing changes as JSON_LISTINGS_FEEDs, wait
for Amazon's processing reports, and keep ops.listing_state to what Amazon actually accepted."""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE

from omsync.connectors import ops
from omsync.connectors.amazon import AmazonConnector, AmazonRejected, AmazonUnavailable
from omsync.connectors.warehouse import Warehouse
from omsync.transforms.feed_reports import VERDICT_SCHEMA, feed_verdicts


@task(cache_policy=NO_CACHE)
def resolve_pending(amazon: AmazonConnector, warehouse: Warehouse, attribute: ops.Attribute, marketplace_id: str, wait_seconds: float) -> pl.DataFrame:
    """Verdicts of feeds that an earlier run submitted but stopped before hearing back from."""
    with warehouse.read_latest() as con:
        feed_ids = ops.pending_feeds(con, attribute, marketplace_id)
    return _collect(amazon, warehouse, attribute, feed_ids, wait_seconds)


@task(cache_policy=NO_CACHE)
def patch_urgently(amazon: AmazonConnector, warehouse: Warehouse, attribute: ops.Attribute, marketplace_id: str, rows: pl.DataFrame,
                   patches_for) -> pl.DataFrame:
    """patchListingsItem per SKU (sku, product_type, value): applied within minutes, not queued for
    hours; what Amazon answered is recorded in one warehouse write (a rerun patches again, harmlessly)."""
    answers = [_patch(amazon, sku, product_type, value, patches_for, marketplace_id) for sku, product_type, value in rows.select("sku", "product_type", "value").iter_rows()]
    verdicts = pl.DataFrame([{k: a[k] for k in VERDICT_SCHEMA} for a in answers], schema=VERDICT_SCHEMA)
    answered = pl.DataFrame([a for a in answers if a["feed_id"]], schema={**VERDICT_SCHEMA, "feed_id": pl.String}).join(
        rows.select("sku", "product_type", "value"), on="sku")
    if answered.height:
        with warehouse.write() as con:
            ops.record_sent(con, attribute, marketplace_id, answered.select("sku", "product_type", "value", "feed_id", message_id=pl.lit(1, pl.Int64)))
            for feed_id, verdict in answered.group_by("feed_id", maintain_order=True):
                ops.record_verdicts(con, attribute, feed_id[0], verdict.select(*VERDICT_SCHEMA))
    return verdicts


def _patch(amazon: AmazonConnector, sku: str, product_type: str, value, patches_for, marketplace_id: str) -> dict:
    """Amazon's verdict on one patch; FAILED (nothing recorded) when it refused the call or did not answer."""
    try:
        answer = amazon.patch_listings_item(sku, product_type, patches_for(value), marketplace_id)
    except (AmazonRejected, AmazonUnavailable) as exc:
        return {"sku": sku, "verdict": "FAILED", "issues": str(exc), "feed_id": None}
    issues = "; ".join(f"{i['severity']} {i['code']}: {i['message']}" for i in answer.get("issues", [])) or None
    return {"sku": sku, "verdict": "ACCEPTED" if answer.get("status") == "ACCEPTED" else "REJECTED", "issues": issues,
            "feed_id": f"patch-{answer.get('submissionId', sku)}"}


@task(cache_policy=NO_CACHE)
def send_feeds(amazon: AmazonConnector, warehouse: Warehouse, attribute: ops.Attribute, marketplace_id: str, changes: pl.DataFrame,
               messages: pl.Series) -> list[str]:
    """Submit the messages (one per row of changes: sku, product_type, value) and record them PENDING."""
    feeds = amazon.submit_listings_feed(messages, marketplace_id)
    sent = pl.concat([
        changes.slice(feed.first_message, feed.messages).select(
            "sku", "product_type", "value", feed_id=pl.lit(feed.feed_id), message_id=pl.int_range(1, feed.messages + 1, dtype=pl.Int64))
        for feed in feeds
    ])
    with warehouse.write() as con:
        ops.record_sent(con, attribute, marketplace_id, sent)
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
