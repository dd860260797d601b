"""Benchmarks: `make bench SCENARIO=<name>`; each scenario prints one JSON line of figures."""
