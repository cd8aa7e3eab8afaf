"""/api/settings/: every signed-in user reads the arena's rules; only an admin changes or
resets them, validated by the model (a bad value is a 400 naming the field, nothing saved);
the metadata is the model's own description of its fields."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import DecimalField
from django_celery_beat.models import PeriodicTask

from arena.models import ArenaSettings
from tests.arena.api_helpers import client_for, error_of

pytestmark = pytest.mark.django_db
D = Decimal
TURN_TASK = "arena: trading turn"


def settable_fields():
    return [f for f in ArenaSettings._meta.concrete_fields if f.editable]


def row() -> dict:
    return {f.name: getattr(ArenaSettings.load(), f.name) for f in settable_fields()}


def turn_every() -> int:
    return PeriodicTask.objects.get(name=TURN_TASK).interval.every


def test_any_signed_in_user_reads_the_rules_and_anonymous_is_refused(user):
    response = client_for(user).get("/api/settings/")
    assert response.status_code == 200
    body = response.json()
    assert D(body["taker_fee_rate"]) == D("0.0005") and D(body["min_trade_usdt"]) == D("50")
    assert body["cooldown_minutes"] == 30 and body["turn_interval_seconds"] == 300
    assert body["default_symbols"][0] == "BTCUSDT" and body["max_open_positions_per_bot"] == 6
    assert "id" not in body and "updated_at" in body
    assert error_of(client_for().get("/api/settings/"))["code"] == "not_authenticated"


def test_an_admin_changes_settings_and_the_schedule_follows(admin_user):
    response = client_for(admin_user).patch("/api/settings/", {
        "turn_interval_seconds": 120, "taker_fee_rate": "0.0004", "default_symbols": ["BTCUSDT", "ETHUSDT"],
        "enforce_cooldown": True,
    })
    assert response.status_code == 200, response.json()
    arena = ArenaSettings.load()
    assert (arena.turn_interval_seconds, arena.taker_fee_rate, arena.default_symbols,
            arena.enforce_cooldown) == (120, D("0.0004"), ["BTCUSDT", "ETHUSDT"], True)
    assert response.json()["turn_interval_seconds"] == 120
    assert turn_every() == 120, "the beat schedule moved to the new interval"


@pytest.mark.parametrize(("change", "field"), [
    ({"turn_interval_seconds": 5}, "turn_interval_seconds"),  # a check constraint: >= 10
    ({"snapshot_interval_seconds": 59}, "snapshot_interval_seconds"),
    ({"cooldown_minutes": -1}, "cooldown_minutes"),
    ({"taker_fee_rate": "0.01"}, "taker_fee_rate"),  # below 0.01, exclusive
    ({"maintenance_margin_rate": "0"}, "maintenance_margin_rate"),  # above 0, exclusive
    ({"min_trade_usdt": "0"}, "min_trade_usdt"),
    ({"slippage_bps": "1000.5"}, "slippage_bps"),
    ({"paper_initial_balance": "-5"}, "paper_initial_balance"),
    ({"max_open_positions_per_bot": 0}, "max_open_positions_per_bot"),
    ({"default_symbols": ["btcusdt"]}, "default_symbols"),  # the model's clean()
    ({"default_symbols": []}, "default_symbols"),
    ({"default_symbols": "BTCUSDT"}, "default_symbols"),
    ({"enforce_cooldown": "perhaps"}, "enforce_cooldown"),
    ({"colour": "red"}, "colour"),
    ({"updated_at": "2030-01-01T00:00:00Z"}, "updated_at"),
    ({"id": 2}, "id"),
])
def test_a_bad_value_is_a_400_naming_the_field_and_nothing_is_saved(admin_user, change, field):
    before = row()
    schedule = list(PeriodicTask.objects.order_by("name").values_list("name", "interval_id"))
    # A valid change sent beside the bad one is not saved either.
    valid = {"recent_decisions_in_prompt": 4} if field != "recent_decisions_in_prompt" else {}
    response = client_for(admin_user).patch("/api/settings/", {**valid, **change})
    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert error["code"] == "invalid" and field in error["fields"], error
    assert row() == before
    assert list(PeriodicTask.objects.order_by("name").values_list("name", "interval_id")) == schedule


def test_a_non_admin_cannot_change_or_reset_settings(user):
    before = row()
    for response in (client_for(user).patch("/api/settings/", {"cooldown_minutes": 5}),
                     client_for(user).post("/api/settings/reset/")):
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
    assert row() == before


def test_reset_puts_every_field_back_to_its_default(admin_user):
    client = client_for(admin_user)
    changed = client.patch("/api/settings/", {
        "turn_interval_seconds": 60, "min_trade_usdt": "12.5", "default_symbols": ["ETHUSDT"],
        "enforce_cooldown": True, "recent_decisions_in_prompt": 3, "slippage_bps": "2.5",
    })
    assert changed.status_code == 200 and turn_every() == 60
    response = client.post("/api/settings/reset/")
    assert response.status_code == 200
    assert row() == {f.name: f.get_default() for f in settable_fields()}
    assert turn_every() == ArenaSettings._meta.get_field("turn_interval_seconds").get_default()
    assert response.json() == client.get("/api/settings/").json()


def test_metadata_describes_every_settable_field_as_the_model_does(user):
    response = client_for(user).get("/api/settings/metadata/")
    assert response.status_code == 200
    specs = {spec["name"]: spec for spec in response.json()}
    fields = settable_fields()
    assert list(specs) == [f.name for f in fields], "every settable field, in the model's order"
    shown = client_for(user).get("/api/settings/").json()  # a fresh arena: every field at its default
    for f in fields:
        spec = specs[f.name]
        assert spec["help_text"] == str(f.help_text) and spec["label"] == str(f.verbose_name)
        choices = [{"value": v, "label": str(t)} for v, t in f.choices] if f.choices else None
        assert spec["choices"] == choices
        if isinstance(f, DecimalField):
            assert spec["type"] == "decimal" and D(spec["default"]) == f.get_default()
            assert (spec["max_digits"], spec["decimal_places"]) == (f.max_digits, f.decimal_places)
        else:
            assert spec["default"] == f.get_default()
    assert {name: spec["default"] for name, spec in specs.items()} == {
        name: value for name, value in shown.items() if name in specs}, "defaults shown as GET shows values"
    # The ranges come from the table's check constraints and the fields' validators.
    assert specs["turn_interval_seconds"]["type"] == "integer"
    turn = specs["turn_interval_seconds"]
    assert (turn["min"], turn["min_exclusive"]) == ("10", False)
    assert (specs["min_trade_usdt"]["min"], specs["min_trade_usdt"]["min_exclusive"]) == ("0", True)
    assert (specs["taker_fee_rate"]["min"], specs["taker_fee_rate"]["max"]) == ("0", "0.01")
    assert specs["taker_fee_rate"]["max_exclusive"] is True
    assert specs["cooldown_minutes"]["min"] == "0" and specs["enforce_cooldown"]["min"] is None
    assert specs["enforce_cooldown"]["type"] == "boolean" and specs["default_symbols"]["type"] == "json"


def test_patch_enforces_exactly_the_ranges_the_metadata_states(admin_user):
    client = client_for(admin_user)
    specs = client.get("/api/settings/metadata/").json()
    checked = 0
    for spec in specs:
        if spec["min"] is None:
            continue
        step = D("1") if spec["type"] == "integer" else D(1).scaleb(-spec["decimal_places"])
        edge = D(spec["min"])
        allowed, refused = (edge + step, edge) if spec["min_exclusive"] else (edge, edge - step)
        as_json = (lambda v: int(v)) if spec["type"] == "integer" else str  # noqa: E731
        ok = client.patch("/api/settings/", {spec["name"]: as_json(allowed)})
        assert ok.status_code == 200, (spec["name"], ok.json())
        bad = client.patch("/api/settings/", {spec["name"]: as_json(refused)})
        assert bad.status_code == 400 and spec["name"] in error_of(bad)["fields"], spec["name"]
        checked += 1
    assert checked >= 10
