"""The lowest layer: primitives every other package may use (imports nothing above it).

``errors`` (the input-error type), ``io`` (atomic writers, output-folder guards), ``logs``
(logging and progress), ``options`` (option specs and their checks), ``graph`` (pair keys,
degrees, known-pair sets and CSR, uniform non-pairs), ``metrics`` (AUC, AP, bootstrap CIs),
``devices`` (torch device resolution), ``seeds`` (the default seed), ``version``.
"""
