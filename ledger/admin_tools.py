"""Shared pieces of the admin, which is an audit tool: a read-only mixin for the
records of what happened, a CSV export action, links between related records,
and write-only secret fields for the forms that hold keys.

``ledger`` is the lowest layer, so every app's admin may import this module; it
names other apps' models only through ``_meta`` and URL names, never imports.
"""
from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import helpers as admin_helpers
from django.contrib.admin import utils as admin_utils
from django.contrib.admin.templatetags import admin_list
from django.contrib.admin.views.main import ChangeList
from django.db import models
from django.db.models import Model, QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.debug import sensitive_post_parameters

# Columns that hold secrets (ciphertext included) never leave the database
# through the admin, whatever the model.
SECRET_SUFFIXES = ("_encrypted",)
SECRET_NAMES = frozenset({"password"})

# A spreadsheet runs a cell that starts with one of these as a formula; model
# replies and memos are untrusted text, so such cells are prefixed with a quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_secret_field(name: str) -> bool:
    return name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


# ---------------------------------------------------------------- CSV export


def csv_fields(model: type[Model]) -> list[models.Field]:
    """The model's concrete columns an export may carry: every one but secrets."""
    return [f for f in model._meta.concrete_fields if not is_secret_field(f.name)]


def csv_cell(value: Any) -> str:
    """One value as exact text: Decimals in plain notation, datetimes in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        # format "f" never switches to exponent notation ("0E-8" for a zero fee).
        return format(value, "f")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns the line, so rows can be streamed."""

    def write(self, value: str) -> str:
        return value


def csv_rows(queryset: QuerySet) -> Iterator[str]:
    """The header and one line per row, read in chunks rather than all at once, in the
    queryset's order (a changelist's: what the list shows, served by the index its pages
    use, so the first rows go out at once) or by id."""
    fields = csv_fields(queryset.model)
    writer = csv.writer(_Echo())
    yield writer.writerow([f.attname for f in fields])
    # values_list reads raw columns: no model instances, so no descriptor ever
    # decrypts a secret, and no foreign key costs a query.
    ordered = queryset if queryset.query.order_by else queryset.order_by("pk")
    rows = ordered.select_related(None).values_list(*[f.attname for f in fields])
    for row in rows.iterator(chunk_size=500):
        yield writer.writerow([csv_cell(value) for value in row])


@admin.action(description="Export selected as CSV", permissions=["view"])
def export_as_csv(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> StreamingHttpResponse:
    opts = queryset.model._meta
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response = StreamingHttpResponse(csv_rows(queryset), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{opts.app_label}_{opts.model_name}_{stamp}.csv"'
    )
    return response


# ---------------------------------------------------------------- links


# A changelist page links hundreds of rows: each admin URL is reversed once per name (and
# script prefix) with a sentinel id, which each link then replaces by its own quoted id.
_SENTINEL_PK = "2718281828459045"


@functools.lru_cache(maxsize=512)
def _url_pattern(name: str, prefix: str, urlconf: object, root: object) -> str:
    return reverse(name, args=[_SENTINEL_PK], urlconf=urlconf)


def admin_url(name: str, pk: object) -> str:
    """``reverse(name, args=[pk])`` for an admin object URL; an integer id (every table
    here) from the cached pattern."""
    if not isinstance(pk, int):
        return reverse(name, args=[pk])
    pattern = _url_pattern(name, get_script_prefix(), get_urlconf(), settings.ROOT_URLCONF)
    return pattern.replace(_SENTINEL_PK, str(pk), 1)


def change_url(obj: Model) -> str:
    opts = obj._meta
    return admin_url(f"admin:{opts.app_label}_{opts.model_name}_change", obj.pk)


def change_link(obj: Model | None, text: object = None) -> SafeString | None:
    """A link to ``obj``'s admin page (None, shown as "-", when there is no object)."""
    if obj is None:
        return None
    return format_html('<a href="{}">{}</a>', change_url(obj), obj if text is None else text)


def change_link_by_id(model_label: str, pk: int | None, text: object = None) -> SafeString | None:
    """A link from a foreign key's id alone (``"trading.position"``), costing no query."""
    if pk is None:
        return None
    app_label, model_name = model_label.split(".")
    url = admin_url(f"admin:{app_label}_{model_name}_change", pk)
    return format_html('<a href="{}">{}</a>', url, f"#{pk}" if text is None else text)


def changelist_link(model_label: str, text: object, **filters: object) -> SafeString:
    """A link to a changelist filtered by ``filters``, e.g. ``position__id__exact=5``."""
    app_label, model_name = model_label.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), text)


