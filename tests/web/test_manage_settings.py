"""/manage/settings/: every ArenaSettings field with its help text, saved and validated as
PATCH /api/settings/ does (a bad value is refused on its field and nothing is saved)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.http import QueryDict
from django.test import Client
from django.utils.html import escape

from arena.api.settings import ArenaSettingsSerializer
from arena.models import ArenaSettings
from arena.selectors import Bound, SettingSpec, arena_settings_specs
from arena.web.manage.settings_form import decimal_text, field_rows, posted_values, range_text, value_text
from ledger.models import Change

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def form_of(admin: Client) -> dict[str, str]:
    """What the page's form would post as it stands (ticked checkboxes only)."""
    rows = admin.get("/manage/settings/").context["rows"]
    data = {row["name"]: row["text"] for row in rows if row["input"] != "checkbox"}
    data.update({row["name"]: "on" for row in rows if row["input"] == "checkbox" and row["checked"]})
    return data


def test_every_setting_is_on_the_form_with_its_help(admin):
    response = admin.get("/manage/settings/")
    html = response.content.decode()
    assert response.status_code == 200 and html.count("<h1") == 1
    for spec in arena_settings_specs():
        assert f'name="{spec.name}"' in html, spec.name
        if spec.help_text:
            assert escape(spec.help_text) in html, spec.name
    assert 'name="public_arena"' in html and "Anonymous visitors may watch" in html
    assert 'href="/admin/"' in html


def test_the_form_saves_unchanged_as_it_stands(admin):
    before = ArenaSettingsSerializer(ArenaSettings.load()).data
    response = admin.post("/manage/settings/", form_of(admin))
    assert response.status_code == 302 and response["Location"] == "/manage/settings/"
    after = ArenaSettingsSerializer(ArenaSettings.load()).data
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"}


def test_settings_save_with_the_audit_trail(admin, admin_user):
    data = form_of(admin)
    data.pop("public_arena")  # unticked: spectators are turned away
    data.update({"taker_fee_rate": "0.0004", "turn_interval_seconds": "120",
                 "default_symbols": "BTCUSDT\nETHUSDT, SOLUSDT", "outbound_allowed_hosts": "api.openai.com"})
    response = admin.post("/manage/settings/", data)
    assert response.status_code == 302
    arena = ArenaSettings.load()
    assert arena.taker_fee_rate == Decimal("0.0004") and arena.turn_interval_seconds == 120
    assert arena.default_symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert arena.outbound_allowed_hosts == ["api.openai.com"]
    assert arena.public_arena is False
    assert Change.objects.filter(object_type="arena.ArenaSettings", action="updated",
                                 actor=admin_user).exists()


@pytest.mark.parametrize("field, value, message", [
    ("taker_fee_rate", "0.5", "Must be less than 0.01."),
    ("turn_interval_seconds", "5", "Must be at least 10."),
    ("min_trade_usdt", "abc", "A valid number is required."),
    ("default_symbols", "btc-usdt", "upper-case symbols"),
    ("outbound_allowed_hosts", "http://bad host/", "outbound_allowed_hosts"),
])
def test_a_bad_value_is_refused_on_its_field_and_nothing_is_saved(admin, field, value, message):
    before = ArenaSettings.load()
    data = form_of(admin)
    data.update({field: value, "cooldown_minutes": "45"})
    response = admin.post("/manage/settings/", data)
    assert response.status_code == 400
    row = next(row for row in response.context["rows"] if row["name"] == field)
    assert row["errors"] and (message in " ".join(row["errors"]) or message == field)
    assert row["text"] == value, "what was typed stays"
    assert ArenaSettings.load().cooldown_minutes == before.cooldown_minutes


def test_the_form_and_the_api_refuse_the_same_value(admin, admin_user):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(admin_user)
    refused = api.patch("/api/settings/", {"maintenance_margin_rate": "0.5"}, format="json")
    data = {**form_of(admin), "maintenance_margin_rate": "0.5"}
    page = admin.post("/manage/settings/", data)
    assert refused.status_code == page.status_code == 400
    row = next(row for row in page.context["rows"] if row["name"] == "maintenance_margin_rate")
    assert row["errors"] == refused.json()["error"]["fields"]["maintenance_margin_rate"]


