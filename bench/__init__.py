"""Micro-benchmarks: run one with `python -m bench.<name>`; never part of the test run."""

__all__: list = []
