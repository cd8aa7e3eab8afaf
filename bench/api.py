"""Benchmark of the REST API at two history sizes (bench/history.py), in the same run.

20 bots (10 owners × 2) over 60 days: first a small history — 10k snapshots, 10k trades
and 10k decisions (``--quick``: 2k each) — then the same bots over the same days grown
100× (``--quick``: 10×) to 1M snapshots, 1M trades and 1M decisions (``--quick``: 20k),
with the leaderboard rollups (``ledger.BotDay``) recomputed. Bots × days, what the
leaderboard reads, is the same at both sizes; only the rows per day grow.

Measured at both sizes: the public leaderboard for each period (day, week, month, all;
anonymous, as a spectator reads it), one bot's risk metrics (its owner's token) and a
comparison of 10 bots over the last 7 days at 1h (an arena admin's token: an owner has two
bots). At the large size also the bot list, a filtered trades page and a decisions page of
one bot (the owner's token). For each page: p50 / p95 / p99 latency, SQL statements and
bytes per request, the full (generation 2) garbage collections during its timed requests
(the objects alive before a page's requests are frozen out of the collector first, as in a
server after start-up, so a collection walks the requests' garbage only); and the large/small p95
ratio of the pages measured at both sizes: a page that reads rollups or index seeks should
stay under 2×. Target: p95 < 50 ms each.
Requests go through the whole Django stack in-process (middleware, token authentication,
DRF, JSON rendering). A route that does not resolve yet is reported as missing.

Runs on a new SQLite file, or with a postgres:// ``DATABASE_URL`` on a scratch database
beside the named one, dropped at the end (bench/djangoenv.py). ``--verify`` also audits the
journal of one bot (``manage.py audit_ledger``) and checks its rollups equal a rebuild from
its rows, at each size. The last line printed is one JSON object.

    python bench/api.py --quick          # about a minute
    python bench/api.py                  # the full sizes: about 11 minutes on SQLite
"""
from __future__ import annotations

import argparse
import gc
import io
import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import djangoenv  # noqa: E402  (bench/djangoenv.py, beside this file)
import history  # noqa: E402

TARGET_P95_MS = 50
RATIO_LIMIT = 2
OWNERS, BOTS_PER_OWNER, DAYS = 10, 2, 60
SMALL, SMALL_QUICK = 10_000, 2_000
GROWTH, GROWTH_QUICK = 100, 10
PERIODS = ("day", "week", "month", "all")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def routed(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path.split("?", 1)[0])
    except Resolver404:
        return False
    return match.url_name != "api-not-found"  # the JSON 404 of every other path under /api/


def measure(client, path: str, requests: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):  # warm-up: caches, prepared plans, the page cache
        response = client.get(path, secure=True)
        assert response.status_code == 200, (path, response.status_code, response.content[:500])
    gc.collect()  # start clean: the load's and the previous page's garbage is not this page's
    # What survives (the loaded history's objects, Django's caches) is frozen out of the
    # collector, as in a server process after start-up (gc.freeze): otherwise each full
    # collection walks the bench's own millions of loader objects and its pause is the bench's.
    gc.freeze()
    timings = []
    full_collections = gc.get_stats()[2]["collections"]
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path, secure=True)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    full_collections = gc.get_stats()[2]["collections"] - full_collections
    with CaptureQueriesContext(connection) as queries:
        body = client.get(path, secure=True).content
    return {"p50_ms": round(statistics.median(timings), 2), "p95_ms": round(percentile(timings, 0.95), 2),
            "p99_ms": round(percentile(timings, 0.99), 2), "queries": len(queries), "bytes": len(body),
            "gc_full": full_collections}


def clients(bots: list[int], owners: list[int], now) -> dict:
    """The readers: a spectator, the first bot's owner and an arena admin (the comparison's
    ten bots are five owners')."""
    from django.test import Client

    from arena.accounts import token_create
    from arena.models import User

    admin = User.objects.create_user(username="bench-admin", password="bench-admin-pass-123",
                                     role=User.Role.ADMIN)
    out = {"public": Client(HTTP_HOST="localhost")}
    for name, user in (("owner", User.objects.get(pk=owners[0])), ("admin", admin)):
        _, token = token_create(user=user, name="bench", now=now)
        out[name] = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="localhost")
    return out


