"""``migrate_arena_state``: the legacy configuration — users (with their old passwords),
providers, bots, avatars, learning summaries, wallets, arena settings and owners."""
from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import authenticate as django_authenticate
from django.core.management.base import CommandError
from django.test import RequestFactory

from arena.models import ArenaSettings, User
from bots.models import Bot, LLMProvider
from tests.arena.legacy_factory import LegacyArena, row_counts, run_import
from trading.models import Wallet


def authenticate(**credentials):
    """A login as the site makes it: with its request (django-axes counts failures by it)."""
    return django_authenticate(RequestFactory().post("/admin/login/"), **credentials)


pytestmark = pytest.mark.django_db

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def simple_arena() -> tuple[LegacyArena, dict, dict]:
    legacy = LegacyArena()
    alice = legacy.user("alice", password="alice-old-password", role="admin")
    gemini = legacy.provider(alice)
    legacy.bot("bot_a", alice, gemini, name="Alpha")
    return legacy, alice, gemini


def test_users_keep_their_bcrypt_passwords_and_roles(tmp_path: Path) -> None:
    legacy, _, _ = simple_arena()
    legacy.user("bob", password="bob-old-password", active=False)
    run_import(legacy.write_db(tmp_path / "arena.db"))

    alice = User.objects.get(username="alice")
    assert (alice.role, alice.email, alice.is_active) == ("admin", "alice@example.org", True)
    assert alice.password.startswith("bcrypt$$2b$")
    assert authenticate(username="alice", password="alice-old-password") == alice
    assert authenticate(username="alice", password="wrong") is None
    bob = User.objects.get(username="bob")
    assert (bob.role, bob.is_active, bob.legacy_id) == ("user", False, legacy.users[1]["id"])


def test_a_2a_hash_from_node_bcrypt_verifies_too(tmp_path: Path) -> None:
    legacy = LegacyArena()
    node_style = "$2a$" + legacy.user("carol", password="carol-pass-9")["password_hash"][4:]
    legacy.users[0]["password_hash"] = node_style
    run_import(legacy.write_db(tmp_path / "arena.db"))
    assert authenticate(username="carol", password="carol-pass-9") == User.objects.get(username="carol")


def test_an_invalid_hash_makes_the_password_unusable_and_is_reported(tmp_path: Path) -> None:
    legacy = LegacyArena()
    legacy.user("dave", password_hash="$2b$12$2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af7")
    out = run_import(legacy.write_db(tmp_path / "arena.db"))
    dave = User.objects.get(username="dave")
    assert not dave.has_usable_password()
    assert authenticate(username="dave", password="anything") is None  # refused, not an exception
    assert "dave: the legacy password hash is not a valid bcrypt hash" in out


def test_a_username_taken_by_someone_else_stops_the_import(tmp_path: Path, django_user_model) -> None:
    django_user_model.objects.create_user(username="alice", password="x-123456789")
    legacy, _, _ = simple_arena()
    before = row_counts()
    with pytest.raises(CommandError, match=r"arena\.db, table users id '0+1': username 'alice' already"):
        run_import(legacy.write_db(tmp_path / "arena.db"))
    assert row_counts() == before


@pytest.mark.parametrize(("legacy_type", "endpoint", "kind", "base_url"), [
    ("gemini", "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent",
     "gemini", "https://generativelanguage.googleapis.com/v1beta"),
    ("grok", "https://api.x.ai/v1/chat/completions", "openai", "https://api.x.ai/v1"),
    ("local", "http://localhost:11434", "openai", "http://localhost:11434/v1"),
    ("custom", "https://openrouter.ai/api/v1/chat/completions", "openai", "https://openrouter.ai/api/v1"),
    ("openai", "https://api.openai.com/v1/chat/completions", "openai", "https://api.openai.com/v1"),
    ("anthropic", "https://api.anthropic.com/v1/messages", "anthropic", "https://api.anthropic.com"),
])
def test_providers_are_mapped_and_their_urls_normalised(
    tmp_path: Path, legacy_type: str, endpoint: str, kind: str, base_url: str
) -> None:
    legacy = LegacyArena()
    alice = legacy.user("alice")
    legacy.provider(alice, name="P", type=legacy_type, endpoint=endpoint, model="m-1")
    out = run_import(legacy.write_db(tmp_path / "arena.db"))

    provider = LLMProvider.objects.get(legacy_id="1")
    assert (provider.kind, provider.base_url, provider.model) == (kind, base_url, "m-1")
    assert provider.options == {"temperature": 0.7}
    provider.full_clean()  # our own base URL rules accept it
    # The key was encrypted with the legacy server's key: it arrives empty, flagged, reported.
    assert provider.api_key == "" and provider.key_needs_reentry
    assert "provider 'P' of alice: the API key was encrypted" in out
    # Held to the outbound rules like a URL typed in: a local model server is refused while
    # the arena calls public hosts only, and the report says so (the provider is kept).
    refused = f"provider 'P' of alice: {base_url}: {base_url.split('/')[2].split(':')[0]} resolves to"
    assert (refused in out) == (legacy_type == "local"), out


