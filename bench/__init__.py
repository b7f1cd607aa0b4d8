"""Benchmarks: `make bench` runs every bench/bench_*.py main() and prints figures."""
