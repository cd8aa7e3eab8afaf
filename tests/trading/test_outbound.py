"""trading.outbound.url_check against hostile URLs, with a fake resolver: no DNS here."""
from __future__ import annotations

import socket

import pytest

from trading import outbound
from trading.outbound import OutboundPolicy, host_pattern_error, ipv4_literal, url_check

PUBLIC = OutboundPolicy()
PRIVATE_OK = OutboundPolicy(allow_private=True)

DNS = {
    "api.openai.com": ["162.159.140.245", "2606:4700:4400::ac40:9bd1"],
    "generativelanguage.googleapis.com": ["142.250.74.42"],
    "localhost": ["127.0.0.1", "::1"],
    "ollama.lan": ["192.168.1.20"],
    "half.example.com": ["8.8.4.4", "10.0.0.7"],  # one public and one private address
    "rebind.example.com": ["169.254.169.254"],
    "mapped.example.com": ["::ffff:10.1.2.3"],
    "cgnat.example.com": ["100.64.0.9"],
    "ula.example.com": ["fd12:3456::1"],
    "nothing.example.com": [],
    "garbage.example.com": ["not-an-address"],
}


class Resolver:
    """The table above, recording every host it is asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        if host not in DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return DNS[host]


def check(url: str, policy: OutboundPolicy = PUBLIC) -> str | None:
    return url_check(url, policy, resolve=Resolver())


@pytest.mark.parametrize("url", [
    "https://api.openai.com/v1",
    "https://API.OpenAI.com./v1/",  # case and a trailing dot are the same host
    "https://api.openai.com:443/v1",
    "https://generativelanguage.googleapis.com/v1beta",
    "https://8.8.8.8/v1",
    "https://[2606:4700:4400::ac40:9bd1]/v1",
])
def test_https_to_a_public_host_is_allowed(url):
    assert check(url) is None


@pytest.mark.parametrize(("url", "words"), [
    ("http://127.0.0.1/v1", "loopback"),
    ("https://127.0.0.1/v1", "loopback"),
    ("https://127.1/v1", "loopback"),  # short form
    ("http://2130706433/", "127.0.0.1 is a loopback"),  # one decimal number
    ("https://0x7f000001/", "127.0.0.1 is a loopback"),  # one hex number
    ("https://0x7f.0.0.1/", "127.0.0.1 is a loopback"),  # hex parts
    ("https://0177.0.0.1/", "127.0.0.1 is a loopback"),  # octal parts
    ("https://017700000001/", "127.0.0.1 is a loopback"),  # one octal number
    ("https://10.0.0.1/v1", "private"),
    ("https://172.16.5.4/v1", "private"),
    ("https://192.168.0.10/v1", "private"),
    ("https://0xc0a80001/", "192.168.0.1 is a private"),
    ("https://100.64.0.1/v1", "CGNAT"),
    ("https://169.254.1.1/v1", "link-local"),
    ("https://[::1]/v1", "loopback"),
    ("https://[fe80::1]/v1", "link-local"),
    ("https://[fd00::1]/v1", "unique-local"),
    ("https://[::ffff:127.0.0.1]/v1", "carries 127.0.0.1"),  # IPv4-mapped
    ("https://[::ffff:7f00:1]/v1", "carries 127.0.0.1"),  # the same, in hex
    ("https://[::ffff:a9fe:a9fe]/v1", "metadata"),  # 169.254.169.254, mapped
    ("https://[::127.0.0.1]/v1", "carries 127.0.0.1"),  # IPv4-compatible
    ("https://[64:ff9b::a00:1]/v1", "carries 10.0.0.1"),  # NAT64
    ("https://[2002:c0a8:1::1]/v1", "carries 192.168.0.1"),  # 6to4
    ("https://192.0.2.1/v1", "192.0.2.1 is a"),  # documentation range
    ("https://198.18.0.1/v1", "198.18.0.1 is a"),  # benchmarking range
])
def test_private_and_special_ip_literals_are_refused(url, words):
    reason = check(url)
    assert reason is not None and words in reason, reason


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/v1",
    "https://[fd00:ec2::254]/v1",
    "https://100.100.100.200/v1",
    "https://2852039166/",  # 169.254.169.254 as one number
    "https://rebind.example.com/v1",
])
def test_metadata_services_are_refused_even_when_private_hosts_are_allowed(url):
    for policy in (PUBLIC, PRIVATE_OK):
        reason = check(url, policy)
        assert reason is not None and "metadata" in reason, (url, policy, reason)


@pytest.mark.parametrize("url", [
    "https://0.0.0.0/v1", "https://0/v1", "https://0.1.2.3/v1", "https://[::]/v1",
    "https://224.0.0.1/v1", "https://239.255.255.250/v1", "https://[ff02::1]/v1",
    "https://255.255.255.255/v1", "https://240.0.0.1/v1",
])
def test_unspecified_multicast_broadcast_and_reserved_are_never_called(url):
    for policy in (PUBLIC, PRIVATE_OK):
        reason = check(url, policy)
        assert reason is not None and "not an address a model server can listen on" in reason, reason


@pytest.mark.parametrize(("url", "words"), [
    ("https://localhost/v1", "localhost resolves to 127.0.0.1, which is a loopback"),
    ("https://ollama.lan/v1", "192.168.1.20, which is a private"),
    ("https://half.example.com/v1", "10.0.0.7"),  # every address counts, not the first
    ("https://mapped.example.com/v1", "carries 10.1.2.3"),
    ("https://cgnat.example.com/v1", "CGNAT"),
    ("https://ula.example.com/v1", "unique-local"),
    ("https://nothing.example.com/v1", "resolves to no address"),
    ("https://garbage.example.com/v1", "not an address"),
    ("https://nowhere.example.com/v1", "cannot be resolved"),
])
def test_names_are_resolved_and_every_address_is_checked(url, words):
    reason = check(url)
    assert reason is not None and words in reason, reason


@pytest.mark.parametrize(("url", "words"), [
    ("ftp://api.openai.com/v1", "not 'ftp'"),
    ("file:///etc/passwd", "not 'file'"),
    ("gopher://127.0.0.1:6379/_INFO", "not 'gopher'"),
    ("javascript:alert(1)", "not 'javascript'"),
    ("//api.openai.com/v1", "no scheme"),
    ("api.openai.com/v1", "no scheme"),
    ("", "no URL"),
    ("https:///v1", "no host"),
    ("https://user:pw@api.openai.com/v1", "user name or password"),
    ("https://user@api.openai.com/v1", "user name or password"),
    ("https://api.openai.com@127.0.0.1/v1", "user name or password"),
    ("https://:@api.openai.com/v1", "user name or password"),
    ("https://api.openai.com\\@127.0.0.1/v1", "characters"),  # parsers split this one differently
    ("https://api.openai.com /v1", "characters"),
    ("https://api.openai.com\t/v1", "characters"),
    ("https://api.openai.com\n.evil/v1", "characters"),
    ("https://ÀPI.openai.com/v1", "xn--"),
    ("https://api.openai.com:99999/v1", "cannot be read"),
    ("https://api.openai.com:http/v1", "cannot be read"),
    ("https://[::1/v1", "cannot be read"),
    ("https://[not-ipv6]/v1", "cannot be read"),
    ("https://api%2eopenai.com/v1", "labels"),
    ("https://api..openai.com/v1", "labels"),
    ("https://-api.openai.com/v1", "labels"),
    ("https://1.2.3.4.5/v1", "not a valid IPv4"),
    ("https://256.1.1.1/v1", "not a valid IPv4"),
    ("https://08.1.1.1/v1", "not a valid IPv4"),  # 8 is no octal digit
    ("https://example.123/v1", "cannot end in a number"),
])
def test_malformed_and_disguised_urls_are_refused(url, words):
    reason = check(url)
    assert reason is not None and words in reason, (url, reason)


def test_https_is_required_to_the_public_internet():
    assert "use https" in check("http://api.openai.com/v1")
    assert "use https" in check("http://api.openai.com/v1", PRIVATE_OK)
    assert "use https" in check("http://8.8.8.8/v1", PRIVATE_OK)
    assert "use https" in check("http://half.example.com/v1", PRIVATE_OK)  # one address is public


def test_private_hosts_and_plain_http_there_need_the_arena_to_allow_them():
    for url in ("http://localhost:11434/v1", "http://127.0.0.1:8000/v1", "http://ollama.lan/v1",
                "https://ollama.lan/v1", "http://[::1]:11434/v1", "http://100.64.0.1/v1"):
        assert check(url) is not None, url
        assert check(url, PRIVATE_OK) is None, url


def test_the_allowlist_takes_exact_hosts_and_wildcards_below_a_suffix():
    policy = OutboundPolicy(allowed_hosts=("api.openai.com", "*.googleapis.com"))
    assert check("https://api.openai.com/v1", policy) is None
    assert check("https://generativelanguage.googleapis.com/v1beta", policy) is None
    for url in ("https://api.anthropic.com", "https://googleapis.com/v1beta",  # the suffix itself
                "https://evilgoogleapis.com/v1beta", "https://api.openai.com.evil.com/v1",
                "https://openai.com/v1", "https://8.8.8.8/v1"):
        reason = check(url, policy)
        assert reason is not None and "not in this arena's allowed hosts" in reason, url


def test_a_host_outside_the_allowlist_is_never_resolved():
    resolver = Resolver()
    policy = OutboundPolicy(allowed_hosts=("api.openai.com",))
    assert url_check("https://localhost/v1", policy, resolve=resolver) is not None
    assert url_check("https://api.openai.com/v1", policy, resolve=resolver) is None
    assert resolver.asked == ["api.openai.com"]


def test_ip_literals_are_never_resolved():
    resolver = Resolver()
    assert url_check("https://8.8.8.8/v1", PUBLIC, resolve=resolver) is None
    assert url_check("https://[::1]/v1", PUBLIC, resolve=resolver) is not None
    assert resolver.asked == []


def test_an_allowlisted_host_must_still_be_public():
    policy = OutboundPolicy(allowed_hosts=("localhost", "127.0.0.1"))
    assert "loopback" in check("https://localhost/v1", policy)
    assert "loopback" in check("https://2130706433/v1", policy)  # matched as 127.0.0.1, then refused
    local = OutboundPolicy(allowed_hosts=("localhost", "127.0.0.1"), allow_private=True)
    assert check("http://localhost:11434/v1", local) is None
    assert check("http://0x7f.1:11434/v1", local) is None
    assert "allowed hosts" in check("http://ollama.lan/v1", local)


def test_ipv4_literals_are_read_as_the_socket_layer_reads_them():
    cases = {"127.0.0.1": "127.0.0.1", "127.1": "127.0.0.1", "127.0.1": "127.0.0.1",
             "2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1", "0x7F.0.0.1".lower(): "127.0.0.1",
             "0177.0.0.01": "127.0.0.1", "10.0x10.0377.1": "10.16.255.1", "0": "0.0.0.0",
             "4294967295": "255.255.255.255"}
    for text, address in cases.items():
        assert str(ipv4_literal(text)) == address, text
        assert str(ipv4_literal(text)) == socket.inet_ntoa(socket.inet_aton(text)), text
    for text in ("4294967296", "1.2.3.4.5", "256.0.0.1", "1.256.0.0.1", "09", "1.2.3.x", "", "1..2"):
        assert ipv4_literal(text) is None, text


@pytest.mark.parametrize(("pattern", "ok"), [
    ("api.openai.com", True), ("API.OpenAI.com.", True), ("*.openai.azure.com", True),
    ("10.0.0.5", True), ("[::1]", True), ("::1", True), ("localhost", True),
    ("", False), ("  ", False), ("*", False), ("*.", False), ("**.x.com", False),
    ("api.*.com", False), ("https://api.openai.com", False), ("api.openai.com/v1", False),
    ("api.openai.com:443", False), ("user@api.openai.com", False), ("1.2.3.4.5", False),
    ("a" * 64 + ".com", False), (42, False), (None, False),
])
def test_host_patterns_are_validated(pattern, ok):
    assert (host_pattern_error(pattern) is None) is ok, (pattern, host_pattern_error(pattern))


def test_a_policy_normalises_its_patterns_and_refuses_bad_ones():
    policy = OutboundPolicy(allowed_hosts=("API.OpenAI.com.", "[::1]", "127.1", "*.Example.COM"))
    assert policy.allowed_hosts == ("api.openai.com", "::1", "127.0.0.1", "*.example.com")
    with pytest.raises(ValueError, match="allowed_hosts"):
        OutboundPolicy(allowed_hosts=("https://api.openai.com",))


def test_the_default_resolver_is_the_settings_one(settings, monkeypatch):
    asked = []
    monkeypatch.setattr(outbound, "_imported", lambda path: asked.append(path) or (lambda host: ["8.8.8.8"]))
    settings.ARENA_OUTBOUND_RESOLVER = "somewhere.resolve"
    assert url_check("https://anything.invalid/v1", PUBLIC) is None
    assert asked == ["somewhere.resolve"]


def test_the_test_suite_never_asks_dns(monkeypatch):
    def no_dns(*args, **kwargs):
        raise AssertionError("DNS was asked")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert url_check("https://api.openai.com/v1", PUBLIC) is None  # tests/offline_dns.py
    assert "resolves to 10.20.30.40" in url_check("https://db.private.test/v1", PUBLIC)
    assert "cannot be resolved" in url_check("https://not-in-the-table.com/v1", PUBLIC)


def test_the_system_resolver_reads_getaddrinfo(monkeypatch):
    infos = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 0)),
             (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800:21f::1", 0, 0, 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, type=0: infos)
    assert outbound.system_resolve("example.com") == ["93.184.215.14", "2606:2800:21f::1"]
