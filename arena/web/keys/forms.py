"""What the providers' and wallets' forms share: the posted values, read for the API's
serializers (the same rules as the REST API), the errors they and the services raise, and
the fields a template draws.

Secrets are write-only here too: a key's field is always drawn empty, even when the form
comes back with errors, and a blank key on an edit means "keep the stored one".
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from rest_framework.fields import get_error_detail

from arena.web.base import page

Errors = dict[str, list[str]]


@dataclass
class Field:
    """One input as the template draws it (``web/keys/_field.html``)."""

    name: str
    label: str
    value: str = ""
    input: str = "text"  # text, url, number, password, select, textarea
    help: str = ""
    errors: list[str] = field(default_factory=list)
    choices: list[tuple[str, str]] = field(default_factory=list)
    required: bool = False
    extra: dict[str, str] = field(default_factory=dict)  # step, min, max, placeholder, autocomplete


def posted(data: QueryDict, names: list[str], *, secrets: tuple[str, ...] = (),
           keep_blank_secrets: bool = False) -> dict[str, str]:
    """The posted values of ``names`` (those present), trimmed of nothing: the serializer
    trims and validates. A blank secret is dropped when ``keep_blank_secrets`` (an edit keeps
    the stored key)."""
    values = {name: data[name] for name in names if name in data}
    if keep_blank_secrets:
        for name in secrets:
            if not values.get(name, "").strip():
                values.pop(name, None)
    return values


def json_object(text: str) -> tuple[Any, list[str]]:
    """``text`` read as JSON for the serializer (blank: ``{}``), or the reason it is not JSON."""
    if not text.strip():
        return {}, []
    try:
        return json.loads(text), []
    except ValueError as exc:
        return None, [f"Not valid JSON: {exc}."]


def messages_of(detail: Any) -> list[str]:
    """A serializer's or a service's error detail as plain sentences."""
    if isinstance(detail, dict):
        return [text for value in detail.values() for text in messages_of(value)]
    if isinstance(detail, list | tuple):
        return [text for item in detail for text in messages_of(item)]
    return [str(detail)]


def errors_of(detail: Any) -> Errors:
    """Field name → sentences, from ``serializer.errors`` or a service's Django
    ``ValidationError`` (as the API's error handler reads it)."""
    if isinstance(detail, DjangoValidationError):
        detail = get_error_detail(detail)
    if not isinstance(detail, dict):
        return {"__all__": messages_of(detail)}
    return {name: messages_of(value) for name, value in detail.items()}


def general_errors(errors: Errors, fields: list[Field]) -> list[str]:
    """The errors that belong to no drawn field (shown above the form)."""
    drawn = {f.name for f in fields}
    return [text for name, texts in errors.items() if name not in drawn for text in texts]


def with_errors(fields: list[Field], errors: Errors) -> list[Field]:
    """Each field given its own errors."""
    for f in fields:
        f.errors = list(errors.get(f.name, []))
    return fields


def changed(current: dict[str, Any], validated: dict[str, Any], *,
            always: tuple[str, ...] = ()) -> dict[str, Any]:
    """The validated values that differ from ``current`` (and those in ``always``, the
    secrets, whose stored value cannot be compared): an edit sends the service only what
    changed, as a PATCH with only those fields would, so an unchanged base URL is not
    checked again under rules that tightened since it was saved."""
    return {name: value for name, value in validated.items()
            if name in always or current.get(name) != value}


def confirm_delete(request: HttpRequest, context: dict[str, Any], delete: Callable[[], str],
                   done: str) -> HttpResponse:
    """The delete page of a provider or wallet: GET asks, POST calls ``delete`` (the service,
    which answers what it did) and goes back with ``done`` + that outcome; a refusal is shown."""
    if request.method == "POST":
        try:
            outcome = delete()
        except DjangoValidationError as exc:
            context["refused"] = [text for texts in errors_of(exc).values() for text in texts]
            return page(request, "web/keys/confirm_delete.html", context, status=400)
        messages.success(request, f"{done} {outcome}.")
        return redirect(context["back"])
    return page(request, "web/keys/confirm_delete.html", context)
