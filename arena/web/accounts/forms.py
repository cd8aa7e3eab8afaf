"""What the account and manage pages share with the API: its serializers check a form's
fields, its throttles count a form's posts, and its errors come back field by field."""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, QueryDict
from django.utils.http import url_has_allowed_host_and_scheme
from rest_framework.serializers import Serializer, as_serializer_error
from rest_framework.throttling import ScopedRateThrottle

Errors = dict[str, list[str]]
# Where a message that names no field goes ("__all__" cannot be read in a template).
NON_FIELD = "form"


def safe_next(candidate: str | None, *, host: str, secure: bool, default: str = "/") -> str:
    """Where to go after signing in: ``candidate`` only when it is a path on this site
    (``/bots/3/``), never another host (``https://evil.example/``, ``//evil.example``) nor
    a scheme such as ``javascript:`` — an open redirect would make our sign-in page a
    phishing tool."""
    if not candidate or not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return default
    if any(ord(char) < 33 or ord(char) == 127 for char in candidate):  # browsers drop these: "/\t/evil"
        return default
    if not url_has_allowed_host_and_scheme(candidate, allowed_hosts={host}, require_https=secure):
        return default
    return candidate


def picked(data: QueryDict, names: list[str]) -> dict[str, str]:
    """The named fields a form sent (the API's strict serializers refuse anything else,
    such as the CSRF token); a field the form left out stays out, so "required" applies."""
    return {name: data[name] for name in names if name in data}


def flat(errors: Any) -> Errors:
    """A serializer's (or ``as_serializer_error``'s) errors as ``{field: [messages]}``, a
    message that names no field (DRF's ``non_field_errors``, Django's ``__all__``) under
    ``form``."""
    if isinstance(errors, list):
        return {NON_FIELD: [str(message) for message in errors]}
    result: Errors = {}
    for name, messages in dict(errors).items():
        key = NON_FIELD if name in ("non_field_errors", "__all__") else str(name)
        items = messages if isinstance(messages, list) else [messages]
        result.setdefault(key, []).extend(str(message) for message in items)
    return result


def errors_of(exc: ValidationError) -> Errors:
    """A service's ``ValidationError`` field by field, as the API reports it."""
    return flat(as_serializer_error(exc))


def validated(serializer_class: type[Serializer], data: QueryDict, **kwargs: Any) -> tuple[dict, Errors]:
    """``data``'s fields checked by the API's ``serializer_class``: ``(values, {})`` or
    ``({}, errors)``."""
    writable = [name for name, field in serializer_class().fields.items() if not field.read_only]
    form = serializer_class(data=picked(data, writable), **kwargs)
    if form.is_valid():
        return dict(form.validated_data), {}
    return {}, flat(form.errors)


def throttle_wait(request: HttpRequest, scope: str) -> int | None:
    """Counts this post against the API's throttle ``scope`` (``login``, ``register``),
    sharing its budget: seconds to wait when it is spent, else None."""
    throttle = ScopedRateThrottle()
    if throttle.allow_request(request, SimpleNamespace(throttle_scope=scope)):
        return None
    return max(1, math.ceil(throttle.wait() or 1))


def wait_message(seconds: int) -> str:
    """"Too many attempts" in words a person reads: minutes once it is more than one."""
    if seconds <= 60:
        return f"Too many attempts from your address: try again in {seconds} seconds."
    return f"Too many attempts from your address: try again in {math.ceil(seconds / 60)} minutes."
