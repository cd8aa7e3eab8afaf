"""Exact arithmetic on money columns on every database.

PostgreSQL's numeric is exact. SQLite keeps decimals as binary floating point,
so its ``SUM()`` drifts (1E-8 comes back as 1.00004662E-8; 250,000 entries
drift by ~1e-7) and "balance = Σ entries" could never be checked to the unit.
Money is therefore summed as whole numbers of 1e-8 USDT — exact in SQLite's
64-bit integers up to ~9e10 USDT — and converted back.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import DecimalField, Func, Sum, Value
from django.db.models.functions import Coalesce

from ledger.values import MONEY_PLACES

UNITS_PER_USDT = 10**MONEY_PLACES  # one unit is the journal's precision, 1e-8 USDT
UNITS_FIELD = DecimalField(max_digits=40, decimal_places=0)


class Units(Func):
    """A money expression as a whole number of 1e-8 USDT, so sums and differences
    compare exactly (an INTEGER on SQLite, numeric on PostgreSQL)."""

    template = f"ROUND(%(expressions)s * {UNITS_PER_USDT})"
    output_field = UNITS_FIELD

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = f"CAST(ROUND(%(expressions)s * {UNITS_PER_USDT}) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)


ZERO_UNITS = Value(0, output_field=UNITS_FIELD)


def from_units(units: Decimal | int | None) -> Decimal | None:
    return None if units is None else Decimal(int(units)).scaleb(-MONEY_PLACES)


def units_sum(path: str, **options: Any) -> Coalesce:
    """``SUM`` of a money column in units, 0 over no rows: for exact comparisons in SQL."""
    return Coalesce(Sum(Units(path), **options), ZERO_UNITS, output_field=UNITS_FIELD)


class MoneySum(Sum):
    """``SUM`` of a money column (8 decimal places), exact on SQLite and PostgreSQL."""

    def __init__(self, expression: Any, **extra: Any) -> None:
        super().__init__(Units(expression), output_field=UNITS_FIELD, **extra)

    def get_db_converters(self, connection: Any) -> list:
        return [self._convert]

    @staticmethod
    def _convert(value: Any, expression: Any, connection: Any) -> Decimal | None:
        return from_units(value)
