"""What omsync prints: every value as literal text (never Rich markup or emoji), tables that never cut a
value, plain unwrapped lines when the output is not a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

PIPED_WIDTH = 100_000  # a pipe or a file is never wrapped: a line per row, as long as it needs to be
MIN_COLUMN = 12  # narrower than this, a folded column is unreadable: show one record per block instead


def console(file: IO[str] | None = None, stderr: bool = False) -> Console:
    """A console that renders markup only in omsync's own strings, never emoji codes, and does not wrap a pipe."""
    target = file or (sys.stderr if stderr else sys.stdout)
    terminal = target.isatty()
    return Console(file=target, emoji=False, highlight=False, soft_wrap=not terminal,
                   width=None if terminal else PIPED_WIDTH, force_terminal=None if terminal else False)


def cell(value: Any) -> Text:
    """A value as literal text: brackets, colons and backslashes shown as they are."""
    return Text("" if value is None else str(value))


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None,
          right: Sequence[str] = ()) -> Table:
    """A table of literal values; no value is ever cut (a long one wraps within its column)."""
    shown = Table(title=cell(title) if title else None, box=box.SIMPLE_HEAD, title_justify="left")
    for column in columns:
        shown.add_column(cell(column), justify="right" if column in right else "left", overflow="fold")
    for row in rows:
        shown.add_row(*(cell(v) for v in row))
    return shown


def fits(widths: Sequence[int], available: int) -> bool:
    """Whether columns of these natural widths fit side by side, each at least MIN_COLUMN wide when folded."""
    separators = 2 * len(widths) + 2
    return sum(min(w, MIN_COLUMN) for w in widths) + separators <= available


def print_rows(out: Console, columns: Sequence[str], rows: list[Sequence[Any]], title: str | None = None) -> None:
    """A table when it fits the width, else one record per block; says "0 rows" for an empty result."""
    texts = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(c)] + [max((len(line) for line in t[i].splitlines()), default=0) for t in texts])
              for i, c in enumerate(columns)]
    if not rows or fits(widths, out.width):
        out.print(table(columns, texts, title))
    else:
        if title:
            out.print(cell(title))
        label = max(len(c) for c in columns)
        for number, row in enumerate(texts, 1):
            out.print(cell(f"-[ record {number} ]-"))
            for column, value in zip(columns, row):
                out.print(Text(f"{column:<{label}} │ ") + cell(value), overflow="fold")
    out.print(cell(f"{len(rows):,} row{'' if len(rows) == 1 else 's'}"))
