"""The host resolver of the test suite (``ARENA_OUTBOUND_RESOLVER``, set by
``arena.test_settings`` in the environment, so the processes tests start use it too).

Tests never ask DNS: every check of an outbound URL (``trading.outbound.url_check``)
resolves through this table, like a hosts file. A name that is not here does not resolve
(``socket.gaierror``, as from DNS), so the URL is refused and the test says which host to
add. Names under the reserved testing domains ``.test`` and ``.example`` (RFC 2606)
resolve to a public address, except those under ``private.test``, which resolve to a
private one. The public addresses are stand-ins: nothing connects to them (respx answers
first, or the test expects the call to be refused).
"""
from __future__ import annotations

import socket

PUBLIC = ["203.0.114.10", "2a00:1450::10"]  # outside every special-purpose range: public hosts
PRIVATE = ["10.20.30.40"]

# The vendors' hosts the tests name, and the local one.
HOSTS: dict[str, list[str]] = {
    "localhost": ["127.0.0.1", "::1"],
    **dict.fromkeys(
        ["api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com", "api.x.ai",
         "api.deepseek.com", "openrouter.ai", "example.com", "example.org"],
        PUBLIC,
    ),
}


def resolve(host: str) -> list[str]:
    """``host``'s addresses from the table above."""
    name = host.lower().rstrip(".")
    if name in HOSTS:
        return list(HOSTS[name])
    if name == "private.test" or name.endswith(".private.test"):
        return list(PRIVATE)
    if name.endswith((".test", ".example")):
        return list(PUBLIC)
    raise socket.gaierror(socket.EAI_NONAME, f"{name} is not in tests/offline_dns.py")
