"""The tables of a capture's Parquet export, and so of a store's database: their columns,
types and meaning. One place: the export writes these schemas, the store's DuckDB views
read them, and `lab query STORE --schema` prints this text.

Values are masked as in a masked report (harness.analysis.masking): a column that could
carry a canary or device identifier shows it as `35****09`; a read's value is masked
whole. No hash of a value is exported: a hash of an IMEI is the IMEI to anyone who
hashes the IMEI space (the scanner itself finds sha256(IMEI)); reads and findings join
on `canary_id`, and `value_ref` tells equal values apart within one capture only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# 2: destinations' protocols, sni and dns_names; the kind_coverage, dns_only and tunnel_leaks
# tables (full-device capture, issue 20). The store reads a version-1 export's missing
# columns as null and its missing tables as empty.
EXPORT_FORMAT_VERSION = 2
TIMESTAMP = pa.timestamp("us", tz="UTC")
TEXT_LIST = pa.list_(pa.string())


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    doc: str


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    optional: bool = False  # an export made before the table existed lacks it

    @property
    def file(self) -> str:
        return f"{self.name}.parquet"

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([(c.name, c.type) for c in self.columns],
                         metadata={"lab-harness-export": str(EXPORT_FORMAT_VERSION)})


def _c(name: str, typ: pa.DataType, doc: str) -> Column:
    return Column(name, typ, doc)


S, N, F, B, T, L = pa.string(), pa.int64(), pa.float64(), pa.bool_(), TIMESTAMP, TEXT_LIST  # short for the tables

_GEO = (
    _c("country", S, "where the server is (ISO code), by the lab's geo sources"),
    _c("country_sources", S, "each source's answer: `iptocc=US, geoip2fast=US`"),
    _c("country_confidence", S, "agree | disagree | single | unknown | private"),
    _c("org", S, "the organisation running the server"),
    _c("org_country", S, "the organisation's home country (ISO code)"),
)

RUNS = Table("runs", "one row per capture (a run of a profile on a handset)", (
    _c("run_id", S, "the run's id (the capture folder's name when it was made)"),
    _c("capture", S, "the capture folder, relative to the store (added by the store, not in the file)"),
    _c("superseded", B, "an earlier attempt of a run the campaign retried (campaign.json); left out of "
                         "the campaign report's figures (added by the store)"),
    _c("campaign_id", S, "the campaign the run belongs to (run.json `campaign`, else the store's campaign.json)"),
    _c("run_key", S, "the campaign's name for the run: PROFILE/HANDSET/REPETITION"),
    _c("host", S, "the host that ran it (its `lab worker` name when a campaign placed it)"),
    _c("status", S, "ok | partial | failed | interrupted | imported | incomplete"),
    _c("profile", S, "the profile's name"),
    _c("handset", S, "the lab's label for the handset (lab.yaml devices), else its serial (masked)"),
    _c("serial", S, "adb serial; masked when it is one of the handset's identifiers"),
    _c("manufacturer", S, "ro.product.manufacturer"),
    _c("brand", S, "ro.product.brand"),
    _c("model", S, "ro.product.model"),
    _c("firmware", S, "build fingerprint (ro.build.fingerprint): the firmware version"),
    _c("build_id", S, "ro.build.id (from the fingerprint when not recorded)"),
    _c("incremental", S, "ro.build.version.incremental (from the fingerprint when not recorded)"),
    _c("android_release", S, "ro.build.version.release"),
    _c("sdk", N, "ro.build.version.sdk"),
    _c("security_patch", S, "ro.build.version.security_patch (YYYY-MM-DD)"),
    _c("started", T, "run start (for an imported capture: its first flow)"),
    _c("ended", T, "run end (for an imported capture: its last flow)"),
    _c("duration_s", F, "ended - started, seconds"),
    _c("flows", N, "flows in the capture"),
    _c("findings", N, "sensitive values found in flows"),
    _c("reads", N, "sensitive reads hooked in apps"),
    _c("destinations", N, "distinct destinations"),
    _c("foreign_destinations", N, "destinations flagged foreign"),
    _c("bytes_up", N, "request bytes, all flows"),
    _c("bytes_down", N, "response bytes, all flows"),
    _c("lab", S, "the lab's name (lab.yaml)"),
    _c("jurisdiction", S, "the lab's jurisdiction (what `foreign` is measured from)"),
    _c("harness_version", S, "the harness that made the capture"),
    _c("export_version", N, f"format version of the export ({EXPORT_FORMAT_VERSION})"),
))

FLOWS = Table("flows", "one row per flow the proxy saw", (
    _c("run_id", S, "-> runs.run_id"),
    _c("flow_id", S, "the flow's id, unique within the run"),
    _c("ts_start", T, "when the flow started"),
    _c("ts_end", T, "when it ended"),
    _c("app", S, "the app it is attributed to (`unattributed` when none)"),
    _c("attribution_method", S, "how: producer, frida_connect_host, frida_connect_ip, frida_request_host, same_destination, foreground_app, step_window, none, ..."),
    _c("attribution_confidence", S, "high | medium | low | none"),
    _c("step", N, "index of the profile step it happened in"),
    _c("step_kind", S, "that step's kind (launch, idle, reboot, ...)"),
    _c("kind", S, "http | tls_failed | error | tcp | udp | quic | dns (full-device capture: dns, tcp, udp, quic)"),
    _c("coverage", S, "tls_rejected | intercepted | cleartext | failed | not_http"),
    _c("destination", S, "host (Unicode form), else SNI, else server IP, lower case"),
    _c("destination_ascii", S, "the destination's ASCII (punycode) form when it is internationalised"),
    _c("host", S, "Host / :authority"),
    _c("sni", S, "TLS server name"),
    _c("server_ip", S, "server address (the world IP in contained mode)"),
    _c("server_port", N, "server port"),
    _c("scheme", S, "http | https (tcp | udp | tls | dns for the records of full-device capture)"),
    _c("method", S, "HTTP method"),
    _c("url", S, "request URL (masked)"),
    _c("http_version", S, "HTTP/1.1, HTTP/2.0, HTTP/3"),
    _c("status", N, "HTTP status"),
    _c("request_bytes", N, "bytes sent"),
    _c("response_bytes", N, "bytes received"),
    _c("tls_intercepted", B, "the proxy decrypted it"),
    _c("tls_version", S, "TLS version"),
    _c("tls_failure", S, "why TLS failed, if it did"),
    *_GEO,
    _c("flags", L, "foreign, watchlist_country, not_allowlisted, cleartext, tls_rejected, sensitive_data, ..."),
    _c("n_findings", N, "sensitive values found in the flow"),
    _c("notes", S, "truncations, decode failures"),
))

FINDINGS = Table("findings", "one row per sensitive value found in a flow", (
    _c("run_id", S, "-> runs.run_id"),
    _c("flow_id", S, "-> flows.flow_id (within the run)"),
    _c("ts", T, "when its flow started"),
    _c("app", S, "the app its flow is attributed to"),
    _c("attribution_method", S, "how (see flows)"),
    _c("attribution_confidence", S, "high | medium | low | none"),
    _c("destination", S, "where it went (see flows)"),
    _c("host", S, "Host / :authority"),
    _c("server_ip", S, "server address"),
    *_GEO,
    _c("flags", L, "its flow's flags"),
    _c("data_type", S, "imei, android_id, contact, location, ...: what was sent"),
    _c("finding_type", S, "the scanner's type"),
    _c("canary_id", S, "the canary or identifier matched (canaries.json id), or pattern:<type>"),
    _c("found_in", S, "where in the flow (the capture's `where`): url | header:<name> | cookie:<name> | body | body:$.json.path | ..."),
    _c("encoding", S, "the sender's encoding chain, innermost first: plain, sha256, gzip+base64, ..."),
    _c("found_at", N, "offset of the evidence there (the capture's `offset`)"),
))

READS = Table("reads", "one row per sensitive read hooked in an app (Frida)", (
    _c("run_id", S, "-> runs.run_id"),
    _c("ts", T, "when it was read"),
    _c("app", S, "the app (package) that read it"),
    _c("pid", N, "its process"),
    _c("api", S, "the hooked API, e.g. android.telephony.TelephonyManager.getImei"),
    _c("category", S, "the hook's category"),
    _c("data_type", S, "what was read (the canary's type when the value is a canary)"),
    _c("canary_id", S, "the canary or identifier whose value was read (joins findings.canary_id)"),
    _c("library", S, "the calling class (first frame outside the platform)"),
    _c("frame", S, "the calling frame"),
    _c("value", S, "the value read, masked whole"),
    _c("value_ref", N, "equal values read in one capture share a number (1, 2, ...): no value, no hash"),
))

DESTINATIONS = Table("destinations", "one row per destination of a run", (
    _c("run_id", S, "-> runs.run_id"),
    _c("destination", S, "the destination (see flows)"),
    _c("destination_ascii", S, "its ASCII form when internationalised"),
    _c("severity", S, "info | low | medium | high | critical, by the lab's policy"),
    _c("severity_rank", N, "0 (info) .. 4 (critical)"),
    _c("ips", L, "server addresses"),
    *_GEO,
    _c("apps", L, "apps that talked to it"),
    _c("protocols", L, "what it was talked to over: http, http3, tcp/xmpp, udp, quic, ... (`kind/guess` for raw TCP/UDP)"),
    _c("sni", L, "TLS/QUIC server names seen (intercepted, or read from a ClientHello passed on)"),
    _c("dns_names", L, "names DNS gave its addresses (full-device capture): what the handset looked up to reach it"),
    _c("bytes_up", N, "bytes sent"),
    _c("bytes_down", N, "bytes received"),
    _c("flows", N, "flows through the proxy (DNS lookups are not flows to a destination: see dns_only)"),
    _c("requests", N, "HTTP requests"),
    _c("intercepted", N, "flows decrypted"),
    _c("tls_rejected", N, "flows whose client refused the proxy's certificate"),
    _c("cleartext", N, "flows in clear"),
    _c("bypassed", N, "connections that went around the proxy (seen by Frida only)"),
    _c("data_types", L, "data types sent to it"),
    _c("flags", L, "its flags"),
    _c("first_seen", T, "first flow"),
    _c("last_seen", T, "last flow"),
))

VERDICTS = Table("verdicts", "the single-run report's verdict lines (issue 22), one row per line", (
    _c("run_id", S, "-> runs.run_id"),
    _c("n", N, "the line's rank in its run's verdict (1: most severe)"),
    _c("severity", S, "info | low | medium | high | critical, by the lab's policy"),
    _c("kind", S, "data | bypass | watchlist | cleartext | coverage"),
    _c("finding", S, "the line, in plain language (masked)"),
    _c("app", S, "the app it is about"),
    _c("library", S, "the code that read the data, when known"),
    _c("sdk", S, "the SDK or tracker that code belongs to, when known"),
    _c("destination", S, "where the data or connections went"),
    _c("data_type", S, "what was sent (data lines)"),
    _c("requirements", L, "requirement ids it maps to (MASVS, MASWE, MASTG, ETSI EN 303 645, the lab's law)"),
    _c("flows", N, "flows behind the line"),
    _c("hook_events", N, "hook events behind the line"),
), optional=True)

KIND_COVERAGE = Table(
    "kind_coverage",
    "coverage by kind (issue 20): per run, flows and bytes of each kind of traffic, all apps (`(all)`) "
    "then per app; a kind the run's capture mode cannot see has null counts, not 0", (
        _c("run_id", S, "-> runs.run_id"),
        _c("app", S, "`(all)`: every app (one row per kind); else the app (the kinds it used)"),
        _c("kind", S, "http | http3 | pinned | dns | tcp | udp | quic | failed"),
        _c("label", S, "the kind in words, as the report says it"),
        _c("flows", N, "flows of the kind (null: not captured in this capture mode)"),
        _c("bytes_up", N, "bytes sent (null: not captured)"),
        _c("bytes_down", N, "bytes received (null: not captured)"),
        _c("destinations", N, "distinct destinations (for dns: names looked up; null: not captured)"),
        _c("status", S, "captured | not captured (explicit proxy) | captured only what was sent through the proxy "
                        "(explicit proxy) | ..."),
    ), optional=True)

DNS_ONLY = Table(
    "dns_only",
    "names a run looked up and never connected to (full-device capture, issue 20), one row per name of a run", (
        _c("run_id", S, "-> runs.run_id"),
        _c("severity", S, "info | low | medium | high | critical, by the lab's policy (of its flags)"),
        _c("name", S, "the name looked up (masked if it carries a canary)"),
        _c("answers", L, "what the resolver answered: addresses, CNAMEs"),
        _c("country", S, "where the answers are located (ISO codes, `, ` between), by the run's geo sources"),
        _c("org", S, "the organisations running those addresses (`, ` between)"),
        _c("org_country", S, "their home countries (ISO codes, `, ` between)"),
        _c("apps", L, "apps that looked it up"),
        _c("lookups", N, "lookups of the name"),
        _c("resolvers", L, "resolvers asked (ip:port): the tunnel's, or one the app chose"),
        _c("rcodes", L, "the answers' response codes (NOERROR, NXDOMAIN, ...)"),
        _c("data_types", L, "data types found in the lookups (a name can carry data)"),
        _c("flags", L, "foreign, watchlist_country, ... of the answers' countries"),
        _c("first_seen", T, "first lookup"),
        _c("last_seen", T, "last lookup"),
        _c("evidence", S, "flow ids of the lookups (space between; the first ten)"),
    ), optional=True)

TUNNEL_LEAKS = Table(
    "tunnel_leaks",
    "connections that went around the WireGuard tunnel (issue 20): an app's connect (Frida) the proxy "
    "never saw, one row per connect; expected: none", (
        _c("run_id", S, "-> runs.run_id"),
        _c("ts", T, "when the app connected"),
        _c("device", S, "the handset (adb serial, masked when it is one of its identifiers)"),
        _c("app", S, "the app that connected"),
        _c("destination", S, "the name the app gave, else a name of the address, else the address"),
        _c("host", S, "the host the app gave, if any"),
        _c("ip", S, "the address connected to"),
        _c("port", N, "the port connected to"),
        _c("country", S, "where the address is (ISO code)"),
        _c("org", S, "the organisation running it"),
        _c("org_country", S, "the organisation's home country"),
        _c("flags", L, "tunnel_leak, foreign, watchlist_country, ..."),
        _c("hook_id", S, "the hook event (RUN#hN)"),
    ), optional=True)

TABLES: dict[str, Table] = {t.name: t for t in (RUNS, FLOWS, FINDINGS, READS, DESTINATIONS, VERDICTS, KIND_COVERAGE,
                                                 DNS_ONLY, TUNNEL_LEAKS)}
STORE_ONLY = {"runs": ("capture", "superseded")}  # columns the store adds when it reads the files

CAMPAIGN_RUNS = Table("campaign_runs", "the runs the store's campaign.json lists (none without one)", (
    _c("campaign_id", S, "the campaign's id"),
    _c("key", S, "the campaign's name for the run: PROFILE/HANDSET/REPETITION"),
    _c("run_id", S, "-> runs.run_id, when the run left a capture"),
    _c("status", S, "the run's status as the campaign recorded it"),
    _c("host", S, "the host (Dask worker) that ran it"),
    _c("profile", S, "the profile"),
    _c("capture", S, "its capture folder, as the index names it"),
    _c("error", S, "why it failed, if it did"),
))
STORE_TABLES: dict[str, Table] = {CAMPAIGN_RUNS.name: CAMPAIGN_RUNS}  # made by the store, not exported


def file_schema(table: Table) -> pa.Schema:
    """The schema of the Parquet file (without the columns the store adds)."""
    added = STORE_ONLY.get(table.name, ())
    return Table(table.name, table.doc, tuple(c for c in table.columns if c.name not in added)).arrow_schema()


def sql_type(typ: pa.DataType) -> str:
    if pa.types.is_list(typ):
        return sql_type(typ.value_type) + "[]"
    if pa.types.is_timestamp(typ):
        return "TIMESTAMP WITH TIME ZONE"
    return {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN"}[typ]


def schema_text() -> str:
    """The tables and their columns, as `lab query --schema` prints them."""
    lines = []
    for table in (*TABLES.values(), *STORE_TABLES.values()):
        lines.append(f"{table.name}: {table.doc}")
        width = max(len(c.name) for c in table.columns)
        type_width = max(len(sql_type(c.type)) for c in table.columns)
        for c in table.columns:
            lines.append(f"  {c.name:<{width}}  {sql_type(c.type):<{type_width}}  {c.doc}")
        lines.append("")
    return "\n".join(lines)
