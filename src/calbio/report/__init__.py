"""Reports: console tables now; HTML reports build on the same numbers."""
