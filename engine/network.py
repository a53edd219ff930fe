"""The machine's addresses, the public join URL, and QR codes for it."""

from __future__ import annotations

import io
import ipaddress

import psutil
import segno


def lan_addresses() -> list[str]:
    """IPv4 addresses of the interfaces that are up, private (room Wi-Fi) ones first."""
    found: list[ipaddress.IPv4Address] = []
    stats = psutil.net_if_stats()
    for name, addrs in psutil.net_if_addrs().items():
        if name in stats and not stats[name].isup:
            continue
        for addr in addrs:
            if addr.family.name != "AF_INET":
                continue
            ip = ipaddress.IPv4Address(addr.address)
            if not ip.is_loopback and not ip.is_link_local:
                found.append(ip)
    found.sort(key=lambda ip: (not ip.is_private, str(ip)))
    return [str(ip) for ip in found]


def local_hosts(bind_host: str) -> list[str]:
    """Host names our pages can be reached by, for the Origin allow-list."""
    hosts = ["127.0.0.1", "localhost"]
    if bind_host in ("0.0.0.0", "::", ""):
        hosts += lan_addresses()
    elif bind_host not in hosts:
        hosts.append(bind_host)
    return hosts


def default_public_url(bind_host: str, port: int) -> str:
    if bind_host in ("0.0.0.0", "::", ""):
        lan = lan_addresses()
        host = lan[0] if lan else "127.0.0.1"
    else:
        host = bind_host
    return f"http://{host}:{port}" if port != 80 else f"http://{host}"


def qr_svg(url: str) -> str:
    """An inline SVG with a generous quiet zone, scalable by CSS."""
    qr = segno.make(url, error="m")
    return str(qr.svg_inline(scale=1, border=4, omitsize=True, dark="#000", light="#fff"))


def qr_terminal(url: str) -> str:
    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True, border=2)
    return out.getvalue()
