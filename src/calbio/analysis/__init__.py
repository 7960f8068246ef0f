"""The paper's diagnostics as library functions: doctor, ablations, sweeps, degree dependence.

Every analysis returns a JSON-ready dict whose ``tables`` entry is a list of
``{"title", "columns", "rows", "notes"}`` dicts (cells already formatted as text), so the CLI
and the experiment runner render them the same way.
"""
