"""Rate limits in memory, bounded, and the keys they count under (an address, a network).

The keys are normalised so one person is one key: an address drops its ``+tag`` (and, at Gmail,
its dots), and an IPv6 client counts as its /64, the block one subscriber line gets. The
counters live in one fixed-capacity table per limit, oldest key evicted first, so memory is
bounded and every check costs the same however many keys there are.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from paperboy.clock import Clock

Network = IPv4Network | IPv6Network
CAPACITY = 100_000  # keys kept per limit: a flood of more forgets the least recently seen
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` events per ``window`` for one key."""

    count: int
    window: timedelta


DEFAULT_LIMITS = {
    "ip": Limit(10, timedelta(hours=1)),  # forms that send mail, from one IP address
    "address": Limit(3, timedelta(hours=1)),  # mails asked for one address: no mail bombing
    "preview": Limit(120, timedelta(minutes=1)),  # query previews from one IP address
}


def address_key(address: str) -> str:
    """One mailbox, however it is spelled: lowercase, no ``+tag``, no dots at Gmail."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return address.strip().lower()
    local = local.split("+", 1)[0]
    domain = domain.rstrip(".")
    if domain in _DOTLESS:
        local, domain = local.replace(".", ""), _DOTLESS[domain]
    return f"{local}@{domain}"


def network_key(host: str) -> str:
    """One client network: an IPv4 address as it is, an IPv6 one as its /64."""
    try:
        ip = ip_address(host)
    except ValueError:
        return host[:100]  # not an address (a test client, a Unix socket): its own key
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"127.0.0.1, 10.0.0.0/8, ::1"`` as networks; ValueError naming the entry that is not."""
    networks = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address or network (CIDR)") from None
    return tuple(networks)


class RateLimiter:
    """Sliding-window counters, one table per limit, on the injected clock.

    One process serves the pages (``paperboy serve``), so memory is the right place; the counters
    start afresh on a restart, which only forgives a few attempts. A key holds at most its
    limit's ``count`` timestamps, and a table at most ``capacity`` keys (least recently seen
    evicted first), so memory is bounded and a check is O(1) in the number of keys.
    """

    def __init__(
        self, clock: Clock, limits: Mapping[str, Limit], *, capacity: int = CAPACITY
    ) -> None:
        self._clock = clock
        self._limits = dict(limits)
        self._capacity = capacity
        self._tables: dict[str, OrderedDict[str, list[float]]] = {n: OrderedDict() for n in limits}
        self._lock = threading.Lock()

    def allow(self, **keys: str) -> bool:
        """Count one event under each named limit (``ip="…", address="…"``).

        False, and nothing counted (nor any key added), if any of them is used up.
        """
        now = self._clock().timestamp()
        with self._lock:
            found = []
            for name, key in keys.items():
                limit, table = self._limits[name], self._tables[name]
                times = table.get(key)
                if times is not None:
                    # a key holds at most `count` timestamps, so this costs O(count), not O(keys)
                    del times[: bisect_right(times, now - limit.window.total_seconds())]
                    if len(times) >= limit.count:
                        table.move_to_end(key)  # one who keeps trying stays remembered
                        return False
                found.append((table, key, times))
            for table, key, times in found:
                if times is None:
                    table[key] = [now]
                    if len(table) > self._capacity:
                        table.popitem(last=False)
                else:
                    times.append(now)
                    table.move_to_end(key)
            return True

    def keys(self, name: str) -> int:
        """How many keys the limit ``name`` holds now (for tests and the benchmark)."""
        return len(self._tables[name])
