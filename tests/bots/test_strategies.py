"""Scripted strategies: deterministic, actively trading, and speaking the reply format exactly."""
from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.parsing import parse_reply
from bots.strategies import STRATEGIES, UnknownStrategy, decide, to_json
from trading import perps
from trading.risk import MIN_TRADE_USDT, MarketView, OpenRequest, PortfolioView, RiskSettings, check_open

START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
TURN_MINUTES = 5
BASE = {"BTCUSDT": D("60000"), "ETHUSDT": D("3000"), "SOLUSDT": D("150"), "XRPUSDT": D("0.6")}
# A day ago each market stood a little lower/higher, so the 24h change starts near zero.
DAY_AGO = {"BTCUSDT": D("59000"), "ETHUSDT": D("3030"), "SOLUSDT": D("150"), "XRPUSDT": D("0.6")}
# Moves per turn, in percent of the base price: BTC breaks out upward, ETH breaks down,
# SOL and XRP drift. Six turns: the bound the strategies must trade within.
PATH = {
    "BTCUSDT": [D("3"), D("3.6"), D("4.2"), D("3.9"), D("4.5"), D("5")],
    "ETHUSDT": [D("-3"), D("-3.5"), D("-4"), D("-4.4"), D("-4.2"), D("-5")],
    "SOLUSDT": [D("0.1"), D("-0.1"), D("0.2"), D("0"), D("0.1"), D("-0.2")],
    "XRPUSDT": [D("0"), D("0.1"), D("-0.1"), D("0.2"), D("0"), D("0.1")],
}


def candles(symbol, closes):
    rows = []
    for index, close in enumerate(closes):
        opened = int((START - timedelta(minutes=TURN_MINUTES * (len(closes) - index))).timestamp() * 1000)
        rows.append([opened, str(close), str(close * D("1.001")), str(close * D("0.999")), str(close)])
    return rows


class Simulation:
    """A fake arena for one bot: builds each turn's context by hand and applies decisions."""

    def __init__(self, strategy, bot_id=7, balance=D("10000")):
        self.strategy, self.bot_id, self.balance = strategy, bot_id, balance
        self.positions: list[dict] = []
        self.history = {symbol: [price] * 20 for symbol, price in BASE.items()}  # a flat range
        self.events: list[tuple[int, str, str]] = []
        self.cooldowns: dict[str, str] = {}
        self.next_id = 1

    def context(self, turn, prices):
        now = START + timedelta(minutes=TURN_MINUTES * turn)
        for position in self.positions:
            price, entry = prices[position["symbol"]], position["entry"]
            move = (price - entry) / entry * (1 if position["side"] == "LONG" else -1)
            position["pnl_pct"] = str((move * position["leverage"] * 100).quantize(D("0.01")))
            position["hours_open"] = str(D(TURN_MINUTES * (turn - position["turn"])) / 60)
        return {
            "now": now.isoformat(), "turn": turn, "bot_id": self.bot_id, "balance": str(self.balance),
            "turn_minutes": TURN_MINUTES,
            "markets": {
                symbol: {
                    "price": str(price),
                    "change_24h_pct": str(((price / DAY_AGO[symbol] - 1) * 100).quantize(D("0.01"))),
                    "candles": candles(symbol, self.history[symbol]),
                }
                for symbol, price in prices.items()
            },
            "positions": [
                {key: position[key] for key in ("id", "symbol", "side", "margin", "leverage", "pnl_pct",
                                                   "hours_open")} | {"entry_price": str(position["entry"])}
                for position in self.positions
            ],
            "cooldowns": dict(self.cooldowns),
        }

    def turn(self, turn, prices):
        context = self.context(turn, prices)
        decisions = decide(self.strategy, context)
        assert decide(self.strategy, copy.deepcopy(context)) == decisions  # deterministic
        parsed = parse_reply(to_json(decisions), known_symbols=set(prices))
        assert parsed.notes == [], parsed.notes
        assert len(parsed.actions) == len(decisions)
        for action in parsed.actions:
            if action.action in ("LONG", "SHORT"):
                self.open(turn, action, prices[action.symbol])
            elif action.action == "CLOSE":
                self.close(turn, action, now=context["now"])
        for symbol, price in prices.items():
            self.history[symbol].append(price)
        return parsed.actions

    def open(self, turn, action, price):
        assert action.margin >= MIN_TRADE_USDT and action.margin <= self.balance
        assert not any(p["symbol"] == action.symbol for p in self.positions), "opened a symbol twice"
        assert action.symbol not in self.cooldowns, "opened a symbol on cooldown"
        # The engine's own risk rules accept the order as sent: SL/TP on the right sides.
        check = check_open(
            OpenRequest(action.symbol, action.action, action.margin, action.leverage,
                        action.stop_loss, action.take_profit),
            PortfolioView(self.balance), MarketView(action.symbol, price), RiskSettings(), START,
        )
        assert check.approved is not None and check.notes == [], check.notes
        self.balance -= action.margin
        self.positions.append({
            "id": f"p{self.next_id}", "symbol": action.symbol, "side": action.action, "entry": price,
            "margin": str(action.margin), "leverage": action.leverage, "turn": turn,
            "pnl_pct": "0", "hours_open": "0",
        })
        self.next_id += 1
        self.events.append((turn, "open", action.symbol))

    def close(self, turn, action, now):
        [position] = [p for p in self.positions if p["id"] == action.close_position_id]
        assert action.symbol == position["symbol"]
        self.positions.remove(position)
        self.balance += D(position["margin"])
        until = datetime.fromisoformat(now) + timedelta(minutes=30)
        self.cooldowns[position["symbol"]] = until.isoformat()
        self.events.append((turn, "close", position["symbol"]))


