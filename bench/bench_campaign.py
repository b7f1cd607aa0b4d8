"""Campaign report time and peak memory over a generated store: 1,000 captures' Parquet
exports of 10,000 flows each (10M flows), written directly as Parquet in a temporary
folder (no capture is analysed), then `lab campaign report` over 100 and 1,000 of them,
each in a child process of its own that reads its own peak RSS (bench/peak_rss.py).

Target (issue 23): 1,000 captures x 10k flows in under 60 s and under 4 GB.

    python -m bench.bench_campaign [--captures 100,1000] [--flows 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.peak_rss import peak_rss_mb

HOSTS = 400
MAKERS = ("Samsung", "Xiaomi", "Oppo", "Vivo", "Realme", "Motorola", "Nokia", "Lava", "Micromax", "Tecno")
COUNTRIES = ("IN", "US", "CN", "SG", "IE", "DE", "NL", "RU")
DATA_TYPES = ("imei", "android_id", "advertising_id", "location", "contact")
PROFILES = ("firmware-audit", "app-audit", "idle", "demo")
T0 = 1_790_000_000.0


def _handset(i: int) -> dict:
    """Capture i: handset i // 4 (250 handsets: 10 makers x 5 models, firmware A or B)."""
    h = i // len(PROFILES)
    maker = MAKERS[h % len(MAKERS)]
    model = f"{maker[:3].upper()}-{(h // len(MAKERS)) % 5 + 1}"
    firmware = "B" if (h // 50) % 2 else "A"
    return {"maker": maker, "model": model, "firmware": firmware, "serial": f"SER{h:05d}",
            "fingerprint": f"{maker.lower()}/{model.lower()}/{model.lower()}:14/UP1A.{firmware}/{h % 7}:user/release-keys",
            "patch": "2026-03-05" if firmware == "B" else "2026-01-05", "profile": PROFILES[i % len(PROFILES)]}


class Generator:
    """Per-host columns made once; each capture picks hosts by index (pyarrow take)."""

    def __init__(self, flows: int):
        from harness.analysis.export_schema import TABLES, file_schema

        self.n = flows
        self.schemas = {name: file_schema(t) for name, t in TABLES.items()}
        hosts = np.arange(HOSTS)
        country = np.array(COUNTRIES)[hosts % len(COUNTRIES)]
        names = [f"h{h}.cdn{h % 7}.example" for h in hosts] + [f"new-{m.lower()}.example" for m in MAKERS]
        self.hosts = pa.array(names)
        self.country = pa.array(list(country) + ["CN"] * len(MAKERS))
        self.org = pa.array([f"Org {h % 40}" for h in hosts] + ["New Cloud"] * len(MAKERS))
        flags = [["foreign", "not_allowlisted"] + (["watchlist_country"] if c in ("CN", "RU") else [])
                 if c != "IN" else [] for c in country] + [["foreign", "watchlist_country"]] * len(MAKERS)
        self.flags = pa.array(flags, pa.list_(pa.string()))
        self.ips = pa.array([f"198.51.{h % 250}.{h % 200 + 1}" for h in hosts] + ["45.33.1.7"] * len(MAKERS))
        self.apps = pa.array([f"com.app{a}.x" for a in range(30)])
        self.flow_ids = pa.array([f"f{i}" for i in range(flows)])

    def _const(self, value: object, n: int, typ: pa.DataType) -> pa.Array:
        return pa.array([value] * n, typ)

    def capture(self, i: int) -> dict[str, pa.Table]:
        n, hs = self.n, _handset(i)
        rng = np.random.default_rng(i)
        maker = MAKERS.index(hs["maker"])
        host = (rng.integers(0, HOSTS, n) + maker * 13) % HOSTS
        if hs["firmware"] == "B":  # firmware B adds its maker's new host
            host[rng.random(n) < 0.02] = HOSTS + maker
        idx = pa.array(host)
        run_id = f"run-{i:05d}-{hs['serial']}-{hs['profile']}"
        ts = T0 + i * 3600 + np.arange(n) * 0.3
        findings = rng.random(n) < 0.1
        up, down = rng.integers(200, 2000, n), rng.integers(50, 8000, n)
        cols = {
            "run_id": self._const(run_id, n, pa.string()), "flow_id": self.flow_ids,
            "ts_start": pa.array((ts * 1e6).astype("int64")).cast(pa.timestamp("us", tz="UTC")),
            "ts_end": pa.array(((ts + 0.2) * 1e6).astype("int64")).cast(pa.timestamp("us", tz="UTC")),
            "app": self.apps.take(pa.array(host % 30)), "attribution_method": self._const("frida_connect_host", n, pa.string()),
            "kind": self._const("http", n, pa.string()), "coverage": self._const("intercepted", n, pa.string()),
            "destination": self.hosts.take(idx), "host": self.hosts.take(idx), "server_ip": self.ips.take(idx),
            "server_port": self._const(443, n, pa.int64()), "scheme": self._const("https", n, pa.string()),
            "method": self._const("POST", n, pa.string()), "request_bytes": pa.array(up), "response_bytes": pa.array(down),
            "tls_intercepted": self._const(True, n, pa.bool_()), "country": self.country.take(idx),
            "org": self.org.take(idx), "org_country": self.country.take(idx), "flags": self.flags.take(idx),
            "n_findings": pa.array(findings.astype("int64")),
        }
        flows = self._table("flows", cols, n)
        rows = np.flatnonzero(findings)
        dtype = np.array(DATA_TYPES)[rows % (len(DATA_TYPES) - (0 if hs["firmware"] == "B" else 1))]
        picked = flows.take(pa.array(rows))
        found = self._table("findings", {
            "run_id": picked["run_id"], "flow_id": picked["flow_id"], "ts": picked["ts_start"], "app": picked["app"],
            "destination": picked["destination"], "host": picked["host"], "server_ip": picked["server_ip"],
            "country": picked["country"], "org": picked["org"], "org_country": picked["org_country"],
            "flags": picked["flags"], "data_type": pa.array(dtype), "finding_type": pa.array(dtype),
            "canary_id": pa.array(dtype), "encoding": self._const("sha256", len(rows), pa.string()),
        }, len(rows))
        seen = np.unique(host)
        count = np.bincount(host, minlength=HOSTS + len(MAKERS))[seen]
        didx = pa.array(seen)
        destinations = self._table("destinations", {
            "run_id": self._const(run_id, len(seen), pa.string()), "destination": self.hosts.take(didx),
            "severity": self._const("medium", len(seen), pa.string()), "ips": pa.array([[v] for v in self.ips.take(didx).to_pylist()]),
            "country": self.country.take(didx), "org": self.org.take(didx), "org_country": self.country.take(didx),
            "flows": pa.array(count), "bypassed": self._const(0, len(seen), pa.int64()), "flags": self.flags.take(didx),
            "bytes_up": pa.array(np.bincount(host, up, minlength=HOSTS + len(MAKERS))[seen].astype("int64")),
        }, len(seen))
        reads = self._table("reads", {
            "run_id": self._const(run_id, 30, pa.string()), "app": self.apps, "data_type": pa.array(
                [DATA_TYPES[a % 4] for a in range(30)]), "value": self._const("35****09", 30, pa.string()),
            "value_ref": pa.array(np.arange(30) % 4 + 1)}, 30)
        runs = self._table("runs", {
            "run_id": [run_id], "status": ["ok"], "profile": [hs["profile"]], "handset": [hs["serial"]],
            "serial": [hs["serial"]], "manufacturer": [hs["maker"]], "model": [hs["model"]],
            "firmware": [hs["fingerprint"]], "security_patch": [hs["patch"]], "sdk": [34], "android_release": ["14"],
            "started": pa.array([int(ts[0] * 1e6)]).cast(pa.timestamp("us", tz="UTC")),
            "ended": pa.array([int(ts[-1] * 1e6)]).cast(pa.timestamp("us", tz="UTC")), "flows": [n],
            "findings": [len(rows)], "destinations": [len(seen)], "campaign_id": ["bench"], "export_version": [1]}, 1)
        kinds = ["data"] * 4 + ["coverage"]
        verdicts = self._table("verdicts", {
            "run_id": self._const(run_id, 5, pa.string()), "n": pa.array(np.arange(1, 6)),
            "severity": pa.array(["high"] * 4 + ["low"]), "kind": pa.array(kinds),
            "finding": pa.array([f"sent the {t} to h{k}.example" for k, t in enumerate(DATA_TYPES)]),
            "data_type": pa.array(list(DATA_TYPES[:4]) + [None]), "destination": pa.array([f"h{k}.example" for k in range(5)]),
            "flows": pa.array(np.full(5, n // 50))}, 5)
        return {"runs": runs, "flows": flows, "findings": found, "reads": reads, "destinations": destinations,
                "verdicts": verdicts}

    def _table(self, name: str, cols: dict, n: int) -> pa.Table:
        schema = self.schemas[name]
        arrays = [pa.array(cols[f.name], f.type) if isinstance(cols.get(f.name), list)
                  else cols[f.name].cast(f.type) if f.name in cols else pa.nulls(n, f.type) for f in schema]
        return pa.Table.from_arrays(arrays, schema=schema)


def generate(root: Path, captures: int, flows: int) -> Path:
    """`captures` capture folders (run.json + report/export/*.parquet) under root/part-NN/."""
    gen = Generator(flows)

    def one(i: int) -> None:
        folder = root / f"part-{i // 100:02d}" / f"host-{i % 3}" / f"run-{i:05d}"
        export = folder / "report" / "export"
        export.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"format": "lab-harness-capture", "format_version": 1,
                                                      "run_id": f"run-{i:05d}", "status": "ok"}))
        for name, table in gen.capture(i).items():
            pq.write_table(table, export / f"{name}.parquet")

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, range(captures)))
    return root


