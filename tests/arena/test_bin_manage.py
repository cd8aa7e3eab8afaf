"""``bin/manage COMMAND``: any manage.py command with the environment bin/run uses, from a
shell that has none of it (no DEBUG, no SECRET_KEY), as the README shows."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "ARENA_VAR_DIR": str(tmp_path / "var")}
    for name in ("PYTHONPATH", "ARENA_TEST_CLOCK", "ARENA_TEST_CLOCK_OFFSET"):  # the test session's clock
        if name in os.environ:
            env[name] = os.environ[name]
    return subprocess.run([str(ROOT / "bin" / "manage"), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)


def test_bin_manage_runs_commands_with_bin_runs_environment(tmp_path):
    bare = subprocess.run(["python3", str(ROOT / "manage.py"), "check"], cwd=tmp_path, capture_output=True,
                          text=True, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, timeout=120)
    assert bare.returncode != 0, "without bin/manage the settings refuse to start"

    migrated = manage(tmp_path, "migrate", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    audited = manage(tmp_path, "audit_ledger")
    assert audited.returncode == 0, audited.stderr
    assert "ledger clean" in audited.stdout

    key = tmp_path / "var" / "secret_key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) >= 50
    assert (tmp_path / "var" / "arena.sqlite3").exists(), "the same database bin/run uses"
    first_key = key.read_text()
    again = manage(tmp_path, "audit_ledger")
    assert again.returncode == 0 and key.read_text() == first_key, "the key is kept, not remade"


def test_bin_manage_reports_a_bad_command_clearly(tmp_path):
    done = manage(tmp_path, "no_such_command")
    assert done.returncode != 0 and "Unknown command: 'no_such_command'" in done.stderr