def object_links(queryset: QuerySet, limit: int = 20) -> SafeString | None:
    """One link per object, one per line; past ``limit`` an ellipsis, since a
    filtered changelist link beside it lists them all."""
    objects = list(queryset[: limit + 1])
    if not objects:
        return None
    lines = [(change_url(obj), f"#{obj.pk} {obj}") for obj in objects[:limit]]
    html = format_html_join(mark_safe("<br>"), '<a href="{}">{}</a>', lines)
    if len(objects) > limit:
        html = format_html("{}<br>…", html)
    return html


def bot_columns(path: str) -> tuple[Callable[[Model], Any], Callable[[Model], Any]]:
    """List columns linking the bot at ``path`` (``"bot"``, ``"account__bot"``)
    and its owner; the admin must select_related ``{path}__owner``."""

    def follow(obj: Model) -> Any:
        for part in path.split("__"):
            obj = getattr(obj, part)
        return obj

    @admin.display(description="bot", ordering=f"{path}__name")
    def bot(obj: Model) -> SafeString | None:
        return change_link(follow(obj))

    @admin.display(description="owner", ordering=f"{path}__owner__username")
    def owner(obj: Model) -> SafeString | None:
        return change_link(follow(obj).owner)

    return bot, owner


# ---------------------------------------------------------------- read-only admins


class _DeferringChangeList(ChangeList):
    """A changelist that leaves big text columns (prompts, replies) unread."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet:
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.defer(*self.model_admin.changelist_defer)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Django merges the list's filters into each row's link by resolving that link's URL
        # (add_preserved_filters), row by row; a change URL is never the changelist, so the
        # merge is this same query string on every row: built once, and Django's step skipped.
        self._row_query = urlencode(dict(parse_qsl(self.preserved_filters)))
        self.preserved_filters = ""

    def url_for_result(self, result: Model) -> str:
        if self.model_admin.admin_site.name != "admin":
            url = super().url_for_result(result)
        else:
            url = admin_url(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", result.pk)
        return f"{url}?{self._row_query}" if self._row_query else url


class ReadOnlyAdminMixin:
    """An admin for records of what happened: viewable and exportable, never
    added, changed or deleted here.

    Refusing the permissions (not only hiding buttons) makes Django answer 403
    to any GET or POST of the add and delete views and to a POST of the change
    view, and drops the bulk ``delete_selected`` action.
    """

    actions: tuple[Callable[..., Any], ...] = (export_as_csv,)
    # Text columns too big to read for a page of rows; the change page reads them.
    changelist_defer: tuple[str, ...] = ()
    # A filtered page skips the second COUNT(*) over the whole table.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        actions.pop("delete_selected", None)
        return actions

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _DeferringChangeList


# ---------------------------------------------------------------- decimals for people


def decimal_display(value: Decimal) -> str:
    """``627.040000000000`` → ``627.04``, ``100.00`` → ``100``: trailing zeros dropped,
    never an exponent, sign kept, every significant digit shown (the DB value is exact)."""
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "+0"):
        text = "0"
    if not settings.USE_THOUSAND_SEPARATOR and formats.get_format("DECIMAL_SEPARATOR") == ".":
        return text  # what number_format would give, without its per-cell locale work
    return formats.number_format(Decimal(text))


@functools.cache
def _choices_of(field: models.Field) -> dict[Any, Any] | None:
    """A field's choices as a dict, built once (Django builds it again for every cell)."""
    try:
        return dict(field.flatchoices) if getattr(field, "flatchoices", None) else None
    except TypeError:  # list-like choices: Django's own path handles them
        return None


