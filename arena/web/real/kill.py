"""The kill switch in the browser: its panel (the dashboard's and ``/manage/kill-switch/``),
the engage and release posts, and the banner every signed-in page can show.

Both posts call ``arena.real`` with ``interface="web"``, which checks the admin role and
the re-entered password and records every change in the audit trail; the view only turns
its answer into a page. A wrong password is the form again with the error (nothing was
changed); a non-admin gets a 403 before the password is even looked at.
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from arena.real import kill_switch_engage, kill_switch_release
from arena.web.base import page, spectators_welcome
from arena.web.manage.access import admin_required
from arena.web.real.reads import KillState, kill_state

TEMPLATES = "web/real/"


class EngageForm(forms.Form):
    password = forms.CharField(label="Your password, again", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    close_positions = forms.BooleanField(label="Also close every real position at the market", required=False)


class ReleaseForm(forms.Form):
    password = forms.CharField(label="Your password, again", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


def engage_message(paused: list[int], closed: dict[int, list[str]]) -> str:
    """What engaging did, in words: the bots paused, and each close's notes."""
    text = (f"Kill switch engaged: {len(paused)} real bot{'' if len(paused) == 1 else 's'} paused; "
            "no real bot trades until it is released.")
    if closed:
        notes = "; ".join(f"bot {bot_id}: {', '.join(lines) or 'nothing open'}"
                          for bot_id, lines in sorted(closed.items()))
        text += f" Closing positions — {notes}."
    return text


def panel_context(state: KillState, *, engage: EngageForm | None = None, release: ReleaseForm | None = None,
                  alert: tuple[str, str] | None = None) -> dict[str, Any]:
    return {"kill": state, "engage_form": engage or EngageForm(), "release_form": release or ReleaseForm(),
            "kill_alert": alert}


def back_to(request: HttpRequest) -> str:
    """Where a plain form post returns: the form's ``next`` if it is on this site, else ``/``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return "/"


def _answer(request: HttpRequest, context: dict[str, Any], *, ok: bool, message: str) -> HttpResponse:
    """htmx: the panel again; a plain post: back where it came from when done, or the
    manage page with the form and its error when not."""
    if getattr(request, "htmx", False):
        # 200 either way: htmx swaps only a 2xx answer, and the panel carries the outcome.
        return page(request, TEMPLATES + "_kill_panel.html", context)
    if ok:
        messages.success(request, message)
        return HttpResponseRedirect(back_to(request))
    return page(request, TEMPLATES + "kill_switch.html", context, status=400)


def _refusal(form: forms.Form, done: str) -> str:
    """The alert over a refused form: what did not happen, and why when no field says it
    (the switch was not engaged, say), since the form that comes back may be the other one."""
    why = " ".join(form.non_field_errors())
    return f"The kill switch was not {done}{': ' + why if why else '.'}"


@admin_required
@require_POST
def engage_view(request: HttpRequest) -> HttpResponse:
    """POST: engage the switch (``password``, ``close_positions``)."""
    form = EngageForm(request.POST)
    if form.is_valid():
        try:
            report = kill_switch_engage(actor=request.user, password=form.cleaned_data["password"],
                                        close_positions=form.cleaned_data["close_positions"],
                                        interface="web", now=timezone.now())
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            message = engage_message(list(report.paused), dict(report.closed))
            return _answer(request, panel_context(kill_state(), alert=("success", message)), ok=True,
                           message=message)
    context = panel_context(kill_state(), engage=form, alert=("error", _refusal(form, "engaged")))
    return _answer(request, context, ok=False, message="")


@admin_required
@require_POST
def release_view(request: HttpRequest) -> HttpResponse:
    """POST: release the switch (``password``); the paused bots stay paused."""
    form = ReleaseForm(request.POST)
    if form.is_valid():
        try:
            kill_switch_release(actor=request.user, password=form.cleaned_data["password"], interface="web",
                                now=timezone.now())
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            message = "Kill switch released. The real bots stay paused: their owners resume them."
            return _answer(request, panel_context(kill_state(), alert=("success", message)), ok=True,
                           message=message)
    context = panel_context(kill_state(), release=form, alert=("error", _refusal(form, "released")))
    return _answer(request, context, ok=False, message="")


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    """The service's refusal on the form: a field's message under that field, the rest on top."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, " ".join(exc.messages))


@admin_required
@require_GET
def manage_view(request: HttpRequest) -> HttpResponse:
    """GET /manage/kill-switch/: the panel on a page of its own; htmx gets the panel alone."""
    return page(request, TEMPLATES + "kill_switch.html", panel_context(kill_state()),
                fragment=TEMPLATES + "_kill_panel.html")


@require_GET
def banner_view(request: HttpRequest) -> HttpResponse:
    """The banner, re-fetched on ``arena:kill_switch``: public, as that event is (the
    arena's sign-in rule still holds)."""
    if not request.user.is_authenticated and not spectators_welcome():
        return HttpResponse(status=403)
    return page(request, TEMPLATES + "_kill_banner.html", {"kill": kill_state()})
