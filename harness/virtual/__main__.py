"""`python -m harness.virtual serve --handset NAME --port 0 [--ready-file PATH]` and `list`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from harness.virtual.catalog import list_handsets
from harness.virtual.serve import run
from harness.virtual.spec import SpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.virtual", description="The virtual handset.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_serve = sub.add_parser("serve", help="Serve one handset until SIGTERM; print its serial.")
    p_serve.add_argument("--handset", default="reference", help="Built-in name or spec path.")
    p_serve.add_argument("--port", type=int, default=0)
    p_serve.add_argument("--ready-file", type=Path)
    p_serve.add_argument("--runtime-dir", type=Path)
    p_serve.add_argument("--log-level", default="WARNING")
    p_list = sub.add_parser("list", help="List the built-in handsets.")
    p_list.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        rows = list_handsets()
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for row in rows:
                print(f"{row['name']:<12} {row['model']:<20} Android {row['release']:<3} "
                      f"SDK {row['sdk']}  {'rooted' if row['rooted'] else 'not rooted'}  {row['description']}")
        return 0
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        run(args.handset, args.port, args.ready_file, args.runtime_dir,
            announce=lambda serial: print(serial, flush=True))
    except SpecError as e:
        print(f"virtual handset: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"virtual handset: {e}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
