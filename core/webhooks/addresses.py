"""Where a webhook may be sent: public addresses only, unless the operator allows private ones.

A webhook URL is chosen by a tenant; without this check a tenant could make Baton's servers
post to services only they can reach (databases' HTTP ports, cloud metadata at 169.254.169.254,
admin pages on loopback). The host is resolved just before each delivery and every address it
resolves to must be public.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address deliveries may not reach."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_public(url: str) -> None:
    """Raise :class:`AddressRefused` unless every address of ``url``'s host is public."""
    parsed = httpx.URL(url)
    host = parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise AddressRefused(f"cannot resolve {host}: {exc}") from None
    for *_rest, sockaddr in infos:
        address = str(sockaddr[0])
        if not _is_public(address):
            raise AddressRefused(
                f"{host} resolves to {address}, which is not a public address "
                "(BATON_WEBHOOK_ALLOW_PRIVATE=true allows it)"
            )
