"""Run every benchmark module's main(), or only those named: `python -m bench proxy report`.
Options after the names go to the benchmarks that take them: `python -m bench report
--sizes 10000,100000` (as `python -m bench.bench_report --sizes ...`)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    here = str(Path(__file__).parent)
    names = sorted(m.name for m in pkgutil.iter_modules([here]) if m.name.startswith("bench_"))
    first_option = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    chosen, options = argv[:first_option], argv[first_option:]
    wanted = [n for n in names if not chosen or n.removeprefix("bench_") in chosen or n in chosen]
    failed = 0
    for name in wanted:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        try:
            takes_options = bool(inspect.signature(module.main).parameters)
            if options and not takes_options:
                print(f"   {name} takes no options: {' '.join(options)} not passed", flush=True)
            module.main(options) if options and takes_options else module.main()
        except Exception as e:  # a benchmark failing must not hide the others' figures
            failed += 1
            print(f"   {name} failed: {type(e).__name__}: {e}", flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
