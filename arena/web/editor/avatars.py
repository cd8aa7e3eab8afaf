"""A bot without an uploaded picture gets a generated one: its initials on one of the
palette's colours, the same for the same bot on every page and every visit."""
from __future__ import annotations

TONES = 5  # .avatar.tone-0 … tone-4 in editor.css, each a palette colour


def avatar_initials(name: str) -> str:
    """Up to two letters for ``name``: the first of its first two words ("Momentum Mike" → "MM")."""
    words = [w for w in name.split() if w[:1].isalnum()]
    letters = "".join(w[0] for w in words[:2]).upper()
    return letters or "?"


def avatar_tone(key: int | str) -> int:
    """A palette colour (0 … ``TONES``-1) for ``key`` (a bot's id, or a new bot's name), stable
    across processes (no ``hash()``, whose seed differs per process)."""
    if isinstance(key, int):
        return key % TONES
    return sum(key.encode()) % TONES