def prices_at(turn):
    moved = {symbol: BASE[symbol] * (1 + PATH[symbol][turn - 1] / 100) for symbol in BASE}
    return {symbol: perps.round_to(price, D("1e-6"), "ROUND_HALF_EVEN") for symbol, price in moved.items()}


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("bot_id", [1, 2, 3])
def test_each_strategy_opens_and_closes_within_six_turns(strategy, bot_id):
    simulation = Simulation(strategy, bot_id=bot_id)
    for turn in range(1, 7):
        simulation.turn(turn, prices_at(turn))
    kinds = {kind for _, kind, _ in simulation.events}
    assert kinds == {"open", "close"}, simulation.events
    first_open = min(turn for turn, kind, _ in simulation.events if kind == "open")
    assert any(kind == "close" and turn > first_open for turn, kind, _ in simulation.events)


def test_momentum_rides_the_strongest_and_shorts_the_weakest():
    simulation = Simulation("momentum")
    actions = simulation.turn(1, prices_at(1))
    found = [(a.action, a.symbol, a.leverage) for a in actions]
    assert found == [("LONG", "BTCUSDT", 5), ("SHORT", "ETHUSDT", 5)]
    long = actions[0]
    assert long.stop_loss < prices_at(1)["BTCUSDT"] < long.take_profit
    assert long.margin == D("1000.00")  # 10% of the balance
    assert "strongest 24h mover" in long.reasoning


def test_breakout_and_mean_reversion_read_candles():
    breakout = Simulation("breakout").turn(1, prices_at(1))
    assert [(a.action, a.symbol) for a in breakout] == [("LONG", "BTCUSDT"), ("SHORT", "ETHUSDT")]
    fading = Simulation("mean_reversion").turn(1, prices_at(1))
    assert [(a.action, a.symbol) for a in fading] == [("SHORT", "BTCUSDT"), ("LONG", "ETHUSDT")]


def test_same_context_same_decisions_whatever_the_key_order():
    simulation = Simulation("momentum")
    context = simulation.context(1, prices_at(1))
    reordered = {**context, "markets": dict(reversed(list(context["markets"].items())))}
    for name in STRATEGIES:
        assert decide(name, context) == decide(name, reordered) == decide(name, copy.deepcopy(context))


