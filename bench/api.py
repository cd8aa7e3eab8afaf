"""Benchmark of the REST API on a large history (bench/history.py).

p50 / p95 / p99 latency and SQL statements per request of the pages people and scripts
read most: the bot list, a filtered trades page and a decisions page of one bot, with
1M trades and 1M decisions in the database (``--quick``: 20k each, for CI). Requests go
through the whole Django stack in-process (middleware, token authentication, DRF, JSON
rendering), as a script with an API token sends them. Target: p95 < 50 ms each.

Runs on a new SQLite file, or with a postgres:// ``DATABASE_URL`` on a scratch database
beside the named one, dropped at the end (bench/djangoenv.py). The last line printed is
one JSON object.

    python bench/api.py --quick
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import djangoenv  # noqa: E402  (bench/djangoenv.py, beside this file)
import history  # noqa: E402

TARGET_P95_MS = 50


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(client, path: str, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):  # warm-up: caches, prepared plans, the page cache
        assert client.get(path, secure=True).status_code == 200, path
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, secure=True)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(path, secure=True).content
    return {"p50_ms": round(statistics.median(timings), 2), "p95_ms": round(percentile(timings, 0.95), 2),
            "p99_ms": round(percentile(timings, 0.99), 2), "queries": len(queries), "bytes": len(body)}


def run(*, quick: bool, vendor: str) -> dict:
    from django.test import Client
    from django.utils import timezone

    from arena.accounts import token_create
    from arena.models import User

    size = 20_000 if quick else 1_000_000
    shape = history.Shape(owners=10, bots_per_owner=2, trades=size, decisions=size, snapshots=size // 2)
    started = time.perf_counter()
    built = history.history_build(shape, now=timezone.now())
    history.settle()
    print(f"history: {built['trades']:,} trades, {built['decisions']:,} decisions, {built['entries']:,} "
          f"journal entries, {built['snapshots']:,} snapshots, {len(built['bots'])} bots of {shape.owners} "
          f"owners, loaded in {time.perf_counter() - started:.1f}s", flush=True)

    owner = User.objects.get(username="owner0")
    _, token = token_create(user=owner, name="bench", now=timezone.now())
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="localhost")
    bot = built["bots"][0]
    pages = {
        "bot_list": "/api/bots/",
        "trades_filtered": f"/api/bots/{bot}/trades/?symbol=ETHUSDT&kind=CLOSE&page_size=100",
        "decisions_page": f"/api/bots/{bot}/decisions/?page_size=50",
    }
    requests = 60 if quick else 200
    results = {}
    for name, path in pages.items():
        results[name] = measure(client, path, requests)
        r = results[name]
        print(f"{name:16} p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
              f"{r['queries']} SQL  {r['bytes']:,} bytes   {path}", flush=True)
    return {
        "benchmark": "api", "database": vendor, "quick": quick, "trades": built["trades"],
        "decisions": built["decisions"], "requests_per_page": requests, "target_p95_ms": TARGET_P95_MS,
        "pages": results, "all_under_target": all(r["p95_ms"] < TARGET_P95_MS for r in results.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k trades and decisions (about a minute)")
    args = parser.parse_args()
    with djangoenv.scratch_django(prefix="arena-bench-api-") as vendor:
        print(json.dumps(run(quick=args.quick, vendor=vendor)))


if __name__ == "__main__":
    main()
