"""Reports API 2021-06-30: settlement reports, which Amazon makes on its own schedule."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from omsync.connectors.amazon.transport import AmazonTransport, ReportDocument, iso

SETTLEMENT_REPORT_TYPE = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"


class ReportsApi:
    def __init__(self, transport: AmazonTransport) -> None:
        self.transport = transport

    def list_settlement_reports(self, since: datetime, marketplace_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Settlement reports Amazon made since `since` (Amazon keeps 90 days), oldest first."""
        t = self.transport
        reports: list[dict[str, Any]] = []
        query: dict[str, Any] = {"reportTypes": [SETTLEMENT_REPORT_TYPE], "processingStatuses": ["DONE"],
                                 "createdSince": iso(since), "pageSize": 100, "marketplaceIds": list(marketplace_ids)}
        while True:
            page = t.invoke("getReports", lambda: t.client("reports").get_reports(**query))
            reports += page.payload.get("reports", [])
            if not page.next_token:
                return sorted(reports, key=lambda r: (r["createdTime"], r["reportId"]))
            query = {"nextToken": page.next_token}  # Amazon wants the token alone

    def download_report(self, document_id: str) -> ReportDocument:
        """A report document's bytes, gunzipped when Amazon compressed it, with its declared charset."""
        t = self.transport
        # download=False: the library's own download decodes and would lose the declared charset.
        meta = t.invoke("getReportDocument", lambda: t.client("reports").get_report_document(document_id, download=False)).payload
        return t.download(meta)
