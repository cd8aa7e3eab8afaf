"""The arena-settings form as data, from ``arena_settings_specs()`` (the same description
/api/settings/metadata/ gives): what each input shows, and how the posted text becomes
the values ``ArenaSettingsSerializer`` checks. Pure: no database, no request."""
from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.http import QueryDict

from arena.selectors import Bound, SettingSpec

LIST_SEPARATORS = re.compile(r"[\s,]+")
# A maximum this large is the database column's, not a rule worth stating.
NO_PRACTICAL_MAX = Decimal(2**31 - 1)
ACRONYMS = {"usdt": "USDT", "bps": "bps", "api": "API"}


def decimal_text(value: Any) -> str:
    """"0.00050000" → "0.0005", "10000.00000000" → "10000": what a person types."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def is_list(spec: SettingSpec) -> bool:
    """A JSON setting holding a list of words (symbols, host names): edited one per line."""
    return spec.type == "json" and isinstance(spec.default, list)


def value_text(spec: SettingSpec, value: Any) -> str:
    """A setting's value (as the serializer represents it) as its input's text."""
    if value is None:
        return ""
    if spec.type == "decimal":
        return decimal_text(value)
    if is_list(spec) and isinstance(value, list):
        return "\n".join(str(item) for item in value)
    if spec.type == "json":
        return json.dumps(value)
    return str(value)


def _bound_text(bound: Bound, *, lower: bool) -> str:
    if lower:
        return f"{'above' if bound.exclusive else 'at least'} {decimal_text(bound.value)}"
    return f"{'below' if bound.exclusive else 'at most'} {decimal_text(bound.value)}"


def label_text(label: str) -> str:
    """"min trade usdt" → "Min trade USDT": a model field's verbose name as a form label."""
    words = [ACRONYMS.get(word, word) for word in label.split()]
    return " ".join(words)[:1].upper() + " ".join(words)[1:] if words else label


def range_text(spec: SettingSpec) -> str:
    """"Above 0, at most 1." — the range the API and the database enforce, in words (a
    column's own integer limit left out)."""
    parts = []
    if spec.min is not None:
        parts.append(_bound_text(spec.min, lower=True))
    if spec.max is not None and spec.max.value < NO_PRACTICAL_MAX:
        parts.append(_bound_text(spec.max, lower=False))
    return (", ".join(parts).capitalize() + ".") if parts else ""


def default_text(spec: SettingSpec) -> str:
    if spec.type == "boolean":
        return "on" if spec.default else "off"
    if is_list(spec):
        return ", ".join(str(item) for item in spec.default) or "empty"
    return value_text(spec, spec.default)


def input_of(spec: SettingSpec) -> str:
    """The kind of input: checkbox, select, textarea, number or text."""
    if spec.choices:
        return "select"
    if spec.type == "boolean":
        return "checkbox"
    if spec.type == "json":
        return "textarea"
    if spec.type == "integer":
        return "number"
    return "text"


def field_rows(specs: list[SettingSpec], values: dict[str, Any], errors: dict[str, list[str]],
               posted: QueryDict | None = None) -> list[dict[str, Any]]:
    """One row per setting for the template: label, help, range, default, current text
    (what was posted, when the form comes back with errors), its input and its errors."""
    rows = []
    for spec in specs:
        if posted is not None:
            checked = spec.name in posted
            text = posted.get(spec.name, "")
        else:
            checked = values.get(spec.name) is True
            text = value_text(spec, values.get(spec.name))
        checked = checked and spec.type == "boolean"
        rows.append({
            "name": spec.name, "label": label_text(spec.label), "help": spec.help_text,
            "range": range_text(spec), "default": default_text(spec), "input": input_of(spec),
            "text": text, "checked": checked, "errors": errors.get(spec.name, []),
            "min": decimal_text(spec.min.value) if spec.min is not None and not spec.min.exclusive else "",
            "max": decimal_text(spec.max.value) if spec.max is not None and not spec.max.exclusive
            and spec.max.value < NO_PRACTICAL_MAX else "",
            "lines": max(3, text.count("\n") + 2),
            "step": "any" if spec.type == "decimal" else "1",
            "list": is_list(spec), "choices": [(str(v), label) for v, label in spec.choices or []],
        })
    return rows


def posted_values(specs: list[SettingSpec], posted: QueryDict) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The form's text as the data a PATCH /api/settings/ would carry: a checkbox left
    unticked is false, a list is its words (one per line or comma-separated), other JSON is
    parsed; ``(data, errors)`` — an error only for JSON that does not parse."""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for spec in specs:
        if spec.type == "boolean":
            data[spec.name] = spec.name in posted
        elif is_list(spec):
            data[spec.name] = [word for word in LIST_SEPARATORS.split(posted.get(spec.name, "")) if word]
        elif spec.type == "json":
            try:
                data[spec.name] = json.loads(posted.get(spec.name, ""))
            except ValueError:
                errors[spec.name] = ["Not valid JSON."]
        elif spec.name in posted:
            data[spec.name] = posted[spec.name].strip()
    return data, errors
