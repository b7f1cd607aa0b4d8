"""Config loading: shipped files, a 1000-step profile, and how fast hostile YAML is refused."""

from __future__ import annotations

import tempfile
import time
import tracemalloc
from pathlib import Path

from harness.config import load_lab, load_profile
from harness.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _refused(path: Path) -> None:
    try:
        load_profile(path)
    except ConfigError:
        return
    raise AssertionError(f"{path} was accepted")


def main() -> None:
    seconds = _timed(lambda: load_lab(ROOT / "lab.yaml"))
    print(f"   lab.yaml: {seconds * 1000:.1f} ms")
    for path in sorted((ROOT / "profiles").glob("*.yaml")):
        print(f"   {path.name}: {_timed(lambda p=path: load_profile(p)) * 1000:.1f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.yaml"
        steps = "".join(
            f"  - monkey: {{package: com.vendor.weather, events: 10, seed: {i}, throttle: 10ms}}\n"
            f"  - idle: {i % 60}s\n" for i in range(500))
        big.write_text("name: big\nsteps:\n" + steps)
        print(f"   1000-step profile: {_timed(lambda: load_profile(big), 3) * 1000:.1f} ms")
        bomb = Path(tmp) / "bomb.yaml"
        lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
        bomb.write_text("\n".join(lines) + "\n")
        seconds = _timed(lambda: _refused(bomb), 1)
        tracemalloc.start()
        _refused(bomb)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"   billion-laughs file refused in {seconds * 1000:.0f} ms, "
              f"peak {peak / 2**20:.1f} MiB (traced)")


if __name__ == "__main__":
    main()
