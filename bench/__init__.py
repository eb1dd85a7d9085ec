"""Benchmarks behind `make bench`: each module in this package has a `run() -> dict`."""
