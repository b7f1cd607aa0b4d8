"""Canaries and patterns -> needles in every encoding, and one Hyperscan pass over each
text of a message (decoded bodies, headers, URLs) that finds them."""

from harness.sensitive.scanner import Finding, Scanner, ScanResult

__all__ = ["Finding", "ScanResult", "Scanner"]
