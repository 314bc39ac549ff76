"""Benchmarks, run by `make bench`. Each compares side by side in one run."""
