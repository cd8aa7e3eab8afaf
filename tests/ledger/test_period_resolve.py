"""Named periods and custom ranges as whole UTC days (ledger.periods.period_resolve), and the
rollup rows a period reads (period_days)."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bots.services import bot_create
from ledger.periods import LONGEST_CUSTOM_DAYS, Period, PeriodError, period_days, period_resolve
from ledger.rollup_models import RUN_FIRST, BotDay

TODAY = date(2026, 3, 1)  # the day after February's last: ranges cross a month end


@pytest.mark.parametrize(("name", "first"), [
    ("day", date(2026, 3, 1)), ("week", date(2026, 2, 23)), ("month", date(2026, 1, 31)), ("all", None),
    (None, None),
])
def test_a_named_period_ends_today(name, first):
    assert period_resolve(name, today=TODAY) == Period(name or "all", first, TODAY)


def test_a_custom_range_defaults_its_end_to_today():
    assert period_resolve(None, today=TODAY, first=date(2026, 2, 1)) == Period(
        "custom", date(2026, 2, 1), TODAY)
    assert period_resolve("custom", today=TODAY, last=date(2026, 2, 10)) == Period(
        "custom", None, date(2026, 2, 10))


@pytest.mark.parametrize(("name", "first", "last", "says"), [
    ("year", None, None, "Unknown period 'year'"),
    ("week", date(2026, 2, 1), None, "not both"),
    (None, date(2026, 2, 2), date(2026, 2, 1), "starts (2026-02-02) after it ends (2026-02-01)"),
    (None, date(2010, 1, 1), date(2026, 1, 1), f"at most {LONGEST_CUSTOM_DAYS} days"),
])
def test_a_period_that_cannot_be_read_says_why(name, first, last, says):
    with pytest.raises(PeriodError) as error:
        period_resolve(name, today=TODAY, first=first, last=last)
    assert says in str(error.value)


@pytest.mark.django_db
def test_period_days_reads_each_bots_own_run_within_the_days(user, provider):
    a = bot_create(owner=user, name="a", prompt="p", provider=provider)
    b = bot_create(owner=user, name="b", prompt="p", provider=provider)
    reset = datetime(2026, 2, 27, 12, tzinfo=UTC)
    for bot, run in ((a, RUN_FIRST), (b, RUN_FIRST), (b, reset)):
        for day in (date(2026, 2, 20), date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1)):
            BotDay.objects.create(bot=bot, run_start=run, day=day, snapshots=1)
    got = period_days({a.pk: RUN_FIRST, b.pk: reset}, period_resolve("week", today=TODAY))
    assert [(d.run_start, d.day) for d in got[a.pk]] == [
        (RUN_FIRST, date(2026, 2, 27)), (RUN_FIRST, date(2026, 2, 28)), (RUN_FIRST, date(2026, 3, 1))]
    assert [(d.run_start, d.day) for d in got[b.pk]] == [
        (reset, date(2026, 2, 27)), (reset, date(2026, 2, 28)), (reset, date(2026, 3, 1))]
    assert period_days({}, period_resolve("all", today=TODAY)) == {}
