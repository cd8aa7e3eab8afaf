"""``migrate_arena_state`` never prints, logs or stores a legacy secret in clear."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from django.apps import apps
from django.db import models

from arena.legacy import secrets
from tests.arena.legacy_factory import LegacyArena, run_import

pytestmark = pytest.mark.django_db

SECRET_SETTINGS = {
    "broadcast_password": "hunter2-broadcast-pw",
    "binanceApiKey": "BinanceKeyValue42xyz",
    "recovery-phrase": "abandon ability able about above absent",
    "telegramBotToken": "tok-778899-telegram",
    "wallet_seed": "plain words for a seed",
    "openai_default": "sk-proj-AAAAbbbbCCCCdddd1234",  # harmless key, credential value
    "webhook_signing": "d41d8cd98f00b204e9800998ecf8427e",  # long random-looking value
}
PLAIN_SETTINGS = {"theme_colour": "dark blue"}
OPTION_SECRET = "sk-option-SECRET-998877665544"


@pytest.fixture
def legacy_file(tmp_path: Path) -> Path:
    legacy = LegacyArena()
    alice = legacy.user("alice")
    gemini = legacy.provider(alice)
    gemini["config_json"] = json.dumps({"temperature": 0.7, "apiKey": OPTION_SECRET,
                                        "extra": {"auth_token": "nested-token-value-1"}})
    legacy.bot("bot_a", alice, gemini)
    for key, value in {**SECRET_SETTINGS, **PLAIN_SETTINGS}.items():
        legacy.settings[key] = (value, "string")
    return legacy.write_db(tmp_path / "arena.db")


def stored_text() -> list[str]:
    """Every text and JSON value of every row of every model."""
    found = []
    for model in apps.get_models():
        fields = [f.attname for f in model._meta.concrete_fields
                  if isinstance(f, models.CharField | models.TextField | models.JSONField)]
        if not fields:
            continue
        for row in model.objects.values_list(*fields):
            found.extend(json.dumps(value, default=str) for value in row if value is not None)
    return found


def test_secret_settings_are_redacted_everywhere(legacy_file, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    out = run_import(legacy_file)
    captured = capsys.readouterr()
    seen = "\n".join([out, captured.out, captured.err, caplog.text, *stored_text()])
    for key, value in SECRET_SETTINGS.items():
        assert value not in seen, key
        assert f"{key} = <redacted, {len(value)} characters>" in out
    for value in (OPTION_SECRET, "nested-token-value-1"):
        assert value not in seen
    assert "apiKey" in out and "extra.auth_token" in out  # named, so the operator knows what to re-enter
    assert "theme_colour = 'dark blue'" in out  # nothing secret about it: shown as before


def test_a_provider_keeps_its_harmless_options(legacy_file) -> None:
    from bots.models import LLMProvider

    run_import(legacy_file)
    assert LLMProvider.objects.get(legacy_id__isnull=False, name="Gemini").options == {
        "temperature": 0.7, "extra": {}}


@pytest.mark.parametrize("key", ["broadcast_password", "binanceApiKey", "recovery-phrase", "API_KEY",
                                 "passphrase", "mnemonic", "seedWords", "privateKey", "aws-credentials",
                                 "authHeader", "githubToken", "client_secret", "passwd"])
def test_secret_looking_keys(key: str) -> None:
    assert secrets.secret_key(key)


@pytest.mark.parametrize("key", ["paper_bot_initial_balance", "monkey_mode", "author", "max_open_positions",
                                 "theme_colour", "keyboard_layout"])
def test_ordinary_keys(key: str) -> None:
    assert not secrets.secret_key(key)


@pytest.mark.parametrize(("value", "secret"), [
    ("sk-abc12345", True), ("0123456789abcdef0123456789abcdef", True), ("ghp_abcdefghijklmnop", True),
    ("dark blue", False), ("10000", False), ("https://example.com/v1", False), ("true", False),
    ("a_long_but_plain_setting_value", False),
])
def test_credential_looking_values(value: str, secret: bool) -> None:
    assert secrets.secret_value(value) is secret
