"""tests/clock.py moves the clock of the whole session, its workers and its subprocesses."""
from __future__ import annotations

import os
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])

INNER = '''
import subprocess, sys
from datetime import UTC, datetime

def test_the_clock_is_moved_here_and_in_subprocesses():
    assert datetime.now(UTC).year == 2031
    code = "from datetime import UTC, datetime; print(datetime.now(UTC).year)"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert child.stdout.strip() == "2031", child.stderr
'''

PLAIN = '''
from datetime import UTC, datetime
import time_machine

def test_the_clock_is_real():
    assert not time_machine.escape_hatch.is_travelling()
    assert datetime.now(UTC).tzinfo is UTC
'''


def env_without_clock(monkeypatch):
    monkeypatch.delenv("ARENA_TEST_CLOCK_OFFSET", raising=False)
    monkeypatch.delenv("ARENA_TEST_CLOCK", raising=False)


def test_clock_option_moves_the_session_and_its_subprocesses(pytester, monkeypatch):
    env_without_clock(monkeypatch)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pytester.path), ROOT]))
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-p", "tests.clock", "--clock=2031-06-01T12:00:00Z",
                                           "-p", "no:cacheprovider", "-o", "addopts=")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["clock: moved to 2031-06-01T12:00:*"])


def test_without_the_option_nothing_is_moved(pytester, monkeypatch):
    env_without_clock(monkeypatch)
    monkeypatch.setenv("PYTHONPATH", ROOT)
    pytester.makepyfile(test_plain=PLAIN)
    result = pytester.runpytest_subprocess("-p", "tests.clock", "-p", "no:cacheprovider", "-o", "addopts=")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["clock: real"])


def test_xdist_workers_are_moved_once_and_agree_with_their_subprocesses(pytester, monkeypatch):
    # A worker starts with the hook on PYTHONPATH, so its clock is moved before pytest
    # configures it; moving it again would put it an offset ahead of its subprocesses.
    env_without_clock(monkeypatch)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pytester.path), ROOT]))
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-p", "tests.clock", "--clock=2031-06-01T12:00:00Z", "-n", "2",
                                           "-p", "no:cacheprovider", "-o", "addopts=")
    result.assert_outcomes(passed=1)


AGREE = '''
import subprocess, sys, time
import time_machine

def moved_by():  # how far this process's clock is from the real one
    return time.time() - time_machine.escape_hatch.time.time()

def test_a_subprocess_that_reads_the_clock_late_agrees_with_its_parent():
    # time-machine ticks from a clock's first reading: a process that first reads it a second
    # after starting must not be a second behind the one that started it.
    code = ("import time; time.sleep(1); import time_machine; "
            "print(time.time() - time_machine.escape_hatch.time.time())")
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ours, theirs = moved_by(), float(child.stdout)
    assert ours > 1e8, "moved to 2031"
    assert abs(theirs - ours) < 0.5, (ours, theirs)
'''


def test_processes_agree_on_now_however_late_they_first_read_the_clock(pytester, monkeypatch):
    env_without_clock(monkeypatch)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(pytester.path), ROOT]))
    pytester.makepyfile(test_agree=AGREE)
    result = pytester.runpytest_subprocess("-p", "tests.clock", "--clock=2031-06-01T12:00:00Z",
                                           "-p", "no:cacheprovider", "-o", "addopts=")
    result.assert_outcomes(passed=1)