def test_a_gemini_model_is_read_from_its_endpoint_when_model_name_is_empty(tmp_path: Path) -> None:
    legacy = LegacyArena()
    legacy.provider(legacy.user("alice"), model=None,
                    endpoint="https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent")
    run_import(legacy.write_db(tmp_path / "arena.db"))
    assert LLMProvider.objects.get().model == "gemini-pro"


def test_bots_keep_their_configuration(tmp_path: Path) -> None:
    legacy = LegacyArena()
    alice = legacy.user("alice")
    gemini = legacy.provider(alice)
    legacy.bot("bot_a", alice, gemini, name="Alpha", paused=True, trading_symbols='["BTCUSDT", "ETHUSDT"]')
    legacy.bot("bot_gone", alice, gemini, name="Gone", active=False)
    run_import(legacy.write_db(tmp_path / "arena.db"))

    alpha = Bot.objects.get(legacy_id="bot_a")
    assert (alpha.name, alpha.owner.username, alpha.mode, alpha.is_paused, alpha.is_active) == (
        "Alpha", "alice", "paper", True, True)
    assert alpha.prompt == "You are bot_a. {{marketData}}"
    assert alpha.symbols == ["BTCUSDT", "ETHUSDT"]
    assert alpha.provider.legacy_id == "1" and alpha.initial_balance == Decimal("10000")
    gone = Bot.objects.get(legacy_id="bot_gone")
    assert not gone.is_active  # soft-deleted: kept, with its history, but never trades


def test_a_data_url_avatar_becomes_a_content_named_file(tmp_path: Path, media: Path) -> None:
    legacy, _, _ = simple_arena()
    legacy.bot_rows[0]["avatar_image"] = "data:image/png;base64," + base64.b64encode(PNG).decode()
    run_import(legacy.write_db(tmp_path / "arena.db"))

    bot = Bot.objects.get(legacy_id="bot_a")
    digest = hashlib.sha256(PNG).hexdigest()[:32]
    assert bot.avatar.name == f"avatars/{digest}.png"
    assert (media / "avatars" / f"{digest}.png").read_bytes() == PNG


def test_an_avatar_over_the_limit_is_a_clear_error_and_nothing_is_written(
    tmp_path: Path, media: Path
) -> None:
    legacy, _, _ = simple_arena()
    legacy.bot_rows[0]["avatar_image"] = "data:image/png;base64," + base64.b64encode(b"x" * 3000).decode()
    before = row_counts()
    with pytest.raises(CommandError, match=r"table bots id 'bot_a': the avatar image is about 3,000 bytes, "
                                           r"over the 1,000-byte limit"):
        run_import(legacy.write_db(tmp_path / "arena.db"), "--avatar-limit", "1000")
    assert row_counts() == before
    assert not (media / "avatars").exists() or not any((media / "avatars").iterdir())


def test_avatar_files_are_removed_when_the_import_fails_later(tmp_path: Path, media: Path) -> None:
    legacy, alice, gemini = simple_arena()
    legacy.bot_rows[0]["avatar_image"] = "data:image/png;base64," + base64.b64encode(PNG).decode()
    later = legacy.bot("bot_b", alice, gemini, blob=False)  # imported after bot_a, from the tables
    later.open("BTCUSDT", "LONG", 100, 5, 60000, minute=1)
    legacy.trades[-1]["leverage"] = 0  # refused once bot_a and its avatar file are written
    with pytest.raises(CommandError, match="leverage must be a whole number from 1 to 200, got 0"):
        run_import(legacy.write_db(tmp_path / "arena.db"))
    assert (media / "avatars").is_dir() and not any((media / "avatars").iterdir())


def test_a_link_avatar_is_reported_not_fetched(tmp_path: Path) -> None:
    legacy, _, _ = simple_arena()
    legacy.blob_bots[0]["avatarUrl"] = "https://example.org/a.png"
    out = run_import(legacy.write_db(tmp_path / "arena.db"))
    assert Bot.objects.get().avatar.name == ""
    assert "bot_a: the avatar is a link (https://example.org/a.png), not fetched" in out


