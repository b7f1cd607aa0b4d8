"""lab.yaml and profile models, validated with file:line:column errors.

Every model forbids unknown keys and suggests the closest known one. Values that may
reach a handset shell (package names, permissions, texts) are checked here first and
are quoted again where they are used.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness.config.profile import (
    STEP_KINDS,
    AppTarget,
    HookSet,
    IdleStep,
    InputArgs,
    InputStep,
    IntentArgs,
    IntentStep,
    LaunchArgs,
    LaunchStep,
    MonkeyArgs,
    MonkeyStep,
    Profile,
    RebootArgs,
    RebootStep,
    Step,
    StopArgs,
    StopStep,
    WaitStep,
    step_kind,
    step_seconds,
)
from harness.config.proxy import CaptureMode, NetworkMode, ProxyConfig
from harness.config.requirements import RequirementsConfig
from harness.config.validation import validate_model
from harness.config.values import (
    Count,
    CountryCode,
    DomainName,
    Duration,
    PackageName,
    Permission,
    StrictModel,
    check_country,
    check_hostname,
    check_package,
    check_permission,
    did_you_mean,
    first_duplicate,
    parse_duration,
)
from harness.config.yaml_source import (
    ConfigProblem,
    ConfigProblems,
    YamlDocument,
    load_with_positions,
)

__all__ = [
    "AppTarget", "CanaryConfig", "CaptureMode", "ConfigProblem", "ConfigProblems", "CountryCode", "Count",
    "DeviceEntry", "DomainName", "Duration", "Flag", "FridaMode", "GeoConfig", "GeoOverride",
    "HookSet", "IdleStep", "InputArgs", "InputStep", "IntentArgs", "IntentStep", "LabConfig",
    "LaunchArgs", "LaunchStep", "Location", "MonkeyArgs", "MonkeyStep", "NetworkMode",
    "PackageName", "Permission", "Policy", "Profile", "ProxyConfig", "RebootArgs",
    "RebootStep", "RegressionPolicy", "Severity", "Step", "STEP_KINDS", "StopArgs", "StopStep",
    "StrictModel", "WaitStep", "DEFAULT_SEVERITY", "check_country", "check_hostname",
    "check_package", "check_permission", "load_lab", "load_profile", "parse_duration",
    "step_kind", "step_seconds", "validate_lab", "validate_profile",
]

# --- lab.yaml ----------------------------------------------------------------------


class Flag(StrEnum):
    FOREIGN = "foreign"
    WATCHLIST_COUNTRY = "watchlist_country"
    NOT_ALLOWLISTED = "not_allowlisted"
    CLEARTEXT = "cleartext"
    TLS_REJECTED = "tls_rejected"
    BYPASSED_PROXY = "bypassed_proxy"
    TUNNEL_LEAK = "tunnel_leak"  # WireGuard mode: a connection Frida saw that the proxy never did
    FOREIGN_ORG = "foreign_org"
    SENSITIVE_DATA = "sensitive_data"
    MIXED_SCRIPT = "mixed_script"  # a host whose letters mix scripts: a possible look-alike


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


DEFAULT_SEVERITY: dict[Flag, Severity] = {
    Flag.FOREIGN: Severity.MEDIUM,
    Flag.WATCHLIST_COUNTRY: Severity.HIGH,
    Flag.NOT_ALLOWLISTED: Severity.LOW,
    Flag.CLEARTEXT: Severity.MEDIUM,
    Flag.TLS_REJECTED: Severity.LOW,
    Flag.BYPASSED_PROXY: Severity.HIGH,
    Flag.TUNNEL_LEAK: Severity.HIGH,
    Flag.FOREIGN_ORG: Severity.LOW,
    Flag.SENSITIVE_DATA: Severity.HIGH,
    Flag.MIXED_SCRIPT: Severity.MEDIUM,
}


class RegressionPolicy(StrictModel):
    """Which differences between a baseline and a new run fail a regression."""

    new_foreign_destination_with_data: bool = True
    new_data_type_to_foreign: bool = True
    new_watchlist_country: bool = True
    new_foreign_destination: bool = False
    new_cleartext_with_data: bool = True
    new_tunnel_leak: bool = Field(default=True, description="WireGuard mode: a new destination reached around the "
                                  "tunnel (a connection Frida saw that the proxy did not)")
    new_foreign_raw_destination: bool = Field(
        default=True, description="a new foreign destination reached over raw TCP, UDP or QUIC (full capture: "
        "its content is read at best in part)")
    new_watchlist_lookup: bool = Field(
        default=True, description="a new name looked up (DNS only, never connected to) whose answers are in a "
        "watch-list country")
    volume_change_ratio: float = Field(
        default=3.0, gt=1.0, description="bytes to a destination grew or shrank by this factor",
    )


class Policy(StrictModel):
    allowed_countries: list[CountryCode] = Field(default_factory=list)
    watchlist_countries: list[CountryCode] = Field(default_factory=list)
    allowed_domains: list[DomainName] = Field(default_factory=list)
    severity: dict[Flag, Severity] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    regression: RegressionPolicy = Field(default_factory=RegressionPolicy)

    @field_validator("severity", mode="before")
    @classmethod
    def _known_flags(cls, value: Any) -> Any:
        if isinstance(value, dict):
            flags = [f.value for f in Flag]
            unknown = [str(k) for k in value if k not in flags]
            if unknown:
                hints = [did_you_mean(k, flags) for k in unknown]
                raise PydanticCustomError(
                    "unknown_key", "unknown flag '{key}'{hint}; flags are: {known}",
                    {"key": unknown[0], "hint": hints[0], "known": ", ".join(flags)},
                )
        return value

    @field_validator("severity", mode="after")
    @classmethod
    def _fill_severity(cls, value: dict[Flag, Severity]) -> dict[Flag, Severity]:
        return {**DEFAULT_SEVERITY, **value}

    @field_validator("watchlist_countries", mode="after")
    @classmethod
    def _not_allowed(cls, value: list[str], info: ValidationInfo) -> list[str]:
        both = sorted(set(info.data.get("allowed_countries") or ()) & set(value))
        if both:
            raise ValueError(f"{', '.join(both)} cannot be both allowed and on the watch list")
        return value


class FridaMode(StrEnum):
    USB = "usb"
    REMOTE = "remote"
    LOCAL = "local"


_SERIAL = re.compile(r"^(virtual:[a-z0-9][a-z0-9._-]*|[A-Za-z0-9._:-]{1,64})$")


class DeviceEntry(StrictModel):
    serial: str = Field(description="adb serial, host:port, or virtual:<handset>")
    label: str | None = None
    frida: FridaMode = FridaMode.USB
    frida_server: Path | None = Field(
        default=None, description="frida-server binary to push (real phones), or a folder of "
        "frida-server-<version>-android-<arch>[.xz] release assets (picked by the handset's ABI)")

    @field_validator("serial")
    @classmethod
    def _serial(cls, value: str) -> str:
        if not _SERIAL.fullmatch(value):
            raise ValueError(f"{value!r} is not a device serial or virtual:<handset>")
        return value

    @property
    def is_virtual(self) -> bool:
        return self.serial.startswith("virtual:")


class GeoOverride(StrictModel):
    cidr: str
    country: CountryCode
    org: str | None = None
    org_country: CountryCode | None = None

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError as e:
            raise ValueError(f"{value!r} is not a CIDR") from e


GeoSource = Literal["overrides", "iptocc", "geoip2fast", "mmdb"]


class GeoConfig(StrictModel):
    sources: list[GeoSource] = Field(default_factory=lambda: ["overrides", "iptocc", "geoip2fast"])
    mmdb: Path | None = Field(default=None, description="a MaxMind-format .mmdb file (source mmdb)")
    overrides: list[GeoOverride] = Field(default_factory=list)

    @field_validator("sources", mode="after")
    @classmethod
    def _once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each source at most once")
        return value

    @model_validator(mode="after")
    def _sources(self) -> GeoConfig:
        if "mmdb" in self.sources and self.mmdb is None:
            raise ValueError("source mmdb needs `mmdb: <path of the .mmdb file>`")
        return self


class Location(StrictModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class CanaryConfig(StrictModel):
    """What prepare plants; each value gets a unique per-run suffix."""

    contacts: Count = Field(default=1, ge=0, le=50)
    sms: bool = True
    clipboard: bool = True
    account: bool = True
    location: Location | None = Field(default_factory=lambda: Location(lat=28.6139, lon=77.2090))
    prefix: str = Field(default="CANARY", pattern=r"^[A-Za-z0-9]{1,16}$")


class LabConfig(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    jurisdiction: CountryCode = Field(description="the lab's country: everything else is foreign")
    policy: Policy = Field(default_factory=Policy)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    devices: list[DeviceEntry] = Field(default_factory=list)
    geo: GeoConfig = Field(default_factory=GeoConfig)
    canaries: CanaryConfig = Field(default_factory=CanaryConfig)
    captures_dir: Path = Path("captures")
    state_dir: Path = Field(
        default_factory=lambda: Path.home() / ".local" / "state" / "lab-harness",
        description="prepare journals per handset; default ~/.local/state/lab-harness",
    )
    signing_key: Path | None = Field(default=None, description="key that signs run.json")
    requirements: RequirementsConfig = Field(
        default_factory=RequirementsConfig,
        description="extend or replace the requirements table reports map findings to",
    )

    @field_validator("devices", mode="after")
    @classmethod
    def _unique_devices(cls, value: list[DeviceEntry]) -> list[DeviceEntry]:
        twice = first_duplicate(d.serial for d in value)
        if twice is not None:
            raise ValueError(f"device {twice} is listed twice")
        return value


# --- loading -------------------------------------------------------------------------


def validate_lab(doc: YamlDocument) -> LabConfig:
    """Validate an already parsed lab document (positions from `load_with_positions`)."""
    return validate_model(LabConfig, doc)


def validate_profile(doc: YamlDocument) -> Profile:
    """Validate an already parsed profile document."""
    return validate_model(Profile, doc)


def load_lab(path: Path | str) -> LabConfig:
    """Load and validate lab.yaml; raises ConfigProblems (a ConfigError) naming file:line:column."""
    return validate_model(LabConfig, load_with_positions(path))


def load_profile(path: Path | str) -> Profile:
    """Load and validate a profile; raises ConfigProblems (a ConfigError) naming file:line:column."""
    return validate_model(Profile, load_with_positions(path))
