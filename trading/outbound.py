"""Which URLs the server may call on a user's behalf: the check against server-side
request forgery for every base URL a user types (LLM providers now, wallets next).

``url_check(url, policy)`` returns why a URL is refused, or None. The rules:

- ``https`` to a public host, always; ``http`` only to a private host and only when the
  policy allows private hosts (a local Ollama at ``http://localhost:11434/v1``). Keys and
  prompts never cross the public internet in clear text.
- No user name or password in the URL (``https://user:pw@host``), and only the
  characters RFC 3986 allows, so every URL parser reads the same host out of it.
- When ``policy.allowed_hosts`` is not empty the host must be one of them: an exact host
  (``api.openai.com``, an IP address) or ``*.suffix`` (any name below ``suffix``, not
  ``suffix`` itself).
- The host is resolved and every address must be public unless ``policy.allow_private``:
  loopback, RFC 1918, link-local, CGNAT (100.64.0.0/10), unique-local IPv6 and the
  other special ranges are refused. IP literals are read the way the socket layer reads
  them (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``[::1]``, ``[::ffff:127.0.0.1]``) and
  IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by it.
- Some addresses are refused even when private hosts are allowed, because no model
  server lives there: the cloud metadata services (169.254.169.254 and kin), the
  unspecified address (0.0.0.0/8, ``::``), multicast, broadcast and reserved ranges.

Pure apart from resolving the host: the resolver is a parameter (``Resolver``: a host
name to its addresses). Without one, ``resolver_default()`` imports the dotted path in the
``ARENA_OUTBOUND_RESOLVER`` setting (``trading.outbound.system_resolve``, i.e.
``socket.getaddrinfo``, unless the environment names another), so the test settings can
point every check in the process, and in the processes it starts, at an offline table.
"""
from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Iterable[str]]

DEFAULT_RESOLVER = "trading.outbound.system_resolve"

# Unreserved, reserved and "%" (RFC 3986 §2): anything else (spaces, backslashes, control
# or non-ASCII characters) is where URL parsers disagree about which host a URL names.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_NUMBER_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")

