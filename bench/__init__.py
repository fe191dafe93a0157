"""Benchmarks (`make bench`): each ``bench_*.py`` module prints its figures and baseline ratios."""
