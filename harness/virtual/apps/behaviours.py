"""What a virtual app does, from the `behaviours:` mapping of its package in a handset spec.

Schema (every key optional; unknown keys are an error):

    behaviours:
      autostart: false            # start at boot (system services); implied by a send on boot
      sdk: com.vendor.analytics.Tracker   # Java class (generated) that reads and sends
      user_agent: dalvik          # dalvik | okhttp | any literal User-Agent
      trust_user_cas: false       # networkSecurityConfig <certificates src="user"/>
      ignore_proxy: false         # connect directly, as some SDKs do
      pins: []                    # okhttp pins: "internet-ca" or "sha256/<base64 SPKI digest>"
      tls: conscrypt              # the TLS stack (TLS_STACKS), see below
      certificate_transparency: false  # NSC <certificateTransparency>: enforced on SDK 36+
      sends:
        - id: imei-hash
          url: https://analytics.vendor-cloud.example/v2/collect
          method: POST            # GET for body: query
          body: json              # json | form | protobuf | query
          gzip: false             # gzip the body (Content-Encoding: gzip)
          when: [launch]          # run once on each of these (TRIGGERS): launch, boot, or a
                                  # system event: sim_inserted, location_enabled, settings_opened, ...
          every: 10               # seconds (or 5s, 500ms, 2m) between repeats, at a fixed rate (0: none)
          fields:                 # in order (protobuf numbers them 1..n)
            - {name: did, read: imei, encoding: sha256}
            - {name: app_version, value: "4.2.0"}
          # sdk, user_agent, trust_user_cas, ignore_proxy, pins, tls, certificate_transparency
          # may be overridden per send

Sends that only full capture sees (they never read the proxy setting; in explicit mode
they go to the zone's responders on the handset loopback, or nowhere):
`tcp://host:port` (the fields, framed by `body`, over a raw TCP connection, e.g. a push
channel on 5222), `udp://host:port` (one datagram), `dns://host` (a lookup through
InetAddress: in the handset namespace it asks the tunnel's resolver; outside it asks only
the virtual zone, never the machine's resolver), `quic://host[:port]/path` (an HTTP/3 POST:
Java 17 has no QUIC client, so the app starts harness/virtual/quic_send.py, an aioquic
client, in its own network namespace).

`read` names one data type read through the Android stubs (READS); `encoding` is a chain
of steps joined by "+" applied left to right (ENCODING_STEPS), e.g. "gzip+base64".

`tls` is how the app verifies the server (each a shape an unpinning bypass must meet):
conscrypt (the platform TrustManagerImpl; okhttp pins in the handshake and again on the
chain OkHttp's cleaner gets from the List-returning checkServerTrusted), hostname_verifier
(the pins checked by the app's own HostnameVerifier after the handshake), webview
(WebView.loadUrl/postUrl: a certificate error asks WebViewClient.onReceivedSslError), and
native stacks loaded through JNI (java/native/vtls.c, https only, the system store):
cronet (libsscronet.so, its verify callback set with SSL_set_custom_verify), boringssl
(libsscronet.so, ssl_crypto_x509_session_verify_cert_chain), flutter (the stripped
libflutter.so: ssl_verify_peer_cert only found by its byte pattern).

A system event (EVENTS) reaches every app with a send on it, as a broadcast reaches the
receivers in a manifest: a running app gets it on its watch connection, an app that is not
running is started for it (and runs the sends on it once started). Firmware services
react to the handset's scenario steps this way: the SIM inserted, location switched on,
Settings opened, an account added.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

READS = (
    "imei", "device_id", "imsi", "phone", "iccid", "android_id", "serial", "wifi_mac", "bssid",
    "advertising_id", "location", "contacts", "sms", "call_log", "accounts", "packages",
    "clipboard", "model", "manufacturer", "fingerprint", "sdk_int", "package",
)
ENCODING_STEPS = ("plain", "base64", "hex", "md5", "sha1", "sha256", "gzip", "url")
TLS_STACKS = ("conscrypt", "hostname_verifier", "webview", "cronet", "boringssl", "flutter")
_JAVA_CLASS = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.[A-Z][A-Za-z0-9_]*$")
_PIN = re.compile(r"^(internet-ca|sha256/[A-Za-z0-9+/]{43}=)$")
_JAVA_KEYWORDS = frozenset(
    "abstract assert boolean break byte case catch char class const continue default do double else "
    "enum extends final finally float for goto if implements import instanceof int interface long "
    "native new package private protected public return short static strictfp super switch "
    "synchronized this throw throws transient try void volatile while true false null var record "
    "yield sealed permits".split())
EVENTS = (
    "sim_inserted", "sim_removed", "location_enabled", "location_disabled", "settings_opened",
    "account_added", "account_removed", "wifi_enabled", "wifi_disabled", "bluetooth_enabled",
    "bluetooth_disabled", "airplane_mode_on", "airplane_mode_off",
)
TRIGGERS = ("launch", "boot", *EVENTS)
_EVERY = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_EVERY_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
DEFAULT_SDK = "com.labvirt.app.DefaultSdk"
HTTP_SCHEMES = ("http", "https")
RAW_SCHEMES = ("tcp", "udp", "dns", "quic")
OKHTTP_UA = "okhttp/4.12.0"


class BehaviourError(ValueError):
    """A package's behaviours mapping is malformed."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Field_(_Model):
    name: str = Field(min_length=1, max_length=64)
    read: Literal[READS] | None = None  # type: ignore[valid-type]
    value: str | None = None
    encoding: str = "plain"

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v: str) -> str:
        steps = v.split("+")
        bad = [s for s in steps if s not in ENCODING_STEPS]
        if bad:
            raise ValueError(f"unknown encoding step {bad[0]!r} (known: {', '.join(ENCODING_STEPS)})")
        if steps[-1] == "gzip":
            raise ValueError("a field encoding cannot end with gzip (follow it with base64 or hex)")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> Field_:
        if (self.read is None) == (self.value is None):
            raise ValueError("a field has exactly one of `read` or `value`")
        return self


