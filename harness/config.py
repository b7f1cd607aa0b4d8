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
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness.config_profile import (
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
from harness.config_values import (
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
from harness.yaml_source import (
    ConfigProblem,
    ConfigProblems,
    YamlDocument,
    format_path,
    load_with_positions,
)

__all__ = [
    "AppTarget", "CanaryConfig", "ConfigProblem", "ConfigProblems", "CountryCode", "Count",
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
    FOREIGN_ORG = "foreign_org"
    SENSITIVE_DATA = "sensitive_data"


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
    Flag.FOREIGN_ORG: Severity.LOW,
    Flag.SENSITIVE_DATA: Severity.HIGH,
}


class RegressionPolicy(StrictModel):
    """Which differences between a baseline and a new run fail a regression."""

    new_foreign_destination_with_data: bool = True
    new_data_type_to_foreign: bool = True
    new_watchlist_country: bool = True
    new_foreign_destination: bool = False
    new_cleartext_with_data: bool = True
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


class NetworkMode(StrEnum):
    LIVE = "live"
    CONTAINED = "contained"


class ProxyConfig(StrictModel):
    listen_host: str = Field(default="127.0.0.1", description="IP address the proxy listens on")
    port: Count = Field(default=0, ge=0, le=65535, description="0 picks a free port per handset")
    network: NetworkMode = NetworkMode.LIVE
    zone: Path | None = Field(
        default=None,
        description="contained mode: zone file mapping hostnames to world IPs and lab responders",
    )
    upstream_ca: Path | None = Field(default=None, description="CA bundle trusted upstream")
    client_allowlist: list[str] = Field(default_factory=list, description="CIDRs allowed to use a non-loopback proxy")
    auth: str | None = Field(
        default=None, pattern=r"^[^:\s]+:\S+$", description="user:password required of clients",
    )
    confdir: Path | None = Field(default=None, description="mitmproxy confdir (CA); default per lab")
    max_body_bytes: Count = Field(default=8 * 1024 * 1024, ge=1024)

    @field_validator("listen_host", mode="before")
    @classmethod
    def _host(cls, value: Any) -> Any:
        if value == "localhost":
            return "127.0.0.1"
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not an IP address (like 127.0.0.1)")
        try:
            return str(ipaddress.ip_address(value))
        except ValueError as e:
            raise ValueError(f"{value!r} is not an IP address (like 127.0.0.1)") from e

    @field_validator("client_allowlist")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        out = []
        for cidr in value:
            try:
                out.append(str(ipaddress.ip_network(cidr, strict=False)))
            except ValueError as e:
                raise ValueError(f"{cidr!r} is not a CIDR (like 10.0.0.0/24)") from e
        return out

    @model_validator(mode="after")
    def _not_open(self) -> ProxyConfig:
        if not ipaddress.ip_address(self.listen_host).is_loopback:
            if not self.client_allowlist and not self.auth:
                raise ValueError(
                    "a proxy on a non-loopback address needs client_allowlist or auth: "
                    "an open proxy on a lab network is a hole"
                )
        return self


class FridaMode(StrEnum):
    USB = "usb"
    REMOTE = "remote"
    LOCAL = "local"


_SERIAL = re.compile(r"^(virtual:[a-z0-9][a-z0-9._-]*|[A-Za-z0-9._:-]{1,64})$")


class DeviceEntry(StrictModel):
    serial: str = Field(description="adb serial, host:port, or virtual:<handset>")
    label: str | None = None
    frida: FridaMode = FridaMode.USB
    frida_server: Path | None = Field(default=None, description="frida-server binary to push (real phones)")

    @field_validator("serial")
    @classmethod
    def _serial(cls, value: str) -> str:
        if not _SERIAL.match(value):
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

    @field_validator("devices", mode="after")
    @classmethod
    def _unique_devices(cls, value: list[DeviceEntry]) -> list[DeviceEntry]:
        twice = first_duplicate(d.serial for d in value)
        if twice is not None:
            raise ValueError(f"device {twice} is listed twice")
        return value


# --- loading -------------------------------------------------------------------------

_RAW_PARTS = {"function-after", "function-before", "function-plain", "function-wrap"}


def _clean_loc(raw: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop pydantic's internal parts: validator wrappers and union tags (`steps.0.wait.wait`)."""
    loc: list[Any] = []
    for part in raw:
        if _is_tag(part):
            continue
        if loc and part == loc[-1] and part in STEP_KINDS:
            continue
        loc.append(part)
    return tuple(loc)


def _is_tag(part: Any) -> bool:
    return isinstance(part, str) and (
        part in _RAW_PARTS or part.startswith(("function-", "tagged-union")) or part == "[key]"
    )


def _model_at(root: type[BaseModel], raw_loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validated the mapping at `raw_loc` (pydantic's own loc)."""
    current: Any = root
    for part in raw_loc:
        if _is_tag(part):
            continue
        current = _step_into(current, part)
        if current is None:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return tp


def _step_into(tp: Any, part: Any) -> Any:
    tagged = tp
    while get_origin(tagged) is Annotated:
        tagged = get_args(tagged)[0]
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(part) if isinstance(part, str) else None
        return field.annotation if field else None
    origin, args = get_origin(tp), get_args(tp)
    if origin in (list, tuple) and isinstance(part, int) and args:
        return args[0]
    if origin is dict and args:
        return args[1]
    if origin in (Union, UnionType):  # a tagged union: the loc names the member's tag
        for member in get_args(tagged):
            meta = get_args(member)[1:] if get_origin(member) is Annotated else ()
            if any(isinstance(m, Tag) and m.tag == part for m in meta):
                return get_args(member)[0]
    return None


def _problems(root: type[BaseModel], doc: YamlDocument, error: ValidationError) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for err in error.errors(include_url=False):
        loc = _clean_loc(err["loc"])
        ctx = err.get("ctx") or {}
        message = err["msg"]
        if message.startswith(("Value error, ", "Assertion failed, ")):
            message = message.split(", ", 1)[1]
        if err["type"] == "extra_forbidden":
            model = _model_at(root, err["loc"][:-1])
            known = model.known_keys() if model else []
            key = str(loc[-1])
            message = f"unknown key '{key}'{did_you_mean(key, known)}"
            if known:
                message += f"; known keys: {', '.join(known)}"
            pos = doc.position_of(loc)
        elif err["type"] == "unknown_key":  # an unknown step kind or severity flag
            loc = loc + (ctx["key"],)
            pos = doc.position_of(loc)
        elif err["type"] == "missing" and loc and isinstance(loc[-1], int):
            pos = doc.value_position_of(loc[:-1])
            message = f"too few items: item [{loc[-1]}] is missing"
            loc = loc[:-1]
        elif err["type"] == "missing" and loc:
            pos = doc.value_position_of(loc[:-1])
            message = f"missing required key '{loc[-1]}'"
        else:
            pos = doc.value_position_of(loc)
        problems.append(ConfigProblem(pos.file, pos.line, pos.column, format_path(loc), message))
    return problems


_EXPECTED = {
    "LabConfig": "a lab file: a mapping with keys like name, jurisdiction, policy, proxy, devices",
    "Profile": "a profile: a mapping with keys like name, description, apps, hooks, steps",
}


def _validate(model: type[BaseModel], doc: YamlDocument) -> Any:
    expected = _EXPECTED.get(model.__name__, "a mapping of keys")
    if doc.data is None:
        raise ConfigProblems([ConfigProblem(doc.file, 1, 1, "", f"the file is empty; expected {expected}")])
    if not isinstance(doc.data, dict):
        pos = doc.value_position_of(())
        got = type(doc.data).__name__.replace("str", "text").replace("list", "a list")
        raise ConfigProblems([ConfigProblem(pos.file, pos.line, pos.column, "(top level)",
                                            f"expected {expected}; got {got}")])
    try:
        return model.model_validate(doc.data)
    except ValidationError as e:
        raise ConfigProblems(_problems(model, doc, e)) from e


def validate_lab(doc: YamlDocument) -> LabConfig:
    """Validate an already parsed lab document (positions from `load_with_positions`)."""
    return _validate(LabConfig, doc)


def validate_profile(doc: YamlDocument) -> Profile:
    """Validate an already parsed profile document."""
    return _validate(Profile, doc)


def load_lab(path: Path | str) -> LabConfig:
    """Load and validate lab.yaml; raises ConfigProblems (a ConfigError) naming file:line:column."""
    return _validate(LabConfig, load_with_positions(path))


def load_profile(path: Path | str) -> Profile:
    """Load and validate a profile; raises ConfigProblems (a ConfigError) naming file:line:column."""
    return _validate(Profile, load_with_positions(path))
