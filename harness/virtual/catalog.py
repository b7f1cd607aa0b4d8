"""The built-in handsets, as rows for `lab virtual list`."""

from __future__ import annotations

from harness.virtual.props import fingerprint
from harness.virtual.spec import builtin_names, load_spec


def list_handsets() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name in builtin_names():
        spec = load_spec(name)
        rows.append({"name": spec.name, "description": spec.description, "model": spec.build.model,
                     "manufacturer": spec.build.manufacturer, "release": spec.build.release,
                     "sdk": spec.build.sdk, "security_patch": spec.build.security_patch,
                     "fingerprint": fingerprint(spec), "rooted": spec.rooted})
    return rows
