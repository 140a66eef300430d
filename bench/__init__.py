"""Benchmarks: model throughput against state size, and stateful exploration speed."""
