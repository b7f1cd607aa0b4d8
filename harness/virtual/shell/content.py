"""`content query|insert|update|delete` over contacts, SMS, call log, settings and the
SIM table (content://telephony/siminfo, query only)."""

from __future__ import annotations

import re
from typing import Any

from harness.virtual.shell.command_io import IO, Usage
from harness.virtual.shell.interp import Shell, command

USAGE = ("usage: adb shell content [subcommand] [options]\n\n"
         "usage: adb shell content insert --uri <URI> [--user <USER_ID>] --bind <BINDING> [--bind <BINDING>...]\n"
         "usage: adb shell content delete --uri <URI> [--user <USER_ID>] [--where <WHERE>]\n"
         "usage: adb shell content query --uri <URI> [--user <USER_ID>] [--projection <PROJECTION>] "
         "[--where <WHERE>] [--sort <SORT_ORDER>]")
SMS_TYPES = {"inbox": 1, "sent": 2, "draft": 3, "outbox": 4}


def _table(uri: str) -> tuple[str, dict[str, Any]]:
    """(table, fixed column values implied by the URI); the query string is dropped."""
    u = uri.split("?", 1)[0].rstrip("/")
    m = re.fullmatch(r"content://(com\.android\.contacts|contacts)/(raw_contacts|data|contacts|phones)(/\d+)?", u)
    if m:
        kind = m.group(2)
        return {"raw_contacts": "raw_contacts", "data": "data", "contacts": "contacts", "phones": "phones"}[kind], {}
    m = re.fullmatch(r"content://sms(?:/(inbox|sent|draft|outbox))?", u)
    if m:
        return "sms", ({"type": SMS_TYPES[m.group(1)]} if m.group(1) else {})
    if u in ("content://call_log/calls", "content://call_log"):
        return "calls", {}
    m = re.fullmatch(r"content://settings/(global|secure|system)", u)
    if m:
        return "settings:" + m.group(1), {}
    if u == "content://telephony/siminfo":
        return "siminfo", {}
    raise KeyError(uri)


def _rows(sh: Shell, table: str) -> list[dict[str, Any]]:
    st = sh.state
    if table.startswith("settings:"):
        ns = table.split(":", 1)[1]
        return [{"_id": i + 1, "name": k, "value": v} for i, (k, v) in enumerate(st.settings[ns].items())]
    if table == "contacts":
        return [{"_id": c["id"], "display_name": c["name"], "has_phone_number": 1 if c["phone"] else 0}
                for c in st.contacts]
    if table == "phones":
        return [{"_id": c["id"], "name": c["name"], "display_name": c["name"], "number": c["phone"], "type": 2}
                for c in st.contacts if c["phone"]]
    if table == "siminfo":  # TelephonyProvider's SIM table: a removed SIM keeps its row, sim_id -1
        ids, build = st.identifiers, st.spec.build
        return [{"_id": 1, "icc_id": ids["iccid"], "sim_id": 0 if getattr(st, "sim_present", True) else -1,
                 "display_name": build.operator, "carrier_name": build.operator, "number": ids["phone"] or None,
                 "mcc_string": ids["imsi"][:3], "mnc_string": ids["imsi"][3:6], "imsi": ids["imsi"],
                 "card_id": ids["iccid"], "subscription_type": 0}]
    return st.tables[table]


def _convert(kind: str, value: str) -> Any:
    try:
        if kind in ("i", "l"):
            return int(value)
        if kind in ("f", "d"):
            return float(value)
        if kind == "b":
            return 1 if value.lower() in ("true", "1") else 0
    except ValueError as e:
        raise Usage(f"Error while accessing provider\njava.lang.NumberFormatException: For input string: \"{value}\"", 1) from e
    if kind == "n":
        return None
    return value


def _where(clause: str | None):  # type: ignore[no-untyped-def]
    if not clause:
        return lambda row: True
    tests = []
    for part in re.split(r"\s+AND\s+", clause.strip(), flags=re.I):
        m = re.fullmatch(r"\s*(\w+)\s*(=|==|!=|<>|LIKE)\s*(?:'((?:[^']|'')*)'|\"([^\"]*)\"|(\S+))\s*", part, re.I)
        if not m:
            raise Usage(f"Error while accessing provider\nandroid.database.sqlite.SQLiteException: near \"{part}\": syntax error", 1)
        col, op, v1, v2, v3 = m.groups()
        value = (v1.replace("''", "'") if v1 is not None else v2 if v2 is not None else v3)
        tests.append((col, op.upper(), value))

    def match(row: dict[str, Any]) -> bool:
        for col, op, value in tests:
            have = "NULL" if row.get(col) is None else str(row.get(col))
            if op in ("=", "==") and have != value:
                return False
            if op in ("!=", "<>") and have == value:
                return False
            if op == "LIKE" and not re.fullmatch(re.escape(value).replace("%", ".*").replace("_", "."), have, re.I):
                return False
        return True

    return match