class _Net(_Model):
    sdk: str | None = None
    user_agent: str | None = None
    trust_user_cas: bool | None = None
    ignore_proxy: bool | None = None
    pins: list[str] | None = None
    tls: Literal[TLS_STACKS] | None = None  # type: ignore[valid-type]
    certificate_transparency: bool | None = None

    @field_validator("sdk")
    @classmethod
    def _sdk(cls, v: str | None) -> str | None:
        if v is not None and (not _JAVA_CLASS.match(v) or set(v.split(".")) & _JAVA_KEYWORDS):
            raise ValueError(f"not a Java class name like com.vendor.analytics.Tracker: {v!r}")
        return v

    @field_validator("pins")
    @classmethod
    def _pins(cls, v: list[str] | None) -> list[str] | None:
        for p in v or []:
            if not _PIN.match(p):
                raise ValueError(f"a pin is 'internet-ca' or 'sha256/<base64>': {p!r}")
        return v

    @field_validator("user_agent")
    @classmethod
    def _ua(cls, v: str | None) -> str | None:
        if v is not None and (not v or any(ord(c) < 0x20 or ord(c) > 0x7e for c in v)):
            raise ValueError("a User-Agent is printable ASCII")
        return v


class Send(_Net):
    id: str = Field(min_length=1, max_length=64)
    url: str
    method: Literal["GET", "POST", "PUT"] = "POST"
    body: Literal["json", "form", "protobuf", "query"] = "json"
    gzip: bool = False
    when: list[Literal[TRIGGERS]] = ["launch"]  # type: ignore[valid-type]  # not `on`: YAML 1.1 reads it as true
    every: float = Field(default=0, ge=0, le=86400)
    fields: list[Field_] = []

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        match = _EVERY.fullmatch(v.strip())
        if match is None:
            raise ValueError(f"every is seconds or a duration like 5s, 500ms, 2m: {v!r}")
        return float(match.group(1)) * _EVERY_UNITS[match.group(2)]

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in HTTP_SCHEMES + RAW_SCHEMES or not parts.hostname:
            raise ValueError(f"not an http(s), tcp, udp, dns or quic URL: {v!r}")
        if any(ord(c) <= 0x20 or ord(c) > 0x7e for c in v):
            raise ValueError("a URL is printable ASCII without spaces")
        try:
            port = parts.port
        except ValueError as e:
            raise ValueError(f"bad port in {v!r}") from e
        if parts.scheme in ("tcp", "udp") and port is None:
            raise ValueError(f"a {parts.scheme} send names its port: {v!r}")
        if parts.scheme == "dns" and (port is not None or parts.path not in ("", "/")):
            raise ValueError(f"a dns send names only the host to look up: {v!r}")
        return v

    @model_validator(mode="after")
    def _timer(self) -> Send:
        if 0 < self.every < 1:
            raise ValueError("every is 0 (no timer) or at least 1 second")
        if self.body == "query" and self.gzip:
            raise ValueError("a query-string send has no body to gzip")
        if self.body == "query" and urlsplit(self.url).scheme in RAW_SCHEMES:
            raise ValueError("a tcp, udp, dns or quic send frames its fields as json, form or protobuf")
        return self


