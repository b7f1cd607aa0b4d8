"""What vendor-1.1's firmware sends around the proxy, picked out of flow records: the DNS
lookup of the partner host, the raw TCP push (5222), the UDP beacon (9999) and the
HTTP/3 upload; the WireGuard-mode tests assert on each."""

from __future__ import annotations


def around_the_proxy(records: list[dict]) -> dict[str, dict]:
    """{"dns"|"tcp"|"udp"|"h3": the last such record}."""
    out = {}
    for r in records:
        if r["kind"] == "dns" and (r.get("dns") or {}).get("name") == "collect.partner-metrics.example":
            out["dns"] = r
        elif r["kind"] == "tcp" and r.get("server_port") == 5222:
            out["tcp"] = r
        elif r["kind"] == "udp" and r.get("server_port") == 9999:
            out["udp"] = r
        elif r.get("http_version") == "HTTP/3" and "/v1/h3/report" in (r.get("url") or ""):
            out["h3"] = r  # contained: the zone has no QUIC responder, so the exchange ends in an error
    return out
