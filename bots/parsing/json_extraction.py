"""Finding the decisions' JSON in a messy reply: fences, prose, wrappers, repairs, cut-offs."""
from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any

from bots.parsing.vocabulary import (
    ACTION_KEYS,
    MAX_REPAIRS,
    MAX_REPLY_CHARS,
    MAX_STARTS,
    QUOTE,
    SIDE_KEYS,
    WRAPPER_KEYS,
    field_key,
)


class _JsonObject(dict):
    """A decoded JSON object that remembers keys it was given twice with different values."""

    repeated: frozenset[str] = frozenset()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _JsonObject:
        obj = cls()
        repeated = set()
        for key, value in pairs:
            if key in obj and obj[key] != value:
                repeated.add(key)
            obj[key] = value
        obj.repeated = frozenset(repeated)
        return obj


# strict=False lets raw newlines through inside strings (multi-line reasoning is common);
# floats become Decimal so "0.1" stays 0.1; NaN and Infinity become non-finite Decimals
# that validation refuses.
_DECODER = json.JSONDecoder(
    parse_float=Decimal, parse_constant=Decimal, object_pairs_hook=_JsonObject.from_pairs, strict=False
)
_START = re.compile(r"[\[{]")
_SPACE = re.compile(r"\s*")
_THINKING_ENDS = ("</think>", "</thinking>")
_REPAIRABLE = re.compile(
    r"""(?P<dq>"(?:[^"\\]|\\.)*")
      | (?P<sq>'(?:[^'\\\n]|\\.)*')
      | (?P<comma>,)(?=\s*[\]}])
      | (?P<comment>//[^\n]*)
      | (?P<word>\b(?:True|False|None)\b)
      | (?P<key>(?<=[{,])\s*[A-Za-z_][A-Za-z0-9_]*(?=\s*:))""",
    re.X | re.S,
)
_PYTHON_WORDS = {"True": "true", "False": "false", "None": "null"}


@dataclass
class _WorkBudget:
    starts: int = MAX_STARTS
    repairs: int = MAX_REPAIRS


def decode_json_at(text: str, index: int) -> tuple[Any, int] | None:
    """The JSON value starting at ``index`` and where it ends, or None when none starts there."""
    try:
        return _DECODER.raw_decode(text, index)
    except (ValueError, RecursionError):
        return None  # no JSON value starts here; the caller tries the next start


def _requote_escape(escape: re.Match[str]) -> str:
    return {"\\'": "'", '"': '\\"'}.get(escape.group(), escape.group())


def _repair_token(match: re.Match[str], source: str) -> str:
    kind, token = match.lastgroup, match.group()
    if kind == "sq":
        before = match.start() - 1
        while before >= 0 and source[before].isspace():
            before -= 1
        if before < 0 or source[before] not in "{[,:":
            return token  # an apostrophe in prose, not a string
        return '"' + re.sub(r'\\.|"', _requote_escape, token[1:-1]) + '"'
    if kind in ("comma", "comment"):
        return ""
    if kind == "word":
        return _PYTHON_WORDS[token]
    if kind == "key":
        name = token.lstrip()
        return f'{token[: len(token) - len(name)]}"{name}"'
    return token  # a JSON string: kept as it is


def _repair_json(source: str) -> tuple[str, list[int], list[int]]:
    """``source`` with trailing commas, ``//`` comments, single-quoted strings, bare keys
    and Python's True/False/None made JSON; plus checkpoints mapping positions back."""
    pieces, new_marks, old_marks = [], [0], [0]
    last = length = 0
    for match in _REPAIRABLE.finditer(source):
        replacement = _repair_token(match, source)
        if replacement == match.group():
            continue
        pieces += [source[last : match.start()], replacement]
        length += match.start() - last + len(replacement)
        last = match.end()
        new_marks.append(length)
        old_marks.append(last)
    pieces.append(source[last:])
    return "".join(pieces), new_marks, old_marks


def _decode_json_value(text: str, start: int, budget: _WorkBudget) -> tuple[Any, int, bool] | None:
    """The JSON value starting at ``start``, its end in ``text``, and whether it needed repair."""
    decoded = decode_json_at(text, start)
    if decoded is not None:
        return decoded[0], decoded[1], False
    if budget.repairs <= 0:
        return None
    budget.repairs -= 1
    repaired, new_marks, old_marks = _repair_json(text[start:])
    decoded = decode_json_at(repaired, 0)
    if decoded is None:
        return None
    checkpoint = bisect.bisect_right(new_marks, decoded[1]) - 1
    end = start + old_marks[checkpoint] + decoded[1] - new_marks[checkpoint]
    return decoded[0], end, True


def _decision_list_in(value: Any, depth: int = 0) -> list[Any] | None:
    """The decision items ``value`` holds, or None when it is not decisions at all."""
    if isinstance(value, list):
        return value if not value or any(isinstance(item, dict) for item in value) else None
    if not isinstance(value, dict) or depth > 3:
        return None
    by_name = {field_key(key): inner for key, inner in value.items()}
    for name in WRAPPER_KEYS:
        inner = by_name.get(name)
        found = _decision_list_in(inner, depth + 1) if isinstance(inner, list | dict) else None
        if found is not None:
            return found
    if any(isinstance(by_name.get(name), str) for name in (*ACTION_KEYS, *SIDE_KEYS, "symbol")):
        return [value]
    lists = [inner for inner in value.values() if isinstance(inner, list) and _decision_list_in(inner)]
    if len(lists) == 1:
        return lists[0]
    if len(value) == 1:
        return _decision_list_in(next(iter(value.values())), depth + 1)
    return None


