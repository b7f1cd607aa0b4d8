"""A small capture store: captures of several makers, models and firmware versions, in
folders of any depth, built with capture_builder (no handset needed).

    store = build_store(tmp_path / "store")   # -> Store(root, captures={name: Path})

Handsets: two Vendor V1 phones, one on firmware 1.0 and one on 1.1 (which adds a foreign
destination receiving a contact), and an Acme X2 on one firmware; each runs two
profiles. The Acme phone's adb serial is its hardware serial, so it is masked in exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.capture_builder import CaptureBuilder


@dataclass(frozen=True)
class Handset:
    serial: str
    manufacturer: str
    model: str
    fingerprint: str
    security_patch: str
    variant: str  # the capture_builder scenario: vendor-1.0 or vendor-1.1
    label: str | None = None
    hardware_serial: str = "VND0000123"


VENDOR_10 = Handset("R58V1A0001", "Vendor", "V1", "vendor/v1/v1:13/TQ1A.230105/100:user/release-keys",
                    "2026-01-05", "vendor-1.0", label="V1 bench phone A")
VENDOR_11 = Handset("R58V1B0002", "Vendor", "V1", "vendor/v1/v1:13/TQ2A.230305/110:user/release-keys",
                    "2026-03-05", "vendor-1.1")
ACME = Handset("ACME55X2Z9", "Acme", "X2", "acme/x2/x2:14/UP1A.231005/200:user/release-keys",
               "2026-02-01", "vendor-1.0", hardware_serial="ACME55X2Z9")
HANDSETS = (VENDOR_10, VENDOR_11, ACME)
PROFILES = ("demo", "idle")


class HandsetCapture(CaptureBuilder):
    """A capture_builder capture made on a given handset with a given profile."""

    def __init__(self, root: Path, handset: Handset, profile: str, *, t0: float, campaign: str | None):
        super().__init__(root, variant=handset.variant, t0=t0, run_id=root.name, serial=handset.serial)
        self.handset, self.profile, self.campaign = handset, profile, campaign

    def run_json(self) -> dict[str, Any]:
        data = super().run_json()
        h = self.handset
        data["profile"] = {"name": self.profile}
        data["device"] = {"serial": h.serial, "manufacturer": h.manufacturer, "brand": h.manufacturer.lower(),
                          "model": h.model, "fingerprint": h.fingerprint, "android_release": h.fingerprint[
                              h.fingerprint.index(":") + 1:].split("/")[0], "sdk": 33, "security_patch": h.security_patch}
        data["lab"]["devices"] = [{"serial": h.serial, "label": h.label}] if h.label else []
        if self.campaign:
            data["campaign"] = {"id": self.campaign}
        return data

    def canaries(self) -> dict[str, Any]:
        data = super().canaries()
        data["identifiers"]["serial"] = self.handset.hardware_serial
        return data


@dataclass
class Store:
    root: Path
    captures: dict[str, Path] = field(default_factory=dict)  # run id -> capture folder
    handsets: dict[str, Handset] = field(default_factory=dict)  # run id -> handset


def build_store(root: Path, *, campaign: str | None = "camp-1") -> Store:
    """Six captures (3 handsets x 2 profiles) at several depths under `root`."""
    store = Store(root)
    for i, handset in enumerate(HANDSETS):
        for j, profile in enumerate(PROFILES):
            run_id = f"run-{handset.model}-{handset.variant}-{profile}".lower()
            folder = root / ("host-a" if i % 2 == 0 else "host-b/2026") / run_id
            t0 = 1_790_000_000.0 + 1000 * (2 * i + j)
            builder = HandsetCapture(folder, handset, profile, t0=t0, campaign=campaign)
            builder.vendor_scenario(phone_homes=3 + i + j, jitter=0.5 * j)
            store.captures[run_id] = builder.write()
            store.handsets[run_id] = handset
    return store
