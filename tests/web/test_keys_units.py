"""The keys' pages' pure helpers: a provider's health from its newest calls, and the form
helpers that read posts for the API's serializers."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.http import QueryDict

from arena.web.keys.forms import Field, changed, errors_of, general_errors, json_object, posted, with_errors
from arena.web.keys.health import FAILING, OK, UNUSED, health_state

T = datetime(2025, 1, 1, 12, tzinfo=UTC)


def test_health_follows_the_newest_call():
    assert health_state(last_error_at=None, last_answer_at=None) == UNUSED
    assert health_state(last_error_at=None, last_answer_at=T) == OK
    assert health_state(last_error_at=T, last_answer_at=None) == FAILING
    assert health_state(last_error_at=T, last_answer_at=T - timedelta(seconds=1)) == FAILING
    assert health_state(last_error_at=T - timedelta(seconds=1), last_answer_at=T) == OK


def test_posted_keeps_only_named_fields_and_drops_blank_secrets_on_an_edit():
    data = QueryDict("name=A&api_key=&api_secret=%20&extra=1&model=m")
    assert posted(data, ["name", "api_key", "model"], secrets=("api_key",)) == \
        {"name": "A", "api_key": "", "model": "m"}
    assert posted(data, ["name", "api_key", "api_secret"], secrets=("api_key", "api_secret"),
                  keep_blank_secrets=True) == {"name": "A"}
    kept = QueryDict("api_key=sk-1")
    assert posted(kept, ["api_key"], secrets=("api_key",), keep_blank_secrets=True) == {"api_key": "sk-1"}


def test_json_object_reads_blank_as_empty_and_names_bad_json():
    assert json_object("  ") == ({}, [])
    assert json_object('{"temperature": 0.2}') == ({"temperature": 0.2}, [])
    value, problems = json_object("{nope")
    assert value is None and problems[0].startswith("Not valid JSON")


def test_errors_of_reads_serializer_and_service_errors():
    assert errors_of({"name": ["Too long."], "options": {"a": ["Bad."]}}) == \
        {"name": ["Too long."], "options": ["Bad."]}
    service = errors_of(ValidationError({"base_url": "The server will not call this URL: loopback."}))
    assert service == {"base_url": ["The server will not call this URL: loopback."]}
    assert errors_of(ValidationError("Nope.")) == {"__all__": ["Nope."]}


def test_errors_go_to_their_fields_and_the_rest_above_the_form():
    fields = with_errors([Field("name", "Name"), Field("model", "Model")],
                         {"name": ["Taken."], "provider": ["Used by 1 bot(s)."]})
    assert [f.errors for f in fields] == [["Taken."], []]
    errors = {"name": ["Taken."], "provider": ["Used by 1 bot(s)."]}
    assert general_errors(errors, fields) == ["Used by 1 bot(s)."]


def test_changed_sends_only_what_differs_and_always_the_secrets():
    current = {"name": "A", "base_url": "https://x.test/v1", "bot": None}
    validated = {"name": "A", "base_url": "https://y.test/v1", "bot": None, "api_key": "k"}
    expected = {"base_url": "https://y.test/v1", "api_key": "k"}
    assert changed(current, validated, always=("api_key",)) == expected
    assert changed(current, {"name": "A"}) == {}