@command("content")
def content(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if not args or args[0] not in ("query", "insert", "update", "delete"):
        raise Usage(USAGE, 1)
    verb = args[0]
    opts: dict[str, str] = {}
    binds: dict[str, Any] = {}
    i = 1
    while i < len(args):
        a = args[i]
        if a in ("--uri", "--projection", "--where", "--sort", "--user", "--arg") and i + 1 < len(args):
            opts[a[2:]] = args[i + 1]
            i += 2
            continue
        if a == "--bind" and i + 1 < len(args):
            col, _, rest = args[i + 1].partition(":")
            kind, _, value = rest.partition(":")
            if not col or kind not in ("b", "s", "i", "l", "f", "d", "n"):
                raise Usage(f"Error: Invalid binding: {args[i + 1]}\n{USAGE}", 1)
            binds[col] = _convert(kind, value)
            i += 2
            continue
        raise Usage(f"Error: Unsupported argument: {a}\n{USAGE}", 1)
    uri = opts.get("uri")
    if not uri:
        raise Usage(f"Error: Content provider URI not specified\n{USAGE}", 1)
    try:
        table, implied = _table(uri)
    except KeyError as e:
        authority = uri.split("//", 1)[-1].split("/", 1)[0]
        raise Usage(f"Error while accessing provider:{authority}\njava.lang.IllegalArgumentException: Unknown URL {uri}", 1) from e
    if table == "siminfo" and verb != "query":
        raise Usage("Error while accessing provider:telephony\njava.lang.UnsupportedOperationException: "
                    f"Cannot {verb} that URL: {uri}", 1)
    match = _where(opts.get("where"))
    state = sh.state
    if verb == "query":
        rows = [r for r in _rows(sh, table) if all(str(r.get(k)) == str(v) for k, v in implied.items()) and match(r)]
        if not rows:
            io.write("No result found.\n")
            return 0
        cols = opts["projection"].split(":") if opts.get("projection") else None
        for n, row in enumerate(rows):
            keys = cols or list(row.keys())
            cells = ", ".join(f"{k}={'NULL' if row.get(k) is None else row.get(k)}" for k in keys)
            io.write(f"Row: {n} {cells}\n")
        return 0
    if verb == "insert":
        if not binds:
            raise Usage(f"Error: Bindings not specified\n{USAGE}", 1)
        if table.startswith("settings:"):
            state.settings[table.split(":", 1)[1]][str(binds.get("name"))] = str(binds.get("value"))
        elif table in ("contacts", "phones"):
            state.add_contact(str(binds.get("name") or binds.get("display_name") or ""), str(binds.get("number") or ""))
        else:
            state.insert_row(table, {**implied, **binds})
        return 0
    if verb == "delete":
        if table.startswith("settings:"):
            ns = table.split(":", 1)[1]
            for row in [r for r in _rows(sh, table) if match(r)]:
                state.settings[ns].pop(row["name"], None)
            return 0
        if table in ("contacts", "phones"):
            doomed = {str(r["_id"]) for r in _rows(sh, table) if match(r)}
            table = "raw_contacts"
            state.tables["data"] = [d for d in state.tables["data"] if str(d.get("raw_contact_id")) not in doomed]
            state.tables[table] = [r for r in state.tables[table] if str(r["_id"]) not in doomed]
            return 0
        if table == "raw_contacts" and "caller_is_syncadapter=true" not in uri:
            for row in state.tables[table]:  # like ContactsProvider: only marked deleted
                if match(row):
                    row["deleted"] = 1
            return 0
        keep = [r for r in state.tables[table]
                if not (all(str(r.get(k)) == str(v) for k, v in implied.items()) and match(r))]
        removed = {str(r["_id"]) for r in state.tables[table]} - {str(r["_id"]) for r in keep}
        state.tables[table] = keep
        if table == "raw_contacts":
            state.tables["data"] = [d for d in state.tables["data"] if str(d.get("raw_contact_id")) not in removed]
        return 0
    # update
    if table.startswith("settings:"):
        ns = table.split(":", 1)[1]
        for row in [r for r in _rows(sh, table) if match(r)]:
            state.settings[ns][row["name"]] = str(binds.get("value", row["value"]))
        return 0
    for row in _rows(sh, table):
        if match(row):
            row.update(binds)
    return 0
