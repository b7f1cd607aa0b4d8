"""Which code is behind a hook event: the calling frame of its Java stack.

The calling library is the first stack frame (innermost first) outside the platform
(android.*, java.*, javax.*, com.android.*, dalvik.*, kotlin.*, ...), outside the
virtual handset's stub runtime and outside the hooked API's own class: the code that
asked for a value. For a network event (`net:connect`, `net:request`) the HTTP stacks
an app bundles (OkHttp, Okio, Retrofit, Volley, Cronet, gRPC) are passed over as well,
so the frame is the code that opened the connection, not the client it used.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

PLATFORM_PREFIXES = (
    "android.", "androidx.", "java.", "javax.", "com.android.", "dalvik.", "kotlin.",
    "kotlinx.", "sun.", "libcore.", "jdk.", "org.apache.harmony.",
)
STUB_PREFIXES = ("harness.", "com.labvirt.", "org.labharness.")
NETWORK_PREFIXES = (
    "okhttp3.", "okio.", "retrofit2.", "com.squareup.okhttp.", "com.android.volley.",
    "org.chromium.net.", "io.grpc.", "org.apache.http.", "com.google.android.gms.net.",
)


def calling_frame(stack: Any, api: str | None = None, skip: tuple[str, ...] = ()) -> str | None:
    """The first frame of `stack` (innermost first) that is app or library code: not the
    platform, not the virtual handset's runtime, not the hooked API's own class, not
    one starting with a prefix of `skip`."""
    if stack is None:
        return None
    own = api.rsplit(".", 1)[0] + "." if isinstance(api, str) and "." in api else None
    for frame in stack:
        if not isinstance(frame, str) or not frame.strip():
            continue
        name = frame.strip()
        if name.startswith("at "):
            name = name[3:]
        if name.startswith(PLATFORM_PREFIXES) or name.startswith(STUB_PREFIXES):
            continue
        if (own is not None and name.startswith(own)) or (skip and name.startswith(skip)):
            continue
        return name
    return None


def frame_class(frame: str | None) -> str | None:
    """`com.x.Tracker.collect(Tracker.java:8)` -> `com.x.Tracker`."""
    if not frame:
        return None
    head = frame.split("(", 1)[0].strip()
    return head.rsplit(".", 1)[0] if "." in head else head


def libraries(apis: Iterable[Any], stacks: Iterable[Any], skip: tuple[str, ...] = ()) -> pd.Series:
    """The calling class of each (api, stack), computed once per distinct pair."""
    keys = [(a if isinstance(a, str) else "") + "\x00" + ("\n".join(s) if s is not None else "")
            for a, s in zip(apis, stacks, strict=True)]
    found: dict[str, str | None] = {}
    for key in set(keys):
        api, _, text = key.partition("\x00")
        found[key] = frame_class(calling_frame(text.split("\n") if text else None, api or None, skip))
    return pd.Series([found[k] for k in keys], dtype=object)
