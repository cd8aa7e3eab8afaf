"""Recognising secrets among legacy settings and options, so none is printed or stored in clear.

A key is secret-looking when one of its word parts (snake_case, camelCase, kebab-case,
dotted) names a secret: ``broadcast_password``, ``binanceApiKey``, ``recovery-phrase``.
A value is credential-looking when it starts like a known API key (``sk-``) or is a
long unbroken run of letters and digits such as a token or a hex key.
"""
from __future__ import annotations

import re
from typing import Any

# Matched anywhere inside a word part: "passphrase", "accesstoken", "apikey".
_LONG_WORDS = ("password", "passwd", "secret", "token", "apikey", "private", "credential", "phrase",
               "mnemonic")
# Short ones only as a whole word part (plural allowed), or "monkey" and "author" would match.
_SHORT_WORDS = frozenset({"key", "auth", "seed", "pwd", "pass", "pin", "jwt", "bearer", "cookie"})
_PREFIXES = ("sk-", "sk_", "pk_live", "rk_live", "xox", "ghp_", "gho_", "github_pat_", "glpat-", "akia",
             "aiza", "bearer ", "eyj")
_RANDOM = re.compile(r"[A-Za-z0-9+/=_\-]{20,}")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z]|\d|\b|_)|[A-Z]?[a-z]+|[A-Z]+|\d+")


def key_parts(key: str) -> list[str]:
    """``binanceApiKey`` → ``["binance", "api", "key"]``; ``recovery-phrase`` → two parts."""
    return [part.lower() for part in _PARTS.findall(key)]


def secret_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    parts = key_parts(key)
    joined = "".join(parts)
    if any(word in joined for word in ("apikey", "accesskey", "secretkey", "privatekey")):
        return True
    for part in parts:
        if any(word in part for word in _LONG_WORDS):
            return True
        if part in _SHORT_WORDS or part.removesuffix("s") in _SHORT_WORDS:
            return True
    return False


def secret_value(value: object) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    if len(text) >= 8 and text.lower().startswith(_PREFIXES):
        return True
    if _RANDOM.fullmatch(text):
        return any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
    return False


def redacted(value: object) -> str:
    return f"<redacted, {len(str(value))} characters>"


def setting_line(key: object, value: object) -> str:
    """``key = 'value'`` for a report, the value redacted when key or value looks secret."""
    text = "" if value is None else str(value)
    if secret_key(key) or secret_value(text):
        return f"{key} = {redacted(text)}"
    return f"{key} = {text[:80]!r}"


def without_secrets(options: Any) -> tuple[Any, list[str]]:
    """``options`` with every secret-looking entry removed, and the dotted names removed."""
    removed: list[str] = []

    def clean(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            kept = {}
            for key, item in value.items():
                name = f"{path}.{key}" if path else str(key)
                if secret_key(key) or secret_value(item):
                    removed.append(name)
                    continue
                kept[key] = clean(item, name)
            return kept
        if isinstance(value, list):
            kept_items = []
            for i, item in enumerate(value):
                if secret_value(item):
                    removed.append(f"{path}[{i}]")
                    continue
                kept_items.append(clean(item, f"{path}[{i}]"))
            return kept_items
        return value

    return clean(options, ""), removed
