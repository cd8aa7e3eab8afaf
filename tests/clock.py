"""Move the clock for a whole test session, to prove the suite passes at any hour:

    bin/test --clock=2026-12-31T23:59:30Z        (or ARENA_TEST_CLOCK=... bin/test)

time-machine moves ``time.time``, ``datetime.now`` and friends (not ``time.monotonic``,
so sleeps, thread waits and asyncio keep working) to the given instant, and lets it tick
on from there. The session's offset from the real clock is exported as
``ARENA_TEST_CLOCK_OFFSET``, and ``tests/clockhook`` (a ``sitecustomize``) is put on
``PYTHONPATH``: xdist workers and every process a test starts (``run_turn``, daphne,
``manage.py``) move their clocks by the same offset, so all of them agree on "now".
"""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

OFFSET = "ARENA_TEST_CLOCK_OFFSET"
HOOK = str(Path(__file__).resolve().parent / "clockhook")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--clock", metavar="ISO", default=None,
                     help="run the whole session as if it started at this UTC instant "
                          "(also ARENA_TEST_CLOCK), e.g. 2026-12-31T23:59:30Z")


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(OFFSET):  # an xdist worker (or a nested run): the session's offset
        offset = float(os.environ[OFFSET])
    else:
        wanted = config.getoption("--clock") or os.environ.get("ARENA_TEST_CLOCK")
        if not wanted:
            return
        offset = (_parse(wanted) - datetime.now(UTC)).total_seconds()
        os.environ[OFFSET] = repr(offset)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if HOOK not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([HOOK, *filter(None, paths)])
    import sys

    if getattr(sys.modules.get("sitecustomize"), "arena_clock", None) is not None:
        return  # started through tests/clockhook (an xdist worker): already moved, once
    import time_machine  # only when asked: the suite runs without it otherwise

    traveller = time_machine.travel(datetime.now(UTC) + timedelta(seconds=offset), tick=True)
    traveller.start()
    import time

    time.time()  # ticking starts at the first reading (see tests/clockhook): start it now
    config._arena_clock = traveller  # kept to stop it at the end


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = getattr(config, "_arena_clock", None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get(OFFSET):
        return f"clock: moved to {datetime.now(UTC).isoformat()} (offset {float(os.environ[OFFSET]):+.0f} s)"
    return "clock: real"
