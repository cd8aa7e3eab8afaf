"""Benchmark of a trading turn's wall time against the number of bots.

Every bot has its own ``openai`` provider pointing at a local fake model server
(``tests.arena.fake_llm``) that answers after a fixed latency (0.5 s by default).
For 1, 5, 10, 20, 50 and 100 bots (``--quick``: 1, 5, 20) it times ``turn_run``
as it is — every bot's model call in flight at once — and, in the same run, the
same turn with the model calls made one after another (the turn's call phase
replaced by a sequential loop over the same ``converse``; prompts, parsing and the
per-bot transactions are unchanged). The replies hold, so the figures are the
turn's own cost: prompts, HTTP, parsing and one Decision per bot.

Runs against a fresh SQLite file in a temporary directory (or the scratch
database in BENCH_DATABASE_URL). The last line printed is one JSON object.

    python bench/turns.py --quick
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import djangoenv  # noqa: E402  (bench/djangoenv.py, beside this file)

NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)


def make_bots(count: int, fake, owner, start: int) -> list:
    from tests.arena.fake_llm import openai_bot

    return [openai_bot(owner=owner, fake=fake, model=f"bench-{i}", name=f"bench {i}")
            for i in range(start, start + count)]


async def sequential_calls(jobs, transport, lease):
    """The turn's call phase with a concurrency of one: each bot waits for the previous
    (so slow that the lease is renewed before each call)."""
    import httpx
    from asgiref.sync import sync_to_async

    from arena.turns.converse import converse

    async with httpx.AsyncClient(transport=transport) as client:
        calls = []
        for job in jobs:
            await sync_to_async(lease.renew)()
            calls.append(await converse(job, client))
        return calls


def timed_turn(bot_ids: list[int], *, sequential: bool) -> float:
    from arena.turns import run

    concurrent_calls = run._call_all
    if sequential:
        run._call_all = sequential_calls
    try:
        started = time.perf_counter()
        report = run.turn_run(bot_ids=bot_ids, now=NOW)
        elapsed = time.perf_counter() - started
    finally:
        run._call_all = concurrent_calls
    decided = [o for o in report.outcomes if o.decision_id and not o.error]
    assert len(decided) == len(bot_ids), [o.error or o.skipped for o in report.outcomes][:3]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1, 5 and 20 bots only (under a minute)")
    parser.add_argument("--latency", type=float, default=0.5, help="the fake model's answer time, seconds")
    args = parser.parse_args()
    djangoenv.setup_django(os.environ.get("BENCH_DATABASE_URL"), prefix="arena-bench-turns-")
    from django.db import connection

    from arena.models import User
    from tests.arena.fake_llm import FakeLLM, Reply
    from trading.feeds.simulated import SimulatedFeed
    from trading.services.market import market_refresh_and_trigger

    sizes = [1, 5, 20] if args.quick else [1, 5, 10, 20, 50, 100]
    market_refresh_and_trigger(feed=SimulatedFeed(seed="bench", clock=lambda: NOW), now=NOW)
    owner, _ = User.objects.get_or_create(username="bench-turns")
    concurrent, sequential = [], []
    with FakeLLM(default=Reply(text="[]", delay=args.latency)) as fake:
        bots = make_bots(max(sizes), fake, owner, 0)
        timed_turn([bots[0].pk], sequential=False)  # warm up: candles, connections, imports
        print(f"fake model latency {args.latency:g} s, {connection.vendor}", flush=True)
        print(f"{'bots':>5} {'concurrent s':>13} {'sequential s':>13} {'speedup':>8} {'ideal seq s':>12}",
              flush=True)
        for size in sizes:
            ids = [bot.pk for bot in bots[:size]]
            concurrent.append(timed_turn(ids, sequential=False))
            sequential.append(timed_turn(ids, sequential=True))
            print(f"{size:>5} {concurrent[-1]:>13.2f} {sequential[-1]:>13.2f} "
                  f"{sequential[-1] / concurrent[-1]:>7.1f}x {size * args.latency:>12.1f}", flush=True)
        requests = len(fake.requests)
        peak = fake.max_in_flight

    speedups = [round(s / c, 2) for c, s in zip(concurrent, sequential, strict=True)]
    print(json.dumps({
        "benchmark": "turns",
        "database": connection.vendor,
        "quick": args.quick,
        "latency_s": args.latency,
        "bots": sizes,
        "concurrent_s": [round(value, 3) for value in concurrent],
        "sequential_s": [round(value, 3) for value in sequential],
        "speedup": speedups,
        "speedup_at_100": speedups[sizes.index(100)] if 100 in sizes else None,
        "speedup_at_max": speedups[-1],
        "model_requests": requests,
        "peak_concurrent_requests": peak,
    }))


if __name__ == "__main__":
    main()
