"""Benchmark workloads: one module ``wN_name.py`` per workload.

Contract (used by ``benchmarks/run.py``):

- ``TITLE``: one line describing the workload.
- ``IMPLS``: implementations to run, among ``"numpy"``, ``"nbgrad"``, ``"pytensor"``,
  ``"jax"``, ``"torch"``, ``"autograd"``, plus optional extra rows (e.g. ``"bandwidth"``).
- ``setup(impl)``: does all preparation (building and compiling) and returns a zero-argument
  callable performing one iteration and returning a NumPy-convertible result, or ``None`` when
  the implementation does not apply or is not installed (import peers inside ``setup`` and
  catch ``ImportError``).
- optional: ``RTOL``/``ATOL`` for the agreement check, ``UNCHECKED`` (rows whose result is not
  compared, e.g. a bandwidth probe), ``CHECK = False`` to skip the check entirely.
"""
