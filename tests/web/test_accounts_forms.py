"""The account pages' small helpers: where a sign-in may lead, and errors field by field."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict

from arena.web.accounts.forms import errors_of, flat, picked, safe_next, wait_message


@pytest.mark.parametrize("candidate, expected", [
    ("/bots/3/", "/bots/3/"),
    ("/leaderboard/?period=week", "/leaderboard/?period=week"),
    ("", "/"),
    (None, "/"),
    ("bots/", "/"),
    ("https://evil.example/", "/"),
    ("https://arena.example/bots/", "/"),  # a full address, even our own: only paths
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/\x00//evil.example", "/"),
])
def test_safe_next_keeps_this_sites_paths_only(candidate, expected):
    assert safe_next(candidate, host="arena.example", secure=True) == expected


def test_safe_next_has_its_default():
    found = safe_next("https://evil.example/", host="arena.example", secure=False, default="/account/")
    assert found == "/account/"


def test_picked_keeps_only_the_named_fields_that_were_sent():
    data = QueryDict("username=a&csrfmiddlewaretoken=x&other=1")
    assert picked(data, ["username", "password"]) == {"username": "a"}


def test_errors_without_a_field_go_under_form():
    assert flat({"non_field_errors": ["x"], "name": "y"}) == {"form": ["x"], "name": ["y"]}
    assert flat(["a", "b"]) == {"form": ["a", "b"]}
    assert errors_of(ValidationError("whole")) == {"form": ["whole"]}
    assert errors_of(ValidationError({"days": "bad", "__all__": "all"})) == {"days": ["bad"], "form": ["all"]}


def test_wait_message_counts_in_seconds_then_minutes():
    assert wait_message(12) == "Too many attempts from your address: try again in 12 seconds."
    assert wait_message(61) == "Too many attempts from your address: try again in 2 minutes."