def test_the_learning_summary_is_carried_over(tmp_path: Path) -> None:
    legacy, _, _ = simple_arena()
    legacy.bot_rows[0]["history_summary"] = (
        '{"summary": "Mercury retrograde ruins my longs.", "summarizedCount": 25, '
        '"summarizedFrom": "2025-11-01T00:00:00.000Z", "summarizedTo": "2025-11-02T00:00:00.000Z", '
        '"generatedAt": "2025-11-02T00:00:00.000Z", "tokenCount": 14}')
    run_import(legacy.write_db(tmp_path / "arena.db"))
    summary = apps.get_model("bots", "LearningSummary").objects.get()
    assert summary.summary == "Mercury retrograde ruins my longs."
    assert (summary.decisions_count, summary.token_count) == (25, 14)
    assert summary.covers_to.isoformat() == "2025-11-02T00:00:00+00:00"


def test_wallets_arrive_without_keys(tmp_path: Path) -> None:
    legacy, alice, _ = simple_arena()
    bot = legacy.bot("bot_live", alice, legacy.providers[0], mode="real", balance=950)
    legacy.wallet(alice, bot, exchange="asterdex")
    out = run_import(legacy.write_db(tmp_path / "arena.db"))

    wallet = Wallet.objects.get(legacy_id="1")
    assert (wallet.exchange, wallet.bot.legacy_id, wallet.owner.username) == ("aster", "bot_live", "alice")
    assert wallet.api_key == "" and wallet.api_secret == "" and wallet.key_needs_reentry
    assert "wallet 1 (asterdex) of alice" in out
    real = Bot.objects.get(legacy_id="bot_live")
    assert real.mode == "real" and real.is_paused  # no keys: it cannot trade until they are re-entered


def test_settings_map_to_arena_settings_and_unknown_keys_are_listed(tmp_path: Path) -> None:
    legacy, _, _ = simple_arena()
    legacy.settings.update({
        "paper_bot_initial_balance": ("5000", "number"), "turn_interval_ms": ("600000", "number"),
        "symbol_cooldown_ms": ("3600000", "number"), "minimum_trade_size_usd": ("25", "number"),
        "trading_symbols": ('["BTCUSDT", "SOLUSDT"]', "json"), "broadcast_password": ("hunter2", "string"),
    })
    out = run_import(legacy.write_db(tmp_path / "arena.db"))

    arena = ArenaSettings.load()
    assert arena.paper_initial_balance == Decimal("5000")
    assert (arena.turn_interval_seconds, arena.cooldown_minutes) == (600, 60)
    assert arena.min_trade_usdt == Decimal("25") and arena.default_symbols == ["BTCUSDT", "SOLUSDT"]
    assert "broadcast_password = <redacted, 7 characters>" in out.split("Unknown settings (not imported):")[1]


def test_a_bot_without_a_known_owner_needs_owner(tmp_path: Path, django_user_model) -> None:
    legacy = LegacyArena()
    gemini = legacy.provider(None)
    legacy.bot("bot_orphan", None, gemini)
    path = legacy.write_db(tmp_path / "arena.db")
    with pytest.raises(CommandError, match=r"table llm_providers id '1': the owner of this provider is "
                                           r"unknown .*pass --owner USERNAME"):
        run_import(path)
    carol = django_user_model.objects.create_user(username="carol", password="c-123456789")
    run_import(path, "--owner", "carol")
    assert Bot.objects.get(legacy_id="bot_orphan").owner == carol


def test_an_unknown_owner_name_is_refused(tmp_path: Path) -> None:
    legacy, _, _ = simple_arena()
    with pytest.raises(CommandError, match="--owner, user 'nobody': there is no such user"):
        run_import(legacy.write_db(tmp_path / "arena.db"), "--owner", "nobody")


def test_a_json_blob_alone_imports_bots_for_the_owner(tmp_path: Path, django_user_model) -> None:
    legacy, _, _ = simple_arena()
    carol = django_user_model.objects.create_user(username="carol", password="c-123456789")
    out = run_import(legacy.write_json(tmp_path / "state.json"), "--owner", "carol")
    bot = Bot.objects.get(legacy_id="bot_a")
    assert bot.owner == carol and bot.provider.kind == "gemini" and bot.provider.key_needs_reentry
    assert "known only from bot bot_a in the blob" in out


def test_a_json_blob_with_a_byte_order_mark(tmp_path: Path, django_user_model) -> None:
    legacy, _, _ = simple_arena()
    django_user_model.objects.create_user(username="carol", password="c-123456789")
    path = tmp_path / "state.json"
    path.write_bytes(b"\xef\xbb\xbf" + legacy.state_json().encode())
    run_import(path, "--owner", "carol")
    assert Bot.objects.filter(legacy_id="bot_a").exists()
