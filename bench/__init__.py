"""Benchmarks of :mod:`oauth_middleware` (not part of the installed package): ``python bench/run.py``."""
