"""httpx transports that connect only to addresses the outbound rules allow, resolved once.

``trading.outbound.url_check`` resolves a URL's host and judges every address, but the
HTTP client would resolve the host again when it connects: a name whose DNS answers a
public address to the check and ``127.0.0.1`` a moment later (DNS rebinding) would slip
through. These transports close that gap at the socket: their network backend resolves
the host itself with the same resolver, refuses the connection unless *every* address
passes ``address_error`` under the policy, and then connects to those very addresses (in
order, the next one when one does not answer). TLS still verifies the certificate
against the URL's host name: only the address lookup is taken out of the client's hands.

They take no proxy from the environment (``HTTPS_PROXY``): a proxy would resolve the
host itself, out of reach of the check.
"""
from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from trading.outbound import (
    IPAddress,
    OutboundPolicy,
    Resolver,
    address_error,
    ipv4_literal,
    resolver_default,
)

_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class RefusedAddress(httpcore.ConnectError):
    """The host resolved to an address the outbound rules refuse, at connect time."""


def addresses_allowed(host: str, policy: OutboundPolicy, resolve: Resolver | None = None) -> list[str]:
    """The addresses to connect to for ``host`` under ``policy``, resolved now; raises
    ``RefusedAddress`` naming the first address the policy refuses (or a lookup failure)."""
    name = host.strip("[]").rstrip(".")
    literal = _literal(name)
    if literal is not None:
        found: list[IPAddress] = [literal]
    else:
        try:
            found = [ipaddress.ip_address(a) for a in (resolve or resolver_default())(name)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise RefusedAddress(f"{name} cannot be resolved ({exc})") from exc
        if not found:
            raise RefusedAddress(f"{name} resolves to no address")
    for address in found:
        problem = address_error(address, allow_private=policy.allow_private)
        if problem:
            raise RefusedAddress(f"refused to connect: {name} resolves to {address}, which {problem}")
    return [str(address) for address in found]


def _literal(name: str) -> IPAddress | None:
    if ":" in name:
        try:
            return ipaddress.IPv6Address(name)
        except ValueError:
            return None
    return ipv4_literal(name)


class _PinnedSyncBackend(httpcore.NetworkBackend):
    def __init__(self, policy: OutboundPolicy, resolve: Resolver | None) -> None:
        self._policy, self._resolve, self._inner = policy, resolve, httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        failure: Exception | None = None
        for address in addresses_allowed(host, self._policy, self._resolve):
            try:
                return self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure if failure else RefusedAddress(f"{host}: no address to connect to")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise RefusedAddress("a Unix socket is not an outbound address")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _PinnedAsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: OutboundPolicy, resolve: Resolver | None) -> None:
        self._policy, self._resolve, self._inner = policy, resolve, httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        # In a thread: resolving blocks, and the event loop serves every bot's call.
        addresses = await asyncio.to_thread(addresses_allowed, host, self._policy, self._resolve)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure if failure else RefusedAddress(f"{host}: no address to connect to")

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("a Unix socket is not an outbound address")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _pool_options(limits: httpx.Limits) -> dict[str, Any]:
    return {"ssl_context": httpx.create_ssl_context(), "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry}


class PinnedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose connections go only to addresses ``policy`` allows."""

    def __init__(self, policy: OutboundPolicy, *, resolve: Resolver | None = None,
                 limits: httpx.Limits = _LIMITS) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(**_pool_options(limits),
                                             network_backend=_PinnedSyncBackend(policy, resolve))


class PinnedAsyncTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` whose connections go only to addresses ``policy`` allows."""

    def __init__(self, policy: OutboundPolicy, *, resolve: Resolver | None = None,
                 limits: httpx.Limits = _LIMITS) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(**_pool_options(limits),
                                                  network_backend=_PinnedAsyncBackend(policy, resolve))


def pinned_client(policy: OutboundPolicy, **options: Any) -> httpx.Client:
    """An ``httpx.Client`` for a user's URL: pinned addresses, no redirects, no env proxy."""
    return httpx.Client(transport=PinnedTransport(policy), follow_redirects=False, trust_env=False, **options)


def pinned_async_client(policy: OutboundPolicy, **options: Any) -> httpx.AsyncClient:
    """``pinned_client`` for the event loop."""
    return httpx.AsyncClient(transport=PinnedAsyncTransport(policy), follow_redirects=False, trust_env=False,
                             **options)
