"""Handset specs: YAML files in harness/virtual/handsets/ (or any path), validated.

A spec names the build (model, fingerprint parts, release, SDK, patch), the identifiers,
the packages (each with an opaque `behaviours` mapping that only the app runner reads),
settings, contacts/SMS/accounts, whether the handset is rooted, its Mainline module
versions (`modules`) and vendor quirks of its telephony service (`telephony`). An empty
`identifiers.phone` is a SIM without a line 1 number.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.virtual.conditions import Faults

HANDSETS_DIR = Path(__file__).parent / "handsets"
_PKG = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")


class SpecError(Exception):
    """A handset spec is missing or malformed."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BuildSpec(_Model):
    manufacturer: str
    brand: str
    model: str
    product: str
    device: str
    release: str
    sdk: int = Field(ge=21, le=36)
    security_patch: str
    build_id: str
    incremental: str
    build_type: str = "user"
    build_tags: str = "release-keys"
    abi: str = "arm64-v8a"
    kernel: str = "5.10.177-android13-4-00003-g2f4d3b2a1c5e-ab10551811"
    board: str = "generic"
    hardware: str = "qcom"
    screen: tuple[int, int] = (1080, 2400)
    density: int = 420
    build_date_utc: int = 1690000000
    operator: str = "T-Mobile"
    operator_numeric: str = "310260"
    operator_iso: str = "us"
    timezone: str = "America/New_York"
    locale: str = "en-US"


class IdentifierSpec(_Model):
    imei: str
    imsi: str
    iccid: str
    phone: str
    serial: str
    android_id: str
    wifi_mac: str
    bt_mac: str
    advertising_id: str

    @field_validator("imei")
    @classmethod
    def _luhn(cls, v: str) -> str:
        if not re.fullmatch(r"\d{15}", v) or not luhn_ok(v):
            raise ValueError("IMEI must be 15 digits passing the Luhn check")
        return v

    @field_validator("android_id")
    @classmethod
    def _aid(cls, v: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{16}", v):
            raise ValueError("android_id must be 16 lowercase hex digits")
        return v


class PackageSpec(_Model):
    name: str
    system: bool = False
    path: str | None = None
    version_code: int = 1
    version_name: str = "1.0"
    uid: int | None = None
    target_sdk: int | None = None
    permissions: list[str] = []
    granted: list[str] = []
    activities: list[str] = [".MainActivity"]
    label: str | None = None
    behaviours: dict[str, Any] = {}

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _PKG.match(v):
            raise ValueError(f"not a package name: {v!r}")
        return v


class ContactSpec(_Model):
    name: str
    phone: str = ""
    email: str = ""


class SmsSpec(_Model):
    address: str
    body: str
    type: int = 1
    date: int = 1700000000000
    read: int = 1


class AccountSpec(_Model):
    name: str
    type: str = "com.google"


class SettingsSpec(_Model):
    global_: dict[str, str] = Field(default_factory=dict, alias="global")
    secure: dict[str, str] = {}
    system: dict[str, str] = {}


class ModulesSpec(_Model):
    """Mainline modules: the ART APEX (package name, versionCode) and the Google Play
    system update (com.google.android.modulemetadata's versionName, a date)."""

    art: str = "com.android.art"  # com.google.android.art on Google-signed builds
    art_version: int | None = None  # None: the release's factory version, SDK * 10^7 + 90000
    play_system_update: str | None = None  # "2025-06-01"; None: no modulemetadata package


class TelephonySpec(_Model):
    # a vendor method inserted into IPhoneSubInfo at this transaction code, shifting the
    # later ones by one (as Samsung's Android 11 and Huawei's Android 9 builds do)
    vendor_method_at: int | None = Field(default=None, ge=1, le=60)


class HandsetSpec(_Model):
    name: str
    description: str = ""
    rooted: bool = False
    frida_server_version: str | None = None
    build: BuildSpec
    identifiers: IdentifierSpec
    properties: dict[str, str] = {}
    settings: SettingsSpec = SettingsSpec()
    packages: list[PackageSpec] = []
    contacts: list[ContactSpec] = []
    sms: list[SmsSpec] = []
    accounts: list[AccountSpec] = []
    files: dict[str, str] = {}
    modules: ModulesSpec = ModulesSpec()
    telephony: TelephonySpec = TelephonySpec()
    faults: Faults = Faults()  # what lab doctor must find (conditions.py)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def builtin_names() -> list[str]:
    return sorted(p.stem for p in HANDSETS_DIR.glob("*.yaml"))


def spec_path(name_or_path: str | Path) -> Path:
    """A built-in handset name, or a path to a spec file."""
    text = str(name_or_path)
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", text) and not text.endswith((".yaml", ".yml")):
        path = HANDSETS_DIR / f"{text}.yaml"
        if not path.is_file():
            raise SpecError(f"no built-in handset {text!r} (known: {', '.join(builtin_names())})")
        return path
    path = Path(text)
    if not path.is_file():
        raise SpecError(f"handset spec not found: {path}")
    return path


def load_spec(name_or_path: str | Path) -> HandsetSpec:
    path = spec_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise SpecError(f"{path}: {e}") from e
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a handset spec is a mapping")
    try:
        return HandsetSpec.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SpecError(f"{path}: {where}: {first['msg']}") from e