@dataclass(frozen=True)
class _Candidate:
    items: list[Any]
    repaired: bool = False
    salvaged: bool = False  # the complete decisions of a list that breaks off


# A list of objects, bare or as the first field of a wrapper: {"decisions": [{
_LIST_OPENING = re.compile(r'(\{\s*"[^"\n]{0,40}"\s*:\s*)?\[\s*(?=\{)')


def _salvage_cut_list(text: str, start: int) -> tuple[list[Any], int]:
    """The complete objects of a list at ``start`` that breaks off (``[{...}, {"act``),
    and where the last of them ends."""
    opening = _LIST_OPENING.match(text, start)
    if opening is None:
        return [], start
    items: list[Any] = []
    index = end = opening.end()
    while True:
        decoded = decode_json_at(text, index)
        if decoded is None or not isinstance(decoded[0], dict):
            break
        items.append(decoded[0])
        end = _SPACE.match(text, decoded[1]).end()
        if not text.startswith(",", end):
            break
        index = _SPACE.match(text, end + 1).end()
    return items, end


def _scan_for_decisions(text: str, budget: _WorkBudget) -> Iterator[_Candidate]:
    """Each decision-bearing JSON value in ``text``, in order."""
    resume = 0
    for match in _START.finditer(text):
        start = match.start()
        if start < resume:
            continue  # inside a value already read: its parts are not separate blocks
        if budget.starts <= 0:
            return
        budget.starts -= 1
        decoded = _decode_json_value(text, start, budget)
        if decoded is None:
            # Cut off mid-way (a length limit) or broken later on: keep what is whole.
            salvaged, resume = _salvage_cut_list(text, start)
            if salvaged:
                yield _Candidate(salvaged, salvaged=True)
            continue
        value, resume, repaired = decoded
        items = _decision_list_in(value)
        if items is not None:
            yield _Candidate(items, repaired)


def _search_regions(text: str) -> list[list[str]]:
    """Where to look, best first: the code fences' contents (a trailing unclosed fence
    included: a reply cut off inside its fence), then the whole text."""
    parts = text.split("```")
    return [parts[1::2][:20], [text]] if len(parts) > 1 else [[text]]


def _find_decisions(text: str, notes: list[str]) -> list[Any] | None:
    budget = _WorkBudget()
    for regions in _search_regions(text):
        found: list[_Candidate] = []
        for region in regions:
            found += islice(_scan_for_decisions(region, budget), 6 - len(found))
        if not found:
            continue
        # An empty list is a hold, unless real decisions follow (a "[]" in prose).
        chosen = next((candidate for candidate in found if candidate.items), found[0])
        if chosen.repaired:
            notes.append("the JSON needed repair (trailing commas, single quotes or comments) to be read")
        if chosen.salvaged:
            count = len(chosen.items)
            notes.append(
                f"the reply's JSON breaks off after decision {count}; "
                f"the {count} complete decision(s) before the break were read"
            )
        others = sum(1 for candidate in found if candidate.items and candidate is not chosen)
        if others:
            more = f"{others}+" if len(found) > 5 else str(others)
            notes.append(f"{more} more JSON block(s) with decisions followed; only the first was read")
        return chosen.items
    notes.append(f"no decisions found in the reply: {text[:QUOTE]!r}")
    return None


def decision_items(reply: object, notes: list[str]) -> list[Any] | None:
    """The decision items of a reply (text, bytes or decoded JSON), noting anything unusual;
    None when there are none."""
    if isinstance(reply, bytes | bytearray):
        reply = bytes(reply[: MAX_REPLY_CHARS * 4]).decode("utf-8", "replace")
    if isinstance(reply, list | dict):
        items = _decision_list_in(reply)
        if items is None:
            notes.append("the reply holds no decisions")
        return items
    if reply is None:
        notes.append("the reply was empty")
        return None
    if not isinstance(reply, str):
        notes.append(f"the reply is a {type(reply).__name__}, not text")
        return None
    if len(reply) > MAX_REPLY_CHARS:
        notes.append(f"the reply is {len(reply):,} characters; only the first {MAX_REPLY_CHARS:,} were read")
        reply = reply[:MAX_REPLY_CHARS]
    # Reasoning models (DeepSeek R1, Qwen) think aloud first, sometimes in draft JSON: the
    # answer is what follows the last closing tag. rfind, not a regex: linear on any input.
    lowered = reply.lower()
    cut = max((lowered.rfind(tag) + len(tag) if tag in lowered else 0) for tag in _THINKING_ENDS)
    text = reply[cut:].strip().lstrip("\ufeff")
    if not text:
        notes.append("the reply was empty")
        return None
    if text.startswith('"'):  # the whole reply JSON-encoded once more, as some proxies do
        decoded = decode_json_at(text, 0)
        if decoded is not None and isinstance(decoded[0], str):
            text = decoded[0].strip()
    return _find_decisions(text, notes)

