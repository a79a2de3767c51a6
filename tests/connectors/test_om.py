"""The OM connector against a real SQLite file and a real PostgreSQL database."""

from datetime import date, datetime, timezone
from decimal import Decimal

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omsync.connectors.om import OmDatabase
from omsync.connectors.om_schema import TABLES
from omsync.core.errors import ConfigError


def test_init_creates_every_contract_table_and_is_idempotent(om_url):
    om = OmDatabase(om_url)
    first = om.init_schema()
    assert first == sorted(t.name for t in TABLES)
    assert om.init_schema() == first
    assert set(om.counts().values()) == {0}


def test_typed_views_give_the_same_types_on_both_dialects(om_url):
    om = OmDatabase(om_url)
    om.init_schema()
    with om.session(read_only=True) as con:
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'invoice'").fetchall())
    assert types["amount"] == "DECIMAL(18,4)"
    assert types["invoice_date"] == "DATE"
    assert types["paid_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["invoice_id"] == "BIGINT"


def _terms(**overrides):
    row = {"terms_code": "NET14", "description": "Net 14", "net_days": 14, "tolerance": Decimal("0.0500")}
    row.update(overrides)
    return pl.DataFrame([row], schema_overrides={"tolerance": pl.Decimal(18, 4)})


def test_insert_missing_never_duplicates_and_update_matching_changes_in_place(om_url):
    om = OmDatabase(om_url)
    om.init_schema()
    with om.session() as con:
        assert om.insert_missing(con, "terms", _terms(), ("terms_code",)) == 1
        assert om.insert_missing(con, "terms", _terms(net_days=99), ("terms_code",)) == 0
        om.update_matching(con, "terms", _terms(tolerance=Decimal("1.2500")), ("terms_code",))
    rows = om.read("SELECT * EXCLUDE (unreadable) FROM terms")
    assert rows.to_dicts() == [{"terms_code": "NET14", "description": "Net 14", "net_days": 14, "tolerance": Decimal("1.2500")}]


def test_a_failed_batch_rolls_back_completely(om_url):
    om = OmDatabase(om_url)
    om.init_schema()
    sites = pl.DataFrame({"code": ["A", "B"], "name": ["a", "b"]})
    with om.session() as con:
        con.begin()
        om.insert_missing(con, "site", sites, ("code",))
        with pytest.raises(duckdb.Error):
            con.execute("INSERT INTO item (item_id) VALUES (NULL)")  # a view: the batch fails
        con.rollback()
    assert om.counts()["site"] == 0


def test_identity_ids_are_assigned_by_the_database(om_url):
    om = OmDatabase(om_url)
    om.init_schema()
    with om.session() as con:
        om.insert_missing(con, "site", pl.DataFrame({"code": ["A", "B"], "name": ["a", "b"]}), ("code",))
        om.insert_missing(con, "site", pl.DataFrame({"code": ["C"], "name": ["c"]}), ("code",))
    ids = om.read("SELECT site_id FROM site ORDER BY code")["site_id"].to_list()
    assert len(set(ids)) == 3 and all(i is not None for i in ids)


def test_dates_timestamps_and_booleans_round_trip(om_url):
    om = OmDatabase(om_url)
    om.init_schema()
    when = datetime(2026, 11, 27, 15, 4, 5, 123456, tzinfo=timezone.utc)
    invoice = pl.DataFrame(
        [{"invoice_no": "INV-1", "sales_order_id": 1, "customer_id": 2, "invoice_date": date(2026, 11, 27),
          "due_date": date(2026, 12, 11), "amount": Decimal("19.9900"), "status": "open",
          "payment_status": "unpaid", "paid_at": when}],
        schema_overrides={"amount": pl.Decimal(18, 4)},
    )
    item = pl.DataFrame([{"item_code": "SKU/1 x", "backorderable": True, "active": False}])
    with om.session() as con:
        om.insert_missing(con, "invoice", invoice, ("invoice_no",))
        om.insert_missing(con, "item", item, ("item_code",))
    got = om.read("SELECT invoice_date, due_date, amount, paid_at FROM invoice").row(0, named=True)
    assert got == {"invoice_date": date(2026, 11, 27), "due_date": date(2026, 12, 11), "amount": Decimal("19.9900"), "paid_at": when}
    assert om.read("SELECT backorderable, active FROM item").row(0) == (True, False)


money = st.decimals(min_value=Decimal("-99999999999999.9999"), max_value=Decimal("99999999999999.9999"), places=4, allow_nan=False, allow_infinity=False)


def test_money_is_stored_exactly(om_url):
    om = OmDatabase(om_url)
    om.init_schema()
    with om.session() as con:

        @settings(max_examples=40, deadline=None)
        @given(amounts=st.lists(money, min_size=1, max_size=20))
        def round_trip(amounts):
            frame = pl.DataFrame(
                {"invoice_id": list(range(len(amounts))), "settlement_id": ["S"] * len(amounts), "amount": amounts},
                schema_overrides={"amount": pl.Decimal(18, 4)},
            )
            con.execute(f"DELETE FROM {om.table_ref('invoice_payment')}")
            om.insert_missing(con, "invoice_payment", frame, ("invoice_id", "settlement_id"))
            back = con.execute("SELECT amount FROM invoice_payment ORDER BY invoice_id").pl()["amount"].to_list()
            assert back == amounts

        round_trip()


def test_unreachable_database_is_a_one_line_error_without_the_password():
    om = OmDatabase("postgresql://omsync:hunter2@127.0.0.1:1/om")
    with pytest.raises(ConfigError) as err:
        om.counts()
    message = str(err.value)
    assert message.startswith("OMSYNC_OM_URL")
    assert "hunter2" not in message and "\n" not in message


def test_missing_sqlite_file_says_to_run_init(tmp_path):
    with pytest.raises(ConfigError, match="omsync om init"):
        OmDatabase(f"sqlite:///{tmp_path / 'nothing.sqlite'}").counts()

