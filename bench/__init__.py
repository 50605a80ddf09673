"""Benchmarks: each prints figures and asserts nothing. `make bench` runs them all."""
