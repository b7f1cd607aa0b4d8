"""lab.yaml and profile models, validated with file:line:column errors.

Every model forbids unknown keys and suggests the closest known one. Values that may
reach a handset shell (package names, permissions, texts) are checked here first and
are quoted again where they are used.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from harness.countries import is_country
from harness.errors import ConfigError
from harness.yaml_source import YamlDocument, format_path, load_with_positions

# --- value types -----------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """`90s`, `10m`, `1.5h`, `500ms` or a bare number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration like 90s, 10m or 500ms")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration like 90s, 10m or 500ms")
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]

# Android's package-name grammar (PackageParser.validateName): at least two segments,
# each starting with a letter, then letters, digits or underscores.
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$")
_PERMISSION = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
_ACTIVITY = re.compile(r"^\.?[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_$]*)*$")
_HOSTNAME = re.compile(r"^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_-]{1,63}\.?$")
_KEYEVENT = re.compile(r"^(KEYCODE_[A-Z0-9_]+|[A-Z0-9_]+|\d{1,3})$")


def check_package(value: str) -> str:
    if not isinstance(value, str) or len(value) > 255 or not _PACKAGE.match(value):
        raise ValueError(f"{value!r} is not an Android package name (like com.example.app)")
    return value


def check_country(value: str) -> str:
    if not isinstance(value, str) or not is_country(value.upper()) or value != value.upper():
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (like IN, US, DE)")
    return value


def check_hostname(value: str) -> str:
    if not isinstance(value, str) or len(value) > 253 or not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not a host or domain name")
    return value.lower().rstrip(".")


PackageName = Annotated[str, BeforeValidator(check_package)]
CountryCode = Annotated[str, BeforeValidator(check_country)]
DomainName = Annotated[str, BeforeValidator(check_hostname)]


def _check_permission(value: str) -> str:
    if not isinstance(value, str) or not _PERMISSION.match(value):
        raise ValueError(f"{value!r} is not an Android permission name")
    return value


Permission = Annotated[str, BeforeValidator(_check_permission)]


