"""Report generation time and peak memory for 10k, 100k and 1M synthetic flows, and the
HTML report's size and render time (with its verdict, phases and timers).

Target (issue 9): 1M flows in under 20 s and under 4 GB. Each size is generated into a
temporary capture, then analysed and written (html, json, parquet; csv optional) in a
child process of its own, which reads its own peak RSS (VmHWM: bench/peak_rss.py; the
rusage of a child carries its parent's peak across exec).

    python -m bench.bench_report [--sizes 10000,100000,1000000] [--formats html,json,parquet]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.peak_rss import peak_rss_mb

HOSTS = 400
APPS = 30
PHASES = ("first start", "SIM insertion", "idle", "open Settings")
# the code that opens connections: a tracker SDK (named by its code signature) or app code
STACK_SDKS = ("com.appsflyer.internal.AFc1.send(AFc1.java:3)", "com.app.net.Client.post(Client.java:9)",
              "com.google.firebase.analytics.FirebaseAnalytics.log(F.java:2)")


def generate(root: Path, n: int, seed: int = 1) -> Path:
    """A capture of n flows over HOSTS hosts and APPS apps, 10% carrying a finding."""
    root.mkdir(parents=True, exist_ok=True)
    t0 = 1_790_000_000.0
    imei = "356938035643809"
    countries = ["IN", "US", "CN", "DE", "SG", "RU", "IE", "NL"]
    with (root / "flows.jsonl").open("w") as fh:
        for start in range(0, n, 10_000):
            lines = []
            for i in range(start, min(n, start + 10_000)):
                h = (i * 7 + seed) % HOSTS
                c = countries[h % len(countries)]
                ts = t0 + i * 0.01
                flags = '["foreign","not_allowlisted"]' if c != "IN" else "[]"
                finding = ('[{"type":"imei","id":"imei","where":"body:$.d","encoding":"sha256","offset":6}]'
                           if i % 10 == 0 else "[]")
                lines.append(
                    f'{{"id":"f{i}","ts_start":{ts:.3f},"ts_end":{ts + 0.2:.3f},"device":"SER1",'
                    f'"client_ip":"127.0.0.1","host":"h{h}.cdn{h % 7}.example","sni":"h{h}.cdn{h % 7}.example",'
                    f'"server_ip":"198.51.{h % 250}.{h % 200 + 1}","server_port":443,"scheme":"https",'
                    f'"method":"POST","url":"https://h{h}.cdn{h % 7}.example/api/v1/e?n={i}",'
                    f'"http_version":"HTTP/2.0","status":200,"request_bytes":{300 + i % 900},'
                    f'"response_bytes":{100 + i % 5000},"tls":{{"intercepted":true,"version":"TLSv1.3","failure":null}},'
                    f'"country":"{c}","country_sources":{{"iptocc":"{c}","geoip2fast":"{c}"}},'
                    f'"country_confidence":"agree","org":"Org {h % 40}","org_country":"{c}","flags":{flags},'
                    f'"findings":{finding},"app":null,"attribution":null,"kind":"http","notes":[]}}'
                )
            fh.write("\n".join(lines) + "\n")
    with (root / "hooks.jsonl").open("w") as fh:
        for i in range(0, n, 10):
            h = (i * 7 + seed) % HOSTS
            fh.write(json.dumps({"type": "net:connect", "ts": t0 + i * 0.01 - 0.05, "device": "SER1",
                                 "package": f"com.app{h % APPS}.x", "host": f"h{h}.cdn{h % 7}.example",
                                 "ip": f"198.51.{h % 250}.{h % 200 + 1}", "port": 443,
                                 "stack": ["java.net.Socket.connect(Socket.java:1)", STACK_SDKS[h % len(STACK_SDKS)]]})
                     + "\n")
        for a in range(APPS):
            fh.write(json.dumps({"type": "hook:event", "ts": t0 + a, "device": "SER1",
                                 "package": f"com.app{a}.x", "api": "android.telephony.TelephonyManager.getImei",
                                 "category": "imei", "value": imei,
                                 "stack": ["android.telephony.TelephonyManager.getImei(X.java:1)",
                                           f"com.sdk{a % 5}.Tracker.ids(T.java:2)"]}) + "\n")
    (root / "canaries.json").write_text(json.dumps({"identifiers": {"imei": imei}, "planted": []}))
    (root / "run.json").write_text(json.dumps({
        "format": "lab-harness-capture", "format_version": 1, "run_id": f"bench-{n}", "status": "ok",
        "started": t0, "ended": t0 + n * 0.01, "device": {"serial": "SER1", "model": "Bench"},
        "steps": [{"index": k + 1, "kind": "idle", "phase": PHASES[k], "start": t0 + k * n * 0.01 / len(PHASES),
                   "end": t0 + (k + 1) * n * 0.01 / len(PHASES)} for k in range(len(PHASES))],
    }))
    return root


def measure(capture: Path, formats: str) -> dict:
    """In this process: analyse + write; returns seconds and peak RSS."""
    from harness.analysis import analyse
    from harness.report import write_analysis

    t = time.perf_counter()
    analysis = analyse([capture])
    t_analyse = time.perf_counter() - t
    paths = write_analysis(analysis, formats.split(","), capture / "report")
    total = time.perf_counter() - t
    from harness.report.html import render_html
    from harness.report.tables import build_tables

    t = time.perf_counter()
    render_html(analysis, build_tables(analysis))  # the HTML alone, tables included
    t_html = time.perf_counter() - t
    from harness.analysis.export import export_analysis

    t = time.perf_counter()
    export_analysis(analysis, capture)  # what the end of a run (and lab report, when missing) adds
    t_export = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"analyse_s": round(t_analyse, 2), "total_s": round(total, 2), "export_s": round(t_export, 2),
            "html_s": round(t_html, 2), "verdict_lines": len(analysis.verdict), "phases": len(analysis.phases),
            "timers": len(analysis.recurring),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_mb": peak_rss_mb(),
            "files": len(paths), "html_kb": round((capture / "report" / "report.html").stat().st_size / 1024)
            if (capture / "report" / "report.html").exists() else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--formats", default="html,json,parquet")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.child:
        print(json.dumps(measure(Path(args.child), args.formats)))
        return
    print(f"report benchmark: formats {args.formats} (target: 1M flows < 20 s, < 4096 MB)")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            t = time.perf_counter()
            capture = generate(Path(tmp) / f"c{n}", n)
            gen = time.perf_counter() - t
            size_mb = (capture / "flows.jsonl").stat().st_size / 1e6
            child = subprocess.run(
                [sys.executable, "-m", "bench.bench_report", "--child", str(capture), "--formats", args.formats],
                capture_output=True, text=True, check=False,
            )
            if child.returncode != 0:
                print(f"{n:>9} flows: FAILED\n{child.stderr[-2000:]}")
                continue
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"{n:>9} flows ({size_mb:7.1f} MB jsonl, generated in {gen:5.1f} s): "
                  f"analyse {r['analyse_s']:6.2f} s, analyse+write {r['total_s']:6.2f} s, "
                  f"+ Parquet export {r['export_s']:5.2f} s "
                  f"(CPU {r['cpu_s']:6.2f} s, load {os.getloadavg()[0]:.1f}), "
                  f"peak RSS {r['peak_rss_mb']:7.1f} MB, html {r['html_kb']} kB rendered in {r['html_s']:.2f} s "
                  f"({r['verdict_lines']} verdict lines, {r['phases']} phases, {r['timers']} timers)")


if __name__ == "__main__":
    main(sys.argv[1:])
