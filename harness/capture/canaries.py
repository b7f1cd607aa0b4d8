"""canaries.json: the device identifiers and planted values a run looks for.

`{"identifiers": {"imei": ..., "wifi_mac": ..., ...}, "planted": [{"type": "contact",
"id": ..., "value": ..., ...}]}` (docs/architecture.md). A planted location carries
`lat`/`lon` (or a "lat,lon" value). Unknown keys are ignored; a wrong shape is a
CaptureError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.capture.bounded_json import loads as bounded_loads
from harness.errors import CaptureError

IDENTIFIER_KEYS = (
    "imei", "imsi", "iccid", "phone", "serial", "android_id", "wifi_mac", "bt_mac", "advertising_id",
)


@dataclass(frozen=True)
class Canary:
    type: str  # imei, wifi_mac, contact, sms, location, ...
    id: str  # the identifier key, or the planted value's id
    value: str


@dataclass(frozen=True)
class PlantedLocation:
    id: str
    lat: float
    lon: float


@dataclass
class Canaries:
    values: list[Canary] = field(default_factory=list)
    locations: list[PlantedLocation] = field(default_factory=list)


def parse_canaries(data: Any, origin: str = "canaries.json") -> Canaries:
    """canaries.json -> Canaries; unknown extra keys are ignored, a wrong shape is an error."""
    if not isinstance(data, dict):
        raise CaptureError(f"{origin}: expected an object with identifiers and planted")
    result = Canaries()
    identifiers = data.get("identifiers", {})
    if identifiers is None:
        identifiers = {}
    if not isinstance(identifiers, dict):
        raise CaptureError(f"{origin}: identifiers must be an object")
    for key, value in identifiers.items():
        if isinstance(value, str | int) and str(value).strip():
            result.values.append(Canary(str(key), str(key), str(value)))
    planted = data.get("planted", [])
    if planted is None:
        planted = []
    if not isinstance(planted, list):
        raise CaptureError(f"{origin}: planted must be a list")
    for index, item in enumerate(planted):
        if not isinstance(item, dict):
            raise CaptureError(f"{origin}: planted[{index}] must be an object")
        kind = str(item.get("type") or "planted")
        ident = str(item.get("id") or f"{kind}-{index}")
        location = _location_of(item)
        if kind == "location" and location is not None:
            result.locations.append(PlantedLocation(ident, *location))
            continue
        # Every field of a planted item (a contact's name, number, e-mail) is that item's
        # data type: a contact's number leaving the phone is contact data, not the
        # handset's own `phone` identifier.
        for key in ("value", "name", "phone", "number", "email", "text", "account", "address"):
            value = item.get(key)
            if isinstance(value, str | int) and str(value).strip():
                result.values.append(Canary(kind, ident, str(value)))
    return result


def _location_of(item: dict[str, Any]) -> tuple[float, float] | None:
    source = item.get("value") if isinstance(item.get("value"), dict) else item
    try:
        if "lat" in source and "lon" in source:
            return float(source["lat"]), float(source["lon"])
        if isinstance(item.get("value"), str) and "," in item["value"]:
            lat, lon = item["value"].split(",", 1)
            return float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    return None


def load_canaries(path: Path) -> Canaries:
    try:
        data = bounded_loads(path.read_text(encoding="utf-8"))  # too deep: a JSONDecodeError
    except OSError as e:
        raise CaptureError(f"{path}: cannot read ({e})") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CaptureError(f"{path}: not valid JSON ({e})") from e
    return parse_canaries(data, str(path))