class StrictModel(BaseModel):
    """Unknown keys are errors with a 'did you mean' hint."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _unknown_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise PydanticCustomError(
                    "unknown_key",
                    "unknown key '{key}'{hint}; known keys: {known}",
                    {"key": str(key), "hint": hint, "known": ", ".join(sorted(known))},
                )
        return data


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
    volume_change_ratio: float = Field(default=3.0, gt=1.0)


class Policy(StrictModel):
    allowed_countries: list[CountryCode] = Field(default_factory=list)
    watchlist_countries: list[CountryCode] = Field(default_factory=list)
    allowed_domains: list[DomainName] = Field(default_factory=list)
    severity: dict[Flag, Severity] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    regression: RegressionPolicy = Field(default_factory=RegressionPolicy)

    @field_validator("severity", mode="after")
    @classmethod
    def _fill_severity(cls, value: dict[Flag, Severity]) -> dict[Flag, Severity]:
        return {**DEFAULT_SEVERITY, **value}


class NetworkMode(StrEnum):
    LIVE = "live"
    CONTAINED = "contained"


class ProxyConfig(StrictModel):
    listen_host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port per handset")
    network: NetworkMode = NetworkMode.LIVE
    zone: Path | None = Field(
        default=None,
        description="contained mode: zone file mapping hostnames to world IPs and lab responders",
    )
    upstream_ca: Path | None = Field(default=None, description="CA bundle trusted upstream")
    client_allowlist: list[str] = Field(default_factory=list, description="CIDRs allowed to use a non-loopback proxy")
    auth: str | None = Field(default=None, description="user:password required of clients")
    confdir: Path | None = Field(default=None, description="mitmproxy confdir (CA); default per lab")
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)

    @field_validator("listen_host")
    @classmethod
    def _host(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError as e:
            raise ValueError(f"{value!r} is not an IP address") from e
        return value

    @field_validator("client_allowlist")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as e:
                raise ValueError(f"{cidr!r} is not a CIDR") from e
        return value

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
    serial: str
    label: str | None = None
    frida: FridaMode = FridaMode.USB
    frida_server: Path | None = None

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
    mmdb: Path | None = None
    overrides: list[GeoOverride] = Field(default_factory=list)


class Location(StrictModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class CanaryConfig(StrictModel):
    """What prepare plants; each value gets a unique per-run suffix."""

    contacts: int = Field(default=1, ge=0, le=50)
    sms: bool = True
    clipboard: bool = True
    account: bool = True
    location: Location | None = Field(default_factory=lambda: Location(lat=28.6139, lon=77.2090))
    prefix: str = Field(default="CANARY", pattern=r"^[A-Za-z0-9]{1,16}$")


class LabConfig(StrictModel):
    name: str
    jurisdiction: CountryCode
    policy: Policy = Field(default_factory=Policy)
    proxy: ProxyConfig = Field(default_factory=ProxyConfig)
    devices: list[DeviceEntry] = Field(default_factory=list)
    geo: GeoConfig = Field(default_factory=GeoConfig)
    canaries: CanaryConfig = Field(default_factory=CanaryConfig)
    captures_dir: Path = Path("captures")
    state_dir: Path = Path.home() / ".local" / "state" / "lab-harness"
    signing_key: Path | None = None


# --- profiles ------------------------------------------------------------------------


class HookSet(StrEnum):
    SENSITIVE = "sensitive"
    NETWORK = "network"
    UNPIN = "unpin"


class AppTarget(StrictModel):
    package: PackageName
    apk: Path | None = None
    grant: list[Permission] = Field(default_factory=list)
    revoke: list[Permission] = Field(default_factory=list)


class LaunchArgs(StrictModel):
    package: PackageName
    activity: str | None = None
    spawn: bool = Field(default=False, description="spawn under Frida instead of attaching after start")
    wait: Duration = 5.0

    @field_validator("activity")
    @classmethod
    def _activity(cls, value: str | None) -> str | None:
        if value is not None and not _ACTIVITY.match(value):
            raise ValueError(f"{value!r} is not an activity class name")
        return value


class MonkeyArgs(StrictModel):
    package: PackageName
    events: int = Field(default=100, ge=1, le=1_000_000)
    seed: int = Field(default=1, ge=0)
    throttle: Duration = 0.1


_TEXT = re.compile(r"^[\x20-\x7e]{0,512}$")


class InputArgs(StrictModel):
    tap: tuple[int, int] | None = None
    text: str | None = None
    keyevent: str | None = None

    @field_validator("tap")
    @classmethod
    def _tap(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and (min(value) < 0 or max(value) > 100_000):
            raise ValueError("tap coordinates must be 0..100000")
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        if value is not None and not _TEXT.match(value):
            raise ValueError("text must be printable ASCII, at most 512 characters")
        return value

    @field_validator("keyevent", mode="before")
    @classmethod
    def _key(cls, value: Any) -> Any:
        if value is None:
            return value
        value = str(value)
        if not _KEYEVENT.match(value):
            raise ValueError(f"{value!r} is not a key code (like KEYCODE_HOME or 3)")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> InputArgs:
        given = [k for k in ("tap", "text", "keyevent") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("input takes exactly one of tap, text, keyevent")
        return self


_ACTION = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]{0,2000}$")


class IntentArgs(StrictModel):
    action: str
    data: str | None = None
    package: PackageName | None = None

    @field_validator("action")
    @classmethod
    def _action(cls, value: str) -> str:
        if not _ACTION.match(value):
            raise ValueError(f"{value!r} is not an intent action")
        return value

    @field_validator("data")
    @classmethod
    def _data(cls, value: str | None) -> str | None:
        if value is not None and not _URI.match(value):
            raise ValueError(f"{value!r} is not a URI")
        return value


class RebootArgs(StrictModel):
    capture: Duration = Field(default=30.0, description="how long to record boot-time traffic")


class StopArgs(StrictModel):
    package: PackageName


class LaunchStep(StrictModel):
    launch: LaunchArgs


class MonkeyStep(StrictModel):
    monkey: MonkeyArgs


class InputStep(StrictModel):
    input: InputArgs


class IntentStep(StrictModel):
    intent: IntentArgs


class WaitStep(StrictModel):
    wait: Duration


class IdleStep(StrictModel):
    idle: Duration


class RebootStep(StrictModel):
    reboot: RebootArgs = Field(default_factory=RebootArgs)


class StopStep(StrictModel):
    stop: StopArgs


STEP_KINDS = ("launch", "monkey", "input", "intent", "wait", "idle", "reboot", "stop")


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        keys = list(value)
        return keys[0] if len(keys) == 1 and keys[0] in STEP_KINDS else None
    if isinstance(value, BaseModel):
        return next(iter(type(value).model_fields))
    if value == "reboot":
        return "reboot"
    return None


def _step_shorthand(value: Any) -> Any:
    if value == "reboot":
        return {"reboot": {}}
    if isinstance(value, dict) and len(value) == 1 and "reboot" in value and value["reboot"] is None:
        return {"reboot": {}}
    if isinstance(value, dict) and len(value) != 1:
        raise PydanticCustomError(
            "step_shape", "a step is a mapping with exactly one key, one of: {kinds}",
            {"kinds": ", ".join(STEP_KINDS)},
        )
    if isinstance(value, dict):
        (kind,) = value
        if kind not in STEP_KINDS:
            close = difflib.get_close_matches(str(kind), STEP_KINDS, n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise PydanticCustomError(
                "unknown_key", "unknown step '{key}'{hint}; steps are: {known}",
                {"key": str(kind), "hint": hint, "known": ", ".join(STEP_KINDS)},
            )
    return value


Step = Annotated[
    Union[
        Annotated[LaunchStep, Tag("launch")],
        Annotated[MonkeyStep, Tag("monkey")],
        Annotated[InputStep, Tag("input")],
        Annotated[IntentStep, Tag("intent")],
        Annotated[WaitStep, Tag("wait")],
        Annotated[IdleStep, Tag("idle")],
        Annotated[RebootStep, Tag("reboot")],
        Annotated[StopStep, Tag("stop")],
    ],
    Discriminator(_step_kind),
    BeforeValidator(_step_shorthand),
]


def step_kind(step: BaseModel) -> str:
    return next(iter(type(step).model_fields))


class Profile(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    description: str = ""
    apps: list[AppTarget] = Field(default_factory=list)
    hooks: list[HookSet] = Field(default_factory=lambda: [HookSet.SENSITIVE, HookSet.NETWORK])
    unpin: list[PackageName] = Field(default_factory=list, description="packages whose pinning is hooked away")
    steps: list[Step] = Field(min_length=1)


# --- loading -------------------------------------------------------------------------


def _format_errors(doc: YamlDocument, error: ValidationError) -> str:
    lines = []
    for err in error.errors():
        loc = _clean_loc(err["loc"])
        ctx = err.get("ctx") or {}
        if err["type"] == "unknown_key":
            loc = loc + (ctx["key"],)
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        lines.append(f"{doc.position_of(loc)}: {format_path(loc)}: {message}")
    return "\n".join(lines)


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
        part in {"function-after", "function-before", "function-plain", "function-wrap"}
        or part.startswith(("function-", "tagged-union"))
    )


def _validate(model: type[BaseModel], doc: YamlDocument) -> Any:
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{doc.position_of(())}: (top level): expected a mapping of keys")
    try:
        return model.model_validate(doc.data)
    except ValidationError as e:
        raise ConfigError(_format_errors(doc, e)) from e


def load_lab(path: Path | str) -> LabConfig:
    return _validate(LabConfig, load_with_positions(path))


def load_profile(path: Path | str) -> Profile:
    return _validate(Profile, load_with_positions(path))
