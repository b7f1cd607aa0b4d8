"""The zone of the virtual internet: hostname -> world IP (a label; never connected to).

World IPs are real-looking public addresses chosen so that the offline geolocation
databases installed here (iptocc, geoip2fast) place them where the story needs them;
`country` records what both databases said when the zone was written (a test re-checks).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ZoneHost:
    hostname: str
    world_ip: str
    country: str  # what the offline geo databases say (iptocc/geoip2fast; "US/JP" when they differ)
    role: str
    raw: tuple[str, ...] = ()  # non-HTTP services: "tcp/5222" (a push channel), "udp/9999" (a beacon sink)


ZONE: tuple[ZoneHost, ...] = (
    # Vendor cloud on a foreign cloud provider's block (Alibaba Cloud, US region).
    ZoneHost("analytics.vendor-cloud.example", "47.88.1.10", "US", "vendor analytics (weather SDK)"),
    ZoneHost("telemetry.vendor-cloud.example", "47.88.1.20", "US", "system telemetry service"),
    ZoneHost("update.vendor-cloud.example", "47.74.1.10", "US/JP", "firmware update checks"),
    ZoneHost("activation.vendor-cloud.example", "47.88.1.30", "US", "SIM activation (firmware services)"),
    ZoneHost("push.vendor-cloud.example", "47.88.1.40", "US", "firmware keep-alive heartbeat and push channel",
             raw=("tcp/5222",)),
    ZoneHost("lbs.vendor-cloud.example", "47.88.1.50", "US", "location upload (firmware services)"),
    ZoneHost("config.vendor-cloud.example", "47.88.1.60", "US", "remote configuration (firmware services)"),
    ZoneHost("account.vendor-cloud.example", "47.88.2.10", "US", "account binding (firmware services)"),
    # CDN with numbered shards.
    ZoneHost("cdn1.vendorcdn.example", "104.16.1.1", "US", "CDN shard 1"),
    ZoneHost("cdn2.vendorcdn.example", "151.101.1.1", "US", "CDN shard 2"),
    # An ad SDK that ignores the proxy; the two databases disagree on its address.
    ZoneHost("beacon.adsdk.example", "8.209.64.20", "SG/DE", "ad SDK beacon (direct, and over UDP)",
             raw=("udp/9999",)),
    # Watch-list country: the new destination of firmware 1.1.
    ZoneHost("collect.partner-metrics.example", "39.156.66.10", "CN", "partner data collection"),
    # Domestic (India) servers.
    ZoneHost("api.bank.example", "49.44.1.1", "IN", "bank API (pinned)"),
    ZoneHost("api.weather.example", "14.139.1.1", "IN", "weather API"),
    ZoneHost("news.portal.example", "117.239.1.1", "IN", "news portal"),
    ZoneHost("time.portal.example", "49.44.2.2", "IN", "clock sync"),
)


def zone_hosts() -> dict[str, ZoneHost]:
    return {h.hostname: h for h in ZONE}
