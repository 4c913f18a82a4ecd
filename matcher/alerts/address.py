"""Where a webhook may be sent, and a connection to exactly the address that was checked.

A subscriber names the URL, so without care the server could be made to call into its own network (SSRF): a cloud
metadata service (169.254.169.254, 100.100.100.200), a database on 10.x, a loopback admin port. Every address a
webhook's host resolves to must be globally routable (`ipaddress.is_global`: no loopback, private, link-local,
carrier-grade NAT 100.64.0.0/10, reserved, multicast or unspecified address, IPv4-mapped ones included). The host
is resolved once per attempt, and the connection goes to the address that passed the check, so a DNS answer that
changes between the check and the connect (rebinding) cannot redirect it; HTTPS still verifies the certificate
against the host name. Redirects are never followed (http.client does not follow them; a 3xx is a failed attempt).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

ALLOW_SETTING = "TECHMATCH_ALERT_PRIVATE_WEBHOOKS"


class Refused(Exception):
    """A webhook address the server will not call (a non-public address, a host that does not resolve)."""


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is globally routable (an IPv4-mapped IPv6 address is judged by its IPv4 address)."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        return is_public(mapped)
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified
                                      or address.is_loopback or address.is_link_local or address.is_private)


@dataclass(frozen=True)
class Target:
    """A webhook URL with the one address it will be sent to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str  # the resolved IP the connection goes to


def resolve(url: str, private: bool = False) -> Target:
    """The URL's host resolved once; Refused when it does not resolve or (unless `private`) when any of its
    addresses is not globally routable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("a webhook must be an http:// or https:// address with a host")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not addresses:
        raise Refused(f"{host} resolves to no address")
    if not private:
        bad = next((a for a in addresses if not is_public(a)), None)
        if bad is not None:
            raise Refused(f"{host} resolves to {bad}, which is not a public address (set {ALLOW_SETTING} to allow "
                          "webhooks into a private network)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, str(addresses[0]))


def check(url: str, private: bool = False) -> str | None:
    """Why a webhook URL may not be subscribed to (its host resolves to a non-public address), or None. A host
    that does not resolve now is accepted: it is checked again before every attempt."""
    try:
        resolve(url, private)
    except Refused as exc:
        return None if str(exc).startswith("cannot resolve") else str(exc)
    return None


class _Pinned(http.client.HTTPConnection):
    """Plain HTTP to the checked address; the Host header names the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate is verified against the URL's host (SNI too)."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def send(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST the body to the target's checked address; the reply's HTTP status (any exception is the caller's)."""
    conn = (_PinnedTLS if target.scheme == "https" else _Pinned)(target, timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        reply = conn.getresponse()
        reply.read(65536)  # a little of the body, so the receiver is not cut off mid-reply
        return reply.status
    finally:
        conn.close()
