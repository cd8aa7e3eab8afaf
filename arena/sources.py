"""What the lower layers read from the arena, handed down as values: registered at
start-up by ``ArenaConfig.ready`` (``trading`` and ``bots`` import no arena model)."""
from __future__ import annotations

from decimal import Decimal

from arena.models import ArenaSettings
from bots.models import Bot
from bots.selectors import initial_balance_source_register
from trading.outbound import OutboundPolicy
from trading.risk import RiskSettings
from trading.selectors import Sources, sources_register


def risk_settings_current() -> RiskSettings:
    return RiskSettings.from_arena_settings(ArenaSettings.load())


def symbols_wanted() -> set[str]:
    """The arena's default symbols and every active bot's own."""
    symbols = set(ArenaSettings.load().default_symbols or [])
    for bot_symbols in Bot.objects.filter(is_active=True).values_list("symbols", flat=True):
        symbols.update(bot_symbols or [])
    return symbols


def initial_balance_for(mode: str) -> Decimal:
    arena = ArenaSettings.load()
    return arena.live_initial_balance if mode == Bot.Mode.REAL else arena.paper_initial_balance


def outbound_policy_current() -> OutboundPolicy:
    """The URLs users give that the server may call, from the settings row (read per call)."""
    arena = ArenaSettings.load()
    return OutboundPolicy(allowed_hosts=tuple(arena.outbound_allowed_hosts or ()),
                          allow_private=arena.outbound_allow_private)


def sources_register_all() -> None:
    sources_register(Sources(risk_settings=risk_settings_current, symbols_wanted=symbols_wanted,
                             outbound_policy=outbound_policy_current))
    initial_balance_source_register(initial_balance_for)