def test_reset_puts_the_defaults_back(admin):
    ArenaSettings.objects.update_or_create(id=1, defaults={"cooldown_minutes": 99, "public_arena": False})
    assert admin.post("/manage/settings/reset/").status_code == 302
    arena = ArenaSettings.load()
    assert arena.cooldown_minutes == 30 and arena.public_arena is True


def test_settings_by_get_or_without_csrf_are_refused(admin_user, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post("/manage/settings/reset/").status_code == 403
    assert client.get("/manage/settings/reset/").status_code == 405
    assert client.post("/manage/settings/", {"cooldown_minutes": "1"}).status_code == 403
    other = Client()
    other.force_login(user)
    assert other.post("/manage/settings/", {"cooldown_minutes": "1"}).status_code == 403
    assert ArenaSettings.load().cooldown_minutes == 30


# --- the form's pure helpers ---------------------------------------------------------


def spec(**fields) -> SettingSpec:
    return SettingSpec(**{"name": "x", "type": "decimal", "label": "x", "help_text": "", "default": None,
                          **fields})


def test_decimal_text_drops_the_padding():
    assert decimal_text("0.00050000") == "0.0005"
    assert decimal_text("10000.00000000") == "10000"
    assert decimal_text("12") == "12"
    assert decimal_text("oops") == "oops"


def test_value_text_by_type():
    assert value_text(spec(type="json", default=[]), ["BTCUSDT", "ETHUSDT"]) == "BTCUSDT\nETHUSDT"
    assert value_text(spec(type="json", default={}), {"a": 1}) == '{"a": 1}'
    assert value_text(spec(type="integer"), 5) == "5"
    assert value_text(spec(), None) == ""


def test_range_text_says_the_bounds():
    both = spec(min=Bound(Decimal("0"), False), max=Bound(Decimal("0.01"), True))
    assert range_text(both) == "At least 0, below 0.01."
    assert range_text(spec(min=Bound(Decimal("0"), True))) == "Above 0."
    assert range_text(spec()) == ""


def test_posted_values_reads_checkboxes_lists_and_json():
    specs = [spec(name="flag", type="boolean", default=False), spec(name="symbols", type="json", default=[]),
             spec(name="blob", type="json", default={}), spec(name="rate")]
    data, errors = posted_values(specs, QueryDict("symbols=A%0D%0AB,+C&blob=%7B%22k%22%3A1%7D&rate=+0.1+"))
    assert data == {"flag": False, "symbols": ["A", "B", "C"], "blob": {"k": 1}, "rate": "0.1"}
    assert errors == {}
    _, errors = posted_values(specs, QueryDict("flag=on&blob=%7Bnope"))
    assert errors == {"blob": ["Not valid JSON."]}


def test_field_rows_show_what_was_posted_after_an_error():
    specs = [spec(name="rate", default=Decimal("1"), min=Bound(Decimal("0"), False)),
             spec(name="flag", type="boolean", default=True)]
    fresh = field_rows(specs, {"rate": "2.50", "flag": True}, {})
    assert [(r["text"], r["checked"], r["input"], r["min"], r["default"]) for r in fresh] == [
        ("2.5", False, "text", "0", "1"), ("True", True, "checkbox", "", "on")]
    posted = field_rows(specs, {"rate": "2.50", "flag": True}, {"rate": ["bad"]}, QueryDict("rate=zz"))
    assert posted[0]["text"] == "zz" and posted[0]["errors"] == ["bad"] and posted[1]["checked"] is False


def test_labels_and_ranges_read_as_words():
    from arena.web.manage.settings_form import label_text

    assert label_text("min trade usdt") == "Min trade USDT"
    assert label_text("public arena") == "Public arena"
    column_limit = spec(type="integer", min=Bound(Decimal("1"), False), max=Bound(Decimal(2**63 - 1), False))
    assert range_text(column_limit) == "At least 1."
    assert field_rows([column_limit], {"x": 3}, {})[0]["max"] == ""
