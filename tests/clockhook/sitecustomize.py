"""Started by Python in every process whose PYTHONPATH has this directory (the test
session's subprocesses, see tests/clock.py): when ``ARENA_TEST_CLOCK_OFFSET`` is set,
move this process's clock by that many seconds, as the test session's is."""
from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

# The traveller moving this process's clock, or None; tests/clock.py looks here so that a
# pytest process started through this hook (an xdist worker) does not move it twice.
arena_clock = None

if os.environ.get("ARENA_TEST_CLOCK_OFFSET"):
    import time_machine

    arena_clock = time_machine.travel(
        datetime.now(UTC) + timedelta(seconds=float(os.environ["ARENA_TEST_CLOCK_OFFSET"])), tick=True
    )
    arena_clock.start()
    # time-machine starts ticking at the first reading, not at start(): read it now, or the
    # time spent importing before a first reading would put this process behind the others.
    import time

    time.time()
