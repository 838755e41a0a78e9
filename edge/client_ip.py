"""The client's address: the peer's, or the X-Forwarded-For entry added by a trusted proxy."""

import ipaddress

from aiohttp import web


class ClientAddress:
    def __init__(self, trusted_proxies: list[str]) -> None:
        self._trusted = [ipaddress.ip_network(p, strict=False) for p in trusted_proxies]

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def of(self, request: web.Request) -> str | None:
        peer = request.remote
        if peer is None or not self._trusted or not self._is_trusted(peer):
            return peer
        # Walk X-Forwarded-For from the right: the first address not added by one of our
        # proxies is the client. Anything left of it could be forged by the client.
        headers = request.headers.getall("X-Forwarded-For", [])
        hops = [hop.strip() for header in headers for hop in header.split(",")]
        for hop in reversed([h for h in hops if h]):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # not an address one of our proxies would have written
            if not self._is_trusted(hop):
                return hop
        return peer
