"""Value types of lab.yaml and profiles: durations, package names, countries, hostnames.

Each type is a pure `check_*`/`parse_*` function (raising ValueError with a message a
technician can act on) wrapped as an Annotated pydantic type that also carries the JSON
Schema editors use. Values that may reach a handset shell (package names, permissions,
texts) are checked here first and quoted again where they are used. Every pattern is
matched against the whole value (fullmatch): its `$`, kept for the JSON Schema, would
also match before a final newline.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from harness.config.countries import ISO_3166_ALPHA2, USER_ASSIGNED_IN_USE, is_country

# --- durations ---------------------------------------------------------------------------

_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$|^\d+(?:\.\d+)?$")
DURATION_PATTERN = r"^\s*((\d+(\.\d+)?(ms|s|m|h))+|\d+(\.\d+)?)\s*$"
MAX_DURATION = 7 * 24 * 3600.0
_DURATION_HINT = "a duration like 90s, 10m, 500ms, 1.5h or 1m30s"


def parse_duration(value: Any) -> float:
    """`90s`, `10m`, `1.5h`, `500ms`, `1m30s` or a bare number of seconds -> seconds."""
    if value is None:
        raise ValueError(f"missing value: expected {_DURATION_HINT}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not {_DURATION_HINT}")
    if isinstance(value, str):
        text = value.strip()
        if not _DURATION.fullmatch(text):
            raise ValueError(f"{value!r} is not {_DURATION_HINT}")
        if _DURATION_PART.match(text):
            seconds = sum(float(n) * _UNIT[u] for n, u in _DURATION_PART.findall(text))
        else:
            seconds = float(text)
    else:
        seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not {_DURATION_HINT}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than 7 days; surely a mistake")
    return seconds


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema({
        "anyOf": [
            {"type": "string", "pattern": DURATION_PATTERN},
            {"type": "number", "minimum": 0},
        ],
        "description": "seconds, or a duration like 90s, 10m, 500ms, 1.5h, 1m30s",
    }),
]

# --- Android names -------------------------------------------------------------------------

# Android's package-name grammar (FrameworkParsingPackageUtils.validateName with a
# required separator and file-name length): two or more dot-separated segments, each
# starting with an ASCII letter, then letters, digits or underscores; at most 223 chars.
PACKAGE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$"
PACKAGE_MAX = 223
_PACKAGE = re.compile(PACKAGE_PATTERN)
PERMISSION_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$"
_PERMISSION = re.compile(PERMISSION_PATTERN)


def check_package(value: Any) -> str:
    """An Android package name (`com.vendor.weather`); anything else is refused."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an Android package name (like com.example.app)")
    if len(value) > PACKAGE_MAX:
        raise ValueError(f"package name is longer than {PACKAGE_MAX} characters")
    if not _PACKAGE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an Android package name: dot-separated segments (at least "
            "two), each starting with a letter, then letters, digits or _ (like com.example.app)"
        )
    return value


def check_permission(value: Any) -> str:
    """An Android permission name (`android.permission.READ_CONTACTS`)."""
    if not isinstance(value, str) or len(value) > 255 or not _PERMISSION.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an Android permission name (like android.permission.READ_CONTACTS)"
        )
    return value


PackageName = Annotated[
    str,
    BeforeValidator(check_package),
    WithJsonSchema({"type": "string", "pattern": PACKAGE_PATTERN, "maxLength": PACKAGE_MAX,
                    "description": "Android package name, like com.example.app"}),
]
Permission = Annotated[
    str,
    BeforeValidator(check_permission),
    WithJsonSchema({"type": "string", "pattern": PERMISSION_PATTERN, "maxLength": 255,
                    "description": "Android permission, like android.permission.READ_CONTACTS"}),
]

# --- countries -------------------------------------------------------------------------------

_COMMON_MISTAKES = {"UK": "GB", "EL": "GR", "EU": None}


def check_country(value: Any) -> str:
    """An ISO 3166-1 alpha-2 code in capitals (`IN`, `US`, `DE`)."""
    if isinstance(value, bool):
        # YAML 1.1 reads a bare NO (Norway) as false.
        raise ValueError(
            f"{value!r} is not a country code: quote it (\"NO\"), "
            "YAML reads a bare NO, YES, ON or OFF as a boolean"
        )
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (like IN, US, DE)")
    if is_country(value):
        return value
    hint = ""
    if is_country(value.upper()):
        hint = f" (did you mean '{value.upper()}'?)"
    elif _COMMON_MISTAKES.get(value.upper()):
        hint = f" (did you mean '{_COMMON_MISTAKES[value.upper()]}'?)"
    raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (like IN, US, DE){hint}")


CountryCode = Annotated[
    str,
    BeforeValidator(check_country),
    WithJsonSchema({"type": "string",
                    "enum": sorted(ISO_3166_ALPHA2 | USER_ASSIGNED_IN_USE),
                    "description": "ISO 3166-1 alpha-2 country code, like IN"}),
]

# --- host names ------------------------------------------------------------------------------

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
HOSTNAME_PATTERN = (
    r"^(\*\.)?([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*"
    r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$"
)


def check_hostname(value: Any) -> str:
    """A host or domain name, optionally `*.`-prefixed; returned lower-case without a final dot."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a host or domain name")
    if "://" in value or "/" in value or ":" in value:
        raise ValueError(f"{value!r} is not a host or domain name: write the host only, like api.example.com")
    if not value.isascii():
        raise ValueError(f"{value!r} is not ASCII: write an international domain in its xn-- form")
    name = value.lower().rstrip(".") if value != "." else ""
    wildcard = name.startswith("*.")
    if wildcard:
        name = name[2:]
    labels = name.split(".")
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"{value!r} is not a host or domain name (labels of letters, digits and -, "
            "optionally starting with *.)"
        )
    if labels[-1].isdigit():
        raise ValueError(f"{value!r} is an IP address or numeric; expected a domain name")
    return ("*." if wildcard else "") + name


DomainName = Annotated[
    str,
    BeforeValidator(check_hostname),
    WithJsonSchema({"type": "string", "pattern": HOSTNAME_PATTERN, "maxLength": 255,
                    "description": "domain name; *.example.com matches its subdomains"}),
]

# --- strict models -----------------------------------------------------------------------------

Count = Annotated[int, Field(strict=True)]


def did_you_mean(word: str, choices: Any, cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


class StrictModel(BaseModel):
    """Unknown keys are errors (pydantic's extra=forbid, one error per key, reported with
    the other errors of the same file); `harness.config.lab` adds the 'did you mean' hint."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @classmethod
    def known_keys(cls) -> list[str]:
        names = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
        return sorted(names)


def first_duplicate(values: Iterable[str]) -> str | None:
    """The first value that appears twice, if any (serials, packages listed twice)."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None
