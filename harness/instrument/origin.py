"""Where hook events come from: one app process on one handset."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    """Where events come from: one app process on one handset."""

    device: str
    package: str
    pid: int
