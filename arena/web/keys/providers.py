"""/providers/: a user's LLM providers (admins: everyone's, as in the API): the list with
each one's key state, bots and health; add, edit, delete (with a confirmation step); and
"Test connection", the API's probe (``bots.providers.probe``) under the same per-user
throttle. Validation is the API's (``arena.api.providers`` serializers) and writes are its
services (``bots.services``): a page and the API cannot disagree."""
from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.throttling import ScopedRateThrottle

from arena.api.base import is_admin
from arena.api.providers import ProviderSerializer, ProviderUpdateSerializer
from arena.web.base import login_required, page
from arena.web.keys.forms import (
    Errors,
    Field,
    changed,
    confirm_delete,
    errors_of,
    general_errors,
    json_object,
    posted,
    with_errors,
)
from arena.web.keys.health import health_of, with_health
from bots import services as bot_services
from bots.models import Bot, LLMProvider
from bots.providers.probe import ProbeResult, provider_probe
from bots.selectors import providers_of

EDITABLE = ["name", "base_url", "model", "api_key", "input_price_per_mtok", "output_price_per_mtok",
            "timeout_seconds", "max_retries", "options"]
ADVANCED = {"input_price_per_mtok", "output_price_per_mtok", "timeout_seconds", "max_retries", "options"}
# What each kind needs, shown beside the kind select (the model's own rules, LLMProvider.clean).
KIND_NEEDS = {
    "openai": ("A base URL ending in /v1 (https://api.openai.com/v1, https://api.x.ai/v1, "
               "https://api.deepseek.com/v1, or your own server's), the model name and an API key."),
    "anthropic": "The host only (https://api.anthropic.com), the model name and an API key.",
    "gemini": ("A base URL ending in /v1beta (https://generativelanguage.googleapis.com/v1beta), "
               "the model name and an API key."),
    "scripted": ("No base URL and no key: the model is the strategy's name (momentum, mean_reversion, …). "
                 "Runs offline."),
}


def _scope(request: HttpRequest):
    return providers_of(user_id=request.user.pk, see_all=is_admin(request.user))


def _provider(request: HttpRequest, pk: int) -> LLMProvider:
    """The user's provider (an admin's: any); another user's is a 404."""
    return get_object_or_404(_scope(request), pk=pk)


def _rows(request: HttpRequest) -> list[dict[str, Any]]:
    active_bots = Prefetch("bots", queryset=Bot.objects.filter(is_active=True).order_by("name"),
                           to_attr="active_bots")
    providers = with_health(_scope(request)).select_related("owner").prefetch_related(active_bots)
    return [{"provider": p, "has_key": ProviderSerializer(p).data["has_api_key"], "health": health_of(p),
             "others": p.owner_id != request.user.pk}
            for p in providers.order_by("-is_active", "name", "pk")]


def _list(request: HttpRequest, **extra: Any) -> HttpResponse:
    return page(request, "web/keys/providers.html", {"rows": _rows(request), **extra},
                fragment="web/keys/_probe.html" if "probe_for" in extra else None)


@login_required
def provider_list(request: HttpRequest) -> HttpResponse:
    return _list(request)


class _ProbeView:
    """What ``ScopedRateThrottle`` reads of a view: the API's probe scope, so the page and
    ``POST /api/providers/{id}/test/`` spend one budget per user."""

    throttle_scope = "probe"


def probe_wait(request: HttpRequest) -> int | None:
    """None if the user may test a connection now (counting this one), else the seconds to wait."""
    throttle = ScopedRateThrottle()
    if throttle.allow_request(request, _ProbeView()):
        return None
    return max(1, round(throttle.wait() or 1))


@login_required
@require_POST
def provider_test(request: HttpRequest, pk: int) -> HttpResponse:
    """Answers 200 either way (htmx swaps only 2xx): the result or the throttle says what happened."""
    provider = _provider(request, pk)
    wait = probe_wait(request)
    probe: ProbeResult | None = None if wait is not None else provider_probe(provider=provider)
    return _list(request, probe_for=provider.pk, probe=probe, probe_wait=wait, probed=provider)


def _fields(values: dict[str, str], *, kind: str | None, errors: Errors, has_key: bool) -> list[Field]:
    fields = [Field("name", "Name", values.get("name", ""), required=True, extra={"maxlength": "100"})]
    if kind is None:
        fields.append(Field("kind", "Kind", values.get("kind", "openai"), input="select", required=True,
                            choices=list(LLMProvider.Kind.choices)))
    fields += [
        Field("base_url", "Base URL", values.get("base_url", ""), input="url",
              help="Blank for the scripted provider. The server calls only https URLs of public hosts "
                   "(or what the arena's settings allow).", extra={"placeholder": "https://api.openai.com/v1"}),
        Field("model", "Default model", values.get("model", ""), required=True,
              help="The vendor's model name, or the scripted strategy's name.",
              extra={"placeholder": "gpt-4o-mini"}),
        Field("api_key", "API key", "", input="password",
              help=("A key is stored. Leave blank to keep it; type a new one to replace it." if has_key
                    else "Stored encrypted; never shown again, not even to you."),
              extra={"autocomplete": "new-password", "spellcheck": "false"}),
        Field("input_price_per_mtok", "Input price (USD per million tokens)",
              values.get("input_price_per_mtok", "0"), input="number", extra={"min": "0", "step": "any"}),
        Field("output_price_per_mtok", "Output price (USD per million tokens)",
              values.get("output_price_per_mtok", "0"), input="number", extra={"min": "0", "step": "any"}),
        Field("timeout_seconds", "Timeout (seconds)", values.get("timeout_seconds", "120"), input="number",
              extra={"min": "1", "max": "900"}),
        Field("max_retries", "Retries", values.get("max_retries", "3"), input="number",
              extra={"min": "0", "max": "10"}),
        Field("options", "Extra request parameters (JSON)", values.get("options", ""), input="textarea",
              help='Sent as they are, e.g. {"temperature": 0.2}.', extra={"rows": "3"}),
    ]
    return with_errors(fields, errors)


