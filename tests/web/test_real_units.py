"""The real-money pages' pure pieces: "how long ago", a card's reconciliation line, a run's
summary and balance gap in words, and what engaging the kill switch reports."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from arena.web.boards.analytics import with_modes
from arena.web.real.kill import engage_message
from arena.web.real.reads import ago, balance_gap, recon_line, summary_lines
from arena.web.real.recon import reconcile_message
from trading.models import Reconciliation

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("seconds", "words"), [
    (-30, "just now"), (0, "just now"), (59, "just now"), (60, "1 min ago"), (150, "2 min ago"),
    (3599, "59 min ago"), (3600, "1 h ago"), (86399, "23 h ago"), (86400, "1 d ago"),
    (3 * 86400 + 5, "3 d ago"),
])
def test_ago_says_the_largest_whole_unit(seconds, words):
    assert ago(NOW - timedelta(seconds=seconds), now=NOW) == words


def line(status, *, minutes=2, open_count=0, error=""):
    at = None if status is None else NOW - timedelta(minutes=minutes)
    return recon_line(status=status, at=at, open_count=open_count, error=error, now=NOW)


def test_a_cards_reconciliation_line():
    assert (line(None).text, line(None).tone) == ("Never reconciled", "warn")
    assert (line("agreed").text, line("agreed").tone) == ("Reconciled 2 min ago · agreed", "ok")
    assert line("differences", open_count=3).text == "Reconciled 2 min ago · differences: 3"
    assert line("failed", error="HTTP 502").text == "Reconciliation failed 2 min ago: HTTP 502"
    assert line("failed").text.endswith(": no reason given") and line("failed").tone == "failed"
    assert line("running", minutes=0).text == "Reconciling (started just now)"


def test_an_agreed_run_with_flags_still_open_says_differences():
    """The owner still has earlier flags to look at, whatever the latest run found."""
    assert line("agreed", open_count=2).text == "Reconciled 2 min ago · differences: 2"


def test_the_balance_gap_needs_both_balances():
    assert balance_gap(Decimal("10012.5"), Decimal("10000")) == Decimal("12.5")
    assert balance_gap(Decimal("1"), Decimal("3")) == Decimal("-2")
    assert balance_gap(None, Decimal("3")) is None and balance_gap(Decimal("3"), None) is None


def test_a_summary_reads_counts_as_they_are_and_lists_by_length():
    summary = {"closed": [1, 2], "imported": [], "flagged": 3, "ok": True, "notes": "", "nested": {"a": 1}}
    assert summary_lines(summary) == [("Closed", "2"), ("Imported", "0"), ("Flagged", "3"), ("Ok", "yes")]
    assert summary_lines(None) == [] and summary_lines([1]) == []


def test_what_engaging_reports():
    assert engage_message([], {}) == ("Kill switch engaged: 0 real bots paused; "
                                      "no real bot trades until it is released.")
    text = engage_message([4], {4: ["closed LONG BTCUSDT"], 2: []})
    assert text.startswith("Kill switch engaged: 1 real bot paused;")
    assert text.endswith("Closing positions — bot 2: nothing open; bot 4: closed LONG BTCUSDT.")


def test_what_a_finished_reconciliation_says():
    def said(status, error=""):
        return reconcile_message(Reconciliation(status=status, error=error))

    assert said("agreed") == ("success", "Reconciled: the exchange and the arena agree.")
    assert said("differences")[0] == "warning"
    assert said("failed", "HTTP 500") == ("error", "The reconciliation failed: HTTP 500")
    assert said("running")[0] == "info"


def test_rows_take_their_bots_mode():
    rows = [{"bot": {"id": 1, "name": "a"}}, {"bot": {"id": 2, "name": "b"}}]
    assert [r["mode"] for r in with_modes(rows, {1: "real"})] == ["real", ""]
