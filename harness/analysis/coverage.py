"""What the audit could read, per app: so an auditor sees which apps it could not.

Each flow is in one decryption-coverage class (harness.analysis.summary.coverage_classes);
per app they are counted as:

- intercepted: TLS the proxy decrypted (or HTTPS read from an imported file);
- cleartext: read without TLS;
- pinned: the app refused the proxy's certificate (certificate pinning, most likely);
- not_decrypted: TLS (or QUIC) the proxy passed on without reading it;
- non_http: other traffic the proxy passed on unread (raw TCP or UDP);
- failed: the connection failed before anything was read;
- bypassed: connections Frida saw going around the proxy, never seen by it.

`readable_percent` is (intercepted + cleartext) of all of them; `coverage` says it in words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TLS_PORTS = (443, 853, 8443, 5223, 5228)
APP_COVERAGE_COLUMNS = ["app", "connections", "intercepted", "cleartext", "pinned", "not_decrypted",
                        "non_http", "failed", "bypassed", "readable_percent", "coverage"]
UNREAD = ("pinned", "not_decrypted", "non_http", "failed", "bypassed")


def app_coverage(flows: pd.DataFrame, bypassed: pd.DataFrame) -> pd.DataFrame:
    """One row per app (the least readable first)."""
    if flows.empty and bypassed.empty:
        return pd.DataFrame(columns=APP_COVERAGE_COLUMNS)
    cls = flows["coverage"].astype(object).to_numpy() if "coverage" in flows else np.array([], dtype=object)
    tls_like = (flows["sni"].notna() | flows["tls_version"].notna()
                | flows["server_port"].isin(TLS_PORTS)).to_numpy(dtype=bool) if len(flows) else np.array([], bool)
    cls = np.select([cls == "tls_rejected", (cls == "not_http") & tls_like, cls == "not_http"],
                    ["pinned", "not_decrypted", "non_http"], default=cls).astype(object)
    parts = [pd.DataFrame({"app": flows["app"].astype(object).to_numpy(), "cls": cls})]
    if len(bypassed):
        parts.append(pd.DataFrame({"app": bypassed["app"].astype(object).to_numpy(), "cls": "bypassed"}))
    both = pd.concat(parts, ignore_index=True)
    both["app"] = both["app"].where(both["app"].notna() & (both["app"].astype(str) != ""), "unattributed")
    table = pd.crosstab(both["app"], both["cls"])
    out = pd.DataFrame({"app": table.index.astype(str)})
    for col in APP_COVERAGE_COLUMNS[2:9]:
        out[col] = table[col].to_numpy(dtype=np.int64) if col in table else 0
    out["connections"] = out[APP_COVERAGE_COLUMNS[2:9]].sum(axis=1)
    readable = out["intercepted"] + out["cleartext"]
    out["readable_percent"] = (100.0 * readable / out["connections"]).round(1)
    out["coverage"] = [_words(r) for r in out.itertuples(index=False)]
    out = out.sort_values(["readable_percent", "connections", "app"], ascending=[True, False, True], kind="stable")
    return out[APP_COVERAGE_COLUMNS].reset_index(drop=True)


def _words(row: object) -> str:
    """`all 5 read`, `none of 2 read (2 pinned)`, `3 of 5 not read (2 pinned, 1 bypassed)`."""
    total = int(row.connections)  # type: ignore[attr-defined]
    unread = {name: int(getattr(row, name)) for name in UNREAD if getattr(row, name)}
    if not unread:
        return f"all {total} read"
    missing = sum(unread.values())
    detail = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in unread.items())
    if missing == total:
        return f"none of {total} read ({detail})"
    return f"{missing} of {total} not read ({detail})"
