"""Legacy configuration → this arena's values: pure functions, no ORM.

Providers: the legacy ``provider_type`` ``grok``, ``local`` and ``custom`` all spoke
the OpenAI chat-completions protocol, so they become ``openai`` providers; their
``api_endpoint`` (often the full ``…/v1/chat/completions`` URL) is cut back to our
base URL rules: OpenAI-compatible ends in ``/v1``, Gemini in ``/v1beta``,
Anthropic is the host only.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import bcrypt

from arena.legacy.values import Where

KINDS = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini",
         "grok": "openai", "local": "openai", "custom": "openai"}
# Where a provider without a usable endpoint went: the vendor's own API.
DEFAULT_URLS = {"openai": "https://api.openai.com/v1", "grok": "https://api.x.ai/v1",
                "anthropic": "https://api.anthropic.com",
                "gemini": "https://generativelanguage.googleapis.com/v1beta"}
# The legacy's own defaults, for a provider known only from the blob.
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "grok": "grok-3-mini-beta",
                  "anthropic": "claude-3-5-sonnet-latest", "gemini": "gemini-2.5-flash"}
AVATAR_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg", "image/gif": "gif",
                "image/webp": "webp"}
DEFAULT_AVATAR_LIMIT = 5 * 1024 * 1024
_BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_GEMINI_MODEL = re.compile(r"/models/([^/:?]+)")


# --- providers -----------------------------------------------------------------------


def provider_kind(legacy_type: str, where: Where) -> str:
    try:
        return KINDS[legacy_type]
    except KeyError:
        raise where.error(
            f"provider_type {legacy_type!r} is not one of {', '.join(sorted(KINDS))}"
        ) from None


def base_url(legacy_type: str, endpoint: str, where: Where) -> str:
    """Our base URL for a legacy endpoint (the vendor's default when it is empty)."""
    kind = provider_kind(legacy_type, where)
    if not endpoint:
        if legacy_type not in DEFAULT_URLS:
            raise where.error(f"a {legacy_type} provider needs its api_endpoint, and it is empty")
        return DEFAULT_URLS[legacy_type]
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise where.error(f"api_endpoint {endpoint!r} is not an http(s) URL")
    root = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if kind == "gemini":
        return root + (path[: path.index("/v1beta")] if "/v1beta" in path else "") + "/v1beta"
    if kind == "anthropic":
        return root + (path[: path.index("/v1")] if "/v1" in path else path)
    for suffix in ("/chat/completions", "/completions", "/chat"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    segments = path.split("/")
    if "v1" in segments:  # keep everything up to the last /v1 (proxies add prefixes)
        last = len(segments) - 1 - segments[::-1].index("v1")
        return root + "/".join(segments[: last + 1])
    return root + path + "/v1"


def provider_model(legacy_type: str, model: str, endpoint: str, where: Where) -> str:
    """The model name; a Gemini endpoint often carried it (``…/models/<name>:generateContent``)."""
    if model:
        return model
    found = _GEMINI_MODEL.search(endpoint or "")
    if legacy_type == "gemini" and found:
        return found.group(1)
    raise where.error("model_name is empty and the endpoint does not name a model")


# --- users ---------------------------------------------------------------------------


def django_password(legacy_hash: str) -> str | None:
    """Django's encoding of a legacy bcrypt hash, or None if it is not a usable one.

    ``bcrypt$<hash>`` is what ``BCryptPasswordHasher`` verifies. A malformed hash
    would make Django's verify raise on every login, so it is refused here instead
    (the user then resets the password).
    """
    found = _BCRYPT.match(legacy_hash or "")
    if not found or not 4 <= int(found.group(1)) <= 31:
        return None
    try:
        # Cheap probe of the salt at the lowest cost: exactly what hashpw parses on login.
        bcrypt.hashpw(b"probe", legacy_hash[:4].encode() + b"04$" + legacy_hash[7:29].encode())
    except ValueError:
        return None
    return "bcrypt$" + legacy_hash


# --- arena settings ------------------------------------------------------------------


@dataclass(frozen=True)
class SettingRule:
    field: str
    unit: Decimal  # legacy value / unit = our value
    kind: str  # "decimal", "int" or "symbols"


SETTINGS = {
    "paper_bot_initial_balance": SettingRule("paper_initial_balance", Decimal(1), "decimal"),
    "live_bot_initial_balance": SettingRule("live_initial_balance", Decimal(1), "decimal"),
    "turn_interval_ms": SettingRule("turn_interval_seconds", Decimal(1000), "int"),
    "refresh_interval_ms": SettingRule("refresh_interval_seconds", Decimal(1000), "int"),
    "snapshot_interval_ms": SettingRule("snapshot_interval_seconds", Decimal(1000), "int"),
    "minimum_trade_size_usd": SettingRule("min_trade_usdt", Decimal(1), "decimal"),
    "symbol_cooldown_ms": SettingRule("cooldown_minutes", Decimal(60_000), "int"),
    "trading_symbols": SettingRule("default_symbols", Decimal(1), "symbols"),
    "max_positions_per_bot": SettingRule("max_open_positions_per_bot", Decimal(1), "int"),
}


def setting_value(key: str, raw: Any, where: Where) -> Any:
    """A system_settings value converted to its ArenaSettings field's type."""
    rule = SETTINGS[key]
    if rule.kind == "symbols":
        value = where.json_text(raw, "value") if isinstance(raw, str) else raw
        symbols = where.sequence(value, "value", optional=False)
        if not symbols:
            raise where.error("value must list at least one symbol")
        return [where.symbol(s, "a symbol in value") for s in symbols]
    number = where.required(raw, "value") / rule.unit
    if number <= 0:
        raise where.error(f"value must be positive, got {raw!r}")
    if rule.kind == "int":
        if number != number.to_integral_value():
            raise where.error(f"value {raw!r} is not a whole number of {rule.field.rsplit('_', 1)[1]}")
        return int(number)
    return number


# --- bots ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Avatar:
    content: bytes
    name: str  # avatars/<sha256 prefix>.<ext>


def avatar(value: str | None, where: Where, *, limit: int = DEFAULT_AVATAR_LIMIT) -> Avatar | str | None:
    """A data: URL decoded to an image file (named by its content), a plain URL
    returned as is (it is not fetched), or None."""
    if not value:
        return None
    if not value.startswith("data:"):
        return value
    header, _, payload = value.partition(",")
    media = header[5:].split(";")[0].lower()
    if media not in AVATAR_TYPES or ";base64" not in header:
        raise where.error(f"the avatar is a data URL of {media or 'no'} type; expected a base64 "
                          f"{', '.join(sorted(set(AVATAR_TYPES)))} image")
    if len(payload) * 3 // 4 > limit:
        raise where.error(f"the avatar image is about {len(payload) * 3 // 4:,} bytes, over the "
                          f"{limit:,}-byte limit (raise it with --avatar-limit)")
    try:
        content = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise where.error("the avatar data URL is not valid base64") from None
    digest = hashlib.sha256(content).hexdigest()[:32]
    return Avatar(content=content, name=f"avatars/{digest}.{AVATAR_TYPES[media]}")


@dataclass(frozen=True)
class Summary:
    text: str
    count: int
    covers_from: datetime | None
    covers_to: datetime | None
    generated_at: datetime | None
    token_count: int


def learning_summary(value: Any, where: Where) -> Summary | None:
    """The legacy history_summary: JSON text ``{summary, summarizedCount, summarizedFrom,
    summarizedTo, generatedAt, tokenCount}``; plain text is taken as the summary itself."""
    if value is None or value == "":
        return None
    where = where.inner("history_summary")
    data = value
    if isinstance(value, str):
        try:
            data = json.loads(value)
        except ValueError:
            return Summary(value, 1, None, None, None, len(value) // 4)
    data = where.mapping(data, "history_summary")
    text = where.text(data.get("summary"), "summary", optional=True)
    if not text.strip():
        return None
    return Summary(
        text=text, count=where.count(data.get("summarizedCount") or 1, "summarizedCount"),
        covers_from=where.moment(data.get("summarizedFrom"), "summarizedFrom", optional=True),
        covers_to=where.moment(data.get("summarizedTo"), "summarizedTo", optional=True),
        generated_at=where.moment(data.get("generatedAt"), "generatedAt", optional=True),
        token_count=where.count(data.get("tokenCount") or len(text) // 4, "tokenCount"),
    )


def actions(decisions: list[Any]) -> list[dict[str, Any]]:
    """Legacy decisions in the shape of ``bots.parsing.Action.as_json`` (numbers as
    exact text); items that are not objects have no action to show and are left out
    (the legacy list is kept whole in the decision's raw_response)."""
    def text(value: Any) -> str | None:
        if value is None or isinstance(value, bool):
            return None
        return str(value) if isinstance(value, int | float | Decimal | str) else None

    def whole(value: Any) -> int | None:
        try:
            return int(value) if value is not None and not isinstance(value, bool) else None
        except (TypeError, ValueError):
            return None

    return [
        {"action": str(item.get("action") or "HOLD").upper(), "symbol": item.get("symbol"),
         "margin": text(item.get("size")), "leverage": whole(item.get("leverage")),
         "stop_loss": text(item.get("stopLoss")), "take_profit": text(item.get("takeProfit")),
         "close_position_id": text(item.get("closePositionId")), "side": None,
         "reasoning": str(item.get("reasoning") or "")}
        for item in decisions if isinstance(item, dict)
    ]


def raw_json(value: Any) -> str:
    # The blob's numbers were JavaScript doubles, so float() gives back their exact text.
    return json.dumps(value, default=float, ensure_ascii=False)


def same_decisions(a: list[Any], b: list[Any]) -> bool:
    # Floats from the table's JSON and Decimals from the streamed blob compare as floats.
    return json.dumps(a, sort_keys=True, default=float) == json.dumps(b, sort_keys=True, default=float)


# --- wallets -------------------------------------------------------------------------


def exchange(value: str, where: Where) -> str:
    if "aster" in value:
        return "aster"
    if "binance" in value:
        return "binance_testnet" if "test" in value else "binance"
    raise where.error(f"exchange {value!r} is neither Binance nor Aster")