class Behaviours(_Net):
    autostart: bool = False
    sends: list[Send] = []

    @property
    def starts_at_boot(self) -> bool:
        return self.autostart or any("boot" in s.when for s in self.sends)


def parse_behaviours(package: str, data: Any) -> Behaviours:
    """Validate one package's behaviours mapping (from an untrusted spec)."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BehaviourError(f"{package}: behaviours is a mapping")
    try:
        return Behaviours.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BehaviourError(f"{package}: behaviours.{where}: {first['msg']}") from e


def listens(behaviours: Behaviours, event: str) -> bool:
    """Whether any of the package's sends runs on this system event."""
    return any(event in s.when for s in behaviours.sends)


def sdk_classes(behaviours: Behaviours) -> set[str]:
    """Every SDK class the package's sends run in (each becomes a generated Java class)."""
    default = behaviours.sdk or DEFAULT_SDK
    return {s.sdk or default for s in behaviours.sends} | {default}


def resolve_sends(behaviours: Behaviours, *, user_agents: dict[str, str], internet_pin: str | None
                  ) -> list[dict[str, Any]]:
    """The sends as the JVM reads them: defaults applied, user agents and pins resolved."""
    out = []
    for s in behaviours.sends:
        ua = s.user_agent or behaviours.user_agent or "dalvik"
        pins = s.pins if s.pins is not None else (behaviours.pins or [])
        resolved_pins = []
        for p in pins:
            if p == "internet-ca":
                if internet_pin:
                    resolved_pins.append(internet_pin)
            else:
                resolved_pins.append(p)
        out.append({
            "id": s.id, "url": s.url, "method": s.method, "body": s.body, "gzip": s.gzip,
            "on": list(s.when), "every": s.every,
            "sdk": s.sdk or behaviours.sdk or DEFAULT_SDK,
            "user_agent": user_agents.get(ua, ua),
            "trust_user_cas": bool(s.trust_user_cas if s.trust_user_cas is not None
                                   else behaviours.trust_user_cas),
            "ignore_proxy": bool(s.ignore_proxy if s.ignore_proxy is not None
                                 else behaviours.ignore_proxy),
            "pins": resolved_pins,
            "tls": s.tls or behaviours.tls or "conscrypt",
            "certificate_transparency": bool(s.certificate_transparency if s.certificate_transparency is not None
                                             else behaviours.certificate_transparency),
            "fields": [f.model_dump(exclude_none=True) for f in s.fields],
        })
    return out
