"""What the sandbox keeps besides listings and orders: documents, feeds, reports, injected faults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omsync.sandbox.clock import iso


DOCUMENT_URL_SECONDS = 300.0  # presigned URLs expire after five minutes of the client's (real) time


@dataclass
class Document:
    document_id: str
    content_type: str
    content: bytes | None = None
    compressed: bool = False


@dataclass
class Feed:
    feed_id: str
    feed_type: str
    marketplace_ids: list[str]
    created: datetime
    document_id: str
    status: str = "IN_QUEUE"
    start_at: float = 0.0
    done_at: float = 0.0
    started: datetime | None = None
    ended: datetime | None = None
    result_document_id: str | None = None
    fatal: bool = False
    processing: bool = False

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"feedId": self.feed_id, "feedType": self.feed_type, "marketplaceIds": self.marketplace_ids,
                                 "createdTime": iso(self.created), "processingStatus": self.status}
        if self.started:
            shown["processingStartTime"] = iso(self.started)
        if self.ended:
            shown["processingEndTime"] = iso(self.ended)
        if self.result_document_id:
            shown["resultFeedDocumentId"] = self.result_document_id
        return shown


@dataclass
class Report:
    report_id: str
    report_type: str
    marketplace_ids: list[str]
    data_start: datetime
    data_end: datetime
    created: datetime
    document_id: str

    def as_json(self) -> dict[str, Any]:
        return {"reportId": self.report_id, "reportType": self.report_type, "marketplaceIds": self.marketplace_ids,
                "dataStartTime": iso(self.data_start), "dataEndTime": iso(self.data_end), "createdTime": iso(self.created),
                "processingStatus": "DONE", "processingStartTime": iso(self.created), "processingEndTime": iso(self.created),
                "reportDocumentId": self.document_id}


@dataclass
class Fault:
    throttle: float = 0.0
    error500: float = 0.0
    error503: float = 0.0
    drop: float = 0.0
    latency_ms: float = 0.0
    lost_reply: float = 0.0  # share of requests applied whose answer is cut off (the client cannot know it worked)
