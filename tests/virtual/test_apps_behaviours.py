"""The behaviours schema of handset specs (no JVM): validation, defaults, resolution."""

from __future__ import annotations

import pytest

from harness.virtual.apps.behaviours import (
    DEFAULT_SDK,
    OKHTTP_UA,
    BehaviourError,
    parse_behaviours,
    resolve_sends,
    sdk_classes,
)
from harness.virtual.spec import builtin_names, load_spec

UAS = {"dalvik": "Dalvik/2.1.0 (test)", "okhttp": OKHTTP_UA}


def test_defaults_and_overrides_resolve_per_send():
    b = parse_behaviours("p.k", {
        "sdk": "com.vendor.analytics.Tracker", "user_agent": "okhttp", "pins": ["internet-ca"],
        "sends": [
            {"id": "a", "url": "https://h.example/a", "fields": [{"name": "d", "read": "imei", "encoding": "sha256"}]},
            {"id": "b", "url": "http://h.example/b", "sdk": "com.adsdk.core.Beacon", "ignore_proxy": True,
             "pins": [], "user_agent": "Custom/1.0", "when": ["boot"], "every": 5, "gzip": True},
        ]})
    a, bb = resolve_sends(b, user_agents=UAS, internet_pin="sha256/PIN")
    assert a["sdk"] == "com.vendor.analytics.Tracker" and a["user_agent"] == OKHTTP_UA
    assert a["pins"] == ["sha256/PIN"] and a["on"] == ["launch"] and a["every"] == 0
    assert a["fields"] == [{"name": "d", "read": "imei", "encoding": "sha256"}]
    assert bb["sdk"] == "com.adsdk.core.Beacon" and bb["ignore_proxy"] is True and bb["pins"] == []
    assert bb["user_agent"] == "Custom/1.0" and bb["gzip"] is True
    assert b.starts_at_boot
    assert sdk_classes(b) == {"com.vendor.analytics.Tracker", "com.adsdk.core.Beacon"}
    assert sdk_classes(parse_behaviours("p.k", {})) == {DEFAULT_SDK}


@pytest.mark.parametrize(("data", "where"), [
    ({"sends": [{"id": "x", "url": "file:///etc/passwd"}]}, "sends.0.url"),
    ({"sends": [{"id": "x", "url": "https://h.example/a b"}]}, "sends.0.url"),
    ({"sends": [{"id": "x", "url": "https://h.example", "fields": [{"name": "f", "read": "password"}]}]},
     "sends.0.fields.0.read"),
    ({"sends": [{"id": "x", "url": "https://h.example", "fields": [{"name": "f", "read": "imei",
                                                                     "encoding": "rot13"}]}]},
     "sends.0.fields.0.encoding"),
    ({"sends": [{"id": "x", "url": "https://h.example", "fields": [{"name": "f", "read": "imei",
                                                                     "value": "v"}]}]}, "sends.0.fields.0"),
    ({"sdk": "Tracker; System.exit(0)"}, "sdk"),
    ({"sdk": "com.class.Tracker"}, "sdk"),  # a Java keyword in the package
    ({"pins": ["md5/abc"]}, "pins"),
    ({"user_agent": "bad\r\nX-Injected: 1"}, "user_agent"),
    ({"sends": [{"id": "x", "url": "https://h.example", "every": 0.01}]}, "sends.0"),
    ({"sends": [{"id": "x", "url": "https://h.example", "body": "query", "gzip": True}]}, "sends.0"),
    ({"surprise": 1}, "surprise"),
])
def test_malformed_behaviours_name_the_bad_key(data, where):
    with pytest.raises(BehaviourError, match=rf"^p\.k: behaviours\.{where}"):
        parse_behaviours("p.k", data)


def test_not_a_mapping():
    with pytest.raises(BehaviourError, match="is a mapping"):
        parse_behaviours("p.k", ["x"])


def test_builtin_handsets_have_valid_behaviours():
    for name in builtin_names():
        for p in load_spec(name).packages:
            parse_behaviours(p.name, p.behaviours)
