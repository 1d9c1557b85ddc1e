"""Benchmarks (never part of the test run): `python -m dev.bench.run` (`make bench`) against the peers, and
micro-benchmarks run one by one with `python -m dev.bench.<name>`."""

__all__: list = []
