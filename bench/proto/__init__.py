"""Prototypes of optimisations, run by the benchmark only; the product's modules stay as they are."""