def _values_of(provider: LLMProvider) -> dict[str, str]:
    data = ProviderSerializer(provider).data
    values = {name: "" if data.get(name) is None else str(data[name])
              for name in EDITABLE if name != "options"}
    values["options"] = json_text(provider.options)
    return values


def json_text(options: Any) -> str:
    return json.dumps(options) if options else ""


def _form(request: HttpRequest, *, provider: LLMProvider | None, values: dict[str, str], errors: Errors,
          status: int = 200) -> HttpResponse:
    has_key = bool(provider and ProviderSerializer(provider).data["has_api_key"])
    fields = _fields(values, kind=provider.kind if provider else None, errors=errors, has_key=has_key)
    return page(request, "web/keys/provider_form.html", {
        "provider": provider, "fields": fields, "general_errors": general_errors(errors, fields),
        "advanced_open": any(f.errors for f in fields if f.name in ADVANCED),
        "kind_needs": [(kind, label, KIND_NEEDS[kind]) for kind, label in LLMProvider.Kind.choices],
        "selected_kind": provider.kind if provider else values.get("kind", "openai"),
    }, status=status)


def _submitted(request: HttpRequest, *, editing: bool) -> tuple[dict[str, Any], dict[str, str], Errors]:
    """(data for the serializer, the values to draw again, errors found before it)."""
    names = EDITABLE if editing else ["kind", *EDITABLE]
    values = posted(request.POST, names, secrets=("api_key",), keep_blank_secrets=editing)
    data: dict[str, Any] = dict(values)
    errors: Errors = {}
    if "options" in data:
        data["options"], problems = json_object(data["options"])
        if problems:
            errors["options"] = problems
    shown = {name: value for name, value in values.items() if name != "api_key"}
    return data, shown, errors


def _name_taken(name: str, *, owner_id: int, but: int | None = None) -> bool:
    """The owner's names are unique (bots_llmprovider_owner_name_unique): say so on the field
    rather than fail on the constraint."""
    rows = providers_of(user_id=owner_id).filter(name=name)
    return rows.exclude(pk=but).exists() if but else rows.exists()


@login_required
@require_http_methods(["GET", "POST"])
def provider_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form(request, provider=None, values={}, errors={})
    data, shown, errors = _submitted(request, editing=False)
    form = ProviderSerializer(data=data, context={"request": request})
    if not errors:
        errors = _created(request, form)
        if not errors:
            return redirect("web:providers")
    return _form(request, provider=None, values=shown, errors=errors, status=400)


def _created(request: HttpRequest, form: ProviderSerializer) -> Errors:
    """Create the provider as ``POST /api/providers/`` does; the errors if it was refused."""
    if not form.is_valid():
        return errors_of(form.errors)
    values = dict(form.validated_data)
    if _name_taken(values["name"], owner_id=request.user.pk):
        return {"name": ["You already have a provider with this name."]}
    try:
        provider = bot_services.provider_create(owner=request.user, **values)
    except DjangoValidationError as exc:
        return errors_of(exc)
    messages.success(request, f"Provider {provider.name} added.")
    return {}


@login_required
@require_http_methods(["GET", "POST"])
def provider_edit(request: HttpRequest, pk: int) -> HttpResponse:
    provider = _provider(request, pk)
    if request.method == "GET":
        return _form(request, provider=provider, values=_values_of(provider), errors={})
    data, shown, errors = _submitted(request, editing=True)
    form = ProviderUpdateSerializer(provider, data=data, partial=True, context={"request": request})
    if not errors:
        errors = _updated(request, provider, form)
        if not errors:
            return redirect("web:providers")
    return _form(request, provider=provider, values=shown, errors=errors, status=400)


def _updated(request: HttpRequest, provider: LLMProvider, form: ProviderUpdateSerializer) -> Errors:
    """Change the provider as ``PATCH /api/providers/{id}/`` does, sending only what changed."""
    if not form.is_valid():
        return errors_of(form.errors)
    current = {name: getattr(provider, name) for name in EDITABLE if name != "api_key"}
    changes = changed(current, dict(form.validated_data), always=("api_key",))
    if "name" in changes and _name_taken(changes["name"], owner_id=provider.owner_id, but=provider.pk):
        return {"name": ["You already have a provider with this name."]}
    try:
        if changes:
            provider = bot_services.provider_update(provider=provider, **changes)
    except DjangoValidationError as exc:
        return errors_of(exc)
    messages.success(request, f"Provider {provider.name} saved." if changes else "Nothing changed.")
    return {}


@login_required
@require_http_methods(["GET", "POST"])
def provider_delete(request: HttpRequest, pk: int) -> HttpResponse:
    provider = _provider(request, pk)
    using = list(Bot.objects.filter(provider=provider, is_active=True).order_by("name"))
    context = {"object": provider, "label": provider.name, "what": "provider", "using": using,
               "back": "web:providers",
               "action": "web:provider-delete",
               "consequence": "Its key is erased with it. A provider only deleted bots used is kept, "
                              "deactivated, so their history still names it."}
    return confirm_delete(request, context, lambda: bot_services.provider_delete(provider=provider),
                          f"Provider {provider.name}")
