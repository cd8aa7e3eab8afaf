"""The boards' pure helpers: how a figure is shown, which link sorts or picks a period, which
instants a chart range covers, and how a histogram's bars are sized."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.http import QueryDict

from arena.analytics.params import EARLIEST, AnalyticsError
from arena.web.boards.analytics import compare_ids, period_span
from arena.web.boards.cells import (
    DASH,
    cell,
    errors_text,
    extreme_rows,
    format_value,
    period_tabs,
    query_string,
    range_of,
    range_tabs,
    run_earliest,
    sort_links,
    tone_of,
)
from arena.web.boards.deep_dive import bar_widths, bucket_label
from ledger.periods import Period

NOW = datetime(2026, 5, 20, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "kind", "text"), [
    (0.0123, "signed_pct", "+1.23 %"),
    (-0.5, "signed_pct", "−50.00 %"),
    (0.25, "pct", "25.00 %"),
    ("1234.5670", "signed_money", "+1,234.57"),
    ("-12.004", "signed_money", "−12.00"),
    ("1234.5", "money", "1,234.50"),
    (1.23456, "ratio", "1.23"),
    (12345, "count", "12,345"),
    (0, "signed_pct", "0.00 %"),
    (None, "pct", DASH),
    ("", "money", DASH),
    ("nan", "money", DASH),
])
def test_a_value_is_shown_as_its_kind(value, kind, text):
    assert format_value(value, kind) == text


def test_an_unknown_kind_is_an_error_not_a_guess():
    with pytest.raises(ValueError, match="unknown kind"):
        format_value(1, "stars")


def test_tone_follows_the_sign():
    assert [tone_of(v) for v in ("2", "-0.1", "0", None)] == ["pos", "neg", "", ""]


def test_a_null_figure_keeps_the_apis_reason():
    row = {"sharpe": None, "pnl": "-3.5", "reasons": {"sharpe": "returns do not vary"}}
    null = cell(row, "sharpe", "ratio")
    assert (null.text, null.reason) == (DASH, "returns do not vary")
    pnl = cell(row, "pnl", "signed_money")
    assert (pnl.text, pnl.tone, pnl.reason) == ("−3.50", "neg", None)
    assert cell({}, "win_rate", "pct").reason == "not available"  # a null without a reason still says so
    assert cell({"pnl": "4"}, "pnl", "money").tone == ""  # only signed figures are coloured


def test_sort_links_go_descending_first_then_flip():
    links = {link["name"]: link for link in sort_links("-pnl", {"period": "day"}, [("pnl", "PnL"),
                                                                                  ("sharpe", "Sharpe")])}
    assert links["pnl"]["aria_sort"] == "descending" and links["pnl"]["href"] == "?period=day&ordering=pnl"
    assert links["sharpe"]["aria_sort"] is None and links["sharpe"]["href"] == "?period=day&ordering=-sharpe"
    (ascending,) = sort_links("pnl", {}, [("pnl", "PnL")])
    assert ascending["aria_sort"] == "ascending" and ascending["href"] == "?ordering=-pnl"


def test_period_tabs_mark_the_current_and_drop_a_custom_range():
    tabs = period_tabs("week", {"from": "2026-05-01", "to": "2026-05-03", "ordering": "name"})
    assert [t["label"] for t in tabs] == ["Today", "7 days", "30 days", "All time"]
    assert [t["current"] for t in tabs] == [False, True, False, False]
    assert tabs[0]["href"] == "?ordering=name&period=day"


def test_query_string_leaves_out_empty_values():
    assert query_string({"a": None, "b": "", "c": 1}) == "?c=1"
    assert query_string({}) == ""


def test_a_range_ends_at_its_end_and_never_starts_before_the_earliest():
    assert range_of("24h", end=NOW, earliest=EARLIEST).start == NOW - timedelta(hours=24)
    assert range_of(None, end=NOW, earliest=EARLIEST).start == NOW - timedelta(days=7)  # the default
    created = NOW - timedelta(days=2)
    assert range_of("30d", end=NOW, earliest=created).start == created
    assert range_of("all", end=NOW, earliest=created).start == created
    assert range_of("all", end=NOW, earliest=NOW + timedelta(hours=1)).start == NOW  # never backwards


def test_an_unknown_range_names_its_parameter():
    with pytest.raises(AnalyticsError) as caught:
        range_of("1y", end=NOW, earliest=EARLIEST)
    assert caught.value.param == "range" and "24h" in caught.value.message


def test_range_tabs_keep_the_run():
    tabs = range_tabs("30d", {"run": "2026-05-01T00:00:00Z"})
    assert [t["current"] for t in tabs] == [False, False, True, False]
    assert tabs[0]["href"] == "?run=2026-05-01T00%3A00%3A00Z&range=24h"


def test_errors_read_as_sentences_naming_the_field():
    assert errors_text({"period": ["Bad."], "to": "Worse."}) == ["period: Bad.", "to: Worse."]


def test_extreme_rows_carry_their_cell_and_time():
    (row,) = extreme_rows([{"pnl": "5.00", "closed_at": "2026-05-20T04:00:00Z"}])
    assert row["cell"].text == "+5.00" and row["closed"] == datetime(2026, 5, 20, 4, tzinfo=UTC)


def test_bars_are_sized_against_the_largest_count():
    assert bar_widths([0, 2, 4, 1]) == [0, 50, 100, 25]
    assert bar_widths([0, 0]) == [0, 0]


def test_histogram_buckets_read_as_ranges():
    assert bucket_label(None, "-1000") == "below −1,000.00"
    assert bucket_label("0", "10") == "0.00 to 10.00"
    assert bucket_label("1000", None) == "1,000.00 and up"


def test_compare_ids_read_both_the_apis_list_and_a_forms_repeats():
    assert compare_ids(QueryDict("bots=3,5")) == [3, 5]
    assert compare_ids(QueryDict("bots=3&bots=5&bots=3")) == [3, 5]
    assert compare_ids(QueryDict("")) is None
    with pytest.raises(AnalyticsError, match="not a bot id"):
        compare_ids(QueryDict("bots=3,x"))
    with pytest.raises(AnalyticsError, match="At most 10"):
        compare_ids(QueryDict("bots=" + ",".join(str(i) for i in range(1, 12))))


def test_a_period_as_instants_runs_from_its_first_midnight_to_now():
    assert period_span(Period("week", date(2026, 5, 14), date(2026, 5, 20)), now=NOW).start == \
        datetime(2026, 5, 14, tzinfo=UTC)
    whole = period_span(Period("all", None, date(2026, 5, 20)), now=NOW)
    assert (whole.start, whole.end) == (EARLIEST, NOW)


def test_a_runs_data_starts_at_its_first_day_not_at_the_bots_creation():
    created = NOW - timedelta(hours=1)  # history simulated or imported before the bot's row was made
    assert run_earliest(EARLIEST, date(2026, 5, 17), created) == datetime(2026, 5, 17, tzinfo=UTC)
    reset = datetime(2026, 5, 17, 13, tzinfo=UTC)
    assert run_earliest(reset, date(2026, 5, 17), created) == reset  # never before the run began
    assert run_earliest(EARLIEST, None, created) == created  # no day yet
