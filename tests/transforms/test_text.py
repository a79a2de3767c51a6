"""clean_text: text from Amazon that PostgreSQL and SQLite both store whole."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from omsync.transforms.text import clean_text


def test_clean_text_removes_nul_and_controls_and_turns_breaks_into_spaces():
    frame = pl.DataFrame({"name": ["Zoë\x00 Null\x07", "1 Tab\tStreet\x1b", None, "a\r\nb", "plain"], "qty": [1, 2, 3, 4, 5]})
    assert clean_text(frame).to_dict(as_series=False) == {"name": ["Zoë Null", "1 Tab Street", None, "a b", "plain"], "qty": [1, 2, 3, 4, 5]}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text()), max_size=20))
def test_clean_text_leaves_no_control_character_and_keeps_every_other_character(values):
    cleaned = clean_text(pl.DataFrame({"text": values}, schema={"text": pl.String}))["text"].to_list()
    for before, after in zip(values, cleaned):
        if before is None:
            assert after is None
            continue
        assert not any(ord(c) < 32 or ord(c) == 127 for c in after)
        assert [c for c in after if c != " "] == [c for c in before if c != " " and ord(c) >= 32 and ord(c) != 127]