def pages_of(bots: list[int], now, *, large: bool) -> dict[str, tuple[str, str]]:
    """Each page measured at a size: its name -> (reader, path)."""
    week = urlencode({"bots": ",".join(map(str, bots[:10])),
                      "from": (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                      "to": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "interval": "1h"})
    pages = {f"leaderboard_{p}": ("public", f"/api/leaderboard/?period={p}") for p in PERIODS}
    pages["risk_metrics"] = ("owner", f"/api/analytics/bots/{bots[0]}/risk-metrics/")
    pages["comparison_10"] = ("admin", f"/api/analytics/comparison/?{week}")
    if large:
        pages |= {
            "bot_list": ("owner", "/api/bots/"),
            "trades_filtered": ("owner",
                                f"/api/bots/{bots[0]}/trades/?symbol=ETHUSDT&kind=CLOSE&page_size=100"),
            "decisions_page": ("owner", f"/api/bots/{bots[0]}/decisions/?page_size=50"),
        }
    return pages


def measure_all(readers: dict, pages: dict[str, tuple[str, str]], requests: int, label: str) -> dict:
    results = {}
    for name, (reader, path) in pages.items():
        if not routed(path):
            results[name] = {"missing": True, "path": path}
            print(f"{label:5} {name:17} missing: {path.split('?')[0]} does not resolve", flush=True)
            continue
        r = results[name] = measure(readers[reader], path, requests) | {"path": path}
        print(f"{label:5} {name:17} p50 {r['p50_ms']:7.2f} ms  p95 {r['p95_ms']:7.2f} ms  "
              f"p99 {r['p99_ms']:7.2f} ms  {r['queries']:3} SQL  {r['bytes']:>9,} bytes  "
              f"{r['gc_full']:2} full GC   {path}", flush=True)
    return results


def verified(bot_id: int) -> dict:
    """The audit and the rollups check of one bot (``--verify``)."""
    import botdays
    from django.core.management import call_command

    out = io.StringIO()
    try:
        call_command("audit_ledger", bot=bot_id, stdout=out)
        audit = out.getvalue().strip()
    except SystemExit:
        audit = "violations: " + out.getvalue().strip()
    differences = botdays.rebuild_differences(bot_id)
    print(f"verify: {audit}; rollups {'equal a rebuild' if not differences else 'DIFFER from a rebuild'}",
          flush=True)
    for line in differences[:20]:
        print(f"  {line}", flush=True)
    return {"audit_clean": audit.startswith("ledger clean"), "rollups_equal_rebuild": not differences}


def load(step, label: str) -> dict:
    started = time.perf_counter()
    built = step()
    history.settle()
    seconds = round(time.perf_counter() - started, 1)
    s = built.summary()
    print(f"{label} history: {s['snapshots']:,} snapshots, {s['trades']:,} trades, "
          f"{s['decisions']:,} decisions, {s['entries']:,} journal entries, {s['bot_days']:,} bot-days, "
          f"{len(s['bots'])} bots of {s['owners']} owners over {DAYS} days, loaded in {seconds:.1f}s",
          flush=True)
    return {k: v for k, v in s.items() if k != "bots"} | {"load_s": seconds}


def run(*, quick: bool, vendor: str, verify: bool) -> dict:
    from django.utils import timezone

    small = SMALL_QUICK if quick else SMALL
    growth = GROWTH_QUICK if quick else GROWTH
    shape = history.Shape(owners=OWNERS, bots_per_owner=BOTS_PER_OWNER, days=DAYS, trades=small,
                          decisions=small, snapshots=small)
    now = timezone.now()
    built = history.History(shape, now=now)
    sizes, pages, checks = {}, {}, {}
    sizes["small"] = load(built.build, "small")
    readers = clients(built.bots, built.owners, now)
    requests = 60 if quick else 200
    if verify:
        checks["small"] = verified(built.bots[0])
    pages["small"] = measure_all(readers, pages_of(built.bots, now, large=False), requests, "small")
    sizes["large"] = load(lambda: built.grow(growth), "large")
    if verify:
        checks["large"] = verified(built.bots[0])
    pages["large"] = measure_all(readers, pages_of(built.bots, now, large=True), requests, "large")

    ratios = {name: round(pages["large"][name]["p95_ms"] / r["p95_ms"], 2)
              for name, r in pages["small"].items() if "p95_ms" in r and "p95_ms" in pages["large"][name]}
    for name, ratio in ratios.items():
        print(f"ratio {name:17} large/small p95 {ratio:5.2f}x", flush=True)
    measured = [r for size in pages.values() for r in size.values() if "p95_ms" in r]
    missing = sorted({name for size in pages.values() for name, r in size.items() if r.get("missing")})
    return {
        "benchmark": "api", "database": vendor, "quick": quick, "bots": len(built.bots), "days": DAYS,
        "growth": growth, "sizes": sizes, "requests_per_page": requests, "target_p95_ms": TARGET_P95_MS,
        "pages": pages, "p95_ratio_large_to_small": ratios,
        "ratio_under_2": bool(ratios) and all(r < RATIO_LIMIT for r in ratios.values()),
        "all_under_target": bool(measured) and not missing
                            and all(r["p95_ms"] < TARGET_P95_MS for r in measured),
        "missing": missing, **({"verify": checks} if verify else {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{SMALL_QUICK:,} rows grown {GROWTH_QUICK}x "
                                                             "(about a minute)")
    parser.add_argument("--verify", action="store_true",
                        help="audit one bot's journal and check its rollups equal a rebuild, at each size")
    args = parser.parse_args()
    with djangoenv.scratch_django(prefix="arena-bench-api-") as vendor:
        print(json.dumps(run(quick=args.quick, vendor=vendor, verify=args.verify)))


if __name__ == "__main__":
    main()