# Instance metadata services (AWS, GCP and Azure share 169.254.169.254; AWS's IPv6 one,
# ECS task metadata, Alibaba Cloud): credentials for the machine itself live there.
_METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200",
))
_NEVER = (
    ipaddress.ip_network("0.0.0.0/8"),  # "this network": 0.0.0.0 reaches the local host
    ipaddress.ip_network("240.0.0.0/4"),  # reserved, and 255.255.255.255 (broadcast)
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class OutboundPolicy:
    """What the arena lets the server call. ``allowed_hosts`` empty means any public
    host; ``allow_private`` lets URLs reach private networks (and plain http there)."""

    allowed_hosts: tuple[str, ...] = ()
    allow_private: bool = False

    def __post_init__(self) -> None:
        patterns = []
        for pattern in self.allowed_hosts:
            problem = host_pattern_error(pattern)
            if problem:
                raise ValueError(f"allowed_hosts: {pattern!r}: {problem}")
            patterns.append(host_pattern_normal(pattern))
        object.__setattr__(self, "allowed_hosts", tuple(patterns))
        object.__setattr__(self, "allow_private", bool(self.allow_private))

    def allows_host(self, host: str) -> bool:
        """Whether the normalised ``host`` matches the allowlist (always, when it is empty)."""
        if not self.allowed_hosts:
            return True
        for pattern in self.allowed_hosts:
            if pattern.startswith("*."):
                if host.endswith(pattern[1:]):
                    return True
            elif host == pattern:
                return True
        return False


# --- resolving -----------------------------------------------------------------------


def system_resolve(host: str) -> list[str]:
    """The host's addresses from the operating system (``socket.getaddrinfo``)."""
    return [info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


@lru_cache(maxsize=8)
def _imported(path: str) -> Resolver:
    from django.utils.module_loading import import_string

    return import_string(path)


def resolver_default() -> Resolver:
    """The resolver named by the ``ARENA_OUTBOUND_RESOLVER`` setting (the system's when
    Django is not configured): read on every use, so a test's override applies."""
    from django.conf import settings

    path = getattr(settings, "ARENA_OUTBOUND_RESOLVER", "") if settings.configured else ""
    return _imported(path or DEFAULT_RESOLVER)


# --- hosts and addresses -------------------------------------------------------------


def _ipv4_number(label: str) -> int | None:
    """One label of an IPv4 literal as ``inet_aton`` reads it: 0x hex, 0 octal, decimal."""
    if label.startswith("0x"):
        return int(label[2:] or "0", 16)
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8) if set(label) <= set("01234567") else None
    return int(label)


def ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as an IPv4 literal in any form the socket layer accepts (1 to 4
    parts; the last fills the remaining bytes), or None when it is not one."""
    labels = host.split(".")
    if not 1 <= len(labels) <= 4 or not all(_NUMBER_LABEL.fullmatch(label) for label in labels):
        return None
    numbers = [_ipv4_number(label) for label in labels]
    if any(n is None for n in numbers):
        return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = 0
    for n in leading:
        value = value * 256 + n
    value = value * 256 ** (5 - len(numbers)) + last
    return ipaddress.IPv4Address(value)


def _ip_literal(host: str) -> tuple[IPAddress | None, str | None]:
    """``host`` as an IP address when it is one; a reason when it looks like one but is not."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host), None
        except ValueError:
            return None, f"{host!r} is not a valid IPv6 address"
    labels = host.split(".")
    if not _NUMBER_LABEL.fullmatch(labels[-1]):
        return None, None
    # No top-level domain is a number: URL parsers read such a host as an address.
    if not all(_NUMBER_LABEL.fullmatch(label) for label in labels):
        return None, f"{host!r}: a host name cannot end in a number"
    address = ipv4_literal(host)
    return (address, None) if address else (None, f"{host!r} is not a valid IPv4 address")


def _hostname_error(name: str) -> str | None:
    if len(name) > 253:
        return "a host name has at most 253 characters"
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return "a host name is dot-separated labels of letters, digits and hyphens"
    return None


def host_pattern_normal(pattern: str) -> str:
    """An allowlist entry as ``allows_host`` compares it: lower case, no trailing dot or
    brackets, an IP address in its canonical form."""
    pattern = pattern.strip().lower().rstrip(".")
    wildcard = pattern.startswith("*.")
    bare = pattern[2:] if wildcard else pattern.removeprefix("[").removesuffix("]")
    if not wildcard:
        address, _ = _ip_literal(bare)
        if address is not None:
            return str(address)
    return ("*." if wildcard else "") + bare


def host_pattern_error(pattern: object) -> str | None:
    """Why ``pattern`` is not an allowlist entry (an exact host name, an IP address, or
    ``*.`` and a host name), or None."""
    if not isinstance(pattern, str) or not pattern.strip():
        return "a host name such as \"api.openai.com\" or \"*.openai.azure.com\""
    normal = pattern.strip().lower().rstrip(".")
    if normal.startswith("*."):
        return _hostname_error(normal[2:])
    bare = normal.removeprefix("[").removesuffix("]")
    address, problem = _ip_literal(bare)
    if address is not None or problem:
        return problem
    return _hostname_error(bare)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _kind(address: IPAddress) -> str:
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address in _CGNAT:
        return "shared (CGNAT)"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "unique-local"
    if address.is_private:
        return "private"
    return "non-public"


def address_error(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why the server may not connect to ``address`` (a phrase to follow the address:
    "is a loopback address …"), or None."""
    inner = _embedded_ipv4(address)
    if inner is not None:
        problem = address_error(inner, allow_private=allow_private)
        return f"carries {inner}, which {problem}" if problem else None
    if address in _METADATA:
        return "is a cloud metadata service address"
    if address.is_unspecified or address.is_multicast or any(
        address in net for net in _NEVER if net.version == address.version
    ):
        return "is not an address a model server can listen on"
    if not allow_private and not address.is_global:
        return f"is a {_kind(address)} address, and this arena calls public hosts only"
    return None


# --- the check -----------------------------------------------------------------------


def url_check(url: str, policy: OutboundPolicy, *, resolve: Resolver | None = None) -> str | None:
    """Why the server must not call ``url`` under ``policy``, or None when it may.

    ``resolve`` turns a host name into its addresses (default: ``resolver_default()``);
    it is not called for IP literals or for a host the allowlist refuses.
    """
    if not isinstance(url, str) or not url:
        return "no URL"
    if not _URL_CHARACTERS.fullmatch(url):
        return "the URL has characters a URL may not hold (spaces, backslashes, non-ASCII); " \
               "write an internationalised host in its xn-- form"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number 0-65535)
    except ValueError as exc:
        return f"the URL cannot be read: {exc}"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return f"only https URLs (or http to a private host) are allowed, not {scheme or 'no scheme'!r}"
    if "@" in parts.netloc:
        return "a URL may not carry a user name or password (user:password@): use the API key field"
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return "the URL has no host"
    literal, problem = _ip_literal(host)
    if problem:
        return problem
    if literal is None and (problem := _hostname_error(host)):
        return f"{host!r}: {problem}"
    name = str(literal) if literal is not None else host
    if not policy.allows_host(name):
        return f"{name} is not in this arena's allowed hosts ({', '.join(policy.allowed_hosts)})"
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            found = list((resolve or resolver_default())(host))
        except (OSError, UnicodeError) as exc:
            return f"{host} cannot be resolved ({exc})"
        try:
            addresses = [ipaddress.ip_address(a) for a in found]
        except ValueError as exc:
            return f"{host} resolves to something that is not an address ({exc})"
        if not addresses:
            return f"{host} resolves to no address"
    for address in addresses:
        problem = address_error(address, allow_private=policy.allow_private)
        if problem:
            return f"{address} {problem}" if literal else f"{host} resolves to {address}, which {problem}"
    if scheme == "http" and (not policy.allow_private or any(a.is_global for a in addresses)):
        return "plain http is allowed only to a private host when the arena allows private hosts; use https"
    return None
