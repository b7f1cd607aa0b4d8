"""Names that arrive from traffic, captures and handsets, treated as data: hostnames, IP
literals, and hostile names made safe for report keys and for file names. The one place
these rules live; the proxy, the scanner, the capture and the diff all call them."""

from __future__ import annotations

import functools
import ipaddress
import re
from typing import Any

MAX_HOST = 1024  # hostile hostnames are data; a bounded one
MAX_NAME = 64  # a header, cookie, form field or file name as reports show it

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_NOT_FILE_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def clean_host(host: Any) -> str | None:
    """A hostname as data: text, bounded, lower case, no trailing dot."""
    if host is None:
        return None
    if isinstance(host, bytes):
        host = host.decode("utf-8", "replace")
    text = str(host)[:MAX_HOST].strip().lower().rstrip(".")
    return text or None


def is_ip(value: str | None) -> bool:
    """An IPv4 or IPv6 literal, bracketed or with a zone index (`fe80::1%wlan0`) too."""
    if not value:
        return False
    try:
        ipaddress.ip_address(value.split("%", 1)[0].strip("[]"))
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4096)  # the same few header names, flow after flow
def safe_name(name: str) -> str:
    """A name from hostile traffic as reports show it: printable ASCII (anything else
    becomes `?`), at most MAX_NAME characters."""
    return _UNPRINTABLE.sub("?", name[:MAX_NAME])


def file_name(name: str, default: str) -> str:
    """A name usable as one path component: letters, digits, `.`, `_`, `-` (anything
    else becomes `_`), at most MAX_NAME characters, never empty, never `.` or `..`."""
    clean = _NOT_FILE_SAFE.sub("_", name[:MAX_NAME])
    return default if clean.strip(".") == "" else clean
