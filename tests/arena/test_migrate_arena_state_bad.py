"""``migrate_arena_state`` on bad input: one paragraph naming the file and the record,
a non-zero exit, no traceback, and nothing written."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management.base import CommandError

from tests.arena.legacy_factory import LegacyArena, LegacyBot, row_counts, run_import

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)


def two_bots() -> tuple[LegacyArena, LegacyBot, LegacyBot]:
    legacy = LegacyArena()
    alice = legacy.user("alice")
    gemini = legacy.provider(alice)
    first = legacy.bot("bot_a", alice, gemini)
    second = legacy.bot("bot_b", alice, gemini)
    for bot in (first, second):
        position_id = bot.open("BTCUSDT", "LONG", 500, 10, 60000, minute=0)
        bot.close(position_id, 61000, minute=30)
        bot.decide(1, [])
        bot.snapshot(2)
    return legacy, first, second


def fails(path: Path, pattern: str, *args: str) -> str:
    """Runs the import, expecting a refusal that names ``path`` and matches ``pattern``."""
    before = row_counts()
    with pytest.raises(CommandError) as refused:
        run_import(path, *args)
    message = str(refused.value)
    assert str(path) in message and "\n" not in message
    assert pytest.importorskip("re").search(pattern, message), message
    assert row_counts() == before, "a refused import wrote something"
    return message


def test_a_missing_file(tmp_path: Path) -> None:
    fails(tmp_path / "nowhere.db", r"nowhere\.db: no such file")


def test_a_file_that_is_neither_sqlite_nor_json(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    fails(path, "is neither a legacy SQLite database .* nor a JSON file")
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    fails(listing, "is neither")


def test_sqlite_that_is_not_the_legacy_arena(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    fails(path, "is SQLite but not a legacy arena database")


def test_a_corrupt_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 600)
    fails(path, "cannot be read")


@pytest.mark.parametrize("container", ["json", "sqlite"])
def test_a_truncated_blob_after_a_bot_was_imported(tmp_path: Path, container: str, django_user_model) -> None:
    django_user_model.objects.create_user(username="carol", password="c-123456789")
    legacy, _, _ = two_bots()
    text = legacy.state_json()
    cut = text[: text.index('"bot_b"') + 200]  # the first bot is whole, the second cut off
    if container == "json":
        path = tmp_path / "state.json"
        path.write_text(cut)
    else:
        path = legacy.write_db(tmp_path / "arena.db")
        import sqlite3

        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE arena_state SET state = ?", (cut,))
    fails(path, r"the arena_state blob after bots\[0\]: is not complete, valid JSON", "--owner", "carol")


def _break(change: Callable[[LegacyArena, LegacyBot], None]) -> Callable[[LegacyArena, LegacyBot], None]:
    return change


BROKEN = {
    "a size that is text": (
        lambda legacy, bot: bot.blob["orders"][0].update(size="abc"),
        r"arena_state blob, bots\[1\] \(id 'bot_b'\) orders\[0\] \(id 'order_\w+'\): size must be a number, "
        r"got 'abc'"),
    "orders that are not a list": (
        lambda legacy, bot: bot.blob.update(orders={"a": 1}),
        r"bots\[1\] \(id 'bot_b'\): orders must be a JSON list"),
    "a leverage of zero": (
        lambda legacy, bot: legacy.trades[-1].update(leverage=0),
        r"table trades, bot 'bot_b' id 'order_\w+': leverage must be a whole number from 1 to 200, got 0"),
    "a negative entry price": (
        lambda legacy, bot: legacy.positions[-1].update(entry_price=-5),
        r"table positions, bot 'bot_b' id 'pos_\w+': entry_price must be positive, got -5"),
    "a win rate above one": (
        lambda legacy, bot: legacy.snapshots[-1].update(win_rate=1.5),
        r"table bot_state_snapshots, bot 'bot_b' id 2: win_rate must be between 0 and 1, got 1.5"),
    "a time in the year 2500": (
        lambda legacy, bot: bot.blob["botLogs"][0].update(timestamp=16725225600000),
        r"bots\[1\] \(id 'bot_b'\) botLogs\[0\]: timestamp 2500-01-01T00:00:00\+00:00 is not a plausible "
        r"time"),
    "decisions that are not JSON": (
        lambda legacy, bot: legacy.decisions[-1].update(decisions_json="[{"),
        r"table bot_decisions, bot 'bot_b' id 2: decisions_json is not valid JSON"),
    "a trade whose table row disagrees with the blob": (
        lambda legacy, bot: legacy.trades[-1].update(size=999),
        r"table trades, bot 'bot_b' id 'order_\w+': conflicts with the blob's record of the same trade "
        r"\(arena_state blob, bots\[1\] \(id 'bot_b'\) orders\[0\] \(id 'order_\w+'\)\): size 999 here but "
        r"500 in the blob"),
    "a position whose table row disagrees with the blob": (
        lambda legacy, bot: (bot.open("ETHUSDT", "SHORT", 100, 2, 3000, minute=40),
                             legacy.positions[-1].update(entry_price=3100)),
        r"table positions, bot 'bot_b' id 'pos_\w+': conflicts with the blob's record of the same position "
        r".*entry_price 3100 here but 3000 in the blob"),
    "an unknown provider type": (
        lambda legacy, bot: legacy.providers[0].update(provider_type="cohere"),
        r"table llm_providers id '1': provider_type 'cohere' is not one of"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_bad_records_name_the_file_and_the_record(tmp_path: Path, case: str) -> None:
    legacy, _, second = two_bots()
    change, pattern = BROKEN[case]
    change(legacy, second)
    fails(legacy.write_db(tmp_path / "arena.db"), pattern)


def test_the_same_bad_record_in_a_json_blob(tmp_path: Path, django_user_model) -> None:
    django_user_model.objects.create_user(username="carol", password="c-123456789")
    legacy, _, second = two_bots()
    second.blob["portfolio"]["positions"] = [{"id": "pos_1_a", "symbol": "BTC/USDT"}]
    fails(legacy.write_json(tmp_path / "state.json"),
          r"state\.json, arena_state blob, bots\[1\] \(id 'bot_b'\) portfolio\.positions\[0\] "
          r"\(id 'pos_1_a'\): "
          r"symbol must be a symbol such as BTCUSDT, got 'BTC/USDT'", "--owner", "carol")


def test_the_command_line_prints_one_paragraph_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"bots": [{"id": "bot_x", "name": ')
    env = {**os.environ, "DEBUG": "1", "ARENA_VAR_DIR": str(tmp_path / "var"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "arena.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True,
                   timeout=300)
    done = subprocess.run([sys.executable, "manage.py", "migrate_arena_state", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(f"CommandError: {path}, the arena_state blob: is not complete, valid JSON")
    assert done.stderr.count("\n") == 1


def test_a_quantity_no_position_can_hold(tmp_path: Path) -> None:
    legacy, _, second = two_bots()
    position_id = second.open("PEPEUSDT", "LONG", 900000, 200, 1e-9, minute=50, table=False)
    assert position_id
    fails(legacy.write_db(tmp_path / "arena.db"),
          r"portfolio\.positions\[0\] \(id 'pos_\w+'\): its quantity \(size x leverage / entry price\) is "
          r"1\.8e\+17, beyond what a position can hold")


def test_a_json_file_that_is_not_the_blob(tmp_path: Path) -> None:
    path = tmp_path / "row.json"
    path.write_text('{"id": 1, "state": "{}", "updated_at": 0}')
    fails(path, r'row\.json: holds no bots: expected the arena_state blob, \{"bots": \[\.\.\.\]')


def test_a_blob_that_is_not_utf8(tmp_path: Path, django_user_model) -> None:
    django_user_model.objects.create_user(username="carol", password="c-123456789")
    path = tmp_path / "state.json"
    path.write_bytes(b'{"bots": [{"id": "b\xff\xfe", "name": 1}]}')
    fails(path, r"the arena_state blob: is not complete, valid JSON \(truncated or corrupt: lexical error: "
                r"invalid bytes in UTF8 string\.\)", "--owner", "carol")
