"""What keeps an audit changelist fast over millions of rows.

``AuditAdminMixin`` (on top of ``ReadOnlyAdminMixin``) gives an admin of a big table:

- **Date drill-down from indexed bounds.** Django's ``date_hierarchy`` finds the years,
  months and days that hold rows with ``SELECT DISTINCT`` of a truncated date over the
  whole filtered set (on SQLite a Python function called per row). Here the levels are
  the years, months and days between the table's first and last rows, read with two
  seeks of the date column's index (``django-admin-lightweight-date-hierarchy`` renders
  them); choosing one filters with a range on that index, as Django does.
- **Search that an index serves** (``AuditSearch``): digits are ids, matched exactly; other
  text is a symbol or its start (resolved against the small markets table), a bot's or an
  owner's name or part of it (resolved in the bots table, then matched by bot id), or an
  exact legacy or exchange id. Never ``LIKE '%q%'`` over the big table. The search box's
  help says what it matches.
- **Pages and counts that stay cheap** (``AuditPaginator``): a page's ids first, then its
  rows; a filtered set counted up to a cap ("100,000+"), a whole big PostgreSQL table
  from the planner's estimate ("about …").

``ledger`` is the lowest layer: other apps' models are reached through ``_meta`` only.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from ledger.admin_tools import ReadOnlyAdminMixin

# Past this many bots (or accounts) matching a name, the ids are matched by a subquery.
_NAME_IDS_LIMIT = 500
_BIGINT_MAX = 2**63 - 1
_SYMBOL = re.compile(r"[A-Za-z0-9]{1,32}")
_EMPTY = mark_safe(admin.site.empty_value_display)


@dataclass(frozen=True)
class AuditSearch:
    """What an audit changelist's search matches, each through an index.

    ``ids``: integer columns matched exactly by a term of digits (``"id"``, ``"turn_id"``).
    ``exact``: text columns matched exactly (``"legacy_id"``; each with an index).
    ``symbol``: the symbol column, matched by the markets whose symbol starts with the term
    (and the term itself, upper-cased, for a symbol no longer listed).
    ``names``: paths to names in a small related table (``"bot__name"``,
    ``"account__bot__name"``): the rows of that table whose name contains the term are
    found first, then the big table is matched by their ids.
    ``symbols``: the symbols to match a term's start against (the markets table's).
    ``help``: what the search box says it matches.
    """

    help: str
    ids: tuple[str, ...] = ("id",)
    exact: tuple[str, ...] = ()
    symbol: str = ""
    names: tuple[str, ...] = ()
    symbols: Callable[[], Iterable[str]] | None = None

    def condition(self, model: type[Model], term: str) -> Q | None:
        """The condition matching ``term`` (None: nothing can match it)."""
        term = term.strip()
        if not term:
            return Q()
        if term.isascii() and term.isdigit():  # not "²" or "٣", which str.isdigit() also accepts
            value = int(term)
            if value > _BIGINT_MAX:
                return None
            return _any(Q(**{name: value}) for name in self.ids)
        found = []
        if self.exact:  # asked first, and only kept when it matches: an OR would cost the order's index
            exact = _any(Q(**{f"{name}__exact": term}) for name in self.exact)
            ids = list(model._default_manager.filter(exact).values_list("pk", flat=True)[:_NAME_IDS_LIMIT])
            if ids:
                found.append(Q(pk__in=ids))
        if self.symbol and _SYMBOL.fullmatch(term):
            wanted = term.upper()
            symbols = {s for s in (self.symbols() if self.symbols else ()) if s.startswith(wanted)} | {wanted}
            found.append(Q(**{f"{self.symbol}__in": sorted(symbols)}))
        hops: dict[str, list[str]] = {}
        for path in self.names:
            hop, _, rest = path.partition("__")
            hops.setdefault(hop, []).append(rest)
        for hop, names in hops.items():
            found.extend(_name_match(model, hop, names, term))
        return _any(found)


def _any(conditions: Iterable[Q]) -> Q | None:
    combined = None
    for condition in conditions:
        combined = condition if combined is None else combined | condition
    return combined


def _name_match(model: type[Model], hop: str, names: list[str], term: str) -> list[Q]:
    """``bot`` and ``["name", "owner__username"]`` on trades: one query for the bots whose
    name or owner's username contains ``term``, then ``bot__in`` those ids."""
    related = model._meta.get_field(hop).related_model
    condition = _any(Q(**{f"{name}__icontains": term}) for name in names)
    matching = related._default_manager.filter(condition).order_by().values_list("pk", flat=True)
    ids = list(matching[: _NAME_IDS_LIMIT + 1])
    if not ids:
        return []
    return [Q(**{f"{hop}__in": ids if len(ids) <= _NAME_IDS_LIMIT else matching})]


class AtLeast(int):
    """A count that stopped at its cap: shown as "100,000+" (in the list's footer, its
    "Select all" link), used as the number in the pagination's arithmetic."""

    def __str__(self) -> str:
        return f"{int(self):,}+"


class About(int):
    """A count from the planner's estimate: shown as "about 2,499,970"."""

    def __str__(self) -> str:
        return f"about {int(self):,}"


