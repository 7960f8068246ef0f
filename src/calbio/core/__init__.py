"""The lowest layer: primitives every other package may use (imports nothing from calbio).

``graph`` (pair keys, degrees, known-pair sets and CSR, uniform non-pairs), ``metrics``
(AUC, AP, bootstrap CIs), ``devices`` (torch device resolution), ``seeds`` (the default seed),
``version`` (the installed version).
"""
