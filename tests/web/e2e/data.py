"""The rows a browser test starts from, written through the arena's own services.

Call each through ``orm()``: it runs in a thread of its own, where no event loop runs, so the
events the write appends are pushed to the stream after commit (see conftest.py). The test
process's channel layer is the servers' Redis during the suite, so an open page sees them.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connections
from django.test import Client
from django.utils import timezone

from tests.arena.fake_llm import FakeLLM, Reply, openai_bot

T = TypeVar("T")
PRICES = (("BTCUSDT", "60000"), ("ETHUSDT", "3000"), ("SOLUSDT", "150"), ("BNBUSDT", "600"),
          ("DOGEUSDT", "0.15"), ("XRPUSDT", "0.6"))
_models = itertools.count(1)


def orm(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a fresh thread (its own database connection, closed after)."""

    def run() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=120)


def make_user(username: str, password: str = "pass-e2e-1234", *, admin: bool = False,
              signs_in: bool = False) -> Any:
    """A user. One who ``signs_in`` through the form gets a password hashed with the
    production hasher (slow on purpose), since the test settings' fast one is unknown to
    ``arena.settings``; a session cookie (``session_cookie``) needs neither."""
    model = get_user_model()
    if admin:
        user = model.objects.create_superuser(username=username, password=password,
                                              email=f"{username}@example.com", role="admin")
    else:
        user = model.objects.create_user(username=username, password=password,
                                         email=f"{username}@example.com")
    if signs_in:
        user.password = make_password(password, hasher="pbkdf2_sha256")
        user.save(update_fields=["password"])
    return user


def session_cookie(user: Any, url: str) -> dict[str, Any]:
    """A signed-in session for ``user`` as a Playwright cookie (the servers share SECRET_KEY)."""
    client = Client()
    client.force_login(user)
    return {"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
            "url": url, "httpOnly": True, "sameSite": "Lax"}


def price_markets() -> None:
    """Fresh prices for the default symbols, written now: a turn needs no refresh."""
    from trading.models import Market

    for symbol, price in PRICES:
        Market.objects.update_or_create(symbol=symbol, defaults={
            "base_asset": symbol.removesuffix("USDT"), "last_price": Decimal(price),
            "mark_price": Decimal(price), "updated_at": timezone.now(), "is_stale": False})


def long_btc(reasoning: str) -> Reply:
    """The model's answer that opens a 2x long of 100 USDT on BTCUSDT."""
    return Reply(text=json.dumps([{"action": "LONG", "symbol": "BTCUSDT", "size": 100, "leverage": 2,
                                   "reasoning": reasoning}]))


def llm_bot(owner: Any, fake: FakeLLM, *, name: str, prompt: str = "Trade well. {{marketData}}",
            **options: Any) -> Any:
    """A bot with its own model on ``fake`` (so a test scripts its replies alone)."""
    return openai_bot(owner=owner, fake=fake, model=f"e2e-model-{next(_models)}", name=name, prompt=prompt,
                      **options)


def open_position(bot: Any, *, symbol: str = "BTCUSDT", side: str = "LONG", margin: str = "100",
                  leverage: int = 2) -> Any:
    """An open paper position, through the service a turn uses."""
    from trading.services import position_open

    result = position_open(bot=bot, symbol=symbol, side=side, margin=Decimal(margin), leverage=leverage,
                           now=timezone.now())
    assert result.position is not None, result.notes
    return result.position


def close_position(position_id: int) -> Any:
    """Close it at the market, as the API's close does."""
    from trading.models import CloseReason
    from trading.services import position_close

    result = position_close(position=position_id, reason=CloseReason.MANUAL, now=timezone.now())
    assert result.closed, result.notes
    return result.position


def set_public_arena(public: bool) -> None:
    from arena.models import ArenaSettings

    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(public_arena=public)
