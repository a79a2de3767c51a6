"""What omsync prints is the data itself: never markup, never cut."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from omsync.flows.runs import markdown_text
from omsync import output


def printed(columns, rows, width):
    buffer = io.StringIO()
    output.print_rows(Console(file=buffer, width=width, emoji=False, highlight=False), columns, rows)
    return buffer.getvalue()


def test_a_table_too_wide_for_the_terminal_becomes_one_record_per_block():
    rows = [[f"value-{i}-{c}" * 3 for c in range(12)] for i in range(2)]
    shown = printed([f"column_{c}" for c in range(12)], rows, width=80)
    assert "-[ record 1 ]-" in shown and "-[ record 2 ]-" in shown and "2 rows" in shown
    assert all(value in shown for row in rows for value in row)


@settings(max_examples=40)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=60))
def test_any_value_is_printed_as_it_is(value):
    shown = printed(["v"], [[value]], width=200)
    assert value.strip() in shown


def test_markdown_artifact_text_is_escaped():
    assert markdown_text("[/] *x* | <b>\nnext") == "\\[/\\] \\*x\\* \\| \\<b\\> next"