def measure(store: Path, out: Path) -> dict:
    """In this process: the campaign report of `store`, phase by phase."""
    from harness.analysis.campaign import campaign_figures
    from harness.analysis.export import export_missing
    from harness.analysis.store import scan_store
    from harness.analysis.store_db import store_database
    from harness.report.campaign import write_files

    t0 = time.perf_counter()
    opened = scan_store(store)
    outcome = export_missing(opened.captures)
    t1 = time.perf_counter()
    with store_database(opened) as db:
        figures = campaign_figures(db)
    t2 = time.perf_counter()
    write_files(figures, figures.warnings, ("html", "csv", "json"), out)
    t3 = time.perf_counter()
    return {"captures": len(opened.captures), "exported": len(outcome.written), "flows": figures.summary["flows"],
            "store_s": round(t1 - t0, 2), "duckdb_s": round(t2 - t1, 2), "write_s": round(t3 - t2, 2),
            "total_s": round(t3 - t0, 2), "peak_rss_mb": peak_rss_mb(),
            "changes": len(figures.firmware_changes), "matrix": list(figures.matrix.shape)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", default="100,1000")
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.child:
        print(json.dumps(measure(Path(args.child), Path(args.out))))
        return
    sizes = [int(s) for s in args.captures.split(",")]
    print(f"campaign benchmark: {max(sizes)} captures x {args.flows} flows "
          f"(target: 1,000 x 10k flows < 60 s, < 4096 MB; {os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(prefix="bench-campaign-") as tmp:
        t = time.perf_counter()
        store = generate(Path(tmp) / "store", max(sizes), args.flows)
        size = sum(p.stat().st_size for p in store.rglob("*.parquet")) / 1e6
        print(f"  generated {max(sizes)} captures' exports ({size:.0f} MB of Parquet) in {time.perf_counter() - t:.1f} s")
        for n in sizes:
            target = store if n == max(sizes) else store / "part-00"  # part-00 holds the first 100
            if n != max(sizes) and n != 100:
                print(f"  {n} captures: only 100 or {max(sizes)} (the generated parts)")
                continue
            child = subprocess.run([sys.executable, "-m", "bench.bench_campaign", "--child", str(target),
                                    "--out", str(Path(tmp) / f"report-{n}")],
                                   capture_output=True, text=True, check=False)
            if child.returncode != 0:
                print(f"  {n} captures: FAILED\n{child.stderr[-2000:]}")
                continue
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"  {r['captures']:>5} captures, {r['flows']:>10,} flows: report {r['total_s']:6.2f} s "
                  f"(store walk {r['store_s']:.2f} s, DuckDB {r['duckdb_s']:.2f} s, files {r['write_s']:.2f} s; "
                  f"load {os.getloadavg()[0]:.1f}), peak RSS {r['peak_rss_mb']:7.1f} MB, "
                  f"{1e6 * r['total_s'] / max(r['flows'], 1):.2f} us/flow; matrix {r['matrix'][0]} handsets, "
                  f"{r['changes']} firmware changes")


if __name__ == "__main__":
    main(sys.argv[1:])
