"""Benchmarks of the launch function and the local service (`make bench`, `python -m bench.run`).

Not part of `make test`: numbers, not assertions. See `bench/run.py`.
"""