def _display_for_field(value: Any, field: Any, empty_value_display: str, *args: Any, **kwargs: Any) -> Any:
    # The cells of a changelist page, in the order they are common: what Django would
    # show, without its per-cell work (a dict of the choices, locale lookups for an int).
    choices = _choices_of(field) if isinstance(field, models.Field) else None
    if choices is not None:
        try:
            return choices.get(value, empty_value_display)
        except TypeError:  # an unhashable value
            return admin_utils.display_for_field(value, field, empty_value_display, *args, **kwargs)
    if getattr(field, "flatchoices", None):  # list-like choices: Django's own path
        return admin_utils.display_for_field(value, field, empty_value_display, *args, **kwargs)
    if isinstance(value, Decimal) and value.is_finite():
        return decimal_display(value)
    if type(value) is int and isinstance(field, models.IntegerField) and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)
    return admin_utils.display_for_field(value, field, empty_value_display, *args, **kwargs)


def _display_for_value(value: Any, empty_value_display: str, *args: Any, **kwargs: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return decimal_display(value)
    return admin_utils.display_for_value(value, empty_value_display, *args, **kwargs)


# Every admin page shows a field's value through these two names (changelist cells in
# ``admin_list``, read-only fields of change pages in ``helpers``); pointing them at the
# wrappers above makes every admin of every app show decimals one way, from one place.
admin_list.display_for_field = _display_for_field
admin_list.display_for_value = _display_for_value
admin_helpers.display_for_field = _display_for_field


# ---------------------------------------------------------------- write-only secrets


def secret_input(label: str) -> forms.CharField:
    """A key field that is empty on every render; blank keeps the stored value."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only. Leave blank to keep the stored value; type a new one to replace it.",
    )


def clear_checkbox(label: str) -> forms.BooleanField:
    return forms.BooleanField(label=f"Clear {label}", required=False)


class WriteOnlySecretsForm(forms.ModelForm):
    """A model form whose ``secret_fields`` (plaintext descriptors over
    ``*_encrypted`` columns) are written but never read back into the page.

    Subclasses declare, for each name in ``secret_fields``, ``name =
    secret_input(...)`` and ``clear_<name> = clear_checkbox(...)``. When every
    secret is entered anew, ``key_needs_reentry`` is cleared.
    """

    secret_fields: tuple[str, ...] = ()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in self.secret_fields:
            if cleaned.get(name) and cleaned.get(f"clear_{name}"):
                self.add_error(f"clear_{name}", "Either type a new value or clear it, not both.")
        return cleaned

    def save(self, commit: bool = True) -> Model:
        self._apply_secrets(self.instance)
        return super().save(commit)

    def _apply_secrets(self, instance: Model) -> None:
        entered = 0
        for name in self.secret_fields:
            value = self.cleaned_data.get(name)
            if value:
                setattr(instance, name, value)  # the descriptor stores ciphertext only
                entered += 1
            elif self.cleaned_data.get(f"clear_{name}"):
                setattr(instance, name, "")
        if entered and entered == len(self.secret_fields) and hasattr(instance, "key_needs_reentry"):
            instance.key_needs_reentry = False


class WriteOnlySecretsAdminMixin:
    """Keeps the typed secrets out of error reports (as UserAdmin does for passwords)."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        view = super().changeform_view  # type: ignore[misc]
        secrets = self.form.secret_fields  # type: ignore[attr-defined]
        return sensitive_post_parameters(*secrets)(view)(request, *args, **kwargs)
