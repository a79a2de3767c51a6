"""Damaged settlement files never stop the good ones (issue 16, item 12)."""

import gzip

from connectors.amazon import AmazonConnector
from flows.settlement import settlement
from omsync.settings import Settings
from tests.flows.test_settlement import payments, settled_world
from transforms.settlement_report import ReportFormatError, decode_report

import pytest


def test_a_truncated_gzip_file_is_one_clear_error_not_an_eof_error():
    whole = gzip.compress(b"settlement-id\ttotal-amount\n" * 200)
    with pytest.raises(ReportFormatError, match="truncated or damaged"):
        decode_report(whole[: len(whole) // 2], None)


@pytest.mark.parametrize("om_url", ["sqlite"], indirect=True)
def test_a_truncated_and_a_garbage_file_do_not_stop_the_good_one(world, tmp_path):
    settled_world(world)
    world.sandbox.admin("POST", "settlements", {"gzip": True})
    [report] = world.sandbox.admin("GET", "reports")["reports"]
    with AmazonConnector(Settings.from_env()) as amazon:
        content = amazon.download_report(report["reportDocumentId"]).content
    good, truncated, garbage = tmp_path / "good.txt", tmp_path / "truncated.txt.gz", tmp_path / "garbage.txt"
    good.write_bytes(content)
    truncated.write_bytes(gzip.compress(content)[:200])
    garbage.write_bytes(bytes(range(256)) * 8)

    run = settlement(files=[str(truncated), str(garbage), str(good)])

    assert run["settlements applied"] == 1 and run["reports unreadable"] == 2
    assert payments(world).height == run["invoices paid"] + run["invoices disputed"] > 0
    with world.warehouse.read() as con:
        [outcome] = con.execute("SELECT outcome FROM ops.runs WHERE flow = 'settlement'").fetchone()
    assert outcome == "OK_WITH_PROBLEMS"
