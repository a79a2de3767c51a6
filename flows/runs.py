"""Every flow run's record: an ops.runs row, a markdown summary and a table of problems in Prefect.
Artifacts carry counts, SKUs and reasons only: never buyer data, never secrets."""

from __future__ import annotations

import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import polars as pl
from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event
from prefect.runtime import flow_run

from omsync.connectors import ops
from omsync.connectors.problem_queries import open_quarantine
from omsync.connectors.run_lock import run_lease
from omsync.connectors.warehouse import Warehouse

PROBLEM_SCHEMA = {"kind": pl.String, "key": pl.String, "value": pl.String, "reason": pl.String}
TABLE_ROWS = 500  # the UI shows a table, not a dump; the warehouse has them all
PROBLEMS_EVENT = "omsync.run.problems"  # a run finished with problems


@dataclass
class RunReport:
    flow: str
    run_id: str
    count_in: int = 0
    count_out: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[pl.DataFrame] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # extra markdown for the summary
    problems_query: str | None = None  # where a person finds all of them; ops.quarantine unless set
    quarantine: pl.DataFrame | None = None  # this run's bad input (key, raw_value, reason), kept in ops.quarantine at the end

    def add_problems(self, kind: str, frame: pl.DataFrame, key: str = "key", value: str = "raw_value", reason: str = "reason") -> None:
        if frame.height:
            self.problems.append(frame.select(kind=pl.lit(kind), key=pl.col(key), value=pl.col(value), reason=pl.col(reason)).cast(PROBLEM_SCHEMA))

    def add_verdicts(self, kind: str, verdicts: pl.DataFrame) -> None:
        """Amazon's verdicts (sku, verdict, issues): a count per verdict, and the refusals as problems."""
        for verdict, count in verdicts.group_by("verdict").len().sort("verdict").iter_rows():
            self.counts[f"verdict {verdict}"] = self.counts.get(f"verdict {verdict}", 0) + count
        refused = verdicts.filter(pl.col("verdict") != "ACCEPTED").with_columns(raw_value=pl.col("verdict"))
        self.add_problems(kind, refused, key="sku", reason="issues")

    def problem_table(self) -> pl.DataFrame:
        return pl.concat(self.problems) if self.problems else pl.DataFrame(schema=PROBLEM_SCHEMA)


@contextmanager
def recorded_run(flow: str, warehouse: Warehouse) -> Iterator[RunReport]:
    """One run of a flow at a time (its lease, across processes and machines), recorded."""
    with run_lease(warehouse, flow), _recorded(flow, warehouse) as report:
        yield report


@contextmanager
def _recorded(flow: str, warehouse: Warehouse) -> Iterator[RunReport]:
    """Write ops.runs at the start and the end (with the run's bad input), and publish the run's artifacts whatever happens."""
    prefect_id = str(flow_run.id) if flow_run.id else None
    report = RunReport(flow, prefect_id or str(uuid.uuid4()))
    with warehouse.write() as con:
        ops.mark_crashed(con, flow, report.run_id)  # under the lease, a run still RUNNING is a dead one
        ops.start_run(con, report.run_id, flow, prefect_id)
    try:
        yield report
    except BaseException as exc:
        _finish(warehouse, report, "FAILED", f"{type(exc).__name__}: {exc}")
        raise
    problems = report.problem_table().height
    _finish(warehouse, report, "OK" if not problems else "OK_WITH_PROBLEMS", f"{problems} problems" if problems else "")


def _finish(warehouse: Warehouse, report: RunReport, outcome: str, message: str) -> None:
    with warehouse.write() as con:
        if report.quarantine is not None:
            ops.record_quarantine(con, report.flow, report.quarantine)
        ops.finish_run(con, report.run_id, report.count_in, report.count_out, outcome, message[:2000])
    if flow_run.id is None:
        return
    problems = report.problem_table()
    facts = ", ".join(f"{name} {value:,}" for name, value in {"in": report.count_in, "out": report.count_out, **report.counts}.items())
    get_run_logger().info("%s %s: %s%s", report.flow, outcome, facts, f"; {message}" if message else "")
    if problems.height:
        kinds = ", ".join(f"{kind} {n:,}" for kind, n in problems.group_by("kind").len().sort("kind").iter_rows())
        get_run_logger().info("problems: %s", kinds)
        if outcome == "OK_WITH_PROBLEMS":  # a failed run has Prefect's own Failed event
            # omsync's alerts automation (omsync/alerts.py) notifies on this event: counts only, never keys or buyer data
            emit_event(PROBLEMS_EVENT, resource={"prefect.resource.id": f"omsync.run.{report.run_id}", "prefect.resource.name": report.flow},
                       payload={"problems": problems.height, "kinds": kinds})
    lines = [f"# {report.flow}: {outcome}", "", "| what | count |", "|---|---:|",
             f"| in | {report.count_in:,} |", f"| out | {report.count_out:,} |"]
    lines += [f"| {name} | {value:,} |" for name, value in report.counts.items()]
    if message:
        lines += ["", markdown_text(message)]
    if report.sections:
        lines += [""] + report.sections
    if problems.height:
        shown = problems.group_by("kind").len().sort("kind")
        lines += ["", "## Problems", "", "| kind | count |", "|---|---:|"] + [f"| {k} | {n:,} |" for k, n in shown.iter_rows()]
        query = report.problems_query or open_quarantine(report.flow)
        lines += ["", f"All of them: `omsync sql \"{query}\"`"]
    create_markdown_artifact("\n".join(lines), key=f"{report.flow}-summary", description=f"{report.flow} run summary")
    create_table_artifact(problems.head(TABLE_ROWS).fill_null("").to_dicts(), key=f"{report.flow}-problems",
                          description=f"{report.flow}: first {TABLE_ROWS} problems of {problems.height}")


def markdown_text(text: str) -> str:
    """Text shown literally in a markdown artifact: markup characters escaped, one line."""
    return re.sub(r"([\\`*_{}\[\]<>()#+!|~])", r"\\\1", " ".join(text.split()))
