"""Benchmarks (never part of the test run): `python -m bench.run` (`make bench`) against the peers, and
micro-benchmarks run one by one with `python -m bench.<name>`."""

__all__: list = []
