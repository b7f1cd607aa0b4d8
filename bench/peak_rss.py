"""The peak resident memory of this process, as the benchmarks print it.

Linux keeps a process's largest RSS across execve (fs/exec.c: the old mm's high-water
mark goes into signal->maxrss), and a child made by fork or vfork starts with its
parent's: so getrusage(RUSAGE_SELF) in a freshly started child, os.wait4's rusage and
RUSAGE_CHILDREN in the parent all report at least the parent's RSS at the fork. A
benchmark started by `python -m bench` after a big one printed the big one's peak.
VmHWM in /proc/self/status is the high-water mark of this process's own memory, which
execve starts afresh.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's own peak RSS in MB (VmHWM; ru_maxrss where /proc is not there)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