def test_random_walk_is_seeded_by_bot_and_turn():
    simulation = Simulation("random_walk")
    context = simulation.context(1, prices_at(1))
    runs = {to_json(decide("random_walk", {**context, "bot_id": bot, "turn": turn}))
            for bot in range(5) for turn in range(5)}
    assert len(runs) > 3  # different seeds, different coins
    assert decide("random_walk", context) == decide("random_walk", copy.deepcopy(context))


def test_cooldowns_and_a_small_balance_stop_opens():
    simulation = Simulation("momentum")
    context = simulation.context(1, prices_at(1))
    cooling = {**context, "cooldowns": {"BTCUSDT": (START + timedelta(hours=1)).isoformat()}}
    assert "BTCUSDT" not in {d["symbol"] for d in decide("momentum", cooling)}
    expired = {**context, "cooldowns": {"BTCUSDT": (START - timedelta(hours=1)).isoformat()}}
    assert "BTCUSDT" in {d["symbol"] for d in decide("momentum", expired)}
    for name in STRATEGIES:
        assert decide(name, {**context, "balance": "40"}) == []


@pytest.mark.parametrize("context", [
    {}, {"markets": None}, {"markets": {"BTCUSDT": {"price": "abc"}}, "balance": "x"},
    {"markets": {"BTCUSDT": {"price": "-1", "change_24h_pct": "9"}}, "balance": "1000"},
    {"markets": {"BTCUSDT": {"price": "100", "change_24h_pct": "9", "candles": [[1, 2], "x", None]}},
     "positions": [{"id": None}, "junk", {"id": "p1", "symbol": "BTCUSDT", "side": "UP"}], "balance": "1000",
     "cooldowns": {"BTCUSDT": "not a date"}, "turn": "3", "bot_id": True},
])
def test_malformed_contexts_hold_instead_of_raising(context):
    for name in STRATEGIES:
        decisions = decide(name, context)
        assert parse_reply(to_json(decisions)).notes == []


def test_unknown_strategy():
    with pytest.raises(UnknownStrategy, match="martingale"):
        decide("martingale", {})
    assert decide(" Momentum ", {}) == []  # names are forgiving about case and spaces


prices = st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from(sorted(BASE)), st.tuples(prices, st.decimals(-30, 30, places=2)),
                    min_size=1),
    st.lists(st.tuples(st.sampled_from(sorted(BASE)), st.sampled_from(["LONG", "SHORT"]),
                       st.decimals(-90, 300, places=2), st.decimals(0, 48, places=2)), max_size=4),
    st.decimals(0, 1_000_000, places=2),
    st.integers(0, 10_000),
)
def test_any_context_gives_parseable_decisions(markets, positions, balance, turn):
    context = {
        "now": START.isoformat(), "turn": turn, "bot_id": turn % 7, "balance": str(balance),
        "markets": {
            s: {"price": str(p), "change_24h_pct": str(c), "candles": []} for s, (p, c) in markets.items()
        },
        "positions": [{"id": f"p{i}", "symbol": s, "side": side, "entry_price": "1", "margin": "100",
                       "leverage": 5, "pnl_pct": str(pnl), "hours_open": str(hours)}
                      for i, (s, side, pnl, hours) in enumerate(positions)],
        "cooldowns": {},
    }
    for name in STRATEGIES:
        decisions = decide(name, context)
        parsed = parse_reply(to_json(decisions), known_symbols=set(markets))
        assert parsed.notes == [] and len(parsed.actions) == len(decisions)
        opened = [a for a in parsed.actions if a.action in ("LONG", "SHORT")]
        assert sum(a.margin for a in opened) <= balance
        for action in opened:
            price = D(context["markets"][action.symbol]["price"])
            if action.action == "LONG":
                assert action.stop_loss < price < action.take_profit
            else:
                assert action.take_profit < price < action.stop_loss
