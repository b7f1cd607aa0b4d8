"""Lab harness: audits where Android handsets send data, and which code read it first."""

__version__ = "0.1.0"