class AuditPaginator(Paginator):
    """A paginator for big tables.

    A page is read in two steps: the ids of its rows first (``SELECT id … ORDER BY …
    LIMIT 100 OFFSET n``, which an index on the filter and the ordering answers without
    visiting a row: skipping to page 500 or sorting a filtered set walks index entries
    only), then those rows by primary key, with what they join.

    Counting stays bounded: a filtered set is counted up to ``COUNT_CAP`` rows (``SELECT
    COUNT(*) FROM (SELECT 1 … LIMIT cap + 1)``) and a bigger one is shown as "100,000+",
    paged up to the cap (a date or a narrower filter pages further); a whole table is
    counted exactly (SQLite counts a b-tree without reading its rows) except a big
    PostgreSQL one, which is the planner's estimate (``pg_class.reltuples``, kept by
    autovacuum and ``ANALYZE``), shown as "about …": an exact ``COUNT(*)`` there reads
    every row.
    """

    COUNT_CAP = 100_000
    ESTIMATE_FROM = 1_000_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count
        if not queryset.query.where:
            estimate = _estimated_rows(queryset)
            if estimate is not None and estimate >= self.ESTIMATE_FROM:
                return About(estimate)
            return queryset.count()
        counted = queryset.order_by()[: self.COUNT_CAP + 1].count()
        return AtLeast(self.COUNT_CAP) if counted > self.COUNT_CAP else counted

    def _get_page(self, object_list: Any, number: int, paginator: Paginator) -> Any:
        # Django's page() hands over the page's slice of the queryset: its ids, then its rows
        # (a queryset with computed columns is read as Django reads it).
        if isinstance(object_list, QuerySet) and not object_list.query.annotations:
            ids = list(object_list.values_list("pk", flat=True))
            found = {obj.pk: obj for obj in _rows_of(object_list, ids)}
            object_list = [found[pk] for pk in ids if pk in found]
        return super()._get_page(object_list, number, paginator)


def _rows_of(queryset: QuerySet, ids: list[Any]) -> QuerySet:
    """The rows ``ids`` with what ``queryset`` joins and defers, looked up by primary key
    only: the filters already chose them, and repeated here a planner may answer them by
    walking a filter's index instead of fetching the hundred rows."""
    rows = queryset.model._default_manager.db_manager(queryset.db).filter(pk__in=ids)
    rows.query.select_related = queryset.query.select_related
    rows.query.deferred_loading = queryset.query.deferred_loading
    return rows


def _estimated_rows(queryset: QuerySet) -> int | None:
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                       [queryset.model._meta.db_table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] > 0 else None


def date_bounds(model: type[Model], field: str) -> tuple[date, date] | None:
    """The local dates of the first and last values of ``field``: two index seeks."""
    rows = model._default_manager.filter(**{f"{field}__isnull": False}).values_list(field, flat=True)
    first = rows.order_by(field).first()
    if first is None:
        return None
    last = rows.order_by(f"-{field}").first()
    return _local_date(first), _local_date(last)


def _local_date(value: Any) -> date:
    if hasattr(value, "tzinfo") and timezone.is_aware(value):
        return timezone.localtime(value).date()
    return value.date() if hasattr(value, "date") else value


class AuditAdminMixin(ReadOnlyAdminMixin):
    """An audit changelist over a big table: drill-down by date from indexed bounds,
    indexed search, cheap counts. Set ``audit_search``; ``date_hierarchy`` names an
    indexed date column."""

    audit_search: AuditSearch = AuditSearch(help="A row's id (digits).")
    date_hierarchy_drilldown = False  # the lightweight tag: no DISTINCT over the rows
    paginator = AuditPaginator
    # "Show counts" would COUNT every choice of every filter over the whole filtered set.
    show_facets = admin.ShowFacets.NEVER

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj: Model) -> SafeString:
        # Django's own renders a form widget through the template engine, row by row: the
        # same markup, written directly.
        label = format_html(gettext("Select this object for an action - {}"), str(obj))
        return format_html('<input type="checkbox" name="{}" value="{}" class="action-select" '
                           'aria-label="{}">', helpers.ACTION_CHECKBOX_NAME, str(obj.pk), label)

    def get_empty_value_display(self) -> SafeString:
        return _EMPTY  # asked once per cell: the site's "-", made safe once

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return ("audit_search",)  # not a column: get_search_results below does the matching

    @property
    def search_help_text(self) -> str:  # type: ignore[override]
        return self.audit_search.help

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str
                           ) -> tuple[QuerySet, bool]:
        condition = self.audit_search.condition(self.model, search_term)
        if condition is None:
            return queryset.none(), False
        return queryset.filter(condition), False

    def get_date_hierarchy_drilldown(self, year_lookup: int | None, month_lookup: int | None) -> list[date]:
        bounds = date_bounds(self.model, self.date_hierarchy)
        if bounds is None:
            return []
        first, last = bounds
        if year_lookup is None:
            return [date(year, 1, 1) for year in range(first.year, last.year + 1)]
        if month_lookup is None:
            return [date(year_lookup, month, 1) for month in range(1, 13)
                    if (first.year, first.month) <= (year_lookup, month) <= (last.year, last.month)]
        days = calendar.monthrange(year_lookup, month_lookup)[1]
        return [day for day in (date(year_lookup, month_lookup, d) for d in range(1, days + 1))
                if first <= day <= last]
